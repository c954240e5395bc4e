// The Hines solver against a dense Gaussian elimination on random trees.
#include "check.hpp"

#include <cablesim/hines.hpp>

#include <random>
#include <vector>

namespace {

std::vector<double> dense_solve(std::vector<std::vector<double>> m, std::vector<double> rhs) {
    const std::size_t n = rhs.size();
    for (std::size_t col = 0; col < n; ++col) {
        std::size_t pivot = col;
        for (std::size_t r = col + 1; r < n; ++r) {
            if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
        }
        std::swap(m[col], m[pivot]);
        std::swap(rhs[col], rhs[pivot]);
        for (std::size_t r = col + 1; r < n; ++r) {
            const double f = m[r][col] / m[col][col];
            for (std::size_t c = col; c < n; ++c) m[r][c] -= f * m[col][c];
            rhs[r] -= f * rhs[col];
        }
    }
    std::vector<double> x(n);
    for (std::size_t i = n; i-- > 0;) {
        double s = rhs[i];
        for (std::size_t c = i + 1; c < n; ++c) s -= m[i][c] * x[c];
        x[i] = s / m[i][i];
    }
    return x;
}

} // namespace

int main() {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> coupling(0.1, 2.0), diag(0.5, 1.5), value(-1.0, 1.0);
    for (int trial = 0; trial < 50; ++trial) {
        const std::size_t n = 1 + rng() % 60;
        std::vector<int> parent(n, -1);
        std::vector<double> a(n, 0.0), b(n, 0.0), d(n), rhs(n);
        std::vector<std::vector<double>> m(n, std::vector<double>(n, 0.0));
        for (std::size_t i = 0; i < n; ++i) {
            d[i] = diag(rng);
            rhs[i] = value(rng);
            if (i > 0 && rng() % 5 != 0) parent[i] = static_cast<int>(rng() % i); // a few extra roots
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (parent[i] < 0) continue;
            a[i] = -coupling(rng);
            b[i] = -coupling(rng);
            d[i] -= b[i];
            d[parent[i]] -= a[i];
        }
        for (std::size_t i = 0; i < n; ++i) {
            m[i][i] = d[i];
            if (parent[i] >= 0) {
                m[i][parent[i]] = b[i];
                m[parent[i]][i] = a[i];
            }
        }
        const std::vector<double> expected = dense_solve(m, rhs);
        cablesim::triang(0, n, parent.data(), a.data(), b.data(), d.data(), rhs.data());
        cablesim::bksub(0, n, parent.data(), b.data(), d.data(), rhs.data());
        for (std::size_t i = 0; i < n; ++i) CHECK_NEAR(rhs[i], expected[i], 1e-10);
    }
    return cablesim_test::finish("test_hines");
}
