"""A claim tested: the :class:`Experiment` record, its verdict words and its saved form.

Every claim of the study ends in one :class:`Experiment`: the claim (quoted from the lesson),
what was measured, a verdict decided by a rule fixed before the run (``decided_by``), and its
figures. The verdict is one of :data:`SUPPORTED`, :data:`NOT_SUPPORTED`, :data:`CAVEAT`,
:data:`NOT_TESTED` or :func:`supported_only`'s phrase.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = [
    "CAVEAT",
    "NOT_SUPPORTED",
    "NOT_TESTED",
    "SUPPORTED",
    "Experiment",
    "experiment_from_dict",
    "supported_only",
]

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
CAVEAT = "supported with a caveat"
#: The verdict of a claim whose rule cannot be applied at the run's sizes (``--quick``).
NOT_TESTED = "not tested at this size"


def supported_only(condition: str) -> str:
    """The verdict of a claim that holds only under ``condition``.

    Args:
      condition: how the claim has to be qualified, e.g. ``"with residual connections"``.

    Returns:
      The verdict string.

    >>> from jaxact.study import supported_only
    >>> supported_only("with residual connections")
    'supported only with residual connections'
    """
    return f"supported only {condition}"


@dataclasses.dataclass
class Experiment:
    """One claim, tested: the verdict follows from ``decided_by``, fixed before the run."""

    id: str
    title: str
    claim: str
    verdict: str
    summary: str
    numbers: dict[str, Any]
    figures: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    decided_by: str = ""
    #: The detail behind a short ``summary``: ``[title, text]`` paragraphs (folded in the
    #: report).
    details: list[list[str]] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def experiment_from_dict(data: Any) -> Experiment:
    """An :class:`Experiment` from its saved form (``as_dict``), every field type-checked: a
    result file of another shape is refused here, not half-read into the report.

    Args:
      data: the ``"experiment"`` object of a ``results/<id>.json``.

    Returns:
      The :class:`Experiment`.

    Raises:
      ValueError: ``data`` is not an experiment record (a missing, extra or mistyped field).

    >>> from jaxact.study import Experiment, experiment_from_dict
    >>> e = Experiment("flat", "t", "c", "supported", "s", {"a": 1})
    >>> experiment_from_dict(e.as_dict()) == e
    True
    >>> experiment_from_dict({**e.as_dict(), "figures": None})
    Traceback (most recent call last):
    ...
    ValueError: experiment field 'figures' is None, not a list
    """
    if not isinstance(data, dict):
        raise ValueError(f"the experiment is {type(data).__name__}, not an object")
    fields = {f.name: f for f in dataclasses.fields(Experiment)}
    extra = sorted(set(data) - set(fields))
    if extra:
        raise ValueError(f"unknown experiment field(s) {extra}")
    types = {"id": str, "title": str, "claim": str, "verdict": str, "summary": str,
             "numbers": dict, "figures": list, "seconds": (int, float), "decided_by": str,
             "details": list}  # fmt: skip
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"experiment field {name!r} is missing")
            continue
        if not isinstance(data[name], types[name]) or isinstance(data[name], bool):
            want = types[name].__name__ if isinstance(types[name], type) else "number"
            raise ValueError(f"experiment field {name!r} is {data[name]!r:.40}, not a {want}")
    if not all(isinstance(p, str) for p in data.get("figures", [])):
        raise ValueError("experiment field 'figures' must list file names")
    return Experiment(**data)
