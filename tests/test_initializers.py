"""Initialisers: each scheme's sigma_w2, the sampled variance, determinism and bad names."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact.initializers import INITIALIZERS, get_initializer, init_weights, resolve_sigma_w2

EXPECTED_SIGMA_W2 = {  # (fan_in, fan_out) = (400, 100)
    "lecun": 1.0,
    "glorot": 2 * 400 / 500,
    "he": 2.0,
    "standard": 400.0,
    "orthogonal": 1.0,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SIGMA_W2))
def test_named_sigma_w2(name):
    assert resolve_sigma_w2(name, 400, 100) == pytest.approx(EXPECTED_SIGMA_W2[name])


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_sampled_variance_matches_sigma_w2(name):
    kw = {"sigma_w2": 1.7} if INITIALIZERS[name].takes_sigma_w2 else {}
    n = 512
    w = init_weights(jax.random.key(3), (4, n, n), name, **kw)
    want = resolve_sigma_w2(name, n, n, kw.get("sigma_w2")) / n
    # 4 * 512**2 samples: the sample variance has relative standard error sqrt(2 / 1e6) = 0.14%;
    # 1% is seven standard errors.
    assert float(w.var()) == pytest.approx(want, rel=1e-2)
    assert w.dtype == jnp.float32


def test_orthogonal_is_scaled_orthogonal():
    w = init_weights(jax.random.key(0), (3, 64, 64), "orthogonal", sigma_w2=2.0)
    for m in np.asarray(w, np.float64):
        # float32 orthogonalisation: W W^T = gain^2 I to a few float32 ulps times sqrt(n).
        np.testing.assert_allclose(m @ m.T, 2.0 * np.eye(64), atol=1e-5)


def test_same_key_same_weights_bit_for_bit():
    a = init_weights(jax.random.key(7), (8, 8), "glorot")
    b = init_weights(jax.random.key(7), (8, 8), "glorot")
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_aliases():
    assert get_initializer("xavier") is INITIALIZERS["glorot"]
    assert get_initializer("kaiming") is INITIALIZERS["he"]
    assert jaxact.get_initializer(INITIALIZERS["he"]) is INITIALIZERS["he"]


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match=r"Unknown init 'hee'\. Did you mean 'he'\?.*lecun"):
        get_initializer("hee")
    with pytest.raises(ValueError, match="needs sigma_w2"):
        init_weights(jax.random.key(0), (4, 4), "gaussian")
    with pytest.raises(ValueError, match="init='he' fixes sigma_w2"):
        init_weights(jax.random.key(0), (4, 4), "he", sigma_w2=1.0)
    with pytest.raises(ValueError, match="sigma_w2 must be a finite number > 0, got -1"):
        init_weights(jax.random.key(0), (4, 4), "gaussian", sigma_w2=-1.0)
    with pytest.raises(ValueError, match=r"shape \(..., fan_in, fan_out\)"):
        init_weights(jax.random.key(0), (4,), "he")


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(32, 32), (48, 16), (16, 48)])
def test_orthogonal_matches_jax_initializer(shape):
    # Our flat-draw QR (fast to compile under vmap) gives jax's values exactly.
    ours = init_weights(jax.random.key(5), shape, "orthogonal")
    theirs = jax.nn.initializers.orthogonal()(jax.random.key(5), shape, jnp.float32)
    np.testing.assert_array_equal(ours, theirs)
    # The Householder QR (no LAPACK call, for the sweeps' sharded programs) gives them to
    # float32 rounding: entries ~1/sqrt(48), each reflection adds a few ulp, 48 of them
    # accumulate to ~1e-6 at most; 2e-6 absolute.
    hh = init_weights(jax.random.key(5), shape, "orthogonal", householder=True)
    np.testing.assert_allclose(hh, theirs, rtol=0, atol=2e-6)


@pytest.mark.parametrize("bad", [True, 0.0, -1.0, float("inf"), float("nan"), "2"])
def test_sigma_w2_check_refuses_non_numbers_and_non_positive(bad):
    with pytest.raises(ValueError, match="sigma_w2 must be a finite number > 0"):
        resolve_sigma_w2("gaussian", 8, 8, bad)
