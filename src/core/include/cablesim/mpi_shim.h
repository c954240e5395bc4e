/* The C interface between cablesim's core and its MPI shims (src/mpi/shim.c).
 *
 * The core never links an MPI library: MPI's types and constants differ between implementations (an int handle
 * in MPICH, a pointer to a global in Open MPI), so one shim per implementation is compiled against that
 * implementation's mpi.h and the core picks the matching one at run time (src/core/parallel/mpi.cpp). This
 * header is all the two sides share: plain C types only, one table of functions, looked up by one symbol.
 * Change the table only together with CABLESIM_MPI_SHIM_ABI, so that a stale shim is refused, not called. */
#ifndef CABLESIM_MPI_SHIM_H
#define CABLESIM_MPI_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

#define CABLESIM_MPI_SHIM_ABI 1
#define CABLESIM_MPI_SHIM_SYMBOL "cablesim_mpi_shim_v1"

/* Every function returns MPI's error code (0: MPI_SUCCESS); error_string turns one into text. */
struct cablesim_mpi_shim {
    int abi;                    /* CABLESIM_MPI_SHIM_ABI of the shim's build */
    const char* implementation; /* the shim's name: "mpich", "openmpi", or an extra shim's name */
    const char* header_version; /* MPI_VERSION.MPI_SUBVERSION of the mpi.h it was compiled with */

    /* MPI_Get_library_version: callable before init. */
    int (*library_version)(char* buffer, int size);
    int (*initialized)(int* flag);
    int (*finalized)(int* flag);
    /* MPI_Init_thread asking for MPI_THREAD_FUNNELED (only the thread that called init calls MPI). */
    int (*init)(void);
    int (*finalize)(void);
    int (*rank)(int* rank); /* in MPI_COMM_WORLD */
    int (*size)(int* size);
    int (*barrier)(void);
    /* Every rank sends `count` ints; recv holds size * count ints, rank 0's first. */
    int (*allgather_ints)(const int* send, int count, int* recv);
    /* Every rank sends its own count of doubles; recv holds them all, rank r's at displacements[r]. */
    int (*allgatherv_doubles)(const double* send, int count, double* recv, const int* counts,
                              const int* displacements);
    int (*error_string)(int code, char* buffer, int size);
    int (*abort)(int code);
};

/* The one symbol a shim exports. */
typedef const struct cablesim_mpi_shim* (*cablesim_mpi_shim_entry)(void);

#ifdef __cplusplus
}
#endif

#endif
