#include <cablesim/errors.hpp>
#include <cablesim/model.hpp>

#include <algorithm>
#include <cmath>

namespace cablesim {

namespace {

std::string quoted(const std::string& name) { return "'" + name + "'"; }

void require_finite(const std::string& what, const std::string& parameter, double value, const char* unit) {
    if (!std::isfinite(value)) {
        throw model_error(what + ": " + parameter + " must be a finite number of " + unit + ", got " + format_number(value));
    }
}

void require_positive(const std::string& what, const std::string& parameter, double value, const char* unit) {
    require_finite(what, parameter, value, unit);
    if (!(value > 0.0)) {
        throw model_error(what + ": " + parameter + " must be > 0 " + unit + ", got " + format_number(value));
    }
}

void require_non_negative(const std::string& what, const std::string& parameter, double value, const char* unit) {
    require_finite(what, parameter, value, unit);
    if (value < 0.0) {
        throw model_error(what + ": " + parameter + " must be >= 0 " + unit + ", got " + format_number(value));
    }
}

[[noreturn]] void unknown_parameter(const std::string& what, const std::string& parameter, const char* known) {
    throw model_error(what + ": unknown parameter '" + parameter + "' (known: " + known + ")");
}

} // namespace

section_id model::add_section(const std::string& name) {
    if (name.empty()) throw model_error("a section needs a non-empty name");
    section s;
    s.name = name;
    sections_.push_back(s);
    ++revision_;
    return sections_.size() - 1;
}

section_id model::add_section(const std::string& name, const section_geometry& geometry) {
    const section_id id = add_section(name);
    try {
        if (geometry.length) set_length(id, *geometry.length);
        if (geometry.diameter) set_diameter(id, *geometry.diameter);
        if (geometry.nseg) set_nseg(id, *geometry.nseg);
        if (geometry.axial_resistivity) set_axial_resistivity(id, *geometry.axial_resistivity);
        if (geometry.membrane_capacitance) set_membrane_capacitance(id, *geometry.membrane_capacitance);
    }
    catch (...) {
        sections_.pop_back(); // nothing refers to it yet: the model is as it was
        throw;
    }
    return id;
}

int segment_index(const section& s, double x) {
    return std::min(std::max(static_cast<int>(x * s.nseg), 0), s.nseg - 1);
}

double segment_area(const section& s) {
    const double dx = s.length / s.nseg; // [um]
    return pi * s.diameter * dx;
}

void model::check_section(section_id id) const {
    if (id >= sections_.size()) {
        throw model_error("no section with index " + std::to_string(id) + " (the model has " +
                          std::to_string(sections_.size()) + ")");
    }
}

section& model::mutable_section(section_id id) {
    check_section(id);
    ++revision_;
    return sections_[id];
}

const section& model::section_at(section_id id) const {
    check_section(id);
    return sections_[id];
}

std::string model::describe(location where) const {
    const std::string name = where.section < sections_.size() ? sections_[where.section].name : "?";
    return name + "(" + format_number(where.x) + ")";
}

void model::check_location(location where) const {
    check_section(where.section);
    if (!(where.x >= 0.0 && where.x <= 1.0)) {
        throw model_error("location " + describe(where) + ": x must be in [0, 1], got " + format_number(where.x));
    }
}

void model::set_length(section_id id, double length) {
    section& s = mutable_section(id);
    require_positive("section " + quoted(s.name), "L", length, "um");
    s.length = length;
}

void model::set_diameter(section_id id, double diameter) {
    section& s = mutable_section(id);
    require_positive("section " + quoted(s.name), "diam", diameter, "um");
    s.diameter = diameter;
}

void model::set_nseg(section_id id, int nseg) {
    section& s = mutable_section(id);
    if (nseg < 1 || nseg > 32767) {
        throw model_error("section " + quoted(s.name) + ": nseg must be in [1, 32767], got " + std::to_string(nseg));
    }
    // Range variables follow NEURON's rule: each new segment takes the values of the old segment holding its centre.
    auto remap = [&](auto& values) {
        if (values.empty()) return;
        auto old = values;
        values.resize(static_cast<std::size_t>(nseg));
        for (int j = 0; j < nseg; ++j) {
            values[static_cast<std::size_t>(j)] = old[static_cast<std::size_t>(segment_index(s, (j + 0.5) / nseg))];
        }
    };
    remap(s.hh);
    remap(s.pas);
    s.nseg = nseg;
}

void model::set_axial_resistivity(section_id id, double ra) {
    section& s = mutable_section(id);
    require_positive("section " + quoted(s.name), "Ra", ra, "ohm cm");
    s.axial_resistivity = ra;
}

void model::set_membrane_capacitance(section_id id, double cm) {
    section& s = mutable_section(id);
    require_non_negative("section " + quoted(s.name), "cm", cm, "uF/cm2");
    s.membrane_capacitance = cm;
}

void model::connect(section_id child, location parent) {
    check_section(child);
    check_location(parent);
    const std::string child_name = quoted(sections_[child].name);
    if (parent.section == child) {
        throw model_error("cannot connect section " + child_name + " to itself");
    }
    // Walk up from the new parent: meeting the child means the connection would close a loop.
    std::string path = sections_[child].name + " -> " + sections_[parent.section].name;
    for (std::optional<location> up = sections_[parent.section].parent; up; up = sections_[up->section].parent) {
        path += " -> " + sections_[up->section].name;
        if (up->section == child) {
            throw model_error("connecting section " + child_name + " to " + describe(parent) +
                              " would make a loop in the tree (" + path + "); disconnect one of them first");
        }
    }
    sections_[child].parent = parent;
    ++revision_;
}

void model::disconnect(section_id child) { mutable_section(child).parent.reset(); }

namespace {
[[noreturn]] void unknown_mechanism(const section& s, const std::string& mechanism) {
    throw model_error("section '" + s.name + "': unknown mechanism '" + mechanism + "' (known: hh, pas)");
}
} // namespace

void model::insert(section_id id, const std::string& mechanism) {
    section& s = mutable_section(id);
    const auto segments = static_cast<std::size_t>(s.nseg);
    if (mechanism == "hh") {
        if (s.hh.empty()) s.hh.assign(segments, hh_parameters{});
    }
    else if (mechanism == "pas") {
        if (s.pas.empty()) s.pas.assign(segments, pas_parameters{});
    }
    else {
        unknown_mechanism(s, mechanism);
    }
}

void model::uninsert(section_id id, const std::string& mechanism) {
    section& s = mutable_section(id);
    if (mechanism == "hh") s.hh.clear();
    else if (mechanism == "pas") s.pas.clear();
    else {
        unknown_mechanism(s, mechanism);
    }
}

bool model::has_mechanism(section_id id, const std::string& mechanism) const {
    const section& s = section_at(id);
    if (mechanism == "hh") return !s.hh.empty();
    if (mechanism == "pas") return !s.pas.empty();
    unknown_mechanism(s, mechanism);
}

namespace {

// The one table of mechanism parameters, used by the setters and the getters: the field of segment j.
double* mechanism_field(section& s, int j, const std::string& mechanism, const std::string& parameter) {
    const std::string what = "section '" + s.name + "'";
    const auto segment = static_cast<std::size_t>(j);
    if (mechanism == "hh") {
        if (s.hh.empty()) throw model_error(what + ": mechanism 'hh' is not inserted; call insert('hh') first");
        hh_parameters& p = s.hh[segment];
        if (parameter == "gnabar") return &p.gnabar;
        if (parameter == "gkbar") return &p.gkbar;
        if (parameter == "gl") return &p.gl;
        if (parameter == "el") return &p.el;
        if (parameter == "ena") return &p.ena;
        if (parameter == "ek") return &p.ek;
        unknown_parameter(what + " mechanism 'hh'", parameter, "gnabar, gkbar, gl, el, ena, ek");
    }
    if (mechanism == "pas") {
        if (s.pas.empty()) throw model_error(what + ": mechanism 'pas' is not inserted; call insert('pas') first");
        pas_parameters& p = s.pas[segment];
        if (parameter == "g") return &p.g;
        if (parameter == "e") return &p.e;
        unknown_parameter(what + " mechanism 'pas'", parameter, "g, e");
    }
    unknown_mechanism(s, mechanism);
}

bool is_conductance(const std::string& mechanism, const std::string& parameter) {
    return (mechanism == "hh" && (parameter == "gnabar" || parameter == "gkbar" || parameter == "gl")) ||
           (mechanism == "pas" && parameter == "g");
}

} // namespace

namespace {
void check_mechanism_value(const std::string& what, const std::string& mechanism, const std::string& parameter,
                           double value) {
    if (is_conductance(mechanism, parameter)) require_non_negative(what, parameter, value, "S/cm2");
    else require_finite(what, parameter, value, "mV");
}
} // namespace

void model::set_mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter,
                                    double value) {
    section& s = mutable_section(id);
    mechanism_field(s, 0, mechanism, parameter); // names checked before the value
    check_mechanism_value("section '" + s.name + "' " + mechanism, mechanism, parameter, value);
    for (int j = 0; j < s.nseg; ++j) *mechanism_field(s, j, mechanism, parameter) = value;
}

double model::mechanism_parameter(section_id id, const std::string& mechanism, const std::string& parameter) const {
    return segment_parameter(location{id, 0.5}, mechanism, parameter);
}

namespace {
// NEURON: the 0 and 1 ends of a section are zero-area nodes, where no mechanism exists.
void require_membrane(const std::string& place, double x, const std::string& mechanism) {
    if (x <= 0.0 || x >= 1.0) {
        throw model_error(mechanism + ", the mechanism does not exist at " + place +
                          ": the 0 and 1 ends of a section have no membrane; use x in (0, 1)");
    }
}
} // namespace

void model::set_segment_parameter(location where, const std::string& mechanism, const std::string& parameter,
                                  double value) {
    check_location(where);
    require_membrane(describe(where), where.x, mechanism);
    section& s = mutable_section(where.section);
    double* field = mechanism_field(s, segment_index(s, where.x), mechanism, parameter);
    check_mechanism_value(describe(where) + " " + mechanism, mechanism, parameter, value);
    *field = value;
}

double model::segment_parameter(location where, const std::string& mechanism, const std::string& parameter) const {
    check_location(where);
    require_membrane(describe(where), where.x, mechanism);
    section copy = section_at(where.section); // mechanism_field wants a mutable section
    return *mechanism_field(copy, segment_index(copy, where.x), mechanism, parameter);
}

std::size_t model::add_current_clamp(location where) {
    check_location(where);
    current_clamps_.push_back(current_clamp{where});
    ++revision_;
    return current_clamps_.size() - 1;
}

std::size_t model::add_exp_synapse(location where) {
    check_location(where);
    exp_synapses_.push_back(exp_synapse{where});
    ++revision_;
    return exp_synapses_.size() - 1;
}

std::size_t model::add_spike_generator() {
    spike_generators_.push_back(spike_generator{});
    ++revision_;
    return spike_generators_.size() - 1;
}

namespace {
void check_index(std::size_t id, std::size_t count, const char* kind) {
    if (id >= count) {
        throw model_error(std::string("no ") + kind + " with index " + std::to_string(id) + " (the model has " +
                          std::to_string(count) + ")");
    }
}

target_kind synapse_or_none(std::optional<std::size_t> target_synapse) {
    return target_synapse ? target_kind::exp_synapse : target_kind::none;
}
} // namespace

// Every kind of connection ends alike: a checked target (or none: a spike detector only), appended.
std::size_t model::append_connection(connection c, target_kind kind, std::size_t target) {
    if (kind == target_kind::exp_synapse) check_index(target, exp_synapses_.size(), "ExpSyn");
    if (kind == target_kind::spike_generator) check_index(target, spike_generators_.size(), "NetStim");
    c.target_type = kind;
    c.target = kind == target_kind::none ? 0 : target;
    connections_.push_back(c);
    ++revision_;
    return connections_.size() - 1;
}

std::size_t model::add_connection_from_voltage(location where, target_kind kind, std::size_t target) {
    check_location(where);
    connection c;
    c.kind = source_kind::voltage_threshold;
    c.where = where;
    return append_connection(c, kind, target);
}

std::size_t model::add_connection_from_generator(std::size_t generator, target_kind kind, std::size_t target) {
    check_index(generator, spike_generators_.size(), "NetStim");
    connection c;
    c.kind = source_kind::generator;
    c.generator = generator;
    return append_connection(c, kind, target);
}

std::size_t model::add_connection_from_voltage(location where, std::optional<std::size_t> target_synapse) {
    return add_connection_from_voltage(where, synapse_or_none(target_synapse), target_synapse.value_or(0));
}

std::size_t model::add_connection_from_generator(std::size_t generator, std::optional<std::size_t> target_synapse) {
    return add_connection_from_generator(generator, synapse_or_none(target_synapse), target_synapse.value_or(0));
}

namespace {
void check_gid(std::int64_t gid, const char* what) {
    if (gid < 0 || gid > max_gid) {
        throw model_error(std::string(what) + ": gid must be in [0, " + std::to_string(max_gid) + "], got " +
                          std::to_string(gid));
    }
}
} // namespace

std::size_t model::add_connection_from_gid(std::int64_t gid, std::optional<std::size_t> target_synapse) {
    check_gid(gid, "gid_connect");
    connection c;
    c.kind = source_kind::gid;
    c.gid = gid;
    return append_connection(c, synapse_or_none(target_synapse), target_synapse.value_or(0));
}

void model::set_output_gid(std::int64_t gid, std::size_t connection) {
    check_gid(gid, "cell");
    check_index(connection, connections_.size(), "NetCon");
    if (connections_[connection].kind == source_kind::gid) {
        throw model_error("cell(" + std::to_string(gid) + ", NetCon " + std::to_string(connection) +
                          "): that NetCon comes from gid " + std::to_string(connections_[connection].gid) +
                          "; a cell's output must be a NetCon from a location on this process or from a NetStim");
    }
    for (const gid_output& out: gid_outputs_) {
        if (out.gid == gid) {
            throw model_error("gid " + std::to_string(gid) + " already has an output (NetCon " +
                              std::to_string(out.connection) + "); each gid has one");
        }
        if (out.connection == connection) {
            throw model_error("NetCon " + std::to_string(connection) + " is already the output of gid " +
                              std::to_string(out.gid) + "; a NetCon is the output of one gid");
        }
    }
    gid_outputs_.push_back(gid_output{gid, connection});
    ++revision_;
}

bool model::distributed() const {
    if (!gid_outputs_.empty()) return true;
    for (const connection& c: connections_) {
        if (c.kind == source_kind::gid) return true;
    }
    return false;
}

// --- probes ---------------------------------------------------------------------------------------------------------

namespace {

struct variable_entry {
    variable var;
    const char* name;
    const char* mechanism; // what must be inserted at the location ("" for v, a point process's own)
};

// NEURON's names of the range variables a location has, and the point processes' variables.
constexpr variable_entry range_variables[] = {
    {variable::v, "v", ""},          {variable::ina, "ina", "hh"},      {variable::ik, "ik", "hh"},
    {variable::ena, "ena", "hh"},    {variable::ek, "ek", "hh"},        {variable::hh_m, "m_hh", "hh"},
    {variable::hh_h, "h_hh", "hh"},  {variable::hh_n, "n_hh", "hh"},    {variable::hh_gna, "gna_hh", "hh"},
    {variable::hh_gk, "gk_hh", "hh"}, {variable::hh_il, "il_hh", "hh"}, {variable::pas_i, "i_pas", "pas"},
};
constexpr const char* range_variable_names = "v, ina, ik, ena, ek, m_hh, h_hh, n_hh, gna_hh, gk_hh, il_hh, i_pas";

} // namespace

bool is_current(variable var) {
    switch (var) {
    case variable::ina:
    case variable::ik:
    case variable::hh_gna:
    case variable::hh_gk:
    case variable::hh_il:
    case variable::pas_i:
    case variable::iclamp_i:
    case variable::expsyn_i: return true;
    default: return false;
    }
}

std::string variable_name(variable var) {
    if (var == variable::iclamp_i || var == variable::expsyn_i) return "i";
    if (var == variable::expsyn_g) return "g";
    for (const variable_entry& entry: range_variables) {
        if (entry.var == var) return entry.name;
    }
    throw internal_error("variable_name: a variable without a name");
}

std::size_t model::append_probe(probe p) {
    const std::string what = "record " + variable_name(p.var) + " at " + describe(p.where);
    require_non_negative(what, "interval", p.interval, "ms");
    probes_.push_back(p);
    ++revision_;
    return probes_.size() - 1;
}

std::size_t model::add_voltage_probe(location where) { return add_probe(where, "v", 0.0); }

std::size_t model::add_probe(location where, const std::string& name, double interval) {
    check_location(where);
    for (const variable_entry& entry: range_variables) {
        if (name != entry.name) continue;
        const std::string mechanism = entry.mechanism;
        if (!mechanism.empty()) require_membrane(describe(where), where.x, mechanism);
        if (!mechanism.empty() && !has_mechanism(where.section, mechanism)) {
            throw model_error("record " + name + " at " + describe(where) + ": mechanism '" + mechanism +
                              "' is not inserted in section '" + sections_[where.section].name + "'");
        }
        return append_probe(probe{entry.var, where, 0, interval});
    }
    throw model_error("record at " + describe(where) + ": unknown variable '" + name + "' (known: " +
                      range_variable_names + ")");
}

std::size_t model::add_current_clamp_probe(std::size_t clamp, const std::string& name, double interval) {
    check_index(clamp, current_clamps_.size(), "IClamp");
    if (name != "i") {
        throw model_error("record: IClamp at " + describe(current_clamps_[clamp].where) + " has no variable '" +
                          name + "' (known: i)");
    }
    return append_probe(probe{variable::iclamp_i, current_clamps_[clamp].where, clamp, interval});
}

std::size_t model::add_exp_synapse_probe(std::size_t synapse, const std::string& name, double interval) {
    check_index(synapse, exp_synapses_.size(), "ExpSyn");
    if (name != "g" && name != "i") {
        throw model_error("record: ExpSyn at " + describe(exp_synapses_[synapse].where) + " has no variable '" +
                          name + "' (known: g, i)");
    }
    const variable var = name == "g" ? variable::expsyn_g : variable::expsyn_i;
    return append_probe(probe{var, exp_synapses_[synapse].where, synapse, interval});
}

namespace {

double* current_clamp_field(current_clamp& c, const std::string& parameter, const std::string& what) {
    if (parameter == "delay" || parameter == "del") return &c.delay;
    if (parameter == "dur") return &c.duration;
    if (parameter == "amp") return &c.amplitude;
    unknown_parameter(what, parameter, "delay, dur, amp");
}

double* exp_synapse_field(exp_synapse& s, const std::string& parameter, const std::string& what) {
    if (parameter == "tau") return &s.tau;
    if (parameter == "e") return &s.reversal;
    unknown_parameter(what, parameter, "tau, e");
}

double* spike_generator_field(spike_generator& g, const std::string& parameter, const std::string& what) {
    if (parameter == "start") return &g.start;
    if (parameter == "number") return &g.number;
    if (parameter == "interval") return &g.interval;
    unknown_parameter(what, parameter, "start, number, interval");
}

double* connection_field(connection& c, const std::string& parameter, const std::string& what) {
    if (parameter == "threshold") return &c.threshold;
    if (parameter == "delay") return &c.delay;
    if (parameter == "weight") return &c.weight;
    unknown_parameter(what, parameter, "threshold, delay, weight");
}

} // namespace

void model::set_current_clamp_parameter(std::size_t id, const std::string& parameter, double value) {
    check_index(id, current_clamps_.size(), "IClamp");
    const std::string what = "IClamp at " + describe(current_clamps_[id].where);
    double* field = current_clamp_field(current_clamps_[id], parameter, what);
    if (field == &current_clamps_[id].duration) require_non_negative(what, parameter, value, "ms");
    else require_finite(what, parameter, value, field == &current_clamps_[id].amplitude ? "nA" : "ms");
    *field = value;
    ++revision_;
}

double model::current_clamp_parameter(std::size_t id, const std::string& parameter) const {
    check_index(id, current_clamps_.size(), "IClamp");
    current_clamp copy = current_clamps_[id];
    return *current_clamp_field(copy, parameter, "IClamp at " + describe(copy.where));
}

void model::set_exp_synapse_parameter(std::size_t id, const std::string& parameter, double value) {
    check_index(id, exp_synapses_.size(), "ExpSyn");
    const std::string what = "ExpSyn at " + describe(exp_synapses_[id].where);
    double* field = exp_synapse_field(exp_synapses_[id], parameter, what);
    if (field == &exp_synapses_[id].tau) require_positive(what, parameter, value, "ms");
    else require_finite(what, parameter, value, "mV");
    *field = value;
    ++revision_;
}

double model::exp_synapse_parameter(std::size_t id, const std::string& parameter) const {
    check_index(id, exp_synapses_.size(), "ExpSyn");
    exp_synapse copy = exp_synapses_[id];
    return *exp_synapse_field(copy, parameter, "ExpSyn at " + describe(copy.where));
}

void model::set_spike_generator_parameter(std::size_t id, const std::string& parameter, double value) {
    check_index(id, spike_generators_.size(), "NetStim");
    const std::string what = "NetStim " + std::to_string(id);
    spike_generator& g = spike_generators_[id];
    double* field = spike_generator_field(g, parameter, what);
    if (field == &g.interval) require_positive(what, parameter, value, "ms");
    else if (field == &g.number) require_non_negative(what, parameter, value, "events");
    else require_finite(what, parameter, value, "ms");
    *field = value;
    ++revision_;
}

double model::spike_generator_parameter(std::size_t id, const std::string& parameter) const {
    check_index(id, spike_generators_.size(), "NetStim");
    spike_generator copy = spike_generators_[id];
    return *spike_generator_field(copy, parameter, "NetStim " + std::to_string(id));
}

void model::set_connection_parameter(std::size_t id, const std::string& parameter, double value) {
    check_index(id, connections_.size(), "NetCon");
    const std::string what = "NetCon " + std::to_string(id);
    connection& c = connections_[id];
    double* field = connection_field(c, parameter, what);
    if (field == &c.delay) require_non_negative(what, parameter, value, "ms");
    else require_finite(what, parameter, value, field == &c.weight ? "uS" : "mV");
    *field = value;
    ++revision_;
}

double model::connection_parameter(std::size_t id, const std::string& parameter) const {
    check_index(id, connections_.size(), "NetCon");
    connection copy = connections_[id];
    return *connection_field(copy, parameter, "NetCon " + std::to_string(id));
}

} // namespace cablesim
