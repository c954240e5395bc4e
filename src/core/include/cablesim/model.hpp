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

constexpr double pi = 3.14159265358979323846;

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

// The geometry a section is created with; what is not given keeps NEURON's default.
struct section_geometry {
    std::optional<double> length, diameter, axial_resistivity, membrane_capacitance;
    std::optional<int> nseg;
};

struct section {
    std::string name;
    double length = 100.0;              // L [um] (NEURON's default)
    double diameter = 500.0;            // diam [um] (NEURON's default)
    int nseg = 1;
    double axial_resistivity = 35.4;    // Ra [ohm cm]
    double membrane_capacitance = 1.0;  // cm [uF/cm2]
    std::optional<location> parent;     // this section's 0 end sits at parent
    // Density mechanisms: one entry per segment (NEURON's range variables), empty when not inserted.
    std::vector<hh_parameters> hh;
    std::vector<pas_parameters> pas;
};

// The segment of a section that holds range variables at x (NEURON: sec(0) and sec(1) are the first and last).
int segment_index(const section& s, double x);
// The membrane area of one segment [um2], as NEURON computes it for a cylinder: pi diam L / nseg.
double segment_area(const section& s);

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

// NEURON's NetStim without noise: `number` events at start, start + interval, ... An event from a NetCon with a
// positive weight starts the sequence again (if it is not running), a negative one stops it (netstim.mod).
struct spike_generator {
    double start = 50.0;    // [ms]
    double number = 10.0;   // how many events (NEURON allows a real number; events while k < number)
    double interval = 10.0; // [ms]
};

// Where a NetCon takes its spikes from. `gid`: the output of cell `gid`, which may live in another process of a
// distributed run (NEURON's ParallelContext.gid_connect); its spikes arrive at the exchanges of the run.
enum class source_kind { voltage_threshold, generator, gid };

// What a NetCon delivers its events to: nothing (a spike detector), an ExpSyn or a NetStim.
enum class target_kind { none, exp_synapse, spike_generator };

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
    target_kind target_type = target_kind::none;
    std::size_t target = 0;            // an exp_synapse or spike_generator index
    double threshold = 10.0;           // [mV]
    double delay = 1.0;                // [ms]
    double weight = 0.0;               // [uS]
};

// The variables a probe records (NEURON's range variables and point-process variables).
enum class variable {
    v,                                       // [mV] at any location
    ina, ik, ena, ek,                        // [mA/cm2], [mV]: the sodium and potassium ions (where hh is)
    hh_m, hh_h, hh_n, hh_gna, hh_gk, hh_il, // m_hh, h_hh, n_hh [1]; gna_hh, gk_hh [S/cm2]; il_hh [mA/cm2]
    pas_i,                                   // i_pas [mA/cm2]
    iclamp_i,                                // IClamp.i [nA]
    expsyn_g, expsyn_i,                      // ExpSyn.g [uS], ExpSyn.i [nA]
};

// Whether a variable is computed with the currents, at the middle of a step (else it is a state at its end).
bool is_current(variable var);
// NEURON's name: "v", "ina", "m_hh", "i_pas"; "i", "g" for point processes.
std::string variable_name(variable var);

// What a probe records: a variable at a location (or of a point process), every step or every `interval` ms.
struct probe {
    variable var = variable::v;
    location where;           // for range variables; for point processes, the point process's location
    std::size_t index = 0;    // the IClamp or ExpSyn, for their variables
    double interval = 0.0;    // [ms]; 0: at t = 0 and after every step
};

class model {
public:
    section_id add_section(const std::string& name);
    // A new section with the geometry given, all checked before the section exists: nothing is left on failure.
    section_id add_section(const std::string& name, const section_geometry& geometry);
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
    // A parameter in every segment of the section (NEURON: sec.gnabar_hh = value); read at the segment of x = 0.5.
    void set_mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter, double value);
    double mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter) const;
    // A parameter of one segment (NEURON: sec(x).hh.gnabar = value).
    void set_segment_parameter(location where, const std::string& mechanism, const std::string& parameter,
                               double value);
    double segment_parameter(location where, const std::string& mechanism, const std::string& parameter) const;

    std::size_t add_current_clamp(location where);
    std::size_t add_exp_synapse(location where);
    std::size_t add_spike_generator();
    // NetCons to an ExpSyn (or to nothing: a spike detector).
    std::size_t add_connection_from_voltage(location where, std::optional<std::size_t> target_synapse);
    std::size_t add_connection_from_generator(std::size_t generator, std::optional<std::size_t> target_synapse);
    // A NetCon from cell `gid`'s output, on this process or another (NEURON's pc.gid_connect).
    std::size_t add_connection_from_gid(std::int64_t gid, std::optional<std::size_t> target_synapse);
    // NetCons to any target kind (index ignored for target_kind::none).
    std::size_t add_connection_from_voltage(location where, target_kind kind, std::size_t target);
    std::size_t add_connection_from_generator(std::size_t generator, target_kind kind, std::size_t target);
    // Makes connection's source the output of cell `gid` (NEURON's pc.cell(gid, netcon)); a gid once per model.
    void set_output_gid(std::int64_t gid, std::size_t connection);
    // Records v at `where` every step.
    std::size_t add_voltage_probe(location where);
    // Records a range variable by NEURON's name ("v", "m_hh", "ina", ...) at `where`, every `interval` ms (0: every
    // step, as NEURON's Vector.record(ref); else as Vector.record(ref, interval)).
    std::size_t add_probe(location where, const std::string& name, double interval);
    // Records a variable of an IClamp ("i") or an ExpSyn ("g", "i").
    std::size_t add_current_clamp_probe(std::size_t clamp, const std::string& name, double interval);
    std::size_t add_exp_synapse_probe(std::size_t synapse, const std::string& name, double interval);

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
    const std::vector<probe>& probes() const { return probes_; }
    const std::vector<gid_output>& gid_outputs() const { return gid_outputs_; }
    // Whether the model has gids (outputs or gid connections): then its spikes travel through exchanges.
    bool distributed() const;

    // "soma(0.5)" for messages.
    std::string describe(location where) const;

    // Counts every change: an engine built from revision r has the model's parameters while revision() == r.
    std::uint64_t revision() const { return revision_; }

private:
    void check_section(section_id id) const;
    void check_location(location where) const;
    section& mutable_section(section_id id);
    std::size_t append_probe(probe p);
    std::size_t append_connection(connection c, target_kind kind, std::size_t target);

    std::vector<section> sections_;
    std::vector<current_clamp> current_clamps_;
    std::vector<exp_synapse> exp_synapses_;
    std::vector<spike_generator> spike_generators_;
    std::vector<connection> connections_;
    std::vector<probe> probes_;
    std::vector<gid_output> gid_outputs_;
    std::uint64_t revision_ = 0;
};

} // namespace cablesim
