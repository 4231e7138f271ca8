"""``jaxact study``: the lesson's claims as experiments, each with a verdict and its numbers.

Each claim is one module of :mod:`jaxact.study.claims` holding everything about it: the claim
quoted from the lesson, the verdict rule in words (``RULE``) and in code (``verdict``), the
experiment (``run``, a function of a :class:`Context` that returns an :class:`Experiment`) and
its figures. The verdict is ``supported``, ``not supported``, ``supported with a caveat`` (or
``supported only ...``), decided by thresholds fixed before the run. :func:`run_study` runs
them and writes each result as soon as it finishes (atomically: write, then rename), so
``resume`` skips what an interrupted run already did.

The package's rooms: ``experiment`` (the record and verdict words), ``config`` (sizes per
mode), ``context`` (what an experiment is given), :mod:`~jaxact.study.claims` (the claims),
``figures`` (what the claims' figures share) and ``runner`` (running, resuming, writing).
"""

from __future__ import annotations

from jaxact.study.claims import CLAIMS, EXPERIMENTS
from jaxact.study.config import STUDY_LAYOUT, StudyConfig
from jaxact.study.context import Context
from jaxact.study.experiment import (
    CAVEAT,
    NOT_SUPPORTED,
    NOT_TESTED,
    SUPPORTED,
    Experiment,
    experiment_from_dict,
    supported_only,
)
from jaxact.study.runner import run_study

__all__ = [
    "CAVEAT",
    "CLAIMS",
    "EXPERIMENTS",
    "NOT_SUPPORTED",
    "NOT_TESTED",
    "STUDY_LAYOUT",
    "SUPPORTED",
    "Context",
    "Experiment",
    "StudyConfig",
    "experiment_from_dict",
    "run_study",
    "supported_only",
]
