// The core in several threads at once: independent models, each simulated in its own std::thread, give their serial
// results to the last bit (the core has no state shared between engines; docs/api.md, "Threads"). With the coreneuron
// engine, each thread also starts OpenMP teams of its own.
#include "check.hpp"

#include <cablesim/model.hpp>
#include <cablesim/simulation.hpp>
#ifdef CABLESIM_HAVE_CORENEURON
#include <cablesim/coreneuron.hpp>
#endif

#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace cablesim;

namespace {

// A ring of `cells` ball-and-stick cells with an extra clamp whose size depends on `index`, recording v twice.
model ring(int cells, int index) {
    model m;
    std::vector<section_id> somas;
    std::vector<std::size_t> synapses;
    for (int i = 0; i < cells; ++i) {
        const section_id soma = m.add_section("cell" + std::to_string(i) + ".soma");
        const section_id dend = m.add_section("cell" + std::to_string(i) + ".dend");
        m.set_length(soma, 12.6157);
        m.set_diameter(soma, 12.6157);
        m.set_length(dend, 200);
        m.set_diameter(dend, 1);
        m.set_nseg(dend, 41);
        m.insert(soma, "hh");
        m.insert(dend, "pas");
        m.set_mechanism_parameter(dend, "pas", "g", 0.001);
        m.connect(dend, location{soma, 1.0});
        synapses.push_back(m.add_exp_synapse(location{dend, 0.5}));
        somas.push_back(soma);
    }
    for (int i = 0; i < cells; ++i) {
        const std::size_t nc = m.add_connection_from_voltage(location{somas[i], 0.5}, synapses[(i + 1) % cells]);
        m.set_connection_parameter(nc, "delay", 5);
        m.set_connection_parameter(nc, "weight", 0.01);
    }
    const std::size_t clamp = m.add_current_clamp(location{somas[0], 0.5});
    m.set_current_clamp_parameter(clamp, "delay", 2);
    m.set_current_clamp_parameter(clamp, "dur", 1);
    m.set_current_clamp_parameter(clamp, "amp", 0.2 + 0.05 * index);
    m.add_voltage_probe(location{somas[0], 0.5});
    m.add_probe(location{somas[cells - 1], 0.5}, "m_hh", 0.1);
    return m;
}

struct result {
    std::vector<double> t, v, m, spike_times;
};

template <typename Engine, typename... Threads>
result simulate(const model& m, Threads... threads) {
    Engine engine(m, simulation_options{}, threads...);
    engine.finitialize(-65);
    engine.run(60);
    result r{engine.time_trace(), engine.trace(0), engine.trace(1), {}};
    for (const spike& s: engine.spikes()) r.spike_times.push_back(s.time);
    return r;
}

bool same(const result& a, const result& b) {
    return a.t == b.t && a.v == b.v && a.m == b.m && a.spike_times == b.spike_times; // exact
}

void check_threads_equal_serial(const char* engine, const std::function<result(const model&, int)>& run) {
    const int n = 4;
    std::vector<model> models;
    for (int k = 0; k < n; ++k) models.push_back(ring(3 + k, k));
    std::vector<result> serial, threaded(n);
    for (int k = 0; k < n; ++k) serial.push_back(run(models[k], k));
    std::vector<std::thread> workers;
    for (int k = 0; k < n; ++k) workers.emplace_back([&, k] { threaded[k] = run(models[k], k); });
    for (std::thread& w: workers) w.join();
    for (int k = 0; k < n; ++k) {
        CHECK(!serial[k].spike_times.empty());
        ::cablesim_test::report(same(threaded[k], serial[k]), "threaded run == serial run", __FILE__, __LINE__,
                                std::string(" (") + engine + ", model " + std::to_string(k) + ")");
    }
}

} // namespace

int main() {
    check_threads_equal_serial("default", [](const model& m, int) { return simulate<simulation>(m); });
#ifdef CABLESIM_HAVE_CORENEURON
    // 1 or 2 OpenMP threads per model: several OpenMP teams at once.
    check_threads_equal_serial("coreneuron", [](const model& m, int k) {
        return simulate<coreneuron::simulation>(m, 1 + k % 2);
    });
#endif
    return ::cablesim_test::finish("test_threads");
}
