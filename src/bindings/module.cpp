// PYBIND11_MODULE(_core): registers each area in a fixed order and translates cablesim's exceptions.
#include <cablesim/errors.hpp>

#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_model(py::module_& m);
void register_simulation(py::module_& m);
void register_solver(py::module_& m);
void register_engines(py::module_& m);
void register_parallel(py::module_& m);

namespace {

void register_all(py::module_& m) {
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

} // namespace

// Free-threaded Python keeps the GIL off with this module imported: nothing here needs it (docs/api.md, "Threads":
// the module's state is guarded by its own locks, and one call at a time changes an object, see usage.hpp).
// pybind11 before 2.13 cannot say so; a free-threaded Python then turns the GIL on at import.
#if PYBIND11_VERSION_MAJOR > 2 || (PYBIND11_VERSION_MAJOR == 2 && PYBIND11_VERSION_MINOR >= 13)
PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) { register_all(m); }
#else
PYBIND11_MODULE(_core, m) { register_all(m); }
#endif
