"""What the study's figures share: the saving (sizes readable in the report), the colours of
the activations, and the decision-map panels of the two-spirals classifiers (claims 1 and 9).

Each claim's own figures live with the claim, in :mod:`jaxact.study.claims`; every figure
function draws numbers the experiment already computed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxact.plotting import pyplot, save_figure

__all__ = ["DPI", "STYLE", "plot_decisions", "save"]

DPI = 100


def save(fig, path: Path) -> Path:
    """Save a report figure: tick labels and axis labels at a size that stays readable when
    the report shows the figure scaled down to a 700-pixel window; legends placed outside
    the axes are kept (``bbox_inches="tight"``)."""
    for ax in fig.axes:
        ax.tick_params(labelsize=10)
        ax.xaxis.label.set_size(11)
        ax.yaxis.label.set_size(11)
    return save_figure(fig, path, DPI, bbox_inches="tight")


#: Colour and marker of each activation that several claims draw.
STYLE = {"relu": ("C0", "o"), "sigmoid": ("C3", "s"), "tanh": ("C2", "^"),
          "leaky_relu": ("C1", "D")}  # fmt: skip


def plot_decisions(runs, data_xy, path: Path, title: str) -> Path:
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
    return save(fig, path)
