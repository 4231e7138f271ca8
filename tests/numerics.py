"""The accuracy tests' helpers now live in :mod:`jaxact.testing` (public); re-exported here,
with which parameters of a test the default run takes (the others run in the slow step)."""

import pytest

from jaxact.testing import (  # noqa: F401
    FLOAT_DTYPES,
    all_finite_values,
    dense_points,
    extreme_points,
    finfo,
    flush_threshold,
    flushes_subnormals,
    inputs_read_as_zero,
    ulp_error,
    ulp_of,
)

#: Activations that stand for their family's code paths (a custom_jvp with a kink, a
#: saturating curve, an erf/tanh GELU, a softplus tail, an exponential left side, a
#: parametrised one, an axis function) in the default run of the wiring tests; every other
#: registered activation runs them in the slow step.
FAMILY_REPRESENTATIVES = ("relu", "sigmoid", "gelu", "softplus", "elu", "leaky_relu", "softmax")


def slow_except(values, default, key=None):
    """``values`` as a test's parameters: those whose ``key(value)`` (the value itself without
    ``key``) is in ``default`` run by default, every other in the slow step. A tuple value is
    one parameter set of several arguments."""

    def param(v):
        args = v if isinstance(v, tuple) else (v,)
        return (
            v if (key(v) if key else v) in default else pytest.param(*args, marks=pytest.mark.slow)
        )

    return [param(v) for v in values]


def one_per_family(names):
    """``names`` as parameters: the family representatives by default, the others slow."""
    return slow_except(names, FAMILY_REPRESENTATIVES)
