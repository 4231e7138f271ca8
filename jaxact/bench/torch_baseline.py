"""The same MLP training step in PyTorch eager, when torch is installed.

Also checks whether subnormal numbers slow PyTorch down: deep sigmoid nets produce gradients
that decay into the subnormal range, and PyTorch on CPU does not flush denormals by default
(XLA does). We time the sigmoid step with ``torch.set_flush_denormal(False)`` (the default)
and ``True`` and report the ratio, with the fraction of subnormal gradient entries.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import jax

from jaxact.bench import mlp as jax_mlp
from jaxact.mlp import init_mlp


def _torch_step_timer(torch, activation: str, depth: int, width: int, batch: int, repeats: int):
    torch.manual_seed(0)
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation]
    w = (torch.randn(depth, width, width) * (2.0 / width) ** 0.5).requires_grad_()
    b = torch.zeros(depth, width, requires_grad=True)
    x = torch.randn(batch, width)
    y = torch.randn(batch, width)
    lr = 1e-3

    def step():
        a = x
        for i in range(depth):
            a = act(a @ w[i] + b[i])
        loss = ((a - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w.sub_(lr * w.grad)
            b.sub_(lr * b.grad)
        grads = w.grad.clone()
        w.grad = None
        b.grad = None
        return grads

    for _ in range(2):
        step()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        grads = step()
        samples.append(time.perf_counter() - t0)
    tiny = torch.finfo(torch.float32).tiny
    subnormal = ((grads != 0) & (grads.abs() < tiny)).float().mean().item()
    return {
        "median": statistics.median(samples), "min": min(samples), "max": max(samples),
        "repeats": repeats, "subnormal_fraction_of_weight_grads": subnormal,
    }  # fmt: skip


def run(*, quick: bool = False) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        msg = "torch is not installed: PyTorch baseline skipped (pip install torch to run it)"
        print(msg)
        return {"skipped": msg}
    torch.set_num_threads(os.cpu_count() or 1)
    depth, width, batch = (30, 256, 128) if quick else (50, 256, 256)
    repeats = 3 if quick else 7
    out: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                           "depth": depth, "width": width, "batch": batch, "steps": {}}  # fmt: skip
    params = init_mlp(jax.random.key(0), depth=depth, width=width, init="he")
    x, y = jax_mlp.random_batch(width, batch)
    for act in ("sigmoid", "relu"):
        torch.set_flush_denormal(False)
        t_torch = _torch_step_timer(torch, act, depth, width, batch, repeats)
        t_jax = jax_mlp.measure(jax_mlp.train_step_fn(act), params, x, y, repeats=repeats)
        row = {"torch_eager": t_torch, "jaxact": t_jax.as_dict(),
               "jaxact_speedup": t_torch["median"] / t_jax.median}  # fmt: skip
        out["steps"][act] = row
    # Subnormals: a 100-layer sigmoid net's gradient falls by ~0.3 per layer, through the
    # float32 subnormal range (1e-38 .. 1e-45) somewhere in the first layers.
    deep = 100
    slow = _torch_step_timer(torch, "sigmoid", deep, width, batch, repeats)
    torch.set_flush_denormal(True)
    flushed = _torch_step_timer(torch, "sigmoid", deep, width, batch, repeats)
    torch.set_flush_denormal(False)
    out["denormals"] = {
        "activation": "sigmoid", "depth": deep, "width": width, "batch": batch,
        "torch_eager": slow, "torch_eager_flush_denormal": flushed,
        "denormal_slowdown": slow["median"] / flushed["median"],
    }  # fmt: skip
    return out
