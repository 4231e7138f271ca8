"""Sweeps over activations, depths, widths, initialisations and seeds.

A grid cell is one ``(activation, depth, width, init, sigma_w2, sigma_b2)``; each cell is
measured on every seed. Two kinds of measurement:

* ``kind="attenuation"``: the per-layer gradient norms ``||dL/dh_l||`` of a random network on a
  random batch (:func:`~jaxact.layer_gradient_norms`) and the geometric rate fitted to them;
* ``kind="training"``: full-batch training with optax (two spirals by default): the loss curve,
  the final loss and accuracy, the per-layer gradient norms at the start and at the end, and
  where training diverged if it did (the step and the layer, as :class:`~jaxact.TrainingDiverged`
  would name them; a sweep records it instead of stopping).

How it runs:

* **One program per shape.** Cells with the same activation, depth and width have the same
  shapes, so they run as one compiled program: the networks (every seed of every init variant
  of the group: ``init``, ``sigma_w2``, ``sigma_b2`` only change three scale factors, see
  :func:`jaxact.mlp.mlp_scales`) are one batch axis. Activations are not batched together:
  under ``vmap`` a switch between activations would evaluate all of them.
* **Vmapped.** On a device, the networks are measured with one ``jax.vmap`` (or
  ``vmap_width`` at a time: ``jax.lax.map`` with that ``batch_size``). Each network's
  parameters are drawn on their own, one after another inside the program (``jax.lax.map``):
  vmapped threefry ran 2-3x slower than sequential draws on CPU.
* **Sharded.** The network axis is split over every device JAX sees: the program is a
  ``jax.shard_map`` over a :class:`~jax.sharding.Mesh` of ``jax.devices()``, its inputs placed
  with :class:`~jax.sharding.NamedSharding` (padded to a multiple of the device count). One
  device is the same code path. Several hosts too: call ``jax.distributed.initialize()`` on
  each host first and run the same script; ``jax.devices()`` then lists every host's devices,
  inputs are built with ``jax.make_array_from_callback``, results gathered with
  ``process_allgather``, the cells to resume are those process 0 finds, and only process 0
  writes the JSON-lines file.
* **Chunked.** The memory one network needs is estimated (:func:`network_bytes`); when a group's
  networks do not fit the per-device budget (half the free device memory, or ``max_memory``),
  they run in chunks of equal size through the same compiled program. :func:`plan` reports the
  groups and chunk sizes without computing anything.
* **Streamed.** Each cell's records are appended to a JSON-lines file as soon as its last
  network is done (one ``write`` on a file opened with ``O_APPEND``), and ``resume=True`` skips
  the cells already complete there.

>>> import jaxact
>>> recs = jaxact.sweep(activations=["sigmoid", "relu"], depths=[8], widths=[16], seeds=2)
>>> [(r["activation"], r["seed"], r["rate"] < 0.5) for r in recs]
[('sigmoid', 0, True), ('sigmoid', 1, True), ('relu', 0, False), ('relu', 1, False)]
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import itertools
import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxact.activations import get_activation
from jaxact.attenuation import layer_gradient_norms
from jaxact.checks import check_finite_number, check_positive_int, free_memory
from jaxact.datasets import check_dataset
from jaxact.files import (
    atomic_write,
    hold_output,
)
from jaxact.initializers import get_initializer, resolve_sigma_w2
from jaxact.mlp import hidden_weight_norms, mlp_forward, mlp_scales, sample_mlp
from jaxact.progress import Interrupted
from jaxact.runs.records import (
    COORDS,
    RECORD_RENAMED,
    RECORD_SCHEMA,
    TRAINING_RECORD,
    append_records,
    check_sweep_output,
    loss_curve,
    read_records,
    scan_records,
    warn_other_layout,
)
from jaxact.runs.summaries import METRICS, seed_statistics, summarize
from jaxact.theory import attenuation_rate as theory_rate
from jaxact.training import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_OPTIMIZER_NAME,
    OPTIMIZERS,
    Dataset,
    accuracy,
    layer_names,
    loss_fn,
    make_step,
    named_optimizer,
    observe,
    per_network_optimizer,
    two_spirals,
)
from jaxact.vocabulary import Record, divergence, fit_rate, signal_lost

__all__ = [
    "HYPERPARAMETERS",
    "KINDS",
    "Cell",
    "RECORD_SCHEMA",
    "Run",
    "TRAINING_RECORD",
    "METRICS",
    "attenuation_cell",
    "check_sweep_output",
    "device_mesh",
    "loss_curve",
    "network_bytes",
    "plan",
    "program",
    "read_records",
    "seed_statistics",
    "summarize",
    "sweep",
    "theory_rate",
    "train_runs",
    "training_cell",
]

KINDS = ("attenuation", "training")
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- validation


def _names(name: str, values, lookup) -> list[str]:
    values = [values] if isinstance(values, str) else list(values)
    if not values:
        raise ValueError(f"sweep: {name} is empty; give at least one name.")
    return _no_repeats(name, [lookup(v).name for v in values])  # ValueError names a bad one


def _no_repeats(name: str, values: list) -> list:
    """A grid axis names each value once: a repeat (``depths=[3, 3]``, or ``"silu"`` and its
    alias ``"swish"``) would measure the same cells twice, so it is refused."""

    def key(v):
        if v is None or isinstance(v, str):
            return repr(v)
        try:
            return repr(float(v))  # 2, 2.0 and np.float32(2) are one value
        except (TypeError, ValueError):
            return repr(v)  # not a number: refused where the value is checked

    seen = [key(v) for v in values]
    repeats = [v for i, v in enumerate(values) if seen.count(seen[i]) > 1
               and seen.index(seen[i]) == i]  # fmt: skip
    if repeats:
        raise ValueError(f"sweep: {name} has repeats ({', '.join(map(str, repeats))}); give "
                         "each value once.")  # fmt: skip
    return values


def _positive_ints(name: str, values) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if not values:
        raise ValueError(f"sweep: {name} is empty; give at least one value.")
    return _no_repeats(name, [check_positive_int(f"sweep: every value in {name}", v)
                              for v in values])  # fmt: skip


def _values(name: str, values) -> list:
    """One value or a list of them (checked where they are used: ``_variants``)."""
    values = [values] if values is None or isinstance(values, (int, float)) else list(values)
    if not values:
        raise ValueError(f"sweep: {name} is empty; give a number or a list of numbers.")
    return _no_repeats(name, values)


def _seeds(seeds) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"sweep: seeds={seeds}; give a count >= 1 or a list of seeds.")
        return list(range(seeds))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("sweep: seeds is empty.")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ValueError(f"sweep: seeds must be integers >= 0, got {bad}.")
    return _no_repeats("seeds", seeds)


def _variants(inits, sigma_w2s, sigma_b2s, width, out_dim):
    """(init, effective sigma_w2, sigma_b2, scales) for every init variant of a width; the
    checks of ``resolve_sigma_w2`` and ``mlp_scales`` refuse a bad value or combination."""
    out = []
    for init, s_w2, s_b2 in itertools.product(inits, sigma_w2s, sigma_b2s):
        scales = mlp_scales(init, width, out_dim, s_w2, s_b2)
        out.append((init, resolve_sigma_w2(init, width, width, s_w2), scales[2], scales))
    return out


def _optimizer(optimizer, learning_rate) -> tuple[str, optax.GradientTransformation]:
    if isinstance(optimizer, optax.GradientTransformation):
        return "custom", optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"sweep: unknown optimizer {optimizer!r}; use one of "
                         f"{sorted(OPTIMIZERS)} or an optax GradientTransformation.")  # fmt: skip
    ok = isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
    if not ok or learning_rate <= 0:
        raise ValueError(f"sweep: learning_rate must be a finite number > 0, got "
                         f"{learning_rate!r}.")  # fmt: skip
    return optimizer, named_optimizer(optimizer, float(learning_rate))


def _data_shape(data, n_points: int) -> tuple[str, int, int, int]:
    """``(name, points, in_dim, out_dim)`` of a sweep's training data, without building it."""
    if isinstance(data, Dataset):
        check_dataset(data, "sweep: data")
        return data.name, int(data.x.shape[0]), int(data.x.shape[-1]), data.out_dim
    if isinstance(data, str) and data == "spirals":
        # two_spirals: points in the plane, binary labels (one output).
        return "two spirals", check_positive_int("sweep: n_points", n_points), 2, 1
    raise ValueError(f"sweep: data must be 'spirals' or a jaxact.training.Dataset, got {data!r}.")


def _dataset(data, n_points: int, data_seed: int) -> Dataset:
    """The training data :func:`_data_shape` described (checked there)."""
    if isinstance(data, Dataset):
        return data
    return two_spirals(jr.key(data_seed), n_points)


# ----------------------------------------------------------------------------- memory


def network_bytes(kind: str, *, depth: int, width: int, batch: int, in_dim: int = 0,
                  out_dim: int = 0, itemsize: int = 4) -> int:  # fmt: skip
    """An upper estimate of the device memory one network of a sweep needs, in bytes.

    Weight-sized buffers (``depth width^2``): attenuation 6 (the flat normal draw, the random
    bits behind it, the scaled weights, their gradient, backward temporaries), training 10 (the
    same plus the optimizer's moments, the update and the new parameters). Activation-sized
    buffers (``depth batch width``, ``batch`` being the training points for training): 6
    (pre-activations, activations, the zero perturbations, their gradient, temporaries). Plus
    ``64 batch + 1024`` elements of per-example scratch (losses, labels, small temporaries).
    ``tests/test_sweeps.py`` checks it against XLA's ``memory_analysis`` of the compiled
    programs: never below it, and within 3x of it.

    Args:
      kind: ``"attenuation"`` or ``"training"``.
      depth: hidden layers.
      width: units per layer.
      batch: inputs per network (training: the training points).
      in_dim: input features (training).
      out_dim: outputs (training).
      itemsize: bytes per element of the networks' dtype.

    Returns:
      Bytes (an int).

    >>> from jaxact.sweeps import network_bytes
    >>> network_bytes("attenuation", depth=100, width=64, batch=16) // 2**20  # MiB
    11
    """
    weights = depth * width * width + (in_dim + out_dim + depth + 2) * width
    acts = depth * batch * width + batch * (in_dim + out_dim)
    n_weight = 6 if kind == "attenuation" else 10
    return itemsize * (n_weight * weights + 6 * acts + 64 * batch + 1024)


def device_budget() -> int:
    """Half the free memory of a device, in bytes (CPU devices share the host's memory):
    :func:`jaxact.checks.free_memory` halved and split over the local devices."""
    return int(0.5 * free_memory() / jax.local_device_count())


# ----------------------------------------------------------------------------- programs


class Cell(NamedTuple):
    """A grid cell's computation in two parts: ``draw(key_data, scales)`` makes the random
    network (and inputs); ``measure(drawn, *shared)`` measures it (``shared``: arrays every
    network sees, e.g. the training data). ``one`` is both, for a single network."""

    draw: Callable
    measure: Callable
    n_shared: int

    def one(self, key_data, scales, *shared):
        return self.measure(self.draw(key_data, scales), *shared)


def attenuation_cell(act, depth, width, orthogonal, batch, dtype) -> Cell:
    """An attenuation cell: a random network and a standard normal batch, measured by
    :func:`~jaxact.layer_gradient_norms` (what ``sweep(kind="attenuation")`` runs).

    ``draw(key_data, hyper)`` samples the network (``hyper[:3]``: :func:`~jaxact.mlp.mlp_scales`)
    from the first half of the split key and the inputs from the second.

    Args:
      act: activation (a name or a record).
      depth: hidden layers.
      width: units per layer (and input size).
      orthogonal: Haar-orthogonal weights instead of Gaussian ones.
      batch: inputs per network.
      dtype: the network's floating dtype.

    Returns:
      A :class:`Cell` whose ``measure`` gives the ``(depth,)`` gradient norms ``||dL/dh_l||``.

    >>> import jax, jax.numpy as jnp
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.sweeps import attenuation_cell
    >>> cell = attenuation_cell("relu", 5, 16, False, 8, jnp.float32)
    >>> key = jax.random.key_data(jax.random.key(0))
    >>> cell.one(key, jnp.asarray(mlp_scales("he", 16, None, None, 0.0), jnp.float32)).shape
    (5,)
    """
    rec = get_activation(act)

    def draw(key_data, hyper):
        kp, kx = jr.split(jr.wrap_key_data(key_data))
        params = sample_mlp(kp, hyper[:3], depth=depth, width=width, in_dim=None, out_dim=None,
                             orthogonal=orthogonal, dtype=dtype,
                             householder=True)  # fmt: skip
        # A flat draw, reshaped: vmapped random bits of a 2-D shape take XLA:CPU seconds to
        # compile (2.2 s against 0.2 s for (8, 12), jax 0.10); the values are the same.
        return params, jr.normal(kx, (batch * width,), dtype).reshape(batch, width)

    def measure(drawn):
        params, x = drawn
        return layer_gradient_norms(params, x, rec).pre

    return Cell(draw, measure, 0)


#: The per-network hyperparameters of a training program: the row of numbers each network
#: brings (``hyper``), in this order. The first three are :func:`jaxact.mlp.mlp_scales`.
HYPERPARAMETERS = ("weight_scale", "readout_scale", "sigma_b2", "residual", "branch_scale",
                   "optimizer_index", "learning_rate")  # fmt: skip


def training_cell(act, depth, width, orthogonal, task, in_dim, out_dim, optimizer, steps, dtype,
                  *, batch_size=None, n_train=None, test=False, residual=False,
                  observe_every=None) -> Cell:  # fmt: skip
    """A training cell: ``steps`` of :func:`jaxact.training.make_step` (the step
    :func:`~jaxact.train` runs) in one ``lax.scan``, recording where a NaN or inf first
    appeared instead of stopping.

    ``draw(key_data, hyper)`` samples the network from the first half of the split key (with
    ``hyper[:3]``, :data:`HYPERPARAMETERS`) and, with ``batch_size``, ``steps`` minibatches of
    indices into the ``n_train`` training examples (drawn with replacement) from the second.
    ``measure(drawn, x, y[, x_test, y_test])`` trains: on all of ``x`` every step (full batch)
    or on the minibatches. ``optimizer`` is an optax optimizer shared by every network, or a
    tuple of names of :data:`~jaxact.training.OPTIMIZERS`, one picked per network by
    ``hyper[5]`` at rate ``hyper[6]`` (:func:`~jaxact.training.per_network_optimizer`).
    ``residual``: ``False``/``True`` for every network, or ``"per-network"``: ``hyper[3] > 0``
    with branch scale ``hyper[4]``. ``observe_every``: every so many steps, the
    :func:`~jaxact.training.observe` of the whole training set (dead and saturated units per
    layer). Returns per network: ``loss`` (before each update, on that step's batch),
    ``final_loss`` and ``final_accuracy`` (the full training set after training),
    ``test_loss`` and ``test_accuracy`` (with ``test``), ``grad_norms_init``/``_final``
    (``||dL/dW_l||``), ``bad_step``, ``bad_layer`` and, when observing, ``dead_units`` and
    ``saturated_units`` ``(steps // observe_every, depth)``.

    Args:
      act: activation (a name or a record).
      depth: hidden layers.
      width: units per layer.
      orthogonal: Haar-orthogonal weights instead of Gaussian ones.
      task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
      in_dim: input features.
      out_dim: outputs.
      optimizer: an optax optimizer, or a tuple of optimizer names (see above).
      steps: training steps.
      dtype: the network's floating dtype.
      batch_size: minibatch size (default: full batch).
      n_train: training examples (needed with ``batch_size``).
      test: also measure ``(x_test, y_test)``.
      residual: see above.
      observe_every: see above.

    Returns:
      A :class:`Cell` whose ``measure`` returns the dict of arrays described above.

    >>> import jax, jax.numpy as jnp, optax
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.sweeps import training_cell
    >>> from jaxact.training import two_spirals
    >>> data = two_spirals(jax.random.key(0), 32)
    >>> cell = training_cell("tanh", 2, 8, False, "binary", 2, 1, optax.adam(0.01), 20,
    ...                      jnp.float32)
    >>> hyper = jnp.asarray(mlp_scales("glorot", 8, 1, None, 0.0), jnp.float32)
    >>> out = cell.one(jax.random.key_data(jax.random.key(0)), hyper, data.x, data.y)
    >>> out["loss"].shape, bool(out["final_loss"] < out["loss"][0])
    ((20,), True)
    """
    lf = loss_fn(task)
    if observe_every is not None and steps % observe_every:
        raise ValueError(f"observe_every={observe_every} must divide steps={steps}.")

    def draw(key_data, hyper):
        kp, kb = jr.split(jr.wrap_key_data(key_data))
        params = sample_mlp(kp, hyper[:3], depth=depth, width=width, in_dim=in_dim,
                            out_dim=out_dim, orthogonal=orthogonal, dtype=dtype,
                            householder=True)  # fmt: skip
        if batch_size is None:
            return params, hyper
        return params, hyper, jr.randint(kb, (steps, batch_size), 0, n_train)

    def measure(drawn, x, y, *test_data):
        params, hyper = drawn[:2]
        batches = drawn[2] if batch_size is not None else None
        if isinstance(optimizer, optax.GradientTransformation):
            opt = optimizer
        else:
            opt = per_network_optimizer(optimizer, hyper[5].astype(jnp.int32), hyper[6])
        res = hyper[3] > 0 if residual == "per-network" else residual
        branch = hyper[4] if residual is not False else 1.0
        step_fn = make_step(act, task, opt, residual=res, branch_scale=branch)

        def step(carry, i):
            p, state, bad_step, bad_layer = carry
            if batches is None:
                xb, yb = x, y
            else:
                xb, yb = x[batches[i - 1]], y[batches[i - 1]]
            out = step_fn(p, state, xb, yb)
            diverged, where = divergence(out.loss, out.finite)  # where -1: the loss
            new_bad = (bad_step == 0) & diverged
            bad_step = jnp.where(new_bad, i, bad_step)
            bad_layer = jnp.where(new_bad, where, bad_layer)
            alive = bad_step == 0  # once diverged, the network stays where it was
            keep = lambda new, old: jnp.where(alive, new, old)  # noqa: E731
            p = jax.tree.map(keep, out.params, p)
            state = jax.tree.map(keep, out.opt_state, state)
            return (p, state, bad_step, bad_layer), (out.loss, hidden_weight_norms(out.grads))

        carry = (params, opt.init(params), jnp.int32(0), jnp.int32(-1))
        observed = {}
        if observe_every is None:
            carry, (losses, gnorms) = jax.lax.scan(
                step, carry, jnp.arange(1, steps + 1, dtype=jnp.int32)
            )
        else:

            def window(carry, first):
                carry, out = jax.lax.scan(
                    step, carry, first + jnp.arange(observe_every, dtype=jnp.int32)
                )
                d = observe(carry[0], Dataset(x, y, task, ""), act, residual=res,
                            branch_scale=branch)  # fmt: skip
                return carry, (out, d.dead_units[:depth], d.saturated_units[:depth])

            firsts = jnp.arange(1, steps + 1, observe_every, dtype=jnp.int32)
            carry, ((losses, gnorms), dead, sat) = jax.lax.scan(window, carry, firsts)
            losses, gnorms = losses.reshape(steps), gnorms.reshape(steps, depth)
            observed = {"dead_units": dead, "saturated_units": sat}
        p, state, bad_step, bad_layer = carry
        # The final loss, output and gradient on the whole training set: one more step, its
        # update unused.
        final = step_fn(p, state, x, y)
        result = {
            "loss": losses,
            "final_loss": final.loss,
            "final_accuracy": accuracy(final.output, y, task),
            "grad_norms_init": gnorms[0],
            "grad_norms_final": hidden_weight_norms(final.grads),
            "bad_step": bad_step,
            "bad_layer": bad_layer,
            **observed,
        }
        if test_data:
            x_test, y_test = test_data
            out = mlp_forward(p, x_test, act, residual=res, branch_scale=branch)
            result |= {"test_loss": lf(out, y_test), "test_accuracy": accuracy(out, y_test, task)}
        return result

    return Cell(draw, measure, 4 if test else 2)


@functools.lru_cache(maxsize=32)
def _group_program(kind, act, depth, width, orthogonal, dtype, vmap_width, mesh, *, batch=None,
                   task=None, in_dim=None, out_dim=None, optimizer=None, steps=None):  # fmt: skip
    """A group's compiled program, cached: sweeping the same shapes again (a resumed or
    repeated sweep in one session) does not compile again."""
    if kind == "attenuation":
        cell = attenuation_cell(act, depth, width, orthogonal, batch, dtype)
    else:
        cell = training_cell(act, depth, width, orthogonal, task, in_dim, out_dim, optimizer,
                              steps, dtype)  # fmt: skip
    return program(cell, mesh, vmap_width)


def program(cell: Cell, mesh: Mesh, vmap_width: int | None):
    """One compiled program for a group: ``f(keys, hyper, *shared)``, one key and one row of
    hyperparameters per network (``hyper[:3]``: the scales). Its networks are sharded over the
    mesh, and on each device drawn one after another (vmapped threefry is 2-3x slower than
    sequential on CPU) then measured ``vmap_width`` at a time (``None``: all at once).

    Args:
      cell: what each network computes (:func:`attenuation_cell`, :func:`training_cell`).
      mesh: a one-axis mesh (:func:`device_mesh`).
      vmap_width: networks vectorised at once on a device (``None``: all).

    Returns:
      The jitted ``f(keys, hyper, *shared)``: ``keys`` ``(networks, key_size)`` uint32 key
      data, ``hyper`` ``(networks, k)``, the number of networks a multiple of the device count;
      it returns the cell's measurement with a leading ``networks`` axis.

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.sweeps import attenuation_cell, device_mesh, program
    >>> f = program(attenuation_cell("tanh", 4, 8, False, 4, jnp.float32), device_mesh(), None)
    >>> n = 2 * jax.device_count()
    >>> keys = jnp.stack([jax.random.key_data(jax.random.key(i)) for i in range(n)])
    >>> hyper = jnp.tile(jnp.asarray(mlp_scales("glorot", 8, None, None, 0.0)), (n, 1))
    >>> f(keys, hyper).shape == (n, 4)
    True
    """

    def per_device(keys, hyper, *shared):
        drawn = jax.lax.map(lambda a: cell.draw(*a), (keys, hyper))
        width = keys.shape[0] if vmap_width is None else min(vmap_width, keys.shape[0])
        return jax.lax.map(lambda d: cell.measure(d, *shared), drawn, batch_size=width)

    spec = PartitionSpec("networks")
    in_specs = (spec, spec) + (PartitionSpec(),) * cell.n_shared
    # check_vma=False: the per-network scans start from constants (zero counters, b_out) that
    # are the same on every device; each device's computation is independent anyway.
    return jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=in_specs, out_specs=spec,
                                 check_vma=False))  # fmt: skip


# ----------------------------------------------------------------------------- devices


def device_mesh() -> Mesh:
    """A one-axis mesh (``\"networks\"``) over every device JAX sees, on every host.

    Returns:
      A ``jax.sharding.Mesh`` of ``jax.devices()``, axis ``"networks"``.

    >>> import jax
    >>> from jaxact.sweeps import device_mesh
    >>> device_mesh().shape["networks"] == jax.device_count()
    True
    """
    return Mesh(np.array(jax.devices()), ("networks",))


def _put(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds in full (one or many hosts)."""
    return jax.make_array_from_callback(array.shape, sharding, lambda idx: array[idx])


def _to_host(tree):
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def _agree_with_process_zero(mask: np.ndarray) -> np.ndarray:
    """Every process skips the cells process 0 found complete (its file is the reference)."""
    if jax.process_count() == 1:
        return mask
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(mask))


# ----------------------------------------------------------------------------- the sweep


def _cell_id(rec: dict[str, Any], config_keys: Sequence[str]) -> tuple:
    return tuple(json.dumps(rec.get(k)) for k in (*COORDS, "kind", *config_keys))


_PREPARE_ARGS = ("inits", "sigma_w2", "sigma_b2", "kind", "batch", "optimizer", "learning_rate",
                 "steps", "log_every", "data", "n_points", "data_seed", "max_memory", "dtype",
                 "vmap_width")  # fmt: skip


def _prepare(activations, depths, widths, seeds, inits, sigma_w2, sigma_b2, kind, batch,
             optimizer, learning_rate, steps, log_every, data, n_points, data_seed, max_memory,
             dtype, vmap_width):  # fmt: skip
    """Validate everything and build the groups; no device computation."""
    if kind not in KINDS:
        raise ValueError(f"sweep: unknown kind {kind!r}; use one of {KINDS}.")
    names = _names("activations", activations, get_activation)
    inits = _names("inits", inits, get_initializer)
    depths = _positive_ints("depths", depths)
    widths = _positive_ints("widths", widths)
    seeds = _seeds(seeds)
    sigma_w2s = _values("sigma_w2", sigma_w2)
    sigma_b2s = _values("sigma_b2", sigma_b2)
    if max_memory is not None and not (isinstance(max_memory, (int, float)) and max_memory > 0):
        raise ValueError(f"sweep: max_memory must be a number of bytes > 0, got {max_memory!r}.")
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"sweep: dtype must be a floating dtype, got {dtype}.")
    if vmap_width is not None:
        vmap_width = check_positive_int("sweep: vmap_width (or None)", vmap_width)
    settings: dict[str, Any] = {"kind": kind, "dtype": dtype, "vmap_width": vmap_width}
    if kind == "attenuation":
        config = {"batch": check_positive_int("sweep: batch", batch)}
        in_dim = out_dim = 0
        net_batch = batch
    else:
        opt_name, opt = _optimizer(optimizer, learning_rate)
        steps = check_positive_int("sweep: steps", steps)
        log_every = check_positive_int("sweep: log_every", log_every)
        # The data's shape, not the data: nothing is computed before every check has passed.
        data_name, net_batch, in_dim, out_dim = _data_shape(data, n_points)
        config = {"optimizer": opt_name,
                  "learning_rate": None if opt_name == "custom" else learning_rate,
                  "steps": steps, "data": data_name, "n_points": net_batch}  # fmt: skip
        settings |= {"optimizer": opt, "steps": steps, "log_every": log_every}
    budget = int(max_memory) if max_memory is not None else device_budget()
    n_dev = jax.device_count()
    groups = []
    variants = {w: _variants(inits, sigma_w2s, sigma_b2s, w, out_dim or None) for w in widths}
    for act, depth, width in itertools.product(names, depths, widths):
        per_net = network_bytes(kind, depth=depth, width=width, batch=net_batch,
                                in_dim=in_dim, out_dim=out_dim,
                                itemsize=dtype.itemsize)  # fmt: skip
        per_device = budget // per_net
        if per_device < 1:
            raise MemoryError(
                f"sweep: one {act} network of depth {depth} and width {width} needs about "
                f"{per_net / 2**20:.3g} MiB, more than the {budget / 2**20:.3g} MiB per "
                "device budget; lower batch/width/depth or raise max_memory."
            )
        for orthogonal in (False, True):
            vs = [v for v in variants[width] if get_initializer(v[0]).orthogonal == orthogonal]
            if not vs:
                continue
            cells = [{"activation": act, "depth": depth, "width": width, "init": init,
                      "sigma_w2": eff, "sigma_b2": s_b2, "kind": kind, **config}
                     for init, eff, s_b2, _ in vs]  # fmt: skip
            n = len(vs) * len(seeds)
            chunk = min(per_device * n_dev, -(-n // n_dev) * n_dev)
            groups.append({"activation": act, "depth": depth, "width": width,
                           "orthogonal": orthogonal, "cells": cells,
                           "scales": [v[3] for v in vs], "networks": n, "chunk": chunk,
                           "chunks": -(-n // chunk), "bytes_per_network": per_net,
                           "budget_per_device": budget})  # fmt: skip
    return seeds, list(config), settings, groups


def plan(**grid) -> list[dict[str, Any]]:
    """How :func:`sweep` would run a grid, without running it: one row per compiled program.

    Takes :func:`sweep`'s arguments (``out``, ``resume`` and ``progress`` are ignored). Each row:
    ``activation``, ``depth``, ``width``, ``orthogonal``, ``cells`` (how many grid cells share
    the program), ``networks`` (cells x seeds), ``chunk`` (networks per call, a multiple of the
    device count), ``chunks``, ``bytes_per_network`` (:func:`network_bytes`) and
    ``budget_per_device``.

    Args:
      **grid: :func:`sweep`'s keyword arguments.

    Returns:
      A list of dicts, one per compiled program, with the keys above.

    >>> from jaxact.sweeps import plan
    >>> rows = plan(activations="tanh", depths=100, widths=64, seeds=8, max_memory=2**26)
    >>> [(r["networks"], r["bytes_per_network"] // 2**20, r["chunk"]) for r in rows]
    [(8, 14, 4)]
    """
    for k in ("out", "resume", "progress", "log"):
        grid.pop(k, None)
    defaults = {k: p.default for k, p in inspect.signature(sweep).parameters.items()
                if p.default is not inspect.Parameter.empty and k in _PREPARE_ARGS}  # fmt: skip
    _, _, _, groups = _prepare(**{**defaults, **grid})
    return [{**{k: g[k] for k in g if k not in ("cells", "scales")}, "cells": len(g["cells"])}
            for g in groups]  # fmt: skip


def sweep(
    *,
    activations: Sequence[str] | str,
    depths: Sequence[int] | int,
    widths: Sequence[int] | int,
    seeds: Sequence[int] | int,
    inits: Sequence[str] | str = ("he",),
    sigma_w2: Sequence[float] | float | None = None,
    sigma_b2: Sequence[float] | float = 0.0,
    kind: str = "attenuation",
    batch: int = 32,
    optimizer: str | optax.GradientTransformation = DEFAULT_OPTIMIZER_NAME,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    steps: int = 200,
    log_every: int = 10,
    data: str | Dataset = "spirals",
    n_points: int = 256,
    data_seed: int = 0,
    max_memory: int | None = None,
    dtype=jnp.float32,
    vmap_width: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], Any] | None = None,
) -> list[dict[str, Any]]:
    """Measure every cell of a grid on every seed; one plain record per (cell, seed).

    The grid is the product of ``activations``, ``depths``, ``widths``, ``inits``, ``sigma_w2``
    and ``sigma_b2``. Network ``seed`` of a cell is drawn as
    ``init_mlp(jax.random.split(jax.random.key(seed))[0], ...)`` - the same network for every
    kind and every device count - and the attenuation batch from the second half of that split.

    Every record holds the cell (``activation``, ``depth``, ``width``, ``init``, ``sigma_w2`` -
    the effective value: 2.0 for ``he`` -, ``sigma_b2``), ``kind``, the kind's settings and
    ``seed``, and then:

    * attenuation: ``rate`` (fitted per-layer factor), ``total`` (``g_1 / g_depth``),
      ``fit_rms``, ``grad_norms`` (list, layer 1 first) and ``signal_lost`` /
      ``signal_lost_layer`` (``None``, or ``"overflow"`` - rate, total and fit are NaN - or
      ``"underflow"`` - the rate fits the layers above it only -, and the layer:
      :func:`~jaxact.attenuation.signal_lost`);
    * training: ``final_loss``, ``train_accuracy`` (``final_accuracy`` before this release),
      ``loss_curve`` (the mean loss of each window of ``log_every`` updates, ending at
      ``steps_logged``: :func:`loss_curve`, as :func:`train_runs`'s), ``grad_norms_init``
      and ``grad_norms_final`` (per hidden layer ``||dL/dW_l||``), ``diverged_step`` and
      ``diverged_layer`` (``None``, or where the first NaN/inf appeared; the run then stops
      updating and its final figures are NaN): :data:`TRAINING_RECORD`.

    Only plain ``int``/``float``/``str``/``None`` and lists: ``json`` and
    ``pandas.DataFrame(records)`` take them as they are.

    Args:
      activations: a grid axis (one value or a list): activation names or records.
      depths: a grid axis: hidden layers.
      widths: a grid axis: units per hidden layer.
      inits: a grid axis: initialisation schemes (:data:`~jaxact.INITIALIZERS`).
      seeds: a count (``range(seeds)``) or a list of distinct integers >= 0.
      sigma_w2: for ``init="gaussian"`` (required) or ``"orthogonal"``; a list is a grid axis.
      sigma_b2: bias variance; a list is a grid axis.
      kind: ``"attenuation"`` or ``"training"``.
      batch: attenuation: inputs per network.
      optimizer: training: ``"sgd"``, ``"momentum"`` or ``"adam"``, or any optax
        transformation (recorded as ``"custom"``). The default, Adam at 1e-2, is
        :func:`~jaxact.train`'s (training sweeps used SGD at 0.1 before they shared its step).
      learning_rate: training: the named optimizer's rate.
      steps: training: full-batch steps.
      log_every: training: the loss curve keeps every ``log_every``-th step and the last.
      data: training: ``"spirals"`` (:func:`~jaxact.training.two_spirals`, the same points for
        every network) or a :class:`~jaxact.training.Dataset`.
      n_points: training: how many spiral points.
      data_seed: training: the seed the spirals are drawn from.
      max_memory: bytes per device a program may use (default: half the free memory).
      dtype: floating dtype of the networks.
      vmap_width: networks vectorized at once on a device: ``None`` (default) for all of its
        share, a plain ``vmap``; an int for ``jax.lax.map`` with that ``batch_size`` (less
        memory for activations). The results do not depend on it.
      out: JSON-lines file; each cell's records are appended when it finishes.
      resume: skip the cells already complete in ``out`` (their records are returned as read);
        repeated or outdated records in it are removed, with a warning.
      force: replace what ``out`` holds (a record file without ``resume``, or a file that is
        not one) instead of refusing it.
      progress: a progress bar over grid cells.
      log: called with a line for each chunked program (default: the ``jaxact.sweeps`` logger).

    Returns:
      A list of flat records (dicts), one per (grid cell, seed), in grid order: the cell's
      settings (``activation``, ``depth``, ``width``, ``init``, ``sigma_w2``, ``sigma_b2``,
      ``kind``, ...), ``seed`` and the measurement. Attenuation: ``grad_norms`` (``depth``
      floats, layer 1 first), ``rate``, ``total``, ``fit_rms``; training: ``losses``
      (every ``log_every``-th step and the last), ``final_loss``, ``train_accuracy``, the
      gradient norms at the start and the end and, if it diverged, where.

    Raises:
      ValueError: a bad grid or setting, before anything is computed.
      MemoryError: one network alone exceeds the memory budget (before anything is computed).
      OutputRefused: ``out`` is refused (:func:`check_sweep_output`) or another process is
        writing it, before anything is computed.
      WriteFailed: records could not be appended (disk full); the file holds every record
        written before, whole, and ``resume=True`` continues it.
      Interrupted: Ctrl-C; the finished cells are in ``out``.

    >>> import jaxact
    >>> recs = jaxact.sweep(activations="tanh", depths=3, widths=8, seeds=2)
    >>> [(r["depth"], r["seed"], len(r["grad_norms"])) for r in recs]
    [(3, 0, 3), (3, 1, 3)]
    """
    seeds, config_keys, settings, groups = _prepare(
        activations, depths, widths, seeds, inits, sigma_w2, sigma_b2, kind, batch, optimizer,
        learning_rate, steps, log_every, data, n_points, data_seed, max_memory, dtype,
        vmap_width)  # fmt: skip
    say = log if log is not None else _log_info
    path = None if out is None else check_sweep_output(out, resume=resume, force=force)
    with contextlib.ExitStack() as held:
        if path is not None and jax.process_index() == 0:
            held.enter_context(hold_output(path))  # one writer per file, before reading it
            if force and not resume:
                atomic_write(path, b"")  # start afresh: what was there is replaced
                held.enter_context(hold_output(path))  # the new file is a new inode
        done = {}
        if path is not None and resume:
            done, lines = _read_done(path, config_keys)  # the one read after the lock
            if jax.process_index() == 0 and _dedupe(path, done, lines):
                held.enter_context(hold_output(path))  # the rewritten file is a new inode
        if kind == "training":
            # Every check has passed (_prepare read only the data's shape): draw the data now.
            settings["data"] = _dataset(data, n_points, data_seed)
        return _sweep_cells(groups, seeds, config_keys, settings, done, path, say, progress)


def _sweep_cells(groups, seeds, config_keys, settings, done, path, say, progress):
    """Run the cells of ``groups`` not complete in ``done``; every record, in grid order."""
    from tqdm.auto import tqdm

    kind = settings["kind"]

    def in_file(rec: dict[str, Any]) -> bool:
        """Whether the file already holds this (cell, seed): a cell recomputed for its missing
        seeds appends only those."""
        return rec["seed"] in done.get(_cell_id(rec, config_keys), {})

    cells = [c for g in groups for c in g["cells"]]
    complete = np.array([set(done.get(_cell_id(c, config_keys), {})) >= set(seeds)
                         for c in cells], bool)  # fmt: skip
    complete = _agree_with_process_zero(complete)
    mesh = device_mesh()
    by_networks = NamedSharding(mesh, PartitionSpec("networks"))
    replicated = NamedSharding(mesh, PartitionSpec())
    records: list[dict[str, Any]] = []
    bar = _CountedBar(tqdm(total=len(cells), desc=f"{kind} sweep: grid cells",
                           disable=not progress))  # fmt: skip
    index = 0
    try:
        for g in groups:
            todo = []
            for c, s in zip(g["cells"], g["scales"], strict=True):
                if complete[index]:
                    # (Another process's file may lack a cell process 0 has: no records then.)
                    known = done.get(_cell_id(c, config_keys), {})
                    records += [known[seed] for seed in seeds if seed in known]
                    bar.update(1)
                else:
                    todo.append((c, s))
                index += 1
            if todo:
                records += _run_group(g, todo, seeds, settings, by_networks, replicated, path,
                                      bar, say, in_file)  # fmt: skip
    except KeyboardInterrupt:
        bar.close()
        raise Interrupted(bar.done, len(cells), "grid cells") from None
    bar.close()
    return records


class _CountedBar:
    """A tqdm bar that also counts the cells done when it is disabled (for Interrupted)."""

    def __init__(self, bar):
        self.bar, self.done = bar, 0

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)

    def set_postfix_str(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def close(self) -> None:
        self.bar.close()


def _dedupe(path: Path, done: dict[tuple, dict[int, dict]], lines: int) -> bool:
    """Rewrite ``path`` with one record per (cell, seed) of this layout when its ``lines``
    records are more than that (two writers before locks, an old layout); True if it was
    rewritten."""
    kept = [rec for by_seed in done.values() for rec in by_seed.values()]
    if lines == len(kept):
        return False
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in kept))
    warnings.warn(f"{path}: {lines - len(kept)} repeated or outdated record(s) removed; "
                  f"{len(kept)} kept (the latest of each cell and seed)", stacklevel=3)  # fmt: skip
    return True


def _log_info(message: str) -> None:
    log.info(message)


def _read_done(path: Path, config_keys) -> tuple[dict[tuple, dict[int, dict]], int]:
    """The records in ``path`` by cell and seed (a later line for the same seed wins), and how
    many record lines the file holds (any layout version). A torn last line is removed; records
    of another version are skipped with a warning."""
    records, other = scan_records(path, repair=True)
    warn_other_layout(path, other)
    done: dict[tuple, dict[int, dict]] = {}
    for rec in records:
        done.setdefault(_cell_id(rec, config_keys), {})[rec["seed"]] = rec
    return done, len(records) + other


def _run_group(g, todo, seeds, settings, by_networks, replicated, path, bar, say,
               in_file=lambda rec: False):  # fmt: skip
    kind, dtype = settings["kind"], settings["dtype"]
    n_seed = len(seeds)
    n = len(todo) * n_seed
    chunk = min(g["chunk"], -(-n // jax.device_count()) * jax.device_count())
    n_chunks = -(-n // chunk)
    if n_chunks > 1:
        say(f"sweep: {g['activation']} depth {g['depth']} width {g['width']}: {n} networks in "
            f"{n_chunks} chunks of {chunk} (about {g['bytes_per_network'] / 2**20:.1f} MiB per "
            f"network, budget {g['budget_per_device'] / 2**20:.0f} MiB per device)")  # fmt: skip
    bar.set_postfix_str(f"{g['activation']} d={g['depth']} w={g['width']} chunk={chunk}")
    keys = np.stack([np.asarray(jr.key_data(jr.key(s))) for s in seeds])
    item_keys = np.tile(keys, (len(todo), 1))
    # Rows of HYPERPARAMETERS: the scales, then plain networks (the optimizer is shared).
    rows = [(*s, 0.0, 1.0, 0.0, 0.0) for _, s in todo]
    item_scales = np.repeat(np.asarray(rows, dtype), n_seed, axis=0)
    pad = n_chunks * chunk - n
    item_keys = np.concatenate([item_keys, np.repeat(item_keys[:1], pad, 0)])
    item_scales = np.concatenate([item_scales, np.repeat(item_scales[:1], pad, 0)])
    common = (kind, g["activation"], g["depth"], g["width"], g["orthogonal"], dtype,
              settings["vmap_width"], by_networks.mesh)  # fmt: skip
    if kind == "attenuation":
        program = _group_program(*common, batch=todo[0][0]["batch"])
        shared: tuple = ()
    else:
        ds = settings["data"]
        program = _group_program(*common, task=ds.task, in_dim=int(ds.x.shape[-1]),
                                 out_dim=ds.out_dim, optimizer=settings["optimizer"],
                                 steps=settings["steps"])  # fmt: skip
        y = np.asarray(ds.y, dtype if ds.task == "regression" else np.int32)
        shared = (_put(np.asarray(ds.x, dtype), replicated), _put(y, replicated))
    items: list[Any] = []  # one result per network, in item order
    records: list[dict[str, Any]] = []
    written = 0
    for c in range(n_chunks):
        sl = slice(c * chunk, (c + 1) * chunk)
        res = _to_host(program(_put(item_keys[sl], by_networks),
                               _put(item_scales[sl], by_networks), *shared))  # fmt: skip
        items += [jax.tree.map(lambda a, i=i: a[i], res) for i in range(chunk)]
        ready = min(n, len(items)) // n_seed  # cells whose every seed is done
        if ready > written:
            new = [_record(todo[ci][0], seed, items[ci * n_seed + si], settings, g["depth"])
                   for ci in range(written, ready) for si, seed in enumerate(seeds)]  # fmt: skip
            if path is not None:
                append_records(path, [r for r in new if not in_file(r)])
            records += new
            bar.update(ready - written)
            written = ready
    return records


def _record(cell, seed, item, settings, depth) -> dict[str, Any]:
    rec = {**cell, "seed": int(seed), "schema": RECORD_SCHEMA}
    if settings["kind"] == "attenuation":
        gn = np.asarray(item, np.float64)
        lost = signal_lost(gn)
        nan = float("nan")
        if lost is not None and lost[0] == "overflow":
            rate = total = rms = nan  # nothing to fit: the signal overflowed
        else:
            rate, rms = fit_rate(gn)  # on an underflow: the layers above it only (flagged)
            total = float(gn[0] / gn[-1]) if gn[-1] > 0 else nan
        return rec | {"rate": rate, "total": total, "fit_rms": rms, "grad_norms": gn.tolist(),
                      "signal_lost": None if lost is None else lost[0],
                      "signal_lost_layer": None if lost is None else lost[1]}  # fmt: skip
    steps, every = settings["steps"], settings["log_every"]
    bad = int(item["bad_step"])
    logged, curve = loss_curve(item["loss"], steps, every, bad)
    nan = float("nan")
    return Record(rec | {
        "final_loss": nan if bad else float(item["final_loss"]),
        "train_accuracy": nan if bad else float(item["final_accuracy"]),
        "steps_logged": logged,
        "loss_curve": curve,
        **_gradients_and_divergence(item, depth),
    }, renamed=RECORD_RENAMED)  # fmt: skip


def _gradients_and_divergence(item, depth: int) -> dict[str, Any]:
    """The fields every training record ends with: per-layer gradient norms at the first and
    the last step, and where a NaN or inf first appeared (``None`` if nowhere)."""
    bad = int(item["bad_step"])
    layer = None
    if bad:
        li = int(item["bad_layer"])
        layer = "the loss" if li < 0 else layer_names(depth)[li]
    return {
        "grad_norms_init": np.asarray(item["grad_norms_init"], np.float64).tolist(),
        "grad_norms_final": np.asarray(item["grad_norms_final"], np.float64).tolist(),
        "diverged_step": bad or None,
        "diverged_layer": layer,
    }


# ----------------------------------------------------------------------------- summary


# ----------------------------------------------------------------------------- training runs


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of :func:`train_runs`: a network, its initialisation, optimizer, seed.

    ``sigma_w2=None`` takes the initializer's own (2 for ``he``, 1 for ``glorot`` at equal
    fans); ``residual`` adds identity shortcuts whose branch is scaled by ``branch_scale``
    (:func:`~jaxact.mlp_forward`); ``optimizer`` is a key of
    :data:`~jaxact.training.OPTIMIZERS`. The network is ``init_mlp`` of
    ``jax.random.split(jax.random.key(seed))[0]``, as in :func:`sweep`.
    """

    activation: str
    depth: int
    width: int
    init: str = "he"
    sigma_w2: float | None = None
    sigma_b2: float = 0.0
    residual: bool = False
    branch_scale: float = 1.0
    optimizer: str = DEFAULT_OPTIMIZER_NAME
    learning_rate: float = DEFAULT_LEARNING_RATE
    seed: int = 0

    def __post_init__(self):
        get_activation(self.activation)
        get_initializer(self.init)
        check_positive_int("Run: depth", self.depth)
        check_positive_int("Run: width", self.width)
        if not isinstance(self.residual, bool):
            raise TypeError(f"Run: residual must be a bool, got {self.residual!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Run: unknown optimizer {self.optimizer!r}; use one of "
                             f"{sorted(OPTIMIZERS)}.")  # fmt: skip
        for name in ("learning_rate", "branch_scale"):
            check_finite_number(f"Run: {name}", getattr(self, name), positive=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"Run: seed must be an integer >= 0, got {self.seed!r}.")


@functools.lru_cache(maxsize=64)
def _runs_program(act, depth, width, orthogonal, dtype, mesh, vmap_width, task, in_dim,
                  out_dim, optimizers, steps, batch_size, n_train, test, residual,
                  observe_every):  # fmt: skip
    cell = training_cell(act, depth, width, orthogonal, task, in_dim, out_dim, optimizers,
                         steps, dtype, batch_size=batch_size, n_train=n_train, test=test,
                         residual=residual, observe_every=observe_every)  # fmt: skip
    return program(cell, mesh, vmap_width)


def train_runs(
    runs: Sequence[Run],
    data: Dataset,
    *,
    test: Dataset | None = None,
    steps: int,
    batch_size: int | None = None,
    log_every: int | None = None,
    observe_every: int | None = None,
    max_memory: int | None = None,
    dtype=jnp.float32,
    vmap_width: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> list[dict[str, Any]]:
    """Train many networks at once; one flat record per :class:`Run`, in the order given.

    Runs with the same activation, depth and width (and orthogonal or not) are one compiled
    program: everything else - initialisation, residual or plain, branch scale, optimizer,
    learning rate, seed - is a row of numbers per network (:data:`HYPERPARAMETERS`), so He and
    Glorot, SGD and Adam, plain and residual networks of one shape train side by side,
    vmapped and sharded over every device as in :func:`sweep` (chunked when they do not fit
    the memory budget, :func:`network_bytes`).

    Args:
      runs: the runs.
      data: the training set (a :class:`~jaxact.training.Dataset`).
      test: an optional held-out set of the same task and input size.
      steps: optimizer steps per run.
      batch_size: minibatch size (drawn with replacement, a different sequence per seed);
        ``None``: the whole training set every step.
      log_every: the loss curve's resolution (default ``steps // 20``, at least 1).
      observe_every: every so many steps (a divisor of ``steps``) record the dead and
        saturated units per layer on the whole training set (:func:`~jaxact.training.observe`).
      max_memory: bytes per device (default: half the free memory).
      progress: called with the number of runs just finished.

    Returns:
      One dict per run: the :class:`Run`'s fields (``sigma_w2`` the effective value),
      ``dataset``, ``steps``, ``batch_size``, ``final_loss`` and ``train_accuracy`` (the whole
      training set after training), ``test_loss`` and ``test_accuracy`` (``None`` without
      ``test``), ``steps_logged`` and ``loss_curve`` (mean training loss over each window of
      ``log_every`` steps), ``grad_norms_init`` and ``grad_norms_final`` (per hidden layer
      ``||dL/dW_l||``, layer 1 first), ``diverged_step`` and ``diverged_layer`` (``None``, or
      where a NaN or inf first appeared; the run's numbers are then NaN) and, with
      ``observe_every``, ``observed_steps``, ``dead_units`` and ``saturated_units`` (per
      observation, per layer).

    >>> from jaxact.sweeps import Run, train_runs
    >>> from jaxact.datasets import two_spirals
    >>> import jax
    >>> runs = [Run("relu", 3, 16, seed=s) for s in range(2)]
    >>> recs = train_runs(runs, two_spirals(jax.random.key(0), 64), steps=20)
    >>> [(r["seed"], r["final_loss"] < 0.7) for r in recs]
    [(0, True), (1, True)]
    """
    runs = list(runs)
    if not runs or not all(isinstance(r, Run) for r in runs):
        raise TypeError("train_runs: runs must be a non-empty sequence of jaxact.sweeps.Run.")
    check_dataset(data, "train_runs: data")
    if test is not None:
        check_dataset(test, "train_runs: test")
    steps = check_positive_int("train_runs: steps", steps)
    n_train = int(data.x.shape[0])
    if batch_size is not None:
        check_positive_int("train_runs: batch_size", batch_size)
        if batch_size > n_train:
            raise ValueError(f"train_runs: batch_size {batch_size} is larger than the "
                             f"{n_train} training examples.")  # fmt: skip
    log_every = max(1, steps // 20) if log_every is None else log_every
    check_positive_int("train_runs: log_every", log_every)
    if observe_every is not None:
        check_positive_int("train_runs: observe_every", observe_every)
        if steps % observe_every:
            raise ValueError(f"train_runs: observe_every={observe_every} must divide "
                             f"steps={steps}.")  # fmt: skip
    if test is not None and (test.task != data.task or test.x.shape[1:] != data.x.shape[1:]):
        raise ValueError(f"train_runs: the test set ({test.task}, inputs {test.x.shape[1:]}) "
                         f"does not match the training set ({data.task}, "
                         f"{data.x.shape[1:]}).")  # fmt: skip
    dtype = jnp.dtype(dtype)
    in_dim, out_dim = int(data.x.shape[-1]), data.out_dim
    if test is not None and test.task != "regression":
        out_dim = max(out_dim, test.out_dim)
    budget = int(max_memory) if max_memory is not None else device_budget()
    mesh = device_mesh()
    n_dev = jax.device_count()
    by_networks, replicated = NamedSharding(mesh, PartitionSpec("networks")), NamedSharding(
        mesh, PartitionSpec())  # fmt: skip

    def put(a, dt):
        return _put(np.asarray(a, dt), replicated)

    ydt = dtype if data.task == "regression" else np.int32
    shared = (put(data.x, dtype), put(data.y, ydt))
    if test is not None:
        shared += (put(test.x, dtype), put(test.y, ydt))
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(runs):
        orth = get_initializer(r.init).orthogonal
        groups.setdefault((get_activation(r.activation).name, r.depth, r.width, orth), []).append(i)
    # Every group's chunks are dispatched first and collected afterwards: JAX runs them
    # asynchronously, so the next group compiles while the previous one trains.
    pending = []
    for (act, depth, width, orth), members in groups.items():
        rs = [runs[i] for i in members]
        names = tuple(sorted({r.optimizer for r in rs}))
        kinds = {r.residual for r in rs}
        residual = "per-network" if len(kinds) > 1 else kinds.pop()
        per_net = network_bytes("training", depth=depth, width=width,
                                batch=n_train + (0 if test is None else int(test.x.shape[0])),
                                in_dim=in_dim, out_dim=out_dim,
                                itemsize=dtype.itemsize)  # fmt: skip
        if budget // per_net < 1:
            raise MemoryError(
                f"train_runs: one {act} network of depth {depth} and width {width} needs "
                f"about {per_net / 2**20:.3g} MiB, more than the {budget / 2**20:.3g} MiB "
                "per device budget; lower depth/width or raise max_memory."
            )
        n = len(rs)
        chunk = min((budget // per_net) * n_dev, -(-n // n_dev) * n_dev)
        hyper, keys = [], []
        for r in rs:
            scales = mlp_scales(r.init, width, out_dim, r.sigma_w2, r.sigma_b2)
            hyper.append((*scales, float(r.residual), r.branch_scale,
                          names.index(r.optimizer), r.learning_rate))  # fmt: skip
            keys.append(np.asarray(jr.key_data(jr.key(r.seed))))
        pad = -(-n // chunk) * chunk - n
        hyper = np.asarray(hyper + hyper[:1] * pad, dtype)
        keys = np.stack(keys + keys[:1] * pad)
        prog = _runs_program(act, depth, width, orth, dtype, mesh, vmap_width, data.task,
                             in_dim, out_dim, names, steps, batch_size, n_train,
                             test is not None, residual, observe_every)  # fmt: skip
        outs = [prog(_put(keys[c : c + chunk], by_networks),
                     _put(hyper[c : c + chunk], by_networks), *shared)
                for c in range(0, n + pad, chunk)]  # fmt: skip
        pending.append((members, rs, chunk, width, outs))
    records: list[dict[str, Any] | None] = [None] * len(runs)
    for members, rs, chunk, width, outs in pending:
        items = []
        for res in outs:
            res = _to_host(res)
            items += [jax.tree.map(lambda a, i=i: a[i], res) for i in range(chunk)]
        for i, r, item in zip(members, rs, items, strict=False):
            records[i] = _run_record(r, item, data, test, steps, batch_size, log_every,
                                     observe_every, width, out_dim)  # fmt: skip
        if progress is not None:
            progress(len(rs))
    return records  # type: ignore[return-value]


def _run_record(run, item, data, test, steps, batch_size, log_every, observe_every, width,
                out_dim) -> dict[str, Any]:  # fmt: skip
    bad = int(item["bad_step"])
    ends, curve = loss_curve(item["loss"], steps, log_every, bad)
    value = lambda k: float("nan") if bad else float(item[k])  # noqa: E731
    rec = dataclasses.asdict(run) | {
        "sigma_w2": resolve_sigma_w2(run.init, width, width, run.sigma_w2),
        "dataset": data.name,
        "steps": steps,
        "batch_size": batch_size,
        "final_loss": value("final_loss"),
        "train_accuracy": value("final_accuracy"),
        "test_loss": value("test_loss") if test is not None else None,
        "test_accuracy": value("test_accuracy") if test is not None else None,
        "steps_logged": ends,
        "loss_curve": curve,
        **_gradients_and_divergence(item, run.depth),
    }
    if observe_every is not None:
        rec |= {
            "observed_steps": list(range(observe_every, steps + 1, observe_every)),
            "dead_units": np.asarray(item["dead_units"], np.float64).tolist(),
            "saturated_units": np.asarray(item["saturated_units"], np.float64).tolist(),
        }
    return rec
