"""The accuracy tests' helpers now live in :mod:`jaxact.testing` (public); re-exported here,
with which activations the default run takes for each family."""

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


def one_per_family(names):
    """``names`` as parameters: the family representatives plain, the others marked slow."""
    return [n if n in FAMILY_REPRESENTATIVES else pytest.param(n, marks=pytest.mark.slow)
            for n in names]  # fmt: skip
