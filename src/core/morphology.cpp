#include <cablesim/errors.hpp>
#include <cablesim/morphology.hpp>

#include <algorithm>
#include <cmath>
#include <deque>

namespace cablesim {

std::size_t compartments::node_at(location where) const {
    const section_id s = where.section;
    if (where.x <= 0.0) return zero_end[s];
    if (where.x >= 1.0) return one_end[s];
    const int segment = std::min(static_cast<int>(where.x * nseg[s]), nseg[s] - 1);
    return first_segment[s] + static_cast<std::size_t>(segment);
}

std::size_t compartments::tree_of(std::size_t node) const {
    const auto it = std::upper_bound(tree_begin.begin(), tree_begin.end(), node);
    return static_cast<std::size_t>(it - tree_begin.begin()) - 1;
}

compartments discretize(const model& m) {
    const std::size_t nsec = m.section_count();
    compartments c;
    c.first_segment.assign(nsec, 0);
    c.zero_end.assign(nsec, 0);
    c.one_end.assign(nsec, 0);
    c.nseg.assign(nsec, 0);

    std::vector<std::vector<section_id>> children(nsec);
    std::vector<section_id> roots;
    for (section_id s = 0; s < nsec; ++s) {
        const section& sec = m.section_at(s);
        c.nseg[s] = sec.nseg;
        if (sec.parent) children[sec.parent->section].push_back(s);
        else roots.push_back(s);
    }

    // Resistance from each node to its parent [MOhm], filled alongside the layout.
    std::vector<double> resistance;
    auto add_node = [&](int parent, double area, double cm, double r) {
        c.parent.push_back(parent);
        c.area.push_back(area);
        c.cm.push_back(cm);
        resistance.push_back(r);
        return c.parent.size() - 1;
    };

    for (section_id root: roots) {
        c.tree_begin.push_back(c.parent.size());
        const std::size_t root_node = add_node(-1, zero_area_node_area, 0.0, 0.0);
        std::deque<std::pair<section_id, std::size_t>> pending{{root, root_node}}; // section, node of its 0 end
        while (!pending.empty()) {
            const auto [s, zero_node] = pending.front();
            pending.pop_front();
            const section& sec = m.section_at(s);
            const double dx = sec.length / sec.nseg;                                     // [um]
            const double area = segment_area(sec);                                       // [um2]
            // Half a segment of axial resistance: 1e-2 converts ohm cm * um / um2 to MOhm.
            const double half_segment_r = 1e-2 * sec.axial_resistivity * (dx / 2.0) /
                                          (pi * sec.diameter * sec.diameter / 4.0); // [MOhm]
            c.zero_end[s] = zero_node;
            std::size_t previous = zero_node;
            double previous_half_r = 0.0; // the 0 end is a point: no resistance on its side
            for (int j = 0; j < sec.nseg; ++j) {
                const std::size_t node = add_node(static_cast<int>(previous), area, sec.membrane_capacitance,
                                                  half_segment_r + previous_half_r);
                if (j == 0) c.first_segment[s] = node;
                previous = node;
                previous_half_r = half_segment_r;
            }
            c.one_end[s] = add_node(static_cast<int>(previous), zero_area_node_area, 0.0, previous_half_r);
            for (section_id child: children[s]) {
                // The child's 0 end is the parent's node at x; it exists now, so the child's nodes follow it.
                const location at = *m.section_at(child).parent;
                pending.emplace_back(child, c.node_at(at));
            }
        }
    }
    c.tree_begin.push_back(c.parent.size());

    if (c.parent.size() != static_cast<std::size_t>(std::count(c.parent.begin(), c.parent.end(), -1)) +
                               [&] {
                                   std::size_t n = 0;
                                   for (section_id s = 0; s < nsec; ++s) n += m.section_at(s).nseg + 1;
                                   return n;
                               }()) {
        // Sections unreachable from a root can only come from a loop, which model::connect refuses.
        throw internal_error("discretize: node count does not match the sections; the tree has a loop");
    }

    const std::size_t n = c.size();
    c.a.assign(n, 0.0);
    c.b.assign(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        if (c.parent[i] < 0) continue;
        // 1e2 converts uS / um2 to mS/cm2.
        const double conductance = 1.0 / resistance[i]; // [uS]
        c.b[i] = -1e2 * conductance / c.area[i];
        c.a[i] = -1e2 * conductance / c.area[static_cast<std::size_t>(c.parent[i])];
    }
    return c;
}

} // namespace cablesim
