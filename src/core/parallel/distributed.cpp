#include <cablesim/errors.hpp>
#include <cablesim/parallel.hpp>
#include <cablesim/run_size.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

namespace cablesim::parallel {

namespace {

// Up to 4096 steps between exchanges when no gid connection limits the interval: bounds the spikes held back.
constexpr std::size_t max_interval_steps = 4096;

// What each process declares before the run: [min delay [ms], n, n output gids, m, m gids connected to].
std::vector<double> declaration(const simulation& sim) {
    const spike_wiring& w = sim.wiring();
    double min_delay = std::numeric_limits<double>::infinity();
    for (const auto& [gid, source]: w.gid_source) {
        for (const spike_wiring::delivery& out: w.outgoing[source]) min_delay = std::min(min_delay, out.delay);
    }
    std::vector<double> outputs;
    for (std::int64_t gid: w.output_gid) {
        if (gid >= 0) outputs.push_back(static_cast<double>(gid)); // gids <= max_gid: exact as doubles
    }
    std::vector<double> out{min_delay, static_cast<double>(outputs.size())};
    out.insert(out.end(), outputs.begin(), outputs.end());
    out.push_back(static_cast<double>(w.gid_source.size()));
    for (const auto& [gid, source]: w.gid_source) out.push_back(static_cast<double>(gid));
    return out;
}

struct network_plan {
    double min_delay = std::numeric_limits<double>::infinity(); // [ms]
    std::size_t interval_steps = max_interval_steps;
};

// Every process reaches the same verdict from the same gathered declarations, so all throw or none does.
network_plan check_network(const std::vector<double>& all, int processes, double dt) {
    network_plan plan;
    std::map<std::int64_t, int> owner;                  // gid -> process with its output
    std::vector<std::pair<std::int64_t, int>> wanted;   // (gid connected to, process)
    // The declarations arrive one after the other; the counts they carry say where each ends.
    std::size_t at = 0;
    for (int p = 0; p < processes; ++p) {
        if (at + 3 > all.size() || at + 3 + static_cast<std::size_t>(all[at + 1]) > all.size()) {
            throw internal_error("run_distributed: a declaration was cut short in the allgather");
        }
        plan.min_delay = std::min(plan.min_delay, all[at]);
        const auto outputs = static_cast<std::size_t>(all[at + 1]);
        const auto connected = static_cast<std::size_t>(all[at + 2 + outputs]);
        for (std::size_t k = 0; k < outputs; ++k) {
            const auto gid = static_cast<std::int64_t>(all[at + 2 + k]);
            const auto [it, added] = owner.emplace(gid, p);
            if (!added) {
                throw model_error("gid " + std::to_string(gid) + " is a cell on rank " + std::to_string(it->second) +
                                  " and on rank " + std::to_string(p) +
                                  "; register each gid with ParallelContext.cell on one rank only");
            }
        }
        for (std::size_t k = 0; k < connected; ++k) {
            wanted.emplace_back(static_cast<std::int64_t>(all[at + 3 + outputs + k]), p);
        }
        at += 3 + outputs + connected;
    }
    for (const auto& [gid, p]: wanted) {
        if (owner.count(gid) == 0) {
            throw model_error("rank " + std::to_string(p) + " connects to gid " + std::to_string(gid) +
                              " (gid_connect), but no rank has a cell with that gid; register its output with "
                              "ParallelContext.cell(" + std::to_string(gid) + ", netcon)");
        }
    }
    if (std::isfinite(plan.min_delay)) {
        if (!(plan.min_delay >= 2.0 * dt)) {
            throw model_error("gid connections need a delay >= 2 dt = " + format_number(2.0 * dt) + " ms, got " +
                              format_number(plan.min_delay) + " ms: spikes between cells travel only at the "
                              "exchanges, one per interval of (delay - dt); lengthen the delay or shorten dt");
        }
        // A spike found at an interval's start t0 sends events due at t0 + d or later; the interval's last
        // delivery looks up to t0 + steps dt + dt/2 <= t0 + d - dt/2, so its events are still in the future.
        const double steps = std::floor(plan.min_delay / dt) - 1.0;
        plan.interval_steps = steps >= static_cast<double>(max_interval_steps) ? max_interval_steps
                                                                              : static_cast<std::size_t>(steps);
    }
    return plan;
}

// Refuses a run too long or too large to record (cablesim/run_size.hpp) on every process alike: each records
// its own probes on its own machine, so all gather every process's numbers and reach the same verdict.
void check_run_sizes(const simulation& sim, double tstop, communicator& comm) {
    const std::vector<double> all = comm.allgather(
        {static_cast<double>(sim.probe_count()), static_cast<double>(physical_memory())});
    if (all.size() != 2 * static_cast<std::size_t>(comm.size())) {
        throw internal_error("run_distributed: a run size was cut short in the allgather");
    }
    for (int p = 0; p < comm.size(); ++p) {
        const std::size_t at = 2 * static_cast<std::size_t>(p);
        const run_size size = estimate_run_size(0.0, tstop, sim.dt(), static_cast<std::size_t>(all[at]), 1);
        const std::string refusal = run_size_refusal(size, static_cast<std::uint64_t>(all[at + 1]));
        if (refusal.empty()) continue;
        throw model_error(comm.size() > 1 ? "rank " + std::to_string(p) + ": " + refusal : refusal);
    }
}

} // namespace

distributed_result run_distributed(simulation& sim, double v_init, double tstop, communicator& comm) {
    if (!std::isfinite(tstop)) throw model_error("tstop must be a finite time in ms, got " + format_number(tstop));
    const double dt = sim.dt();

    const network_plan plan = check_network(comm.allgather(declaration(sim)), comm.size(), dt);
    check_run_sizes(sim, tstop, comm);

    distributed_result result;
    result.min_delay = plan.min_delay;
    result.interval_steps = plan.interval_steps;
    sim.finitialize(v_init);

    // One exchange: every process's spikes to every process, sent on in (time, gid) order.
    auto exchange = [&] {
        std::vector<double> packed;
        for (const gid_spike& s: sim.take_gid_spikes()) {
            packed.push_back(s.time);
            packed.push_back(static_cast<double>(s.gid));
        }
        const std::vector<double> all = comm.allgather(packed);
        if (all.size() % 2 != 0) throw internal_error("run_distributed: a spike exchange lost half a spike");
        std::vector<gid_spike> arrived;
        arrived.reserve(all.size() / 2);
        for (std::size_t k = 0; k < all.size(); k += 2) {
            arrived.push_back(gid_spike{all[k], static_cast<std::int64_t>(all[k + 1])});
        }
        std::sort(arrived.begin(), arrived.end(), [](const gid_spike& x, const gid_spike& y) {
            return x.time < y.time || (x.time == y.time && x.gid < y.gid);
        });
        for (const gid_spike& s: arrived) sim.receive_gid_spike(s.gid, s.time);
        result.spikes.insert(result.spikes.end(), arrived.begin(), arrived.end());
        ++result.exchanges;
    };

    // t advances by the same additions on every process, so all of them agree on the number of exchanges.
    const stop_rule rule = psolve_rule(sim.time(), tstop, dt); // NEURON's pc.psolve
    std::uint64_t done = 0;
    do {
        for (std::size_t k = 0; k < plan.interval_steps && rule.more(done, sim.time()); ++k, ++done) sim.fadvance();
        exchange();
    } while (rule.more(done, sim.time()));
    // A NetStim's spike near an interval's end may be later than the next interval's first threshold spike.
    std::stable_sort(result.spikes.begin(), result.spikes.end(), [](const gid_spike& x, const gid_spike& y) {
        return x.time < y.time || (x.time == y.time && x.gid < y.gid);
    });
    return result;
}

} // namespace cablesim::parallel
