"""Running the study: each claim's experiment in turn, every result written as it finishes
(atomically: write, then rename), so that ``resume`` skips what an interrupted run already
did; then ``results.json`` and the report."""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from jaxact.files import (
    SCHEMA_VERSION,
    atomic_write,
    claim_output_dir,
    hold_output,
    mark_output_dir,
)
from jaxact.progress import Interrupted, Progress
from jaxact.study.claims import EXPERIMENTS
from jaxact.study.config import STUDY_LAYOUT, StudyConfig
from jaxact.study.context import Context
from jaxact.study.experiment import Experiment, experiment_from_dict

__all__ = ["run_study"]


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return _jsonable(v.item())
    return v


def run_study(
    out: str | Path = "jaxact-study",
    *,
    mode: str = "default",
    resume: bool = False,
    only: list[str] | None = None,
    seed: int = 0,
    show_progress: bool = True,
    force: bool = False,
) -> list[Experiment]:
    """Run the experiments, writing each result as it finishes, then the report.

    Args:
      out: output directory (``results/<id>.json``, ``figures/*.png``, ``results.json``,
        ``report.md``, ``report.html``).
      mode: ``quick`` (CI smoke test), ``default`` or ``full`` (bigger nets, for a GPU).
      resume: reuse results already in ``out`` from an earlier run of the same mode and seed.
      only: run only these experiment ids.
      seed: the seed every experiment's randomness derives from.
      show_progress: a progress bar over experiments on a terminal; elsewhere (a log, CI)
        a line per experiment and stage and a line every 30 s while training runs.
      force: write into a folder that holds files jaxact did not write (or another kind of
        run); files of the same names are replaced.

    Returns:
      The :class:`Experiment` records, in :data:`EXPERIMENTS` order: ``id``, ``claim``,
      ``verdict``, ``summary``, ``numbers``, ``figures``, ``decided_by``.

    Raises:
      ValueError: ``mode`` or an ``only`` id is unknown.
      OutputRefused: ``out`` is not a folder jaxact may write (a user's files without
        ``force``, a clash, unwritable), or another process is writing it; before any work.
      WriteFailed: a file could not be written (disk full); earlier results stay valid, and
        ``resume=True`` continues once there is room.
      Interrupted: Ctrl-C; finished experiments are saved.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> from jaxact.study import run_study
    >>> [(e.id, e.verdict) for e in run_study(out, mode="quick", only=["flat"],
    ...                                      show_progress=False)]
    [('flat', 'supported')]
    >>> sorted(p.name for p in out.iterdir())  # .jaxact-run marks the folder as a study's
    ['.jaxact-run', 'figures', 'report.html', 'report.md', 'results', 'results.json']
    """
    config = StudyConfig.for_mode(mode, seed)
    ids = [i for i, _ in EXPERIMENTS]
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ValueError(f"unknown experiment(s) {unknown}; valid: {', '.join(ids)}.")
    # A user's folder, a clash (a file named "figures"), an unwritable place: refused now.
    out = claim_output_dir(out, "study", STUDY_LAYOUT, force=force, label="out")
    results_dir, figures = out / "results", out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    saved_config = json.loads(json.dumps(_jsonable(dataclasses.asdict(config))))

    def saved(exp_id: str, unreadable: str = "recomputed") -> Experiment | None:
        """The result of an earlier run of the same mode and seed, if there is a readable one
        of this layout (another shape or version: a warning saying what happens instead)."""
        path = results_dir / f"{exp_id}.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            # Files from before the layout was versioned have layout 1.
            version = data.get("schema", 1)
            if version != SCHEMA_VERSION:
                raise ValueError(f"layout version {version!r}, this jaxact reads "
                                 f"{SCHEMA_VERSION}")  # fmt: skip
            # Compare through JSON, as saved (tuples come back as lists).
            if data.get("config") != saved_config:
                return None  # another mode or seed: not this run's result
            return experiment_from_dict(data.get("experiment"))
        except (OSError, ValueError, TypeError, UnicodeDecodeError) as err:
            warnings.warn(f"{path}: not a result this jaxact can read ({err}); "
                          f"{exp_id} is {unreadable}", stacklevel=3)  # fmt: skip
            return None

    chosen = [(i, f) for i, f in EXPERIMENTS if not only or i in only]
    out.mkdir(parents=True, exist_ok=True)
    with hold_output(out, "out"):
        mark_output_dir(out, "study")
        # A bar on a terminal; off one (CI logs, `| tee`), a line per experiment and stage,
        # and a heartbeat line while training runs.
        progress = Progress(len(chosen), prefix="jaxact study", enabled=show_progress)
        ctx = Context(config, figures, progress)
        done: dict[str, Experiment] = {}
        try:
            for exp_id, fn in chosen:
                previous = saved(exp_id) if resume else None
                if previous is not None:
                    done[exp_id] = previous
                    progress.resumed(exp_id, previous.verdict)
                    continue
                progress.start(exp_id)
                t0 = time.perf_counter()
                exp = fn(ctx)
                exp.seconds = time.perf_counter() - t0
                record = {"schema": SCHEMA_VERSION, "config": dataclasses.asdict(config),
                          "experiment": exp.as_dict()}  # fmt: skip
                atomic_write(results_dir / f"{exp_id}.json",
                             json.dumps(_jsonable(record), indent=1))  # fmt: skip
                done[exp_id] = exp
                progress.finish(exp.verdict, exp.seconds)
        except KeyboardInterrupt:
            progress.close()
            raise Interrupted(len(done), len(chosen), "experiments") from None
        return _write_outputs(out, config, mode, ids, done, saved, progress, chosen)


def _write_outputs(out, config, mode, ids, done, saved, progress, chosen) -> list[Experiment]:
    """The run's summary file and report, from this run's and earlier runs' results."""
    from jaxact.bench.timing import device_info
    from jaxact.report import write_report

    progress.close()
    # The report covers every experiment with a result of this mode and seed: --only on a
    # directory with a full report re-runs some and keeps the others.
    for exp_id in ids:
        if exp_id not in done:
            previous = saved(exp_id, "left out of the report")
            if previous is not None:
                done[exp_id] = previous
    report = [done[i] for i in ids if i in done]
    command = f"jaxact study --{mode}" if mode != "default" else "jaxact study"
    meta = {"config": dataclasses.asdict(config), "device": device_info(), "command": command,
            "seconds": sum(e.seconds for e in report)}  # fmt: skip
    atomic_write(out / "results.json", json.dumps(_jsonable(
        {"schema": SCHEMA_VERSION, **meta, "experiments": [e.as_dict() for e in report]}),
        indent=1))  # fmt: skip
    write_report(out, report, meta)
    return [done[i] for i, _ in chosen]
