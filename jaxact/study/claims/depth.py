"""Claim 6: what makes 50, 100 or more layers trainable.

The experiment (:func:`run`): a grid of recipes (:data:`jaxact.trainability.RECIPES`) x depths
x optimizers trained on digits, He et al.'s He-against-Xavier test, Schoenholz et al.'s
trainability map, Hanin's gradient fluctuations, and why plain deep nets fail at
initialisation (the signal, theory's C map and Jacobian spectrum). Its verdict rule
(:data:`RULE`, :func:`verdict`) and its figures (:func:`plot_depth_grid`, :func:`plot_signal`,
:func:`plot_heatmap`, :func:`plot_loss_curves`, :func:`plot_trainability_map`,
:func:`plot_fluctuations`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxact import theory
from jaxact.datasets import Dataset, mnist1d, split, standardize
from jaxact.initializers import get_initializer, resolve_sigma_w2
from jaxact.plotting import pyplot
from jaxact.shaping import normalize_inputs
from jaxact.study.context import Context
from jaxact.study.experiment import (
    NOT_SUPPORTED,
    NOT_TESTED,
    SUPPORTED,
    Experiment,
    supported_only,
)
from jaxact.study.figures import save
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

ID = "depth"
TITLE = "Deep networks become trainable with ReLU"
CLAIM = "This meant you could train networks with 50, 100, or more layers."
#: The smallest depth at which claim 6's rule decides anything (the claim is about 50+ layers).
DEEP = 50
RULE = (
    "at the grid's deepest depth (100 by default; --quick stops at 20, where the verdict is "
    "'not tested at this size'): supported if plain He-initialised ReLU reaches >= 90% mean "
    "test accuracy on digits (over seeds) with either optimizer; otherwise 'supported only "
    "with' the fixes whose nets do (plain nets with a shaped activation or orthogonal weights "
    "at criticality, or residual connections); otherwise not supported. He et al.'s test is "
    "reported beside it against its own target (He >= 90% mean test accuracy and Xavier's "
    "mean final loss >= 0.5 nats above He's, SGD + momentum)."
)
_GRID_KEYS = ("recipe", "optimizer", "depth")


def _reaching(cells, depth: int) -> list[str]:
    """The recipes whose mean test accuracy reaches 90% at ``depth`` (with either optimizer)."""
    return sorted({k[0] for k, v in cells.items() if k[2] == depth and float(v["mean"]) >= 0.9})


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved): the grid's
    cells (``numbers["grid_cells"]``) at its deepest depth."""
    cells = {tuple(r[k] for k in _GRID_KEYS): r for r in numbers["grid_cells"]}
    depth = max(k[2] for k in cells)
    if depth < DEEP:
        return NOT_TESTED
    ok = _reaching(cells, depth)
    if "he_relu" in ok:
        return SUPPORTED
    fixes = []
    if any(RECIPES[n].plain and (RECIPES[n].shaping or RECIPES[n].critical) for n in ok):
        fixes.append("with the activation shaped to the depth (TAT/DKS) or orthogonal weights "
                     "at the edge of chaos")  # fmt: skip
    if any(RECIPES[n].residual for n in ok):
        fixes.append("with residual connections")
    return supported_only(", or ".join(fixes)) if fixes else NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """The grid of recipes x depths x optimizers on digits (and MNIST-1D in --full), He against
    Xavier, the trainability map and the fluctuations, and why deep nets fail at
    initialisation."""
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
    decided = verdict(numbers)  # --quick stops short of DEEP: the claim is not decided
    ok = _reaching(cells, dmax)
    plain_ok = sorted({(k[0], k[2]) for k, v in cells.items() if RECIPES[k[0]].plain
                       and k[2] >= DEEP and v["mean"] >= 0.9})  # fmt: skip
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
        fnames.append(plot_depth_grid(m, ctx.figure("depth_mnist1d.png"), 0.1).name)
    numbers["verdict_inputs"] = {"depth": dmax, "recipes_ge_90": ok,
                                 "plain_ge_90_at_depth_ge_50": [list(k) for k in plain_ok],
                                 "he_xavier_target_met": hx["target_met"]}  # fmt: skip
    return Experiment(
        ID,
        TITLE,
        CLAIM,
        decided,
        _depth_summary(s, numbers, cells, dmax, deepest, plain_ok),
        numbers,
        fnames,
        decided_by=RULE,
        details=_depth_details(s, numbers, dmax, hx, fl, res["map"], train_set.out_dim),
    )


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
                   f"{data.name}, normalized per example")  # fmt: skip


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
    names = [plot_depth_grid(grid, ctx.figure("depth.png"), chance).name]
    curves = {row["label"]: row["signal"] for row in why["recipes"].values()}
    predicted = {row["label"]: row["c_map"] for row in why["recipes"].values() if "c_map" in row}
    names.append(plot_signal(curves, predicted, grads, ctx.figure("why_deep_fails.png")).name)
    plain_adam = [r for r in grid if r["recipe"] == "he_relu" and r["optimizer"] == "adam"]
    width_recs = res["width"] + [r for r in plain_adam if r["depth"] in s.width_depths]
    if len({r["width"] for r in width_recs}) > 1:
        names.append(plot_heatmap(width_recs, ctx.figure("depth_width.png"), x="width",
                                  y="depth", title="Plain ReLU (He, Adam): depth x width",
                                  xlabel="width", ylabel="hidden layers").name)  # fmt: skip
    title = f"He et al. (2015): {s.he_depth}-layer ReLU net, width {s.he_width}, digits"
    names.append(plot_loss_curves(
        res["he_xavier"], ctx.figure("he_xavier.png"),
        [("He init (sigma_w2 = 2)", {"init": "he"}),
         ("Xavier/Glorot init (sigma_w2 = 1)", {"init": "glorot"})], title).name)  # fmt: skip
    for init in dict.fromkeys(r["init"] for r in res["map"]):  # none in --quick
        name = "trainability_map.png" if init == "gaussian" else f"trainability_map_{init}.png"
        recs = [r for r in res["map"] if r["init"] == init]
        names.append(plot_trainability_map(recs, ctx.figure(name), s.map_sigma_b2,
                                           _depth_limit(recs, s.map_sigma_b2)).name)  # fmt: skip
    if every:
        names.append(plot_fluctuations(every, ctx.figure("fluctuations.png")).name)
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


# Figures


#: Colour and marker of each recipe of the depth grid (:data:`jaxact.trainability.RECIPES`).
_RECIPE_STYLE = {"he_relu": ("C0", "o"), "residual_relu": ("C0", "s"),
                 "tat_leaky_relu": ("C1", "D"), "dks_tanh": ("C2", "^"),
                 "dks_softplus": ("C4", "v"), "critical_tanh": ("C5", "P"),
                 "glorot_tanh": ("C7", "<"), "glorot_sigmoid": ("C3", "x")}  # fmt: skip


def plot_depth_grid(records: Sequence[dict[str, Any]], path: Path, chance: float) -> Path:
    """Test accuracy against depth, one panel per optimizer, one line per recipe (dashed:
    residual), error bars = standard deviation over seeds."""
    plt = pyplot()
    cells = cell_summary(records, ("optimizer", "recipe", "depth"))
    opts = list(dict.fromkeys(r["optimizer"] for r in records))
    depths = sorted({r["depth"] for r in records})
    fig, axes = plt.subplots(1, len(opts), figsize=(5.6 * len(opts), 4.6), sharey=True,
                             squeeze=False)  # fmt: skip
    names = {"momentum": "SGD + momentum", "adam": "Adam", "sgd": "SGD"}
    handles = {}
    names_ = list(dict.fromkeys(r["recipe"] for r in records))
    for ax, opt in zip(axes[0], opts, strict=True):
        for i, name in enumerate(names_):
            rec = RECIPES[name]
            color, marker = _RECIPE_STYLE.get(name, ("C8", "*"))
            ds = [d for d in depths if (opt, name, d) in cells]
            st = [cells[(opt, name, d)] for d in ds]
            # Each recipe a little to the side (log axis), so that close points stay apart.
            shift = 1 + 0.035 * (i - (len(names_) - 1) / 2)
            h = ax.errorbar([d * shift for d in ds], [c["mean"] for c in st],
                            yerr=[c["std"] for c in st],
                            color=color, marker=marker, ls="--" if rec.residual else "-",
                            capsize=3)  # fmt: skip
            handles.setdefault(rec.label, h)
        ax.axhline(chance, color="0.6", ls=":", lw=1)
        ax.text(depths[0], chance + 0.02, "chance", fontsize=9, color="0.4")
        ax.axhline(0.9, color="0.8", lw=0.8)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlim(depths[0] / 1.25, depths[-1] * 1.25)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("hidden layers")
        ax.set_title(names.get(opt, opt))
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (mean ± sd over seeds)")
    # The legend beside the panels: inside, it would cover the points.
    axes[0][-1].legend(list(handles.values()), list(handles), fontsize=9, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), frameon=False)  # fmt: skip
    r0 = records[0]
    # The records name the training set; the panels show test accuracy.
    fig.suptitle(f"Which deep MLPs learn: width {r0['width']}, {r0['steps']} steps for every "
                 f"net, trained on {r0['dataset']}", fontsize=12)  # fmt: skip
    return save(fig, path)


def plot_heatmap(records, path: Path, *, x: str, y: str, title: str, xlabel: str, ylabel: str,
            overlay=None) -> Path:  # fmt: skip
    """Mean test accuracy over seeds on an ``x`` by ``y`` grid, each cell labelled."""
    plt = pyplot()
    cells = cell_summary(records, (y, x))
    xs = sorted({r[x] for r in records})
    ys = sorted({r[y] for r in records})
    grid = np.array([[cells[(b, a)]["mean"] if (b, a) in cells else np.nan for a in xs]
                     for b in ys])  # fmt: skip
    fig, ax = plt.subplots(figsize=(1.2 * len(xs) + 2.6, 0.8 * len(ys) + 1.8))
    im = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = grid[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=9,
                        color="white" if v < 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    if overlay is not None:
        overlay(ax, xs, ys)
    fig.colorbar(im, ax=ax, label="test accuracy (mean over seeds)")
    return save(fig, path)


def plot_trainability_map(records, path: Path, sigma_b2: float,
                     limit: Sequence[tuple[float, float]]) -> Path:  # fmt: skip
    """Schoenholz et al. (2017): tanh test accuracy over depth x sigma_w2 (the records of one
    weight scheme, named in the title), with the theory's depth limit ``6 xi_c`` drawn from
    ``limit``, ``(sigma_w2, 6 xi_c)`` pairs the study computed (a figure draws numbers; it
    computes no theory)."""

    def overlay(ax, xs, ys):
        fine = np.array([v for v, _ in limit], np.float64)
        lim = np.array([d for _, d in limit], np.float64)
        # Map depth to the heatmap's row coordinate (rows are the depths, evenly spaced).
        rows = np.interp(np.log(np.clip(lim, 1e-9, None)), np.log(ys), np.arange(len(ys)),
                         left=-0.5, right=len(ys) - 0.5)  # fmt: skip
        cols = np.interp(fine, xs, np.arange(len(xs)))
        ax.plot(cols, rows, color="w", lw=2, ls="--", label=r"$6\,\xi_c$ (theory)")
        ax.legend(loc="upper right", fontsize=9, facecolor="0.3", labelcolor="w")

    return plot_heatmap(records, path, x="sigma_w2", y="depth", xlabel=r"$\sigma_w^2$",
                   ylabel="hidden layers",
                   title=f"tanh, {records[0]['init']} weights, sigma_b2 = {sigma_b2}: measured "
                         "accuracy, and the depth\nlimit 6 xi_c of Schoenholz et al. (2017)",
                   overlay=overlay)  # fmt: skip


def plot_loss_curves(records, path: Path, groups: Sequence[tuple[str, dict]], title: str) -> Path:
    """Training loss against step, mean over seeds with the min-max band, per group; one
    panel per optimizer."""
    plt = pyplot()
    opts = list(dict.fromkeys(r["optimizer"] for r in records))
    fig, axes = plt.subplots(1, len(opts), figsize=(5.0 * len(opts), 3.6), sharey=True,
                             squeeze=False)  # fmt: skip
    names = {"momentum": "SGD + momentum", "adam": "Adam", "sgd": "SGD"}
    for ax, opt in zip(axes[0], opts, strict=True):
        for i, (label, match) in enumerate(groups):
            rs = [r for r in records if r["optimizer"] == opt
                  and all(r[k] == v for k, v in match.items())]  # fmt: skip
            if not rs:
                continue
            steps = rs[0]["steps_logged"]
            c = np.array([r["loss_curve"] for r in rs], np.float64)
            ax.plot(steps, np.nanmean(c, 0), color=f"C{i}", label=label)
            ax.fill_between(steps, np.nanmin(c, 0), np.nanmax(c, 0), color=f"C{i}", alpha=0.2)
        ax.set_title(names.get(opt, opt))
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("training loss (nats)")
    axes[0][-1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # off the curves
    fig.suptitle(title, fontsize=12)
    return save(fig, path)


def plot_signal(curves: dict[str, dict[str, list[float]]], predicted: dict[str, list[float]],
           grads: dict[str, list[float]], path: Path) -> Path:  # fmt: skip
    """What a plain deep net looks like at initialisation, per recipe: how alike two inputs
    have become after each layer (measured cosine, solid; the composed C map of mean-field
    theory, dashed) on the left, and the gradient norm of the first and last layer on the
    right. ``curves[label]["cosine"]`` and ``predicted[label]`` are per layer, ``grads[label]``
    is ``[first, last]``."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.3, 1]})
    for i, (label, c) in enumerate(curves.items()):
        gap = 1 - np.asarray(c["cosine"], np.float64)
        layers = np.arange(1, gap.size + 1)
        a.plot(layers, np.clip(gap, 1e-7, None), color=f"C{i}", label=label)
        if label in predicted:
            p = 1 - np.asarray(predicted[label], np.float64)
            a.plot(layers, np.clip(p, 1e-7, None), color=f"C{i}", ls="--", lw=1)
    a.set_xlabel("layer")
    a.set_ylabel("1 - cosine of two inputs' hidden states\n(0: the inputs look identical)")
    a.set_yscale("log")
    a.set_title("At initialisation: do two different digits still look different?\n"
                "(solid: measured; dashed: composed C map, theory)", fontsize=11)  # fmt: skip
    a.grid(True, alpha=0.3)
    # Below the panel: inside, it covered the curves.
    a.legend(fontsize=9, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2, frameon=False)
    labels = list(grads)
    vals = np.array([grads[k] for k in labels], np.float64)  # (n, 2): layer 1, last
    xs = np.arange(len(labels))
    b.bar(xs - 0.2, vals[:, 0], 0.4, label="first layer")
    b.bar(xs + 0.2, vals[:, 1], 0.4, label="last layer")
    b.set_yscale("log")
    low = np.nanmin(np.where(vals > 0, vals, np.nan))
    for x, v in zip(xs, vals[:, 0], strict=True):
        if v == 0:  # no bar on a log axis: say why
            b.text(x - 0.2, low, "0\n(under-\nflow)", ha="center", va="bottom", fontsize=9)
    b.set_xticks(xs, [k.replace(", ", "\n") for k in labels], fontsize=9)
    b.set_ylabel(r"$\|\partial L / \partial W_l\|$ at init (mean over seeds)")
    b.set_title("Gradient reaching the first and last layer", fontsize=11)
    b.legend(fontsize=9)
    return save(fig, path)


def plot_fluctuations(cells: Sequence[dict[str, Any]], path: Path) -> Path:
    """Hanin's law: the variance over random inits of ``log ||J u||^2`` after each layer, per
    width (band: one standard error), with the finite-width theory (dashed) and ``5 l / n``
    (dotted); right: the typical factor ``exp(sd)`` by which one init's gradient is off."""
    plt = pyplot()
    from matplotlib.ticker import ScalarFormatter

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.9))
    widths = sorted({c["width"] for c in cells})
    for i, w in enumerate(widths):
        cs = sorted((c for c in cells if c["width"] == w), key=lambda c: c["depth"])
        d = np.array([c["depth"] for c in cs])
        v = np.array([c["var_log"] for c in cs])
        se = np.array([c["var_log_se"] for c in cs])
        a.plot(d, v, color=f"C{i}", label=f"width {w}: measured")
        a.fill_between(d, v - se, v + se, color=f"C{i}", alpha=0.2, lw=0)
        a.plot(d, [c["predicted_var_log"] for c in cs], color=f"C{i}", ls="--", lw=1)
        a.plot(d, [c["hanin_var_log"] for c in cs], color=f"C{i}", ls=":", lw=1)
        b.plot(d, [c["spread"] for c in cs], color=f"C{i}", label=f"width {w}")
    a.plot([], [], color="0.4", ls="--", lw=1, label="theory, finite width")
    a.plot([], [], color="0.4", ls=":", lw=1, label="5 x layers / width (wide limit)")
    a.set_xlabel("layer")
    a.set_ylabel("variance of log ||J u||² over inits")
    a.set_title(f"He-initialised ReLU nets, {cells[0]['inits']} inits per width", fontsize=11)
    a.grid(True, alpha=0.3)
    a.legend(fontsize=9)
    b.set_yscale("log")
    b.yaxis.set_major_formatter(ScalarFormatter())
    b.set_xlabel("layer")
    b.set_ylabel(r"typical factor off the median, $e^{sd}$")
    b.set_title("One init's gradient scale vs another's", fontsize=11)
    b.grid(True, alpha=0.3)
    b.legend(fontsize=9)
    return save(fig, path)
