// Binds the Hines tree solver on its own, so that tests can compare it with a dense solve.
#include <cablesim/errors.hpp>
#include <cablesim/hines.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

using int_array = py::array_t<int, py::array::c_style | py::array::forcecast>;
using real_array = py::array_t<double, py::array::c_style | py::array::forcecast>;

py::array_t<double> solve_tree(int_array parent, real_array a, real_array b, real_array d, real_array rhs) {
    const auto n = parent.size();
    for (const auto* array: {&a, &b, &d, &rhs}) {
        if (array->ndim() != 1 || array->size() != n) {
            throw cablesim::model_error("solve_tree: parent, a, b, d and rhs must be 1-d arrays of one length (" +
                                        std::to_string(n) + ")");
        }
    }
    const int* p = parent.data();
    for (py::ssize_t i = 0; i < n; ++i) {
        if (p[i] >= i) {
            throw cablesim::model_error("solve_tree: parent[" + std::to_string(i) + "] = " + std::to_string(p[i]) +
                                        " must be -1 (a root) or a smaller index");
        }
    }
    py::array_t<double> diagonal(n, d.data());
    py::array_t<double> solution(n, rhs.data());
    cablesim::triang(0, static_cast<std::size_t>(n), p, a.data(), b.data(), diagonal.mutable_data(),
                     solution.mutable_data());
    cablesim::bksub(0, static_cast<std::size_t>(n), p, b.data(), diagonal.data(), solution.mutable_data());
    return solution;
}

} // namespace

void register_solver(py::module_& m) {
    m.def("solve_tree", &solve_tree, "parent"_a, "a"_a, "b"_a, "d"_a, "rhs"_a,
          "Solve the tree matrix (NEURON's triang + bksub): row i has d[i] on the diagonal and b[i] in column "
          "parent[i]; row parent[i] has a[i] in column i. Returns the solution.");
}
