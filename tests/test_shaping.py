"""Kernel shaping (DKS, TAT): the solved parameters meet their targets, agree with DeepMind's
``dks`` package, and the shaped activation is a registry record everything accepts."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import shaping, theory

pytestmark = pytest.mark.x64  # float64 references (see conftest.py)


@pytest.fixture(autouse=True)
def _restore_registry():
    """Shaped activations register themselves; each test leaves the registry as it found it."""
    before = set(jaxact.ACTIVATIONS)
    yield
    for name in set(jaxact.ACTIVATIONS) - before:
        jaxact.unregister_activation(name)


# The solver stops at residuals below 1e-10; the quadratures are exact to ~1e-14.
TARGET_TOL = 1e-9


# Several seconds each on 2 cores: the slow step. The default run's check of dks is the
# cross-check against the dks package below.
@pytest.mark.slow
@pytest.mark.parametrize("depth", [10, 100])
@pytest.mark.parametrize("name", ["tanh", "softplus", "gelu", "elu", "sigmoid", "leaky_relu"])
def test_dks_meets_its_four_conditions(name, depth):
    s = shaping.dks(name, depth, zeta=1.5)
    # Computed afresh by jaxact.theory from the registered shaped function, not by the solver.
    assert s.local["q_out"] == pytest.approx(1.0, abs=TARGET_TOL)
    assert s.local["q_slope"] == pytest.approx(1.0, abs=TARGET_TOL)
    assert s.local["c0"] == pytest.approx(0.0, abs=TARGET_TOL)
    assert s.local["c_slope"] == pytest.approx(1.5 ** (1 / depth), abs=TARGET_TOL)
    # The network after L layers: C_f'(1) = zeta, and C(0) = 0 is a fixed point.
    assert s.network["c_slope"] == pytest.approx(1.5, rel=depth * TARGET_TOL)
    assert s.network["c0"] == pytest.approx(0.0, abs=TARGET_TOL)
    assert (s.init, s.sigma_w2, s.sigma_b2) == ("orthogonal", 1.0, 0.0)


def test_dks_relu_has_one_degree_of_freedom():
    s = shaping.dks("relu", 20)
    assert s.gamma == 1.0 and "q_slope" not in s.targets  # Q'(1) is left free, and reported
    assert s.local["c_slope"] == pytest.approx(1.5 ** (1 / 20), abs=TARGET_TOL)
    assert s.local["q_out"] == pytest.approx(1.0, abs=TARGET_TOL)
    assert math.isfinite(s.local["q_slope"])


@pytest.mark.slow
@pytest.mark.parametrize("depth", [20, 100, 200])
def test_tat_leaky_relu_reaches_eta_after_depth_layers(depth):
    s = shaping.tat("leaky_relu", depth, eta=0.9)
    a = s.params["negative_slope"]
    assert 0 < a < 1 and s.alpha == pytest.approx(math.sqrt(2 / (1 + a * a)), rel=1e-15)
    assert (s.beta, s.gamma, s.delta) == (1.0, 0.0, 0.0)
    # C_f(0) composed by the generic 2-D quadrature on the shaped record: an independent check
    # of the closed-form leaky ReLU C map the solver used.
    assert s.network["c0"] == pytest.approx(0.9, abs=TARGET_TOL)
    assert s.local["q_out"] == pytest.approx(1.0, abs=TARGET_TOL)
    assert s.local["c_slope"] == pytest.approx(1.0, abs=TARGET_TOL)
    # ReLU is shaped into the same leaky ReLU.
    r = shaping.tat("relu", depth, eta=0.9)
    assert r.activation == "leaky_relu" and r.params == s.params


@pytest.mark.slow
def test_deeper_networks_get_more_linear_leaky_relus():
    slopes = [shaping.tat("leaky_relu", d).params["negative_slope"] for d in (20, 50, 100)]
    assert slopes == sorted(slopes)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "softplus"])
def test_tat_smooth_meets_its_conditions(name):
    s = shaping.tat(name, 30, tau=0.3)
    for key, want in (("q_out", 1.0), ("q_slope", 1.0), ("c_slope", 1.0), ("c_curvature", 0.01)):
        assert s.local[key] == pytest.approx(want, abs=TARGET_TOL), key
    assert s.network["c_curvature"] == pytest.approx(0.3, abs=30 * TARGET_TOL)
    assert s.alpha * s.beta < 2.0


# ------------------------------------------------------------------ against DeepMind's dks


def _dks_reference(name, method, depth, target):
    """The ``dks`` package's parameters for a plain MLP of ``depth`` activation layers, in
    our convention: alpha = output_scale, beta = input_scale, gamma = input_shift,
    delta = output_scale * output_shift."""
    at = pytest.importorskip("dks.base.activation_transform")

    def subnet_max(x, r_fn):  # a plain MLP: the local map composed depth times
        for _ in range(depth):
            x = r_fn(x)
        return x

    if method == "DKS":
        kw = {"dks_params": {"c_slope_1_target": target}}
    else:
        key = "c_val_0_target" if "relu" in name else "c_curve_target"
        kw = {"tat_params": {key: target}}
    p = at._get_activations_params([name], method=method, subnet_max_func=subnet_max, **kw)[name]
    out = {"alpha": float(p["output_scale"]), "beta": float(p.get("input_scale", 1.0)),
           "gamma": float(p.get("input_shift", 0.0)),
           "delta": float(p["output_scale"] * p.get("output_shift", 0.0))}  # fmt: skip
    if "negative_slope" in p:
        out["negative_slope"] = float(p["negative_slope"])
    return out


CROSS = [  # (name, method, depth, target): at depth 10 eta = 0.9 is out of reach (even ReLU
    # gives C_f(0) = 0.87), so TAT is checked there at eta = 0.5.
    *[("tanh", "DKS", d, 1.5) for d in (10, 50, 100)],
    *[("softplus", "DKS", d, 1.5) for d in (10, 50, 100)],
    *[("leaky_relu", "TAT", d, 0.9 if d > 10 else 0.5) for d in (10, 50, 100)],
    ("leaky_relu", "DKS", 50, 1.5),
    ("softplus", "TAT", 50, 0.3),
    ("tanh", "TAT", 10, 0.3),
]
# One cross-check in the default run; every other (TAT included) in the slow step.
DEFAULT_CROSS = {("tanh", "DKS", 50)}


@pytest.mark.parametrize(
    ("name", "method", "depth", "target"),
    [c if c[:3] in DEFAULT_CROSS else pytest.param(*c, marks=pytest.mark.slow) for c in CROSS],
)
def test_parameters_agree_with_the_dks_package(name, method, depth, target):
    ref = _dks_reference(name, method, depth, target)
    if method == "DKS":
        s = shaping.dks(name, depth, zeta=target)
    elif name == "leaky_relu":
        s = shaping.tat(name, depth, eta=target)
    else:
        s = shaping.tat(name, depth, tau=target)
    got = {"alpha": s.alpha, "beta": s.beta, "gamma": s.gamma, "delta": s.delta, **s.params}
    # The bound: 1e-5. Both solve to ~1e-8 (dks's bisection stops at 1e-8 in C_f(0),
    # its root finder at scipy's default xtol), so the parameters agree to ~1e-7.
    for key, want in ref.items():
        assert got[key] == pytest.approx(want, abs=1e-5), key


@pytest.mark.slow
def test_tat_tanh_deep_is_the_mirror_of_the_dks_package_solution():
    # tanh is odd, so (beta, gamma, delta) and (beta, -gamma, -delta) meet the same targets;
    # at depth 50 the two root finders take different branches. Mirrored, they agree.
    ref = _dks_reference("tanh", "TAT", 50, 0.3)
    s = shaping.tat("tanh", 50, tau=0.3)
    assert s.alpha == pytest.approx(ref["alpha"], abs=1e-5)
    assert s.beta == pytest.approx(ref["beta"], abs=1e-5)
    assert abs(s.gamma) == pytest.approx(abs(ref["gamma"]), abs=1e-5)
    assert abs(s.delta) == pytest.approx(abs(ref["delta"]), abs=1e-5)
    assert np.sign(s.gamma) == np.sign(s.delta) * np.sign(ref["gamma"]) * np.sign(ref["delta"])


# ------------------------------------------------------------------ the shaped record


@pytest.mark.slow
def test_the_shaped_activation_is_a_registry_record_with_closed_form_derivatives():
    s = shaping.dks("softplus", 40)
    rec = s.register()
    assert jaxact.get_activation(s.name) is rec and s.register() is rec
    x = jnp.linspace(-6.0, 6.0, 101, dtype=jnp.float64)
    base = jaxact.softplus
    want = s.alpha * base(s.beta * x + s.gamma) + s.delta
    # Same operations in float64: a few ulp.
    np.testing.assert_allclose(rec.fn(x), want, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(s(x), want, rtol=1e-14, atol=1e-14)
    g = jax.vmap(jax.grad(rec.fn))(x)  # goes through the closed form (custom_jvp)
    np.testing.assert_allclose(g, s.alpha * s.beta * jax.nn.sigmoid(s.beta * x + s.gamma),
                               rtol=1e-13)  # fmt: skip
    h = jax.vmap(jax.grad(jax.grad(rec.fn)))(x)
    sg = jax.nn.sigmoid(s.beta * x + s.gamma)
    np.testing.assert_allclose(h, s.alpha * s.beta**2 * sg * (1 - sg), rtol=1e-12, atol=1e-15)


def test_a_shaped_leaky_relu_moves_its_kink_and_keeps_its_slope():
    s = shaping.dks("leaky_relu", 30)
    rec = s.register()
    k = -s.gamma / s.beta
    assert list(rec.kinks) == [pytest.approx(k)]
    a = s.params["negative_slope"]
    d = rec.derivative(jnp.array([k - 1.0, k + 1.0]))
    np.testing.assert_allclose(d, [s.alpha * a, s.alpha], rtol=1e-14)


@pytest.mark.slow
def test_register_names_and_clashes():
    s = shaping.tat("leaky_relu", 100)
    assert s.name == "tat_leaky_relu_d100_eta0p9"
    rec = s.register("my_tat")
    assert rec.name == "my_tat" and "TAT leaky_relu" in rec.doc
    other = shaping.tat("leaky_relu", 50)
    with pytest.raises(ValueError, match="'my_tat' is already registered as a different"):
        other.register("my_tat")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: shaping.dks("tanh", 10, zeta=1.0), ValueError, "zeta must be > 1"),
        (lambda: shaping.dks("tanh", 0), ValueError, "depth"),
        (lambda: shaping.dks("softmax", 10), ValueError, "elementwise"),
        (lambda: shaping.dks("tanhh", 10), ValueError, "Did you mean 'tanh'"),
        (lambda: shaping.tat("leaky_relu", 10, eta=0.9), ValueError,
         r"eta=0.9 is out of reach at depth 10: even ReLU .* C_f\(0\) = 0.8715"),
        (lambda: shaping.tat("leaky_relu", 10, eta=1.0), ValueError, r"eta must be in \(0, 1\)"),
        (lambda: shaping.tat("relu6", 10), ValueError, "derivative jumps"),
        (lambda: shaping.tat("tanh", 10, tau=-1.0), ValueError, "tau"),
        (lambda: shaping.normalize_inputs(jnp.arange(3)), TypeError, "floating array"),
    ],
)  # fmt: skip
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_normalize_inputs():
    x = jax.random.normal(jax.random.key(0), (5, 7)) * jnp.arange(1.0, 6.0)[:, None]
    y = shaping.normalize_inputs(x)
    np.testing.assert_allclose(jnp.mean(y * y, axis=-1), 1.0, rtol=1e-6)  # float32: a few ulp
    np.testing.assert_allclose(y / x, (y / x)[:, :1] * jnp.ones((1, 7)), rtol=1e-6)


# ------------------------------------------------------------------ in a network


@pytest.mark.slow
def test_a_wide_shaped_network_keeps_q_at_one_and_follows_the_composed_c_map():
    depth, width = 30, 1024
    s = shaping.dks("tanh", depth)
    rec = s.register()
    p = jaxact.init_mlp(jax.random.key(1), depth=depth, width=width, init="orthogonal",
                        dtype=jnp.float64)  # fmt: skip
    # Two inputs of q = 1 and correlation 0.3.
    k1, k2 = jax.random.split(jax.random.key(2))
    u, v = (
        jax.random.normal(k1, (width,), jnp.float64),
        jax.random.normal(k2, (width,), jnp.float64),
    )
    v = v - (v @ u) / (u @ u) * u
    u, v = u / jnp.sqrt(jnp.mean(u * u)), v / jnp.sqrt(jnp.mean(v * v))
    x = jnp.stack([u, 0.3 * u + math.sqrt(1 - 0.09) * v])
    t = jaxact.mlp_trace(p, x, rec)
    h = np.asarray(t.pre)  # (depth, 2, width)
    q = (h**2).mean(-1)
    c = (h[:, 0] * h[:, 1]).mean(-1) / np.sqrt(q[:, 0] * q[:, 1])
    want = theory.composed_c_map(rec, 0.3, depth)[:-1]  # the pre-activations of layers 1..L
    # Finite width: orthogonal weights keep ||h|| exactly, so each layer's only error is the
    # average of phi(h)^2 over `width` units: relative sd sqrt(Var[phi(z)^2] / width). With
    # Q'(1) = 1 those errors neither grow nor decay - they add up like a random walk, so after
    # l layers the sd is sqrt(l) times that. Four of those sds (and the same for c).
    # (Layer 1 is the normalised input itself: rounding only, 1e-12.)
    var = theory.gaussian_expectation(lambda z: np.asarray(rec.fn(z)) ** 4)
    sd = np.sqrt((var - 1.0) / width) * np.sqrt(np.arange(depth))
    assert np.all(np.abs(q - 1.0) <= 4 * sd[:, None] + 1e-12)
    assert np.all(np.abs(c - want) <= 4 * sd + 1e-12)


@pytest.mark.slow
def test_train_and_diagnose_accept_a_shaped_activation():
    from jaxact.datasets import digits, split, standardize

    s = shaping.tat("leaky_relu", 20)
    rec = s.register()
    train, _ = standardize(*split(digits(), 0.25, seed=0))
    x = shaping.normalize_inputs(train.x[:256])
    data = jaxact.Dataset(x, train.y[:256], "multiclass", "digits")
    p = jaxact.init_mlp(jax.random.key(0), depth=20, width=32, in_dim=64, out_dim=10,
                        init=s.init, sigma_w2=s.sigma_w2)  # fmt: skip
    res = jaxact.train(p, data, rec.name, steps=30, log_every=10)
    assert res.history["loss"][-1] < res.history["loss"][0]

    def loss(params):
        out = jaxact.mlp_forward(params, x[:32], rec.name)
        return jnp.mean(out**2)

    d = jaxact.diagnose(loss, p)
    assert len(d.sites) >= 1 and all(rec.name in site.name for site in d.sites)
