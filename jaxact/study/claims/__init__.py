"""The lesson's claims, one module each, in the report's order.

Each module is one claim's whole room: ``ID``, ``TITLE``, ``CLAIM`` (quoted from the lesson),
``RULE`` (the verdict rule in words, fixed before the run) beside ``verdict(numbers)`` (the same
rule in code, applied to the numbers as returned or as saved), ``run(ctx)`` (the experiment:
measure, decide, draw) and the claim's own figure functions. A new claim is a new module
listed in :data:`CLAIMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from jaxact.study.claims import (
    dead,
    depth,
    flat,
    linear,
    outputs,
    ranges,
    relu_passes,
    speed,
    vanishing,
)
from jaxact.study.context import Context
from jaxact.study.experiment import Experiment

__all__ = ["CLAIMS", "EXPERIMENTS"]

#: The claim modules, in the order of the lesson and the report.
CLAIMS: tuple[ModuleType, ...] = (
    linear,
    ranges,
    flat,
    vanishing,
    relu_passes,
    depth,
    speed,
    dead,
    outputs,
)

#: ``(id, run)`` per claim: what :func:`jaxact.study.run_study` runs.
EXPERIMENTS: list[tuple[str, Callable[[Context], Experiment]]] = [(c.ID, c.run) for c in CLAIMS]
