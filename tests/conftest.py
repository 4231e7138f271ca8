"""Test configuration: float64 is enabled so that references can be computed in JAX at 64 bits.

Tests that care about float32 pass float32 arrays explicitly.
"""

import jax

jax.config.update("jax_enable_x64", True)
