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
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxact.activations import get_activation
from jaxact.checks import check_finite_number, check_positive_int
from jaxact.datasets import check_dataset
from jaxact.files import (
    atomic_write,
    hold_output,
)
from jaxact.initializers import get_initializer, resolve_sigma_w2
from jaxact.mlp import mlp_scales
from jaxact.progress import Interrupted
from jaxact.runs import engine
from jaxact.runs.cells import HYPERPARAMETERS, attenuation_cell, training_cell
from jaxact.runs.engine import Cell, device_budget, device_mesh, network_bytes, program
from jaxact.runs.records import (
    COORDS,
    RECORD_RENAMED,
    RECORD_SCHEMA,
    TRAINING_RECORD,
    append_records,
    attenuation_fields,
    check_sweep_output,
    loss_curve,
    read_records,
    scan_records,
    training_fields,
    warn_other_layout,
)
from jaxact.runs.summaries import METRICS, seed_statistics, summarize
from jaxact.theory import attenuation_rate as theory_rate
from jaxact.training import (
    DEFAULT_LEARNING_RATE,
    DEFAULT_OPTIMIZER_NAME,
    OPTIMIZERS,
    Dataset,
    named_optimizer,
    two_spirals,
)
from jaxact.vocabulary import Record

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


# ----------------------------------------------------------------------------- programs


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
    groups = []
    variants = {w: _variants(inits, sigma_w2s, sigma_b2s, w, out_dim or None) for w in widths}
    for act, depth, width in itertools.product(names, depths, widths):
        per_net = network_bytes(kind, depth=depth, width=width, batch=net_batch,
                                in_dim=in_dim, out_dim=out_dim,
                                itemsize=dtype.itemsize)  # fmt: skip
        what = f"{act} network of depth {depth} and width {width}"
        engine.chunk_size(1, bytes_per_network=per_net, budget=budget, who="sweep", what=what)
        for orthogonal in (False, True):
            vs = [v for v in variants[width] if get_initializer(v[0]).orthogonal == orthogonal]
            if not vs:
                continue
            cells = [{"activation": act, "depth": depth, "width": width, "init": init,
                      "sigma_w2": eff, "sigma_b2": s_b2, "kind": kind, **config}
                     for init, eff, s_b2, _ in vs]  # fmt: skip
            n = len(vs) * len(seeds)
            chunk = engine.chunk_size(n, bytes_per_network=per_net, budget=budget, who="sweep",
                                      what=what)  # fmt: skip
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
    complete = engine.agree_with_process_zero(complete)
    mesh = device_mesh()
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
                records += _run_group(g, todo, seeds, settings, mesh, path, bar, say, in_file)
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


def _run_group(g, todo, seeds, settings, mesh, path, bar, say, in_file=lambda rec: False):
    """Run one group's incomplete cells (``todo``: ``(cell, scales)`` pairs) on every seed,
    appending each cell's records to ``path`` as soon as its last seed is done."""
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
    # Rows of HYPERPARAMETERS: the scales, then plain networks (the optimizer is shared).
    rows = [(*s, 0.0, 1.0, 0.0, 0.0) for _, s in todo]
    common = (kind, g["activation"], g["depth"], g["width"], g["orthogonal"], dtype,
              settings["vmap_width"], mesh)  # fmt: skip
    if kind == "attenuation":
        prog = _group_program(*common, batch=todo[0][0]["batch"])
        shared: tuple = ()
    else:
        ds = settings["data"]
        prog = _group_program(*common, task=ds.task, in_dim=int(ds.x.shape[-1]),
                              out_dim=ds.out_dim, optimizer=settings["optimizer"],
                              steps=settings["steps"])  # fmt: skip
        y = np.asarray(ds.y, dtype if ds.task == "regression" else np.int32)
        shared = engine.replicate(np.asarray(ds.x, dtype), y, mesh=mesh)
    pending = engine.dispatch(prog, np.tile(keys, (len(todo), 1)),
                              np.repeat(np.asarray(rows, dtype), n_seed, axis=0), shared, chunk,
                              mesh)  # fmt: skip
    items: list[Any] = []  # one result per network, in item order
    records: list[dict[str, Any]] = []
    written = 0
    for chunk_out in pending:
        items += engine.collect(chunk_out)
        ready = len(items) // n_seed  # cells whose every seed is done
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
        return rec | attenuation_fields(item)
    fields = training_fields(item, steps=settings["steps"], log_every=settings["log_every"],
                             depth=depth)  # fmt: skip
    return Record(rec | fields, renamed=RECORD_RENAMED)


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
    ydt = dtype if data.task == "regression" else np.int32
    shared = (np.asarray(data.x, dtype), np.asarray(data.y, ydt))
    if test is not None:
        shared += (np.asarray(test.x, dtype), np.asarray(test.y, ydt))
    shared = engine.replicate(*shared, mesh=mesh)
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
        what = f"{act} network of depth {depth} and width {width}"
        chunk = engine.chunk_size(len(rs), bytes_per_network=per_net, budget=budget,
                                  who="train_runs", what=what)  # fmt: skip
        hyper = [(*mlp_scales(r.init, width, out_dim, r.sigma_w2, r.sigma_b2), float(r.residual),
                  r.branch_scale, names.index(r.optimizer), r.learning_rate)
                 for r in rs]  # fmt: skip
        keys = np.stack([np.asarray(jr.key_data(jr.key(r.seed))) for r in rs])
        prog = _runs_program(act, depth, width, orth, dtype, mesh, vmap_width, data.task,
                             in_dim, out_dim, names, steps, batch_size, n_train,
                             test is not None, residual, observe_every)  # fmt: skip
        outs = engine.dispatch(prog, keys, np.asarray(hyper, dtype), shared, chunk, mesh)
        pending.append((members, rs, width, outs))
    records: list[dict[str, Any] | None] = [None] * len(runs)
    for members, rs, width, outs in pending:
        items = [item for out in outs for item in engine.collect(out)]
        for i, r, item in zip(members, rs, items, strict=True):
            records[i] = _run_record(r, item, data, test, steps, batch_size, log_every,
                                     observe_every, width, out_dim)  # fmt: skip
        if progress is not None:
            progress(len(rs))
    return records  # type: ignore[return-value]


_FINAL_FIGURES = ("final_loss", "train_accuracy", "test_loss", "test_accuracy")


def _run_record(run, item, data, test, steps, batch_size, log_every, observe_every, width,
                out_dim) -> dict[str, Any]:  # fmt: skip
    fields = training_fields(item, steps=steps, log_every=log_every, depth=run.depth,
                             test=test is not None)  # fmt: skip
    rec = dataclasses.asdict(run) | {
        "sigma_w2": resolve_sigma_w2(run.init, width, width, run.sigma_w2),
        "dataset": data.name,
        "steps": steps,
        "batch_size": batch_size,
        # the final figures first (a run without a test set records None for its test_*)
        **{k: fields.pop(k, None) for k in _FINAL_FIGURES},
        **fields,
    }
    if observe_every is not None:
        rec |= {
            "observed_steps": list(range(observe_every, steps + 1, observe_every)),
            "dead_units": np.asarray(item["dead_units"], np.float64).tolist(),
            "saturated_units": np.asarray(item["saturated_units"], np.float64).tolist(),
        }
    return rec
