// The coreneuron engine. Each formula is written exactly as in src/core/simulation.cpp and each node's terms are
// added in the same order (see cell_groups.hpp for why the run order keeps it), so that the two engines agree
// to the last bit; the sources are compiled with -ffp-contract=off for the same reason.
//
// Spikes, as CoreNEURON exchanges them: a spike detected at t reaches no synapse before t + min_delay (the
// smallest NetCon delay from a voltage threshold), so the threads step their own cells through an interval of
// about min_delay without meeting; between intervals one thread hands out the spikes they found. The events
// due inside an interval (from NetStims, and from spikes found before it) are known when it starts, so they are
// planned per step and group in advance. Every event carries the key the default engine's queue would give it:
// the stage of the step it was sent in (finitialize; A: threshold detection, B: delivery at the start of a
// step, C: delivery at its end) and its rank within that stage, so equal-time events, and the spike list,
// come out in the default engine's order even though the spikes found inside an interval are sent at its end.
#include "cell_groups.hpp"

#include <cablesim/coreneuron.hpp>
#include <cablesim/errors.hpp>
#include <cablesim/events.hpp>
#include <cablesim/hh.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cablesim::coreneuron {

int default_threads() {
#ifdef _OPENMP
    return std::max(1, omp_get_max_threads());
#else
    return 1;
#endif
}

namespace {

// The instances of one mechanism kind sorted by node position, hence by group: group g owns [first[g], first[g+1]).
// Instances on one node keep the model's order, which is the order their terms are added in.
template <class Instance>
std::vector<std::size_t> order_by_position(const std::vector<Instance>& instances) {
    std::vector<std::size_t> order(instances.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return instances[x].position < instances[y].position; });
    return order;
}

template <class Positions>
std::vector<std::size_t> group_offsets(const Positions& position, const interleaved_layout& layout) {
    std::vector<std::size_t> first;
    for (const cell_group& g: layout.groups) {
        first.push_back(static_cast<std::size_t>(
            std::lower_bound(position.begin(), position.end(), g.begin) - position.begin()));
    }
    first.push_back(position.size());
    return first;
}

// Where in the default engine's step sequence an event was sent: stage, then rank (see the top of the file).
struct send_key {
    std::uint64_t stage; // 0: finitialize; step k: 3k + 1 (A), 3k + 2 (B), 3k + 3 (C)
    std::uint64_t rank;
    bool operator<(const send_key& other) const {
        return stage < other.stage || (stage == other.stage && rank < other.rank);
    }
};
std::uint64_t stage_a(std::uint64_t step) { return 3 * step + 1; }
std::uint64_t stage_b(std::uint64_t step) { return 3 * step + 2; }
std::uint64_t stage_c(std::uint64_t step) { return 3 * step + 3; }

struct keyed_event {
    double time; // delivery time [ms]
    send_key key;
    event_kind kind;
    std::uint8_t flag;  // a NetStim event's flag
    std::size_t target; // NetCon, NetStim or probe index
};

// The default engine's event_queue order: delivery time, then the order sent.
struct later {
    bool operator()(const keyed_event& x, const keyed_event& y) const {
        return x.time > y.time || (x.time == y.time && y.key < x.key);
    }
};
using keyed_queue = std::priority_queue<keyed_event, std::vector<keyed_event>, later>;

struct keyed_spike {
    send_key key;
    spike value;
};

// A delivery or a sample planned for step `step` of an interval (counted from its first step), in the order the
// default engine's queue gives them.
struct planned_delivery {
    std::size_t step;
    bool sample;       // a probe's sample (else an ExpSyn event)
    std::size_t slot;  // ExpSyn instance, or probe
    double weight;     // [uS]
    std::size_t entry; // for a sample: its place in the probe's trace
};

// A threshold crossing found by a group's thread: at the start of model step `step`.
struct crossing {
    std::uint64_t step;
    std::size_t source;
};

constexpr std::size_t max_interval_steps = 4096; // bounds the planning when no NetCon limits the interval

} // namespace

struct simulation::state {
    simulation_options options;
    compartments layout;   // the model's numbering
    interleaved_layout il; // positions
    int threads = 1;
    double t = 0.0;         // [ms]
    std::uint64_t step = 0; // steps since finitialize
    bool initialized = false;
    std::size_t interval_steps = 1; // the most steps the threads take without exchanging spikes

    // Per position (padding between groups included, never touched).
    std::vector<double> v;   // [mV]
    std::vector<double> d;   // diagonal [mS/cm2 per mV] (nA/mV on zero-area nodes)
    std::vector<double> rhs; // [mA/cm2] (nA on zero-area nodes); the voltage change after the solve
    std::vector<double> a, b; // axial coupling to the parent [mS/cm2], 0 on roots
    std::vector<double> cm;   // [uF/cm2]

    struct hh_state {
        std::vector<std::size_t> pos, first;                 // position per instance; per group: first instance
        std::vector<double> gnabar, gkbar, gl, el, ena, ek; // [S/cm2], [mV]
        std::vector<double> m, h, n;
    } hh;
    std::optional<hh_rate_table> hh_table;
    struct pas_state {
        std::vector<std::size_t> pos, first;
        std::vector<double> g, e; // [S/cm2], [mV]
    } pas;
    struct iclamp_state {
        std::vector<std::size_t> pos, first;
        std::vector<double> delay, duration, amplitude; // [ms], [ms], [nA]
        std::vector<double> to_density;                  // 1e2/area: nA -> mA/cm2
    } iclamp;
    struct expsyn_state {
        std::vector<std::size_t> pos, first;
        std::vector<double> tau, e; // [ms], [mV]
        std::vector<double> g;      // [uS]
        std::vector<double> to_density;
        std::vector<std::size_t> slot; // per model ExpSyn: its instance here
    } expsyn;

    std::vector<spike_generator> generators;
    std::vector<netstim_state> generator_state;
    spike_wiring wiring;
    std::vector<std::size_t> source_pos;         // per source: the position it watches
    std::vector<std::uint8_t> above_threshold;   // per source (bytes: threads write their own sources' flags)
    keyed_queue events;
    std::uint64_t next_rank = 0;
    std::vector<keyed_spike> pending_spikes; // sent, not yet in `spikes` (see flush_spikes)
    std::vector<spike> spikes;

    // Probes: where each one's value lives (pos: v's position; instance: hh, pas, IClamp or ExpSyn slot here).
    std::vector<probe_binding> probes;
    std::vector<std::size_t> probe_pos, probe_slot, probe_group;
    std::vector<double> probe_current; // a current variable's value at the last step's currents
    std::vector<double> time_trace;
    std::vector<std::vector<double>> traces, trace_times; // per probe (trace_times: interval probes only)

    // Per group: its voltage-threshold sources, its every-step probes and its current probes, the deliveries
    // planned for the interval, and the threshold crossings its thread found in it.
    std::vector<std::vector<std::size_t>> group_sources, group_probes, group_current_probes;
    std::vector<std::vector<planned_delivery>> planned;
    std::vector<std::vector<crossing>> crossings;
    std::vector<std::size_t> slot_group; // per ExpSyn instance

    state(const model& m, simulation_options opts, int nthreads);
    void push(double time, std::uint64_t stage, event_kind kind, std::size_t target, std::uint8_t flag = 0);
    void emit_spike(std::size_t source, double time, std::uint64_t stage);
    void check_thresholds(std::uint64_t at_step);
    // Pops the events due by `until` [ms] as the default engine's deliver_events does, sending in `stage`;
    // synapse events go straight into the conductances, or with `plan_step` into the groups' plans.
    void deliver_events(double until, std::uint64_t stage, std::optional<std::size_t> plan_step = std::nullopt);
    // Moves the pending spikes into `spikes`, in the order the default engine sent them.
    void flush_spikes();
    // Up to `max_steps` steps while the rule goes on (`done` steps of it taken before): one interval.
    void advance(const stop_rule& rule, std::uint64_t done, std::size_t max_steps);
    // Intervals until the rule says stop (or keep_going does).
    void advance(const stop_rule& rule, const keep_running& keep_going);
    // A probe's value now; current variables as measure_currents last left them.
    double probe_value(std::size_t probe) const;
    // The current variables of probes `list` (all: nullptr), at time t [ms]; `solved`: rhs holds the step's dv.
    void measure_currents(const std::vector<std::size_t>* list, double t_now, bool solved);
    // The parallel part of an interval for one group: `count` steps at the mid-step times t_mid.
    void run_group(std::size_t g, std::size_t count, const std::vector<double>& t_mid, std::size_t trace_base);
    // Currents, solve, voltage update and states of one group's cells, at the mid-step time t_mid [ms].
    void step_group(std::size_t g, double t_mid);
};

simulation::state::state(const model& m, simulation_options opts, int nthreads)
    : options(opts), layout(discretize(m)), threads(nthreads) {
    check_options(options);
    if (threads < 1) {
        throw model_error("threads must be >= 1, got " + std::to_string(threads) +
                          " (the coreneuron engine runs the cells on that many OpenMP threads)");
    }
    if (m.distributed()) {
        // Its spikes are planned per interval on one thread; exchanging them between processes is not there yet.
        throw model_error("the coreneuron engine cannot run a model with gids (ParallelContext.cell / gid_connect) "
                          "yet; run it with engine='default'");
    }
    il = interleave(layout, static_cast<std::size_t>(threads));
    const std::size_t size = il.node.size();
    v.assign(size, 0.0);
    d.assign(size, 0.0);
    rhs.assign(size, 0.0);
    a.assign(size, 0.0);
    b.assign(size, 0.0);
    cm.assign(size, 0.0);
    for (std::size_t i = 0; i < layout.size(); ++i) {
        const std::size_t p = il.position[i];
        a[p] = layout.a[i];
        b[p] = layout.b[i];
        cm[p] = layout.cm[i];
    }

    // Mechanism instances in the default engine's order first, then sorted by position.
    struct hh_instance {
        std::size_t position;
        hh_parameters p;
    };
    struct pas_instance {
        std::size_t position;
        pas_parameters p;
    };
    std::vector<hh_instance> hhs;
    std::vector<pas_instance> pases;
    for (section_id s = 0; s < m.section_count(); ++s) {
        const section& sec = m.section_at(s);
        for (int j = 0; j < sec.nseg; ++j) {
            const std::size_t pos = il.position[layout.first_segment[s] + static_cast<std::size_t>(j)];
            const auto segment = static_cast<std::size_t>(j);
            if (!sec.hh.empty()) hhs.push_back(hh_instance{pos, sec.hh[segment]});
            if (!sec.pas.empty()) pases.push_back(pas_instance{pos, sec.pas[segment]});
        }
    }
    std::vector<std::size_t> hh_slot(hhs.size()), pas_slot(pases.size()), iclamp_slot(m.current_clamps().size());
    for (std::size_t k: order_by_position(hhs)) {
        const hh_instance& x = hhs[k];
        hh_slot[k] = hh.pos.size();
        hh.pos.push_back(x.position);
        hh.gnabar.push_back(x.p.gnabar);
        hh.gkbar.push_back(x.p.gkbar);
        hh.gl.push_back(x.p.gl);
        hh.el.push_back(x.p.el);
        hh.ena.push_back(x.p.ena);
        hh.ek.push_back(x.p.ek);
    }
    hh.first = group_offsets(hh.pos, il);
    hh.m.assign(hh.pos.size(), 0.0);
    hh.h.assign(hh.pos.size(), 0.0);
    hh.n.assign(hh.pos.size(), 0.0);
    if (options.use_rate_table && !hh.pos.empty()) hh_table.emplace(options.celsius);
    for (std::size_t k: order_by_position(pases)) {
        pas_slot[k] = pas.pos.size();
        pas.pos.push_back(pases[k].position);
        pas.g.push_back(pases[k].p.g);
        pas.e.push_back(pases[k].p.e);
    }
    pas.first = group_offsets(pas.pos, il);

    struct point_instance {
        std::size_t position;
        std::size_t index; // in the model
    };
    std::vector<point_instance> clamps, synapses;
    for (std::size_t k = 0; k < m.current_clamps().size(); ++k) {
        clamps.push_back(point_instance{il.position[layout.node_at(m.current_clamps()[k].where)], k});
    }
    for (std::size_t k = 0; k < m.exp_synapses().size(); ++k) {
        synapses.push_back(point_instance{il.position[layout.node_at(m.exp_synapses()[k].where)], k});
    }
    for (std::size_t k: order_by_position(clamps)) {
        const current_clamp& c = m.current_clamps()[clamps[k].index];
        const std::size_t node = layout.node_at(c.where);
        iclamp_slot[clamps[k].index] = iclamp.pos.size();
        iclamp.pos.push_back(clamps[k].position);
        iclamp.delay.push_back(c.delay);
        iclamp.duration.push_back(c.duration);
        iclamp.amplitude.push_back(c.amplitude);
        iclamp.to_density.push_back(1e2 / layout.area[node]);
    }
    iclamp.first = group_offsets(iclamp.pos, il);
    expsyn.slot.assign(synapses.size(), 0);
    for (std::size_t k: order_by_position(synapses)) {
        const exp_synapse& s = m.exp_synapses()[synapses[k].index];
        const std::size_t node = layout.node_at(s.where);
        expsyn.slot[synapses[k].index] = expsyn.pos.size();
        expsyn.pos.push_back(synapses[k].position);
        expsyn.tau.push_back(s.tau);
        expsyn.e.push_back(s.reversal);
        expsyn.to_density.push_back(1e2 / layout.area[node]);
    }
    expsyn.first = group_offsets(expsyn.pos, il);
    expsyn.g.assign(expsyn.pos.size(), 0.0);

    generators = m.spike_generators();
    generator_state.assign(generators.size(), netstim_state{});
    wiring = wire_spikes(m, layout);
    above_threshold.assign(wiring.sources.size(), 0);
    probes = bind_probes(m, layout);
    for (const probe_binding& b: probes) {
        probe_pos.push_back(il.position[b.node]);
        switch (b.var) {
        case variable::v: probe_slot.push_back(0); break;
        case variable::pas_i: probe_slot.push_back(pas_slot[b.instance]); break;
        case variable::iclamp_i: probe_slot.push_back(iclamp_slot[b.instance]); break;
        case variable::expsyn_g:
        case variable::expsyn_i: probe_slot.push_back(expsyn.slot[b.instance]); break;
        default: probe_slot.push_back(hh_slot[b.instance]);
        }
    }
    probe_current.assign(probes.size(), 0.0);
    traces.resize(probes.size());
    trace_times.resize(probes.size());

    const std::size_t groups = il.groups.size();
    auto group_of = [&](std::size_t position) {
        std::size_t g = 0;
        while (g + 1 < groups && il.groups[g + 1].begin <= position) ++g;
        return g;
    };
    group_sources.resize(groups);
    group_probes.resize(groups);
    group_current_probes.resize(groups);
    planned.resize(groups);
    crossings.resize(groups);
    for (std::size_t k = 0; k < wiring.sources.size(); ++k) {
        const spike_source& src = wiring.sources[k];
        source_pos.push_back(src.is_generator ? 0 : il.position[src.node]);
        if (!src.is_generator) group_sources[group_of(source_pos[k])].push_back(k);
    }
    for (std::size_t p = 0; p < probes.size(); ++p) {
        probe_group.push_back(group_of(probe_pos[p]));
        if (probes[p].interval == 0.0) group_probes[group_of(probe_pos[p])].push_back(p);
        if (is_current(probes[p].var)) group_current_probes[group_of(probe_pos[p])].push_back(p);
    }
    for (std::size_t g = 0; g < groups; ++g) {
        for (std::size_t k = expsyn.first[g]; k < expsyn.first[g + 1]; ++k) slot_group.push_back(g);
    }

    // A spike found at the start of a step inside an interval is delivered no earlier than min_delay later,
    // i.e. in the deliveries before step (min_delay - dt/2)/dt or later; two steps of margin keep that true
    // whatever the rounding of t. With a delay under ~3 dt the threads exchange spikes every step.
    double min_delay = std::numeric_limits<double>::infinity(); // [ms]
    for (std::size_t k = 0; k < wiring.sources.size(); ++k) {
        if (wiring.sources[k].is_generator) continue; // NetStims are handled by the one thread that plans
        for (const spike_wiring::delivery& out: wiring.outgoing[k]) min_delay = std::min(min_delay, out.delay);
    }
    const double steps = std::floor(min_delay / options.dt) - 1.0;
    interval_steps = steps >= static_cast<double>(max_interval_steps) ? max_interval_steps
                     : steps >= 1.0                                    ? static_cast<std::size_t>(steps)
                                                                        : 1;
}

void simulation::state::push(double time, std::uint64_t stage, event_kind kind, std::size_t target, std::uint8_t flag) {
    events.push(keyed_event{time, send_key{stage, next_rank++}, kind, flag, target});
}

void simulation::state::emit_spike(std::size_t source, double time, std::uint64_t stage) {
    pending_spikes.push_back(keyed_spike{send_key{stage, next_rank++}, spike{time, source}});
    for (const spike_wiring::delivery& out: wiring.outgoing[source]) {
        push(time + out.delay, stage, event_kind::connection, out.connection);
    }
}

void simulation::state::check_thresholds(std::uint64_t at_step) {
    for (std::size_t k = 0; k < wiring.sources.size(); ++k) {
        const spike_source& src = wiring.sources[k];
        if (src.is_generator) continue;
        if (rises_above(v[source_pos[k]], src.threshold, above_threshold[k])) emit_spike(k, t, stage_a(at_step));
    }
}

void simulation::state::deliver_events(double until, std::uint64_t stage, std::optional<std::size_t> plan_step) {
    while (!events.empty() && events.top().time <= until) {
        const keyed_event e = events.top();
        events.pop();
        if (e.kind == event_kind::record) {
            // A sample of the state at the end of the step the event falls in, at the event's own time.
            const std::size_t p = e.target;
            trace_times[p].push_back(e.time);
            if (plan_step) {
                traces[p].push_back(0.0); // filled in by the group's thread
                planned[probe_group[p]].push_back(planned_delivery{*plan_step, true, p, 0.0, traces[p].size() - 1});
            }
            else {
                traces[p].push_back(probe_value(p));
            }
            push(e.time + probes[p].interval, stage, event_kind::record, p);
            continue;
        }
        std::size_t k = e.target; // a NetStim
        int flag = e.flag;
        double weight = 0.0;
        if (e.kind == event_kind::connection) {
            const spike_wiring::target& to = wiring.connection_target[e.target];
            if (to.kind == target_kind::exp_synapse) {
                const std::size_t slot = expsyn.slot[to.index];
                if (plan_step) planned[slot_group[slot]].push_back(planned_delivery{*plan_step, false, slot, to.weight, 0});
                else expsyn.g[slot] += to.weight;
                continue;
            }
            k = to.index;
            flag = 0;
            weight = to.weight;
        }
        const netstim_response r = netstim_receive(generators[k], generator_state[k], flag, weight);
        if (r.fire) {
            const std::size_t source = wiring.generator_source[k];
            if (source != spike_wiring::no_source) emit_spike(source, e.time, stage);
        }
        if (r.send) push(e.time + *r.send, stage, event_kind::generator, k, 1);
    }
}

void simulation::state::flush_spikes() {
    std::sort(pending_spikes.begin(), pending_spikes.end(),
              [](const keyed_spike& x, const keyed_spike& y) { return x.key < y.key; });
    for (const keyed_spike& s: pending_spikes) spikes.push_back(s.value);
    pending_spikes.clear();
}

void simulation::state::advance(const stop_rule& rule, std::uint64_t done, std::size_t max_steps) {
    const double half_dt = 0.5 * options.dt;
    // The interval's times, summed as the default engine sums them: t + dt/2, then + dt/2 again.
    std::vector<double> t_start{t}, t_mid;
    while (t_mid.size() < max_steps && rule.more(done + t_mid.size(), t_start.back())) {
        t_mid.push_back(t_start.back() + half_dt);
        t_start.push_back(t_mid.back() + half_dt);
    }
    const std::size_t count = t_mid.size();
    if (count == 0) return;
    const std::uint64_t k0 = step;

    // Start of the first step: detection and delivery as in fadvance.
    check_thresholds(k0);
    deliver_events(t + half_dt, stage_b(k0));
    flush_spikes();
    // The deliveries between steps k0 .. k0 + count - 1 (at the end of one, up to its t; at the start of the next,
    // up to t + dt/2), planned per group for the step after them.
    for (auto& list: planned) list.clear();
    for (std::size_t g = 0; g < crossings.size(); ++g) {
        // A source crosses at most once every other step.
        crossings[g].clear();
        crossings[g].reserve(group_sources[g].size() * (count / 2 + 1));
    }
    for (std::size_t i = 1; i < count; ++i) {
        deliver_events(t_start[i], stage_c(k0 + i - 1), i);
        deliver_events(t_start[i] + half_dt, stage_b(k0 + i), i);
    }

    // Traces are written by the groups' threads in place: nothing in the parallel region may allocate.
    const std::size_t trace_base = time_trace.size();
    time_trace.insert(time_trace.end(), t_start.begin() + 1, t_start.end());
    for (std::size_t p = 0; p < probes.size(); ++p) {
        if (probes[p].interval == 0.0) traces[p].resize(trace_base + count);
    }
    const std::size_t groups = il.groups.size();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::size_t g = 0; g < groups; ++g) run_group(g, count, t_mid, trace_base);

    // The spikes found inside the interval, sent in the default engine's order: by step, then by source.
    std::vector<crossing> found;
    for (const auto& list: crossings) found.insert(found.end(), list.begin(), list.end());
    std::sort(found.begin(), found.end(), [](const crossing& x, const crossing& y) {
        return x.step < y.step || (x.step == y.step && x.source < y.source);
    });
    for (const crossing& c: found) emit_spike(c.source, t_start[c.step - k0], stage_a(c.step));
    // End of the last step.
    t = t_start[count];
    step = k0 + count;
    deliver_events(t, stage_c(step - 1));
    flush_spikes();
}

void simulation::state::run_group(std::size_t g, std::size_t count, const std::vector<double>& t_mid,
                                  std::size_t trace_base) {
    const std::vector<planned_delivery>& deliveries = planned[g];
    std::size_t next = 0;
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0) {
            // Start of step i: the spikes of this group's sources, then the deliveries planned for it.
            for (std::size_t k: group_sources[g]) {
                if (rises_above(v[source_pos[k]], wiring.sources[k].threshold, above_threshold[k])) {
                    crossings[g].push_back(crossing{step + i, k});
                }
            }
            for (; next < deliveries.size() && deliveries[next].step == i; ++next) {
                const planned_delivery& d = deliveries[next];
                if (d.sample) traces[d.slot][d.entry] = probe_value(d.slot);
                else expsyn.g[d.slot] += d.weight;
            }
        }
        step_group(g, t_mid[i]);
        for (std::size_t p: group_probes[g]) traces[p][trace_base + i] = probe_value(p);
    }
}

void simulation::state::step_group(std::size_t gi, double t_mid) {
    const cell_group& g = il.groups[gi];
    double* const vv = v.data();
    double* const dd = d.data();
    double* const rr = rhs.data();
    const double* const aa = a.data();
    const double* const bb = b.data();
    const std::vector<node_run>& runs = g.runs;

    for (std::size_t i = g.begin; i < g.end; ++i) {
        rr[i] = 0.0;
        dd[i] = 0.0;
    }
    // Membrane currents [mA/cm2] and their conductances on the diagonal, mechanism by mechanism.
    for (std::size_t k = hh.first[gi]; k < hh.first[gi + 1]; ++k) {
        const std::size_t i = hh.pos[k];
        const double m = hh.m[k], h = hh.h[k], n = hh.n[k];
        const double gna = hh.gnabar[k] * m * m * m * h; // [S/cm2]
        const double gk = hh.gkbar[k] * n * n * n * n;   // [S/cm2]
        const double current = gna * (vv[i] - hh.ena[k]) + gk * (vv[i] - hh.ek[k]) + hh.gl[k] * (vv[i] - hh.el[k]);
        rr[i] -= current;
        dd[i] += gna + gk + hh.gl[k];
    }
    for (std::size_t k = pas.first[gi]; k < pas.first[gi + 1]; ++k) {
        const std::size_t i = pas.pos[k];
        rr[i] -= pas.g[k] * (vv[i] - pas.e[k]);
        dd[i] += pas.g[k];
    }
    for (std::size_t k = iclamp.first[gi]; k < iclamp.first[gi + 1]; ++k) {
        if (t_mid < iclamp.delay[k] + iclamp.duration[k] && t_mid >= iclamp.delay[k]) {
            rr[iclamp.pos[k]] += iclamp.amplitude[k] * iclamp.to_density[k];
        }
    }
    for (std::size_t k = expsyn.first[gi]; k < expsyn.first[gi + 1]; ++k) {
        const std::size_t i = expsyn.pos[k];
        const double gs = expsyn.g[k] * expsyn.to_density[k];
        rr[i] -= gs * (vv[i] - expsyn.e[k]);
        dd[i] += gs;
    }

    // Axial currents: each node's own term first, then its children's in model order (the default engine's
    // loop over nodes adds them in that order). In a run, node i's parent is i - shift and no two nodes share
    // a parent, so each loop below is free of dependences between its iterations.
    for (const node_run& r: runs) {
        double* __restrict rc = rr + r.begin;
        const double* vc = vv + r.begin;
        const double* vp = vv + r.begin - r.shift;
        const double* bc = bb + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) rc[j] -= bc[j] * (vp[j] - vc[j]);
    }
    for (const node_run& r: runs) {
        double* __restrict rp = rr + r.begin - r.shift;
        const double* vc = vv + r.begin;
        const double* vp = vv + r.begin - r.shift;
        const double* ac = aa + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) rp[j] += ac[j] * (vp[j] - vc[j]);
    }
    // Capacitance: cm dv/dt with cm in uF/cm2 and dv/dt in mV/ms gives uA/cm2, hence 1e-3 to mA/cm2.
    const double cj = (options.secondorder ? 2.0 : 1.0) / options.dt; // [1/ms]
    const double cfac = 1e-3 * cj;
    const double* const cc = cm.data();
    for (std::size_t i = g.begin; i < g.end; ++i) dd[i] += cfac * cc[i];
    for (const node_run& r: runs) {
        double* __restrict dc = dd + r.begin;
        const double* bc = bb + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) dc[j] -= bc[j];
    }
    for (const node_run& r: runs) {
        double* __restrict dp = dd + r.begin - r.shift;
        const double* ac = aa + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) dp[j] -= ac[j];
    }

    /* triangularization of the matrix equations: deepest level first; a parent's children in reverse model
       order, as the default engine's triang walks the nodes backwards */
    for (std::size_t k = runs.size(); k-- > 0;) {
        const node_run& r = runs[k];
        double* __restrict dp = dd + r.begin - r.shift;
        double* __restrict rp = rr + r.begin - r.shift;
        const double* dc = dd + r.begin;
        const double* rc = rr + r.begin;
        const double* ac = aa + r.begin;
        const double* bc = bb + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) {
            const double factor = ac[j] / dc[j];
            dp[j] -= factor * bc[j];
            rp[j] -= factor * rc[j];
        }
    }
    /* back substitution: roots first, then level by level from the (already solved) parents */
    for (std::size_t i = g.begin; i < g.roots_end; ++i) rr[i] /= dd[i];
    for (const node_run& r: runs) {
        double* __restrict rc = rr + r.begin;
        const double* rp = rr + r.begin - r.shift;
        const double* dc = dd + r.begin;
        const double* bc = bb + r.begin;
        const std::size_t len = r.end - r.begin;
#pragma omp simd
        for (std::size_t j = 0; j < len; ++j) {
            rc[j] -= bc[j] * rp[j];
            rc[j] /= dc[j];
        }
    }
    measure_currents(&group_current_probes[gi], t_mid, true);
    const double factor = options.secondorder ? 2.0 : 1.0;
    for (std::size_t i = g.begin; i < g.end; ++i) vv[i] += factor * rr[i];

    // States with the new v: cnexp as NEURON's generated code writes it, x += (1 - exp(-dt/tau)) (xinf - x).
    const double dt = options.dt;
    for (std::size_t k = hh.first[gi]; k < hh.first[gi + 1]; ++k) {
        const double vk = vv[hh.pos[k]];
        const hh_rates r = hh_table ? hh_table->lookup(vk) : hh_rates_exact(vk, options.celsius);
        hh.m[k] += (1.0 - std::exp(dt * (-1.0 / r.mtau))) * (-(r.minf / r.mtau) / (-1.0 / r.mtau) - hh.m[k]);
        hh.h[k] += (1.0 - std::exp(dt * (-1.0 / r.htau))) * (-(r.hinf / r.htau) / (-1.0 / r.htau) - hh.h[k]);
        hh.n[k] += (1.0 - std::exp(dt * (-1.0 / r.ntau))) * (-(r.ninf / r.ntau) / (-1.0 / r.ntau) - hh.n[k]);
    }
    for (std::size_t k = expsyn.first[gi]; k < expsyn.first[gi + 1]; ++k) {
        expsyn.g[k] += (1.0 - std::exp(dt * (-1.0 / expsyn.tau[k]))) * (-expsyn.g[k]);
    }
}

simulation::simulation(const model& m, simulation_options options, int threads)
    : state_(std::make_unique<state>(m, options, threads)) {}
simulation::~simulation() = default;
simulation::simulation(simulation&&) noexcept = default;
simulation& simulation::operator=(simulation&&) noexcept = default;

void simulation::finitialize(double v_init) {
    if (!std::isfinite(v_init)) throw model_error("v_init must be a finite voltage in mV, got " + format_number(v_init));
    state& s = *state_;
    s.t = 0.0;
    s.step = 0;
    s.v.assign(s.v.size(), v_init);
    for (std::size_t k = 0; k < s.hh.pos.size(); ++k) {
        const double v = s.v[s.hh.pos[k]];
        const hh_rates r = s.hh_table ? s.hh_table->lookup(v) : hh_rates_exact(v, s.options.celsius);
        s.hh.m[k] = r.minf;
        s.hh.h[k] = r.hinf;
        s.hh.n[k] = r.ninf;
    }
    s.expsyn.g.assign(s.expsyn.g.size(), 0.0);
    s.events = keyed_queue{};
    s.next_rank = 0;
    s.pending_spikes.clear();
    s.spikes.clear();
    s.above_threshold.assign(s.wiring.sources.size(), 0);
    for (std::size_t k = 0; k < s.generators.size(); ++k) {
        if (const auto first = netstim_initial(s.generators[k], s.generator_state[k])) {
            s.push(s.t + *first, 0, event_kind::generator, k, 3);
        }
    }
    s.time_trace.clear();
    for (auto& trace: s.traces) trace.clear();
    for (auto& times: s.trace_times) times.clear();
    s.initialized = true;
    // As the default engine: INITIAL's events, the currents at t = 0, the recordings at t = 0, then the rest.
    s.deliver_events(s.t, 0);
    s.measure_currents(nullptr, s.t, false);
    s.time_trace.push_back(s.t);
    for (std::size_t p = 0; p < s.probes.size(); ++p) {
        if (s.probes[p].interval == 0.0) s.traces[p].push_back(s.probe_value(p));
    }
    for (std::size_t p = 0; p < s.probes.size(); ++p) {
        if (s.probes[p].interval > 0.0) s.push(s.t, 0, event_kind::record, p);
    }
    s.deliver_events(s.t, 0);
    s.flush_spikes();
}

void simulation::fadvance() {
    state& s = *state_;
    if (!s.initialized) throw model_error("call finitialize(v_init) before advancing the simulation");
    stop_rule one;
    one.by_count = true;
    one.steps = 1;
    s.advance(one, 0, 1);
}

namespace {
std::vector<double> intervals_of(const std::vector<probe_binding>& probes) {
    std::vector<double> intervals;
    for (const probe_binding& p: probes) intervals.push_back(p.interval);
    return intervals;
}
} // namespace

void simulation::state::advance(const stop_rule& rule, const keep_running& keep_going) {
    std::uint64_t done = 0;
    while (rule.more(done, t)) {
        const std::uint64_t before = step;
        advance(rule, done, interval_steps);
        done += step - before;
        if (keep_going && !keep_going()) return;
    }
}

void simulation::run(double tstop, const keep_running& keep_going) {
    state& s = *state_;
    check_run(tstop, "run(tstop)");
    s.advance(psolve_rule(s.t, tstop, s.options.dt), keep_going);
}

void simulation::continuerun(double tstop, const keep_running& keep_going) {
    state& s = *state_;
    check_run(tstop, "continuerun(tstop)");
    s.advance(continuerun_rule(tstop, s.options.dt), keep_going);
}

void simulation::check_run(double tstop, const char* what) {
    state& s = *state_;
    if (!std::isfinite(tstop)) throw model_error("tstop must be a finite time in ms, got " + format_number(tstop));
    if (!s.initialized) throw model_error(std::string("call finitialize(v_init) before ") + what);
    const run_size size = estimate_run_size(s.t, tstop, s.options.dt, intervals_of(s.probes), s.time_trace.size());
    check_run_size(size);
    std::vector<std::vector<double>*> every_step;
    for (std::size_t p = 0; p < s.probes.size(); ++p) {
        if (s.probes[p].interval == 0.0) every_step.push_back(&s.traces[p]);
    }
    reserve_recording(size, s.time_trace, every_step);
}

void simulation::update_parameters(const model& m) {
    state& old = *state_;
    auto fresh = std::make_unique<state>(m, old.options, old.threads);
    state& s = *fresh;
    std::string difference = structure_difference(old.layout, s.layout, old.wiring, s.wiring, old.probes, s.probes);
    if (difference.empty() && (old.hh.pos != s.hh.pos || old.pas.pos != s.pas.pos)) difference = "inserted mechanisms";
    if (difference.empty() && (old.iclamp.pos != s.iclamp.pos || old.expsyn.pos != s.expsyn.pos ||
                               old.generators.size() != s.generators.size())) {
        difference = "point processes (IClamps, ExpSyns, NetStims)";
    }
    if (!difference.empty()) throw model_error(changed_structure_message(difference));
    // The state goes on; the parameters are the model's now.
    s.t = old.t;
    s.step = old.step;
    s.initialized = old.initialized;
    s.v = std::move(old.v);
    s.hh.m = std::move(old.hh.m);
    s.hh.h = std::move(old.hh.h);
    s.hh.n = std::move(old.hh.n);
    s.expsyn.g = std::move(old.expsyn.g);
    s.generator_state = std::move(old.generator_state);
    s.above_threshold = std::move(old.above_threshold);
    s.events = std::move(old.events);
    s.next_rank = old.next_rank;
    s.spikes = std::move(old.spikes);
    s.probe_current = std::move(old.probe_current);
    s.time_trace = std::move(old.time_trace);
    s.traces = std::move(old.traces);
    s.trace_times = std::move(old.trace_times);
    state_ = std::move(fresh);
}

double simulation::state::probe_value(std::size_t p) const {
    const std::size_t k = probe_slot[p];
    switch (probes[p].var) {
    case variable::v: return v[probe_pos[p]];
    case variable::ena: return hh.ena[k];
    case variable::ek: return hh.ek[k];
    case variable::hh_m: return hh.m[k];
    case variable::hh_h: return hh.h[k];
    case variable::hh_n: return hh.n[k];
    case variable::expsyn_g: return expsyn.g[k];
    default: return probe_current[p];
    }
}

void simulation::state::measure_currents(const std::vector<std::size_t>* list, double t_now, bool solved) {
    // As the default engine's measure_currents, formula for formula.
    const bool second_order = solved && options.secondorder == 2;
    auto measure = [&](std::size_t p) {
        const probe_binding& b = probes[p];
        if (!is_current(b.var)) return;
        const std::size_t k = probe_slot[p];
        const std::size_t i = probe_pos[p];
        const double vi = v[i];
        double value = 0.0;
        switch (b.var) {
        case variable::pas_i: value = pas.g[k] * (vi - pas.e[k]); break;
        case variable::iclamp_i:
            value = t_now < iclamp.delay[k] + iclamp.duration[k] && t_now >= iclamp.delay[k] ? iclamp.amplitude[k] : 0.0;
            break;
        case variable::expsyn_i: value = expsyn.g[k] * (vi - expsyn.e[k]); break;
        default: {
            const hh_current_values c = hh_currents(hh.gnabar[k], hh.gkbar[k], hh.gl[k], hh.el[k], hh.ena[k], hh.ek[k],
                                                    hh.m[k], hh.h[k], hh.n[k], vi);
            if (b.var == variable::hh_gna) value = c.gna;
            else if (b.var == variable::hh_gk) value = c.gk;
            else if (b.var == variable::hh_il) value = c.il;
            else if (b.var == variable::ina) value = second_order ? c.ina + c.dina_dv * rhs[i] : c.ina;
            else value = second_order ? c.ik + c.dik_dv * rhs[i] : c.ik;
        }
        }
        probe_current[p] = value;
    };
    if (list) {
        for (std::size_t p: *list) measure(p);
    }
    else {
        for (std::size_t p = 0; p < probes.size(); ++p) measure(p);
    }
}

double simulation::time() const { return state_->t; }
double simulation::dt() const { return state_->options.dt; }
int simulation::threads() const { return state_->threads; }
std::size_t simulation::group_count() const { return state_->il.groups.size(); }
const simulation_options& simulation::options() const { return state_->options; }
const compartments& simulation::layout() const { return state_->layout; }

double simulation::voltage_at(location where) const {
    const state& s = *state_;
    return s.v[s.il.position[s.layout.node_at(where)]];
}

const std::vector<double>& simulation::time_trace() const { return state_->time_trace; }

const std::vector<double>& simulation::trace(std::size_t probe) const {
    const state& s = *state_;
    if (probe >= s.traces.size()) {
        throw model_error("no probe with index " + std::to_string(probe) + " (the simulation has " +
                          std::to_string(s.traces.size()) + ")");
    }
    return s.traces[probe];
}

const std::vector<double>& simulation::trace_times(std::size_t probe) const {
    const state& s = *state_;
    trace(probe); // checks the index
    return s.probes[probe].interval > 0.0 ? s.trace_times[probe] : s.time_trace;
}

std::size_t simulation::probe_count() const { return state_->probes.size(); }

const std::vector<spike>& simulation::spikes() const { return state_->spikes; }
const std::vector<spike_source>& simulation::spike_sources() const { return state_->wiring.sources; }

std::size_t simulation::source_of_connection(std::size_t connection) const {
    const state& s = *state_;
    if (connection >= s.wiring.connection_source.size()) {
        throw model_error("no NetCon with index " + std::to_string(connection));
    }
    return s.wiring.connection_source[connection];
}

} // namespace cablesim::coreneuron
