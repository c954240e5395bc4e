// The methods every engine binds alike (Simulation and CoreNeuronSimulation), so cablesim.Model drives either.
#pragma once

#include <cablesim/model.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace cablesim_bindings {

namespace py = pybind11;

inline py::array_t<double> to_array(const std::vector<double>& values) {
    return py::array_t<double>(static_cast<py::ssize_t>(values.size()), values.data());
}

// Runs without the GIL, looking for signals (Ctrl-C) every 50 ms: Python's handler only sets a flag, which
// nothing would look at until the whole run is over. A handler that raises (KeyboardInterrupt) stops the run.
template <typename Engine, bool continuing>
void run_interruptibly(Engine& engine, double tstop) {
    using clock = std::chrono::steady_clock;
    auto next_look = clock::now() + std::chrono::milliseconds(50);
    std::optional<py::error_already_set> raised;
    {
        py::gil_scoped_release release;
        const auto run = continuing ? &Engine::continuerun : &Engine::run;
        (engine.*run)(tstop, [&] {
            if (clock::now() < next_look) return true;
            next_look = clock::now() + std::chrono::milliseconds(50);
            py::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() == 0) return true;
            raised.emplace(); // takes the handler's exception
            return false;
        });
    }
    if (raised) throw std::move(*raised);
}

// Engine: anything with simulation's read-out interface (time, dt, layout, voltage_at, traces, spikes).
template <typename Engine>
void bind_engine_methods(py::class_<Engine>& cls) {
    using namespace pybind11::literals;
    cls.def("finitialize", &Engine::finitialize, "v_init"_a = -65.0)
        .def("run", &run_interruptibly<Engine, false>, "tstop"_a,
             "Advance to tstop [ms] as NEURON's pc.psolve counts steps; Ctrl-C stops it after a whole step "
             "(KeyboardInterrupt).")
        .def("continuerun", &run_interruptibly<Engine, true>, "tstop"_a,
             "Advance to tstop [ms] as NEURON's continuerun (stdrun.hoc) decides when to stop; Ctrl-C as run().")
        .def("update_parameters", &Engine::update_parameters, "model"_a,
             "Take the model's parameters, keeping the state; ModelError when its structure changed.")
        .def_property_readonly("t", &Engine::time)
        .def_property_readonly("dt", &Engine::dt)
        .def_property_readonly("node_count", [](const Engine& s) { return s.layout().size(); })
        .def_property_readonly("tree_count", [](const Engine& s) { return s.layout().tree_count(); })
        .def("voltage_at", [](const Engine& s, std::size_t sec, double x) {
                return s.voltage_at(cablesim::location{sec, x});
            }, "section"_a, "x"_a)
        .def("time_trace", [](const Engine& s) { return to_array(s.time_trace()); })
        .def("trace", [](const Engine& s, std::size_t probe) { return to_array(s.trace(probe)); }, "probe"_a,
             "A probe's values (NumPy copy).")
        .def("trace_times", [](const Engine& s, std::size_t probe) { return to_array(s.trace_times(probe)); },
             "probe"_a, "A probe's sample times [ms]: the time trace, or its own for a probe with an interval.")
        .def_property_readonly("probe_count", &Engine::probe_count)
        .def("spikes", [](const Engine& s) {
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
        .def("source_of_connection", &Engine::source_of_connection, "connection"_a);
}

} // namespace cablesim_bindings
