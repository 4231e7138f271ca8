r"""The measurement vocabulary: every statistic jaxact reports about activations and training,
defined once.

:func:`jaxact.diagnose`, :func:`jaxact.trace_statistics`, :func:`jaxact.train`'s history, the
sweeps' records, the study and the plots all compute these words with the functions here, so a
word means the same thing wherever it is printed.

Per activation site, from the slope ``phi'(h)`` at every entry of its input ``h`` (shape
``(..., units)``: the last axis is the unit, every index of the others an example), with
``s`` the saturation threshold (:data:`SATURATION`, 0.05) and ``sup|phi'|`` the activation's
largest slope:

==================  ===========================================================================
word                definition
==================  ===========================================================================
``zero_grad``       fraction of entries with :math:`\phi'(h) = 0` exactly (in the working
                    dtype): entries that pass no gradient (ReLU's negative side; a sigmoid
                    whose slope underflowed).
``saturated``       fraction of entries with :math:`0 < |\phi'(h)| < s \sup|\phi'|`: on a flat
                    part of the curve, passing a gradient shrunk more than ``1/s`` times but
                    not 0. Disjoint from ``zero_grad``: a ReLU is never saturated.
``dead_units``      fraction of units with :math:`\phi'(h) = 0` on *every* example of the batch:
                    units that passed no gradient at all (dead on this batch;
                    :class:`jaxact.UnitActivity` tells dead on every batch seen).
``saturated_units`` fraction of units saturated (in the sense above) on every example.
``active``          per unit: 1 where :math:`\phi'(h) \neq 0` on some example, else 0.
==================  ===========================================================================

Entry fractions are over all entries of the site; unit fractions over its units. Every count is
taken in the slope's own dtype, the comparison with ``s sup|phi'|`` in at least float32.

Through depth, from per-layer (or per-site) gradient norms ``g_1 .. g_L``, layer 1 first:

* **rate**: the geometric factor per layer on the way back, fitted by least squares
  (:func:`fit_rate`); below 1 the gradient vanishes.
* **signal lost**: ``"overflow"`` (a norm is inf or NaN) or ``"underflow"`` (a norm is exactly
  0: the float format's range ran out), and the deepest such layer (:func:`signal_lost`).

Training:

* **diverged**: a step whose loss, or any layer's gradient, is not finite (NaN or inf). Where:
  the first layer (in :func:`jaxact.training.layer_names` order) whose gradient is not
  finite, else the loss (:func:`divergence`). A diverged run stops there:
  :func:`jaxact.train` raises :class:`jaxact.TrainingDiverged`, a sweep's record carries
  ``diverged_step`` and ``diverged_layer``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ENTRY_STATISTICS",
    "SATURATION",
    "SIGNAL_LOST",
    "UNIT_STATISTICS",
    "Record",
    "divergence",
    "fit_rate",
    "signal_lost",
    "slope_statistics",
    "wide_dtype",
]

#: The default saturation threshold ``s``, as a fraction of ``sup|phi'|``.
SATURATION = 0.05

#: Fractions of a site's entries.
ENTRY_STATISTICS = ("saturated", "zero_grad")
#: Fractions of a site's units (the last axis), over every example of the batch.
UNIT_STATISTICS = ("dead_units", "saturated_units")


def wide_dtype(dtype) -> np.dtype:
    """The dtype a statistic of a ``dtype`` tensor is summed and compared in: float64 for
    float64 (and complex128), float32 for every narrower one - float16, bfloat16 and the float8
    formats, which JAX does not promote implicitly.

    Args:
      dtype: the tensor's dtype (anything :func:`jax.numpy.dtype` takes).

    Returns:
      ``numpy.dtype`` float64 or float32.

    >>> import jax.numpy as jnp
    >>> from jaxact.vocabulary import wide_dtype
    >>> wide_dtype(jnp.bfloat16), wide_dtype(jnp.float64)
    (dtype('float32'), dtype('float64'))
    """
    return np.dtype(jnp.float64) if jnp.dtype(dtype).itemsize >= 8 else np.dtype(jnp.float32)


def slope_statistics(slope: jax.Array, sup, *, saturation: float = SATURATION) -> dict[str, Any]:
    r"""``saturated``, ``zero_grad``, ``dead_units``, ``saturated_units`` and ``active`` of one
    site, from its slopes: the one definition every producer uses (see the module docstring).

    Args:
      slope: :math:`\phi'(h)`, shape ``(..., units)``; a 0-d slope is one unit, one example.
      sup: :math:`\sup|\phi'|` of the activation (a scalar).
      saturation: the threshold ``s``, a fraction of ``sup``.

    Returns:
      ``{"saturated", "zero_grad", "dead_units", "saturated_units"}`` float32 scalars and
      ``"active"``, float32 ``(units,)``.

    >>> import jax.numpy as jnp
    >>> from jaxact.vocabulary import slope_statistics
    >>> slope = jnp.array([[0.0, 1.0, 0.01],   # two examples, three units, sup = 1
    ...                    [0.0, 0.0, 0.02]])
    >>> {k: round(float(v), 3) for k, v in slope_statistics(slope, 1.0).items() if k != "active"}
    {'saturated': 0.333, 'zero_grad': 0.5, 'dead_units': 0.333, 'saturated_units': 0.333}
    >>> slope_statistics(slope, 1.0)["active"].tolist()
    [0.0, 1.0, 1.0]
    """
    slope = jnp.abs(jnp.asarray(slope))
    wide = wide_dtype(slope.dtype)
    zero = slope == 0  # in the slope's own dtype
    sat = (slope.astype(wide) < saturation * jnp.asarray(sup, wide)) & ~zero
    axes = tuple(range(slope.ndim - 1))
    units = slope.shape[-1] if slope.ndim else 1
    return {
        "saturated": jnp.mean(sat, dtype=jnp.float32),
        "zero_grad": jnp.mean(zero, dtype=jnp.float32),
        "dead_units": jnp.mean(jnp.all(zero, axis=axes), dtype=jnp.float32),
        "saturated_units": jnp.mean(jnp.all(sat, axis=axes), dtype=jnp.float32),
        "active": jnp.reshape(~jnp.all(zero, axis=axes), (units,)).astype(jnp.float32),
    }


def divergence(loss: jax.Array, layer_finite: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Did a training step diverge, and where first: the one definition :func:`jaxact.train`
    and the sweeps use.

    Args:
      loss: the step's loss (a scalar).
      layer_finite: ``(n_layers,)`` bool, per layer in order: are all its gradient's entries
        finite (:func:`jaxact.training.layer_finite`)?

    Returns:
      ``(diverged, where)``: a bool scalar, and an int32 scalar: the index of the first layer
      whose gradient is not finite, ``-1`` where only the loss is not (and where nothing
      diverged).

    >>> import jax.numpy as jnp
    >>> from jaxact.vocabulary import divergence
    >>> [int(w) for w in divergence(jnp.float32(1.0), jnp.array([True, False, False]))]
    [1, 1]
    >>> [int(w) for w in divergence(jnp.float32(jnp.inf), jnp.array([True, True]))]
    [1, -1]
    """
    ok = jnp.all(layer_finite)
    where = jnp.where(ok, -1, jnp.argmin(layer_finite)).astype(jnp.int32)
    return ~(ok & jnp.isfinite(loss)), where


def fit_rate(norms) -> tuple[float, float]:
    r"""The per-layer *rate* of a gradient profile: the least-squares geometric factor by which
    ``norms`` (layer 1 first) shrink going backwards, and the fit's rms: the one fit
    :func:`jaxact.gradient_attenuation`, :meth:`jaxact.Diagnosis.summary`, the sweeps and the
    theory use. Fits :math:`\log g_l = c + (L - l) \log(\mathrm{rate})` over the finite,
    nonzero norms.

    Args:
      norms: per-layer (per-site) gradient norms, layer 1 first.

    Returns:
      ``(rate, rms)``: below 1 the gradient vanishes on the way back; the rms of the log fit
      in natural-log units. ``(nan, nan)`` for fewer than two usable norms (``0.0`` as the
      rate when every norm but the last is 0).

    >>> import numpy as np
    >>> from jaxact.vocabulary import fit_rate
    >>> round(fit_rate(np.array([1e-9, 1e-8, 1e-7, 1e-6]))[0], 12)
    0.1
    """
    norms = np.asarray(norms, np.float64)
    depth = norms.size
    if depth < 2:
        return math.nan, math.nan
    with np.errstate(divide="ignore"):
        y = np.log(norms)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return 0.0 if np.all(norms[:-1] == 0) else math.nan, math.nan
    steps_back = (depth - 1) - np.arange(depth)  # 0 at the last layer
    slope, intercept = np.polyfit(steps_back[ok], y[ok], 1)
    resid = y[ok] - (slope * steps_back[ok] + intercept)
    return float(np.exp(slope)), float(np.sqrt(np.mean(resid**2)))


#: The ways a per-layer gradient profile stops being a measurement (:func:`signal_lost`).
SIGNAL_LOST = ("overflow", "underflow")


def signal_lost(norms) -> tuple[str, int] | None:
    """Where a per-layer gradient-norm profile (layer 1 first) stops being a measurement.

    * ``("overflow", l)``: a norm is inf or NaN; ``l`` is the deepest such layer (the first met
      on the way back from the output). No rate can be fitted.
    * ``("underflow", l)``: a norm is exactly 0 (the float format's range ran out, not a
      measured attenuation); ``l`` is the deepest such layer, and every layer from ``l`` down
      to 1 is unmeasured. A rate fits only layers ``l + 1`` and up.

    This is the one definition of both words: :func:`jaxact.gradient_attenuation` raises on an
    overflow, and the sweeps' records and ``jaxact attenuation`` flag both.

    Args:
      norms: per-layer gradient norms, layer 1 first.

    Returns:
      ``None`` when every norm is finite and positive, else ``(kind, layer)`` (1-based).

    >>> from jaxact.vocabulary import signal_lost
    >>> signal_lost([1e-3, 1e-2, 1e-1]) is None
    True
    >>> signal_lost([0.0, 0.0, 1e-40, 1e-20]), signal_lost([float("inf"), 2.0, 1.0])
    (('underflow', 2), ('overflow', 1))
    """
    norms = np.asarray(norms, np.float64)
    bad = np.nonzero(~np.isfinite(norms))[0]
    if bad.size:
        return "overflow", int(bad[-1]) + 1
    zero = np.nonzero(norms == 0)[0]
    if zero.size:
        return "underflow", int(zero[-1]) + 1
    return None


class Record(dict):
    """A plain ``dict`` (``json`` and ``pandas`` take it as it is) whose keys renamed in this
    release still read under their old name, with a :class:`DeprecationWarning`, for one
    release.

    >>> import warnings
    >>> from jaxact.vocabulary import Record
    >>> r = Record({"dead_units": [0.5]}, renamed={"dead": "dead_units"})
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     r["dead"], w[0].category.__name__
    ([0.5], 'DeprecationWarning')
    >>> "dead" in r, list(r)
    (False, ['dead_units'])
    """

    def __init__(self, *args: Any, renamed: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._renamed = dict(renamed or {})

    def __missing__(self, key: str) -> Any:
        new = self._renamed.get(key)
        if new is None:
            raise KeyError(key)
        warnings.warn(f"{key!r} is renamed {new!r} (the old name goes in the next release).",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self[new]
