// The core in several threads at once: independent models, each simulated in its own std::thread, give their serial
// results to the last bit (the core has no state shared between engines; docs/api.md, "Threads"). With the coreneuron
// engine, each thread also starts OpenMP teams of its own.
#include "check.hpp"
#include "ring.hpp"

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

// The ring (ring.hpp) with an extra clamp whose size depends on `index`, recording v and m_hh.
model ring(int cells, int index) {
    cablesim_test::ring_network r = cablesim_test::ring(cells, 41);
    model& m = r.model;
    const std::size_t clamp = m.add_current_clamp(location{r.somas[0], 0.5});
    m.set_current_clamp_parameter(clamp, "delay", 2);
    m.set_current_clamp_parameter(clamp, "dur", 1);
    m.set_current_clamp_parameter(clamp, "amp", 0.2 + 0.05 * index);
    m.add_voltage_probe(location{r.somas[0], 0.5});
    m.add_probe(location{r.somas[cells - 1], 0.5}, "m_hh", 0.1);
    return r.model;
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
