"""Argument checks shared by the package: a clear error naming the bad value, and memory
checks that refuse a size before XLA aborts the process on it."""

from __future__ import annotations

import math

__all__ = ["check_finite_number", "check_memory", "check_positive_int", "free_memory"]


def free_memory() -> int:
    """Bytes free on JAX's first local device (a GPU's allocator limit, or on CPU the host's
    available memory, shared by its CPU devices); 8 GiB where neither can be read.

    Returns:
      The free bytes.

    >>> free_memory() > 0
    True
    """
    import jax

    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            info = {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in f if ":" in ln}
        free = info.get("MemAvailable", info.get("MemFree"))
    except (OSError, ValueError, IndexError):
        free = None
    return int(free) if free else 8 * 2**30


def check_memory(what: str, nbytes: float) -> None:
    """Raise MemoryError, with the sizes, if ``what`` needs more than the free memory.

    XLA answers an allocation it cannot make by aborting the process (no Python exception), so
    the functions that allocate a size the user chose ask here first.

    Args:
      what: the computation, for the message (``"init_mlp: depth 1000000 x width 1000"``).
      nbytes: the bytes it needs.

    Returns:
      ``None``; it raises instead when the memory is short.

    Raises:
      MemoryError: ``nbytes`` exceeds :func:`free_memory`.

    >>> check_memory("a small array", 1e3)
    >>> check_memory("a huge array", 4e18)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    MemoryError: a huge array needs about 4e+09 GB of memory, more than the ... GB free; ...
    """
    free = free_memory()
    if nbytes > free:
        raise MemoryError(f"{what} needs about {nbytes / 1e9:.3g} GB of memory, more than the "
                          f"{free / 1e9:.3g} GB free; make it smaller.")  # fmt: skip


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
