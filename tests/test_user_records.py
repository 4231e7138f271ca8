"""A user's own records and settings reach every API that takes a name (issue 14's code-read
bugs), and the API's edge cases raise clear errors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import jax
import pytest

import jaxact
from jaxact import datasets, initializers, training


@pytest.mark.slow
def test_train_with_a_user_activation_record():
    # An Activation record that is not in the registry (another name): used as it is, not
    # looked up again by its name.
    mine = dataclasses.replace(jaxact.get_activation("relu"), name="my_relu")
    p = jaxact.init_mlp(jax.random.key(0), depth=2, width=8, in_dim=2, out_dim=1)
    d = datasets.two_spirals(jax.random.key(1), 32)
    ours = training.train(p, d, mine, steps=3)
    theirs = training.train(p, d, "relu", steps=3)
    assert ours.history["loss"] == theirs.history["loss"]  # the same function, the same run


def test_init_mlp_takes_a_user_initializer():
    mine = dataclasses.replace(initializers.get_initializer("he"), name="my_he")
    a = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, init=mine)
    b = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, init="he")
    assert jax.tree.all(jax.tree.map(lambda x, y: bool((x == y).all()), a, b))


def test_log_every_zero_and_odd_spirals_are_value_errors():
    p = jaxact.init_mlp(jax.random.key(0), depth=2, width=8, in_dim=2, out_dim=1)
    d = datasets.two_spirals(jax.random.key(1), 32)
    with pytest.raises(ValueError, match="log_every"):
        training.train(p, d, "relu", steps=3, log_every=0)
    with pytest.raises(ValueError, match="even number"):
        datasets.two_spirals(jax.random.key(0), 33)


@pytest.mark.slow
def test_plotting_leaves_the_backend_alone():
    # A notebook's backend (here: whatever the user chose) survives importing and using
    # jaxact.plotting; matplotlib.use("Agg") at import used to switch it.
    code = ("import matplotlib; matplotlib.use('svg'); import jaxact.plotting as p; "
            "p.pyplot(); print(matplotlib.get_backend())")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout  # fmt: skip
    assert out.strip() == "svg"
