"""Reading a Diagnosis as a newcomer would: what is wrong first, a short repr, rows, look-up by
site name, stacked histories."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact.attenuation import fit_rate
from jaxact.diagnosis import relative_gradients

# One worker for the module (pytest-xdist --dist loadgroup), so that the module-scoped
# diagnosis below is computed once, not once per worker.
pytestmark = pytest.mark.xdist_group("diagnosis_reading")


@pytest.fixture(scope="module")
def sigmoid_net():
    # A 12-layer Glorot sigmoid MLP: theory's per-layer factor of ||dL/dh|| is about 0.23, so
    # the first sites get ~1e-7 of the last one's gradient: vanishing, and nothing else wrong.
    p = jaxact.init_mlp(jax.random.key(0), depth=12, width=64, in_dim=8, out_dim=1,
                        init="glorot")  # fmt: skip
    x = jax.random.normal(jax.random.key(1), (32, 8))
    loss = lambda p, x: jnp.mean(jaxact.mlp_forward(p, x, "sigmoid") ** 2)  # noqa: E731
    # Jitted: 1.5 s here against 6.5 s op by op.
    return jax.device_get(jax.jit(lambda p, x: jaxact.diagnose(loss, p, x))(p, x))


def test_summary_leads_with_what_is_wrong(sigmoid_net):
    d = sigmoid_net
    text = str(d)
    lines = text.splitlines()
    assert lines[0].startswith("Diagnosis: loss ") and "12 activation sites" in lines[0]
    assert lines[1].startswith("! vanishing gradient: ")
    assert "less than 0.001 of the last site's" in lines[1]
    rel = relative_gradients(d.grad_norm)
    assert rel[-1] == 1.0 and rel[0] < 1e-6
    n_low = int(np.sum(rel < 1e-3))
    assert f"{n_low} of 12 sites" in lines[1]
    # The fitted rate is the same fit gradient_attenuation uses.
    rate, _ = fit_rate(np.asarray(d.grad_norm, np.float64))
    assert f"x{rate:.3g} per site" in text
    assert 0.15 < rate < 0.3  # mean-field theory: 0.234 (finite width, 32 inputs)
    assert d.findings(vanishing=1e-9) == []  # a threshold below every site: nothing flagged


def test_findings_flag_dead_and_exploding_with_their_thresholds():
    # A ReLU layer with a large negative bias: every unit is dead on this batch.
    def loss(b, x):
        h1 = jax.nn.relu(x @ jnp.eye(4) + b)
        return jnp.sum(jax.nn.relu(100.0 * h1 + x) ** 2)

    step = jax.jit(lambda b, x: jaxact.diagnose(loss, b, x))
    d = step(jnp.full((4,), -10.0), jnp.ones((3, 4)))
    text = "\n".join(d.findings())
    assert "1 of 2 sites have more than 50% of their units dead on this batch" in text
    d2 = step(jnp.zeros((4,)), jnp.ones((3, 4)))
    assert "exploding gradient" in "\n".join(d2.findings(exploding=10.0))
    assert d2.findings() == []


def test_repr_is_short_and_names_the_sites(sigmoid_net):
    r = repr(sigmoid_net)
    assert len(r) < 200, r  # it printed the whole gradient pytree (3,016 characters) before
    assert r.startswith("Diagnosis(loss=") and "(12 in all)" in r


def test_rows_and_lookup(sigmoid_net):
    d = sigmoid_net
    rows = d.rows()
    assert len(rows) == 12 and rows[3]["site"] == d.sites[3].name
    assert rows[3]["grad_norm"] == pytest.approx(float(d.grad_norm[3]))
    one = d.site(d.sites[5].name)
    assert one["dead_units"] == 0.0 and one["grad_norm"] == pytest.approx(float(d.grad_norm[5]))
    assert d.site("[11]")["site"] == d.sites[11].name  # a unique part of a name
    with pytest.raises(KeyError, match="several sites match"):
        d.site("sigmoid")
    with pytest.raises(KeyError, match="no site matches"):
        d.site("conv")


def test_a_stacked_history_reads_its_last_step(sigmoid_net):
    d = sigmoid_net
    doubled = jax.tree.map(lambda a: 2 * a, d)
    hist = jax.tree.map(lambda *a: np.stack(a), d, doubled)
    assert hist.steps == 2 and d.steps is None
    assert "history of 2 steps" in repr(hist)
    assert hist.table().splitlines()[-1].startswith("step 1 of a history of 2")
    assert hist.site(d.sites[0].name)["grad_norm"].shape == (2,)
    assert len(hist.rows()) == 24 and hist.rows()[-1]["step"] == 1
    last = hist.unstack()[-1]
    np.testing.assert_array_equal(np.asarray(last.grad_norm), np.asarray(doubled.grad_norm))


@pytest.mark.slow
def test_the_history_plot_takes_a_stacked_history(sigmoid_net, tmp_path):
    from jaxact.plotting import plot_diagnosis_history

    hist = jax.tree.map(lambda *a: np.stack(a), sigmoid_net, sigmoid_net)
    assert plot_diagnosis_history(hist, [0, 1], tmp_path / "h.png").exists()


def test_table_says_its_columns_are_fractions(sigmoid_net):
    assert "fraction of entries" in sigmoid_net.table().splitlines()[-1]


# ----------------------------------------------------------------------------- dead for good


def _relu_net():
    w1 = jnp.array([[1.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # unit 2 fires only if x1 < 0

    def loss(w, x):
        h = x @ w  # (batch, 3)
        return jnp.sum(jax.nn.relu(h)) + jnp.sum(jaxact.tap(h, "pre"))

    return w1, loss


def test_unit_activity_is_the_or_of_the_batches_by_hand():
    from jaxact.diagnosis import UnitActivity

    w, loss = _relu_net()
    a = jnp.array([[1.0, 1.0]])  # h = (1, -1, -1): units 1 and 2 dead on this batch
    b = jnp.array([[-1.0, -1.0]])  # h = (-1, 1, 1): unit 0 dead
    da, db = jaxact.diagnose(loss, w, a), jaxact.diagnose(loss, w, b)
    relu = next(i for i, s in enumerate(da.sites) if s.activation == "relu")
    # 2 of 3 units, in float32: 2/3 rounded (half an ulp, 3e-8 relative).
    assert da.dead_units[relu] == np.float32(2 / 3)
    seen = UnitActivity.start(da).update(db)
    relu_units, tap_units = seen.per_site()[relu], seen.per_site()[1 - relu]
    np.testing.assert_array_equal(relu_units, [1.0, 1.0, 1.0])  # each unit fired once
    assert np.isnan(tap_units).all()  # a tap has no phi'
    assert seen.dead_units[relu] == 0.0 and int(seen.batches) == 2
    assert seen.findings() == []
    # The same batch twice: dead on every batch seen = dead on the batch.
    again = UnitActivity.start(da).update(da)
    assert again.dead_units[relu] == pytest.approx(2 / 3)
    assert "67% of 3 units dead on all 2 batch(es) seen" in again.findings(dead=0.5)[0]
    assert "units dead on every batch seen" in str(again)


@pytest.mark.slow
def test_unit_activity_updates_inside_jit_and_reads_histories():
    from jaxact.diagnosis import UnitActivity

    p = jaxact.init_mlp(jax.random.key(0), depth=2, width=8, out_dim=1)

    def loss(p, x):
        return jnp.mean(jaxact.mlp_forward(p, x, "relu") ** 2)

    xs = [jax.random.normal(jax.random.key(k), (2, 8)) for k in range(3)]
    ds = [jaxact.diagnose(loss, p, x) for x in xs]
    step = jax.jit(lambda seen, x: seen.update(jaxact.diagnose(loss, p, x)))
    seen = UnitActivity.start(ds[0])
    for x in xs[1:]:
        seen = step(seen, x)
    history = jax.tree.map(lambda *a: jnp.stack(a), *ds)
    whole = UnitActivity.start(history)
    np.testing.assert_array_equal(seen.ever_active, whole.ever_active)
    assert int(whole.batches) == 3
    # Dead on every batch can only be rarer than dead on any one of them.
    for d in ds:
        assert np.all(whole.dead_units <= np.asarray(d.dead_units) + 1e-7)
    # By hand: a unit is ever active if phi'(h) != 0 somewhere in the three batches.
    manual = np.max([np.asarray(d.unit_active) for d in ds], axis=0)
    np.testing.assert_array_equal(whole.ever_active, manual)


def test_unit_activity_refuses_another_model():
    from jaxact.diagnosis import UnitActivity

    w, loss = _relu_net()
    d = jaxact.diagnose(loss, w, jnp.ones((1, 2)))
    other = jaxact.diagnose(lambda w, x: jnp.sum(jax.nn.relu(x @ w)), w, jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="other sites"):
        UnitActivity.start(d).update(other)
