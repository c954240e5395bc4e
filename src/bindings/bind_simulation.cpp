// Binds cablesim::simulation: initialise, advance, and read traces and spikes as NumPy arrays.
#include <cablesim/errors.hpp>
#include <cablesim/run_size.hpp>
#include <cablesim/simulation.hpp>

#include "engine_methods.hpp"
#include "usage.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

namespace cablesim_bindings {

namespace simulation_methods {

// Discretising a large model takes a while: without the GIL, holding the model as read.
cablesim::simulation make(const cablesim::model& model, double dt, double celsius, int secondorder,
                          bool use_rate_table) {
    const usage held(&model, access::read, bound_name<cablesim::model>);
    const py::gil_scoped_release release;
    return cablesim::simulation(model, cablesim::simulation_options{dt, celsius, secondorder, use_rate_table});
}

std::string repr(const cablesim::simulation& s) {
    return "<cablesim.Simulation dt=" + cablesim::format_number(s.dt()) + " ms t=" +
           cablesim::format_number(s.time()) + " ms nodes=" + std::to_string(s.layout().size()) + ">";
}

py::dict run_size(double tstop, double dt, const std::vector<double>& probe_intervals) {
    const cablesim::run_size size = cablesim::estimate_run_size(0.0, tstop, dt, probe_intervals, 1);
    const std::string refusal = cablesim::run_size_refusal(size, cablesim::physical_memory());
    return py::dict("steps"_a = size.steps, "bytes"_a = size.bytes, "summary"_a = cablesim::describe(size),
                    "refusal"_a = refusal.empty() ? py::object(py::none()) : py::str(refusal));
}

} // namespace simulation_methods

} // namespace cablesim_bindings

void register_simulation(py::module_& m) {
    using namespace cablesim_bindings::simulation_methods;
    py::class_<cablesim::simulation> cls(m, "Simulation", "NEURON's fixed-step method on a snapshot of a Model.");
    cls.def(py::init(&make), "model"_a, "dt"_a = 0.025, "celsius"_a = 6.3, "secondorder"_a = 0,
            "use_rate_table"_a = true,
            "Discretise the model; dt [ms], celsius [degC], secondorder 0 (backward Euler) or 2 (Crank-Nicolson).")
        .def("__repr__", cablesim_bindings::guarded(&repr));
    cablesim_bindings::bind_engine_methods(cls);

    m.def("run_size", &run_size, "tstop"_a, "dt"_a, "probe_intervals"_a,
          "What a run from t = 0 to tstop [ms] recording t and probes with these intervals (0: every step) holds: "
          "steps, bytes, a summary, and the reason every engine will refuse it (None when it will not).");
}
