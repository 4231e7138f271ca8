"""Training: data sets, losses per task, logging, NaN detection, determinism."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxact import init_mlp
from jaxact.training import (
    Dataset,
    TrainingDiverged,
    loss_fn,
    teacher_student,
    train,
    two_spirals,
)


def test_two_spirals_shape_balance_and_nonlinearity():
    d = two_spirals(jax.random.key(0), 400)
    assert d.x.shape == (400, 2) and d.x.dtype == jnp.float32
    assert int(d.y.sum()) == 200  # balanced
    # The best linear classifier (least squares on +-1 targets) is near chance.
    design = np.c_[np.asarray(d.x), np.ones(400)]
    t = 2.0 * np.asarray(d.y) - 1
    coef, *_ = np.linalg.lstsq(design, t, rcond=None)
    assert np.mean(np.sign(design @ coef) == t) < 0.7
    with pytest.raises(ValueError, match="n >= 2"):
        two_spirals(jax.random.key(0), 1)


@pytest.mark.slow
def test_relu_net_learns_spirals_and_history_is_logged():
    d = two_spirals(jax.random.key(0), 256)
    p = init_mlp(jax.random.key(1), depth=3, width=32, in_dim=2, out_dim=1)
    r = train(p, d, "relu", steps=300, log_every=50)
    h = r.history
    assert h["step"] == [50, 100, 150, 200, 250, 300]
    assert h["loss"][-1] < h["loss"][0]
    assert r.final_accuracy > 0.9
    assert len(h["grad_norms"][-1]) == 3 and len(h["dead_units"][-1]) == 3
    assert all(0 <= v <= 1 for v in h["dead_units"][-1] + h["saturated_units"][-1])


@pytest.mark.slow
def test_same_key_same_run_bit_for_bit():
    d = teacher_student(jax.random.key(0), 128)
    runs = []
    for _ in range(2):
        p = init_mlp(jax.random.key(3), depth=2, width=16, in_dim=8, out_dim=1)
        runs.append(train(p, d, "tanh", steps=20, batch_size=32, key=jax.random.key(9),
                          optimizer=optax.sgd(0.05)))  # fmt: skip
    for a, b in zip(jax.tree.leaves(runs[0].params), jax.tree.leaves(runs[1].params), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert runs[0].history["loss"] == runs[1].history["loss"]


@pytest.mark.slow
def test_multiclass_uses_softmax_cross_entropy():
    x = jax.random.normal(jax.random.key(0), (300, 2), jnp.float32)
    y = (x[:, 0] > 0).astype(jnp.int32) + (x[:, 1] > 0).astype(jnp.int32)
    d = Dataset(x, y, "multiclass", "quadrants")
    assert d.out_dim == 3
    p = init_mlp(jax.random.key(1), depth=2, width=16, in_dim=2, out_dim=3)
    r = train(p, d, "relu", steps=200)
    assert r.final_accuracy > 0.9
    logits = jnp.asarray([[2.0, 0.0, -1.0]])
    want = optax.softmax_cross_entropy(logits, jax.nn.one_hot(jnp.asarray([0]), 3)).mean()
    assert float(loss_fn("multiclass")(logits, jnp.asarray([0]))) == pytest.approx(float(want))


@pytest.mark.slow
def test_divergence_is_reported_with_step_and_layer():
    d = teacher_student(jax.random.key(0), 64)
    p = init_mlp(jax.random.key(1), depth=4, width=16, in_dim=8, out_dim=1, init="standard")
    with pytest.raises(TrainingDiverged) as info:
        train(p, d, "relu", optimizer=optax.sgd(1e6), steps=50)
    err = info.value
    names = ["input projection", "readout", "the loss"] + [f"hidden layer {i}" for i in range(1, 5)]
    assert err.step >= 1 and err.layer in names
    assert f"step {err.step}" in str(err)


def test_bad_arguments():
    d = two_spirals(jax.random.key(0), 32)
    p = init_mlp(jax.random.key(1), depth=2, width=8, in_dim=2, out_dim=3)
    with pytest.raises(ValueError, match="out_dim 3 but the two spirals task needs 1"):
        train(p, d, "relu", steps=1)
    with pytest.raises(ValueError, match="task must be one of"):
        loss_fn("ranking")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        train(init_mlp(jax.random.key(1), depth=2, width=8, in_dim=2, out_dim=1), d, "relu",
              steps=0)  # fmt: skip


def test_digits_or_clear_message():
    pytest.importorskip("sklearn", reason="jaxact[data] extra not installed")
    from jaxact.training import digits

    d = digits()
    assert d.x.shape == (1797, 64) and d.out_dim == 10


@pytest.mark.slow
def test_logged_unit_fractions_keep_their_definitions():
    """The history's dead and saturated units (now from jaxact.diagnose) are what they were:
    units with phi' == 0, resp. 0 < |phi'| < 0.05 max|phi'|, on every example of the data."""
    from jaxact import get_activation, mlp_trace

    d = two_spirals(jax.random.key(0), 128)
    # ReLU at lr 0.5 kills units; sigmoid with sigma_w2 = 400 sits on its tails.
    for act, kw in (("relu", {"init": "he"}), ("sigmoid", {"init": "gaussian", "sigma_w2": 400.0})):
        p = init_mlp(jax.random.key(2), depth=4, width=16, in_dim=2, out_dim=1, **kw)
        r = train(p, d, act, steps=20, log_every=20, optimizer=optax.sgd(0.5))
        pre = mlp_trace(r.params, d.x, act).pre  # (depth, n, width)
        rec = get_activation(act)
        dp = np.abs(np.asarray(rec.derivative(pre)))
        dead = np.all(dp == 0, axis=1).mean(-1)
        sat = np.all((dp < 0.05 * rec.max_slope) & (dp > 0), axis=1).mean(-1)
        # Counts of the same comparisons divided by the width (16): exact in float32.
        assert r.history["dead_units"][-1] == pytest.approx(dead.tolist(), abs=0)
        assert r.history["saturated_units"][-1] == pytest.approx(sat.tolist(), abs=0)
        assert max(dead.max(), sat.max()) > 0.1  # something to count
