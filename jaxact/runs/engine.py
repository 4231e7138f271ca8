"""The batched engine every sweep and training study runs on: one compiled program per shape,
its networks vmapped, sharded over every device and run in chunks that fit the memory budget.

The pieces, in the order a run uses them:

* a :class:`Cell` says what one network computes (:mod:`jaxact.runs.cells` builds them);
* :func:`network_bytes` estimates one network's memory, :func:`chunk_size` turns that and the
  per-device budget (:func:`device_budget`) into how many networks run per call;
* :func:`program` compiles a cell into one ``jax.shard_map`` over :func:`device_mesh`;
* :func:`dispatch` starts every chunk (asynchronously: JAX runs them one after another while
  the host goes on) and :func:`collect` brings one chunk's results back, one per network.

:func:`jaxact.sweeps.sweep` and :func:`jaxact.sweeps.train_runs` are its two users.

>>> import jax, jax.numpy as jnp, numpy as np
>>> from jaxact.mlp import mlp_scales
>>> from jaxact.runs import engine
>>> from jaxact.runs.cells import attenuation_cell
>>> prog = engine.program(attenuation_cell("relu", 4, 8, False, 4, jnp.float32),
...                       engine.device_mesh(), None)
>>> keys = np.stack([jax.random.key_data(jax.random.key(s)) for s in range(3)])
>>> hyper = np.tile(np.asarray(mlp_scales("he", 8, None, None, 0.0), np.float32), (3, 1))
>>> chunk = engine.chunk_size(3, bytes_per_network=2**20, budget=2**30, who="example")
>>> pending = engine.dispatch(prog, keys, hyper, (), chunk)
>>> sum(len(engine.collect(p)) for p in pending)  # one result per network
3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxact.checks import free_memory

__all__ = [
    "Cell",
    "agree_with_process_zero",
    "chunk_size",
    "collect",
    "device_budget",
    "device_mesh",
    "dispatch",
    "network_bytes",
    "program",
    "put",
    "replicate",
    "to_host",
]


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

    >>> from jaxact.runs.engine import network_bytes
    >>> network_bytes("attenuation", depth=100, width=64, batch=16) // 2**20  # MiB
    11
    """
    weights = depth * width * width + (in_dim + out_dim + depth + 2) * width
    acts = depth * batch * width + batch * (in_dim + out_dim)
    n_weight = 6 if kind == "attenuation" else 10
    return itemsize * (n_weight * weights + 6 * acts + 64 * batch + 1024)


def device_budget() -> int:
    """Half the free memory of a device, in bytes (CPU devices share the host's memory):
    :func:`jaxact.checks.free_memory` halved and split over the local devices.

    Returns:
      Bytes per device (an int): the default ``max_memory`` of a sweep.

    >>> from jaxact.runs.engine import device_budget
    >>> device_budget() > 0
    True
    """
    return int(0.5 * free_memory() / jax.local_device_count())


def chunk_size(networks: int, *, bytes_per_network: int, budget: int, who: str,
               what: str = "network") -> int:  # fmt: skip
    """How many networks one call runs: as many as the per-device ``budget`` holds on every
    device, and no more than ``networks`` (rounded up to a multiple of the device count).

    Args:
      networks: how many networks the program runs in all.
      bytes_per_network: :func:`network_bytes`.
      budget: bytes per device.
      who: the caller, named in the error.
      what: the network, described in the error (its activation and shape).

    Returns:
      The chunk size, a multiple of ``jax.device_count()``.

    Raises:
      MemoryError: one network alone needs more than ``budget``.

    >>> import jax
    >>> from jaxact.runs.engine import chunk_size
    >>> chunk_size(10, bytes_per_network=100, budget=300, who="doc") == 3 * jax.device_count()
    True
    """
    per_device = budget // bytes_per_network
    if per_device < 1:
        raise MemoryError(
            f"{who}: one {what} needs about {bytes_per_network / 2**20:.3g} MiB, more than the "
            f"{budget / 2**20:.3g} MiB per device budget; lower batch/width/depth or raise "
            "max_memory."
        )
    n_dev = jax.device_count()
    return min(per_device * n_dev, -(-networks // n_dev) * n_dev)


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


def program(cell: Cell, mesh: Mesh, vmap_width: int | None):
    """One compiled program for a group: ``f(keys, hyper, *shared)``, one key and one row of
    hyperparameters per network (``hyper[:3]``: the scales). Its networks are sharded over the
    mesh, and on each device drawn one after another (vmapped threefry is 2-3x slower than
    sequential on CPU) then measured ``vmap_width`` at a time (``None``: all at once).

    Args:
      cell: what each network computes (:func:`~jaxact.runs.cells.attenuation_cell`,
        :func:`~jaxact.runs.cells.training_cell`).
      mesh: a one-axis mesh (:func:`device_mesh`).
      vmap_width: networks vectorised at once on a device (``None``: all).

    Returns:
      The jitted ``f(keys, hyper, *shared)``: ``keys`` ``(networks, key_size)`` uint32 key
      data, ``hyper`` ``(networks, k)``, the number of networks a multiple of the device count;
      it returns the cell's measurement with a leading ``networks`` axis.

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.runs.cells import attenuation_cell
    >>> from jaxact.runs.engine import device_mesh, program
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
    >>> from jaxact.runs.engine import device_mesh
    >>> device_mesh().shape["networks"] == jax.device_count()
    True
    """
    return Mesh(np.array(jax.devices()), ("networks",))


def put(array: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds in full (one host or many).

    Args:
      array: the whole array, on the host.
      sharding: where its pieces go.

    Returns:
      A ``jax.Array`` laid out by ``sharding`` (each process places only its own pieces).

    >>> import numpy as np
    >>> from jax.sharding import NamedSharding, PartitionSpec
    >>> from jaxact.runs.engine import device_mesh, put
    >>> put(np.ones(3), NamedSharding(device_mesh(), PartitionSpec())).shape
    (3,)
    """
    return jax.make_array_from_callback(array.shape, sharding, lambda idx: array[idx])


def replicate(*arrays: np.ndarray, mesh: Mesh | None = None) -> tuple[jax.Array, ...]:
    """Arrays every network sees (a program's ``shared`` inputs), whole on every device.

    Args:
      *arrays: host arrays (dtypes kept as they are).
      mesh: the program's mesh (default :func:`device_mesh`).

    Returns:
      A tuple of ``jax.Array``, fully replicated over ``mesh``.

    >>> import numpy as np
    >>> from jaxact.runs.engine import replicate
    >>> [a.shape for a in replicate(np.ones((2, 3)), np.zeros(2))]
    [(2, 3), (2,)]
    """
    sharding = NamedSharding(mesh or device_mesh(), PartitionSpec())
    return tuple(put(np.asarray(a), sharding) for a in arrays)


def to_host(tree):
    """A program's output on the host, gathered from every process when there are several.

    Args:
      tree: a pytree of global ``jax.Array`` (a program's output).

    Returns:
      The same pytree of NumPy arrays, whole.

    >>> import jax.numpy as jnp
    >>> from jaxact.runs.engine import to_host
    >>> type(to_host({"a": jnp.ones(2)})["a"]).__name__
    'ndarray'
    """
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def agree_with_process_zero(mask: np.ndarray) -> np.ndarray:
    """Process 0's ``mask`` on every process (one host: ``mask`` itself). A resumed sweep
    skips the cells process 0 found complete: its file is the reference.

    Args:
      mask: a bool array, the same shape on every process.

    Returns:
      Process 0's ``mask`` (a NumPy array).

    >>> import numpy as np
    >>> from jaxact.runs.engine import agree_with_process_zero
    >>> agree_with_process_zero(np.array([True, False])).tolist()  # one process
    [True, False]
    """
    if jax.process_count() == 1:
        return mask
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(mask))


# ----------------------------------------------------------------------------- running


def _padded(rows: np.ndarray, chunk: int) -> np.ndarray:
    """``rows`` with its first row repeated up to a multiple of ``chunk`` (the extra networks
    are computed and dropped: every call has the compiled shape)."""
    pad = -(-len(rows) // chunk) * chunk - len(rows)
    return np.concatenate([rows, np.repeat(rows[:1], pad, axis=0)])


def dispatch(prog: Callable, keys: np.ndarray, hyper: np.ndarray, shared: Sequence[jax.Array],
             chunk: int, mesh: Mesh | None = None) -> list[tuple[Any, int]]:  # fmt: skip
    """Start ``prog`` on every chunk of networks; nothing waits for the results.

    Args:
      prog: a :func:`program`.
      keys: ``(networks, key_size)`` key data, one row per network.
      hyper: ``(networks, k)`` hyperparameters, one row per network.
      shared: the program's shared inputs (:func:`replicate`).
      chunk: networks per call (:func:`chunk_size`).
      mesh: the program's mesh (default :func:`device_mesh`).

    Returns:
      One ``(output, networks)`` pair per chunk: the program's output (device arrays, still
      being computed) and how many of its networks are real (the last chunk is padded).

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> from jaxact.runs.engine import collect, device_mesh, dispatch
    >>> double = jax.jit(lambda keys, hyper: 2 * hyper)  # any f(keys, hyper, *shared)
    >>> keys, hyper = np.zeros((3, 2), np.uint32), np.arange(3.0)[:, None]
    >>> pending = dispatch(double, keys, hyper, (), chunk=2)
    >>> [n for _, n in pending], [float(r[0]) for p in pending for r in collect(p)]
    ([2, 1], [0.0, 2.0, 4.0])
    """
    n = len(keys)
    by_networks = NamedSharding(mesh or device_mesh(), PartitionSpec("networks"))
    keys, hyper = _padded(np.asarray(keys), chunk), _padded(np.asarray(hyper), chunk)
    return [(prog(put(keys[c : c + chunk], by_networks), put(hyper[c : c + chunk], by_networks),
                  *shared), min(chunk, n - c))
            for c in range(0, n, chunk)]  # fmt: skip


def collect(pending: tuple[Any, int]) -> list[Any]:
    """One chunk's results on the host, one pytree per real network (padding dropped); waits
    for that chunk only.

    Args:
      pending: one pair from :func:`dispatch`.

    Returns:
      A list of per-network pytrees of NumPy arrays.

    >>> import numpy as np
    >>> from jaxact.runs.engine import collect
    >>> collect((np.arange(4.0), 3))  # the last entry was padding
    [np.float64(0.0), np.float64(1.0), np.float64(2.0)]
    """
    out, real = pending
    res = to_host(out)
    return [jax.tree.map(lambda a, i=i: a[i], res) for i in range(real)]
