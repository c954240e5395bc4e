// NumPy arrays for the bindings' results, made by numpy.frombuffer over a copy of the values: the bindings then need
// no pybind11/numpy.h, whose parsing and templates are 3% of each Python's compile (benchmarks/README.md).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

namespace cablesim_bindings {

namespace py = pybind11;

template <typename T>
py::object to_array(const std::vector<T>& values, const char* dtype) {
    const py::bytearray bytes(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
    return py::module_::import("numpy").attr("frombuffer")(bytes, dtype);
}

inline py::object to_array(const std::vector<double>& values) { return to_array(values, "float64"); }
inline py::object to_array(const std::vector<std::int64_t>& values) { return to_array(values, "int64"); }

} // namespace cablesim_bindings
