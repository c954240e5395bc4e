// PYBIND11_MODULE(_core): registers each area in a fixed order and translates cablesim's exceptions.
#include <cablesim/errors.hpp>

#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_model(py::module_& m);
void register_simulation(py::module_& m);
void register_solver(py::module_& m);
void register_engines(py::module_& m);
void register_parallel(py::module_& m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "cablesim's compiled core: the model, the discretisation and the fixed-step engine.";
    // ModelError is a ValueError: a bad model is bad input. InternalError is a bug in cablesim.
    py::register_exception<cablesim::model_error>(m, "ModelError", PyExc_ValueError);
    py::register_exception<cablesim::internal_error>(m, "InternalError", PyExc_RuntimeError);
    // MPIError: the MPI environment (library, shim, launcher) cannot be used; not the model's fault.
    py::register_exception<cablesim::mpi_error>(m, "MPIError", PyExc_RuntimeError);
    register_model(m);
    register_simulation(m);
    register_solver(m);
    register_engines(m);
    register_parallel(m);
}
