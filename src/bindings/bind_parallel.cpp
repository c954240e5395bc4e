// Binds distributed runs (cablesim/parallel.hpp) and the dynamic MPI loader (cablesim/mpi.hpp); the Python
// ParallelContext (cablesim/parallel.py) is built on these.
#include <cablesim/errors.hpp>
#include <cablesim/mpi.hpp>
#include <cablesim/parallel.hpp>
#include <cablesim/simulation.hpp>

#include "arrays.hpp"
#include "usage.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

py::dict session_info(const cablesim::mpi::session& s) {
    const cablesim::mpi::library_info& i = s.info();
    return py::dict("implementation"_a = i.implementation, "library"_a = i.library, "found_by"_a = i.found_by,
                    "version"_a = i.version, "shim"_a = i.shim, "initialized_here"_a = i.initialized_here);
}

} // namespace

void register_parallel(py::module_& m) {
    namespace mpi = cablesim::mpi;
    m.def("mpi_shims", [] { return mpi::shims_in(mpi::default_shim_dir()); },
          "The MPI shims installed with this module (libcablesim_mpi_<name>.so), by name.");
    m.def("mpi_launcher", []() -> std::optional<py::dict> {
            const auto found = mpi::detect_launcher();
            if (!found) return std::nullopt;
            return py::dict("name"_a = found->name, "implementation"_a = found->implementation,
                            "variable"_a = found->variable, "size"_a = found->size);
        }, "The MPI launcher the environment says started this process, or None.");

    py::class_<mpi::session, std::unique_ptr<mpi::session, py::nodelete>>(
        m, "MPISession", "This process's MPI, loaded at run time (one per process).")
        .def_static("open",
                    [](const std::string& shim_dir, const std::vector<std::string>& library_dirs) {
                        return &mpi::session::open(shim_dir, library_dirs);
                    },
                    "shim_dir"_a = "", "library_dirs"_a = std::vector<std::string>{},
                    py::return_value_policy::reference,
                    "Load and initialise MPI (once; later calls return the same session), probing library_dirs "
                    "before the system's folders. Raises MPIError.")
        .def_static("current", &mpi::session::current, py::return_value_policy::reference,
                    "The open session, or None.")
        .def_property_readonly("rank", &mpi::session::rank)
        .def_property_readonly("size", &mpi::session::size)
        .def_property_readonly("finalized", &mpi::session::finalized)
        .def("info", &session_info, "How MPI was found: implementation, library, found_by, version, shim.")
        .def("barrier", &mpi::session::barrier)
        .def("allgather", &mpi::session::allgather, "values"_a,
             "Every rank's list of floats, concatenated in rank order (collective).")
        .def("abort", &mpi::session::abort, "code"_a, "MPI_Abort on every rank.")
        .def("finalize", &mpi::session::finalize, "MPI_Finalize, if cablesim initialised MPI (once).")
        .def("__repr__", [](const mpi::session& s) {
            return "<cablesim.MPISession " + s.info().implementation + " rank " + std::to_string(s.rank()) + " of " +
                   std::to_string(s.size()) + ">";
        });

    m.def("run_distributed", [](cablesim::simulation& sim, double v_init, double tstop, bool use_mpi) {
            const cablesim_bindings::usage held(&sim, cablesim_bindings::access::write,
                                                cablesim_bindings::bound_name<cablesim::simulation>);
            cablesim::parallel::serial_communicator serial;
            cablesim::parallel::communicator* comm = &serial;
            if (use_mpi) {
                comm = mpi::session::current();
                if (!comm) throw cablesim::mpi_error("run_distributed: MPI is not open; create a ParallelContext first");
            }
            cablesim::parallel::distributed_result result;
            {
                py::gil_scoped_release release;
                result = cablesim::parallel::run_distributed(sim, v_init, tstop, *comm);
            }
            std::vector<double> times;
            std::vector<std::int64_t> gids;
            for (const cablesim::gid_spike& s: result.spikes) {
                times.push_back(s.time);
                gids.push_back(s.gid);
            }
            return py::dict("times"_a = cablesim_bindings::to_array(times), "gids"_a = cablesim_bindings::to_array(gids),
                            "min_delay"_a = result.min_delay,
                            "interval_steps"_a = result.interval_steps, "exchanges"_a = result.exchanges);
        }, "simulation"_a, "v_init"_a, "tstop"_a, "mpi"_a,
        "finitialize(v_init) and run to tstop [ms] exchanging gid spikes (over MPI when mpi, else within this "
        "process); returns every rank's gid spikes sorted by (time, gid).");
}
