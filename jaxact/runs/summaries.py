"""Summaries of runs over seeds: the mean and spread of a metric per cell of a grid.

The study, the sweeps and the figures all summarise seeds with these two functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from jaxact.runs.records import COORDS, RECORD_RENAMED, SETTINGS
from jaxact.vocabulary import Record

__all__ = ["METRICS", "cell_summary", "seed_statistics", "summarize", "with_theory_rate"]

#: The metrics :func:`summarize` summarises, per kind.
METRICS = {"attenuation": ("rate",), "training": ("final_loss", "train_accuracy")}


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


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds, one row per grid cell (in the order cells first appear).

    Each row: the cell's coordinates and ``kind``, ``seeds`` (how many), and for each metric
    (attenuation: ``rate``; training: ``final_loss`` and ``train_accuracy``) ``<m>_mean``,
    ``<m>_std``, ``<m>_min``, ``<m>_max``. Attenuation rows add ``log10_total_mean`` (``-inf``
    where a gradient underflowed to 0) and ``signal_lost`` (how many seeds' signal over- or
    underflowed, :func:`~jaxact.attenuation.signal_lost`; the rate statistics are over the
    others); training rows add ``diverged`` (how many seeds diverged; the statistics are over
    the others, NaN if none is left).

    Args:
      records: :func:`jaxact.sweeps.sweep`'s records (or read back with
        :func:`~jaxact.runs.records.read_records`).

    Returns:
      A list of dicts, one per grid cell.

    >>> from jaxact.runs.summaries import summarize
    >>> recs = [{"activation": "relu", "depth": 4, "width": 8, "kind": "attenuation",
    ...          "seed": s, "rate": r, "total": 1.0} for s, r in enumerate([0.9, 1.1])]
    >>> row, = summarize(recs)
    >>> row["seeds"], round(row["rate_mean"], 6), round(row["rate_std"], 6)
    (2, 1.0, 0.1)
    """
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        cells.setdefault(tuple(json.dumps(r.get(k)) for k in (*COORDS, "kind", *SETTINGS)),
                         []).append(r)  # fmt: skip
    rows = []
    for rs in cells.values():
        kind = rs[0].get("kind", "attenuation")
        row = {k: rs[0][k] for k in (*COORDS, "kind") if k in rs[0]} | {"seeds": len(rs)}
        # Measurements only: a diverged run, or a signal that over- or underflowed
        # (attenuation.signal_lost), is counted, not averaged.
        alive = [r for r in rs if not r.get("diverged_step") and not r.get("signal_lost")]
        for m in METRICS[kind]:
            stats = seed_statistics([r[m] for r in alive])
            row |= {f"{m}_{k}": v for k, v in stats.items()}
        if kind == "attenuation":
            with np.errstate(divide="ignore", invalid="ignore"):
                row["log10_total_mean"] = float(np.mean(np.log10([r["total"] for r in rs])))
            row["signal_lost"] = len(rs) - len(alive)
        else:
            row["diverged"] = len(rs) - len(alive)
        rows.append(Record(row, renamed=RECORD_RENAMED))
    return rows


def with_theory_rate(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attenuation rows (:func:`summarize`) with ``rate_theory`` added: the mean-field rate
    at each cell's depth (:func:`jaxact.theory.attenuation_rate`), what
    :func:`jaxact.plotting.plot_sweep` draws as a dashed line and ``jaxact sweep --theory``
    prints beside the measured rate.

    Args:
      rows: :func:`summarize`'s rows of an attenuation sweep.

    Returns:
      New rows (dicts), each with ``rate_theory``.

    Raises:
      ValueError: a row that is not an attenuation row (theory predicts rates only).

    >>> from jaxact.runs.summaries import with_theory_rate
    >>> row = {"activation": "relu", "sigma_w2": 2.0, "sigma_b2": 0.0, "depth": 8,
    ...        "kind": "attenuation", "rate_mean": 1.01}
    >>> round(with_theory_rate([row])[0]["rate_theory"], 6)  # sqrt(sigma_w2 / 2)
    1.0
    """
    from jaxact.theory import attenuation_rate

    out = []
    for r in rows:
        if r.get("kind", "attenuation") != "attenuation":
            raise ValueError("with_theory_rate: mean-field theory predicts attenuation rates; "
                             f"this row is of kind {r.get('kind')!r}.")  # fmt: skip
        pred = attenuation_rate(r["activation"], r["sigma_w2"], r["sigma_b2"], r["depth"])
        out.append({**r, "rate_theory": pred})
    return out
