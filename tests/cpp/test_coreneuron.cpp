// The coreneuron engine against the default engine: the same spikes and traces, to the last bit, for 1, 2 and 3
// threads, backward Euler and Crank-Nicolson, on the ring network and on branched cells of different shapes.
#include "check.hpp"
#include "ring.hpp"

#include <cablesim/coreneuron.hpp>
#include <cablesim/errors.hpp>
#include <cablesim/simulation.hpp>

#include <cstdio>
#include <string>

using namespace cablesim;

namespace {

// The ring (ring.hpp), recording v at the first and the last soma.
model ring(int cells, int dend_nseg) {
    cablesim_test::ring_network r = cablesim_test::ring(cells, dend_nseg);
    r.model.add_voltage_probe(location{r.somas.front(), 0.5});
    r.model.add_voltage_probe(location{r.somas.back(), 0.5});
    return r.model;
}

// Cells of different shapes: branches at one node (children in one level, sharing a parent), several
// synapses and clamps on one node, a NetStim that fires repeatedly, and a cell without any mechanism.
model branched() {
    model m;
    for (int c = 0; c < 5; ++c) {
        const std::string name = "c" + std::to_string(c);
        const section_id soma = m.add_section(name + ".soma");
        m.set_length(soma, 20);
        m.set_diameter(soma, 20);
        if (c != 4) m.insert(soma, "hh");
        for (int k = 0; k < c; ++k) {
            const section_id dend = m.add_section(name + ".dend" + std::to_string(k));
            m.set_length(dend, 100 + 50 * k);
            m.set_diameter(dend, 1 + 0.5 * k);
            m.set_nseg(dend, 3 + 2 * k + c);
            m.insert(dend, "pas");
            if (k == 1) m.insert(dend, "hh");
            m.connect(dend, location{soma, k == 2 ? 0.0 : 1.0});
            const std::size_t s1 = m.add_exp_synapse(location{dend, 0.3});
            const std::size_t s2 = m.add_exp_synapse(location{dend, 0.3});
            m.set_exp_synapse_parameter(s2, "tau", 3);
            const std::size_t stim = m.add_spike_generator();
            m.set_spike_generator_parameter(stim, "start", 2 + k + c);
            m.set_spike_generator_parameter(stim, "interval", 7);
            for (std::size_t s: {s1, s2}) {
                const std::size_t nc = m.add_connection_from_generator(stim, s);
                m.set_connection_parameter(nc, "weight", 0.02);
            }
            m.add_voltage_probe(location{dend, 1.0});
        }
        for (double amp: {0.3, -0.1}) {
            const std::size_t clamp = m.add_current_clamp(location{soma, 0.5});
            m.set_current_clamp_parameter(clamp, "delay", 1 + c);
            m.set_current_clamp_parameter(clamp, "dur", 2);
            m.set_current_clamp_parameter(clamp, "amp", amp);
        }
        m.add_connection_from_voltage(location{soma, 0.5}, std::nullopt);
        m.add_voltage_probe(location{soma, 0.5});
    }
    return m;
}

// The ring with short delays (the threads exchange spikes every step) and events that arrive at one synapse at
// the same time from two NetCons of one soma and from a NetStim: their order must be the default engine's.
model tight_ring() {
    model m = ring(6, 7);
    const std::size_t echo = m.add_connection_from_voltage(location{2, 0.5}, 2); // cell 1's soma -> cell 1's ExpSyn
    m.set_connection_parameter(echo, "delay", 0);
    m.set_connection_parameter(echo, "weight", 0.003);
    for (std::size_t c = 0; c < 2; ++c) {
        const std::size_t twin = m.add_connection_from_voltage(location{0, 0.5}, 1);
        m.set_connection_parameter(twin, "delay", 5);
        m.set_connection_parameter(twin, "weight", 0.001 * (c + 1));
    }
    const std::size_t stim = m.add_spike_generator();
    m.set_spike_generator_parameter(stim, "start", 0);
    m.set_spike_generator_parameter(stim, "interval", 0.05);
    m.set_spike_generator_parameter(stim, "number", 400);
    const std::size_t drip = m.add_connection_from_generator(stim, 3);
    m.set_connection_parameter(drip, "delay", 0.0125);
    m.set_connection_parameter(drip, "weight", 1e-4);
    return m;
}

void compare(const model& m, int secondorder, int threads, double tstop, const char* what) {
    const simulation_options options{0.025, 6.3, secondorder, true};
    simulation reference(m, options);
    coreneuron::simulation engine(m, options, threads);
    reference.finitialize(-65);
    engine.finitialize(-65);
    reference.run(tstop);
    engine.run(tstop);
    std::printf("%s, secondorder %d, %d thread(s), %zu group(s): %zu spikes\n", what, secondorder, threads,
                engine.group_count(), reference.spikes().size());
    CHECK(reference.spikes().size() > 0);
    CHECK(engine.spikes().size() == reference.spikes().size());
    for (std::size_t k = 0; k < std::min(engine.spikes().size(), reference.spikes().size()); ++k) {
        CHECK(engine.spikes()[k].source == reference.spikes()[k].source);
        CHECK(engine.spikes()[k].time == reference.spikes()[k].time); // bit-identical, not only within 1e-9 ms
    }
    CHECK(engine.time_trace() == reference.time_trace());
    for (std::size_t p = 0; p < m.probes().size(); ++p) {
        CHECK(engine.trace(p) == reference.trace(p));
    }
    CHECK(engine.time() == reference.time());
}

} // namespace

int main() {
    const model r = ring(12, 21);
    const model b = branched();
    for (int secondorder: {0, 2}) {
        for (int threads: {1, 2, 3}) {
            compare(r, secondorder, threads, 100, "ring of 12");
            compare(b, secondorder, threads, 40, "branched cells");
        }
    }
    for (int threads: {1, 2, 3}) compare(tight_ring(), 0, threads, 80, "ring with short delays");
    // More threads than cells: some threads have nothing to do, the result is the same.
    compare(ring(2, 5), 0, 4, 60, "ring of 2");

    // fadvance step by step equals run.
    {
        coreneuron::simulation engine(r, simulation_options{}, 2);
        simulation reference(r, simulation_options{});
        engine.finitialize(-65);
        reference.finitialize(-65);
        for (int k = 0; k < 400; ++k) engine.fadvance();
        reference.run(10);
        CHECK(engine.trace(0) == reference.trace(0));
        CHECK(engine.voltage_at(location{0, 0.5}) == reference.voltage_at(location{0, 0.5}));
    }
    // A run continued in pieces equals one run.
    {
        coreneuron::simulation pieces(r, simulation_options{}, 2);
        simulation whole(r, simulation_options{});
        pieces.finitialize(-65);
        whole.finitialize(-65);
        pieces.run(23.3);
        pieces.fadvance();
        pieces.run(61);
        whole.run(61);
        CHECK(pieces.time_trace() == whole.time_trace());
        CHECK(pieces.trace(1) == whole.trace(1));
        CHECK(pieces.spikes().size() == whole.spikes().size());
    }
    // Probes of every kind, every step and every Dt, a NetStim started by spikes, and a run continued after
    // parameter changes (update_parameters): the same to the bit.
    for (int threads: {1, 3}) {
        model p = ring(6, 11);
        const section_id dend = 3;
        p.insert(dend, "hh");
        for (int j = 0; j < 11; ++j) p.set_segment_parameter(location{dend, (j + 0.5) / 11}, "hh", "gnabar", 0.01 * j);
        const std::size_t burst = p.add_spike_generator();
        p.set_spike_generator_parameter(burst, "start", -1);
        p.set_spike_generator_parameter(burst, "number", 3);
        p.set_spike_generator_parameter(burst, "interval", 2);
        const std::size_t trigger = p.add_connection_from_voltage(location{2, 0.5}, target_kind::spike_generator, burst);
        p.set_connection_parameter(trigger, "weight", 1);
        const std::size_t drive = p.add_connection_from_generator(burst, target_kind::exp_synapse, 4);
        p.set_connection_parameter(drive, "weight", 0.02);
        const std::size_t clamp = p.add_current_clamp(location{0, 0.5});
        p.set_current_clamp_parameter(clamp, "delay", 20);
        p.set_current_clamp_parameter(clamp, "dur", 1);
        for (double interval: {0.0, 0.1, 0.0375}) {
            for (const char* name: {"v", "m_hh", "h_hh", "n_hh", "gna_hh", "gk_hh", "il_hh", "ina", "ik", "ena"}) {
                p.add_probe(location{dend, 0.7}, name, interval);
            }
            p.add_probe(location{dend, 0.2}, "i_pas", interval);
            p.add_current_clamp_probe(clamp, "i", interval);
            p.add_exp_synapse_probe(4, "g", interval);
            p.add_exp_synapse_probe(4, "i", interval);
        }
        for (int secondorder: {0, 2}) {
            const simulation_options options{0.025, 6.3, secondorder, true};
            coreneuron::simulation engine(p, options, threads);
            simulation reference(p, options);
            engine.finitialize(-65);
            reference.finitialize(-65);
            engine.continuerun(30);
            reference.continuerun(30);
            model changed = p;
            changed.set_segment_parameter(location{dend, 0.5}, "hh", "gnabar", 0.2);
            changed.set_current_clamp_parameter(clamp, "amp", 0.4);
            changed.set_connection_parameter(drive, "weight", 0.05);
            engine.update_parameters(changed);
            reference.update_parameters(changed);
            engine.run(60.0125);
            reference.run(60.0125);
            CHECK(engine.time() == reference.time() && engine.time_trace() == reference.time_trace());
            for (std::size_t k = 0; k < p.probes().size(); ++k) {
                CHECK(engine.trace(k) == reference.trace(k));
                CHECK(engine.trace_times(k) == reference.trace_times(k));
            }
            CHECK(engine.spikes().size() == reference.spikes().size() && reference.spikes().size() > 3);
            changed.insert(0, "pas");
            CHECK_THROWS(engine.update_parameters(changed), model_error); // a structure change
            CHECK_THROWS(reference.update_parameters(changed), model_error);
        }
    }
    CHECK_THROWS(coreneuron::simulation(r, simulation_options{}, 0), model_error);
    CHECK_THROWS(coreneuron::simulation(r, simulation_options{0.0}, 1), model_error);
    {
        coreneuron::simulation engine(r, simulation_options{}, 1);
        CHECK_THROWS(engine.run(10), model_error); // before finitialize
        CHECK_THROWS(engine.source_of_connection(1000), model_error);
    }
    CHECK(coreneuron::default_threads() >= 1);
    return cablesim_test::finish("test_coreneuron");
}
