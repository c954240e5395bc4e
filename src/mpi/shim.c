/* One MPI shim: the table of cablesim_mpi_shim.h, compiled against one implementation's mpi.h (see
 * src/mpi/CMakeLists.txt). Each function only forwards to MPI; the choice of shim, and every message to the
 * user, belong to the core's loader (src/core/parallel/mpi.cpp). */
#define OMPI_SKIP_MPICXX 1  /* C only: no C++ bindings pulled in by mpi.h */
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cablesim/mpi_shim.h>

#include <stddef.h>

#ifndef CABLESIM_MPI_SHIM_NAME
#error "CABLESIM_MPI_SHIM_NAME must name the implementation (set by src/mpi/CMakeLists.txt)"
#endif

#define CABLESIM_STRINGIFY2(x) #x
#define CABLESIM_STRINGIFY(x) CABLESIM_STRINGIFY2(x)

static int library_version(char* buffer, int size) {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    int code = MPI_Get_library_version(text, &length);
    if (code != MPI_SUCCESS) return code;
    int n = 0;
    for (; n + 1 < size && n < length && text[n]; ++n) buffer[n] = text[n];
    if (size > 0) buffer[n] = '\0';
    return MPI_SUCCESS;
}

static int initialized(int* flag) { return MPI_Initialized(flag); }
static int finalized(int* flag) { return MPI_Finalized(flag); }

static int init(void) {
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}

static int finalize(void) { return MPI_Finalize(); }
static int rank(int* value) { return MPI_Comm_rank(MPI_COMM_WORLD, value); }
static int size(int* value) { return MPI_Comm_size(MPI_COMM_WORLD, value); }
static int barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

static int allgather_ints(const int* send, int count, int* recv) {
    return MPI_Allgather(send, count, MPI_INT, recv, count, MPI_INT, MPI_COMM_WORLD);
}

static int allgatherv_doubles(const double* send, int count, double* recv, const int* counts,
                              const int* displacements) {
    return MPI_Allgatherv(send, count, MPI_DOUBLE, recv, counts, displacements, MPI_DOUBLE, MPI_COMM_WORLD);
}

static int error_string(int code, char* buffer, int size) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    int n = 0;
    for (; n + 1 < size && n < length && text[n]; ++n) buffer[n] = text[n];
    if (size > 0) buffer[n] = '\0';
    return MPI_SUCCESS;
}

static int abort_all(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

static const struct cablesim_mpi_shim table = {
    CABLESIM_MPI_SHIM_ABI,
    CABLESIM_STRINGIFY(CABLESIM_MPI_SHIM_NAME),
    CABLESIM_STRINGIFY(MPI_VERSION) "." CABLESIM_STRINGIFY(MPI_SUBVERSION),
    library_version,
    initialized,
    finalized,
    init,
    finalize,
    rank,
    size,
    barrier,
    allgather_ints,
    allgatherv_doubles,
    error_string,
    abort_all,
};

__attribute__((visibility("default"))) const struct cablesim_mpi_shim* cablesim_mpi_shim_v1(void) { return &table; }
