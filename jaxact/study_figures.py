"""Deprecated: the study's figures now live with their claims, in :mod:`jaxact.study.claims`
(and what they share in :mod:`jaxact.study.figures`). The old names still resolve here, with
a ``DeprecationWarning``, for one release."""

from __future__ import annotations

import importlib
import warnings

#: Old name -> (module, new name).
_MOVED = {
    "DPI": ("jaxact.study.figures", "DPI"),
    "decisions": ("jaxact.study.figures", "plot_decisions"),
    "derivatives": ("jaxact.study.claims.flat", "plot_derivatives"),
    "low_precision": ("jaxact.study.claims.vanishing", "plot_low_precision"),
    "active_fraction": ("jaxact.study.claims.relu_passes", "plot_active_fraction"),
    "depth_grid": ("jaxact.study.claims.depth", "plot_depth_grid"),
    "heatmap": ("jaxact.study.claims.depth", "plot_heatmap"),
    "trainability_map": ("jaxact.study.claims.depth", "plot_trainability_map"),
    "loss_curves": ("jaxact.study.claims.depth", "plot_loss_curves"),
    "signal": ("jaxact.study.claims.depth", "plot_signal"),
    "fluctuations": ("jaxact.study.claims.depth", "plot_fluctuations"),
    "ratios": ("jaxact.study.claims.speed", "plot_ratios"),
    "dead_units": ("jaxact.study.claims.dead", "plot_dead_units"),
}


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(f"module 'jaxact.study_figures' has no attribute {name!r}")
    module, new = _MOVED[name]
    warnings.warn(f"jaxact.study_figures.{name} is deprecated; use {module}.{new}",
                  DeprecationWarning, stacklevel=2)  # fmt: skip
    return getattr(importlib.import_module(module), new)
