"""One word, one meaning: each statistic of :mod:`jaxact.vocabulary` computed once by hand
(numpy, float64, from the pre-activations and the activation's closed-form slope) and every
producer checked against it: :func:`jaxact.diagnose`, :func:`jaxact.trace_statistics`,
:func:`jaxact.train`'s history, :class:`jaxact.UnitActivity`; and divergence, by hand against
:func:`jaxact.vocabulary.divergence`, :func:`jaxact.train` and a training sweep."""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxact
from jaxact.mlp import TraceStatistics
from jaxact.sweeps import TRAINING_RECORD, Run, sweep, train_runs
from jaxact.training import Dataset, two_spirals
from jaxact.vocabulary import (
    ENTRY_STATISTICS,
    SATURATION,
    UNIT_STATISTICS,
    Record,
    divergence,
    slope_statistics,
)

from .numerics import slow_except

# Fractions of n entries are exact in float32 up to rounding of the mean: a few ulp of 1.
FRACTION_RTOL = 4 * float(np.finfo(np.float32).eps)

#: Closed-form slopes in numpy float64 and sup|phi'|: the hand side of every comparison.
SLOPES = {
    "relu": (lambda h: (h > 0).astype(np.float64), 1.0),
    "tanh": (lambda h: 1.0 - np.tanh(h) ** 2, 1.0),
    "sigmoid": (lambda h: (s := 1.0 / (1.0 + np.exp(-h))) * (1.0 - s), 0.25),
}


def by_hand(h, activation, saturation=SATURATION):
    """The four statistics of one site from its pre-activations ``(examples, units)``."""
    slope, sup = SLOPES[activation]
    d = np.abs(slope(np.asarray(h, np.float64)))
    zero = d == 0
    sat = (d < saturation * sup) & ~zero
    return {
        "saturated": sat.mean(),
        "zero_grad": zero.mean(),
        "dead_units": zero.all(axis=0).mean(),
        "saturated_units": sat.all(axis=0).mean(),
    }


def _net(activation, shift=None):
    """A 3-layer net whose units saturate (weight variance 6: pre-activations of std ~2.5)
    and whose ReLU units are partly dead (biases shifted by -1.5; by ``shift`` if given: +4
    puts some tanh units on the flat side for every example), on 64 examples."""
    p = jaxact.init_mlp(jax.random.key(0), depth=3, width=32, in_dim=4, out_dim=2,
                        init="gaussian", sigma_w2=6.0)  # fmt: skip
    if shift is None:
        shift = -1.5 if activation == "relu" else 0.0
    p = p._replace(biases=p.biases + shift)
    x = jax.random.normal(jax.random.key(1), (64, 4), jnp.float32)
    return p, x


def _hand_counts(activation, shift=None):
    p, x = _net(activation, shift)
    hs = np.asarray(jaxact.mlp_trace(p, x, activation).pre, np.float64)  # (depth, 64, 32)
    # The hand count takes the float32 pre-activations the producers see (its slopes are
    # float64): an entry within float32 rounding of the threshold could flip; none does here.
    hand = [by_hand(h.astype(np.float32), activation) for h in hs]
    want = {k: np.array([row[k] for row in hand]) for k in (*ENTRY_STATISTICS, *UNIT_STATISTICS)}
    return p, x, want


# ReLU (entries with phi' = 0: zero_grad, dead units) in the default run; the saturating ones
# (saturated entries and units) in the slow step.
@pytest.mark.parametrize("activation", slow_except(sorted(SLOPES), ("relu",)))
def test_diagnose_and_trace_statistics_agree_with_the_hand_count(activation):
    p, x, want = _hand_counts(activation)
    # A case that tests something: ReLU has entries with phi' = 0, the others saturated ones.
    assert want["zero_grad"].any() if activation == "relu" else want["saturated"].any()

    def loss(p, x):
        return jnp.mean(jaxact.mlp_forward(p, x, activation) ** 2)

    d = jaxact.diagnose(loss, p, x)
    s = jaxact.trace_statistics(jaxact.mlp_trace(p, x, activation), activation)
    for k in (*ENTRY_STATISTICS, *UNIT_STATISTICS):
        np.testing.assert_allclose(np.asarray(getattr(d, k))[:3], want[k], rtol=FRACTION_RTOL,
                                   atol=0, err_msg=f"diagnose {k}")  # fmt: skip
        np.testing.assert_allclose(np.asarray(getattr(s, k)), want[k], rtol=FRACTION_RTOL,
                                   atol=0, err_msg=f"trace_statistics {k}")  # fmt: skip
    seen = jaxact.UnitActivity.start(d)
    np.testing.assert_allclose(np.asarray(seen.dead_units)[:3], want["dead_units"],
                               rtol=FRACTION_RTOL, atol=0)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_train_history_agrees_with_the_hand_count(activation):
    p, x, want = _hand_counts(activation, shift=None if activation == "relu" else 4.0)
    assert want["dead_units"].any() if activation == "relu" else want["saturated_units"].any()
    data = Dataset(x, jnp.arange(64, dtype=jnp.int32) % 2, "multiclass", "hand")
    # Zero learning rate: the history after step 1 is the statistics at p, on the whole set.
    r = jaxact.train(p, data, activation, optimizer=optax.sgd(0.0), steps=1, log_every=1)
    for k in UNIT_STATISTICS:
        np.testing.assert_allclose(r.history[k][0], want[k], rtol=FRACTION_RTOL, atol=0,
                                   err_msg=f"train history {k}")  # fmt: skip


def test_saturated_and_zero_grad_are_disjoint():
    # Slopes 0 (zero_grad), 0.01 (saturated: below 0.05 * 1), 1 (neither), per unit (column).
    slope = jnp.array([[0.0, 0.01, 1.0, 0.0], [0.0, 0.02, 0.0, 0.03]])
    got = {k: float(v) for k, v in slope_statistics(slope, 1.0).items() if k != "active"}
    assert got == pytest.approx({"saturated": 3 / 8, "zero_grad": 4 / 8, "dead_units": 1 / 4,
                                 "saturated_units": 1 / 4}, rel=FRACTION_RTOL)  # fmt: skip
    assert np.asarray(slope_statistics(slope, 1.0)["active"]).tolist() == [0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_zero_is_counted_in_the_slopes_own_dtype(dtype):
    # 1e-30 is 0 in float16 (and a flushed bfloat16 subnormal stays nonzero only if normal):
    # the count follows the dtype the gradient flows in, not a widened copy.
    tiny = jnp.asarray([[1e-30, 0.5]], dtype)
    got = slope_statistics(tiny, 1.0)
    assert float(got["zero_grad"]) == float(np.mean(np.asarray(tiny, np.float64) == 0))


def test_divergence_by_hand():
    rng = np.random.default_rng(0)
    for _ in range(50):
        finite = rng.random(6) > 0.3
        loss = float(rng.choice([1.0, np.nan, np.inf]))
        diverged, where = divergence(jnp.float32(loss), jnp.asarray(finite))
        want_where = -1 if finite.all() else int(np.flatnonzero(~finite)[0])
        assert bool(diverged) == (not finite.all() or not np.isfinite(loss))
        assert int(where) == want_where


@pytest.mark.slow
def test_train_and_sweeps_name_the_same_divergence_in_one_record_schema():
    # A learning rate of 1e12 on a ReLU net: the first NaN/inf appears at the same step and
    # layer in train(), train_runs and a training sweep of the same network (seed, data).
    run = Run("relu", 4, 16, init="he", optimizer="sgd", learning_rate=1e12, seed=0)
    data = two_spirals(jax.random.key(0), 64)
    rec, = train_runs([run], data, steps=20, log_every=5)  # fmt: skip
    swept, = sweep(activations="relu", depths=4, widths=16, seeds=[0], kind="training",
                   optimizer="sgd", learning_rate=1e12, steps=20, log_every=5, n_points=64,
                   data_seed=0)  # fmt: skip
    assert rec["diverged_step"] is not None
    for k in TRAINING_RECORD:  # one schema: the same fields, the same values
        assert k in rec and k in swept, k
    assert (swept["diverged_step"], swept["diverged_layer"]) == (rec["diverged_step"],
                                                                 rec["diverged_layer"])  # fmt: skip
    # Run's network: init_mlp of the first half of key(seed)'s split (Run's docstring).
    params = jaxact.init_mlp(jax.random.split(jax.random.key(0))[0], depth=4, width=16,
                             in_dim=2, out_dim=1, init="he")  # fmt: skip
    with pytest.raises(jaxact.TrainingDiverged) as err:
        jaxact.train(params, data, "relu", optimizer=optax.sgd(1e12), steps=20, log_every=5)
    assert (err.value.step, err.value.layer) == (rec["diverged_step"], rec["diverged_layer"])


def test_renamed_names_still_read_with_a_warning():
    # Every field a different value: the old name must read zero_grad and nothing else.
    names = [f.name for f in dataclasses.fields(TraceStatistics)]
    s = TraceStatistics(**{k: np.full(3, i, np.float32) for i, k in enumerate(names)})
    with pytest.warns(DeprecationWarning, match="renamed zero_grad"):
        np.testing.assert_array_equal(s.dead, np.full(3, names.index("zero_grad")))
    r = Record({"new": 1}, renamed={"old": "new"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert r["new"] == 1  # the current name: no warning
    with pytest.warns(DeprecationWarning, match="'old' is renamed 'new'"):
        assert r["old"] == 1
    with pytest.raises(KeyError):
        r["never"]
