"""Argument checks shared by the package: a clear error naming the bad value."""

from __future__ import annotations

__all__ = ["check_positive_int"]


def check_positive_int(name: str, value) -> int:
    """``value`` if it is an ``int`` >= 1 (not a bool), else a ValueError naming ``name``.

    Args:
      name: what the value is, for the message (``"sweep: steps"``).
      value: the value to check.

    Returns:
      ``value`` unchanged.

    Raises:
      ValueError: ``value`` is not an int >= 1 (``True``, ``2.0`` and ``0`` included).

    >>> check_positive_int("depth", 3)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return value
