// Binds what this build contains (build_info) and, when compiled in, the coreneuron engine with the same
// methods as Simulation, so that cablesim.Model can use either.
#include <cablesim/build_info.hpp>
#include <cablesim/errors.hpp>
#ifdef CABLESIM_HAVE_CORENEURON
#include <cablesim/coreneuron.hpp>

#include "engine_methods.hpp"
#include "usage.hpp"
#endif

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

#ifdef CABLESIM_HAVE_CORENEURON
namespace cablesim_bindings::coreneuron_methods {

using engine = cablesim::coreneuron::simulation;

// As Simulation's: the model held as read, the GIL released while the cells are interleaved.
std::unique_ptr<engine> make(const cablesim::model& model, double dt, double celsius, int secondorder,
                             bool use_rate_table, std::optional<int> threads) {
    const usage held(&model, access::read, bound_name<cablesim::model>);
    const py::gil_scoped_release release;
    return std::make_unique<engine>(model, cablesim::simulation_options{dt, celsius, secondorder, use_rate_table},
                                    threads ? *threads : cablesim::coreneuron::default_threads());
}

std::string repr(const engine& s) {
    return "<cablesim.CoreNeuronSimulation dt=" + cablesim::format_number(s.dt()) + " ms t=" +
           cablesim::format_number(s.time()) + " ms nodes=" + std::to_string(s.layout().size()) +
           " threads=" + std::to_string(s.threads()) + " groups=" + std::to_string(s.group_count()) + ">";
}

void register_coreneuron(py::module_& m) {
    py::class_<engine> cls(m, "CoreNeuronSimulation",
                           "The coreneuron engine: Simulation's method with cells interleaved for speed, on OpenMP threads.");
    cls.def(py::init(&make), "model"_a, "dt"_a = 0.025, "celsius"_a = 6.3, "secondorder"_a = 0,
            "use_rate_table"_a = true, "threads"_a = py::none(),
            "As Simulation; threads >= 1 (None: coreneuron_default_threads()).")
        .def_property_readonly("threads", guarded(&engine::threads))
        .def("__repr__", guarded(&repr));
    bind_engine_methods(cls);
}

} // namespace cablesim_bindings::coreneuron_methods
#endif

void register_engines(py::module_& m) {
    m.def("build_info", [] {
            const cablesim::build_info info = cablesim::compiled_build_info();
            return py::dict("engines"_a = info.engines, "openmp"_a = info.openmp, "mpi"_a = info.mpi,
                            "march"_a = info.march);
        }, "What this build contains: engines (\"default\" first), openmp, mpi, march (\"\" when generic).");
#ifdef CABLESIM_HAVE_CORENEURON
    cablesim_bindings::coreneuron_methods::register_coreneuron(m);
#endif
}
