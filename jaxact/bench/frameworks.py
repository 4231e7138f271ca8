"""The same MLP training step in jaxact, equinox, flax and PyTorch, against the matmul limit.

Every framework builds the same network - ``depth`` layers ``a = relu(a @ W + b)`` of
``width`` units, He-initialised weights, zero biases - and runs the same step: MSE loss
against a fixed target, its gradient, one SGD update (``lr = 1e-3``), on the same
``(batch, width)`` float32 inputs. Each as its users write it:

- ``jaxact``: :func:`jaxact.mlp_forward` (one ``lax.scan`` over stacked weights), the step
  jitted with the parameters donated; ``jaxact_fused``: the same with
  ``backward="fused"`` (a hand-written reverse pass that stores only the pre-activations);
  ``jaxact_sgd``: :func:`jaxact.make_sgd_step`, that reverse pass with the SGD update fused
  in, writing the new parameters in place (its state donated);
- ``equinox``: ``eqx.nn.MLP(..., scan=True)`` vmapped over the batch, ``eqx.filter_jit``;
- ``flax``: a linen ``nn.Dense`` block repeated with ``nn.scan``, jitted;
- ``torch_eager``: ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``, ``torch.optim.SGD``;
- ``torch_compile``: the same module through ``torch.compile`` (when a C++ compiler is
  present: inductor needs one on CPU).

The JAX steps use the activation of jaxact's registry, so that they differ only in how the
framework builds the network; PyTorch uses its own.

**The limit.** A step does ``6 * batch * width**2 * depth`` flops of matmuls (one forward, two
backward per layer). The *matmul chain* does exactly those matmuls and nothing else - no bias,
no activation, no loss, no update - as a jitted ``lax.scan`` (XLA) and, when torch is present,
as a loop of ``torch.mm`` (its BLAS). The faster of the two is the limit: no step built from
these matmuls can beat it, and each framework's ``fraction_of_limit`` says how close it gets.

**Timing.** Every step is warmed up (compile time reported apart), then timed in *blocks*:
each round runs, for each framework in turn, one untimed step and then ``k`` timed steps back
to back (``k`` chosen so that a block lasts about ``block_s``), and records their mean. Ratios
are medians of per-round ratios, so a slow spell of the machine moves both sides of a ratio.
The untimed step matters: on a 2-core CPU a step that directly follows a PyTorch step ran
slower than one that follows its own kind (PyTorch's OpenMP workers are still spinning),
which an alternating single-step protocol charges to whoever comes second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxact.activations import ACTIVATIONS
from jaxact.bench.mlp import loss_fn, mse, random_batch, train_step_fn
from jaxact.bench.timing import compile_timed, per_round_ratio
from jaxact.files import save_figure_atomically
from jaxact.mlp import MLPParams, init_mlp, init_sgd, make_sgd_step

__all__ = [
    "FRAMEWORKS",
    "DECOMPOSITION",
    "LIMITS",
    "compare_frameworks",
    "markdown_rows",
    "plot",
    "faulted_mb_per_step",
    "matmul_flops",
    "run",
]

#: The steps compared, in the order each round times them.
FRAMEWORKS = (
    "jaxact", "jaxact_fused", "jaxact_sgd", "equinox", "flax", "torch_eager", "torch_compile",
)  # fmt: skip
#: The same-flop matmul chains; the faster is the limit.
LIMITS = ("xla_chain", "torch_chain")
#: Where jaxact's time goes: its step without the SGD update (timed whenever jaxact is).
DECOMPOSITION = ("jaxact_no_update",)

LR = 1e-3


def matmul_flops(depth: int, width: int, batch: int) -> int:
    """Matmul flops of one training step: ``6 * batch * width**2 * depth``.

    Per layer, one ``(batch, width) @ (width, width)`` forward and two backward (the input
    gradient and the weight gradient), each ``2 * batch * width**2`` flops.

    Args:
      depth: number of ``width x width`` layers.
      width: units per layer.
      batch: examples per step.

    Returns:
      The flop count (an ``int``).

    >>> from jaxact.bench.frameworks import matmul_flops
    >>> matmul_flops(depth=50, width=256, batch=128)
    2516582400
    """
    return 6 * batch * width**2 * depth


# --------------------------------------------------------------------------------------------
# JAX steps. Each builder returns (step, compile_s): step() runs one step and blocks.


def _sgd(params, grads):
    return jax.tree.map(lambda p, g: p - LR * g, params, grads)


def _jax_runner(fn, forms, x, y, which=lambda state: 0) -> tuple[Callable[[], Any], float]:
    """Compile ``fn(state, x, y) -> (state, loss)`` for each state in ``forms`` - the forms the
    running state takes: one for most steps, two for :func:`jaxact.make_sgd_step`'s state,
    whose static slot index flips every step - and return a blocking step() that updates a
    copy of ``forms[0]`` in place (donated, as a training loop does; the caller's arrays stay
    valid) with the program ``which(state)`` picks, and the compile seconds, summed."""
    jitted = jax.jit(fn, donate_argnums=0)
    compiled, compile_s = [], 0.0
    for form in forms:
        program, seconds = compile_timed(jitted, (form, x, y))
        compiled.append(program)
        compile_s += seconds
    box = {"state": jax.tree.map(jnp.copy, forms[0])}

    def step():
        box["state"], loss = compiled[which(box["state"])](box["state"], x, y)
        return jax.block_until_ready(loss)

    return step, compile_s


def _jaxact_step(activation, params: MLPParams, x, y, backward="autodiff"):
    return _jax_runner(train_step_fn(activation, LR, backward=backward), [params], x, y)


def _jaxact_sgd_step(activation, params: MLPParams, x, y):
    """:func:`jaxact.make_sgd_step` jitted with its state donated; both of its programs (one
    per slot) are compiled and their compile times summed."""
    state = init_sgd(params)
    return _jax_runner(make_sgd_step(activation, mse, LR),
                       [state, dataclasses.replace(state, current=1)], x, y,
                       which=lambda state: state.current)  # fmt: skip


def _equinox_step(activation, params: MLPParams, x, y):
    import equinox as eqx

    phi = ACTIVATIONS[activation].fn
    depth, width = params.depth, params.width
    # depth - 1 hidden layers + the output layer = depth Linear(width, width); the final
    # activation is the hidden one, so every layer is phi(W a + b). Equinox stores (out, in).
    model = eqx.nn.MLP(width, width, width, depth - 1, activation=phi, final_activation=phi,
                       scan=True, key=jax.random.key(0))  # fmt: skip
    wt = jnp.swapaxes(params.weights, 1, 2)
    model = eqx.tree_at(
        lambda m: (m.layers[0].weight, m.layers[0].bias, m.layers[1].weight, m.layers[1].bias,
                   m.layers[2].weight, m.layers[2].bias),
        model,
        (wt[0], params.biases[0], wt[1:-1], params.biases[1:-1], wt[-1], params.biases[-1]),
    )  # fmt: skip
    state, static = eqx.partition(model, eqx.is_array)

    def step(p, x, y):
        def loss_fn(p):
            return mse(jax.vmap(eqx.combine(p, static))(x), y)

        loss, g = jax.value_and_grad(loss_fn)(p)
        return _sgd(p, g), loss

    return _jax_runner(step, [state], x, y)


def _flax_step(activation, params: MLPParams, x, y):
    import flax.linen as nn

    phi = ACTIVATIONS[activation].fn
    width = params.width

    class Block(nn.Module):
        @nn.compact
        def __call__(self, a, _):
            return phi(nn.Dense(width)(a)), None

    stack = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                    length=params.depth)()  # fmt: skip
    shapes = jax.eval_shape(lambda: stack.init(jax.random.key(0), x, None))
    if jax.tree.map(lambda s: s.shape, shapes) != {
        "params": {"Dense_0": {"bias": params.biases.shape, "kernel": params.weights.shape}}
    }:  # pragma: no cover - a flax change would show here, not as a silent mismatch
        raise RuntimeError(f"unexpected flax parameter layout {shapes}")
    state = {"params": {"Dense_0": {"bias": params.biases, "kernel": params.weights}}}

    def step(p, x, y):
        def loss_fn(p):
            return mse(stack.apply(p, x, None)[0], y)

        loss, g = jax.value_and_grad(loss_fn)(p)
        return _sgd(p, g), loss

    return _jax_runner(step, [state], x, y)


def _xla_chain(params: MLPParams, x):
    """The step's matmuls alone: ``a @ W`` forward, ``g @ W.T`` and ``a.T @ g`` backward.

    The weight gradients are written into a donated buffer, as a training loop's step writes
    its parameters: a fresh ``depth x width^2`` output per call would add the page faults of
    a new allocation, which at width 1024 are a sizeable part of the chain on a CPU.
    """
    ws, depth = params.weights, params.depth

    def chain(buf, ws, x):
        a, acts = jax.lax.scan(lambda a, w: (a @ w, a), x, ws)

        def back(carry, i):
            g, buf = carry
            j = depth - 1 - i
            buf = jax.lax.dynamic_update_index_in_dim(buf, acts[j].T @ g, j, 0)
            return (g @ ws[j].T, buf), None

        (g, buf), _ = jax.lax.scan(back, (a, buf), jnp.arange(depth))
        return buf, g

    box = {"buf": jnp.zeros_like(ws)}
    compiled, compile_s = compile_timed(jax.jit(chain, donate_argnums=0), (box["buf"], ws, x))

    def step():
        box["buf"], g = compiled(box["buf"], ws, x)
        return jax.block_until_ready(g)

    return step, compile_s


def _jaxact_no_update(activation, params: MLPParams, x, y):
    """jaxact's step without the SGD update: the loss and its gradient only, the gradient
    written into a donated buffer (a fresh one per call would add a new allocation's page
    faults, which the step, whose gradient is a temporary, does not pay in the same way)."""

    loss = loss_fn(activation)

    def grads(buf, p, x, y):
        del buf  # only its memory: the gradient's output aliases it
        value, g = jax.value_and_grad(loss)(p, x, y)
        return g, value

    box = {"g": jax.tree.map(jnp.zeros_like, params)}
    compiled, compile_s = compile_timed(jax.jit(grads, donate_argnums=0), (box["g"], params, x, y))

    def step():
        box["g"], loss = compiled(box["g"], params, x, y)
        return jax.block_until_ready((loss, box["g"]))[0]

    return step, compile_s


# --------------------------------------------------------------------------------------------
# PyTorch steps


def _torch_device(torch) -> str:
    """PyTorch's device for this run: CUDA when JAX runs on a GPU, else the CPU."""
    if jax.default_backend() == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError("JAX runs on a GPU but this torch has no CUDA")
        return "cuda"
    return "cpu"


def _torch_sync(torch, device):
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _to_torch(torch, a, device):
    return torch.from_numpy(np.array(a)).to(device)


def _torch_module(torch, activation, params: MLPParams, device):
    acts = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}
    layers = []
    for w, b in zip(params.weights, params.biases, strict=True):
        lin = torch.nn.Linear(params.width, params.width)
        with torch.no_grad():  # torch stores (out, in)
            lin.weight.copy_(_to_torch(torch, w.T, "cpu"))
            lin.bias.copy_(_to_torch(torch, b, "cpu"))
        layers += [lin, acts[activation]()]
    return torch.nn.Sequential(*layers).to(device)


def _torch_step(torch, activation, params: MLPParams, x, y, *, compiled: bool):
    device = _torch_device(torch)
    model = _torch_module(torch, activation, params, device)
    if compiled:
        # A fresh compiler state for each model: dynamo allows 8 recompilations of a code
        # object and then runs it eagerly without an error, which would time eager PyTorch
        # under torch.compile's name from the ninth shape on.
        torch._dynamo.reset()
    net = torch.compile(model, dynamic=False) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tx, ty = _to_torch(torch, x, device), _to_torch(torch, y, device)
    sync = _torch_sync(torch, device)

    def step():
        loss = ((net(tx) - ty) ** 2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        return loss.detach()

    if compiled:  # the first call compiles: check that it did, rather than fall back to eager
        from torch._dynamo.utils import counters

        eager, checked = step, []

        def step():
            if checked:
                return eager()
            graphs = counters["stats"]["unique_graphs"]
            out = eager()
            if counters["stats"]["unique_graphs"] == graphs:
                raise RuntimeError("torch.compile compiled no graph: it would time eager PyTorch")
            checked.append(True)
            return out

    # None: the first call traces and compiles (torch.compile) or allocates (eager), and its
    # time is reported as the compile time.
    return step, None


def _torch_chain(torch, params: MLPParams, x):
    device = _torch_device(torch)
    ws = [_to_torch(torch, w, device) for w in params.weights]
    tx = _to_torch(torch, x, device)
    dws = [torch.empty_like(w) for w in ws]  # written in place, like the XLA chain's buffer
    sync = _torch_sync(torch, device)

    @torch.no_grad()
    def chain():
        a, acts = tx, []
        for w in ws:
            acts.append(a)
            a = a @ w
        g = a
        for i in range(len(ws) - 1, -1, -1):
            torch.mm(acts[i].T, g, out=dws[i])
            g = g @ ws[i].T
        sync()
        return g

    return chain, None


# --------------------------------------------------------------------------------------------


def _availability(frameworks, *, quick: bool) -> tuple[Any, dict[str, str]]:
    """Which steps can run here: ``(torch or None, {name: why it is skipped})``."""
    skipped: dict[str, str] = {}
    for name in ("equinox", "flax"):
        if name in frameworks:
            try:
                __import__(name)
            except ImportError:
                skipped[name] = f"{name} is not installed (pip install {name})"
    # torch is imported whenever it is installed: its matmul chain is part of the limit.
    wants_torch = {"torch_eager", "torch_compile"} & set(frameworks)
    torch = None
    try:
        import torch
    except ImportError:
        for n in wants_torch:
            skipped[n] = "torch is not installed (pip install torch)"
    else:
        try:
            _torch_device(torch)
        except RuntimeError as e:
            for n in wants_torch:
                skipped[n] = str(e)
            torch = None
    if torch is not None and "torch_compile" in frameworks:
        if quick:
            skipped["torch_compile"] = "not run in quick mode (inductor compiles for minutes)"
        elif jax.default_backend() == "cpu" and not (shutil.which("g++") or shutil.which("c++")):
            skipped["torch_compile"] = "no C++ compiler (torch.compile's CPU backend needs one)"
    return torch, skipped


def _builders(names, torch, activation, params, x, y) -> dict[str, Callable[[], Any]]:
    table = {
        "jaxact": lambda: _jaxact_step(activation, params, x, y),
        "jaxact_fused": lambda: _jaxact_step(activation, params, x, y, "fused"),
        "jaxact_sgd": lambda: _jaxact_sgd_step(activation, params, x, y),
        "equinox": lambda: _equinox_step(activation, params, x, y),
        "flax": lambda: _flax_step(activation, params, x, y),
        "torch_eager": lambda: _torch_step(torch, activation, params, x, y, compiled=False),
        "torch_compile": lambda: _torch_step(torch, activation, params, x, y, compiled=True),
        "xla_chain": lambda: _xla_chain(params, x),
        "jaxact_no_update": lambda: _jaxact_no_update(activation, params, x, y),
        "torch_chain": lambda: _torch_chain(torch, params, x),
    }
    return {n: table[n] for n in names}


def faulted_mb_per_step(step: Callable[[], Any], steps: int = 2,
                        repeats: int = 1) -> float | None:  # fmt: skip
    """MB of memory the process touched for the first time per call of ``step()``.

    The minor page faults counted by the operating system (``getrusage``) over ``steps``
    calls, times the page size, per call. A step that allocates a fresh array larger than the
    allocator keeps for reuse (glibc maps anything over 32 MB from the system and unmaps it on
    free) faults in every page of it on every call; on a CPU that costs about as much as
    writing the array. Host memory only (a GPU's allocations do not fault here). Memory the
    kernel backs with huge pages (NumPy asks for them for large arrays) faults once per huge
    page and reads low here; XLA:CPU's buffers use ordinary pages.

    The count is the whole process's: another thread that maps memory meanwhile (a pool
    growing, a collector) adds to it, never takes away, so the least of ``repeats``
    measurements is the step's own.

    Args:
      step: runs one step and blocks.
      steps: calls to average over.
      repeats: measurements of ``steps`` calls each; the least is returned.

    Returns:
      MB (``1e6`` bytes) per call, or ``None`` where ``resource`` is unavailable (Windows).

    >>> import jax, jax.numpy as jnp
    >>> from jaxact.bench.frameworks import faulted_mb_per_step
    >>> add_one, x = jax.jit(lambda v: v + 1), jnp.zeros(2**26)  # 268 MB in, 268 MB out
    >>> mb = faulted_mb_per_step(lambda: add_one(x).block_until_ready())
    >>> mb is None or 200 < mb < 400
    True
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    least = None
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(steps):
            step()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        least = faults if least is None else min(least, faults)
    return least * resource.getpagesize() / steps / 1e6


def _block(step, k: int) -> float:
    """Mean seconds of ``k`` steps run back to back, after one untimed step."""
    step()
    t0 = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - t0) / k


def _spread(values: dict[str, float]) -> float:
    """Largest relative difference between the values (0 for fewer than two)."""
    v = list(values.values())
    return (max(v) - min(v)) / max(abs(max(v)), abs(min(v)), 1e-30) if len(v) > 1 else 0.0


def compare_frameworks(
    depth: int,
    width: int,
    batch: int,
    *,
    activation: str = "relu",
    frameworks=FRAMEWORKS,
    rounds: int = 5,
    block_s: float = 0.3,
    quick: bool = False,
) -> dict[str, Any]:
    """Time the same training step in each framework, and the matmul limit, in one run.

    Args:
      depth: ``width x width`` layers (``>= 2``: equinox's MLP needs an output layer apart).
      width: units per layer.
      batch: examples per step.
      activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"`` (those PyTorch has as modules).
      frameworks: a subset of :data:`FRAMEWORKS`; those that cannot run here are listed under
        ``skipped`` with the reason.
      rounds: timed rounds; each times one block of every step.
      block_s: about how long each block lasts (sets its number of timed steps, ``k``).
      quick: skip ``torch_compile`` (its compile takes minutes).

    Returns:
      ``{"depth", "width", "batch", "activation", "flops", "skipped", "limit_s", "steps",
      "start_loss", "second_loss"}`` and the largest relative differences between the
      frameworks' losses (``start_loss_max_rel_diff``, ``second_loss_max_rel_diff``): the
      same weights and data give the same loss, and after one update the same loss again.
      ``steps[name]`` has ``median``/``min``/``max`` seconds per step, ``times`` (each
      round's), ``k``, ``compile_s``, ``faulted_mb_per_step`` (:func:`faulted_mb_per_step`),
      ``gflop_per_s``, ``fraction_of_limit`` (``{"median", "min", "max"}`` of the per-round
      ``limit / step``) and, when PyTorch eager ran, ``speedup_vs_torch_eager`` (the same of
      ``torch_eager / step``). The chains (:data:`LIMITS`) and jaxact's step without its
      update (:data:`DECOMPOSITION`) are rows of ``steps`` too; ``limit_s`` is the per-round
      minimum of the chains, as a median.

    Raises:
      ValueError: a bad size, activation or framework name.

    >>> from jaxact.bench.frameworks import compare_frameworks
    >>> r = compare_frameworks(2, 16, 8, frameworks=["jaxact"], rounds=2, block_s=0.01)
    >>> "jaxact" in r["steps"], "xla_chain" in r["steps"]
    (True, True)
    >>> r["steps"]["jaxact"]["fraction_of_limit"]["median"] > 0
    True
    """
    for name, v, lo in (("depth", depth, 2), ("width", width, 1), ("batch", batch, 1),
                        ("rounds", rounds, 1)):  # fmt: skip
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError(f"compare_frameworks: {name} must be an int >= {lo}, got {v!r}.")
    if activation not in ("relu", "sigmoid", "tanh"):
        raise ValueError("compare_frameworks: activation must be 'relu', 'sigmoid' or 'tanh', "
                         f"got {activation!r}.")  # fmt: skip
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown:
        raise ValueError(
            f"compare_frameworks: unknown framework(s) {unknown}; valid: {', '.join(FRAMEWORKS)}."
        )
    if not block_s > 0:
        raise ValueError(f"compare_frameworks: block_s must be > 0, got {block_s!r}.")
    torch, skipped = _availability(frameworks, quick=quick)
    names = [f for f in frameworks if f not in skipped]
    names += ["jaxact_no_update"] if "jaxact" in names else []
    names += ["xla_chain"] + (["torch_chain"] if torch is not None else [])
    params = init_mlp(jax.random.key(0), depth=depth, width=width, init="he")
    x, y = random_batch(width, batch)
    steps, compile_s, start_loss = {}, {}, {}
    for name, build in _builders(names, torch, activation, params, x, y).items():
        steps[name], compile_s[name] = build()
        t0 = time.perf_counter()
        out = steps[name]()
        if compile_s[name] is None:  # PyTorch: its first call compiles or allocates
            compile_s[name] = time.perf_counter() - t0
        if name in FRAMEWORKS:  # the same weights and data: the same loss, a check
            start_loss[name] = float(out)
    # Warm up (the second step's loss checks the gradient and the update too), then size
    # each block from one step's time; the memory that step faults in is recorded with it.
    ks, second_loss, faulted = {}, {}, {}
    for name, step in steps.items():
        out = step()
        if name in FRAMEWORKS:
            second_loss[name] = float(out)
        t0 = time.perf_counter()
        faulted[name] = faulted_mb_per_step(step, steps=1, repeats=3)
        ks[name] = max(1, min(50, round(block_s / max(time.perf_counter() - t0, 1e-6))))
    times: dict[str, list[float]] = {n: [] for n in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(_block(step, ks[name]))
    chains = [n for n in LIMITS if n in times]
    limit = [min(ts) for ts in zip(*(times[n] for n in chains), strict=True)]
    flops = matmul_flops(depth, width, batch)
    rows = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        row = {"median": med, "min": min(ts), "max": max(ts), "times": ts, "k": ks[name],
               "faulted_mb_per_step": faulted[name],
               "rounds": rounds,
               "compile_s": compile_s[name], "gflop_per_s": flops / med / 1e9,
               "fraction_of_limit": per_round_ratio(limit, ts)}  # fmt: skip
        if "torch_eager" in times:
            row["speedup_vs_torch_eager"] = per_round_ratio(times["torch_eager"], ts)
        rows[name] = row
    return {"depth": depth, "width": width, "batch": batch, "activation": activation,
            "flops": flops, "skipped": skipped, "limit_s": statistics.median(limit),
            "start_loss": start_loss, "start_loss_max_rel_diff": _spread(start_loss),
            "second_loss": second_loss, "second_loss_max_rel_diff": _spread(second_loss),
            "steps": rows}  # fmt: skip


def _denormal_slowdown(torch, *, depth: int = 100, width: int = 256, batch: int = 128,
                      rounds: int = 5) -> dict[str, Any]:  # fmt: skip
    """How much PyTorch's CPU step slows down on subnormal gradients.

    Deep sigmoid nets produce gradients that decay through the float32 subnormal range
    (``1e-38 .. 1e-45``); PyTorch on CPU does not flush subnormals to zero by default (XLA
    does), and subnormal arithmetic is slow on many CPUs. The eager sigmoid step is timed
    with ``torch.set_flush_denormal(False)`` (the default) and ``True``, in alternating
    blocks; the flag is left at its default afterwards.

    Args:
      torch: the ``torch`` module.
      depth, width, batch: the sigmoid MLP's shape.
      rounds: alternating rounds of one block each.

    Returns:
      ``{"depth", "width", "batch", "subnormal_fraction_of_weight_grads", "default_s",
      "flushed_s", "denormal_slowdown"}``: the slowdown is the median of per-round
      ``default / flushed``.
    """
    params = init_mlp(jax.random.key(0), depth=depth, width=width, init="he")
    x, y = random_batch(width, batch)
    model = _torch_module(torch, "sigmoid", params, "cpu")
    tx, ty = _to_torch(torch, x, "cpu"), _to_torch(torch, y, "cpu")
    ((model(tx) - ty) ** 2).mean().backward()
    grads = torch.stack([m.weight.grad for m in model if isinstance(m, torch.nn.Linear)])
    tiny = torch.finfo(torch.float32).tiny
    fraction = ((grads != 0) & (grads.abs() < tiny)).float().mean().item()
    step, _ = _torch_step(torch, "sigmoid", params, x, y, compiled=False)
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for flush in (False, True):  # warm up both
            torch.set_flush_denormal(flush)
            step()
        for _ in range(rounds):
            for flush in (False, True):
                torch.set_flush_denormal(flush)
                times[flush].append(_block(step, 3))
    finally:
        torch.set_flush_denormal(False)
    return {"depth": depth, "width": width, "batch": batch,
            "subnormal_fraction_of_weight_grads": fraction,
            "default_s": statistics.median(times[False]),
            "flushed_s": statistics.median(times[True]),
            "denormal_slowdown": per_round_ratio(times[False], times[True])["median"]}  # fmt: skip


@contextlib.contextmanager
def _torch_threads():
    """PyTorch on every core (what XLA uses), restored afterwards."""
    try:
        import torch
    except ImportError:
        yield None
        return
    old = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        yield torch
    finally:
        torch.set_num_threads(old)


def run(*, quick: bool = False, progress=None) -> dict[str, Any]:
    """The comparison over widths and depths (what ``jaxact bench --parts frameworks`` runs).

    Args:
      quick: widths 32 and 64, depth 3, batch 16, no ``torch_compile`` (seconds).
      progress: called with a line after each shape, if given.

    Returns:
      ``{"batch", "activation", "widths", "depths", "versions", "grid", "denormals"}``: one
      :func:`compare_frameworks` result per shape in ``grid``; ``denormals``, PyTorch's
      subnormal check (``None`` without torch or off the CPU): the share of subnormal
      weight gradients in a deep sigmoid net and the step's slowdown against flushing them.

    >>> from jaxact.bench import frameworks
    >>> res = frameworks.run(quick=True)
    >>> [(g["width"], g["depth"]) for g in res["grid"]]
    [(32, 3), (64, 3)]
    """
    if quick:
        widths, depths, batch, rounds = (32, 64), (3,), 16, 2
    else:
        widths, depths, batch, rounds = (32, 64, 256, 1024), (10, 50, 200), 128, 5
    versions = {"jax": jax.__version__}
    with _torch_threads() as torch:
        for mod in ("equinox", "flax"):
            with contextlib.suppress(ImportError):
                versions[mod] = __import__(mod).__version__
        if torch is not None:
            versions["torch"] = torch.__version__
            versions["torch_threads"] = torch.get_num_threads()
        grid = []
        denormals = None
        if torch is not None and jax.default_backend() == "cpu":
            denormals = _denormal_slowdown(torch, depth=10 if quick else 100,
                                          width=64 if quick else 256, batch=batch,
                                          rounds=2 if quick else 5)  # fmt: skip
        for width in widths:
            for depth in depths:
                grid.append(compare_frameworks(depth, width, batch, rounds=rounds, quick=quick,
                                               block_s=0.05 if quick else 0.3))  # fmt: skip
                if progress is not None:
                    progress(f"frameworks w{width} d{depth}")
    return {"batch": batch, "activation": "relu", "widths": list(widths),
            "depths": list(depths), "versions": versions, "grid": grid,
            "denormals": denormals}  # fmt: skip


#: Column titles of the frameworks' rows.
_TITLES = {"jaxact": "jaxact", "jaxact_fused": "jaxact fused", "jaxact_sgd": "jaxact SGD step",
           "equinox": "equinox",
           "flax": "flax",
           "torch_eager": "torch eager", "torch_compile": "torch.compile",
           "jaxact_no_update": "jaxact without update", "xla_chain": "XLA chain",
           "torch_chain": "torch chain"}  # fmt: skip


def markdown_rows(res: dict[str, Any]) -> list[str]:
    """:func:`run`'s results as Markdown: one table per measure, widths x depths down the side.

    Args:
      res: :func:`run`'s dict (or read back from JSON).

    Returns:
      The lines: step times, fractions of the limit, speed-ups against PyTorch eager (when it
      ran), skipped frameworks and why, and the subnormal check.

    >>> from jaxact.bench import frameworks as fw
    >>> g = fw.compare_frameworks(2, 16, 8, frameworks=["jaxact"], rounds=1, block_s=0.01)
    >>> res = {"batch": 8, "widths": [16], "depths": [2], "versions": {}, "grid": [g]}
    >>> fw.markdown_rows(res)[4].startswith("| width | depth | jaxact |")
    True
    """
    names = [n for n in (*FRAMEWORKS, *DECOMPOSITION, *LIMITS)
             if any(n in g["steps"] for g in res["grid"])]  # fmt: skip
    v = res["versions"]
    lines = [
        f"Same network in every framework (depth x `relu(a @ W + b)` of width units, the same "
        f"weights and data; batch {res['batch']}), one SGD step on an MSE loss; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + ". Each round times a block of consecutive steps of each framework after one "
        "untimed step; ratios are medians of per-round ratios. The limit is the faster of two "
        "chains of the step's matmuls alone (XLA's and PyTorch's), "
        "`6 x batch x width^2 x depth` flops.",
    ]

    def table(title, cell, subset):
        out = ["", title, "", "| width | depth | " + " | ".join(_TITLES[n] for n in subset) + " |",
               "|---|---|" + "---|" * len(subset)]  # fmt: skip
        for g in res["grid"]:
            cells = [cell(g["steps"][n]) if n in g["steps"] else "-" for n in subset]
            out.append(f"| {g['width']} | {g['depth']} | " + " | ".join(cells) + " |")
        return out

    lines += table("Milliseconds per step (median):",
                   lambda r: f"{r['median'] * 1e3:.0f}" if r["median"] >= 0.1
                   else f"{r['median'] * 1e3:.3g}", names)  # fmt: skip
    lines += table("Fraction of the matmul limit (limit time / step time):",
                   lambda r: f"{r['fraction_of_limit']['median']:.2f}", names)  # fmt: skip
    if all(g["steps"][n].get("faulted_mb_per_step") is not None
           for g in res["grid"] for n in names if n in g["steps"]):  # fmt: skip
        lines += table("Memory faulted in per step (MB: minor page faults x page size; a fresh "
                       "array the allocator maps from the system faults in every page):",
                       lambda r: f"{r['faulted_mb_per_step']:.1f}", names)  # fmt: skip
    if "torch_eager" in names:
        lines += table("Speed-up against PyTorch eager (its time / this time):",
                       lambda r: f"{r['speedup_vs_torch_eager']['median']:.2f}x",
                       [n for n in names if n != "torch_eager"])  # fmt: skip
    skipped = {k: why for g in res["grid"] for k, why in g["skipped"].items()}
    if skipped:
        lines += ["", "Not run: " + "; ".join(f"{k} ({why})" for k, why in skipped.items()) + "."]
    worst = max(max(g["start_loss_max_rel_diff"], g["second_loss_max_rel_diff"])
                for g in res["grid"])  # fmt: skip
    lines += ["", "Check: the frameworks' losses before and after the first update agree to "
              f"{worst:.1e} (relative): the same network and the same step."]  # fmt: skip
    den = res.get("denormals")
    if den:
        lines += ["", f"Subnormals: in a {den['depth']}-layer sigmoid net (width {den['width']}) "
                  f"{100 * den['subnormal_fraction_of_weight_grads']:.1f}% of PyTorch's weight "
                  "gradients are subnormal; its step took "
                  f"{den['denormal_slowdown']:.2f}x the time it takes with "
                  "`torch.set_flush_denormal(True)` (XLA flushes them)."]  # fmt: skip
    return lines


def plot(res: dict[str, Any], path, *, title_device: dict[str, Any] | None = None) -> None:
    """Fraction of the matmul limit against width, one panel per depth, one line per framework.

    Args:
      res: :func:`run`'s dict.
      path: the PNG to write.
      title_device: the results' ``device`` dict, named in the title if given.

    Returns:
      ``None``; the figure is written to ``path``.

    >>> import pathlib, tempfile
    >>> from jaxact.bench import frameworks as fw
    >>> g = fw.compare_frameworks(2, 16, 8, frameworks=["jaxact"], rounds=1, block_s=0.01)
    >>> res = {"batch": 8, "widths": [16], "depths": [2], "versions": {}, "grid": [g]}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "frameworks.png"
    >>> fw.plot(res, path)
    >>> path.stat().st_size > 0
    True
    """
    from jaxact.plotting import pyplot

    plt = pyplot()
    depths = res["depths"]
    fig, axes = plt.subplots(1, len(depths), figsize=(4.2 * len(depths), 3.8), sharey=True,
                             squeeze=False)  # fmt: skip
    names = [n for n in (*FRAMEWORKS, "xla_chain") if any(n in g["steps"] for g in res["grid"])]
    for ax, depth in zip(axes[0], depths, strict=True):
        rows = [g for g in res["grid"] if g["depth"] == depth]
        for name in names:
            pts = [(g["width"], g["steps"][name]["fraction_of_limit"]) for g in rows
                   if name in g["steps"]]  # fmt: skip
            ax.errorbar([w for w, _ in pts], [f["median"] for _, f in pts],
                        yerr=[[f["median"] - f["min"] for _, f in pts],
                              [f["max"] - f["median"] for _, f in pts]],
                        marker="o", capsize=3, label=_TITLES[name],
                        ls="--" if name == "xla_chain" else "-")  # fmt: skip
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(res["widths"], [str(w) for w in res["widths"]])
        ax.minorticks_off()
        ax.set_xlabel("width")
        ax.set_title(f"depth {depth}, batch {res['batch']}", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("fraction of the matmul limit")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    where = "" if title_device is None else f" on {title_device['device_kind']}"
    fig.suptitle(f"One training step{where}\nsame network in each framework; 1 = the same "
                 "matmuls alone", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 0.87, 1))
    save_figure_atomically(fig, path, dpi=110)
    plt.close(fig)
