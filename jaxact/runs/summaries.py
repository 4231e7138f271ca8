"""Summaries of runs over seeds: the mean and spread of a metric per cell of a grid.

The study, the sweeps and the figures all summarise seeds with these two functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["cell_summary", "seed_statistics"]


def seed_statistics(values) -> dict[str, float]:
    """``mean``, ``std``, ``min`` and ``max`` of a metric over seeds (NaN for no values): the
    spread that :func:`jaxact.sweeps.summarize` and the study report for every cell.

    Args:
      values: the metric's values, one per seed (any sequence of numbers).

    Returns:
      ``{"mean", "std", "min", "max"}`` as floats (``std`` with ``ddof=0``).

    >>> from jaxact.runs.summaries import seed_statistics
    >>> seed_statistics([1.0, 3.0])
    {'mean': 2.0, 'std': 1.0, 'min': 1.0, 'max': 3.0}
    """
    v = np.asarray(values, np.float64)
    stats = (v.mean(), v.std(), v.min(), v.max()) if v.size else (np.nan,) * 4
    return dict(zip(("mean", "std", "min", "max"), map(float, stats), strict=True))


def cell_summary(records: Iterable[dict[str, Any]], keys: Sequence[str],
                 metric: str = "test_accuracy") -> dict[tuple, dict[str, float]]:  # fmt: skip
    """Mean, standard deviation, min, max and count of ``metric`` over seeds, per cell (the
    values of ``keys``). Diverged runs count with NaN and are reported in ``diverged``.

    Args:
      records: run records (dicts), e.g. :func:`jaxact.trainability.run_grid`'s.
      keys: the record fields that name a cell (``("activation", "depth")``).
      metric: the field summarised.

    Returns:
      ``{cell: {"mean", "std", "min", "max", "n", "diverged"}}`` with ``cell`` the tuple of
      the ``keys``' values.

    >>> from jaxact.runs.summaries import cell_summary
    >>> recs = [{"act": "relu", "acc": a, "diverged": False} for a in (0.5, 0.7)]
    >>> row = cell_summary(recs, ("act",), "acc")[("relu",)]
    >>> round(row["mean"], 6), row["n"]
    (0.6, 2)
    """
    cells: dict[tuple, list[float]] = {}
    for r in records:
        v = r[metric]
        cells.setdefault(tuple(r[k] for k in keys), []).append(np.nan if v is None else v)
    out = {}
    for k, vs in cells.items():
        a = np.asarray(vs, np.float64)
        out[k] = seed_statistics(a[np.isfinite(a)]) | {
            "n": len(vs), "diverged": int((~np.isfinite(a)).sum())}  # fmt: skip
    return out
