#pragma once
// What a run will record, known before it starts. Every engine records t and each probed v after every step,
// so a run to tstop holds (steps + 1) x (probes + 1) doubles at its end: a run too long for the clock or too
// large for the machine is refused up front with those numbers (instead of a bad_alloc or a length_error from
// vector::reserve, or a swapping machine hours in).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cablesim {

// The most steps one run may take: 2^40 (about 1.1e12). Up to it dt/2 is at least 2^-41 of tstop, 2^11 of t's
// last-bit units, so each half step still moves t by dt/2 to within 2^-12 of it and the run ends on time.
constexpr double max_run_steps = 1099511627776.0;

struct run_size {
    double tstop = 0.0;      // [ms]
    double dt = 0.0;         // [ms]
    double steps = 0.0;      // steps from the current t to tstop, rounded (NEURON's continuerun); may be inf
    std::size_t probes = 0;  // voltage traces recorded besides t
    double points = 0.0;     // time points held at the end: those recorded so far + steps
    double bytes = 0.0;      // the recording at the end: points x (probes + 1) x 8 [bytes]
};

// The size of a run from t to tstop [ms] with steps of dt [ms], recording `probes` traces besides t, of which
// `points_recorded` time points are already held (1 after finitialize).
run_size estimate_run_size(double t, double tstop, double dt, std::size_t probes, std::size_t points_recorded);
// As above, for probes with these intervals [ms] (0: every step); a probe with an interval holds its own times.
run_size estimate_run_size(double t, double tstop, double dt, const std::vector<double>& probe_intervals,
                           std::size_t points_recorded);

// When a run stops, as NEURON decides it: after `steps` steps (by_count), or once t > limit [ms] (t >= limit
// unless inclusive).
struct stop_rule {
    bool by_count = false;
    std::uint64_t steps = 0;
    double limit = 0.0; // [ms]
    bool inclusive = false;
    bool more(std::uint64_t done, double t) const {
        return by_count ? done < steps : inclusive ? t <= limit : t < limit;
    }
};
// ParallelContext.psolve(tstop) from t, as NEURON 9's MPI builds (the PyPI wheels) do it: to tstop (1 + 1e-11),
// (int)((that - t)/dt + 1e-9) steps when more than 3 (so a tstop half a step past the grid adds no step), else
// steps while t <= that - dt. Call after check_run_size.
stop_rule psolve_rule(double t, double tstop, double dt);
// stdrun.hoc's continuerun(tstop): steps while t < tstop - dt/2, compared as hoc compares (t < ts - 1e-11).
stop_rule continuerun_rule(double tstop, double dt);

// "400000000 steps of 0.025 ms to 1e+07 ms, recording t and 1 trace: 5.96 GiB (6400000016 bytes)"
std::string describe(const run_size& size);

// This machine's physical memory [bytes]; 0 when the system does not say.
std::uint64_t physical_memory();

// Why a run of this size cannot be done ("" when it can): more steps than max_run_steps, or a recording larger
// than `memory` [bytes] (0: unknown, not checked). The message gives the numbers and what to change.
std::string run_size_refusal(const run_size& size, std::uint64_t memory);

// Throws model_error with run_size_refusal(size, physical_memory()) when that is not "".
void check_run_size(const run_size& size);

// Reserves the recording of a checked run in t's and each probe's vector; a machine that cannot provide it
// now (memory in use by others) gives a model_error with the numbers, before the run starts.
void reserve_recording(const run_size& size, std::vector<double>& time_trace,
                       const std::vector<std::vector<double>*>& every_step_traces);

} // namespace cablesim
