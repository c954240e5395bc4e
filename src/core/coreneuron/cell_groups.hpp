#pragma once
// The coreneuron engine's node layout (private to the engine).
//
// Cells (the trees of the model) are split into groups of whole cells, one group per thread, so that a thread
// only ever touches its own cells' nodes. Within a group the nodes are interleaved by depth, as CoreNEURON
// permutes them: first the roots of all its cells, then every node at depth 1, then depth 2, and so on, in the
// model's node order within a depth. Identical cells then have node k of each cell side by side, so the Hines
// solver works on a whole depth level at once (vectorised, many independent divisions in flight) instead of
// one cell's chain after another, which waits on the division of the node before at every step.
//
// Each level is cut into runs of nodes whose parents sit at one fixed distance before them (the run's shift),
// so the parent of position i is i - shift: a contiguous, gather-free stretch that the compiler vectorises.
// Within a run no two nodes share a parent, and a parent's children lie in increasing model order across the
// runs of their level: walking the runs forwards (or backwards) therefore adds the children's terms into each
// parent in the same order as the default engine does, which keeps the two engines' results identical.
#include <cablesim/morphology.hpp>

#include <cstddef>
#include <vector>

namespace cablesim::coreneuron {

struct node_run {
    std::size_t begin, end; // positions [begin, end), all at one depth
    std::size_t shift;      // parent of position i is i - shift
};

struct cell_group {
    std::size_t first_tree = 0, end_tree = 0; // the cells [first_tree, end_tree) of the model
    std::size_t begin = 0, end = 0;           // their node positions [begin, end)
    std::size_t roots_end = 0;                // [begin, roots_end) are the cells' roots (depth 0)
    std::vector<node_run> runs;               // depth 1 first, then depth 2, ...
    std::vector<std::size_t> level_end;       // level_end[L - 1]: end of depth L's runs in `runs`
};

struct interleaved_layout {
    static constexpr std::size_t padding = static_cast<std::size_t>(-1);
    std::vector<cell_group> groups;
    std::vector<std::size_t> position; // per model node: its position
    std::vector<std::size_t> node;     // per position: the model node, or `padding` between groups
};

// Splits the trees of `c` into `group_count` groups of contiguous trees with about equal node counts (fewer
// groups when there are fewer trees) and interleaves each group. Groups start on a cache line (8 doubles),
// so that threads writing neighbouring groups do not share one.
interleaved_layout interleave(const compartments& c, std::size_t group_count);

} // namespace cablesim::coreneuron
