"""Claim 8: Leaky ReLU prevents dead neurons.

The experiment (:func:`run`), its verdict rule (:data:`RULE`, :func:`verdict`) and its figure
(:func:`plot_dead_units`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxact.plotting import pyplot
from jaxact.study.context import Context
from jaxact.study.experiment import CAVEAT, NOT_SUPPORTED, SUPPORTED, Experiment
from jaxact.study.figures import save
from jaxact.sweeps import Run, train_runs

ID = "dead"
TITLE = "Leaky ReLU prevents dead neurons"
CLAIM = (
    "Leaky ReLU ... allows a small negative output, preventing 'dead neurons' where a ReLU is "
    "permanently zero."
)
RULE = (
    "supported if Leaky ReLU ends with 0% dead units and ReLU with > 5% (mean over seeds); "
    "'supported with a caveat' if Leaky ReLU has none but ReLU too few to show the problem; "
    "otherwise not supported."
)


def verdict(numbers: dict[str, Any]) -> str:
    """:data:`RULE` applied to :func:`run`'s numbers (as returned or as saved)."""
    relu = float(numbers["relu"]["dead_fraction_mean"])
    leaky = float(numbers["leaky_relu"]["dead_fraction_mean"])
    if leaky == 0:
        return SUPPORTED if relu > 0.05 else CAVEAT
    return NOT_SUPPORTED


def run(ctx: Context) -> Experiment:
    """ReLU and Leaky ReLU nets on digits, several seeds, plain SGD at a high learning rate;
    dead units observed over training."""
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
    relu = rows["relu"]["dead_fraction_mean"]
    leaky = rows["leaky_relu"]["dead_fraction_mean"]
    decided = verdict(rows)
    fig = plot_dead_units(recs, ctx.figure("dead_units.png"))
    per_seed = ", ".join(f"{v:.1%}" for v in rows["relu"]["dead_fraction_per_seed"])

    def accuracy(act):
        r = rows[act]
        return f"{r['test_accuracy_mean']:.0%} ± {r['test_accuracy_std']:.0%}"

    caveat = (f" Caveat: Leaky ReLU ended with no dead units, but only {relu:.1%} of ReLU's "
              "died here, too few to show the problem at this size and step budget."
              if decided == CAVEAT else "")  # fmt: skip
    return Experiment(
        ID, TITLE, CLAIM, decided,
        f"Digits, {depth} hidden layers of width {s.width}, {cfg.dead_steps} plain SGD steps at "
        f"a deliberately high learning rate ({cfg.dead_lr}), {s.seeds} seeds: at the end "
        f"{relu:.1%} of ReLU units are dead (zero gradient on every training image; per seed "
        f"{per_seed}) against {leaky:.1%} for Leaky ReLU (slope 0.01). Test accuracy (mean ± sd "
        f"over seeds): ReLU {accuracy('relu')}, Leaky ReLU {accuracy('leaky_relu')}; at this "
        "learning rate training is chaotic, so these accuracies move from one machine to "
        "another (rounding changes the trajectory): the dead fractions are the claim's measure."
        + caveat,
        {**rows, "runs": recs}, [fig.name], decided_by=RULE,
    )  # fmt: skip


def plot_dead_units(records, path: Path) -> Path:
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
    return save(fig, path)
