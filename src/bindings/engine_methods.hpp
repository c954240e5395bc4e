// The methods every engine binds alike (Simulation and CoreNeuronSimulation), so cablesim.Model drives either.
// Whatever steps runs without the GIL (other threads run their own Models meanwhile), each call holding its engine
// (usage.hpp).
#pragma once

#include <cablesim/model.hpp>

#include "arrays.hpp"
#include "usage.hpp"

#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace cablesim_bindings {

namespace py = pybind11;

// Whether this is the thread Python runs signal handlers in: the only one that has to look for Ctrl-C.
inline bool in_main_thread() {
    const py::module_ threading = py::module_::import("threading");
    return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

// Runs without the GIL. In the main thread, it looks for signals (Ctrl-C) every 50 ms: Python's handler only sets a
// flag, which nothing would look at until the whole run is over; a handler that raises (KeyboardInterrupt) stops the
// run. Other threads never take the GIL during a run (Python runs handlers in the main thread only).
template <typename Engine, bool continuing>
void run_interruptibly(Engine& engine, double tstop) {
    using clock = std::chrono::steady_clock;
    const auto run = continuing ? &Engine::continuerun : &Engine::run;
    if (!in_main_thread()) {
        const py::gil_scoped_release release;
        (engine.*run)(tstop, {});
        return;
    }
    auto next_look = clock::now() + std::chrono::milliseconds(50);
    std::optional<py::error_already_set> raised;
    {
        const py::gil_scoped_release release;
        (engine.*run)(tstop, [&] {
            if (clock::now() < next_look) return true;
            next_look = clock::now() + std::chrono::milliseconds(50);
            const py::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() == 0) return true;
            raised.emplace(); // takes the handler's exception
            return false;
        });
    }
    if (raised) throw std::move(*raised);
}

// Reads `m` and changes the engine, both held for the call.
template <typename Engine>
void update_parameters(Engine& engine, const cablesim::model& m) {
    const usage held(&m, access::read, bound_name<cablesim::model>);
    const py::gil_scoped_release release;
    engine.update_parameters(m);
}

template <typename Engine>
double voltage_at(const Engine& s, std::size_t sec, double x) { return s.voltage_at(cablesim::location{sec, x}); }

template <typename Engine>
py::object time_trace(const Engine& s) { return to_array(s.time_trace()); }

template <typename Engine>
py::object trace(const Engine& s, std::size_t probe) { return to_array(s.trace(probe)); }

template <typename Engine>
py::object trace_times(const Engine& s, std::size_t probe) { return to_array(s.trace_times(probe)); }

template <typename Engine>
py::tuple spikes(const Engine& s) {
    std::vector<double> times;
    std::vector<std::int64_t> sources;
    for (const cablesim::spike& spike: s.spikes()) {
        times.push_back(spike.time);
        sources.push_back(static_cast<std::int64_t>(spike.source));
    }
    return py::make_tuple(to_array(times), to_array(sources));
}

// Engine: anything with simulation's read-out interface (time, dt, layout, voltage_at, traces, spikes).
template <typename Engine>
void bind_engine_methods(py::class_<Engine>& cls) {
    using namespace pybind11::literals;
    const auto nogil = py::call_guard<py::gil_scoped_release>();
    cls.def("finitialize", guarded(&Engine::finitialize), "v_init"_a = -65.0, nogil)
        .def("fadvance", guarded(&Engine::fadvance), nogil)
        .def("run", guarded(&run_interruptibly<Engine, false>), "tstop"_a,
             "Advance to tstop [ms] as NEURON's pc.psolve counts steps; Ctrl-C stops it after a whole step "
             "(KeyboardInterrupt).")
        .def("continuerun", guarded(&run_interruptibly<Engine, true>), "tstop"_a,
             "Advance to tstop [ms] as NEURON's continuerun (stdrun.hoc) decides when to stop; Ctrl-C as run().")
        .def("update_parameters", guarded(&update_parameters<Engine>), "model"_a,
             "Take the model's parameters, keeping the state; ModelError when its structure changed.")
        .def_property_readonly("t", guarded(&Engine::time))
        .def_property_readonly("dt", guarded(&Engine::dt))
        .def("voltage_at", guarded(&voltage_at<Engine>), "section"_a, "x"_a)
        .def("time_trace", guarded(&time_trace<Engine>))
        .def("trace", guarded(&trace<Engine>), "probe"_a, "A probe's values (NumPy copy).")
        .def("trace_times", guarded(&trace_times<Engine>), "probe"_a,
             "A probe's sample times [ms]: the time trace, or its own for a probe with an interval.")
        .def("spikes", guarded(&spikes<Engine>),
             "(times [ms], source indices) of every spike, in the order they happened.")
        .def("source_of_connection", guarded(&Engine::source_of_connection), "connection"_a);
}

} // namespace cablesim_bindings
