// Binds cablesim::simulation: initialise, advance, and read traces and spikes as NumPy arrays.
#include <cablesim/errors.hpp>
#include <cablesim/run_size.hpp>
#include <cablesim/simulation.hpp>

#include "engine_methods.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;


void register_simulation(py::module_& m) {
    using cablesim::simulation;
    using cablesim::simulation_options;
    py::class_<simulation> cls(m, "Simulation", "NEURON's fixed-step method on a snapshot of a Model.");
    cls.def(py::init([](const cablesim::model& model, double dt, double celsius, int secondorder,
                         bool use_rate_table) {
                 return simulation(model, simulation_options{dt, celsius, secondorder, use_rate_table});
             }),
             "model"_a, "dt"_a = 0.025, "celsius"_a = 6.3, "secondorder"_a = 0, "use_rate_table"_a = true,
             "Discretise the model; dt [ms], celsius [degC], secondorder 0 (backward Euler) or 2 (Crank-Nicolson).")
        .def("fadvance", &simulation::fadvance)
        .def("__repr__", [](const simulation& s) {
            return "<cablesim.Simulation dt=" + cablesim::format_number(s.dt()) + " ms t=" +
                   cablesim::format_number(s.time()) + " ms nodes=" + std::to_string(s.layout().size()) + ">";
        });
    cablesim_bindings::bind_engine_methods(cls);

    m.def("run_size", [](double tstop, double dt, const std::vector<double>& probe_intervals) {
            const cablesim::run_size size = cablesim::estimate_run_size(0.0, tstop, dt, probe_intervals, 1);
            const std::string refusal = cablesim::run_size_refusal(size, cablesim::physical_memory());
            return py::dict("steps"_a = size.steps, "bytes"_a = size.bytes, "summary"_a = cablesim::describe(size),
                            "refusal"_a = refusal.empty() ? py::object(py::none()) : py::str(refusal));
        }, "tstop"_a, "dt"_a, "probe_intervals"_a,
        "What a run from t = 0 to tstop [ms] recording t and probes with these intervals (0: every step) holds: steps, bytes, a summary, and "
        "the reason every engine will refuse it (None when it will not).");
}
