#pragma once
// Sections -> compartments, following NEURON's discretisation: each section has nseg segment nodes at
// the segment centres plus a zero-area node at its 1 end; its 0 end is the node of the parent it is
// connected to (or, for a root section, a zero-area root node). Nodes are ordered tree by tree, parents
// before children, which is the order the Hines solver needs.
#include <cablesim/model.hpp>

#include <cstddef>
#include <vector>

namespace cablesim {

// NEURON gives zero-area nodes an "area" of 100 um2 so that the point-process factor 1e2/area is 1 there:
// the node equation of such a node is then in nA instead of mA/cm2.
constexpr double zero_area_node_area = 100.0; // [um2]

struct compartments {
    std::vector<int> parent;          // parent node, -1 for the root of a tree
    std::vector<double> area;         // [um2]; zero_area_node_area for end nodes
    std::vector<double> a;            // effect of this node on its parent's equation [mS/cm2] (negative)
    std::vector<double> b;            // effect of the parent on this node's equation [mS/cm2] (negative)
    std::vector<double> cm;           // [uF/cm2], 0 on zero-area nodes
    std::vector<std::size_t> tree_begin;   // first node of each tree (cell); one extra entry: node count
    std::vector<std::size_t> first_segment; // per section: node of segment 0
    std::vector<std::size_t> zero_end;      // per section: node at x = 0
    std::vector<std::size_t> one_end;       // per section: node at x = 1
    std::vector<int> nseg;                  // per section

    std::size_t size() const { return parent.size(); }
    std::size_t tree_count() const { return tree_begin.empty() ? 0 : tree_begin.size() - 1; }
    // The node that stands for sec(x): the x = 0 / x = 1 end nodes, else the segment containing x.
    std::size_t node_at(location where) const;
    // Tree index that owns a node.
    std::size_t tree_of(std::size_t node) const;
};

compartments discretize(const model& m);

} // namespace cablesim
