"""Data sets: shapes, determinism, the stratified split, standardisation, MNIST-1D."""

from __future__ import annotations

import jax.random as jr
import numpy as np
import pytest

from jaxact.datasets import digits, mnist1d, split, standardize, two_spirals


def test_split_is_fixed_stratified_and_disjoint():
    d = digits()
    train, test = split(d)
    again_train, _ = split(d)
    np.testing.assert_array_equal(np.asarray(train.x), np.asarray(again_train.x))
    assert train.x.shape[0] + test.x.shape[0] == d.x.shape[0] == 1797
    # Each class contributes round(0.25 * its size) test examples.
    counts = np.bincount(np.asarray(d.y))
    np.testing.assert_array_equal(np.bincount(np.asarray(test.y)), np.round(0.25 * counts))
    rows = {tuple(r) for r in np.asarray(train.x).round(6)}
    # Digits has a few duplicate images; a disjoint split shares at most those.
    shared = sum(tuple(r) in rows for r in np.asarray(test.x).round(6))
    assert shared <= 5
    other, _ = split(d, seed=1)
    assert not np.array_equal(np.asarray(other.y), np.asarray(train.y))


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "a"])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        split(digits(), fraction)


def test_standardize_uses_training_statistics():
    train, test = standardize(*split(digits()))
    x = np.asarray(train.x, np.float64)
    # float32 storage: means within a few float32 epsilons of 0, variances 1 or 0 (constant
    # pixels are only centred).
    assert np.abs(x.mean(0)).max() < 1e-5
    var = x.var(0)
    assert np.all((np.abs(var - 1) < 1e-4) | (var < 1e-12))
    assert "standardized" in test.name
    with pytest.raises(ValueError, match="inputs of shape"):
        standardize(train, two_spirals(jr.key(0), 10))


def test_mnist1d_is_balanced_deterministic_and_standardised():
    a, b = mnist1d(200, seed=3), mnist1d(200, seed=3)
    np.testing.assert_array_equal(np.asarray(a.x), np.asarray(b.x))
    assert a.x.shape == (200, 40) and a.out_dim == 10
    np.testing.assert_array_equal(np.bincount(np.asarray(a.y)), [20] * 10)
    x = np.asarray(a.x, np.float64)
    assert abs(x.mean()) < 1e-6 and abs(x.std() - 1) < 1e-6
    assert not np.array_equal(np.asarray(mnist1d(200, seed=4).x), np.asarray(a.x))
    with pytest.raises(ValueError, match="multiple of 10"):
        mnist1d(15)


def test_two_spirals_wants_an_even_count():
    assert two_spirals(jr.key(0), 6).x.shape == (6, 2)
    with pytest.raises(ValueError, match="even number"):
        two_spirals(jr.key(0), 7)
