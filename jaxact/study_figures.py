"""The study's figures: one function per figure, each drawing from plain result records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxact.activations import get_activation
from jaxact.plotting import pyplot, save_figure
from jaxact.runs.recipes import RECIPES
from jaxact.runs.summaries import cell_summary

DPI = 100


def _save(fig, path: Path) -> Path:
    """Save a report figure: tick labels and axis labels at a size that stays readable when
    the report shows the figure scaled down to a 700-pixel window; legends placed outside
    the axes are kept (``bbox_inches="tight"``)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=10)
        ax.xaxis.label.set_size(11)
        ax.yaxis.label.set_size(11)
    return save_figure(fig, path, DPI, bbox_inches="tight")


_STYLE = {"relu": ("C0", "o"), "sigmoid": ("C3", "s"), "tanh": ("C2", "^"),
          "leaky_relu": ("C1", "D")}  # fmt: skip


#: Colour and marker of each recipe of the depth grid (:data:`jaxact.trainability.RECIPES`).
_RECIPE_STYLE = {"he_relu": ("C0", "o"), "residual_relu": ("C0", "s"),
                 "tat_leaky_relu": ("C1", "D"), "dks_tanh": ("C2", "^"),
                 "dks_softplus": ("C4", "v"), "critical_tanh": ("C5", "P"),
                 "glorot_tanh": ("C7", "<"), "glorot_sigmoid": ("C3", "x")}  # fmt: skip


def depth_grid(records: Sequence[dict[str, Any]], path: Path, chance: float) -> Path:
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
    fig.suptitle(f"Which deep MLPs learn: {r0['dataset']}, width {r0['width']}, "
                 f"{r0['steps']} steps for every net", fontsize=12)  # fmt: skip
    return _save(fig, path)


def heatmap(records, path: Path, *, x: str, y: str, title: str, xlabel: str, ylabel: str,
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
    return _save(fig, path)


def trainability_map(records, path: Path, sigma_b2: float,
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

    return heatmap(records, path, x="sigma_w2", y="depth", xlabel=r"$\sigma_w^2$",
                   ylabel="hidden layers",
                   title=f"tanh, {records[0]['init']} weights, sigma_b2 = {sigma_b2}: measured "
                         "accuracy, and the depth\nlimit 6 xi_c of Schoenholz et al. (2017)",
                   overlay=overlay)  # fmt: skip


def loss_curves(records, path: Path, groups: Sequence[tuple[str, dict]], title: str) -> Path:
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
    return _save(fig, path)


def signal(curves: dict[str, dict[str, list[float]]], predicted: dict[str, list[float]],
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
    return _save(fig, path)


def fluctuations(cells: Sequence[dict[str, Any]], path: Path) -> Path:
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
    return _save(fig, path)


def derivatives(names: Sequence[str], points: Sequence[float], path: Path) -> Path:
    """|phi'(x)| on a log axis over [-12, 12], the points the claim names marked."""
    plt = pyplot()
    x = np.linspace(-12, 12, 2401)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for n in names:
        d = np.abs(np.asarray(get_activation(n).derivative(jnp.asarray(x, jnp.float32))))
        color = _STYLE.get(n, ("C4", "x"))[0]
        ax.plot(x, np.where(d > 0, d, np.nan), color=color, label=n)
        for p in points:
            v = float(abs(get_activation(n).derivative(jnp.float32(p))))
            if v > 0:
                ax.plot([p], [v], "o", color=color, ms=4)
    for p in points:
        ax.axvline(p, color="0.85", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1e-10, 2)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$|\phi'(x)|$ (log scale)")
    ax.set_title("Slopes far from 0: sigmoid and tanh flatten, ReLU stays 1 (or 0)",
                 fontsize=11)  # fmt: skip
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, path)


def active_fraction(per_layer: Sequence[float], path: Path) -> Path:
    """Fraction of ReLU units passing the gradient, per layer."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    layers = np.arange(1, len(per_layer) + 1)
    ax.bar(layers, per_layer, color="C0", label="phi'(h) = 1: gradient passes")
    ax.bar(layers, 1 - np.asarray(per_layer), bottom=per_layer, color="0.8",
           label="phi'(h) = 0: gradient blocked")  # fmt: skip
    ax.set_xlabel("layer")
    ax.set_ylabel("fraction of (unit, input) pairs")
    ax.set_ylim(0, 1)
    ax.set_xticks(layers)
    # Below the axes: the stacked bars fill the whole panel.
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    ax.set_title("ReLU's gradient is exactly 0 or 1: about half pass", fontsize=11)
    return _save(fig, path)


def ratios(labels: Sequence[str], values: Sequence[float], path: Path, title: str) -> Path:
    """Horizontal bars of time ratios (sigmoid time / ReLU time), 1 marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.6 * len(labels) + 1.4))
    ys = np.arange(len(labels))
    ax.barh(ys, values, color=["C3" if v > 1 else "C2" for v in values])
    for y, v in zip(ys, values, strict=True):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=9)
    ax.axvline(1, color="k", lw=1)
    ax.set_yticks(ys, labels)
    ax.set_xlabel("sigmoid time / ReLU time (> 1: ReLU faster)")
    ax.set_xlim(0, max(max(values) * 1.25, 1.5))
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def dead_units(records, path: Path) -> Path:
    """Per-layer fraction of dead units over training (mean over seeds), one panel each."""
    plt = pyplot()
    acts = list(dict.fromkeys(r["activation"] for r in records))
    fig, axes = plt.subplots(1, len(acts), figsize=(5.0 * len(acts), 3.6), sharey=True,
                             squeeze=False)  # fmt: skip
    for ax, act in zip(axes[0], acts, strict=True):
        rs = [r for r in records if r["activation"] == act]
        d = np.array([r["dead_units"] for r in rs], np.float64)  # (seeds, obs, depth)
        steps = rs[0]["observed_steps"]
        for layer in range(d.shape[2]):
            ax.plot(steps, d[:, :, layer].mean(0), marker=".", label=f"layer {layer + 1}")
        ax.set_title(f"{act}: dead units (never active on the training set)", fontsize=11)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("fraction of units (mean over seeds)")
    # Below the panels: inside, it covered the deepest layer's curve.
    fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=9, loc="upper center",
               bbox_to_anchor=(0.5, 0.02), ncol=5, frameon=False)  # fmt: skip
    return _save(fig, path)


def decisions(runs, data_xy, path: Path, title: str) -> Path:
    """Predicted probability maps of 2-D classifiers: ``runs`` is ``[(label, prob_fn)]``."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4), squeeze=False)
    g = np.linspace(-1.3, 1.3, 161)
    gx, gy = np.meshgrid(g, g)
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    xy, y = data_xy
    for ax, (label, prob_fn) in zip(axes[0], runs, strict=True):
        prob = np.asarray(prob_fn(grid))
        if prob.ndim == 2 and prob.shape[1] > 1:
            ax.imshow(prob.reshape(*gx.shape, -1)[..., :3], origin="lower",
                      extent=(-1.3, 1.3, -1.3, 1.3), alpha=0.6)  # fmt: skip
        else:
            ax.contourf(gx, gy, prob.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.6)
        if prob.ndim == 2 and prob.shape[1] > 1:
            # Each point in its class's own colour of the RGB map: class k is primary k.
            ax.scatter(xy[:, 0], xy[:, 1], c=np.eye(3)[np.asarray(y, int)] * 0.6, s=6,
                       edgecolors="w", linewidths=0.3)  # fmt: skip
        else:
            ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="RdBu_r", s=6, edgecolors="k",
                       linewidths=0.2)  # fmt: skip
        ax.set_title(label, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def low_precision(low: dict[str, Any], depth: int, path: Path) -> Path:
    """Claim 4 in low precision: per format, the fraction of each layer's ``dL/dh`` that is
    exactly 0 at loss scale 1, per activation, with the layer the per-layer rate predicts
    (dotted)."""
    plt = pyplot()
    dtypes = list(next(iter(low.values())))
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5.2 * len(dtypes), 3.8), sharey=True)
    layers = np.arange(1, depth + 1)
    for ax, dtype in zip(np.atleast_1d(axes), dtypes, strict=True):
        worst = []  # each line's largest value: lines near 0 lie on top of each other
        for name, per in low.items():
            r = per[dtype]
            color, marker = _STYLE.get(name, ("C7", "."))
            ax.plot(layers, r["lost_per_layer"], marker=marker, ms=3, color=color, label=name)
            if r["predicted_layer"] is not None:
                ax.axvline(r["predicted_layer"], color=color, ls=":", lw=1.2)
            worst.append(f"{name} {np.max(np.asarray(r['lost_per_layer'], np.float64)):.2g}")
        ax.text(0.5, 0.55, "largest fraction lost at any layer:\n" + ", ".join(worst),
                transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.9, "lw": 0})  # fmt: skip
        floor = next(iter(low.values()))[dtype]["floor"]
        ax.set_title(f"{dtype} (smallest number {floor:.1e})", fontsize=11)
        ax.set_xlabel("layer (input = 1)")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of dL/dh exactly 0")
    np.atleast_1d(axes)[-1].legend(title="dotted: predicted", fontsize=9, loc="upper right")
    return _save(fig, path)
