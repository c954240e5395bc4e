#include <cablesim/errors.hpp>
#include <cablesim/run_size.hpp>

#include <cmath>
#include <cstdio>
#include <new>
#include <stdexcept>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace cablesim {

namespace {

// A count as a whole number up to 1e13, else to three digits ("4e+13", "5e+300").
std::string count_text(double count) {
    if (!std::isfinite(count)) return "more than 1e308";
    if (count < 1e13) return std::to_string(static_cast<std::uint64_t>(count));
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", count);
    return buffer;
}

std::string bytes_text(double bytes) {
    static const char* const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double scaled = bytes;
    std::size_t unit = 0;
    while (scaled >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
        scaled /= 1024.0;
        ++unit;
    }
    if (unit == 0) return count_text(bytes) + " bytes";
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g %s", scaled, units[unit]);
    return std::string(buffer) + " (" + count_text(bytes) + " bytes)";
}

const char* const what_to_do = "record fewer locations, use a larger dt or a shorter tstop";

} // namespace

run_size estimate_run_size(double t, double tstop, double dt, std::size_t probes, std::size_t points_recorded) {
    run_size size;
    size.tstop = tstop;
    size.dt = dt;
    size.probes = probes;
    const double steps = tstop > t ? (tstop - t) / dt : 0.0; // inf or nan for absurd inputs: refused below
    size.steps = std::isnan(steps) ? HUGE_VAL : steps <= max_run_steps ? std::round(steps) : steps;
    size.points = static_cast<double>(points_recorded) + size.steps;
    size.bytes = size.points * (static_cast<double>(probes) + 1.0) * static_cast<double>(sizeof(double));
    return size;
}

run_size estimate_run_size(double t, double tstop, double dt, const std::vector<double>& probe_intervals,
                           std::size_t points_recorded) {
    std::size_t every_step = 0;
    for (double interval: probe_intervals) every_step += interval > 0.0 ? 0 : 1;
    run_size size = estimate_run_size(t, tstop, dt, every_step, points_recorded);
    size.probes = probe_intervals.size();
    const double span = tstop > t ? tstop - t : 0.0; // [ms]
    for (double interval: probe_intervals) {
        if (interval > 0.0) size.bytes += 2.0 * (span / interval + 1.0) * static_cast<double>(sizeof(double));
    }
    return size;
}

stop_rule psolve_rule(double t, double tstop, double dt) {
    stop_rule rule;
    const double end = tstop * (1.0 + 1e-11); // [ms] netpar_solve: ncs2nrn_integrate(tstop * (1 + 1e-11))
    const double steps = (end - t) / dt + 1e-9;
    if (steps >= 4.0) { // NEURON casts to int: 4.0 and above are more than 3 steps
        rule.by_count = true;
        rule.steps = static_cast<std::uint64_t>(steps);
    }
    else {
        rule.limit = end - dt;
        rule.inclusive = true;
    }
    return rule;
}

stop_rule continuerun_rule(double tstop, double dt) {
    constexpr double hoc_epsilon = 1e-11; // hoc's float_epsilon: its `<` is `less by more than this`
    stop_rule rule;
    rule.limit = (tstop - 0.5 * dt) - hoc_epsilon;
    return rule;
}

std::string describe(const run_size& size) {
    const std::string recorded = size.probes == 0 ? "t only"
                                 : size.probes == 1 ? "t and 1 trace"
                                                    : "t and " + std::to_string(size.probes) + " traces";
    return count_text(size.steps) + " steps of " + format_number(size.dt) + " ms to " + format_number(size.tstop) +
           " ms, recording " + recorded + ": " + bytes_text(size.bytes);
}

std::uint64_t physical_memory() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
#endif
    return 0;
}

std::string run_size_refusal(const run_size& size, std::uint64_t memory) {
    if (!(size.steps <= max_run_steps)) {
        return "tstop = " + format_number(size.tstop) + " ms with dt = " + format_number(size.dt) + " ms is " +
               count_text(size.steps) + " steps; one run may take at most " + count_text(max_run_steps) +
               " (2^40): use a larger dt or a shorter tstop";
    }
    if (memory > 0 && size.bytes > static_cast<double>(memory)) {
        return "the recording would not fit in memory: " + describe(size) + ", more than this machine's " +
               bytes_text(static_cast<double>(memory)) + "; " + what_to_do;
    }
    return "";
}

void check_run_size(const run_size& size) {
    const std::string refusal = run_size_refusal(size, physical_memory());
    if (!refusal.empty()) throw model_error(refusal);
}

void reserve_recording(const run_size& size, std::vector<double>& time_trace,
                       const std::vector<std::vector<double>*>& every_step_traces) {
    const std::string refusal =
        "cannot allocate the recording now: " + describe(size) + "; free memory, or " + what_to_do;
    // + 1: one more step than estimated when the sums of dt/2 round down.
    if (!(size.points + 1.0 < static_cast<double>(time_trace.max_size()))) throw model_error(refusal);
    const auto points = static_cast<std::size_t>(size.points) + 1;
    try {
        time_trace.reserve(points);
        for (std::vector<double>* trace: every_step_traces) trace->reserve(points);
    }
    catch (const std::bad_alloc&) {
        throw model_error(refusal);
    }
    catch (const std::length_error&) {
        throw model_error(refusal);
    }
}

} // namespace cablesim
