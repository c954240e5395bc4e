#pragma once
// The roots of every exception cablesim throws (translated once, in src/bindings/module.cpp).
#include <stdexcept>
#include <string>

namespace cablesim {

// A bug in cablesim itself: an invariant did not hold.
struct internal_error: std::logic_error {
    using std::logic_error::logic_error;
};

// A bad model or bad input: the message names the object and the value, and says what is allowed.
struct model_error: std::runtime_error {
    using std::runtime_error::runtime_error;
};

// MPI cannot be used as asked: no MPI library or shim found, or a launcher that does not match the library
// (cablesim/mpi.hpp). The message says what was tried and what to set or install.
struct mpi_error: std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Formats a double the way a user typed it (shortest round-trip form, no trailing zeros).
std::string format_number(double value);

} // namespace cablesim
