// Binds what this build contains (build_info) and, when compiled in, the coreneuron engine with the same
// methods as Simulation, so that cablesim.Model can use either.
#include <cablesim/build_info.hpp>
#include <cablesim/errors.hpp>
#ifdef CABLESIM_HAVE_CORENEURON
#include <cablesim/coreneuron.hpp>
#endif

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

#ifdef CABLESIM_HAVE_CORENEURON
namespace {

py::array_t<double> copy_to_array(const std::vector<double>& values) {
    return py::array_t<double>(static_cast<py::ssize_t>(values.size()), values.data());
}

void register_coreneuron(py::module_& m) {
    using engine = cablesim::coreneuron::simulation;
    m.def("coreneuron_default_threads", &cablesim::coreneuron::default_threads,
          "The threads the coreneuron engine uses when none are given: OMP_NUM_THREADS, else one per core.");
    py::class_<engine>(m, "CoreNeuronSimulation",
                       "The coreneuron engine: Simulation's method with cells interleaved for speed, on OpenMP threads.")
        .def(py::init([](const cablesim::model& model, double dt, double celsius, int secondorder, bool use_rate_table,
                         std::optional<int> threads) {
                 return std::make_unique<engine>(
                     model, cablesim::simulation_options{dt, celsius, secondorder, use_rate_table},
                     threads ? *threads : cablesim::coreneuron::default_threads());
             }),
             "model"_a, "dt"_a = 0.025, "celsius"_a = 6.3, "secondorder"_a = 0, "use_rate_table"_a = true,
             "threads"_a = py::none(),
             "As Simulation; threads >= 1 (None: coreneuron_default_threads()).")
        .def("finitialize", &engine::finitialize, "v_init"_a = -65.0)
        .def("fadvance", &engine::fadvance, py::call_guard<py::gil_scoped_release>())
        .def("run", &engine::run, "tstop"_a, py::call_guard<py::gil_scoped_release>(),
             "Advance until t reaches tstop [ms].")
        .def_property_readonly("t", &engine::time)
        .def_property_readonly("dt", &engine::dt)
        .def_property_readonly("threads", &engine::threads)
        .def_property_readonly("group_count", &engine::group_count)
        .def_property_readonly("node_count", [](const engine& s) { return s.layout().size(); })
        .def_property_readonly("tree_count", [](const engine& s) { return s.layout().tree_count(); })
        .def("voltage_at", [](const engine& s, std::size_t sec, double x) {
                return s.voltage_at(cablesim::location{sec, x});
            }, "section"_a, "x"_a)
        .def("time_trace", [](const engine& s) { return copy_to_array(s.time_trace()); })
        .def("voltage_trace", [](const engine& s, std::size_t probe) { return copy_to_array(s.voltage_trace(probe)); },
             "probe"_a)
        .def("spikes", [](const engine& s) {
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
        .def("source_of_connection", &engine::source_of_connection, "connection"_a)
        .def("__repr__", [](const engine& s) {
            return "<cablesim.CoreNeuronSimulation dt=" + cablesim::format_number(s.dt()) + " ms t=" +
                   cablesim::format_number(s.time()) + " ms nodes=" + std::to_string(s.layout().size()) +
                   " threads=" + std::to_string(s.threads()) + " groups=" + std::to_string(s.group_count()) + ">";
        });
}

} // namespace
#endif

void register_engines(py::module_& m) {
    m.def("build_info", [] {
            const cablesim::build_info info = cablesim::compiled_build_info();
            return py::dict("engines"_a = info.engines, "openmp"_a = info.openmp, "mpi"_a = info.mpi,
                            "march"_a = info.march);
        }, "What this build contains: engines (\"default\" first), openmp, mpi, march (\"\" when generic).");
#ifdef CABLESIM_HAVE_CORENEURON
    register_coreneuron(m);
#endif
}
