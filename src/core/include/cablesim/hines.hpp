#pragma once
// The Hines tree solver (NEURON's triang + bksub). The matrix of a tree with nodes ordered parents
// before children has, in row i, the diagonal d[i] and b[i] in the parent's column; the parent's row
// has a[i] in column i. Roots are the nodes with parent -1.
#include <cstddef>

namespace cablesim {

/* triangularization of the matrix equations: eliminate a[i] from the parent's row, leaves first */
void triang(std::size_t begin, std::size_t end, const int* parent, const double* a, const double* b, double* d,
            double* rhs);

/* back substitution: roots first, then each node from its (already solved) parent; rhs becomes the solution */
void bksub(std::size_t begin, std::size_t end, const int* parent, const double* b, const double* d, double* rhs);

} // namespace cablesim
