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
from jaxact.bench.timing import compile_timed
from jaxact.mlp import init_mlp


def _torch_step(torch, activation: str, depth: int, width: int, batch: int, *,
                stacked: bool = False):  # fmt: skip
    """One PyTorch eager SGD step of the benchmark's MLP (MSE loss, He init, zero biases).

    The baseline is idiomatic PyTorch: one ``nn.Linear`` per layer (what ``nn.Sequential``
    holds), each with its own parameters. ``stacked=True`` is this benchmark's first baseline,
    kept for the record: one ``(depth, W, W)`` tensor indexed per layer (``w[i]``), whose
    backward scatters every layer's gradient into a full-size buffer (``depth^2 W^2`` extra
    memory traffic) - the handicap behind the earlier "2x faster than PyTorch" claim.

    Returns ``step()``, which runs one step and returns the stacked weight gradients.
    """
    torch.manual_seed(0)
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation]
    std = (2.0 / width) ** 0.5
    x = torch.randn(batch, width)
    y = torch.randn(batch, width)
    lr = 1e-3
    if stacked:
        w = (torch.randn(depth, width, width) * std).requires_grad_()
        b = torch.zeros(depth, width, requires_grad=True)

        def forward(a):
            for i in range(depth):
                a = act(a @ w[i] + b[i])
            return a

        params, weights = [w, b], lambda: w.grad.clone()
    else:
        layers = [torch.nn.Linear(width, width) for _ in range(depth)]
        with torch.no_grad():
            for layer in layers:
                layer.weight.normal_(0.0, std)
                layer.bias.zero_()

        def forward(a):
            for layer in layers:
                a = act(layer(a))
            return a

        params = [p for layer in layers for p in layer.parameters()]
        weights = lambda: torch.stack([layer.weight.grad for layer in layers])  # noqa: E731

    def step():
        loss = ((forward(x) - y) ** 2).mean()
        loss.backward()
        grads = weights()
        with torch.no_grad():
            for p in params:
                p.sub_(lr * p.grad)
                p.grad = None
        return grads

    return step


def _subnormal_fraction(torch, grads) -> float:
    tiny = torch.finfo(torch.float32).tiny
    return ((grads != 0) & (grads.abs() < tiny)).float().mean().item()


def _stats(samples: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "repeats": len(samples)}  # fmt: skip


def _timed(fn) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _torch_step_timer(torch, activation: str, depth: int, width: int, batch: int, repeats: int,
                      *, stacked: bool = False) -> dict[str, Any]:  # fmt: skip
    """Median, min and max seconds of ``repeats`` steps (after two warm-up steps)."""
    step = _torch_step(torch, activation, depth, width, batch, stacked=stacked)
    for _ in range(2):
        step()
    samples, grads = [], None
    for _ in range(repeats):
        dt, grads = _timed(step)
        samples.append(dt)
    return _stats(samples) | {"subnormal_fraction_of_weight_grads": _subnormal_fraction(
        torch, grads)}  # fmt: skip


def compare_steps(torch, activation: str, depth: int, width: int, batch: int,
                  repeats: int) -> dict[str, Any]:  # fmt: skip
    """jaxact's compiled step against both PyTorch steps, timed in alternating rounds.

    Each round times one step of each (jaxact's ending in ``block_until_ready``); the ratios
    are medians of per-round ratios, so a slow spell of the machine hits all three alike.
    jaxact's compile time is reported apart.
    """
    params = init_mlp(jax.random.key(0), depth=depth, width=width, init="he")
    x, y = jax_mlp.random_batch(width, batch)
    compiled, compile_s = compile_timed(jax_mlp.train_step_fn(activation), (params, x, y))
    state = {"p": params}

    def jax_step():
        state["p"], loss = compiled(state["p"], x, y)
        return jax.block_until_ready(loss)

    steps = {"jaxact": jax_step,
             "torch_eager": _torch_step(torch, activation, depth, width, batch),
             "torch_eager_stacked": _torch_step(torch, activation, depth, width, batch,
                                                stacked=True)}  # fmt: skip
    for fn in steps.values():  # warm up
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for k, fn in steps.items():
            times[k].append(_timed(fn)[0])
    ratio = {k: [t / j for t, j in zip(times[k], times["jaxact"], strict=True)]
             for k in ("torch_eager", "torch_eager_stacked")}  # fmt: skip
    return {
        "jaxact": _stats(times["jaxact"]) | {"compile_s": compile_s},
        "torch_eager": _stats(times["torch_eager"]),
        "torch_eager_stacked": _stats(times["torch_eager_stacked"]),
        # time(torch) / time(jaxact): above 1, jaxact is faster.
        "jaxact_speedup": statistics.median(ratio["torch_eager"]),
        "jaxact_speedup_min": min(ratio["torch_eager"]),
        "jaxact_speedup_max": max(ratio["torch_eager"]),
        "jaxact_speedup_vs_stacked": statistics.median(ratio["torch_eager_stacked"]),
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        msg = "torch is not installed: PyTorch baseline skipped (pip install torch to run it)"
        print(msg)
        return {"skipped": msg}
    torch.set_num_threads(os.cpu_count() or 1)
    depth, batch = (10, 64) if quick else (50, 128)
    widths = (64,) if quick else (32, 256)
    width = widths[-1]
    repeats = 3 if quick else 15
    out: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                           "depth": depth, "widths": list(widths), "batch": batch,
                           "baseline": "one nn.Linear per layer (idiomatic eager PyTorch)",
                           "steps": {}}  # fmt: skip
    for w in widths:
        for act in ("sigmoid", "relu"):
            torch.set_flush_denormal(False)
            out["steps"][f"{act} width {w}"] = {
                "activation": act, "width": w,
                **compare_steps(torch, act, depth, w, batch, repeats)}  # fmt: skip
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
