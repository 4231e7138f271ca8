"""Test helpers for activations: check closed-form derivatives and values in your own pytest.

The checks jaxact's own catalogue passes, for your functions::

    import jax, jax.numpy as jnp
    from jaxact import testing

    def my_act(x, beta=1.0):
        return x * jax.nn.sigmoid(beta * x)

    def my_act_d1(x, beta=1.0):
        s = jax.nn.sigmoid(beta * x)
        return s * (1 + beta * x * (1 - s))

    def test_my_derivative():
        testing.check_derivative(my_act, my_act_d1)  # raises AssertionError with a report

    def test_my_values():
        import mpmath
        ref = lambda x: [float(v * mpmath.mpf(1) / (1 + mpmath.exp(-v))) for v in x]
        testing.check_values(my_act, ref, dtypes=(jnp.float32,))

* :func:`check_derivative`: a closed-form ``phi'`` (or ``phi''``) against autodiff of the
  formula, over a dense grid, the dtype's extremes (subnormals to max) and several dtypes;
  the error is counted in ulps of ``max(|phi'(x)|, sup |phi'|)``.
* :func:`check_values`: a function against a high-precision reference (mpmath, or a float64
  formula), in ulps of each result; inputs a flushing backend reads as 0 may give ``phi(0)``.
* :func:`check_activation`: both, plus every autodiff route (grad, jvp, vjp, grad-of-grad) of a
  registry record against its closed forms.

Each check returns :class:`CheckResult` records and, unless ``raise_on_failure=False``, raises
``AssertionError`` with one line per failure: the worst input, what came out, what was expected,
and the error in ulps. The lower-level helpers (``ulp_error``, the grids) are public too; they
live in :mod:`jaxact.accuracy` (the core, which the catalogue itself uses), re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxact.accuracy import (
    FLOAT_DTYPES,
    CheckResult,
    all_finite_values,
    autodiff_derivative,
    check_derivative,
    check_values,
    default_points,
    dense_points,
    extreme_points,
    finfo,
    flush_threshold,
    flushes_subnormals,
    inputs_read_as_zero,
    raise_failures,
    ulp_error,
    ulp_of,
)
from jaxact.activations import get_activation

__all__ = [
    "FLOAT_DTYPES",
    "CheckResult",
    "all_finite_values",
    "autodiff_derivative",
    "check_activation",
    "check_derivative",
    "check_values",
    "default_points",
    "dense_points",
    "extreme_points",
    "finfo",
    "flush_threshold",
    "flushes_subnormals",
    "inputs_read_as_zero",
    "raise_failures",
    "ulp_error",
    "ulp_of",
]


def check_activation(
    activation,
    *,
    formula: Callable[[jax.Array], jax.Array] | None = None,
    reference: Callable[[np.ndarray], Any] | None = None,
    dtypes: Sequence[Any] = (jnp.float32, jnp.float64),
    value_ulps: float = 8,
    derivative_ulps: float = 32,
    second_derivative_ulps: float = 64,
    raise_on_failure: bool = True,
) -> list[CheckResult]:
    """Every check for a registry record (a name, or what :func:`jaxact.register_activation`
    returned).

    1. autodiff of ``record.fn`` (``jax.grad`` route, and grad of grad) returns the closed forms
       ``record.derivative`` and ``record.second_derivative`` (the custom rules are wired);
    2. with ``formula`` (the plain formula of ``phi``): the closed forms against autodiff of it;
    3. with ``reference``: the values against it (see :func:`check_values`).

    Kinks listed in the record are skipped in 1 and 2. Returns every :class:`CheckResult`;
    raises one ``AssertionError`` listing each failure unless ``raise_on_failure=False``.

    Args:
      activation: a registry name or an :class:`~jaxact.Activation` record.
      formula: the plain formula of ``phi`` (optional), for check 2.
      reference: high-precision values ``reference(points) -> array`` (optional), for check 3.
      dtypes: the dtypes to check in.
      value_ulps: tolerance of the values against ``reference``.
      derivative_ulps: tolerance of ``phi'`` (in ulps of ``max(|phi'|, sup |phi'|)``).
      second_derivative_ulps: tolerance of ``phi''`` likewise.
      raise_on_failure: raise ``AssertionError`` on a failure (default) or only report it.

    Returns:
      A list of :class:`CheckResult`, one per check and dtype, each with ``passed`` and a one-line
      report of the worst input.

    >>> import jaxact
    >>> from jaxact import testing
    >>> all(r.passed for r in testing.check_activation("tanh", dtypes=("float32",)))
    True
    """
    rec = get_activation(activation)
    if not rec.elementwise:
        raise ValueError(f"check_activation needs an elementwise activation, got {rec.name!r}")
    kinks = list(rec.kinks) + list(rec.curvature_kinks)
    results: list[CheckResult] = []
    checks = [(rec.fn, rec.derivative, 1, derivative_ulps, f"{rec.name} (jax.grad)"),
              (rec.fn, rec.second_derivative, 2, second_derivative_ulps,
               f"{rec.name} (grad of grad)")]  # fmt: skip
    if formula is not None:
        checks += [(formula, rec.derivative, 1, derivative_ulps, f"{rec.name} formula"),
                   (formula, rec.second_derivative, 2, second_derivative_ulps,
                    f"{rec.name} formula")]  # fmt: skip
    for fn, closed, order, tol, label in checks:
        results += check_derivative(fn, closed, order=order, dtypes=dtypes, ulps=tol,
                                    kinks=kinks, name=label, raise_on_failure=False)  # fmt: skip
    if reference is not None:
        results += check_values(rec.fn, reference, dtypes=dtypes, ulps=value_ulps,
                                name=rec.name, raise_on_failure=False)  # fmt: skip
    return raise_failures(results, raise_on_failure)
