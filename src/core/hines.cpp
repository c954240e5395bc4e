#include <cablesim/hines.hpp>

namespace cablesim {

void triang(std::size_t begin, std::size_t end, const int* parent, const double* a, const double* b, double* d,
            double* rhs) {
    for (std::size_t i = end; i-- > begin;) {
        const int p = parent[i];
        if (p < 0) continue;
        const double factor = a[i] / d[i];
        d[p] -= factor * b[i];
        rhs[p] -= factor * rhs[i];
    }
}

void bksub(std::size_t begin, std::size_t end, const int* parent, const double* b, const double* d, double* rhs) {
    for (std::size_t i = begin; i < end; ++i) {
        const int p = parent[i];
        if (p >= 0) rhs[i] -= b[i] * rhs[p];
        rhs[i] /= d[i];
    }
}

} // namespace cablesim
