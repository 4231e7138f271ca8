"""What a run records: the fields of a sweep's records, their layout version, and the
JSON-lines file they are streamed to (read back, checked, appended to).

A record is a flat dict of plain values (``json`` and ``pandas`` take it as it is): the cell's
coordinates (:data:`COORDS`), ``kind``, the kind's settings (:data:`SETTINGS`), ``seed``,
``schema`` (:data:`RECORD_SCHEMA`) and the measurement - a training run's ends with
:data:`TRAINING_RECORD`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxact.files import OutputRefused, append_lines, check_output_file
from jaxact.vocabulary import Record, fit_rate, signal_lost

#: The coordinates of a grid cell, in every record.
COORDS = ("activation", "depth", "width", "init", "sigma_w2", "sigma_b2")
#: The settings of a kind that tell two cells apart beside their coordinates.
SETTINGS = ("batch", "optimizer", "learning_rate", "steps", "data", "n_points")

#: The fields every training record ends with, from :func:`sweep` and :func:`train_runs`
#: alike (the run's settings come before them).
TRAINING_RECORD = (
    "final_loss",
    "train_accuracy",
    "steps_logged",
    "loss_curve",
    "grad_norms_init",
    "grad_norms_final",
    "diverged_step",
    "diverged_layer",
)
#: The layout version of a sweep's records (``"schema"``): 2 since training records say
#: ``train_accuracy`` (was ``final_accuracy``) and their ``loss_curve`` is the windowed mean,
#: as :func:`train_runs`'s.
RECORD_SCHEMA = 2
#: Training record and summary keys renamed in this release: ``{old: new}`` (the old names
#: still read, with a ``DeprecationWarning``, for one release).
RECORD_RENAMED = {"final_accuracy": "train_accuracy"} | {
    f"final_accuracy_{k}": f"train_accuracy_{k}" for k in ("mean", "std", "min", "max")
}


def loss_curve(losses, steps: int, log_every: int, bad_step: int = 0) -> tuple[list, list]:
    """A training record's ``steps_logged`` and ``loss_curve``: the mean loss of the updates in
    each window of ``log_every`` steps (the last window ends at ``steps``), NaN from the window
    in which the run diverged on. The one definition
    :func:`jaxact.sweeps.sweep` and :func:`jaxact.sweeps.train_runs` use.

    Args:
      losses: ``(steps,)`` the loss each update was computed on (update ``i`` at index
        ``i - 1``).
      steps: how many updates.
      log_every: the window.
      bad_step: the update at which the run diverged (1-based), 0 for none.

    Returns:
      ``(steps_logged, loss_curve)``: the last update of each window, and the windows' means.

    >>> from jaxact.runs.records import loss_curve
    >>> loss_curve([4.0, 2.0, 1.0, 1.0, 0.5], 5, 2)
    ([2, 4, 5], [3.0, 1.0, 0.5])
    >>> loss_curve([4.0, 2.0, 1.0, float("nan"), 0.5], 5, 2, bad_step=4)[1]
    [3.0, nan, nan]
    """
    losses = np.asarray(losses, np.float64)
    ends = sorted({*range(log_every, steps + 1, log_every), steps})
    starts = [0, *ends[:-1]]
    curve = [float(losses[a:b].mean()) if not bad_step or b < bad_step else float("nan")
             for a, b in zip(starts, ends, strict=True)]  # fmt: skip
    return ends, curve


#: Keys every sweep record has: how :func:`read_records` tells our files from others.
RECORD_KEYS = ("activation", "depth", "width", "seed", "kind")


def attenuation_fields(grad_norms) -> dict[str, Any]:
    """An attenuation record's measurement from a network's per-layer gradient norms: ``rate``
    and ``fit_rms`` (:func:`~jaxact.vocabulary.fit_rate`), ``total`` (``g_1 / g_depth``),
    ``grad_norms`` and where the signal was lost (:func:`~jaxact.vocabulary.signal_lost`:
    after an overflow rate, total and fit are NaN; after an underflow the rate fits the layers
    above it only).

    Args:
      grad_norms: ``(depth,)`` the norms ``||dL/dh_l||``, layer 1 first.

    Returns:
      A dict of plain values.

    >>> from jaxact.runs.records import attenuation_fields
    >>> r = attenuation_fields([0.25, 0.5, 1.0])
    >>> round(r["rate"], 6), r["total"], r["signal_lost"]
    (0.5, 0.25, None)
    """
    gn = np.asarray(grad_norms, np.float64)
    lost = signal_lost(gn)
    nan = float("nan")
    if lost is not None and lost[0] == "overflow":
        rate = total = rms = nan  # nothing to fit: the signal overflowed
    else:
        rate, rms = fit_rate(gn)  # on an underflow: the layers above it only (flagged)
        total = float(gn[0] / gn[-1]) if gn[-1] > 0 else nan
    return {"rate": rate, "total": total, "fit_rms": rms, "grad_norms": gn.tolist(),
            "signal_lost": None if lost is None else lost[0],
            "signal_lost_layer": None if lost is None else lost[1]}  # fmt: skip


def training_fields(item: dict[str, Any], *, steps: int, log_every: int, depth: int,
                    test: bool = False) -> dict[str, Any]:  # fmt: skip
    """A training record's measurement (:data:`TRAINING_RECORD`, and ``test_loss``/
    ``test_accuracy`` with ``test``) from what a training cell returned for one network
    (:func:`~jaxact.runs.cells.training_cell`): the one builder :func:`~jaxact.sweeps.sweep`
    and :func:`~jaxact.sweeps.train_runs` use. A run that diverged has NaN final figures, its
    loss curve NaN from the window it diverged in, and ``diverged_step``/``diverged_layer``
    say where (:func:`~jaxact.training.layer_names`, or ``"the loss"``).

    Args:
      item: the cell's arrays for one network (``loss``, ``final_loss``, ``final_accuracy``,
        ``grad_norms_init``, ``grad_norms_final``, ``bad_step``, ``bad_layer``, ...).
      steps: training steps.
      log_every: the loss curve's window.
      depth: hidden layers.
      test: the cell measured a held-out set too.

    Returns:
      A dict of plain values.

    >>> import numpy as np
    >>> from jaxact.runs.records import training_fields
    >>> item = {"loss": np.array([3.0, 2.0, 1.0, 0.5]), "final_loss": 0.4,
    ...         "final_accuracy": 0.9, "grad_norms_init": np.ones(2),
    ...         "grad_norms_final": np.ones(2), "bad_step": 0, "bad_layer": -1}
    >>> r = training_fields(item, steps=4, log_every=2, depth=2)
    >>> r["loss_curve"], r["train_accuracy"], r["diverged_layer"]
    ([2.5, 0.75], 0.9, None)
    """
    from jaxact.training import layer_names

    bad = int(item["bad_step"])
    logged, curve = loss_curve(item["loss"], steps, log_every, bad)
    nan = float("nan")
    value = lambda k: nan if bad else float(item[k])  # noqa: E731
    layer = None
    if bad:
        li = int(item["bad_layer"])
        layer = "the loss" if li < 0 else layer_names(depth)[li]
    fields = {
        "final_loss": value("final_loss"),
        "train_accuracy": value("final_accuracy"),
        "steps_logged": logged,
        "loss_curve": curve,
        "grad_norms_init": np.asarray(item["grad_norms_init"], np.float64).tolist(),
        "grad_norms_final": np.asarray(item["grad_norms_final"], np.float64).tolist(),
        "diverged_step": bad or None,
        "diverged_layer": layer,
    }
    if test:
        fields |= {"test_loss": value("test_loss"), "test_accuracy": value("test_accuracy")}
    return fields


def read_records(path: str | Path, *, repair: bool = False,
                 current_only: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """The records of a sweep's JSON-lines file (``sweep(out=...)``), in file order.

    A last line cut short (a process killed mid-write) is skipped with a warning; with
    ``repair=True`` it is also cut from the file, so that records appended later start on a
    line of their own. A missing or empty file has no records. Records of another layout
    version (their ``schema``; none means 1) are skipped with one warning unless
    ``current_only=False``; a resumed sweep recomputes them.

    Args:
      path: the JSON-lines file.
      repair: cut a torn last line from the file.
      current_only: skip the records of another layout version.

    Returns:
      The records (dicts; training records read their renamed keys with a warning).

    Raises:
      ValueError: the file is not a jaxact sweep record file (a line that is not a JSON object
        with :data:`RECORD_KEYS`, other than a torn last line); the message names the line.

    >>> import pathlib, tempfile
    >>> from jaxact.runs import append_records, read_records
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.jsonl"
    >>> rec = {"activation": "relu", "depth": 2, "width": 4, "seed": 0, "kind": "attenuation",
    ...        "schema": 2, "rate": 1.0}
    >>> append_records(path, [rec])
    >>> read_records(path) == [rec]
    True
    """
    records, other = scan_records(path, repair=repair, current_only=current_only)
    warn_other_layout(path, other)
    return records


def warn_other_layout(path, other: int) -> None:
    """Warn (once) that ``other`` records of another layout version were skipped in ``path``;
    nothing when there were none.

    Args:
      path: the record file.
      other: how many records were skipped.

    Returns:
      None.
    """
    if other:
        warnings.warn(f"{path}: {other} record(s) of another layout version skipped (this "
                      f"jaxact writes version {RECORD_SCHEMA}); resuming recomputes them.",
                      stacklevel=3)  # fmt: skip


def scan_records(path, *, repair: bool = False,
                 current_only: bool = True) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """:func:`read_records`'s one pass over the file, without its warning: the records, and
    how many of another layout version it skipped (none when ``current_only`` is false).

    Args:
      path: the record file.
      repair: cut a torn last line from the file.
      current_only: skip the records of another layout version.

    Returns:
      ``(records, skipped)``.

    Raises:
      ValueError: not a record file (as :func:`read_records`).

    >>> import pathlib, tempfile
    >>> from jaxact.runs import append_records, scan_records
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.jsonl"
    >>> old = {"activation": "relu", "depth": 2, "width": 4, "seed": 0, "kind": "attenuation"}
    >>> append_records(path, [old])  # no "schema": layout version 1
    >>> scan_records(path)
    ([], 1)
    """
    path = Path(path)
    if not path.exists():
        return [], 0
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a regular file, not a sweep record file.")
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records = []
    other = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        last = i == len(lines) - 1  # no newline after it: possibly torn
        try:
            rec = json.loads(line)
            ok = isinstance(rec, dict) and all(k in rec for k in RECORD_KEYS)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rec, ok = None, False
        if ok:
            if current_only and rec.get("schema", 1) != RECORD_SCHEMA:
                other += 1
            else:  # a training record's renamed keys read as from sweep()
                records.append(Record(rec, renamed=RECORD_RENAMED) if rec["kind"] == "training"
                               else rec)  # fmt: skip
            continue
        if last and i > 0:
            warnings.warn(f"{path}: the last line is incomplete (a run killed mid-write?); "
                          f"skipped{' and removed' if repair else ''}.", stacklevel=2)  # fmt: skip
            if repair:
                with open(path, "r+b") as f:
                    f.truncate(len(raw) - len(line))
            break
        raise ValueError(f"{str(path)!r} is not a jaxact sweep record file: line {i + 1} is "
                         f"not a record ({line[:60]!r}).")  # fmt: skip
    return records, other


def append_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records to a sweep's JSON-lines file, checked to the last byte (on process 0 only:
    the others return).

    Args:
      path: the record file.
      records: the records (dicts of plain values).

    Returns:
      None.

    >>> import pathlib, tempfile
    >>> from jaxact.runs import append_records
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.jsonl"
    >>> append_records(path, [{"seed": 0}, {"seed": 1}])
    >>> path.read_text().splitlines()
    ['{"seed": 0}', '{"seed": 1}']
    """
    if jax.process_index() != 0 or not records:
        return
    append_lines(path, [json.dumps(r) for r in records])


def check_sweep_output(out: str | Path, *, resume: bool = False, force: bool = False,
                       label: str = "out") -> Path:  # fmt: skip
    """Check, before any work, that a sweep may write its records to ``out``.

    Refused: an empty path, a FIFO, a device or a folder, an unwritable place; a file that is
    not a jaxact record file, and a record file without ``resume`` - unless ``force``, which
    replaces the file.

    Args:
      out: the JSON-lines file.
      resume: continue the records already there.
      force: replace whatever the file holds.
      label: how messages name it (``"--out"`` on the command line).

    Returns:
      ``out`` as a :class:`~pathlib.Path`.

    Raises:
      OutputRefused: as above, with what to do.

    >>> import pathlib, tempfile
    >>> from jaxact.runs.records import check_sweep_output
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = p.write_text("my notes")
    >>> check_sweep_output(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jaxact.files.OutputRefused: out ...notes.txt: ... is not a jaxact sweep record file: ...
    >>> check_sweep_output(p, force=True) == p  # replaced when the sweep starts
    True
    """
    path = check_output_file(out, label)
    if force and not resume:
        return path
    try:
        with warnings.catch_warnings():  # a torn last line: the resumed sweep warns, once
            warnings.simplefilter("ignore")
            existing = read_records(path)
    except ValueError as err:
        raise OutputRefused(f"{label} {path}: {err} Choose another file, or add --force "
                            "(force=True) to replace it") from None  # fmt: skip
    if existing and not resume:
        raise OutputRefused(f"{label} {path} already holds {len(existing)} record(s); add "
                            "--resume (resume=True) to continue it, --force (force=True) to "
                            "replace it, or choose another file")  # fmt: skip
    return path
