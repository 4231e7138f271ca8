"""Figures. This module (with the report) is the only one that imports matplotlib."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxact.activations import ACTIVATIONS, get_activation

__all__ = [
    "plot_activations",
    "plot_attenuation",
    "plot_diagnosis",
    "plot_diagnosis_history",
    "plot_phase_diagram",
    "plot_precision_census",
    "plot_sweep",
    "plot_theory_comparison",
]


def pyplot():
    """``matplotlib.pyplot``, imported on first use (``import jaxact`` does not import
    matplotlib). The backend is left to matplotlib and the user: a notebook keeps its inline
    backend, and without a display matplotlib falls back to Agg by itself. Every figure here is
    saved and closed, never shown."""
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int, **savefig) -> Path:
    """tight_layout, create the folder, save atomically (whole or not at all; ``savefig``
    passed on, e.g. ``bbox_inches="tight"``), close: the end of every figure here."""
    from jaxact.files import save_figure_atomically

    plt = pyplot()
    fig.tight_layout()
    try:
        return save_figure_atomically(fig, path, dpi=dpi, **savefig)
    finally:
        plt.close(fig)


def plot_activations(
    path: str | Path,
    names: Sequence[str] | None = None,
    *,
    x_range: tuple[float, float] = (-7.0, 7.0),
    dpi: int = 110,
    cols: int = 4,
) -> Path:
    """Draw every (elementwise) activation with its derivative, one panel each, and save it.

    Each panel shows ``phi`` (solid), ``phi'`` (dashed, from the closed form) and the kink points
    with the value the library's gradient takes there (dots).

    Args:
      path: output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
      names: registry names to draw; default all elementwise ones.
      x_range: the x interval drawn.
      dpi: resolution for raster formats.
      cols: panels per row (2 keeps four panels readable on a laptop screen).

    Returns:
      The path written.

    ---
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> from jaxact.plotting import plot_activations
    >>> plot_activations(out / "act.png", ["relu", "tanh"]).exists()
    True
    """
    plt = pyplot()
    cols = max(1, int(cols))
    if names is None:
        names = [n for n, r in ACTIVATIONS.items() if r.elementwise]
    records = [get_activation(n) for n in names]
    non_elementwise = [r.name for r in records if not r.elementwise]
    if non_elementwise:
        raise ValueError(
            f"plot_activations draws elementwise activations; {non_elementwise} act along an axis."
        )
    cols = min(cols, len(records))
    rows = math.ceil(len(records) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    x = np.linspace(*x_range, 1001)
    xj = jnp.asarray(x, jnp.float32)
    for ax, rec in zip(axes.flat, records, strict=False):
        ax.axhline(0, color="0.85", lw=0.8)
        ax.axvline(0, color="0.85", lw=0.8)
        ax.plot(x, np.asarray(rec.fn(xj)), color="C0", lw=1.8, label=r"$\phi(x)$")
        ax.plot(x, np.asarray(rec.derivative(xj)), color="C3", lw=1.4, ls="--", label=r"$\phi'(x)$")
        for x0, g in rec.kinks.items():
            ax.plot([x0], [g], "o", color="C3", ms=4)
        ax.set_title(f"{rec.name}   max|φ'| = {rec.max_slope:.3g}", fontsize=9)
        ax.set_xlim(*x_range)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("x", fontsize=8)
    for ax in list(axes.flat)[len(records) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Activations (solid) and their closed-form derivatives (dashed); dots: gradient at kinks",
        fontsize=10,
    )
    return save_figure(fig, path, dpi)


def plot_attenuation(results, path: str | Path, *, title: str | None = None, dpi: int = 110):
    """Gradient norm against layer (log scale), one line per :class:`AttenuationResult`.

    Norms are divided by the last layer's so every line starts at 1 at the output; the dotted
    line beside each is its fitted geometric rate.

    Args:
      results: :class:`~jaxact.AttenuationResult` objects (one line each).
      path: output file; the suffix sets the format.
      title: the figure title.
      dpi: resolution of raster formats.

    Returns:
      The path written.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jax, jaxact
    >>> from jaxact.plotting import plot_attenuation
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=6, width=16)
    >>> x = jax.random.normal(jax.random.key(1), (8, 16))
    >>> plot_attenuation([jaxact.gradient_attenuation(p, x, "tanh")], out / "att.png").exists()
    True
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for i, r in enumerate(results):
        depth = r.depth
        layers = np.arange(1, depth + 1)
        rel = np.asarray(r.grad_norms) / r.grad_norms[-1]
        shown = np.where(rel > 0, rel, np.nan)
        ax.semilogy(layers, shown, "-", color=f"C{i}", lw=1.8, label=f"{r.activation}")
        zero = np.nonzero(rel == 0)[0]
        if zero.size:
            last = int(zero[-1]) + 1  # layers at and below this one underflowed to exactly 0
            ax.annotate(
                f"{r.activation}: 0 (underflow) for l <= {last}",
                xy=(last + 1, rel[last]),
                xytext=(4, -12),
                textcoords="offset points",
                fontsize=7,
                color=f"C{i}",
            )
        if np.isfinite(r.rate) and r.rate > 0:
            fit = r.rate ** (depth - layers).astype(float)
            ax.semilogy(
                layers, fit, ":", color=f"C{i}", lw=1.2, label=f"  fit: x{r.rate:.3g}/layer"
            )
    ax.set_xlabel("hidden layer l (1 = next to the input)")
    ax.set_ylabel("||dL/dh_l|| / ||dL/dh_depth||")
    ax.set_title(title or "Gradient norm on the way back to the input")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return save_figure(fig, path, dpi)


def plot_phase_diagram(
    lines,
    path: str | Path | Sequence[str] | None = None,
    *,
    activations: Sequence[str] | None = None,
    sigma_b2: Sequence[float] | None = None,
    dpi: int = 110,
) -> Path:
    """The edge of chaos (``chi_1 = 1``) in the ``(sigma_w2, sigma_b2)`` plane, one line per
    :class:`~jaxact.theory.EdgeOfChaos` (:func:`jaxact.theory.edge_of_chaos`).

    Left of each line the network is ordered (gradients vanish), right of it chaotic (they
    explode); bias variances where ``chi_1 = 1`` is not reached are left out of the line.

    The call of earlier releases, ``plot_phase_diagram(path, activations, sigma_b2=...)``,
    still works for one release, with a ``DeprecationWarning``: it solves the lines itself.

    Args:
      lines: :class:`~jaxact.theory.EdgeOfChaos` results, one line each.
      path: output file; the suffix sets the format.
      activations: only for the deprecated call.
      sigma_b2: only for the deprecated call.
      dpi: resolution of raster formats.

    Returns:
      The path written.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jaxact.theory as th
    >>> from jaxact.plotting import plot_phase_diagram
    >>> edges = [th.edge_of_chaos(a, [0.0, 0.1]) for a in ("tanh", "relu")]
    >>> plot_phase_diagram(edges, out / "phase.png").exists()
    True
    """
    if isinstance(lines, (str, Path)):
        lines, path = _solved_edges(lines, activations if path is None else path, sigma_b2)
    elif sigma_b2 is not None or activations is not None:
        raise TypeError("plot_phase_diagram: activations and sigma_b2 belong to "
                        "jaxact.theory.edge_of_chaos; pass the lines it returns.")  # fmt: skip
    lines = list(lines)
    if path is None:
        raise TypeError("plot_phase_diagram: missing the output path.")
    if not lines or not all(hasattr(e, "sigma_w2") and hasattr(e, "unreached") for e in lines):
        raise TypeError("plot_phase_diagram: lines must be a non-empty sequence of "
                        "jaxact.theory.edge_of_chaos results.")  # fmt: skip
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    xmin, xmax = math.inf, 0.0
    for i, e in enumerate(lines):
        if e.sigma_w2:
            xmin, xmax = min(xmin, min(e.sigma_w2)), max(xmax, max(e.sigma_w2))
            ax.plot(e.sigma_w2, e.sigma_b2, "-o", color=f"C{i}", ms=3, lw=1.8, label=e.activation)
    ax.set_xlabel(r"$\sigma_w^2$ (weight variance $\times$ fan-in)")
    ax.set_ylabel(r"$\sigma_b^2$ (bias variance)")
    ax.set_title(r"Edge of chaos: $\chi_1 = 1$")
    ax.set_xscale("log")  # sigmoid's edge of chaos lies ~50x further out than tanh's
    if xmax:
        ax.set_xlim(xmin / 1.6, xmax * 1.6)
    ax.text(0.04, 0.92, "ordered\n(gradients vanish)", transform=ax.transAxes, fontsize=9,
            va="top")  # fmt: skip
    ax.text(0.96, 0.08, "chaotic\n(gradients explode)", transform=ax.transAxes, fontsize=9,
            ha="right")  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left")
    return save_figure(fig, path, dpi)


def _solved_edges(path, activations, sigma_b2):
    """The deprecated ``plot_phase_diagram(path, activations, sigma_b2=...)``: the lines solved
    here (the one place a plot computes theory; removed in the next release)."""
    import warnings

    from jaxact.theory import edge_of_chaos

    warnings.warn("plot_phase_diagram(path, activations, sigma_b2=...) is deprecated: pass "
                  "[jaxact.theory.edge_of_chaos(a, sigma_b2) for a in activations] and the "
                  "path.", DeprecationWarning, stacklevel=3)  # fmt: skip
    activations = ("tanh", "relu", "gelu", "selu") if activations is None else activations
    return [edge_of_chaos(a, sigma_b2) for a in activations], path


def plot_theory_comparison(comparisons, path: str | Path, *, dpi: int = 110) -> Path:
    """Predicted ``chi_1^(depth - l)`` (line) against measured squared gradient norms (points
    with the spread over seeds), one colour per :class:`~jaxact.theory.TheoryComparison`.

    Args:
      comparisons: :class:`~jaxact.theory.TheoryComparison` objects.
      path: output file; the suffix sets the format.
      dpi: resolution of raster formats.

    Returns:
      The path written.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jaxact.theory as th
    >>> from jaxact.plotting import plot_theory_comparison
    >>> c = th.compare("tanh", sigma_w2=1.5, depth=6, width=64, seeds=2)
    >>> plot_theory_comparison([c], out / "theory.png").exists()
    True
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    for i, c in enumerate(comparisons):
        layers = np.arange(1, c.depth + 1)
        predicted = c.chi1 ** (c.depth - layers).astype(float)
        ax.semilogy(layers, predicted, "-", color=f"C{i}", lw=1.5,
                    label=f"{c.activation}: theory $\\chi_1$={c.chi1:.3g}")  # fmt: skip
        sq = np.where(c.sq_norms > 0, c.sq_norms, np.nan)
        med = np.nanmedian(sq, axis=0)
        lo, hi = np.nanmin(sq, axis=0), np.nanmax(sq, axis=0)
        ax.errorbar(layers, med, yerr=[med - lo, hi - med], fmt="o", ms=3, color=f"C{i}",
                    elinewidth=0.8, capsize=1.5,
                    label=f"  measured {np.mean(c.measured_chi1):.3g} "
                    f"(width {c.width}, {len(c.measured_chi1)} seeds)")  # fmt: skip
    ax.set_xlabel("hidden layer l (1 = next to the input)")
    ax.set_ylabel(r"$\|dL/dh_l\|^2 / \|dL/dh_{depth}\|^2$")
    ax.set_title("Gradient attenuation: mean-field theory against measurement")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path, dpi)


def plot_sweep(rows, path: str | Path, *, x: str = "depth", y: str | None = None,
               theory: bool = False, dpi: int = 110) -> Path:  # fmt: skip
    """A sweep's metric against one grid axis, one line per remaining cell, with seed bands.

    ``rows`` come from :func:`jaxact.sweeps.summarize`. ``x`` is ``depth``, ``width``,
    ``sigma_w2`` or ``sigma_b2``; ``y`` the metric (default ``rate`` for attenuation sweeps,
    ``train_accuracy`` for training). Lines are told apart by the activation and by whichever
    other grid axes vary; the band runs from the smallest to the largest seed's value.
    Rows that carry ``rate_theory`` (:func:`jaxact.runs.with_theory_rate`: the mean-field
    prediction at each cell's depth) add it as a dashed line of the same colour.
    ``theory=True`` computed it here; it still does for one release, with a
    ``DeprecationWarning``.

    Args:
      rows: :func:`jaxact.sweeps.summarize`'s rows.
      path: output file; the suffix sets the format.
      x: the grid axis across.
      y: the metric.
      theory: deprecated; use :func:`jaxact.runs.with_theory_rate`.
      dpi: resolution of raster formats.

    Returns:
      The path written.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> from jaxact.plotting import plot_sweep
    >>> from jaxact.sweeps import summarize
    >>> cell = {"activation": "relu", "width": 8, "init": "he", "sigma_w2": 2.0,
    ...         "sigma_b2": 0.0, "kind": "attenuation", "batch": 4, "total": 1.0}
    >>> recs = [{**cell, "depth": d, "seed": s, "rate": 1 + s / 10} for d in (4, 8)
    ...         for s in (0, 1)]
    >>> plot_sweep(summarize(recs), out / "sweep.png").exists()
    True
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_sweep: no rows to plot.")
    axes_ = ("depth", "width", "init", "sigma_w2", "sigma_b2")
    if x not in axes_ or x == "init":
        raise ValueError(f"plot_sweep: x must be depth, width, sigma_w2 or sigma_b2; got {x!r}.")
    kind = rows[0].get("kind", "attenuation")
    y = y or ("rate" if kind == "attenuation" else "train_accuracy")
    if f"{y}_mean" not in rows[0]:
        raise ValueError(f"plot_sweep: no metric {y!r} in these rows.")
    if theory and y != "rate":
        raise ValueError(f"plot_sweep: theory=True predicts attenuation rates, not {y!r}.")
    if theory:
        import warnings

        from jaxact.runs.summaries import with_theory_rate

        warnings.warn("plot_sweep(..., theory=True) is deprecated: pass the rows of "
                      "jaxact.runs.with_theory_rate(rows); a row's rate_theory is drawn as a "
                      "dashed line.", DeprecationWarning, stacklevel=2)  # fmt: skip
        rows = with_theory_rate(rows)
    varying = [k for k in axes_ if k != x and len({json.dumps(r[k]) for r in rows}) > 1]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["activation"], *(r[k] for k in varying)), []).append(r)
    for i, (key, rs) in enumerate(groups.items()):
        rs = sorted(rs, key=lambda r: r[x])
        xs = [r[x] for r in rs]
        label = ", ".join([key[0], *(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in zip(varying, key[1:], strict=True))])  # fmt: skip
        ax.plot(xs, [r[f"{y}_mean"] for r in rs], "-o", ms=3, color=f"C{i % 10}", label=label)
        ax.fill_between(xs, [r[f"{y}_min"] for r in rs], [r[f"{y}_max"] for r in rs],
                        color=f"C{i % 10}", alpha=0.2)  # fmt: skip
        if "rate_theory" in rs[0] and y == "rate":
            ax.plot(xs, [r["rate_theory"] for r in rs], "--", lw=1, color=f"C{i % 10}",
                    label="mean-field theory" if i == 0 else None)  # fmt: skip
    if y == "rate":
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        lo = min(r["rate_min"] for r in rows)
        if lo > 0 and max(r["rate_max"] for r in rows) / lo > 20:
            ax.set_yscale("log")
    ticks = sorted({r[x] for r in rows})
    if ticks[0] > 0 and (x == "sigma_w2" or ticks[-1] / ticks[0] >= 10):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel(x)
    names = {"rate": "gradient factor per layer", "train_accuracy": "training accuracy",
             "final_loss": "final loss"}  # fmt: skip
    ax.set_ylabel(f"{names.get(y, y)} (band: seed min-max)")
    ax.set_title("Attenuation sweep" if kind == "attenuation" else "Training sweep")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path, dpi)


def _site_axis(ax, sites, *, label_max: int = 40) -> None:
    """x axis of sites in execution order: their names when few, else their index."""
    n = len(sites)
    if n <= label_max:
        ax.set_xticks(np.arange(n), [s.name for s in sites], rotation=75, ha="right", fontsize=6)
        ax.set_xlabel("activation site (forward execution order)")
    else:
        ax.set_xlabel(f"activation site index (forward execution order, {n} sites)")


def plot_diagnosis(diag, path: str | Path | None = None, *, title: str | None = None,
                   dpi: int = 110):  # fmt: skip
    """The gradient-flow picture of a :class:`~jaxact.Diagnosis`.

    Top: ``||dLoss/dh||`` at every activation site, in forward execution order (input on the
    left), on a log axis, coloured by activation; a site where it is exactly 0 is marked on the
    axis floor. Bottom: the fractions of saturated entries, of entries with ``phi' = 0`` and of
    dead units at each site.

    Args:
      diag: from :func:`jaxact.diagnose` (host or device arrays).
      path: where to save it (the suffix sets the format); ``None`` returns the figure.
      title: the figure title.
      dpi: resolution of raster formats.

    Returns:
      The path written, or the matplotlib figure when ``path`` is None.

    ---
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.plotting import plot_diagnosis
    >>> def loss(w, x):
    ...     return jnp.sum(jaxact.relu(jnp.tanh(x @ w) @ w))
    >>> d = jaxact.diagnose(loss, jnp.eye(3), jnp.ones((4, 3)))
    >>> plot_diagnosis(d, out / "diag.png").exists()
    True
    """
    plt = pyplot()
    sites = diag.sites
    if not sites:
        raise ValueError("plot_diagnosis: the diagnosis has no sites.")
    n = len(sites)
    x = np.arange(n)
    g = np.asarray(diag.grad_norm, np.float64)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(7.0, min(14.0, 0.25 * n + 5)), 6.2),
                                      sharex=True, height_ratios=[3, 2])  # fmt: skip
    acts = list(dict.fromkeys(s.activation for s in sites))
    positive = g[(g > 0) & np.isfinite(g)]
    floor = positive.min() / 10 if positive.size else 1e-30
    top.semilogy(x, np.where(g > 0, g, np.nan), "-", color="0.6", lw=0.8)
    for i, act in enumerate(acts):
        idx = np.array([k for k, s in enumerate(sites) if s.activation == act])
        gi = g[idx]
        top.semilogy(idx[gi > 0], gi[gi > 0], "o", ms=3.5, color=f"C{i}", label=act)
        zero = idx[gi == 0]
        if zero.size:
            top.plot(zero, np.full(zero.size, floor), "v", color=f"C{i}", ms=5,
                     label=f"{act}: exactly 0")  # fmt: skip
    top.set_ylabel("||dLoss/dh|| at the site")
    top.grid(True, which="major", alpha=0.3)
    top.legend(fontsize=7, ncol=min(4, 2 * len(acts)))
    top.set_title(title or f"Gradient flow through {n} activation sites (loss "
                           f"{float(np.asarray(diag.loss)):.4g})")  # fmt: skip
    for key, style, label in (
        ("saturated", "-", "saturated entries (0 < |phi'| < s sup|phi'|)"),
        ("zero_grad", "--", "entries with phi' = 0"),
        ("dead_units", ":", "dead units (phi' = 0 on every example)"),
    ):
        bottom.plot(x, np.asarray(getattr(diag, key), np.float64), style, lw=1.5, label=label)
    bottom.set_ylim(-0.03, 1.03)
    bottom.set_xlim(-0.5, n - 0.5)
    bottom.set_ylabel("fraction")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=7)
    _site_axis(bottom, sites)
    if path is None:
        fig.tight_layout()
        return fig
    return save_figure(fig, path, dpi)


def plot_diagnosis_history(
    diagnoses: Sequence,
    steps: Sequence[int],
    path: str | Path | None = None,
    *,
    title: str | None = None,
    dpi: int = 110,
):
    """Site x step heatmaps of diagnoses logged during training.

    Three panels share the axes (training step across, activation site down in forward order):
    ``log10 ||dLoss/dh||``, the saturated fraction and the dead-unit fraction.

    Args:
      diagnoses: :class:`~jaxact.Diagnosis` objects of one model (the same sites), e.g.
        ``TrainResult.diagnoses`` from ``train(..., diagnose_every=k)``, or one Diagnosis
        stacked over steps (``jax.tree.map(lambda *a: np.stack(a), *diagnoses)``).
      steps: the training step of each.
      path: where to save it; ``None`` returns the figure.

    Returns:
      The path written, or the figure.

    ---
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jax.numpy as jnp, jaxact
    >>> from jaxact.plotting import plot_diagnosis_history
    >>> def loss(w, x):
    ...     return jnp.sum(jaxact.tanh(x @ w))
    >>> ds = [jaxact.diagnose(loss, s * jnp.eye(3), jnp.ones((4, 3))) for s in (0.5, 1.0, 2.0)]
    >>> plot_diagnosis_history(ds, [0, 10, 20], out / "hist.png").exists()
    True
    """
    plt = pyplot()
    from jaxact.diagnosis import Diagnosis

    if isinstance(diagnoses, Diagnosis):  # a history stacked over steps
        diagnoses = diagnoses.unstack()
    diagnoses, steps = list(diagnoses), [int(s) for s in steps]
    if not diagnoses or len(diagnoses) != len(steps):
        raise ValueError(
            f"plot_diagnosis_history: give one step per diagnosis, got {len(diagnoses)} "
            f"diagnoses and {len(steps)} steps."
        )
    sites = diagnoses[0].sites
    if any(d.sites != sites for d in diagnoses):
        raise ValueError("plot_diagnosis_history: the diagnoses have different sites.")
    n = len(sites)
    fig, axes = plt.subplots(1, 3, figsize=(13.0, max(3.5, min(10.0, 0.18 * n + 2.5))),
                             sharey=True)  # fmt: skip
    with np.errstate(divide="ignore"):
        grad = np.log10(np.stack([np.asarray(d.grad_norm, np.float64) for d in diagnoses], 1))
    grad[np.isinf(grad)] = np.nan
    panels = (
        (grad, "log10 ||dLoss/dh||", "viridis", None, None),
        (np.stack([np.asarray(d.saturated, np.float64) for d in diagnoses], 1),
         "saturated fraction", "magma", 0.0, 1.0),
        (np.stack([np.asarray(d.dead_units, np.float64) for d in diagnoses], 1),
         "dead-unit fraction", "magma", 0.0, 1.0),
    )  # fmt: skip
    cols = np.arange(len(steps))
    for ax, (data, label, cmap, lo, hi) in zip(axes, panels, strict=True):
        im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
        ax.set_title(label, fontsize=10)
        ticks = cols[:: max(1, math.ceil(len(cols) / 8))]
        ax.set_xticks(ticks, [str(steps[i]) for i in ticks], fontsize=7)
        ax.set_xlabel("training step")
    if n <= 40:
        axes[0].set_yticks(np.arange(n), [s.name[-38:] for s in sites], fontsize=6)
    axes[0].set_ylabel("activation site (input at the top)")
    fig.suptitle(title or f"Diagnosis during training: {n} sites, {len(steps)} logged steps")
    if path is None:
        fig.tight_layout()
        return fig
    return save_figure(fig, path, dpi)


def plot_precision_census(census, path: str | Path | None = None, *, title: str | None = None,
                          dpi: int = 110):  # fmt: skip
    """Site x loss-scale map of the gradient a low-precision dtype loses, the safe band marked.

    Each cell is the fraction of the site's ``dL/dh`` lost to underflow at that loss scale
    (:class:`~jaxact.precision.PrecisionCensus`), from white (nothing lost) to black (all of
    it); cells where the gradient overflowed (inf or NaN) are red. The loss scales that are
    safe for every site are framed in green along the bottom; where none is, the title says so.

    Args:
      census: a :class:`~jaxact.precision.PrecisionCensus`.
      path: where to save it; ``None`` returns the figure.
      title: the figure's title (default: the dtype and the safe range).
      dpi: resolution of the saved figure.

    Returns:
      The path written, or the figure.

    ---
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.precision import precision_census
    >>> from jaxact.plotting import plot_precision_census
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=12, width=16, init="glorot", out_dim=1)
    >>> x = jax.random.normal(jax.random.key(1), (8, 16))
    >>> c = precision_census(lambda p, x: jnp.mean(jaxact.mlp_forward(p, x, "sigmoid")), p, x)
    >>> plot_precision_census(c, out / "census.png").exists()
    True
    """
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    from jaxact.precision import scale_label

    under = np.asarray(census.underflow, np.float64).T  # (sites, scales)
    over = np.asarray(census.overflow, np.float64).T > 0
    scales = np.asarray(census.loss_scales, np.float64)
    n, m = under.shape
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * m + 3.0), max(3.5, min(10.0, 0.2 * n + 2.0))))
    im = ax.imshow(np.where(over, np.nan, under), aspect="auto", interpolation="nearest",
                   cmap="Greys", vmin=0.0, vmax=1.0)  # fmt: skip
    red = np.where(over, 1.0, np.nan)
    ax.imshow(red, aspect="auto", interpolation="nearest", cmap=ListedColormap(["#d62728"]),
              vmin=0.0, vmax=1.0)  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02,
                 label="fraction of dL/dh lost to underflow")  # fmt: skip
    safe = census.safe()
    for j in np.nonzero(safe)[0]:
        ax.add_patch(Rectangle((j - 0.5, -0.5), 1.0, n, fill=False, edgecolor="#2ca02c",
                               linewidth=1.5))  # fmt: skip
    ticks = np.arange(m)[:: max(1, math.ceil(m / 13))]
    ax.set_xticks(ticks, [scale_label(scales[j]) for j in ticks], fontsize=8, rotation=45)
    ax.set_xlabel("loss scale (green: safe for every site; red: overflow)")
    if n <= 40:
        ax.set_yticks(np.arange(n), [s.name[-38:] for s in census.sites], fontsize=6)
    ax.set_ylabel("activation site (input at the top)")
    rng = census.safe_loss_scales()
    where = (f"safe loss scales {scale_label(rng[0])} to {scale_label(rng[1])}" if rng
             else "no single loss scale is safe")  # fmt: skip
    ax.set_title(title or f"Gradient lost in {census.dtype}: {where}", fontsize=11)
    if path is None:
        fig.tight_layout()
        return fig
    return save_figure(fig, path, dpi)
