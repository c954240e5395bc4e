// Binds cablesim::model: sections, mechanisms, point processes, connections and probes by index.
#include <cablesim/errors.hpp>
#include <cablesim/model.hpp>

#include "usage.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;
using cablesim::location;
using cablesim::model;

namespace cablesim_bindings {

namespace model_methods {

// What the bindings add to model's own methods: locations as (section, x), values as Python objects.
std::size_t add_section(model& self, const std::string& name, std::optional<double> length,
                        std::optional<double> diameter, std::optional<int> nseg, std::optional<double> ra,
                        std::optional<double> cm) {
    return self.add_section(name, cablesim::section_geometry{length, diameter, ra, cm, nseg});
}

double segment_area(const model& self, std::size_t id) { return cablesim::segment_area(self.section_at(id)); }

std::string section_name(const model& self, std::size_t id) { return self.section_at(id).name; }

py::dict section_geometry(const model& self, std::size_t id) {
    const auto& s = self.section_at(id);
    return py::dict("L"_a = s.length, "diam"_a = s.diameter, "nseg"_a = s.nseg, "Ra"_a = s.axial_resistivity,
                    "cm"_a = s.membrane_capacitance);
}

std::optional<py::tuple> section_parent(const model& self, std::size_t id) {
    const auto& p = self.section_at(id).parent;
    if (!p) return std::nullopt;
    return py::make_tuple(p->section, p->x);
}

void connect(model& self, std::size_t child, std::size_t parent, double x) { self.connect(child, location{parent, x}); }

void set_segment_parameter(model& self, std::size_t sec, double x, const std::string& mechanism,
                           const std::string& parameter, double value) {
    self.set_segment_parameter(location{sec, x}, mechanism, parameter, value);
}

double segment_parameter(const model& self, std::size_t sec, double x, const std::string& mechanism,
                         const std::string& parameter) {
    return self.segment_parameter(location{sec, x}, mechanism, parameter);
}

std::size_t add_current_clamp(model& self, std::size_t sec, double x) {
    return self.add_current_clamp(location{sec, x});
}

std::size_t add_exp_synapse(model& self, std::size_t sec, double x) { return self.add_exp_synapse(location{sec, x}); }

std::size_t add_connection(model& self, std::optional<std::size_t> generator, std::size_t sec, double x,
                           const std::string& target_kind, std::size_t target) {
    const cablesim::target_kind kind = target_kind == "ExpSyn"    ? cablesim::target_kind::exp_synapse
                                       : target_kind == "NetStim" ? cablesim::target_kind::spike_generator
                                                                  : cablesim::target_kind::none;
    if (generator) return self.add_connection_from_generator(*generator, kind, target);
    return self.add_connection_from_voltage(location{sec, x}, kind, target);
}

std::size_t add_voltage_probe(model& self, std::size_t sec, double x) {
    return self.add_voltage_probe(location{sec, x});
}

std::size_t add_probe(model& self, std::size_t sec, double x, const std::string& variable, double interval) {
    return self.add_probe(location{sec, x}, variable, interval);
}

std::vector<double> probe_intervals(const model& self) {
    std::vector<double> intervals;
    for (const auto& p: self.probes()) intervals.push_back(p.interval);
    return intervals;
}

std::string repr(const model& self) {
    return "<cablesim._core.Model sections=" + std::to_string(self.section_count()) +
           " connections=" + std::to_string(self.connections().size()) + ">";
}

} // namespace model_methods

} // namespace cablesim_bindings

void register_model(py::module_& m) {
    using cablesim_bindings::guarded;
    using namespace cablesim_bindings::model_methods;
    py::class_<model>(m, "Model", "A model under construction: every setter validates its value at once.")
        .def(py::init<>())
        .def("add_section", guarded(&add_section), "name"_a, "L"_a = py::none(), "diam"_a = py::none(),
             "nseg"_a = py::none(), "Ra"_a = py::none(), "cm"_a = py::none(),
             "Add a section (NEURON defaults for what is not given); return its index. Every value is checked "
             "before the section exists: on ModelError the model is unchanged.")
        .def_property_readonly("revision", guarded(&model::revision), "Counts every change to the model.")
        .def("segment_area", guarded(&segment_area), "id"_a,
             "The membrane area of one segment of the section [um2] (NEURON's seg.area()).")
        .def("section_name", guarded(&section_name), "id"_a)
        .def("section_geometry", guarded(&section_geometry), "id"_a)
        .def("section_parent", guarded(&section_parent), "id"_a, "(parent index, x) or None for a root section.")
        .def("set_length", guarded(&model::set_length), "id"_a, "L"_a)
        .def("set_diameter", guarded(&model::set_diameter), "id"_a, "diam"_a)
        .def("set_nseg", guarded(&model::set_nseg), "id"_a, "nseg"_a)
        .def("set_axial_resistivity", guarded(&model::set_axial_resistivity), "id"_a, "Ra"_a)
        .def("set_membrane_capacitance", guarded(&model::set_membrane_capacitance), "id"_a, "cm"_a)
        .def("connect", guarded(&connect), "child"_a, "parent"_a, "x"_a)
        .def("disconnect", guarded(&model::disconnect), "child"_a)
        .def("insert", guarded(&model::insert), "id"_a, "mechanism"_a)
        .def("uninsert", guarded(&model::uninsert), "id"_a, "mechanism"_a)
        .def("has_mechanism", guarded(&model::has_mechanism), "id"_a, "mechanism"_a)
        .def("set_mechanism_parameter", guarded(&model::set_mechanism_parameter), "id"_a, "mechanism"_a,
             "parameter"_a, "value"_a)
        .def("mechanism_parameter", guarded(&model::mechanism_parameter), "id"_a, "mechanism"_a, "parameter"_a)
        .def("set_segment_parameter", guarded(&set_segment_parameter), "section"_a, "x"_a, "mechanism"_a,
             "parameter"_a, "value"_a)
        .def("segment_parameter", guarded(&segment_parameter), "section"_a, "x"_a, "mechanism"_a, "parameter"_a)
        .def("add_current_clamp", guarded(&add_current_clamp), "section"_a, "x"_a)
        .def("add_exp_synapse", guarded(&add_exp_synapse), "section"_a, "x"_a)
        .def("add_spike_generator", guarded(&model::add_spike_generator))
        .def("add_connection", guarded(&add_connection), "generator"_a, "section"_a, "x"_a, "target_kind"_a,
             "target"_a,
             "A NetCon from a NetStim (generator) or else from the threshold at section(x), to an ExpSyn or a NetStim "
             "(target_kind \"ExpSyn\", \"NetStim\"; anything else: no target).")
        .def("add_connection_from_gid", guarded(&model::add_connection_from_gid), "gid"_a, "target"_a,
             "A NetCon from cell gid's output, on this process or another (ParallelContext.gid_connect).")
        .def("set_output_gid", guarded(&model::set_output_gid), "gid"_a, "connection"_a,
             "Make the connection's source cell gid's output (ParallelContext.cell).")
        .def_property_readonly("distributed", guarded(&model::distributed),
                               "Whether the model has gids: then it runs with spike exchanges.")
        .def("add_voltage_probe", guarded(&add_voltage_probe), "section"_a, "x"_a)
        .def("add_probe", guarded(&add_probe), "section"_a, "x"_a, "variable"_a, "interval"_a = 0.0,
             "Record a range variable (v, ina, ik, ena, ek, m_hh, h_hh, n_hh, gna_hh, gk_hh, il_hh, i_pas) every "
             "step (interval 0) or every interval ms.")
        .def("add_current_clamp_probe", guarded(&model::add_current_clamp_probe), "clamp"_a, "variable"_a,
             "interval"_a = 0.0)
        .def("add_exp_synapse_probe", guarded(&model::add_exp_synapse_probe), "synapse"_a, "variable"_a,
             "interval"_a = 0.0)
        .def("probe_intervals", guarded(&probe_intervals), "Each probe's interval [ms] (0: every step).")
        .def("set_current_clamp_parameter", guarded(&model::set_current_clamp_parameter), "id"_a, "parameter"_a,
             "value"_a)
        .def("current_clamp_parameter", guarded(&model::current_clamp_parameter), "id"_a, "parameter"_a)
        .def("set_exp_synapse_parameter", guarded(&model::set_exp_synapse_parameter), "id"_a, "parameter"_a,
             "value"_a)
        .def("exp_synapse_parameter", guarded(&model::exp_synapse_parameter), "id"_a, "parameter"_a)
        .def("set_spike_generator_parameter", guarded(&model::set_spike_generator_parameter), "id"_a, "parameter"_a,
             "value"_a)
        .def("spike_generator_parameter", guarded(&model::spike_generator_parameter), "id"_a, "parameter"_a)
        .def("set_connection_parameter", guarded(&model::set_connection_parameter), "id"_a, "parameter"_a, "value"_a)
        .def("connection_parameter", guarded(&model::connection_parameter), "id"_a, "parameter"_a)
        .def("__repr__", guarded(&repr));
}
