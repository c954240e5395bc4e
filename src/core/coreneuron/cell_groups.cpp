#include "cell_groups.hpp"

#include <cablesim/errors.hpp>

#include <algorithm>

namespace cablesim::coreneuron {

namespace {

constexpr std::size_t cache_line = 8; // [doubles]: 64 bytes

// The trees of each group: contiguous, about total / group_count nodes each, none empty.
std::vector<std::size_t> split_trees(const compartments& c, std::size_t group_count) {
    const std::size_t trees = c.tree_count();
    group_count = std::max<std::size_t>(1, std::min(group_count, trees));
    const std::size_t total = c.size();
    std::vector<std::size_t> first{0};
    for (std::size_t g = 1; g < group_count; ++g) {
        const std::size_t target = total * g / group_count; // [nodes] before this group's first tree
        // At least one tree per group, and one left for each group after this one.
        std::size_t tree = first.back() + 1;
        while (tree < trees - (group_count - g) && c.tree_begin[tree] < target) ++tree;
        first.push_back(tree);
    }
    first.push_back(trees);
    return first;
}

} // namespace

interleaved_layout interleave(const compartments& c, std::size_t group_count) {
    const std::size_t n = c.size();
    interleaved_layout out;
    out.position.assign(n, 0);
    if (n == 0) return out;

    std::vector<std::size_t> depth(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const int p = c.parent[i];
        if (p < 0) continue;
        if (static_cast<std::size_t>(p) >= i) throw internal_error("interleave: a node precedes its parent");
        depth[i] = depth[static_cast<std::size_t>(p)] + 1;
    }

    const std::vector<std::size_t> first_tree = split_trees(c, group_count);
    std::size_t next = 0; // next free position
    for (std::size_t g = 0; g + 1 < first_tree.size(); ++g) {
        cell_group group;
        group.first_tree = first_tree[g];
        group.end_tree = first_tree[g + 1];
        const std::size_t node_begin = c.tree_begin[group.first_tree];
        const std::size_t node_end = c.tree_begin[group.end_tree];
        next = (next + cache_line - 1) / cache_line * cache_line;
        group.begin = next;

        // A counting sort by depth keeps the model's order within each depth.
        std::size_t levels = 0;
        for (std::size_t i = node_begin; i < node_end; ++i) levels = std::max(levels, depth[i] + 1);
        std::vector<std::size_t> level_start(levels + 1, 0);
        for (std::size_t i = node_begin; i < node_end; ++i) ++level_start[depth[i] + 1];
        for (std::size_t l = 0; l < levels; ++l) level_start[l + 1] += level_start[l];
        std::vector<std::size_t> fill(level_start.begin(), level_start.end() - 1);
        for (std::size_t i = node_begin; i < node_end; ++i) out.position[i] = group.begin + fill[depth[i]]++;
        group.end = group.begin + (node_end - node_begin);
        group.roots_end = group.begin + level_start[1];

        std::vector<std::size_t> by_position(node_end - node_begin);
        for (std::size_t i = node_begin; i < node_end; ++i) by_position[out.position[i] - group.begin] = i;
        for (std::size_t l = 1; l < levels; ++l) {
            for (std::size_t k = level_start[l]; k < level_start[l + 1]; ++k) {
                const std::size_t pos = group.begin + k;
                const std::size_t parent_pos = out.position[static_cast<std::size_t>(c.parent[by_position[k]])];
                const std::size_t shift = pos - parent_pos;
                const bool starts_level = k == level_start[l];
                if (starts_level || group.runs.back().shift != shift) group.runs.push_back(node_run{pos, pos + 1, shift});
                else group.runs.back().end = pos + 1;
            }
            group.level_end.push_back(group.runs.size());
        }
        next = group.end;
        out.groups.push_back(std::move(group));
    }
    out.node.assign(next, interleaved_layout::padding);
    for (std::size_t i = 0; i < n; ++i) out.node[out.position[i]] = i;
    return out;
}

} // namespace cablesim::coreneuron
