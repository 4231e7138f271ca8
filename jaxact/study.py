"""``jaxact study``: the lesson's claims as experiments, each with a verdict and its numbers.

Each experiment is a function of a :class:`StudyConfig` that returns an :class:`Experiment`
record: the claim (quoted from the lesson), what was measured, a verdict (``supported``,
``not supported`` or ``supported with a caveat``) decided by explicit thresholds stated beside
it, and figures. Results are written as soon as each experiment finishes (atomically: write,
then rename), so ``--resume`` skips what an interrupted run already did.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxact import theory
from jaxact.activations import ACTIVATIONS
from jaxact.attenuation import gradient_attenuation
from jaxact.files import atomic_write
from jaxact.mlp import init_mlp, mlp_forward, mlp_trace
from jaxact.training import Dataset, TrainingDiverged, predict, train, two_spirals

# Optimizer objects shared by the experiments, so runs of the same shapes share compiled steps.
_SGD_MOMENTUM = optax.sgd(0.01, momentum=0.9)
_SGD_HIGH = optax.sgd(0.5)

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
CAVEAT = "supported with a caveat"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Sizes for one mode of the study (``quick``, ``default`` or ``full``)."""

    mode: str
    width: int
    n_points: int
    steps: int
    depths: tuple[int, ...]
    he_depth: int
    att_depth: int
    att_width: int
    bench_elements: int
    seed: int = 0

    @staticmethod
    def for_mode(mode: str, seed: int = 0) -> StudyConfig:
        sizes = {
            "quick": dict(width=16, n_points=256, steps=120, depths=(12,), he_depth=12,
                          att_depth=20, att_width=64, bench_elements=2**22),
            "default": dict(width=32, n_points=384, steps=300, depths=(5, 20, 50), he_depth=30,
                            att_depth=50, att_width=128, bench_elements=2**24),
            "full": dict(width=64, n_points=1024, steps=2000, depths=(5, 20, 50, 100),
                         he_depth=30, att_depth=100, att_width=512, bench_elements=2**26),
        }  # fmt: skip
        if mode not in sizes:
            raise ValueError(f"mode must be one of {sorted(sizes)}, got {mode!r}.")
        return StudyConfig(mode=mode, seed=seed, **sizes[mode])


@dataclasses.dataclass
class Experiment:
    """One claim, tested."""

    id: str
    title: str
    claim: str
    verdict: str
    summary: str
    numbers: dict[str, Any]
    figures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Context:
    """What an experiment needs: the config, where figures go, and a step-progress callback."""

    def __init__(self, config: StudyConfig, figures: Path, step_progress: Callable[[int], Any]):
        self.config = config
        self.figures = figures
        self.step_progress = step_progress

    def figure(self, name: str) -> Path:
        return self.figures / name

    def spirals(self) -> Dataset:
        return two_spirals(jr.key(self.config.seed + 100), self.config.n_points)

    def train_net(self, activation, depth, *, init="he", width=None, optimizer=None, data=None,
                  steps=None, seed=None):  # fmt: skip
        data = self.spirals() if data is None else data
        seed = self.config.seed if seed is None else seed
        p = init_mlp(jr.key(seed), depth=depth, width=width or self.config.width,
                     in_dim=data.x.shape[1], out_dim=data.out_dim, init=init)  # fmt: skip
        return train(p, data, activation, optimizer=optimizer, steps=steps or self.config.steps,
                     log_every=max(1, (steps or self.config.steps) // 10),
                     progress=self.step_progress)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# The experiments


def exp_linear(ctx: Context) -> Experiment:
    """1. Without activations a deep network is linear."""
    data = ctx.spirals()
    p = init_mlp(jr.key(1), depth=10, width=ctx.config.width, in_dim=2, out_dim=1,
                 init="lecun", sigma_b2=0.1)  # fmt: skip
    m, c = p.w_in, p.b_in
    for w, b in zip(p.weights, p.biases, strict=True):
        m, c = m @ w, c @ w + b
    m, c = m @ p.w_out, c @ p.w_out + p.b_out
    net = mlp_forward(p, data.x, "identity")
    one_matrix_err = float(jnp.max(jnp.abs(net - (data.x @ m + c))) / jnp.max(jnp.abs(net)))
    linear = ctx.train_net("identity", 10, init="lecun")
    relu = ctx.train_net("relu", 1)
    acc_lin, acc_relu = linear.final_accuracy, relu.final_accuracy
    fig = _plot_decisions(ctx, data, [(linear, "10 identity layers"), (relu, "1 ReLU layer")],
                          "linear_vs_relu.png")  # fmt: skip
    ok = one_matrix_err < 1e-5 and acc_lin < 0.7 and acc_relu > 0.9
    return Experiment(
        "linear", "Without activations, depth buys nothing",
        "Linear combined with linear is still linear - regardless of how many layers you stack.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"A 10-layer identity net equals one affine map to {one_matrix_err:.1e} (relative); "
        f"trained on two spirals it reaches {acc_lin:.0%} accuracy, a 1-hidden-layer ReLU net "
        f"{acc_relu:.0%}.",
        {"one_matrix_relative_error": one_matrix_err, "identity_depth10_accuracy": acc_lin,
         "relu_depth1_accuracy": acc_relu,
         "thresholds": "error < 1e-5, identity accuracy < 70%, ReLU accuracy > 90%"},
        [fig],
    )  # fmt: skip


def exp_ranges(ctx: Context) -> Experiment:
    """2. Ranges and slopes."""
    from jaxact.plotting import plot_activations

    x = jnp.linspace(-60.0, 60.0, 240_001, dtype=jnp.float32)
    out = {}
    for name in ("sigmoid", "tanh", "relu"):
        rec = ACTIVATIONS[name]
        v = rec.fn(x)
        d = rec.derivative(x)
        out[name] = {"min": float(v.min()), "max": float(v.max()),
                     "max_slope": float(jnp.abs(d).max()),
                     "slope_values": sorted({float(s) for s in np.unique(np.asarray(d))})[:5]
                     if name == "relu" else None,
                     "range": str(rec.output_range)}  # fmt: skip
    ok = (
        out["sigmoid"]["min"] >= 0 and out["sigmoid"]["max"] <= 1
        and abs(out["sigmoid"]["max_slope"] - 0.25) < 1e-6
        and out["tanh"]["min"] >= -1 and out["tanh"]["max"] <= 1
        and abs(out["tanh"]["max_slope"] - 1) < 1e-6
        and out["relu"]["slope_values"] == [0.0, 1.0]
    )  # fmt: skip
    fig = plot_activations(ctx.figure("activations.png"), ["sigmoid", "tanh", "relu", "leaky_relu"])
    return Experiment(
        "ranges", "Ranges and slopes",
        "Sigmoid squashes to between 0 and 1; tanh to between -1 and 1; ReLU's gradient is 0 or 1.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"On 240,001 points in [-60, 60]: sigmoid in [{out['sigmoid']['min']:.3g}, "
        f"{out['sigmoid']['max']:.3g}] (the ends are float32 rounding of the open interval), max "
        f"slope {out['sigmoid']['max_slope']:.4g}; tanh max slope {out['tanh']['max_slope']:.4g}; "
        f"ReLU's slopes are exactly {out['relu']['slope_values']}.",
        out, [fig.name],
    )  # fmt: skip


def exp_flat(ctx: Context) -> Experiment:
    """3. Flat at the extremes."""
    pts = [-10.0, -5.0, 0.0, 5.0, 10.0]
    x = jnp.asarray(pts, jnp.float32)
    table = {n: dict(zip(map(str, pts), map(float, ACTIVATIONS[n].derivative(x)), strict=True))
             for n in ("sigmoid", "tanh", "relu")}  # fmt: skip
    ok = table["sigmoid"]["10.0"] < 1e-4 and table["tanh"]["10.0"] < 1e-8
    return Experiment(
        "flat", "Sigmoid and tanh are flat at the extremes",
        "It's almost flat at the extremes. Very high or very low inputs produce near-zero "
        "gradients.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"sigmoid'(+-5) = {table['sigmoid']['5.0']:.2e}, sigmoid'(+-10) = "
        f"{table['sigmoid']['10.0']:.2e}; tanh'(+-5) = {table['tanh']['5.0']:.2e}, tanh'(+-10) = "
        f"{table['tanh']['10.0']:.2e}; relu'(10) = {table['relu']['10.0']:g}.",
        {"derivatives": table, "thresholds": "sigmoid'(10) < 1e-4, tanh'(10) < 1e-8"},
    )  # fmt: skip


def exp_vanishing(ctx: Context) -> Experiment:
    """4. Vanishing gradients, measured beside mean-field theory."""
    from jaxact.plotting import plot_attenuation

    cfg = ctx.config
    x = jr.normal(jr.key(cfg.seed + 7), (64, cfg.att_width), jnp.float32)
    settings = {"sigmoid": ("glorot", 1.0), "tanh": ("glorot", 1.0), "relu": ("he", 2.0)}
    results, rows = [], {}
    for name, (init, s2) in settings.items():
        p = init_mlp(jr.key(cfg.seed), depth=cfg.att_depth, width=cfg.att_width, init=init,
                     sigma_b2=0.05)  # fmt: skip
        r = gradient_attenuation(p, x, name)
        predicted = math.sqrt(theory.chi1(name, s2, 0.05))
        results.append(r)
        rows[name] = {"init": init, "sigma_w2": s2, "sigma_b2": 0.05, "measured_rate": r.rate,
                      "predicted_rate": predicted, "total": r.total,
                      "layers_to_1e-6": r.measured_depth_to(6)}  # fmt: skip
    arithmetic = 0.1**10
    title = (
        f"Gradient norm through {cfg.att_depth} layers "
        f"(width {cfg.att_width}; sigmoid/tanh Glorot, ReLU He)"
    )
    fig = plot_attenuation(results, ctx.figure("vanishing.png"), title=title)
    sig, tanh_, relu = rows["sigmoid"], rows["tanh"], rows["relu"]
    vanish = sig["measured_rate"] < 0.5 and tanh_["measured_rate"] < 0.95
    relu_ok = 0.9 < relu["measured_rate"] < 1.1
    theory_ok = all(abs(r["measured_rate"] / r["predicted_rate"] - 1) < 0.1 for r in rows.values())
    crit = theory.critical_sigma_w2("tanh", 0.05)
    verdict = CAVEAT if vanish and relu_ok else NOT_SUPPORTED
    return Experiment(
        "vanishing", "Vanishing gradients",
        "Multiply 0.1 by itself ten times: you get 0.0000000001.",
        verdict,
        f"0.1^10 = {arithmetic:.0e}. Per layer back, the gradient norm is multiplied by "
        f"{sig['measured_rate']:.3f} (sigmoid; theory {sig['predicted_rate']:.3f}), "
        f"{tanh_['measured_rate']:.3f} (tanh; theory {tanh_['predicted_rate']:.3f}) and "
        f"{relu['measured_rate']:.3f} (ReLU with He init; theory {relu['predicted_rate']:.3f}). "
        f"Caveat: how fast tanh vanishes depends on the initialisation - at sigma_w2 = {crit:.2f} "
        "(the edge of chaos for sigma_b2 = 0.05) it does not vanish at all.",
        {"arithmetic_0.1^10": arithmetic, "per_activation": rows,
         "theory_within_10_percent": theory_ok, "tanh_critical_sigma_w2": crit,
         "thresholds": "sigmoid rate < 0.5, tanh < 0.95, ReLU in (0.9, 1.1)"},
        [fig.name],
    )  # fmt: skip


def exp_relu_passes(ctx: Context) -> Experiment:
    """5. ReLU's gradient is 0 or 1."""
    cfg = ctx.config
    p = init_mlp(jr.key(cfg.seed), depth=10, width=cfg.att_width, init="he")
    x = jr.normal(jr.key(cfg.seed + 3), (64, cfg.att_width), jnp.float32)
    d = ACTIVATIONS["relu"].derivative(mlp_trace(p, x, "relu").pre)
    values = sorted({float(v) for v in np.unique(np.asarray(d))})
    active = float(d.mean())
    ok = values == [0.0, 1.0]
    return Experiment(
        "relu_passes", "ReLU passes gradients through unchanged, or blocks them",
        "ReLU's gradient is either 0 or 1. Gradients pass through ReLU unchanged (for positive "
        "activations) or are blocked entirely.",
        CAVEAT if ok else NOT_SUPPORTED,
        f"In a 10-layer He-initialised ReLU net, phi'(h) takes exactly the values {values}; "
        f"{active:.0%} of the units pass the gradient. Caveat: about half are blocked at any "
        "time, which is why He init doubles the weight variance (sigma_w2 = 2) to keep the "
        "gradient's size - and a unit blocked on every input is dead.",
        {"derivative_values": values, "fraction_active": active},
    )  # fmt: skip


def exp_depth(ctx: Context) -> Experiment:
    """6. Deep ReLU nets train, deep sigmoid nets do not; He et al. 2015's init test."""
    cfg = ctx.config
    rows = {}
    for depth in cfg.depths:
        for name, init in (("relu", "he"), ("sigmoid", "glorot")):
            try:
                acc = ctx.train_net(name, depth, init=init).final_accuracy
            except TrainingDiverged as err:
                acc = float("nan")
                rows.setdefault("diverged", []).append(str(err))
            rows[f"{name}_depth{depth}"] = acc
    sgd = _SGD_MOMENTUM
    he = ctx.train_net("relu", cfg.he_depth, init="he", optimizer=sgd).final_accuracy
    xavier = ctx.train_net("relu", cfg.he_depth, init="glorot", optimizer=sgd).final_accuracy
    rows[f"relu_depth{cfg.he_depth}_he_sgd"] = he
    rows[f"relu_depth{cfg.he_depth}_xavier_sgd"] = xavier
    deepest = max(cfg.depths)
    relu_trains = all(rows[f"relu_depth{d}"] > 0.85 for d in cfg.depths)
    sigmoid_fails = rows[f"sigmoid_depth{deepest}"] < 0.7
    verdict = SUPPORTED if relu_trains and sigmoid_fails else (
        CAVEAT if sigmoid_fails else NOT_SUPPORTED)  # fmt: skip
    fig = _plot_depth(ctx, rows)
    parts = ", ".join(
        f"depth {d}: ReLU {rows[f'relu_depth{d}']:.0%} / sigmoid {rows[f'sigmoid_depth{d}']:.0%}"
        for d in cfg.depths
    )
    failed = [d for d in cfg.depths if rows[f"relu_depth{d}"] <= 0.85]
    if failed:
        parts += (
            f". Caveat: the plain ReLU MLP did not train at depth {', '.join(map(str, failed))} "
            "either in this budget - ReLU alone does not make any depth trainable; the "
            "networks of 50+ layers the lesson has in mind also had residual connections "
            "(ResNets) and normalisation"
        )
    return Experiment(
        "depth", "Deep networks become trainable with ReLU",
        "This meant you could train networks with 50, 100, or more layers.",
        verdict,
        f"Two spirals, width {cfg.width}, {cfg.steps} Adam steps, accuracy: {parts}. He et al. "
        f"(2015)'s test, {cfg.he_depth}-layer ReLU net with SGD + momentum: He init "
        f"{he:.0%}, Xavier init {xavier:.0%}.",
        {**rows, "thresholds": "ReLU > 85% at every depth; sigmoid < 70% at the deepest"},
        [fig],
    )  # fmt: skip


def exp_speed(ctx: Context) -> Experiment:
    """7. ReLU is cheaper to compute - where compute, not memory, is the bottleneck."""
    from jaxact.bench import activations as ba
    from jaxact.bench import mlp as bm
    from jaxact.bench.timing import measure

    cfg = ctx.config
    small = jr.normal(jr.key(0), (ba.RESIDENT_ELEMENTS // 128, 128), jnp.float32)
    big = jr.normal(jr.key(0), (cfg.bench_elements // 128, 128), jnp.float32)
    t = {}
    reps = {"repeats": 3, "min_time": 0.02} if cfg.mode == "quick" else {"repeats": 7}
    for name in ("sigmoid", "relu"):
        rec = ACTIVATIONS[name]
        t[name] = {
            "resident": measure(ba.resident_kernel(rec, 50, False), small, **reps).median,
            "memory": measure(ba.memory_kernel(rec, False), big, **reps).median,
        }
    width, depth, batch = 256, 10, 128
    params = init_mlp(jr.key(0), depth=depth, width=width)
    xb, yb = bm.random_batch(width, batch)
    for name in ("sigmoid", "relu"):
        t[name]["mlp_step"] = measure(bm.train_step_fn(name), params, xb, yb, **reps).median
    ratio = {k: t["sigmoid"][k] / t["relu"][k] for k in ("resident", "memory", "mlp_step")}
    ok = ratio["resident"] > 1.5
    return Experiment(
        "speed", "ReLU is cheaper to compute",
        "Computing ReLU is a comparison ... one of the cheapest operations a processor can do.",
        CAVEAT if ok else NOT_SUPPORTED,
        f"sigmoid / ReLU time: {ratio['resident']:.1f}x with data in cache, "
        f"{ratio['memory']:.2f}x streaming {cfg.bench_elements * 4 // 2**20} MiB from memory, "
        f"{ratio['mlp_step']:.2f}x for a whole MLP training step (depth {depth}, width {width}) "
        f"on {jax.devices()[0].device_kind}. Caveat: the difference shows only when the "
        "activation is the bottleneck; memory traffic and matmuls usually are.",
        {"seconds": t, "sigmoid_over_relu": ratio, "threshold": "cache-resident ratio > 1.5"},
    )  # fmt: skip


def exp_dead(ctx: Context) -> Experiment:
    """8. Leaky ReLU prevents dead neurons."""
    cfg = ctx.config
    depth = 5
    opt = _SGD_HIGH  # a deliberately high learning rate
    rows = {}
    for name in ("relu", "leaky_relu"):
        try:
            r = ctx.train_net(name, depth, init="he", optimizer=opt)
            dead = float(np.mean(r.history["dead"][-1]))
            acc = r.final_accuracy
        except TrainingDiverged as err:
            dead, acc = float("nan"), float("nan")
            rows[f"{name}_error"] = str(err)
        rows[f"{name}_dead_fraction"] = dead
        rows[f"{name}_accuracy"] = acc
    ok = rows["leaky_relu_dead_fraction"] == 0 and rows["relu_dead_fraction"] > 0.05
    return Experiment(
        "dead", "Leaky ReLU prevents dead neurons",
        "Leaky ReLU ... allows a small negative output, preventing 'dead neurons' where a ReLU "
        "is permanently zero.",
        SUPPORTED if ok else (CAVEAT if rows["leaky_relu_dead_fraction"] == 0 else NOT_SUPPORTED),
        f"After {cfg.steps} SGD steps at learning rate 0.5 ({depth} layers, width {cfg.width}), "
        f"{rows['relu_dead_fraction']:.0%} of ReLU units are dead (zero gradient on every "
        f"training input) against {rows['leaky_relu_dead_fraction']:.0%} for Leaky ReLU.",
        {**rows, "threshold": "Leaky ReLU 0% dead, ReLU > 5% dead"},
    )  # fmt: skip


def exp_outputs(ctx: Context) -> Experiment:
    """9. Sigmoid for binary outputs, softmax for multi-class."""
    cfg = ctx.config
    data = ctx.spirals()
    r = ctx.train_net("relu", ctx.config.depths[0])  # same net as in "depth": compiled once
    prob = predict(r.params, data.x, "relu", "binary")[:, 0]
    k = jr.key(cfg.seed + 11)
    x3 = jr.normal(k, (cfg.n_points, 2), jnp.float32)
    y3 = (jnp.arctan2(x3[:, 1], x3[:, 0]) + jnp.pi) // (2 * jnp.pi / 3)
    three = Dataset(x3, y3.astype(jnp.int32), "multiclass", "three sectors")
    r3 = ctx.train_net("relu", ctx.config.depths[0], data=three)
    p3 = predict(r3.params, x3, "relu", "multiclass")
    sums = jnp.abs(p3.sum(-1) - 1)
    numbers = {
        "binary_prob_min": float(prob.min()), "binary_prob_max": float(prob.max()),
        "binary_accuracy": r.final_accuracy, "multiclass_max_sum_error": float(sums.max()),
        "multiclass_accuracy": r3.final_accuracy,
    }  # fmt: skip
    ok = 0 <= numbers["binary_prob_min"] and numbers["binary_prob_max"] <= 1 and float(
        sums.max()) < 1e-5  # fmt: skip
    return Experiment(
        "outputs", "Sigmoid for binary outputs, softmax for multi-class",
        "Use sigmoid for binary classification output layers ... For multi-class classification "
        "output, use softmax instead.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"Binary (two spirals): sigmoid outputs in [{numbers['binary_prob_min']:.3g}, "
        f"{numbers['binary_prob_max']:.3g}], accuracy {r.final_accuracy:.0%}. Three classes: "
        f"softmax rows sum to 1 within {numbers['multiclass_max_sum_error']:.1e}, accuracy "
        f"{r3.final_accuracy:.0%}.",
        numbers,
    )  # fmt: skip


EXPERIMENTS: list[tuple[str, Callable[[Context], Experiment]]] = [
    ("linear", exp_linear), ("ranges", exp_ranges), ("flat", exp_flat),
    ("vanishing", exp_vanishing), ("relu_passes", exp_relu_passes), ("depth", exp_depth),
    ("speed", exp_speed), ("dead", exp_dead), ("outputs", exp_outputs),
]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Figures used by several experiments


def _plot_decisions(ctx: Context, data: Dataset, runs, name: str) -> str:
    from jaxact.plotting import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4))
    g = np.linspace(-1.3, 1.3, 161)
    gx, gy = np.meshgrid(g, g)
    grid = jnp.asarray(np.c_[gx.ravel(), gy.ravel()], jnp.float32)
    for ax, (r, label) in zip(np.atleast_1d(axes), runs, strict=True):
        prob = np.asarray(predict(r.params, grid, r.activation, "binary"))[:, 0]
        ax.contourf(gx, gy, prob.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.6)
        xy, y = np.asarray(data.x), np.asarray(data.y)
        ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="RdBu_r", s=6, edgecolors="k", linewidths=0.2)
        ax.set_title(f"{label}: accuracy {r.final_accuracy:.0%}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Two spirals: predicted probability of class 1", fontsize=11)
    save_figure(fig, ctx.figure(name), 100)
    return name


def _plot_depth(ctx: Context, rows) -> str:
    from jaxact.plotting import pyplot, save_figure

    plt = pyplot()
    depths = list(ctx.config.depths)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, style in (("relu", "-o"), ("sigmoid", "-s")):
        ax.plot(depths, [rows[f"{name}_depth{d}"] for d in depths], style, label=name)
    ax.axhline(0.5, color="0.6", ls=":", lw=1)
    ax.text(depths[0], 0.52, "chance", fontsize=8, color="0.4")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_ylim(0.3, 1.02)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("training accuracy (two spirals)")
    ax.set_title("Which deep networks learn")
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, ctx.figure("depth.png"), 100)
    return "depth.png"


# ----------------------------------------------------------------------------------------------
# Running it


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return _jsonable(v.item())
    return v


def run_study(
    out: str | Path = "jaxact-study",
    *,
    mode: str = "default",
    resume: bool = False,
    only: list[str] | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> list[Experiment]:
    """Run the experiments, writing each result as it finishes, then the report.

    Args:
      out: output directory (``results/<id>.json``, ``figures/*.png``, ``results.json``,
        ``report.md``, ``report.html``).
      mode: ``quick`` (CI smoke test), ``default`` or ``full`` (bigger nets, for a GPU).
      resume: reuse results already in ``out`` from an earlier run of the same mode and seed.
      only: run only these experiment ids.
    """
    from tqdm.auto import tqdm

    from jaxact.bench.timing import device_info
    from jaxact.report import write_report

    config = StudyConfig.for_mode(mode, seed)
    out = Path(out)
    results_dir, figures = out / "results", out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    ids = [i for i, _ in EXPERIMENTS]
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; valid: {', '.join(ids)}.")
    chosen = [(i, f) for i, f in EXPERIMENTS if not only or i in only]
    bar = tqdm(total=len(chosen), desc="experiments", unit="exp", disable=not show_progress,
               position=0)  # fmt: skip
    steps_bar = tqdm(desc="training steps", unit="step", disable=not show_progress,
                     position=1, leave=False)  # fmt: skip
    ctx = Context(config, figures, steps_bar.update)
    done: list[Experiment] = []
    for exp_id, fn in chosen:
        path = results_dir / f"{exp_id}.json"
        if resume and path.exists():
            saved = json.loads(path.read_text())
            # Compare through JSON, as saved (tuples come back as lists).
            if saved.get("config") == json.loads(json.dumps(_jsonable(dataclasses.asdict(config)))):
                done.append(Experiment(**saved["experiment"]))
                bar.set_postfix_str(f"{exp_id} (resumed)")
                bar.update(1)
                continue
        bar.set_postfix_str(exp_id)
        t0 = time.perf_counter()
        exp = fn(ctx)
        exp.seconds = time.perf_counter() - t0
        atomic_write(
            path,
            json.dumps(
                _jsonable({"config": dataclasses.asdict(config), "experiment": exp.as_dict()}),
                indent=1,
            ),
        )
        done.append(exp)
        bar.update(1)
    steps_bar.close()
    bar.close()
    command = f"jaxact study --{mode}" if mode != "default" else "jaxact study"
    meta = {"config": dataclasses.asdict(config), "device": device_info(), "command": command}
    atomic_write(out / "results.json", json.dumps(_jsonable(
        {**meta, "experiments": [e.as_dict() for e in done]}), indent=1))  # fmt: skip
    write_report(out, done, meta)
    return done
