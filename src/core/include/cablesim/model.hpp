#pragma once
// The model a user describes: sections, mechanisms, stimuli, synapses, spike sources and probes.
// Every setter validates its value at once and throws model_error naming the object and the value,
// so that a bad model never reaches the solver.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cablesim {

using section_id = std::size_t;

// A point on a section: x is the normalised arc length in [0, 1] (NEURON's sec(x)).
struct location {
    section_id section = 0;
    double x = 0.5;
};

// NEURON's hh mechanism with its default parameters.
struct hh_parameters {
    double gnabar = 0.12;   // [S/cm2]
    double gkbar = 0.036;   // [S/cm2]
    double gl = 0.0003;     // [S/cm2]
    double el = -54.3;      // [mV]
    double ena = 50.0;      // [mV] NEURON's default sodium reversal potential
    double ek = -77.0;      // [mV] NEURON's default potassium reversal potential
};

// NEURON's pas mechanism with its default parameters.
struct pas_parameters {
    double g = 0.001;       // [S/cm2]
    double e = -70.0;       // [mV]
};

struct section {
    std::string name;
    double length = 100.0;              // L [um] (NEURON's default)
    double diameter = 500.0;            // diam [um] (NEURON's default)
    int nseg = 1;
    double axial_resistivity = 35.4;    // Ra [ohm cm]
    double membrane_capacitance = 1.0;  // cm [uF/cm2]
    std::optional<location> parent;     // this section's 0 end sits at parent
    std::optional<hh_parameters> hh;
    std::optional<pas_parameters> pas;
};

// NEURON's IClamp: amp [nA] flows into the cell for delay <= t < delay + dur.
struct current_clamp {
    location where;
    double delay = 0.0;     // [ms]
    double duration = 0.0;  // [ms]
    double amplitude = 0.0; // [nA]
};

// NEURON's ExpSyn: i = g (v - e), g decays with tau and jumps by the weight of each event.
struct exp_synapse {
    location where;
    double tau = 0.1;       // [ms]
    double reversal = 0.0;  // e [mV]
};

// NEURON's NetStim without noise: `number` events at start, start + interval, ...
struct spike_generator {
    double start = 50.0;    // [ms]
    double number = 10.0;   // how many events (NEURON allows a real number; events while k < number)
    double interval = 10.0; // [ms]
};

// Where a NetCon takes its spikes from. `gid`: the output of cell `gid`, which may live in another process of a
// distributed run (NEURON's ParallelContext.gid_connect); its spikes arrive at the exchanges of the run.
enum class source_kind { voltage_threshold, generator, gid };

// Cell identifiers of distributed runs are NEURON's: non-negative ints.
constexpr std::int64_t max_gid = 2147483647;

// A cell's output (NEURON's ParallelContext.cell(gid, netcon)): the spikes of that NetCon's source are cell
// gid's spikes, sent to every process at the exchanges of a distributed run.
struct gid_output {
    std::int64_t gid;
    std::size_t connection;
};

// NEURON's NetCon: a spike of the source reaches the target synapse after `delay` with `weight`.
struct connection {
    source_kind kind = source_kind::voltage_threshold;
    location where;                    // for voltage_threshold
    std::size_t generator = 0;         // for generator
    std::int64_t gid = -1;             // for gid
    std::optional<std::size_t> target; // an exp_synapse index; none = a spike recorder only
    double threshold = 10.0;           // [mV]
    double delay = 1.0;                // [ms]
    double weight = 0.0;               // [uS]
};

class model {
public:
    section_id add_section(const std::string& name);
    std::size_t section_count() const { return sections_.size(); }
    const section& section_at(section_id id) const;
    const std::vector<section>& sections() const { return sections_; }

    void set_length(section_id id, double length);
    void set_diameter(section_id id, double diameter);
    void set_nseg(section_id id, int nseg);
    void set_axial_resistivity(section_id id, double ra);
    void set_membrane_capacitance(section_id id, double cm);
    // Attaches child's 0 end to `parent` (NEURON: child.connect(parent(x))). Refuses loops.
    void connect(section_id child, location parent);
    void disconnect(section_id child);

    // Density mechanisms by name: "hh" or "pas".
    void insert(section_id id, const std::string& mechanism);
    void uninsert(section_id id, const std::string& mechanism);
    bool has_mechanism(section_id id, const std::string& mechanism) const;
    void set_mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter, double value);
    double mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter) const;

    std::size_t add_current_clamp(location where);
    std::size_t add_exp_synapse(location where);
    std::size_t add_spike_generator();
    std::size_t add_connection_from_voltage(location where, std::optional<std::size_t> target_synapse);
    std::size_t add_connection_from_generator(std::size_t generator, std::optional<std::size_t> target_synapse);
    // A NetCon from cell `gid`'s output, on this process or another (NEURON's pc.gid_connect).
    std::size_t add_connection_from_gid(std::int64_t gid, std::optional<std::size_t> target_synapse);
    // Makes connection's source the output of cell `gid` (NEURON's pc.cell(gid, netcon)); a gid once per model.
    void set_output_gid(std::int64_t gid, std::size_t connection);
    std::size_t add_voltage_probe(location where);

    // Parameters of point processes and connections by name, as NEURON's attribute names
    // (IClamp: del/delay, dur, amp; ExpSyn: tau, e; NetStim: start, number, interval;
    //  NetCon: threshold, delay, weight).
    void set_current_clamp_parameter(std::size_t id, const std::string& parameter, double value);
    double current_clamp_parameter(std::size_t id, const std::string& parameter) const;
    void set_exp_synapse_parameter(std::size_t id, const std::string& parameter, double value);
    double exp_synapse_parameter(std::size_t id, const std::string& parameter) const;
    void set_spike_generator_parameter(std::size_t id, const std::string& parameter, double value);
    double spike_generator_parameter(std::size_t id, const std::string& parameter) const;
    void set_connection_parameter(std::size_t id, const std::string& parameter, double value);
    double connection_parameter(std::size_t id, const std::string& parameter) const;

    const std::vector<current_clamp>& current_clamps() const { return current_clamps_; }
    const std::vector<exp_synapse>& exp_synapses() const { return exp_synapses_; }
    const std::vector<spike_generator>& spike_generators() const { return spike_generators_; }
    const std::vector<connection>& connections() const { return connections_; }
    const std::vector<location>& voltage_probes() const { return voltage_probes_; }
    const std::vector<gid_output>& gid_outputs() const { return gid_outputs_; }
    // Whether the model has gids (outputs or gid connections): then its spikes travel through exchanges.
    bool distributed() const;

    // "soma(0.5)" for messages.
    std::string describe(location where) const;

private:
    void check_section(section_id id) const;
    void check_location(location where) const;
    section& mutable_section(section_id id);

    std::vector<section> sections_;
    std::vector<current_clamp> current_clamps_;
    std::vector<exp_synapse> exp_synapses_;
    std::vector<spike_generator> spike_generators_;
    std::vector<connection> connections_;
    std::vector<location> voltage_probes_;
    std::vector<gid_output> gid_outputs_;
};

} // namespace cablesim
