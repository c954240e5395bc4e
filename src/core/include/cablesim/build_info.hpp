#pragma once
// What this build of the core contains: which engines, and how they were compiled.
#include <string>
#include <vector>

namespace cablesim {

struct build_info {
    std::vector<std::string> engines; // "default" first, then the optional engines compiled in
    bool openmp = false;              // the coreneuron engine can run threads
    bool mpi = false;                 // the core can load MPI at run time (the shims are files next to the module)
    std::string march;                // -march level of the optimised engine, "" when generic
};

build_info compiled_build_info();

} // namespace cablesim
