"""Timing done right: compile excluded (and reported), warm-up, block_until_ready, repeats."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

__all__ = [
    "Comparison",
    "Timing",
    "compare",
    "compile_timed",
    "device_info",
    "device_slug",
    "measure",
    "per_round_ratio",
    "measure_python",
    "ratio_text",
]


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per call: median, min and max over ``repeats`` repeats; compile time apart.

    Each repeat times ``number`` back-to-back calls (chosen so a repeat lasts at least
    ``min_time``) and divides, so very short calls are not dominated by timer resolution.
    """

    median: float
    min: float
    max: float
    repeats: int
    number: int
    compile_s: float

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def compile_timed(fn: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    """``jax.jit(fn)`` lowered and compiled for ``args``, and the seconds that took.

    Args:
      fn: the function (jitted here unless it already has ``lower``).
      args: its arguments.

    Returns:
      ``(compiled, seconds)``: the compiled function (call it with ``*args``) and the
      compile time, which the timings of :func:`measure` and :func:`compare` exclude.

    >>> import jax.numpy as jnp
    >>> from jaxact.bench.timing import compile_timed
    >>> compiled, seconds = compile_timed(jnp.tanh, (jnp.zeros(3),))
    >>> compiled(jnp.zeros(3)).tolist(), seconds > 0
    ([0.0, 0.0, 0.0], True)
    """
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - t0


def measure(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int = 7,
    min_time: float = 0.05,
    warmup: int = 2,
) -> Timing:
    """Time ``jax.jit(fn)(*args)``.

    Compilation is timed separately (``lower(...).compile()``), then the compiled function is
    called ``warmup`` times, then ``repeats`` timed repeats each of ``number`` calls, with
    ``jax.block_until_ready`` on every result.

    Args:
      fn: the function (jitted here unless it already has ``lower``).
      *args: its arguments (arrays).
      repeats: timed repeats.
      min_time: seconds each repeat lasts at least (sets ``number``).
      warmup: untimed calls after compiling.

    Returns:
      :class:`Timing` in seconds per call, with ``compile_s``.

    >>> import jax.numpy as jnp
    >>> from jaxact.bench.timing import measure
    >>> t = measure(jnp.tanh, jnp.ones(1024), repeats=3, min_time=0.001)
    >>> t.repeats, t.min > 0, t.compile_s > 0
    (3, True, True)
    """
    compiled, compile_s = compile_timed(fn, args)
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    once = max(time.perf_counter() - t0, 1e-9)
    number = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            out = compiled(*args)
        jax.block_until_ready(out)
        samples.append((time.perf_counter() - t0) / number)
    return Timing(
        median=statistics.median(samples),
        min=min(samples),
        max=max(samples),
        repeats=repeats,
        number=number,
        compile_s=compile_s,
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> dict[str, Any]:
    """Backend, device kind, versions, CPU count, ``XLA_FLAGS`` and date, for the results file.

    On the CPU backend JAX's device kind is just ``cpu``; the CPU model is used instead.

    Returns:
      A dict: ``backend``, ``device_kind``, ``device_count``, ``processor``, ``cpu_count``,
      ``platform``, ``jax``, ``jaxlib``, ``python``, ``xla_flags``, ``date`` (UTC, ISO 8601).

    >>> import jax
    >>> from jaxact.bench.timing import device_info
    >>> info = device_info()
    >>> info["backend"] == jax.default_backend(), info["jax"] == jax.__version__
    (True, True)
    """
    import jaxlib

    dev = jax.devices()[0]
    backend = jax.default_backend()
    return {
        "backend": backend,
        "device_kind": _cpu_model() if backend == "cpu" else dev.device_kind,
        "device_count": jax.device_count(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "python": platform.python_version(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def device_slug(info: dict[str, Any]) -> str:
    """``<backend>-<device kind>`` with only filename-safe characters.

    Args:
      info: :func:`device_info`'s dict.

    Returns:
      The slug that names results files, e.g. ``cpu-AMD_EPYC`` or ``gpu-NVIDIA_H200``.

    >>> from jaxact.bench.timing import device_slug
    >>> device_slug({"backend": "gpu", "device_kind": "NVIDIA H200"})
    'gpu-NVIDIA_H200'
    """
    raw = f"{info['backend']}-{info['device_kind']}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw).strip("_")


def measure_python(fn: Callable[[], Any], *, repeats: int = 7, warmup: int = 2) -> Timing:
    """Time a Python callable that dispatches compiled programs itself (e.g. a loop of calls).

    ``fn()`` must already be compiled (call it once first, or time the compile apart);
    ``warmup`` calls, then ``repeats`` timed calls, each ending with ``block_until_ready`` on
    what ``fn`` returns. ``compile_s`` is 0: report the compile time measured elsewhere.

    Args:
      fn: a callable of no arguments returning arrays (or a pytree of them).
      repeats: timed calls.
      warmup: untimed calls first.

    Returns:
      :class:`Timing` in seconds per call (``number`` 1, ``compile_s`` 0).

    >>> import jax, jax.numpy as jnp
    >>> from jaxact.bench.timing import measure_python
    >>> f = jax.jit(jnp.sin)
    >>> x = jnp.ones(8)
    >>> t = measure_python(lambda: [f(x) for _ in range(3)], repeats=3)
    >>> t.number, t.compile_s, t.median > 0
    (1, 0.0, True)
    """
    for _ in range(warmup):
        jax.block_until_ready(fn())
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - t0)
    return Timing(statistics.median(samples), min(samples), max(samples), repeats, 1, 0.0)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Two functions timed in alternation: ``b`` against the reference ``a``.

    ``ratio`` is the median over repeats of ``time(b) / time(a)`` measured back to back, so a
    slow spell of the machine hits both; ``ratio_min`` and ``ratio_max`` give the spread.
    """

    a: Timing
    b: Timing
    ratio: float
    ratio_min: float
    ratio_max: float

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.a.as_dict(), "candidate": self.b.as_dict(),
                "ratio": self.ratio, "ratio_min": self.ratio_min,
                "ratio_max": self.ratio_max}  # fmt: skip


def per_round_ratio(num: list[float], den: list[float]) -> dict[str, float]:
    """Median, min and max of the per-round ratios ``num[i] / den[i]``.

    Both lists hold times measured in the same rounds (alternating), so a slow spell of the
    machine that hits both sides of one round leaves that round's ratio alone.

    Args:
      num: the numerators' times, one per round.
      den: the denominators' times, one per round (same length).

    Returns:
      ``{"median", "min", "max"}`` of the ratios.

    >>> from jaxact.bench.timing import per_round_ratio
    >>> per_round_ratio([2.0, 3.0, 8.0], [1.0, 1.0, 2.0])
    {'median': 3.0, 'min': 2.0, 'max': 4.0}
    """
    r = [a / b for a, b in zip(num, den, strict=True)]
    return {"median": statistics.median(r), "min": min(r), "max": max(r)}


def ratio_text(c: dict[str, Any], digits: int = 2) -> str:
    """``"median (min-max)"`` of a :meth:`Comparison.as_dict` (or any dict with ``ratio``,
    ``ratio_min`` and ``ratio_max``), for tables.

    Args:
      c: the comparison's dict.
      digits: decimals shown.

    Returns:
      The text, e.g. ``"1.02 (0.98-1.10)"``.

    >>> from jaxact.bench.timing import ratio_text
    >>> ratio_text({"ratio": 1.018, "ratio_min": 0.98, "ratio_max": 1.104})
    '1.02 (0.98-1.10)'
    """
    return f"{c['ratio']:.{digits}f} ({c['ratio_min']:.{digits}f}-{c['ratio_max']:.{digits}f})"


def compare(fn_a: Callable[..., Any], fn_b: Callable[..., Any], *args: Any, repeats: int = 9,
            min_time: float = 0.05, warmup: int = 2) -> Comparison:  # fmt: skip
    """Time ``jax.jit(fn_b)(*args)`` against ``jax.jit(fn_a)(*args)``, alternating repeats.

    Both are compiled first (compile times reported), warmed up, then timed in ``repeats``
    rounds of ``a`` then ``b``, each ``number`` back-to-back calls ending in
    ``block_until_ready``.

    Args:
      fn_a: the reference.
      fn_b: the function compared with it.
      *args: their common arguments.
      repeats: rounds.
      min_time: seconds each timed block lasts at least (sets ``number``, from ``b``).
      warmup: untimed calls of each after compiling.

    Returns:
      :class:`Comparison`: each function's :class:`Timing` and the ratio ``time(b)/time(a)``
      (median over rounds, min and max).

    >>> import jax.numpy as jnp
    >>> from jaxact.bench.timing import compare
    >>> c = compare(jnp.tanh, lambda v: jnp.tanh(v) + 1, jnp.ones(1024), repeats=3,
    ...             min_time=0.001)
    >>> c.ratio > 0 and c.ratio_min <= c.ratio <= c.ratio_max
    True
    """
    compiled, compile_s = zip(*(compile_timed(fn, args) for fn in (fn_a, fn_b)), strict=True)
    for c in compiled:
        for _ in range(warmup):
            jax.block_until_ready(c(*args))
    t0 = time.perf_counter()
    jax.block_until_ready(compiled[1](*args))
    number = max(1, int(min_time / max(time.perf_counter() - t0, 1e-9)))
    samples: list[list[float]] = [[], []]
    for _ in range(repeats):
        for k, c in enumerate(compiled):
            t0 = time.perf_counter()
            for _ in range(number):
                out = c(*args)
            jax.block_until_ready(out)
            samples[k].append((time.perf_counter() - t0) / number)
    r = per_round_ratio(samples[1], samples[0])
    timings = [Timing(statistics.median(s), min(s), max(s), repeats, number, cs)
               for s, cs in zip(samples, compile_s, strict=True)]  # fmt: skip
    return Comparison(timings[0], timings[1], r["median"], r["min"], r["max"])
