#include <cablesim/build_info.hpp>

#ifndef CABLESIM_MARCH_NAME
#define CABLESIM_MARCH_NAME "" // set by src/core/CMakeLists.txt from CABLESIM_MARCH
#endif

namespace cablesim {

build_info compiled_build_info() {
    build_info info;
    info.engines.push_back("default");
#ifdef CABLESIM_HAVE_CORENEURON
    info.engines.push_back("coreneuron");
#endif
#ifdef _OPENMP
    info.openmp = true;
#endif
    info.march = CABLESIM_MARCH_NAME;
#if !defined(_WIN32)
    info.mpi = true; // parallel/mpi.cpp loads MPI with dlopen
#endif
    return info;
}

} // namespace cablesim
