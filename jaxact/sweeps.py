"""Sweeps over activations, depths, widths, initialisations and seeds (attenuation).

Seeds are vmapped - one compiled program per grid cell, not one per seed - and the seed axis is
sharded over every device JAX sees with :mod:`jax.sharding` (``Mesh``, ``NamedSharding``); with
one device this is a plain vmap. Each grid cell's records are appended to a JSON-lines file as
soon as the cell finishes (one ``write`` per cell on a file opened for appending), and
``resume=True`` skips the cells already there.

Status: the attenuation sweep. Training sweeps, the summary table and plot, the CLI and the
benchmark are still to come (issue 7).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxact.activations import get_activation
from jaxact.attenuation import fit_rate, layer_gradient_norms
from jaxact.initializers import get_initializer, resolve_sigma_w2
from jaxact.mlp import init_mlp

__all__ = ["summarize", "sweep"]

_CELL_KEYS = ("activation", "depth", "width", "init", "sigma_w2", "sigma_b2")


def _positive_ints(name: str, values) -> list[int]:
    values = list(values) if not isinstance(values, int) else [values]
    if not values:
        raise ValueError(f"sweep: {name} is empty; give at least one value.")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        raise ValueError(f"sweep: {name} must be integers >= 1, got {bad}.")
    return values


def _validate(activations, depths, widths, seeds, inits, sigma_w2, sigma_b2, kind):
    if kind != "attenuation":
        raise ValueError(f"sweep: kind {kind!r} is not available yet; use 'attenuation'.")
    activations = [activations] if isinstance(activations, str) else list(activations)
    if not activations:
        raise ValueError("sweep: activations is empty; give at least one name.")
    names = [get_activation(a).name for a in activations]  # ValueError names a bad one
    inits = [inits] if isinstance(inits, str) else list(inits)
    if not inits:
        raise ValueError("sweep: inits is empty; give at least one name.")
    inits = [get_initializer(i).name for i in inits]
    depths = _positive_ints("depths", depths)
    widths = _positive_ints("widths", widths)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("sweep: seeds is empty.")
    for init in inits:
        resolve_sigma_w2(init, widths[0], widths[0], sigma_w2)
    if sigma_b2 < 0:
        raise ValueError(f"sweep: sigma_b2 must be >= 0, got {sigma_b2}.")
    return names, depths, widths, seeds, inits


def _mesh_and_padding(n: int):
    devices = jax.devices()
    pad = (-n) % len(devices)
    return Mesh(np.array(devices), ("seed",)), pad


def _cell_program(activation, depth, width, init, sigma_w2, sigma_b2, batch):
    def one(key):
        kp, kx = jr.split(key)
        params = init_mlp(kp, depth=depth, width=width, init=init, sigma_w2=sigma_w2,
                          sigma_b2=sigma_b2)  # fmt: skip
        x = jr.normal(kx, (batch, width), params.dtype)
        return layer_gradient_norms(params, x, activation)["pre"]

    return jax.jit(jax.vmap(one))


def _cell_id(rec: dict[str, Any]) -> tuple:
    return tuple(rec[k] for k in _CELL_KEYS)


def sweep(
    *,
    activations: Sequence[str] | str,
    depths: Sequence[int] | int,
    widths: Sequence[int] | int,
    seeds: Sequence[int] | int,
    inits: Sequence[str] | str = ("he",),
    sigma_w2: float | None = None,
    sigma_b2: float = 0.0,
    kind: str = "attenuation",
    batch: int = 32,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Measure gradient attenuation over a grid; one plain record per (cell, seed).

    Each record holds the grid coordinates, the seed, ``rate`` (per-layer factor), ``total``,
    ``fit_rms`` and ``grad_norms`` (a list): plain scalars and lists, so ``json`` and
    ``pandas.DataFrame(records)`` take them as they are.

    Args:
      activations, depths, widths, seeds, inits: the grid (``seeds`` an int means
        ``range(seeds)``); bad values fail before any compute.
      sigma_w2, sigma_b2: for ``init="gaussian"`` (and ``orthogonal``); biases.
      kind: ``"attenuation"`` (``"training"`` is not implemented yet).
      batch: inputs per network.
      out: JSON-lines file; each cell's records are appended when it finishes.
      resume: skip cells already complete in ``out``.
      progress: show a progress bar over grid cells.
    """
    from tqdm.auto import tqdm

    names, depths, widths, seeds, inits = _validate(
        activations, depths, widths, seeds, inits, sigma_w2, sigma_b2, kind
    )
    done: dict[tuple, list[dict]] = {}
    path = Path(out) if out is not None else None
    if path is not None and resume and path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                done.setdefault(_cell_id(rec), []).append(rec)
    mesh, pad = _mesh_and_padding(len(seeds))
    seed_keys = jnp.stack([jr.key_data(jr.key(s)) for s in seeds + seeds[:1] * pad])
    sharded = jax.device_put(seed_keys, NamedSharding(mesh, PartitionSpec("seed")))
    records: list[dict[str, Any]] = []
    grid = list(itertools.product(names, depths, widths, inits))
    for act, depth, width, init in tqdm(grid, desc="grid cells", disable=not progress):
        cell = {"activation": act, "depth": depth, "width": width, "init": init,
                "sigma_w2": sigma_w2, "sigma_b2": sigma_b2}  # fmt: skip
        previous = done.get(_cell_id(cell), [])
        if {r["seed"] for r in previous} >= set(seeds):
            records += [r for r in previous if r["seed"] in seeds]
            continue
        program = _cell_program(act, depth, width, init, sigma_w2, sigma_b2, batch)
        norms = np.asarray(program(jr.wrap_key_data(sharded)), np.float64)[: len(seeds)]
        cell_records = []
        for seed, g in zip(seeds, norms, strict=True):
            rate, rms = fit_rate(g)
            total = float(g[0] / g[-1]) if g[-1] > 0 else float("nan")
            cell_records.append({**cell, "seed": int(seed), "rate": rate, "total": total,
                                 "fit_rms": rms, "grad_norms": g.tolist()})  # fmt: skip
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = "".join(json.dumps(r) + "\n" for r in cell_records).encode()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text)
            finally:
                os.close(fd)
        records += cell_records
    return records


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds, one row per grid cell (in the order cells first appear).

    Each row: the cell's coordinates, ``seeds`` (how many), ``rate_mean``, ``rate_std``,
    ``rate_min``, ``rate_max`` and ``log10_total_mean`` (mean over seeds of log10 of the total
    attenuation; ``-inf`` where a gradient underflowed to 0).
    """
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        cells.setdefault(_cell_id(r), []).append(r)
    rows = []
    for rs in cells.values():
        rates = np.array([r["rate"] for r in rs], np.float64)
        with np.errstate(divide="ignore"):
            totals = np.log10(np.array([r["total"] for r in rs], np.float64))
        rows.append({**{k: rs[0][k] for k in _CELL_KEYS}, "seeds": len(rs),
                     "rate_mean": float(rates.mean()), "rate_std": float(rates.std()),
                     "rate_min": float(rates.min()), "rate_max": float(rates.max()),
                     "log10_total_mean": float(totals.mean())})  # fmt: skip
    return rows
