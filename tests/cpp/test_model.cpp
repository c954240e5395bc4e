// Model validation and the discretisation (node layout, areas, couplings) of the core.
#include "check.hpp"

#include <cablesim/errors.hpp>
#include <cablesim/model.hpp>
#include <cablesim/morphology.hpp>

#include <functional>
#include <string>

using namespace cablesim;

namespace {

bool message_contains(const std::function<void()>& f, const std::string& text) {
    try {
        f();
    }
    catch (const model_error& e) {
        return std::string(e.what()).find(text) != std::string::npos;
    }
    return false;
}

} // namespace

int main() {
    model m;
    const section_id soma = m.add_section("soma");
    const section_id dend = m.add_section("dend");
    CHECK(message_contains([&] { m.set_diameter(soma, -1); }, "section 'soma': diam must be > 0 um, got -1"));
    CHECK(message_contains([&] { m.set_nseg(dend, 0); }, "section 'dend': nseg must be in [1, 32767], got 0"));
    CHECK(message_contains([&] { m.insert(soma, "nax"); }, "unknown mechanism 'nax'"));
    CHECK(message_contains([&] { m.add_current_clamp(location{soma, 1.5}); }, "soma(1.5): x must be in [0, 1]"));
    CHECK_THROWS(m.connect(soma, location{soma, 1.0}), model_error);

    m.set_length(soma, 20);
    m.set_diameter(soma, 20);
    m.set_length(dend, 100);
    m.set_diameter(dend, 2);
    m.set_nseg(dend, 4);
    m.set_axial_resistivity(dend, 100);
    m.connect(dend, location{soma, 1.0});
    CHECK(message_contains([&] { m.connect(soma, location{dend, 0.5}); }, "would make a loop in the tree"));

    const compartments c = discretize(m);
    // soma: root node + 1 segment + 1 end; dend: 4 segments + 1 end (its 0 end is soma's 1 end).
    CHECK(c.size() == 8);
    CHECK(c.tree_count() == 1);
    CHECK(c.parent[0] == -1);
    for (std::size_t i = 1; i < c.size(); ++i) CHECK(c.parent[i] >= 0 && static_cast<std::size_t>(c.parent[i]) < i);
    CHECK(c.zero_end[dend] == c.one_end[soma]);
    CHECK(c.node_at(location{dend, 0.5}) == c.first_segment[dend] + 2);
    CHECK(c.node_at(location{dend, 0.1}) == c.first_segment[dend]);
    CHECK(c.node_at(location{dend, 1.0}) == c.one_end[dend]);
    CHECK_NEAR(c.area[c.first_segment[dend]], 3.14159265358979 * 2 * 25, 1e-9); // pi d dx [um2]
    CHECK_NEAR(c.area[c.one_end[dend]], zero_area_node_area, 0.0);
    // Between two dend segments: R = 1e-2 Ra dx / (pi d^2 / 4) [MOhm]; b = -1e2 / (R area).
    const double r = 1e-2 * 100 * 25 / (3.14159265358979 * 4 / 4);
    const std::size_t second = c.first_segment[dend] + 1;
    CHECK_NEAR(c.b[second], -1e2 / (r * c.area[second]), 1e-9);
    CHECK_NEAR(c.a[second], -1e2 / (r * c.area[second - 1]), 1e-9);

    model forest;
    forest.add_section("a");
    forest.add_section("b");
    CHECK(discretize(forest).tree_count() == 2);
    // issue 18: a section refused at creation leaves nothing; parameters per segment follow NEURON's nseg rule.
    {
        model g;
        g.add_section("soma");
        section_geometry bad;
        bad.length = 50;
        bad.diameter = -2;
        CHECK(message_contains([&] { g.add_section("dend", bad); }, "section 'dend': diam must be > 0 um, got -2"));
        CHECK(g.section_count() == 1);
        section_geometry good;
        good.nseg = 3;
        const section_id d = g.add_section("dend", good);
        CHECK(d == 1 && g.section_at(d).nseg == 3);
        g.insert(d, "hh");
        for (int j = 0; j < 3; ++j) g.set_segment_parameter(location{d, (j + 0.5) / 3}, "hh", "gnabar", 0.1 * (j + 1));
        CHECK(g.mechanism_parameter(d, "hh", "gnabar") == 0.2); // a section reads the segment at x = 0.5
        CHECK(g.segment_parameter(location{d, 1e-9}, "hh", "gnabar") == 0.1);
        CHECK(message_contains([&] { g.segment_parameter(location{d, 1.0}, "hh", "gnabar"); },
                               "hh, the mechanism does not exist at dend(1): the 0 and 1 ends of a section have no"));
        CHECK(message_contains([&] { g.add_probe(location{d, 0.0}, "ina", 0); }, "does not exist at dend(0)"));
        g.set_nseg(d, 5); // new segments: the old segment holding each centre
        const double expected[] = {0.1, 0.1, 0.2, 0.30000000000000004, 0.30000000000000004};
        for (int j = 0; j < 5; ++j) CHECK(g.section_at(d).hh[static_cast<std::size_t>(j)].gnabar == expected[j]);
        CHECK(message_contains([&] { g.set_segment_parameter(location{d, 0.5}, "hh", "gkbar", -1); },
                               "dend(0.5) hh: gkbar must be >= 0 S/cm2, got -1"));
        CHECK(message_contains([&] { g.add_probe(location{0, 0.5}, "m_hh", 0); },
                               "record m_hh at soma(0.5): mechanism 'hh' is not inserted in section 'soma'"));
        CHECK(message_contains([&] { g.add_probe(location{d, 0.5}, "m", 0); }, "unknown variable 'm'"));
        CHECK(g.add_probe(location{d, 0.5}, "m_hh", 0.1) == 0 && g.probes()[0].var == variable::hh_m);
        const std::uint64_t before = g.revision();
        g.set_mechanism_parameter(d, "hh", "gl", 0.001);
        CHECK(g.revision() > before);
        CHECK(segment_area(g.section_at(d)) == pi * 500.0 * (100.0 / 5));
    }
    return cablesim_test::finish("test_model");
}
