"""The Hines tree solver against a dense NumPy solve on random trees."""

from __future__ import annotations

import numpy as np
import pytest

from cablesim import ModelError, _core


def random_tree_system(n: int, roots: int, rng: np.random.Generator):
    parent = np.full(n, -1, dtype=np.int32)
    for i in range(roots, n):
        parent[i] = rng.integers(0, i)
    a = -rng.uniform(0.1, 2.0, n)
    b = -rng.uniform(0.1, 2.0, n)
    d = rng.uniform(0.5, 1.5, n)
    for i in range(n):  # make it diagonally dominant as a cable matrix is
        if parent[i] >= 0:
            d[i] -= b[i]
            d[parent[i]] -= a[i]
    rhs = rng.normal(size=n)
    return parent, a, b, d, rhs


def dense(parent, a, b, d):
    n = len(parent)
    matrix = np.diag(d)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            matrix[i, p] = b[i]
            matrix[p, i] = a[i]
    return matrix


@pytest.mark.parametrize("seed", range(20))
def test_solve_tree_matches_dense_solve(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    roots = int(rng.integers(1, max(2, n // 10 + 1)))
    parent, a, b, d, rhs = random_tree_system(n, min(roots, n), rng)
    expected = np.linalg.solve(dense(parent, a, b, d), rhs)
    np.testing.assert_allclose(_core.solve_tree(parent, a, b, d, rhs), expected, rtol=1e-10, atol=1e-12)


def test_solve_tree_rejects_a_parent_after_its_child():
    with pytest.raises(ModelError, match=r"parent\[1\] = 2 must be -1 \(a root\) or a smaller index"):
        _core.solve_tree([-1, 2, 0], [1.0] * 3, [1.0] * 3, [4.0] * 3, [0.0] * 3)


def test_solve_tree_rejects_mismatched_lengths():
    with pytest.raises(ModelError, match="must be 1-d arrays of one length"):
        _core.solve_tree([-1, 0], [1.0] * 3, [1.0] * 2, [4.0] * 2, [0.0] * 2)
