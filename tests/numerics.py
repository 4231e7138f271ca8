"""The accuracy tests' helpers now live in :mod:`jaxact.testing` (public); re-exported here."""

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
