"""Runs: what the training and attenuation studies build, record and summarise.

* ``jaxact.runs.recipes``: :class:`~jaxact.runs.Recipe` and :data:`~jaxact.runs.RECIPES`, the
  ways the trainability grid builds a deep MLP;
* ``jaxact.runs.records``: what a run records - the cell's coordinates, the layout version
  (:data:`~jaxact.runs.RECORD_SCHEMA`), a training run's fields
  (:data:`~jaxact.runs.TRAINING_RECORD`, :func:`~jaxact.runs.loss_curve`) - and the
  JSON-lines file they are streamed to (:func:`~jaxact.runs.read_records`,
  :func:`~jaxact.runs.append_records`, :func:`~jaxact.runs.check_sweep_output`);
* ``jaxact.runs.summaries``: :func:`~jaxact.runs.summarize`,
  :func:`~jaxact.runs.seed_statistics` and :func:`~jaxact.runs.cell_summary`, a metric's mean
  and spread over seeds per cell.

* ``jaxact.runs.engine``: the batched engine - one compiled program per shape
  (:func:`~jaxact.runs.engine.program`), the device mesh, the memory budget and chunking
  (:func:`~jaxact.runs.engine.network_bytes`, :func:`~jaxact.runs.engine.chunk_size`),
  dispatching and collecting the chunks;
* ``jaxact.runs.cells``: what one network computes - an attenuation cell and a training cell
  (the guarded step :func:`~jaxact.training.make_guarded_step` that :func:`~jaxact.train`
  runs too).

:mod:`jaxact.sweeps` (the grid sweep and :func:`~jaxact.sweeps.train_runs`) drives them and
re-exports these names; the trainability grid is :mod:`jaxact.trainability`.
"""

from __future__ import annotations

from jaxact.runs.recipes import RECIPES, Recipe
from jaxact.runs.records import (
    COORDS,
    RECORD_SCHEMA,
    TRAINING_RECORD,
    append_records,
    check_sweep_output,
    loss_curve,
    read_records,
    scan_records,
)
from jaxact.runs.summaries import (
    METRICS,
    cell_summary,
    seed_statistics,
    summarize,
    with_theory_rate,
)

__all__ = [
    "COORDS",
    "METRICS",
    "RECIPES",
    "RECORD_SCHEMA",
    "TRAINING_RECORD",
    "Recipe",
    "append_records",
    "cell_summary",
    "check_sweep_output",
    "loss_curve",
    "read_records",
    "scan_records",
    "seed_statistics",
    "summarize",
    "with_theory_rate",
]
