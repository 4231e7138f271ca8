"""The runs engine (jaxact.runs.engine) and the guarded step every training run takes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxact
from jaxact.mlp import mlp_scales
from jaxact.runs import engine
from jaxact.runs.cells import attenuation_cell
from jaxact.training import Guarded, make_guarded_step, make_step, two_spirals


def _rows(n):
    keys = np.stack([np.asarray(jax.random.key_data(jax.random.key(s))) for s in range(n)])
    scales = np.asarray(mlp_scales("he", 8, None, None, 0.0), np.float32)
    hyper = np.tile(scales, (n, 1)) * (1 + 0.1 * np.arange(n, dtype=np.float32))[:, None]
    return keys, hyper


@pytest.mark.slow
def test_chunks_give_each_network_what_it_gives_alone():
    # 5 networks in chunks of 2 per device (the last one padded): every network's result is
    # the cell's result for that network alone, in order, and the padding is dropped. (One
    # chunk size: each compiles its own program, ~6 s on 2 CPU cores.)
    chunk = 2
    cell = attenuation_cell("tanh", 4, 8, False, 4, jnp.float32)
    keys, hyper = _rows(5)
    prog = engine.program(cell, engine.device_mesh(), None)
    chunk *= jax.device_count()
    pending = engine.dispatch(prog, keys, hyper, (), chunk)
    assert len(pending) == -(-5 // chunk)
    got = [item for p in pending for item in engine.collect(p)]
    assert len(got) == 5
    for k, h, g in zip(keys, hyper, got, strict=True):
        # The same program on one network: the same XLA ops, so the same bits up to the
        # reassociation vmap may choose (float32: 4 ulp).
        want = np.asarray(cell.one(jnp.asarray(k), jnp.asarray(h)))
        np.testing.assert_allclose(g, want, rtol=4 * np.finfo(np.float32).eps)


def test_chunk_size_fits_the_budget_and_names_what_does_not():
    n_dev = jax.device_count()
    assert engine.chunk_size(100, bytes_per_network=10, budget=35, who="t") == 3 * n_dev
    assert (
        engine.chunk_size(2, bytes_per_network=10, budget=10**6, who="t") == -(-2 // n_dev) * n_dev
    )
    with pytest.raises(MemoryError, match=r"^me: one relu net of depth 9 needs about 1 MiB"):
        engine.chunk_size(1, bytes_per_network=2**20, budget=2**19, who="me",
                          what="relu net of depth 9")  # fmt: skip


def test_replicate_places_whole_arrays():
    a, b = engine.replicate(np.arange(6.0).reshape(2, 3), np.ones(2, np.int32))
    np.testing.assert_array_equal(np.asarray(a), np.arange(6.0).reshape(2, 3))
    assert b.dtype == np.int32 and a.sharding.is_fully_replicated


def test_guarded_step_is_make_step_until_it_diverges_then_freezes():
    data = two_spirals(jax.random.key(0), 32)
    p = jaxact.init_mlp(jax.random.key(1), depth=3, width=8, in_dim=2, out_dim=1)
    opt = optax.sgd(0.05)
    plain, guarded = jax.jit(make_step("relu", "binary", opt)), jax.jit(
        make_guarded_step("relu", "binary", opt))  # fmt: skip
    carry, state = Guarded.start(p, opt.init(p)), opt.init(p)
    for i in range(1, 4):
        out = plain(p, state, data.x, data.y)
        carry, gout = guarded(carry, jnp.int32(i), data.x, data.y)
        p, state = out.params, out.opt_state
        # Finite steps: the guard changes nothing (the same jitted ops, bit for bit).
        assert float(gout.loss) == float(out.loss)
        jax.tree.map(np.testing.assert_array_equal, carry.params, p)
    assert int(carry.bad_step) == 0 and int(carry.bad_layer) == -1

    # Poison the readout: the next loss and gradient are NaN; the guard records the step and
    # the first non-finite layer, and keeps the parameters from before it.
    bad = carry.params._replace(w_out=carry.params.w_out.at[0, 0].set(jnp.nan))
    carry = Guarded(bad, carry.opt_state, carry.bad_step, carry.bad_layer)
    for i in (4, 5):
        before = carry
        carry, _ = guarded(carry, jnp.int32(i), data.x, data.y)
        jax.tree.map(np.testing.assert_array_equal, carry.params, before.params)
    assert int(carry.bad_step) == 4  # the first step, not the last
    # A NaN readout makes the loss and every gradient NaN: the first layer is the one named.
    assert int(carry.bad_layer) == 0
