"""What XLA makes of each activation on the CPU: one loop per output, no repeated transcendentals.

Speed regressions that a timing test could not see on a noisy machine show up here exactly: a
formula whose value or derivative XLA splits into several loops writes intermediates to memory
and reads them back (the cause of a 2-3x slowdown of sigmoid's forward+gradient before the
tangent rules stopped sharing subexpressions with the value); an exponential computed twice
costs a second polynomial per element. Counted in the optimised HLO of the CPU backend only
(other backends fuse differently), for float32 inputs.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import pytest

from jaxact import ACTIVATIONS

from .numerics import one_per_family

ELEMENTWISE = sorted(n for n, r in ACTIVATIONS.items() if r.elementwise)
TRANSCENDENTAL = r"(exponential|log|log-plus-one|exponential-minus-one|tanh|erf|logistic)"

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU fusion decisions")


def _hlo(fn) -> str:
    return jax.jit(fn).lower(jnp.ones((1024,), jnp.float32)).compile().as_text()


def _loops(text: str) -> int:
    return sum(1 for line in text.splitlines() if " fusion(" in line)


def _transcendentals(text: str) -> int:
    return len(re.findall(rf"= f32\[1024\]\{{0\}} {TRANSCENDENTAL}\(", text))


def _forward_and_gradient(fn):
    def run(x):
        out, pull = jax.vjp(fn, x)
        return out, pull(jnp.ones_like(out))[0]

    return run


# One activation per family in the default run (the program's shape is the family's), the
# others in the slow step.
@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
def test_value_and_derivatives_are_single_loops(name):
    rec = ACTIVATIONS[name]
    for label, fn in (("value", rec.fn), ("phi'", rec.derivative),
                      ("phi''", rec.second_derivative)):  # fmt: skip
        assert _loops(_hlo(fn)) <= 1, f"{name} {label} compiles to several loops"


@pytest.mark.parametrize("name", one_per_family(ELEMENTWISE))
def test_forward_and_gradient_is_two_loops_with_no_extra_transcendentals(name):
    rec = ACTIVATIONS[name]
    both = _hlo(_forward_and_gradient(rec.fn))
    # One loop for the value, one for phi'(x) * cotangent (each reads x once).
    assert _loops(both) <= 2, f"{name}: forward+gradient compiles to {_loops(both)} loops"
    # The gradient's loop computes phi' afresh: at most the transcendentals of the value's and
    # of the derivative's own programs, none repeated inside a loop.
    alone = _transcendentals(_hlo(rec.fn)) + _transcendentals(_hlo(rec.derivative))
    assert _transcendentals(both) <= alone
