"""Runs: what the training and attenuation studies build, record and summarise.

* ``jaxact.runs.recipes``: :class:`~jaxact.runs.Recipe` and :data:`~jaxact.runs.RECIPES`, the
  ways the trainability grid builds a deep MLP;
* ``jaxact.runs.summaries``: :func:`~jaxact.runs.seed_statistics` and
  :func:`~jaxact.runs.cell_summary`, a metric's mean and spread over seeds per cell.

The engine that runs them (batched, sharded, chunked) and the records' file are
:mod:`jaxact.sweeps`; the trainability grid is :mod:`jaxact.trainability`.
"""

from __future__ import annotations

from jaxact.runs.recipes import RECIPES, Recipe
from jaxact.runs.summaries import cell_summary, seed_statistics

__all__ = ["RECIPES", "Recipe", "cell_summary", "seed_statistics"]
