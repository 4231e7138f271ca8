"""Argument checks shared by the package: a clear error naming the bad value."""

from __future__ import annotations

import math

__all__ = ["check_finite_number", "check_positive_int"]


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


def check_finite_number(name: str, value, *, positive: bool) -> float:
    """``value`` as a float if it is a finite number ``> 0`` (``positive``) or ``>= 0``.

    The one check behind every variance (``sigma_w2``, ``sigma_b2``) and learning-rate
    argument; booleans are refused.

    Args:
      name: what the value is, for the message (``"sigma_b2"``).
      value: the value to check.
      positive: ``True``: it must be ``> 0``; ``False``: ``>= 0``.

    Returns:
      ``float(value)``.

    Raises:
      ValueError: ``value`` is not a finite int or float in range (``True``, ``nan``, ``inf``,
        ``"0.1"`` included).

    >>> check_finite_number("sigma_b2", 0, positive=False)
    0.0
    >>> check_finite_number("learning_rate", 0, positive=True)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be a finite number > 0, got 0.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise ValueError(
            f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}."
        )
    return float(value)
