#pragma once
// NEURON's ring tutorial for the C++ tests: ball-and-stick cells, soma(0.5) -> the next cell's ExpSyn, a NetStim
// kicks cell 0. Cell i's soma is section 2i, its dend 2i + 1, its synapse i. The caller adds its own probes (and
// clamps) to the model.
#include <cablesim/model.hpp>

#include <string>
#include <vector>

namespace cablesim_test {

struct ring_network {
    cablesim::model model;
    std::vector<cablesim::section_id> somas;
    std::vector<std::size_t> synapses;
};

inline ring_network ring(int cells, int dend_nseg) {
    using cablesim::location;
    using cablesim::section_id;
    ring_network r;
    cablesim::model& m = r.model;
    for (int i = 0; i < cells; ++i) {
        const section_id soma = m.add_section("cell" + std::to_string(i) + ".soma");
        const section_id dend = m.add_section("cell" + std::to_string(i) + ".dend");
        m.set_length(soma, 12.6157);
        m.set_diameter(soma, 12.6157);
        m.set_length(dend, 200);
        m.set_diameter(dend, 1);
        m.set_nseg(dend, dend_nseg);
        for (section_id s: {soma, dend}) m.set_axial_resistivity(s, 100);
        m.insert(soma, "hh");
        m.insert(dend, "pas");
        m.set_mechanism_parameter(dend, "pas", "g", 0.001);
        m.set_mechanism_parameter(dend, "pas", "e", -65);
        m.connect(dend, location{soma, 1.0});
        const std::size_t syn = m.add_exp_synapse(location{dend, 0.5});
        m.set_exp_synapse_parameter(syn, "tau", 2);
        r.somas.push_back(soma);
        r.synapses.push_back(syn);
    }
    for (int i = 0; i < cells; ++i) {
        const std::size_t nc = m.add_connection_from_voltage(location{r.somas[i], 0.5}, r.synapses[(i + 1) % cells]);
        m.set_connection_parameter(nc, "delay", 5);
        m.set_connection_parameter(nc, "weight", 0.01);
    }
    const std::size_t stim = m.add_spike_generator();
    m.set_spike_generator_parameter(stim, "start", 9);
    m.set_spike_generator_parameter(stim, "number", 1);
    const std::size_t kick = m.add_connection_from_generator(stim, r.synapses[0]);
    m.set_connection_parameter(kick, "weight", 0.04);
    return r;
}

} // namespace cablesim_test
