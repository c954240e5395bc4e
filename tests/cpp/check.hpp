#pragma once
// A minimal check macro for the C++ tests: counts failures, prints the expression and values, and makes
// main() return non-zero (ctest reports it).
#include <cmath>
#include <iostream>
#include <string>

namespace cablesim_test {
inline int failures = 0;
inline int checks = 0;

inline void report(bool ok, const char* expression, const char* file, int line, const std::string& detail = "") {
    ++checks;
    if (ok) return;
    ++failures;
    std::cerr << file << ":" << line << ": check failed: " << expression << detail << "\n";
}

inline int finish(const char* name) {
    std::cout << name << ": " << (checks - failures) << " of " << checks << " checks passed\n";
    return failures == 0 ? 0 : 1;
}
} // namespace cablesim_test

#define CHECK(expr) ::cablesim_test::report(static_cast<bool>(expr), #expr, __FILE__, __LINE__)
#define CHECK_NEAR(a, b, tol)                                                                                          \
    ::cablesim_test::report(std::fabs((a) - (b)) <= (tol), #a " ~ " #b, __FILE__, __LINE__,                             \
                            " (" + std::to_string(a) + " vs " + std::to_string(b) + ")")
#define CHECK_THROWS(expr, type)                                                                                       \
    do {                                                                                                               \
        bool thrown_ = false;                                                                                          \
        try {                                                                                                          \
            expr;                                                                                                      \
        }                                                                                                              \
        catch (const type&) {                                                                                          \
            thrown_ = true;                                                                                            \
        }                                                                                                              \
        ::cablesim_test::report(thrown_, #expr " throws " #type, __FILE__, __LINE__);                                 \
    } while (0)
