// Binds the Hines tree solver on its own, so that tests can compare it with a dense solve.
#include <cablesim/errors.hpp>
#include <cablesim/hines.hpp>

#include "arrays.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

py::object solve_tree(const std::vector<int>& parent, const std::vector<double>& a, const std::vector<double>& b,
                      std::vector<double> d, std::vector<double> rhs) {
    const std::size_t n = parent.size();
    for (const std::size_t size: {a.size(), b.size(), d.size(), rhs.size()}) {
        if (size != n) {
            throw cablesim::model_error("solve_tree: parent, a, b, d and rhs must be 1-d arrays of one length (" +
                                        std::to_string(n) + ")");
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (parent[i] >= static_cast<int>(i)) {
            throw cablesim::model_error("solve_tree: parent[" + std::to_string(i) + "] = " +
                                        std::to_string(parent[i]) + " must be -1 (a root) or a smaller index");
        }
    }
    cablesim::triang(0, n, parent.data(), a.data(), b.data(), d.data(), rhs.data());
    cablesim::bksub(0, n, parent.data(), b.data(), d.data(), rhs.data());
    return cablesim_bindings::to_array(rhs);
}

} // namespace

void register_solver(py::module_& m) {
    m.def("solve_tree", &solve_tree, "parent"_a, "a"_a, "b"_a, "d"_a, "rhs"_a,
          "Solve the tree matrix (NEURON's triang + bksub): row i has d[i] on the diagonal and b[i] in column "
          "parent[i]; row parent[i] has a[i] in column i. Returns the solution.");
}
