"""Sweeps: the seeds of a grid cell in one program against a plain loop over seeds.

For every (activation, depth) cell of the grid, the measured function is the one
:func:`jaxact.sweep` compiles for an attenuation cell - draw a network and a batch from the
seed, one forward and backward pass, per-layer gradient norms - run on all seeds three ways:

* ``vmapped``: the sweep's program as it runs by default (all seeds in one ``vmap``);
* ``mapped``: the same program with ``vmap_width=1`` (``jax.lax.map``, one seed after another
  inside the one program);
* ``loop``: ``jax.jit(one)`` called once per seed from Python.

All are compiled before timing (compile times reported apart) and their results checked equal.
The speed-ups are loop time / program time, per cell and for the whole grid.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.bench.timing import compile_timed, measure_python
from jaxact.mlp import mlp_scales
from jaxact.runs.cells import attenuation_cell
from jaxact.runs.engine import device_mesh, program
from jaxact.sweeps import sweep


def run(*, quick: bool = False) -> dict[str, Any]:
    acts = ["sigmoid"] if quick else ["sigmoid", "tanh", "relu", "gelu"]
    depths = [8] if quick else [10, 30, 100]
    width, seeds, batch = (32, 4, 8) if quick else (256, 8, 32)
    repeats = 3 if quick else 5
    keys = jnp.stack([jr.key_data(jr.key(s)) for s in range(seeds)])
    scales = jnp.tile(jnp.asarray(mlp_scales("he", width, None, None, 0.0), jnp.float32),
                      (seeds, 1))  # fmt: skip
    tiny = np.finfo(np.float32).tiny
    mesh = device_mesh()
    cells = []
    for act in acts:
        for depth in depths:
            cell = attenuation_cell(act, depth, width, False, batch, jnp.float32)
            row: dict[str, Any] = {"activation": act, "depth": depth}
            outs = {}
            for mode, vmap_width in (("vmapped", None), ("mapped", 1)):
                compiled, compile_s = compile_timed(program(cell, mesh, vmap_width), (keys, scales))
                timing = measure_python(lambda p=compiled: p(keys, scales), repeats=repeats)
                row[mode] = timing.as_dict() | {"compile_s": compile_s}
                outs[mode] = np.asarray(compiled(keys, scales))
            single, single_compile = compile_timed(cell.one, (keys[0], scales[0]))

            def loop(single=single):
                return [single(keys[i], scales[i]) for i in range(seeds)]

            looped = measure_python(loop, repeats=repeats)
            row["loop"] = looped.as_dict() | {"compile_s": single_compile}
            b = np.stack([np.asarray(x) for x in loop()])
            row["speedup"] = looped.median / row["vmapped"]["median"]
            row["speedup_mapped"] = looped.median / row["mapped"]["median"]
            # Relative to the looped value; gradients that underflowed to 0 in both count 0.
            row["max_rel_diff"] = max(
                float(np.max(np.abs(a - b) / np.maximum(np.abs(b), tiny))) for a in outs.values()
            )
            cells.append(row)
    total_v = sum(c["vmapped"]["median"] for c in cells)
    total_m = sum(c["mapped"]["median"] for c in cells)
    total_l = sum(c["loop"]["median"] for c in cells)
    # What a user sees: the whole grid through jaxact.sweep, compile included (full run only).
    end_to_end = None
    if not quick:
        t0 = time.perf_counter()
        sweep(activations=acts, depths=depths, widths=width, seeds=seeds, batch=batch)
        end_to_end = time.perf_counter() - t0
    return {
        "activations": acts, "depths": depths, "width": width, "seeds": seeds, "batch": batch,
        "devices": jax.device_count(),
        "cells": cells,
        "grid_vmapped_s": total_v, "grid_mapped_s": total_m, "grid_loop_s": total_l,
        "grid_speedup": total_l / total_v, "grid_speedup_mapped": total_l / total_m,
        "sweep_end_to_end_s": end_to_end,
    }  # fmt: skip
