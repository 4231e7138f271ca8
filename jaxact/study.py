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
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact import study_figures as figs
from jaxact import theory
from jaxact.activations import ACTIVATIONS
from jaxact.attenuation import gradient_attenuation
from jaxact.datasets import Dataset, digits, mnist1d, split, standardize, two_spirals
from jaxact.files import (
    SCHEMA_VERSION,
    atomic_write,
    claim_output_dir,
    hold_output,
    mark_output_dir,
)
from jaxact.initializers import get_initializer, resolve_sigma_w2
from jaxact.mlp import init_mlp, mlp_forward, mlp_trace, trace_statistics
from jaxact.progress import Interrupted, Progress
from jaxact.shaping import normalize_inputs
from jaxact.sweeps import Run, train_runs
from jaxact.trainability import (
    RECIPES,
    GridSettings,
    cell_summary,
    fluctuation_cells,
    grid_runs,
    he_xavier_runs,
    map_runs,
    recipe_run,
    run_grid,
    signal_at_init,
    six_xi_c,
    width_runs,
)
from jaxact.training import predict, train

__all__ = [
    "CAVEAT",
    "EXPERIMENTS",
    "NOT_SUPPORTED",
    "NOT_TESTED",
    "SUPPORTED",
    "Experiment",
    "StudyConfig",
    "run_study",
    "supported_only",
]

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
CAVEAT = "supported with a caveat"
#: The verdict of a claim whose rule cannot be applied at the run's sizes (``--quick``).
NOT_TESTED = "not tested at this size"
#: The smallest depth at which claim 6's rule decides anything (the claim is about 50+ layers).
DEEP = 50


def supported_only(condition: str) -> str:
    """The verdict of a claim that holds only under ``condition``.

    Args:
      condition: how the claim has to be qualified, e.g. ``"with residual connections"``.

    Returns:
      The verdict string.

    >>> from jaxact.study import supported_only
    >>> supported_only("with residual connections")
    'supported only with residual connections'
    """
    return f"supported only {condition}"


# The depth grid's recipes per mode (jaxact.trainability.RECIPES): the default run trains the
# plain and residual He ReLU and the TAT leaky ReLU at depths 50 and 100 and the other plain
# recipes at 50 (each shaped net is a compiled program of its own: the default run's budget).
_ALL = (
    "he_relu",
    "residual_relu",
    "tat_leaky_relu",
    "dks_tanh",
    "dks_softplus",
    "critical_tanh",
    "glorot_tanh",
    "glorot_sigmoid",
)
_GRIDS = {
    "quick": GridSettings(depths=(20,), width=16, steps=60, batch_size=64, seeds=3,
                          lr_momentum=0.01, lr_adam=3e-3, widths=(16,), width_depths=(20,),
                          he_depth=20, he_width=16, he_steps=60, he_lr=0.002,
                          map_sigma_w2=(), fluct_depths=(), fluct_widths=(),
                          fluct_inits=128,
                          recipes=tuple((n, (20,)) for n in ("he_relu", "residual_relu",
                                                              "tat_leaky_relu"))),
    "default": GridSettings(depths=(50, 100), width=32, steps=300, batch_size=128, seeds=3,
                            lr_momentum=2e-3, lr_adam=5e-4, widths=(16, 32, 64),
                            width_depths=(), he_depth=30, he_width=128, he_steps=300,
                            he_lr=0.002, map_sigma_w2=(0.5, 1.0, 1.76, 2.5, 4.0),
                            fluct_depths=(10, 25, 50, 100), fluct_widths=(16, 32, 64),
                            fluct_inits=512, map_depths=(10, 50, 100), map_steps=150,
                            map_lr=0.01,
                            recipes=(("he_relu", (50, 100)), ("residual_relu", (50, 100)),
                                     ("tat_leaky_relu", (50, 100)), ("dks_tanh", (50,)),
                                     ("dks_softplus", (50,)), ("critical_tanh", (50,)))),
    "full": GridSettings(depths=(50, 100, 200), width=64, steps=1000, batch_size=128,
                         seeds=5, lr_momentum=1e-3, lr_adam=3e-4, widths=(16, 32, 64, 128),
                         width_depths=(50, 100, 200), he_depth=30, he_width=128,
                         he_steps=1500, he_lr=0.002,
                         map_sigma_w2=(0.5, 0.75, 1.0, 1.25, 1.5, 1.76, 2.0, 2.5, 3.0, 4.0),
                         fluct_depths=(10, 25, 50, 100, 200), fluct_widths=(16, 32, 64, 128),
                         fluct_inits=1024, map_depths=(10, 50, 100, 200), map_steps=1000,
                         map_lr=0.01, map_inits=("gaussian", "orthogonal"),
                         recipes=tuple((n, (50, 100, 200)) for n in _ALL)),
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Sizes for one mode of the study (``quick``, ``default`` or ``full``).

    Two spirals (claims 1 and 9): ``n_points``, ``spiral_width``, ``steps`` (Adam). Claim 4:
    ``att_depth`` x ``att_width``. Claim 7: ``bench_elements`` streamed. Claim 6: ``grid`` on
    digits (and MNIST-1D with ``mnist1d``). Claim 8: ``dead_steps`` of SGD at ``dead_lr``.
    """

    mode: str
    spiral_width: int
    n_points: int
    steps: int
    att_depth: int
    att_width: int
    bench_elements: int
    grid: GridSettings
    dead_steps: int
    dead_lr: float
    mnist1d: bool = False
    seed: int = 0

    @staticmethod
    def for_mode(mode: str, seed: int = 0) -> StudyConfig:
        sizes = {
            "quick": dict(spiral_width=16, n_points=256, steps=120, att_depth=20, att_width=64,
                          bench_elements=2**22, dead_steps=60),
            "default": dict(spiral_width=32, n_points=384, steps=300, att_depth=50,
                            att_width=128, bench_elements=2**24, dead_steps=200),
            "full": dict(spiral_width=64, n_points=1024, steps=2000, att_depth=100,
                         att_width=512, bench_elements=2**26, dead_steps=1000, mnist1d=True),
        }  # fmt: skip
        if mode not in sizes:
            raise ValueError(f"mode must be one of {sorted(sizes)}, got {mode!r}.")
        return StudyConfig(mode=mode, seed=seed, grid=_GRIDS[mode], dead_lr=0.5, **sizes[mode])


#: What a study writes in its ``--out`` folder: name -> ``"dir"`` or ``"file"`` (a clash with
#: a user's file of the other type is refused before any work).
STUDY_LAYOUT = {"results": "dir", "figures": "dir", "results.json": "file", "report.md": "file",
                "report.html": "file"}  # fmt: skip


@dataclasses.dataclass
class Experiment:
    """One claim, tested: the verdict follows from ``decided_by``, fixed before the run."""

    id: str
    title: str
    claim: str
    verdict: str
    summary: str
    numbers: dict[str, Any]
    figures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    decided_by: str = ""
    #: The detail behind a short ``summary``: ``[title, text]`` paragraphs (folded in the
    #: report).
    details: list[list[str]] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Context:
    """What an experiment needs: the config, where figures go, and progress callbacks."""

    def __init__(self, config: StudyConfig, figures: Path, progress: Progress | None = None):
        self.config = config
        self.figures = figures
        self.progress = Progress(0, enabled=False) if progress is None else progress
        #: Callbacks for the training loops: steps done, networks trained to the end.
        self.step_progress: Callable[[int], Any] = self.progress.add_steps
        self.run_progress: Callable[[int], Any] = self.progress.add_runs
        self._digits = None
        self._trained: dict[tuple, Any] = {}

    def figure(self, name: str) -> Path:
        return self.figures / name

    def stage(self, text: str) -> None:
        """Say what a long experiment is doing now (a progress line off a terminal)."""
        self.progress.stage(text)

    def spirals(self) -> Dataset:
        return two_spirals(jr.key(self.config.seed + 100), self.config.n_points)

    def digits(self) -> tuple[Dataset, Dataset]:
        """scikit-learn's digits: the fixed stratified 75/25 split, standardised."""
        if self._digits is None:
            self._digits = standardize(*split(digits(), 0.25, seed=0))
        return self._digits

    def train_net(self, activation, depth, *, init="he", width=None, optimizer=None, data=None,
                  steps=None, seed=None):  # fmt: skip
        """Train on two spirals (or ``data``) with :func:`~jaxact.train`; the same arguments
        give the same (cached) result, so experiments can share a network."""
        key = (activation, depth, init, width, id(optimizer), id(data), steps, seed)
        if key not in self._trained:
            self._trained[key] = self._train(activation, depth, init=init, width=width,
                                             optimizer=optimizer, data=data, steps=steps,
                                             seed=seed)  # fmt: skip
        return self._trained[key]

    def _train(self, activation, depth, *, init, width, optimizer, data, steps, seed):
        data = self.spirals() if data is None else data
        seed = self.config.seed if seed is None else seed
        steps = steps or self.config.steps
        p = init_mlp(jr.key(seed), depth=depth, width=width or self.config.spiral_width,
                     in_dim=data.x.shape[1], out_dim=data.out_dim, init=init)  # fmt: skip
        return train(p, data, activation, optimizer=optimizer, steps=steps, log_every=steps,
                     progress=self.step_progress)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# The experiments


def exp_linear(ctx: Context) -> Experiment:
    """1. Without activations a deep network is linear."""
    data = ctx.spirals()
    p = init_mlp(jr.key(1), depth=10, width=ctx.config.spiral_width, in_dim=2, out_dim=1,
                 init="lecun", sigma_b2=0.1)  # fmt: skip
    m, c = p.w_in, p.b_in
    for w, b in zip(p.weights, p.biases, strict=True):
        m, c = m @ w, c @ w + b
    m, c = m @ p.w_out, c @ p.w_out + p.b_out
    net = mlp_forward(p, data.x, "identity")
    one_matrix_err = float(jnp.max(jnp.abs(net - (data.x @ m + c))) / jnp.max(jnp.abs(net)))
    linear = ctx.train_net("identity", 10, init="lecun")
    relu = ctx.train_net("relu", 3)  # the same net as claim 9's: trained once
    acc_lin, acc_relu = linear.final_accuracy, relu.final_accuracy
    fig = _decisions(ctx, data, [(linear, "10 identity layers"), (relu, "3 ReLU layers")],
                     "linear_vs_relu.png")  # fmt: skip
    ok = one_matrix_err < 1e-5 and acc_lin < 0.7 and acc_relu > 0.9
    return Experiment(
        "linear", "Without activations, depth buys nothing",
        "Linear combined with linear is still linear - regardless of how many layers you stack.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"A 10-layer identity net equals one affine map to {one_matrix_err:.1e} (relative "
        f"error, float32); trained on two spirals ({ctx.config.steps} Adam steps) it reaches "
        f"{acc_lin:.0%} training accuracy, a 3-hidden-layer ReLU net {acc_relu:.0%}.",
        {"one_matrix_relative_error": one_matrix_err, "identity_depth10_accuracy": acc_lin,
         "relu_depth3_accuracy": acc_relu},
        [fig],
        decided_by="supported if the 10-layer identity net matches one affine map to a relative "
                   "error < 1e-5, reaches < 70% on two spirals (a line gets ~65%) and the "
                   "3-layer ReLU net > 90%; otherwise not supported.",
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
    fig = plot_activations(ctx.figure("activations.png"), ["sigmoid", "tanh", "relu", "leaky_relu"],
                           cols=2, dpi=100)  # fmt: skip
    return Experiment(
        "ranges", "Ranges and slopes",
        "Sigmoid squashes to between 0 and 1; tanh to between -1 and 1; ReLU's gradient is 0 or 1.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"On 240,001 points in [-60, 60]: sigmoid in [{out['sigmoid']['min']:.3g}, "
        f"{out['sigmoid']['max']:.3g}] (the ends are float32 rounding of the open interval), max "
        f"slope {out['sigmoid']['max_slope']:.4g}; tanh max slope {out['tanh']['max_slope']:.4g}; "
        f"ReLU's slopes are exactly {out['relu']['slope_values']}.",
        out, [fig.name],
        decided_by="supported if sigmoid stays in [0, 1] with max slope 0.25 (to 1e-6), tanh in "
                   "[-1, 1] with max slope 1, and ReLU's slope takes only the values 0 and 1.",
    )  # fmt: skip


def exp_flat(ctx: Context) -> Experiment:
    """3. Flat at the extremes."""
    pts = [-10.0, -5.0, 0.0, 5.0, 10.0]
    x = jnp.asarray(pts, jnp.float32)
    table = {n: dict(zip(map(str, pts), map(float, ACTIVATIONS[n].derivative(x)), strict=True))
             for n in ("sigmoid", "tanh", "relu")}  # fmt: skip
    ok = table["sigmoid"]["10.0"] < 1e-4 and table["tanh"]["10.0"] < 1e-8
    fig = figs.derivatives(["sigmoid", "tanh", "relu"], [-10, -5, 5, 10],
                           ctx.figure("flat.png"))  # fmt: skip
    return Experiment(
        "flat", "Sigmoid and tanh are flat at the extremes",
        "It's almost flat at the extremes. Very high or very low inputs produce near-zero "
        "gradients.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"sigmoid'(+-5) = {table['sigmoid']['5.0']:.2e}, sigmoid'(+-10) = "
        f"{table['sigmoid']['10.0']:.2e} (its peak is 0.25); tanh'(+-5) = "
        f"{table['tanh']['5.0']:.2e}, tanh'(+-10) = {table['tanh']['10.0']:.2e} (peak 1); "
        f"relu'(10) = {table['relu']['10.0']:g}.",
        {"derivatives": table},
        [fig.name],
        decided_by="supported if sigmoid'(10) < 1e-4 (1/2500 of its peak) and tanh'(10) < 1e-8.",
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
    low = _low_precision(ctx, settings, {r.activation: r for r in results}, x)
    arithmetic = 0.1**10
    title = (
        f"Gradient norm through {cfg.att_depth} layers "
        f"(width {cfg.att_width}; sigmoid/tanh Glorot, ReLU He)"
    )
    fig = plot_attenuation(results, ctx.figure("vanishing.png"), title=title)
    low_fig = figs.low_precision(low, cfg.att_depth, ctx.figure("vanishing_low_precision.png"))
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
        "(the edge of chaos for sigma_b2 = 0.05) it does not vanish at all. "
        + _low_precision_sentence(low),
        {"arithmetic_0.1^10": arithmetic, "per_activation": rows,
         "theory_within_10_percent": theory_ok, "tanh_critical_sigma_w2": crit,
         "low_precision": low},
        [fig.name, low_fig.name],
        decided_by="supported (with the initialisation caveat, which always applies) if the "
                   "fitted per-layer factor is < 0.5 for sigmoid, < 0.95 for tanh and in "
                   "(0.9, 1.1) for He-initialised ReLU; otherwise not supported.",
    )  # fmt: skip


#: The smallest positive number each low-precision format keeps in a backward pass here:
#: float16's smallest subnormal; bfloat16's smallest normal (XLA on CPU flushes subnormals).
LOW_PRECISION_FLOOR = {"float16": 2.0**-24, "bfloat16": 2.0**-126}


def _low_precision(ctx: Context, settings: dict, measured: dict, x) -> dict[str, Any]:
    """Claim 4 in float16 and bfloat16: per activation, the fraction of each layer's dL/dh
    that is exactly 0 (:func:`jaxact.precision_census` at loss scale 1), the deepest layer
    where at least half of it is lost, and the layer the per-layer rate predicts: where the
    reference's RMS entry, ``e_L rate**(L - l)`` from the last layer's, falls below the
    format's floor (:data:`LOW_PRECISION_FLOOR`)."""
    from jaxact.precision import precision_census

    cfg = ctx.config
    u = jr.normal(jr.key(cfg.seed + 11), (cfg.att_width,), jnp.float32)
    u = u / jnp.linalg.norm(u)
    out: dict[str, Any] = {}
    for name, (init, _) in settings.items():
        ctx.stage(f"{name} in float16 and bfloat16")
        p = init_mlp(jr.key(cfg.seed), depth=cfg.att_depth, width=cfg.att_width, init=init,
                     sigma_b2=0.05)  # fmt: skip

        def loss(p, x, name=name):
            return jnp.mean(mlp_forward(p, x, name) @ u.astype(x.dtype))

        rate = measured[name].rate
        per = {}
        for dtype, floor in LOW_PRECISION_FLOOR.items():
            c = precision_census(loss, p, x, dtype=dtype, loss_scales=[1.0])
            lost = np.asarray(c.underflow, np.float64)[0]
            half = np.nonzero(lost >= 0.5)[0]
            entries = np.asarray([math.prod(s.shape) for s in c.sites], np.float64)
            rms = np.asarray(c.reference_norm, np.float64) / np.sqrt(entries)
            depth = len(lost)
            predicted = None
            if 0 < rate < 1 and rms[-1] > floor:
                back = math.log(floor / rms[-1]) / math.log(rate)  # layers back from the last
                layer = math.floor(depth - back)
                predicted = layer if layer >= 1 else None
            per[dtype] = {"lost_per_layer": lost.tolist(),
                          "layer_lost": int(half[-1]) + 1 if half.size else None,
                          "predicted_layer": predicted, "floor": floor,
                          "rms_last": float(rms[-1]), "rate": rate}  # fmt: skip
        out[name] = per
    return out


def _low_precision_sentence(low: dict[str, Any]) -> str:
    def where(r):
        if r["layer_lost"] is None:
            return "keeps it"
        pred = "not predicted" if r["predicted_layer"] is None else (
            f"predicted {r['predicted_layer']}")  # fmt: skip
        return f"loses it from layer {r['layer_lost']} down ({pred})"

    parts = []
    for dtype, floor in LOW_PRECISION_FLOOR.items():
        acts = ", ".join(f"{name} {where(per[dtype])}" for name, per in low.items())
        parts.append(f"in {dtype} (smallest number {floor:.1e}) {acts}")
    return (
        "At loss scale 1, " + "; ".join(parts) + " - layer numbers count from the input; "
        "'lost' is half or more of the layer's dL/dh exactly 0 while float32's is not."
    )


def exp_relu_passes(ctx: Context) -> Experiment:
    """5. ReLU's gradient is 0 or 1."""
    cfg = ctx.config
    p = init_mlp(jr.key(cfg.seed), depth=10, width=cfg.att_width, init="he")
    x = jr.normal(jr.key(cfg.seed + 3), (64, cfg.att_width), jnp.float32)
    trace = mlp_trace(p, x, "relu")
    d = ACTIVATIONS["relu"].derivative(trace.pre)
    values = sorted({float(v) for v in np.unique(np.asarray(d))})
    # Entries that pass the gradient: all but zero_grad's (jaxact.vocabulary).
    per_layer = (1.0 - np.asarray(trace_statistics(trace, "relu").zero_grad, np.float64)).tolist()
    active = float(np.mean(per_layer))  # every layer has the same number of entries
    ok = values == [0.0, 1.0]
    fig = figs.active_fraction(per_layer, ctx.figure("relu_passes.png"))
    return Experiment(
        "relu_passes", "ReLU passes gradients through unchanged, or blocks them",
        "ReLU's gradient is either 0 or 1. Gradients pass through ReLU unchanged (for positive "
        "activations) or are blocked entirely.",
        CAVEAT if ok else NOT_SUPPORTED,
        f"In a 10-layer He-initialised ReLU net (width {cfg.att_width}, 64 random inputs), "
        f"phi'(h) takes exactly the values {values}; {active:.0%} of the (unit, input) pairs "
        "pass the gradient. Caveat: about half are blocked at any time, which is why He init "
        "doubles the weight variance (sigma_w2 = 2) to keep the gradient's size - and a unit "
        "blocked on every input is dead (claim 8).",
        {"derivative_values": values, "fraction_active": active,
         "fraction_active_per_layer": per_layer},
        [fig.name],
        decided_by="supported with the blocking caveat (always stated) if phi'(h) takes only "
                   "the values 0 and 1 over every layer and input; otherwise not supported.",
    )  # fmt: skip


_GRID_KEYS = ("recipe", "optimizer", "depth")


def _cell_rows(cells) -> list[dict[str, Any]]:
    return [dict(zip(_GRID_KEYS, k, strict=True)) | v for k, v in cells.items()]


def _map_sentence(map_recs, s: GridSettings) -> str:
    """What the trainability map measured, depth by depth, beside what 6 xi_c allows."""
    parts = []
    for init in dict.fromkeys(r["init"] for r in map_recs):
        for d in sorted({r["depth"] for r in map_recs if r["init"] == init}):
            rs = [r for r in map_recs if r["depth"] == d and r["init"] == init]
            best = max(rs, key=lambda r: -1.0 if r["test_accuracy"] is None
                       else r["test_accuracy"])  # fmt: skip
            allowed = [r["sigma_w2"] for r in rs
                       if six_xi_c("tanh", r["sigma_w2"], s.map_sigma_b2) > d]  # fmt: skip
            where = (f"6 xi_c > {d} for sigma_w2 in [{min(allowed):g}, {max(allowed):g}]"
                     if allowed else f"6 xi_c < {d} everywhere on the grid")  # fmt: skip
            parts.append(f"{init} weights, depth {d}: best {best['test_accuracy']:.0%} "
                         f"(sigma_w2 = {best['sigma_w2']:g}; {where})")  # fmt: skip
    steps = s.map_steps or s.steps
    return (
        f"Trainability map (plain tanh, sigma_b2 = {s.map_sigma_b2:g}, SGD + momentum, {steps} "
        "steps, one seed per cell), best test accuracy over sigma_w2: "
        + "; ".join(parts)
        + ". 6 xi_c bounds the depth at which a signal can still carry information; it does "
        "not promise training within this step budget."
    )


def _factor(x: float) -> str:
    """``x12``, ``x1,230``: a multiplicative factor for a sentence."""
    return f"x{x:,.0f}" if x >= 100 else f"x{x:.2g}"


def _normalized(data: Dataset) -> Dataset:
    """Each example scaled to ``||x||^2 / dim = 1``: the input variance kernel shaping assumes
    (the same data for every recipe)."""
    return Dataset(normalize_inputs(data.x), data.y, data.task,
                   f"{data.name}, normalised per example")  # fmt: skip


def _why_at_init(s: GridSettings, depth: int, xs: jax.Array, recipes) -> dict[str, Any]:
    """Per recipe at ``depth``: the measured signal at initialisation, the theory's composed
    C map from the inputs' mean correlation, and the Jacobian spectrum's moments."""
    u = np.asarray(xs, np.float64)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    g = u @ u.T
    c_in = float((g.sum() - np.trace(g)) / (len(u) * (len(u) - 1)))
    out: dict[str, Any] = {"input_correlation": c_in, "recipes": {}}
    for name in recipes:
        r = recipe_run(name, depth, s.width, optimizer="adam", learning_rate=1.0, seed=0)
        rec = RECIPES[name]
        sw2 = resolve_sigma_w2(r.init, s.width, s.width, r.sigma_w2)
        row: dict[str, Any] = {
            "label": rec.label, "activation": r.activation, "init": r.init, "sigma_w2": sw2,
            "signal": signal_at_init(r.activation, depth, s.width, xs, init=r.init,
                                     residual=r.residual, sigma_w2=r.sigma_w2),
        }  # fmt: skip
        if rec.plain:
            row["c_map"] = theory.composed_c_map(r.activation, c_in, depth,
                                                 sigma_w2=sw2)[1:].tolist()  # fmt: skip
            weights = "orthogonal" if get_initializer(r.init).orthogonal else "gaussian"
            spec = theory.jacobian_spectrum(r.activation, sw2, 0.0, depth, weights)
            row |= {"jacobian_mean": spec.mean, "jacobian_variance": spec.variance,
                    "network_c0": theory.composed_c_map(r.activation, 0.0, depth,
                                                        sigma_w2=sw2)[-1]}  # fmt: skip
        out["recipes"][name] = row
    return out


def _deep_verdict(cells, depth: int) -> tuple[str, list[str]]:
    """The claim's verdict from the grid's cells at ``depth``, and the recipes that reach 90%."""
    ok = sorted({k[0] for k, v in cells.items() if k[2] == depth and v["mean"] >= 0.9})
    if "he_relu" in ok:
        return SUPPORTED, ok
    fixes = []
    if any(RECIPES[n].plain and (RECIPES[n].shaping or RECIPES[n].critical) for n in ok):
        fixes.append("with the activation shaped to the depth (TAT/DKS) or orthogonal weights "
                     "at the edge of chaos")  # fmt: skip
    if any(RECIPES[n].residual for n in ok):
        fixes.append("with residual connections")
    return (supported_only(", or ".join(fixes)) if fixes else NOT_SUPPORTED), ok


def _he_xavier(records) -> dict[str, Any]:
    """He et al. (2015)'s test from its runs: accuracy cells per (init, optimizer), the final
    losses under SGD + momentum, whether the target is met, and the He - Xavier gaps."""
    hx = cell_summary(records, ("init", "optimizer"))
    hx_loss = cell_summary(records, ("init", "optimizer"), "final_loss")
    he_l, xa_l = hx_loss[("he", "momentum")]["mean"], hx_loss[("glorot", "momentum")]["mean"]
    he, xa = hx[("he", "momentum")], hx[("glorot", "momentum")]
    return {
        "he": he, "xavier": xa, "he_loss": he_l, "xavier_loss": xa_l,
        "target_met": he["mean"] >= 0.9 and xa_l - he_l >= 0.5,
        "gap_sgd": he["mean"] - xa["mean"],
        "gap_adam": hx[("he", "adam")]["mean"] - hx[("glorot", "adam")]["mean"],
        "cells": {f"{i}_{o}": hx[(i, o)] | {"final_loss_mean": hx_loss[(i, o)]["mean"]}
                  for i, o in hx},
    }  # fmt: skip


def _depth_limit(records, sigma_b2: float) -> list[tuple[float, float]]:
    """Schoenholz et al.'s depth limit ``6 xi_c`` of tanh across the map's ``sigma_w2`` range
    (25 points), for its figure."""
    ws = [r["sigma_w2"] for r in records]
    return [(float(v), six_xi_c("tanh", float(v), sigma_b2))
            for v in np.linspace(min(ws), max(ws), 25)]  # fmt: skip


def _depth_figures(ctx: Context, res: dict, why: dict, grads: dict, every: list,
                   chance: float) -> list[str]:  # fmt: skip
    """Claim 6's figures: the depth grid, why deep nets fail at initialisation, depth x width,
    He against Xavier, the trainability maps and the fluctuations."""
    s, grid = ctx.config.grid, res["grid"]
    names = [figs.depth_grid(grid, ctx.figure("depth.png"), chance).name]
    curves = {row["label"]: row["signal"] for row in why["recipes"].values()}
    predicted = {row["label"]: row["c_map"] for row in why["recipes"].values() if "c_map" in row}
    names.append(figs.signal(curves, predicted, grads, ctx.figure("why_deep_fails.png")).name)
    plain_adam = [r for r in grid if r["recipe"] == "he_relu" and r["optimizer"] == "adam"]
    width_recs = res["width"] + [r for r in plain_adam if r["depth"] in s.width_depths]
    if len({r["width"] for r in width_recs}) > 1:
        names.append(figs.heatmap(width_recs, ctx.figure("depth_width.png"), x="width",
                                  y="depth", title="Plain ReLU (He, Adam): depth x width",
                                  xlabel="width", ylabel="hidden layers").name)  # fmt: skip
    title = f"He et al. (2015): {s.he_depth}-layer ReLU net, width {s.he_width}, digits"
    names.append(figs.loss_curves(
        res["he_xavier"], ctx.figure("he_xavier.png"),
        [("He init (sigma_w2 = 2)", {"init": "he"}),
         ("Xavier/Glorot init (sigma_w2 = 1)", {"init": "glorot"})], title).name)  # fmt: skip
    for init in dict.fromkeys(r["init"] for r in res["map"]):  # none in --quick
        name = "trainability_map.png" if init == "gaussian" else f"trainability_map_{init}.png"
        recs = [r for r in res["map"] if r["init"] == init]
        names.append(figs.trainability_map(recs, ctx.figure(name), s.map_sigma_b2,
                                           _depth_limit(recs, s.map_sigma_b2)).name)  # fmt: skip
    if every:
        names.append(figs.fluctuations(every, ctx.figure("fluctuations.png")).name)
    return names


def _shaped_row(rows: dict) -> dict | None:
    """The shaped net set beside He-ReLU at initialisation (TAT leaky ReLU, else DKS tanh), or
    None when the run has not both."""
    if "he_relu" not in rows:
        return None
    return rows.get("tat_leaky_relu") or rows.get("dks_tanh")


def _depth_summary(s: GridSettings, numbers: dict, cells: dict, dmax: int, deepest: list[str],
                   plain_ok: list) -> str:  # fmt: skip
    """Claim 6's short summary: the setting, each recipe's accuracy at the deepest depth, the
    plain nets that train, and (when both were run) how He-ReLU and a shaped net differ."""

    def acc(name):
        both = [cells.get((name, o, dmax)) for o in ("momentum", "adam")]
        return " / ".join(f"{c['mean']:.0%} ± {c['std']:.0%}" if c else "-" for c in both)

    summary = (
        f"Digits ({numbers['train_examples']} training / {numbers['test_examples']} test "
        f"images, each normalised to ||x||^2/dim = 1), width {s.width}, the same {s.steps} "
        f"steps of minibatch {s.batch_size} for every net, {s.seeds} seeds; test accuracy mean "
        f"± sd, SGD + momentum (rate {s.lr_momentum:g}) / Adam (rate {s.lr_adam:g}). "
        f"At depth {dmax}: " + "; ".join(f"{RECIPES[n].label} {acc(n)}" for n in deepest) + ". "
    )
    if plain_ok:
        by_recipe: dict[str, list[int]] = {}
        for n, d in plain_ok:
            by_recipe.setdefault(n, []).append(d)
        summary += ("Plain nets (no residual connection, no normalisation) at >= 50 layers that "
                    "reach 90%: " + "; ".join(
                        f"{RECIPES[n].label} (depth{'s' if len(ds) > 1 else ''} "
                        f"{' and '.join(map(str, sorted(ds)))})"
                        for n, ds in sorted(by_recipe.items(), key=lambda kv: -max(kv[1])))
                    + ". ")  # fmt: skip
    rows = numbers["why_at_init"]["recipes"]
    shaped = _shaped_row(rows)
    if shaped is not None:
        summary += (
            f"At initialisation a plain He-ReLU net makes every input look alike to its output "
            f"layer after {dmax} layers (C map {rows['he_relu']['c_map'][-1]:.3f}); the shaped "
            f"net keeps them apart (C_f(0) = {shaped['network_c0']:.2f}) - see 'Why, at "
            "initialisation'. "
        )  # fmt: skip
    return summary.strip()


def _depth_details(s: GridSettings, numbers: dict, dmax: int, hx: dict, fl: list,
                   map_recs: list, out_dim: int) -> list[list[str]]:  # fmt: skip
    """Claim 6's folded detail: why deep nets fail at initialisation, the gradient's
    fluctuations, He against Xavier, the trainability map."""
    why = numbers["why_at_init"]
    rows = why["recipes"]
    details: list[list[str]] = []
    shaped = _shaped_row(rows)
    if shaped is not None:
        he_r = rows["he_relu"]
        details.append(["Why, at initialisation", (
            f"After {dmax} He-ReLU layers two inputs whose correlation was "
            f"{why['input_correlation']:.2f} look alike (the theory's composed C map gives "
            f"{he_r['c_map'][-1]:.3f}, and even orthogonal inputs end at C_f(0) = "
            f"{he_r['network_c0']:.3f}), so the output barely depends on the input; the "
            f"Jacobian's squared singular values have mean {he_r['jacobian_mean']:.2g} and "
            f"variance {he_r['jacobian_variance']:.3g} (Gaussian weights). The "
            f"{shaped['label']} net is shaped so that C_f(0) = {shaped['network_c0']:.2f} after "
            f"{dmax} layers (the C map of the inputs ends at {shaped['c_map'][-1]:.3f}), with a "
            f"Jacobian spectrum of variance {shaped['jacobian_variance']:.3g} (orthogonal "
            "weights and a nearly linear activation); inputs stay apart and the gradient keeps "
            f"its size through depth, as the figure shows (at width {s.width} the measured "
            "similarity drifts from the wide-network theory, more so with depth).")])  # fmt: skip
    if fl:
        fdeep = [c for c in fl if c["depth"] == max(s.fluct_depths)]
        fluct = ", ".join(f"{c['var_log']:.1f} ± {c['var_log_se']:.1f} at width {c['width']} "
                          f"(theory {c['predicted_var_log']:.1f}; one init's gradient scale "
                          f"typically {_factor(c['spread'])} off the median)"
                          for c in fdeep)  # fmt: skip
        details.append(["Gradient fluctuations from one initialisation to the next", (
            "For He ReLU, what grows with depth is how much the gradient's scale varies from "
            f"one random init to the next: over {s.fluct_inits} inits, the variance of "
            f"log ||J u||^2 (the input-output Jacobian after {fdeep[0]['depth']} layers, "
            f"applied to a random direction) is {fluct}. Its theory (Hanin 2018; 5 x "
            "depth/width for wide layers) says width buys it back.")])  # fmt: skip
    he, xa, he_l, xa_l = hx["he"], hx["xavier"], hx["he_loss"], hx["xavier_loss"]
    learns = ("it has not started to learn" if xa_l > math.log(out_dim) - 0.1
              else "it learns, but later")  # fmt: skip
    target = "met" if hx["target_met"] else "missed"
    if dmax < DEEP:
        target = f"not tested ({s.he_steps} steps at width {s.he_width}: a smoke test)"
    details.append(["He et al. (2015): He against Xavier initialisation", (
        f"{s.he_depth} layers, SGD + momentum: He init {he['mean']:.0%} ± {he['std']:.0%}, "
        f"Xavier init {xa['mean']:.0%} ± {xa['std']:.0%}, final loss {he_l:.2f} vs "
        f"{xa_l:.2f} nats (Xavier's signal starts 2^-{s.he_depth} times smaller in variance; "
        f"{learns}); target (He >= 90%, Xavier >= 0.5 nats above) {target}. With Adam the "
        f"He - Xavier accuracy gap is {hx['gap_adam']:+.0%} against {hx['gap_sgd']:+.0%} with "
        "SGD + momentum: Adam rescales each parameter's gradient and so hides vanishing "
        "gradients.")])  # fmt: skip
    if map_recs:
        details.append(["Schoenholz et al. (2017)'s trainability map", _map_sentence(map_recs, s)])
    return details


def exp_depth(ctx: Context) -> Experiment:
    """6. What makes 50, 100 or more layers trainable, on digits (and MNIST-1D in --full)."""
    cfg = ctx.config
    s = cfg.grid
    train_set, test_set = (_normalized(d) for d in ctx.digits())
    n_nets = sum(len(f(s)) for f in (grid_runs, width_runs, map_runs, he_xavier_runs))
    ctx.stage(f"training {n_nets} networks on digits")
    res = run_grid(s, train_set, test_set, progress=ctx.run_progress)
    numbers: dict[str, Any] = {"settings": dataclasses.asdict(s), "dataset": train_set.name,
                               "train_examples": int(train_set.x.shape[0]),
                               "test_examples": int(test_set.x.shape[0])}  # fmt: skip
    grid = res["grid"]
    cells = cell_summary(grid, _GRID_KEYS)
    numbers["grid_cells"] = _cell_rows(cells)
    dmax = max(r["depth"] for r in grid)
    verdict, ok = _deep_verdict(cells, dmax)
    if dmax < DEEP:  # --quick: the code runs, the claim is not decided
        verdict = NOT_TESTED
    plain_ok = sorted({(k[0], k[2]) for k, v in cells.items() if RECIPES[k[0]].plain
                       and k[2] >= 50 and v["mean"] >= 0.9})  # fmt: skip
    hx = _he_xavier(res["he_xavier"])
    numbers["he_xavier"] = hx["cells"]
    # Why: the signal at initialisation, the theory's C map and Jacobian spectrum.
    deepest = list(dict.fromkeys(r["recipe"] for r in grid if r["depth"] == dmax))
    ctx.stage("the signal at initialisation, the C map and the Jacobian spectrum")
    numbers["why_at_init"] = why = _why_at_init(s, dmax, test_set.x[:128], deepest)
    at = {k: cell_summary(grid, ("recipe", "depth"), f"grad_norm_{k}_init")
          for k in ("layer1", "last")}  # fmt: skip
    grads = {RECIPES[n].label: [at["layer1"][(n, dmax)]["mean"], at["last"][(n, dmax)]["mean"]]
             for n in deepest}  # fmt: skip
    numbers["grad_norms_at_init"] = grads
    # Hanin: how much the gradient's scale varies from one init to the next (every layer).
    if s.fluct_depths:
        ctx.stage("gradient fluctuations from one initialisation to the next")
    every = (fluctuation_cells(range(1, max(s.fluct_depths) + 1), s.fluct_widths,
                               inits=s.fluct_inits, seed=cfg.seed)
             if s.fluct_depths else [])  # --quick measures none  # fmt: skip
    numbers["gradient_fluctuations"] = fl = [c for c in every if c["depth"] in s.fluct_depths]
    ctx.stage("figures")
    fnames = _depth_figures(ctx, res, why, grads, every, 1 / train_set.out_dim)
    numbers["runs"] = [*grid, *res["width"], *res["map"], *res["he_xavier"]]
    if cfg.mnist1d:
        ctx.stage("training the grid on MNIST-1D")
        m_train, m_test = (_normalized(d) for d in standardize(*split(mnist1d(), 0.2, seed=0)))
        m = run_grid(dataclasses.replace(s, widths=(s.width,), map_sigma_w2=()), m_train, m_test,
                     progress=ctx.run_progress)["grid"]  # fmt: skip
        numbers["runs"] += m
        numbers["mnist1d_cells"] = _cell_rows(cell_summary(m, _GRID_KEYS))
        fnames.append(figs.depth_grid(m, ctx.figure("depth_mnist1d.png"), 0.1).name)
    numbers["verdict_inputs"] = {"depth": dmax, "recipes_ge_90": ok,
                                 "plain_ge_90_at_depth_ge_50": [list(k) for k in plain_ok],
                                 "he_xavier_target_met": hx["target_met"]}  # fmt: skip
    return Experiment(
        "depth", "Deep networks become trainable with ReLU",
        "This meant you could train networks with 50, 100, or more layers.",
        verdict, _depth_summary(s, numbers, cells, dmax, deepest, plain_ok), numbers, fnames,
        decided_by="at the grid's deepest depth (100 by default; --quick stops at 20, where "
                   "the verdict is 'not tested at this size'): supported if plain "
                   "He-initialised ReLU reaches >= 90% mean test accuracy on digits (over "
                   "seeds) with either optimizer; otherwise 'supported only with' the fixes "
                   "whose nets do (plain nets with a shaped activation or orthogonal weights "
                   "at criticality, or residual connections); otherwise not supported. He et "
                   "al.'s test is reported beside it against its own target (He >= 90% mean "
                   "test accuracy and Xavier's mean final loss >= 0.5 nats above He's, SGD + "
                   "momentum).",
        details=_depth_details(s, numbers, dmax, hx, fl, res["map"], train_set.out_dim),
    )  # fmt: skip


def exp_speed(ctx: Context) -> Experiment:
    """7. ReLU is cheaper to compute - where compute, not memory, is the bottleneck."""
    from jaxact.bench import activations as ba
    from jaxact.bench import mlp as bm
    from jaxact.bench.timing import compare

    cfg = ctx.config
    small = jr.normal(jr.key(0), (ba.RESIDENT_ELEMENTS // 128, 128), jnp.float32)
    big = jr.normal(jr.key(0), (cfg.bench_elements // 128, 128), jnp.float32)
    reps = {"repeats": 3, "min_time": 0.02} if cfg.mode == "quick" else {"repeats": 7}
    width, depth, batch = 256, 10, 128
    params = init_mlp(jr.key(0), depth=depth, width=width)
    xb, yb = bm.random_batch(width, batch)
    relu, sigmoid = ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]
    # (ReLU's program, the sigmoid's, their arguments): timed in alternating rounds, so that a
    # slow spell of the machine moves both sides of each ratio.
    pairs = {
        "resident": (ba.resident_kernel(relu, 50, False), ba.resident_kernel(sigmoid, 50, False),
                     (small,)),
        "memory": (ba.memory_kernel(relu, False), ba.memory_kernel(sigmoid, False), (big,)),
        "mlp_step": (bm.train_step_fn("relu"), bm.train_step_fn("sigmoid"), (params, xb, yb)),
    }  # fmt: skip
    t: dict[str, dict[str, float]] = {"sigmoid": {}, "relu": {}}
    ratio, spread = {}, {}
    for key, (fn_relu, fn_sigmoid, args) in pairs.items():
        c = compare(fn_relu, fn_sigmoid, *args, **reps)
        t["relu"][key], t["sigmoid"][key] = c.a.median, c.b.median
        ratio[key], spread[key] = c.ratio, [c.ratio_min, c.ratio_max]
    ok = ratio["resident"] > 1.5
    mib = cfg.bench_elements * 4 // 2**20
    labels = ["data in cache (50 passes)", f"streaming {mib} MiB", f"MLP training step (depth "
              f"{depth}, width {width})"]  # fmt: skip
    fig = figs.ratios(labels, [ratio["resident"], ratio["memory"], ratio["mlp_step"]],
                      ctx.figure("speed.png"),
                      f"Median of per-round ratios\n{reps['repeats']} alternating rounds on "
                      f"{jax.devices()[0].device_kind}")  # fmt: skip

    def say(r):
        return "ReLU was faster" if r > 1 else "the sigmoid was faster" if r < 1 else "a tie"

    return Experiment(
        "speed", "ReLU is cheaper to compute",
        "Computing ReLU is a comparison ... one of the cheapest operations a processor can do.",
        CAVEAT if ok else NOT_SUPPORTED,
        f"sigmoid time / ReLU time = {ratio['resident']:.1f} with data in cache "
        f"({say(ratio['resident'])}), "
        f"{ratio['memory']:.2f} streaming {mib} MiB from memory ({say(ratio['memory'])}), "
        f"{ratio['mlp_step']:.2f} for a whole MLP training step, depth {depth}, width {width} "
        f"({say(ratio['mlp_step'])}); each the median of the per-round ratios of "
        f"{reps['repeats']} rounds alternating the two on "
        f"{jax.devices()[0].device_kind}. Caveat: the difference shows only when the "
        "activation is the bottleneck; memory traffic and matmuls usually are.",
        {"seconds": t, "sigmoid_over_relu": ratio, "sigmoid_over_relu_min_max": spread},
        [fig.name],
        decided_by="supported with the bottleneck caveat (always stated) if the cache-resident "
                   "sigmoid/ReLU time ratio is > 1.5; otherwise not supported.",
    )  # fmt: skip


def exp_dead(ctx: Context) -> Experiment:
    """8. Leaky ReLU prevents dead neurons: digits, several seeds, dead units over training."""
    cfg = ctx.config
    s = cfg.grid
    train_set, test_set = ctx.digits()
    depth, every = 5, max(1, cfg.dead_steps // 10)
    runs = [Run(a, depth, s.width, init="he", optimizer="sgd", learning_rate=cfg.dead_lr, seed=k)
            for a in ("relu", "leaky_relu") for k in range(s.seeds)]  # fmt: skip
    recs = train_runs(runs, train_set, test=test_set, steps=cfg.dead_steps,
                      batch_size=s.batch_size, observe_every=every,
                      progress=ctx.run_progress)  # fmt: skip
    rows: dict[str, Any] = {}
    for act in ("relu", "leaky_relu"):
        rs = [r for r in recs if r["activation"] == act]
        final = [float(np.mean(r["dead_units"][-1])) if not r["diverged_step"] else np.nan
                 for r in rs]  # fmt: skip
        acc = [r["test_accuracy"] for r in rs]
        rows[act] = {"dead_fraction_per_seed": final,
                     "dead_fraction_mean": float(np.nanmean(final)),
                     "test_accuracy_per_seed": acc,
                     "test_accuracy_mean": float(np.nanmean(acc)),
                     "test_accuracy_std": float(np.nanstd(acc)),
                     "diverged": sum(bool(r["diverged_step"]) for r in rs)}  # fmt: skip
    relu, leaky = rows["relu"]["dead_fraction_mean"], rows["leaky_relu"]["dead_fraction_mean"]
    ok = leaky == 0 and relu > 0.05
    verdict = SUPPORTED if ok else (CAVEAT if leaky == 0 else NOT_SUPPORTED)
    fig = figs.dead_units(recs, ctx.figure("dead_units.png"))
    per_seed = ", ".join(f"{v:.0%}" for v in rows["relu"]["dead_fraction_per_seed"])

    def accuracy(act):
        r = rows[act]
        return f"{r['test_accuracy_mean']:.0%} ± {r['test_accuracy_std']:.0%}"

    caveat = (f" Caveat: Leaky ReLU ended with no dead units, but only {relu:.1%} of ReLU's "
              "died here, too few to show the problem at this size and step budget."
              if verdict == CAVEAT else "")  # fmt: skip
    return Experiment(
        "dead", "Leaky ReLU prevents dead neurons",
        "Leaky ReLU ... allows a small negative output, preventing 'dead neurons' where a ReLU "
        "is permanently zero.",
        verdict,
        f"Digits, {depth} hidden layers of width {s.width}, {cfg.dead_steps} plain SGD steps at "
        f"a deliberately high learning rate ({cfg.dead_lr}), {s.seeds} seeds: at the end "
        f"{relu:.0%} of ReLU units are dead (zero gradient on every training image; per seed "
        f"{per_seed}) against {leaky:.0%} for Leaky ReLU (slope 0.01). Test accuracy (mean ± sd "
        f"over seeds): ReLU {accuracy('relu')}, Leaky ReLU {accuracy('leaky_relu')}; at this "
        "learning rate training is chaotic, so these accuracies move from one machine to "
        "another (rounding changes the trajectory): the dead fractions are the claim's measure."
        + caveat,
        {**rows, "runs": recs},
        [fig.name],
        decided_by="supported if Leaky ReLU ends with 0% dead units and ReLU with > 5% (mean "
                   "over seeds); 'supported with a caveat' if Leaky ReLU has none but ReLU "
                   "too few to show the problem; otherwise not supported.",
    )  # fmt: skip


def exp_outputs(ctx: Context) -> Experiment:
    """9. Sigmoid for binary outputs, softmax for multi-class."""
    cfg = ctx.config
    data = ctx.spirals()
    r = ctx.train_net("relu", 3)
    prob = predict(r.params, data.x, "relu", "binary")[:, 0]
    k = jr.key(cfg.seed + 11)
    x3 = jr.normal(k, (cfg.n_points, 2), jnp.float32)
    y3 = (jnp.arctan2(x3[:, 1], x3[:, 0]) + jnp.pi) // (2 * jnp.pi / 3)
    three = Dataset(x3, y3.astype(jnp.int32), "multiclass", "three sectors")
    r3 = ctx.train_net("relu", 3, data=three)
    p3 = predict(r3.params, x3, "relu", "multiclass")
    sums = jnp.abs(p3.sum(-1) - 1)
    numbers = {
        "binary_prob_min": float(prob.min()), "binary_prob_max": float(prob.max()),
        "binary_accuracy": r.final_accuracy, "multiclass_max_sum_error": float(sums.max()),
        "multiclass_accuracy": r3.final_accuracy,
    }  # fmt: skip
    ok = 0 <= numbers["binary_prob_min"] and numbers["binary_prob_max"] <= 1 and float(
        sums.max()) < 1e-5  # fmt: skip
    fig = figs.decisions(
        [(f"sigmoid output: P(class 1), accuracy {r.final_accuracy:.0%}",
          lambda g: predict(r.params, jnp.asarray(g), "relu", "binary")[:, 0])],
        (np.asarray(data.x), np.asarray(data.y)), ctx.figure("outputs_binary.png"),
        "Binary output: one sigmoid unit (two spirals)")  # fmt: skip
    x3n, y3n = np.asarray(x3), np.asarray(y3)
    keep = np.abs(x3n).max(1) < 1.3
    fig3 = figs.decisions(
        [(f"softmax output: (P0, P1, P2) as RGB, accuracy {r3.final_accuracy:.0%}",
          lambda g: predict(r3.params, jnp.asarray(g), "relu", "multiclass"))],
        (x3n[keep], y3n[keep]), ctx.figure("outputs_softmax.png"),
        "Three classes: softmax rows are probabilities")  # fmt: skip
    return Experiment(
        "outputs", "Sigmoid for binary outputs, softmax for multi-class",
        "Use sigmoid for binary classification output layers ... For multi-class classification "
        "output, use softmax instead.",
        SUPPORTED if ok else NOT_SUPPORTED,
        f"Binary (two spirals, 3-layer ReLU net): sigmoid outputs in "
        f"[{numbers['binary_prob_min']:.3g}, {numbers['binary_prob_max']:.3g}], training "
        f"accuracy {r.final_accuracy:.0%}. Three classes: softmax rows sum to 1 within "
        f"{numbers['multiclass_max_sum_error']:.1e}, training accuracy {r3.final_accuracy:.0%}.",
        numbers,
        [fig.name, fig3.name],
        decided_by="supported if every sigmoid output lies in [0, 1] and every softmax row sums "
                   "to 1 within 1e-5 (float32); the accuracies show both heads can be trained.",
    )  # fmt: skip


EXPERIMENTS: list[tuple[str, Callable[[Context], Experiment]]] = [
    ("linear", exp_linear), ("ranges", exp_ranges), ("flat", exp_flat),
    ("vanishing", exp_vanishing), ("relu_passes", exp_relu_passes), ("depth", exp_depth),
    ("speed", exp_speed), ("dead", exp_dead), ("outputs", exp_outputs),
]  # fmt: skip


def _decisions(ctx: Context, data: Dataset, runs, name: str) -> str:
    fns = [(f"{label}: accuracy {r.final_accuracy:.0%}",
            lambda g, r=r: predict(r.params, jnp.asarray(g), r.activation, "binary")[:, 0])
           for r, label in runs]  # fmt: skip
    return figs.decisions(fns, (np.asarray(data.x), np.asarray(data.y)), ctx.figure(name),
                          "Two spirals: predicted probability of class 1").name  # fmt: skip


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
    force: bool = False,
) -> list[Experiment]:
    """Run the experiments, writing each result as it finishes, then the report.

    Args:
      out: output directory (``results/<id>.json``, ``figures/*.png``, ``results.json``,
        ``report.md``, ``report.html``).
      mode: ``quick`` (CI smoke test), ``default`` or ``full`` (bigger nets, for a GPU).
      resume: reuse results already in ``out`` from an earlier run of the same mode and seed.
      only: run only these experiment ids.
      seed: the seed every experiment's randomness derives from.
      show_progress: a progress bar over experiments on a terminal; elsewhere (a log, CI)
        a line per experiment and stage and a line every 30 s while training runs.
      force: write into a folder that holds files jaxact did not write (or another kind of
        run); files of the same names are replaced.

    Returns:
      The :class:`Experiment` records, in :data:`EXPERIMENTS` order: ``id``, ``claim``,
      ``verdict``, ``summary``, ``numbers``, ``figures``, ``decided_by``.

    Raises:
      ValueError: ``mode`` or an ``only`` id is unknown.
      OutputRefused: ``out`` is not a folder jaxact may write (a user's files without
        ``force``, a clash, unwritable), or another process is writing it; before any work.
      WriteFailed: a file could not be written (disk full); earlier results stay valid, and
        ``resume=True`` continues once there is room.
      Interrupted: Ctrl-C; finished experiments are saved.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> from jaxact.study import run_study
    >>> [(e.id, e.verdict) for e in run_study(out, mode="quick", only=["flat"],
    ...                                      show_progress=False)]
    [('flat', 'supported')]
    >>> sorted(p.name for p in out.iterdir())  # .jaxact-run marks the folder as a study's
    ['.jaxact-run', 'figures', 'report.html', 'report.md', 'results', 'results.json']
    """
    config = StudyConfig.for_mode(mode, seed)
    ids = [i for i, _ in EXPERIMENTS]
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; valid: {', '.join(ids)}.")
    # A user's folder, a clash (a file named "figures"), an unwritable place: refused now.
    out = claim_output_dir(out, "study", STUDY_LAYOUT, force=force, label="out")
    results_dir, figures = out / "results", out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    saved_config = json.loads(json.dumps(_jsonable(dataclasses.asdict(config))))

    def saved(exp_id: str, unreadable: str = "recomputed") -> Experiment | None:
        """The result of an earlier run of the same mode and seed, if there is a readable one
        of this layout (another shape or version: a warning saying what happens instead)."""
        path = results_dir / f"{exp_id}.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            # Files from before the layout was versioned have layout 1.
            version = data.get("schema", 1)
            if version != SCHEMA_VERSION:
                raise ValueError(f"layout version {version!r}, this jaxact reads "
                                 f"{SCHEMA_VERSION}")  # fmt: skip
            # Compare through JSON, as saved (tuples come back as lists).
            if data.get("config") != saved_config:
                return None  # another mode or seed: not this run's result
            return experiment_from_dict(data.get("experiment"))
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as err:
            warnings.warn(f"{path}: not a result this jaxact can read ({err}); "
                          f"{exp_id} is {unreadable}", stacklevel=3)  # fmt: skip
            return None

    chosen = [(i, f) for i, f in EXPERIMENTS if not only or i in only]
    out.mkdir(parents=True, exist_ok=True)
    with hold_output(out, "out"):
        mark_output_dir(out, "study")
        # A bar on a terminal; off one (CI logs, `| tee`), a line per experiment and stage,
        # and a heartbeat line while training runs.
        progress = Progress(len(chosen), prefix="jaxact study", enabled=show_progress)
        ctx = Context(config, figures, progress)
        done: dict[str, Experiment] = {}
        try:
            for exp_id, fn in chosen:
                previous = saved(exp_id) if resume else None
                if previous is not None:
                    done[exp_id] = previous
                    progress.resumed(exp_id, previous.verdict)
                    continue
                progress.start(exp_id)
                t0 = time.perf_counter()
                exp = fn(ctx)
                exp.seconds = time.perf_counter() - t0
                record = {"schema": SCHEMA_VERSION, "config": dataclasses.asdict(config),
                          "experiment": exp.as_dict()}  # fmt: skip
                atomic_write(results_dir / f"{exp_id}.json",
                             json.dumps(_jsonable(record), indent=1))  # fmt: skip
                done[exp_id] = exp
                progress.finish(exp.verdict, exp.seconds)
        except KeyboardInterrupt:
            progress.close()
            raise Interrupted(len(done), len(chosen), "experiments") from None
        return _write_outputs(out, config, mode, ids, done, saved, progress, chosen)


def experiment_from_dict(data: Any) -> Experiment:
    """An :class:`Experiment` from its saved form (``as_dict``), every field type-checked: a
    result file of another shape is refused here, not half-read into the report.

    Args:
      data: the ``"experiment"`` object of a ``results/<id>.json``.

    Returns:
      The :class:`Experiment`.

    Raises:
      ValueError: ``data`` is not an experiment record (a missing, extra or mistyped field).

    >>> from jaxact.study import Experiment, experiment_from_dict
    >>> e = Experiment("flat", "t", "c", "supported", "s", {"a": 1})
    >>> experiment_from_dict(e.as_dict()) == e
    True
    >>> experiment_from_dict({**e.as_dict(), "figures": None})
    Traceback (most recent call last):
    ...
    ValueError: experiment field 'figures' is None, not a list
    """
    if not isinstance(data, dict):
        raise ValueError(f"the experiment is {type(data).__name__}, not an object")
    fields = {f.name: f for f in dataclasses.fields(Experiment)}
    extra = sorted(set(data) - set(fields))
    if extra:
        raise ValueError(f"unknown experiment field(s) {extra}")
    types = {"id": str, "title": str, "claim": str, "verdict": str, "summary": str,
             "numbers": dict, "figures": list, "seconds": (int, float), "decided_by": str,
             "details": list}  # fmt: skip
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"experiment field {name!r} is missing")
            continue
        if not isinstance(data[name], types[name]) or isinstance(data[name], bool):
            want = types[name].__name__ if isinstance(types[name], type) else "number"
            raise ValueError(f"experiment field {name!r} is {data[name]!r:.40}, not a {want}")
    if not all(isinstance(p, str) for p in data.get("figures", [])):
        raise ValueError("experiment field 'figures' must list file names")
    return Experiment(**data)


def _write_outputs(out, config, mode, ids, done, saved, progress, chosen) -> list[Experiment]:
    """The run's summary file and report, from this run's and earlier runs' results."""
    from jaxact.bench.timing import device_info
    from jaxact.report import write_report

    progress.close()
    # The report covers every experiment with a result of this mode and seed: --only on a
    # directory with a full report re-runs some and keeps the others.
    for exp_id in ids:
        if exp_id not in done:
            previous = saved(exp_id, "left out of the report")
            if previous is not None:
                done[exp_id] = previous
    report = [done[i] for i in ids if i in done]
    command = f"jaxact study --{mode}" if mode != "default" else "jaxact study"
    meta = {"config": dataclasses.asdict(config), "device": device_info(), "command": command,
            "seconds": sum(e.seconds for e in report)}  # fmt: skip
    atomic_write(out / "results.json", json.dumps(_jsonable(
        {"schema": SCHEMA_VERSION, **meta, "experiments": [e.as_dict() for e in report]}),
        indent=1))  # fmt: skip
    write_report(out, report, meta)
    return [done[i] for i, _ in chosen]
