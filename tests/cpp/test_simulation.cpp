// The engine: NEURON 9.0.2's single-compartment HH spike and the passive cable, without Python.
#include "check.hpp"

#include <cablesim/errors.hpp>
#include <cablesim/simulation.hpp>

#include <algorithm>

using namespace cablesim;

int main() {
    {
        model m;
        const section_id soma = m.add_section("soma");
        m.set_length(soma, 18.8);
        m.set_diameter(soma, 18.8);
        m.set_axial_resistivity(soma, 123);
        m.insert(soma, "hh");
        const std::size_t clamp = m.add_current_clamp(location{soma, 0.5});
        m.set_current_clamp_parameter(clamp, "delay", 5);
        m.set_current_clamp_parameter(clamp, "dur", 1);
        m.set_current_clamp_parameter(clamp, "amp", 0.1);
        const std::size_t detector = m.add_connection_from_voltage(location{soma, 0.5}, std::nullopt);
        m.set_connection_parameter(detector, "threshold", 0);
        m.add_voltage_probe(location{soma, 0.5});

        simulation sim(m, simulation_options{});
        sim.finitialize(-65);
        sim.run(40);
        const auto& v = sim.trace(0);
        CHECK(v.size() == 1601);
        CHECK_NEAR(v[200], -64.949, 1e-3);
        CHECK_NEAR(*std::max_element(v.begin(), v.end()), 38.10, 1e-3);
        CHECK(sim.spikes().size() == 1);
        if (!sim.spikes().empty()) CHECK_NEAR(sim.spikes()[0].time, 7.625, 1e-9);
        CHECK_THROWS(simulation(m, simulation_options{0.0}), model_error);
    }
    {
        model m;
        const section_id cable = m.add_section("cable");
        m.set_length(cable, 1000);
        m.set_diameter(cable, 1);
        m.set_nseg(cable, 101);
        m.set_axial_resistivity(cable, 100);
        m.insert(cable, "pas");
        m.set_mechanism_parameter(cable, "pas", "g", 1e-4);
        m.set_mechanism_parameter(cable, "pas", "e", -65);
        const std::size_t clamp = m.add_current_clamp(location{cable, 0.0});
        m.set_current_clamp_parameter(clamp, "dur", 1e9);
        m.set_current_clamp_parameter(clamp, "amp", 0.01);
        const double xs[] = {0, 0.25, 0.5, 0.75, 1};
        const double expected[] = {-58.3959, -60.8892, -62.2914, -63.0161, -63.2446};
        for (double x: xs) m.add_voltage_probe(location{cable, x});
        simulation sim(m, simulation_options{});
        sim.finitialize(-65);
        sim.run(200);
        for (std::size_t k = 0; k < 5; ++k) CHECK_NEAR(sim.trace(k).back(), expected[k], 1e-3);
    }
    return cablesim_test::finish("test_simulation");
}
