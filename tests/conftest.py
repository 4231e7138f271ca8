"""Test configuration: JAX's default configuration (float32, x64 off), as users run it.

Tests that need float64 (references computed in JAX at 64 bits, float64 inputs) carry the
``x64`` marker (a whole module: ``pytestmark = pytest.mark.x64``) and run inside
``jax.enable_x64(True)``; everything else, module-scoped fixtures included, runs with x64 off.
"""

import jax
import pytest


@pytest.fixture(autouse=True)
def _x64_where_marked(request):
    if request.node.get_closest_marker("x64") is None:
        yield
        return
    with jax.enable_x64(True):
        yield
