// Binds cablesim::simulation: initialise, advance, and read traces and spikes as NumPy arrays.
#include <cablesim/errors.hpp>
#include <cablesim/simulation.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

py::array_t<double> to_array(const std::vector<double>& values) {
    return py::array_t<double>(static_cast<py::ssize_t>(values.size()), values.data());
}

} // namespace

void register_simulation(py::module_& m) {
    using cablesim::simulation;
    using cablesim::simulation_options;
    py::class_<simulation>(m, "Simulation", "NEURON's fixed-step method on a snapshot of a Model.")
        .def(py::init([](const cablesim::model& model, double dt, double celsius, int secondorder,
                         bool use_rate_table) {
                 return simulation(model, simulation_options{dt, celsius, secondorder, use_rate_table});
             }),
             "model"_a, "dt"_a = 0.025, "celsius"_a = 6.3, "secondorder"_a = 0, "use_rate_table"_a = true,
             "Discretise the model; dt [ms], celsius [degC], secondorder 0 (backward Euler) or 2 (Crank-Nicolson).")
        .def("finitialize", &simulation::finitialize, "v_init"_a = -65.0)
        .def("fadvance", &simulation::fadvance)
        .def("run", &simulation::run, "tstop"_a, py::call_guard<py::gil_scoped_release>(),
             "Advance until t reaches tstop [ms].")
        .def_property_readonly("t", &simulation::time)
        .def_property_readonly("dt", &simulation::dt)
        .def_property_readonly("node_count", [](const simulation& s) { return s.layout().size(); })
        .def_property_readonly("tree_count", [](const simulation& s) { return s.layout().tree_count(); })
        .def("voltage_at", [](const simulation& s, std::size_t sec, double x) {
                return s.voltage_at(cablesim::location{sec, x});
            }, "section"_a, "x"_a)
        .def("time_trace", [](const simulation& s) { return to_array(s.time_trace()); })
        .def("voltage_trace", [](const simulation& s, std::size_t probe) { return to_array(s.voltage_trace(probe)); },
             "probe"_a)
        .def("spikes", [](const simulation& s) {
                const auto& spikes = s.spikes();
                py::array_t<double> times(static_cast<py::ssize_t>(spikes.size()));
                py::array_t<std::int64_t> sources(static_cast<py::ssize_t>(spikes.size()));
                auto t = times.mutable_unchecked<1>();
                auto src = sources.mutable_unchecked<1>();
                for (std::size_t k = 0; k < spikes.size(); ++k) {
                    t(k) = spikes[k].time;
                    src(k) = static_cast<std::int64_t>(spikes[k].source);
                }
                return py::make_tuple(times, sources);
            }, "(times [ms], source indices) of every spike, in the order they happened.")
        .def("source_of_connection", &simulation::source_of_connection, "connection"_a)
        .def("__repr__", [](const simulation& s) {
            return "<cablesim.Simulation dt=" + cablesim::format_number(s.dt()) + " ms t=" +
                   cablesim::format_number(s.time()) + " ms nodes=" + std::to_string(s.layout().size()) + ">";
        });
}
