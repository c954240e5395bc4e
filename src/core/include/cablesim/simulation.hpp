#pragma once
// The serial engine: NEURON's fixed-step method (fadvance with secondorder = 0 or 2).
//
// One step from t to t + dt, in NEURON's order:
//   1. threshold detection at t; deliver events due by t + dt/2
//   2. t += dt/2; membrane currents and their conductances at v(t) (IClamp sees t + dt/2)
//   3. node equations (capacitance cm/dt, axial coupling) solved by the Hines method
//   4. v += dv (backward Euler) or v += 2 dv (Crank-Nicolson, secondorder = 2)
//   5. t += dt/2; gating states and synaptic conductances advance with the new v (cnexp)
//   6. record; deliver events due by t (NEURON's nrn_deliver_events)
#include <cablesim/events.hpp>
#include <cablesim/hh.hpp>
#include <cablesim/model.hpp>
#include <cablesim/morphology.hpp>
#include <cablesim/run_size.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cablesim {

struct simulation_options {
    double dt = 0.025;          // [ms]
    double celsius = 6.3;       // [degC]
    int secondorder = 0;        // 0: backward Euler, 2: Crank-Nicolson (NEURON's secondorder)
    bool use_rate_table = true; // hh rates from NEURON's 201-point table (as NEURON's default)
};

// Throws model_error naming the bad value; every engine checks its options with it.
void check_options(const simulation_options& options);

// Asked by the engines' run() between steps (every few steps, or between the coreneuron engine's intervals):
// false stops the run there, after a whole step. The bindings stop on Ctrl-C with it. Empty: never stops.
using keep_running = std::function<bool()>;

// A spike: the time its source crossed threshold (or the NetStim fired) and the source's index.
struct spike {
    double time;        // [ms]
    std::size_t source; // index into simulation::spike_sources()
};

struct spike_source {
    bool is_generator = false;
    std::size_t node = 0;          // voltage threshold detector: the node watched
    double threshold = 0.0;        // [mV]
    std::size_t generator = 0;     // NetStim index
    bool is_gid = false;           // cell `gid`'s output, wherever it lives: its spikes come from exchanges
    std::int64_t gid = -1;
};

// A spike of a cell's output in a distributed run: what the processes exchange.
struct gid_spike {
    double time;       // [ms]
    std::int64_t gid;
};

// Who sends spikes to whom: one source per watched (node, threshold) and per NetStim, shared by all NetCons
// from it (as NEURON shares one PreSyn per source). Every engine builds it with wire_spikes, so that source
// indices, and the order events are sent in, are the same in all of them.
struct spike_wiring {
    static constexpr std::size_t no_source = static_cast<std::size_t>(-1);
    struct delivery {
        std::size_t connection; // the NetCon: its target and weight are looked up when the event arrives
        double delay;           // [ms]
    };
    struct target {
        target_kind kind = target_kind::none;
        std::size_t index = 0; // ExpSyn or NetStim
        double weight = 0.0;   // [uS] for an ExpSyn; a NetStim starts on > 0 and stops on < 0
    };
    std::vector<spike_source> sources;
    std::vector<std::size_t> connection_source;  // per NetCon: its source
    std::vector<target> connection_target;       // per NetCon
    std::vector<std::vector<delivery>> outgoing; // per source: the events each of its spikes sends
    std::vector<std::size_t> generator_source;   // per NetStim: its source, or no_source (it fires unseen)
    std::vector<std::int64_t> output_gid;        // per source: the gid it is the output of, or -1
    std::map<std::int64_t, std::size_t> gid_source; // per gid connected to: its (is_gid) source
};

spike_wiring wire_spikes(const model& m, const compartments& layout);


// hh's conductances and currents as hh.mod's BREAKPOINT computes them [S/cm2], [mA/cm2], and NEURON's numerical
// d(ina)/dv and d(ik)/dv (the generated code evaluates the currents at v + 0.001 mV and at v).
struct hh_current_values {
    double gna, gk, ina, ik, il;
    double dina_dv, dik_dv;
};
inline hh_current_values hh_currents(double gnabar, double gkbar, double gl, double el, double ena, double ek,
                                     double m, double h, double n, double v) {
    hh_current_values c{};
    c.gna = gnabar * m * m * m * h;
    c.gk = gkbar * n * n * n * n;
    c.ina = c.gna * (v - ena);
    c.ik = c.gk * (v - ek);
    c.il = gl * (v - el);
    c.dina_dv = (c.gna * ((v + 0.001) - ena) - c.ina) / 0.001;
    c.dik_dv = (c.gk * ((v + 0.001) - ek) - c.ik) / 0.001;
    return c;
}

// What a probe records, resolved against an engine's layout: where its value lives.
struct probe_binding {
    variable var = variable::v;
    std::size_t node = 0;     // model node (v; the node of a mechanism's segment or a point process)
    std::size_t instance = 0; // hh, pas, IClamp or ExpSyn index in the model's order (see bind_probes)
    double interval = 0.0;    // [ms]; 0: every step
};
// The probes of `m`: instance is the hh or pas instance in the engines' gathering order (sections, then
// segments), or the IClamp or ExpSyn index.
std::vector<probe_binding> bind_probes(const model& m, const compartments& layout);

// What differs between the structure of an engine and that of one built from a changed model ("" when nothing
// does): an engine takes over another's state (update_parameters) only when the nodes, the spike wiring (sources,
// NetCons and their targets) and the recordings are the same; parameters may differ.
std::string structure_difference(const compartments& before, const compartments& after, const spike_wiring& wired,
                                 const spike_wiring& rewired, const std::vector<probe_binding>& probes,
                                 const std::vector<probe_binding>& reprobed);
// The message update_parameters throws for a difference.
std::string changed_structure_message(const std::string& difference);

class simulation {
public:
    simulation(const model& m, simulation_options options);

    // NEURON's finitialize(v_init): t = 0, v = v_init everywhere, states at steady state, events queued.
    void finitialize(double v_init); // [mV]
    // One fixed step of dt.
    void fadvance();
    // NEURON's pc.psolve(tstop) [ms] from the current t (how many steps: run_size.hpp's psolve_rule), or until
    // keep_going says stop. First checks the run's size (cablesim/run_size.hpp) and reserves its recording.
    void run(double tstop, const keep_running& keep_going = {});
    // NEURON's continuerun(tstop) [ms] (stdrun.hoc; continuerun_rule): as run(), stopping by stdrun's rule.
    void continuerun(double tstop, const keep_running& keep_going = {});
    // Takes the parameters of `m` (mechanisms, geometry, point processes, NetCon weights, delays and thresholds,
    // NetStims), keeping the state (t, v, gates, conductances, events in flight, recordings). Throws model_error
    // when the structure changed (structure_difference): then finitialize an engine built anew.
    void update_parameters(const model& m);

    double time() const { return t_; }
    double dt() const { return options_.dt; }
    const simulation_options& options() const { return options_; }
    const compartments& layout() const { return layout_; }
    double voltage_at(location where) const;

    // Every-step probes are recorded at finitialize and after every step, at the times of time_trace(); a probe with
    // an interval at its own times (trace_times).
    const std::vector<double>& time_trace() const { return time_trace_; }
    const std::vector<double>& trace(std::size_t probe) const;
    const std::vector<double>& trace_times(std::size_t probe) const;
    std::size_t probe_count() const { return probes_.size(); }

    const std::vector<spike>& spikes() const { return spikes_; }
    const std::vector<spike_source>& spike_sources() const { return wiring_.sources; }
    std::size_t source_of_connection(std::size_t connection) const;
    const spike_wiring& wiring() const { return wiring_; }

    // For distributed runs (cablesim/parallel.hpp): the spikes of gid outputs since the last call, as sent.
    std::vector<gid_spike> take_gid_spikes();
    // A spike of cell `gid` at `time` [ms], from any process: sends the events of the NetCons from that gid
    // (none when nothing here is connected to it). Not added to spikes(), which lists this model's sources.
    void receive_gid_spike(std::int64_t gid, double time);

private:
    void advance(const stop_rule& rule, const keep_running& keep_going);
    void check_thresholds();
    void deliver_events(double until);
    void emit_spike(std::size_t source, double time);
    void compute_currents();
    void solve_and_update();
    void advance_states();
    void measure_currents(bool solved);
    double probe_value(std::size_t probe) const;
    void record();

    simulation_options options_;
    compartments layout_;
    std::size_t n_ = 0;
    double t_ = 0.0;
    bool initialized_ = false;

    // Node state and the matrix of the current step.
    std::vector<double> v_;   // [mV]
    std::vector<double> d_;   // diagonal [mS/cm2 per mV] (nA/mV on zero-area nodes)
    std::vector<double> rhs_; // [mA/cm2] (nA on zero-area nodes); the voltage change after the solve
    std::vector<double> capacitance_; // cm [uF/cm2] per node

    // hh, one entry per segment node that has it (structure of arrays).
    struct hh_state {
        std::vector<std::size_t> node;
        std::vector<double> gnabar, gkbar, gl, el, ena, ek; // [S/cm2], [mV]
        std::vector<double> m, h, n;
    } hh_;
    std::optional<hh_rate_table> hh_table_;

    struct pas_state {
        std::vector<std::size_t> node;
        std::vector<double> g, e; // [S/cm2], [mV]
    } pas_;

    struct iclamp_state {
        std::vector<std::size_t> node;
        std::vector<double> delay, duration, amplitude; // [ms], [ms], [nA]
        std::vector<double> to_density;                  // 1e2/area [1/um2 scaled]: nA -> mA/cm2
    } iclamp_;

    struct expsyn_state {
        std::vector<std::size_t> node;
        std::vector<double> tau, e;  // [ms], [mV]
        std::vector<double> g;       // [uS]
        std::vector<double> to_density;
    } expsyn_;

    std::vector<spike_generator> generators_;
    std::vector<netstim_state> generator_state_;

    spike_wiring wiring_;
    std::vector<bool> above_threshold_; // per source: NEURON's PreSyn flag_

    event_queue events_;
    std::vector<spike> spikes_;
    std::vector<gid_spike> gid_spikes_; // not yet taken by take_gid_spikes

    std::vector<probe_binding> probes_;
    std::vector<double> probe_current_; // per probe: a current variable's value at the last step's currents
    std::vector<double> time_trace_;
    std::vector<std::vector<double>> traces_, trace_times_; // per probe (trace_times_: interval probes only)
};

} // namespace cablesim
