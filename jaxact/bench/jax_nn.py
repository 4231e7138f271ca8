"""jaxact against jax.nn: every shared function, forward and forward + gradient, same inputs.

Each pair is jitted and timed in alternation (:func:`jaxact.bench.timing.compare`), so a slow
spell of the machine hits both; the headline is the median over repeats of
``time(jaxact) / time(jax.nn)`` with its min-max spread. Inputs: ``elements`` float32 values from
``3 * N(0, 1)`` (wide enough to reach both tails of the saturating functions); the output
functions (softmax, log_softmax) act along rows of 1024. Forward + gradient is ``jax.vjp`` with
a cotangent of ones: the value and ``phi'(x) * 1`` in one compiled program, as in training.

The pairs compared (name in jaxact = name in jax.nn, with the same arguments) are
:data:`PAIRS`; ``gelu`` appears twice, as jax.nn's two settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import jaxact
from jaxact.bench.timing import compare, ratio_text

ROW = 1024


def _pairs() -> dict[str, tuple[Callable, Callable]]:
    pairs: dict[str, tuple[Callable, Callable]] = {
        "gelu (tanh)": (lambda v: jax.nn.gelu(v, approximate=True), jaxact.gelu),
        "gelu (exact)": (
            lambda v: jax.nn.gelu(v, approximate=False),
            lambda v: jaxact.gelu(v, approximate=False),
        ),
    }
    for name in jaxact.activations.__all__:
        if name == "gelu" or not hasattr(jax.nn, name):
            continue
        ours, theirs = getattr(jaxact, name), getattr(jax.nn, name)
        if ours is theirs or not callable(ours) or name in ("swish", "hard_swish"):
            continue  # re-exports and aliases time the same function twice
        pairs[name] = (theirs, ours)
    return pairs


#: ``{label: (jax.nn function, jaxact function)}``, computed at import.
PAIRS = _pairs()


def _forward_and_gradient(fn: Callable) -> Callable:
    def run(x):
        out, pull = jax.vjp(fn, x)
        return out, pull(jnp.ones_like(out))[0]

    return run


#: Activations compared inside a training step (the ones MLPs use).
STEP_ACTIVATIONS = ("relu", "gelu (tanh)", "gelu (exact)", "silu", "tanh", "sigmoid")


def training_step_pair(label: str, *, width: int = 512, depth: int = 4, batch: int = 256):
    """Two Adam training steps of the same equinox MLP (``depth`` hidden layers of ``width``,
    batch ``batch``, squared loss), one with jax.nn's activation and one with jaxact's:
    ``(step_jax_nn, step_jaxact, params, opt_state)``, each step ``(params, state) -> (params,
    state, loss)``. Raises ImportError without equinox."""
    import equinox as eqx
    import optax

    theirs, ours = PAIRS[label]
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (batch, width), jnp.float32)
    y = jax.random.normal(ky, (batch, width), jnp.float32)
    opt = optax.adam(1e-3)

    def make(act):
        arrays, static = eqx.partition(eqx.nn.MLP(width, width, width, depth, activation=act,
                                                  key=kp), eqx.is_array)  # fmt: skip

        def step(params, state):
            def loss(p):
                return jnp.mean((jax.vmap(eqx.combine(p, static))(x) - y) ** 2)

            value, grads = jax.value_and_grad(loss)(params)
            updates, state = opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state, value

        return step, arrays

    step_a, params = make(theirs)
    step_b, _ = make(ours)
    return step_a, step_b, params, opt.init(params)


def run(*, quick: bool = False, names: list[str] | None = None, elements: int | None = None,
        steps: bool = True, progress=None) -> dict[str, Any]:  # fmt: skip
    """Time every pair in :data:`PAIRS` (or ``names``); returns a JSON-able dict.

    Args:
      quick: 2**18 elements and 5 repeats (a smoke test) instead of 2**22 (4M, on the CPU) or
        2**26 (on an accelerator, where 4M values take microseconds and launch overhead would
        dominate) and 15 repeats; the training steps at width 128 instead of 512.
      names: labels of :data:`PAIRS` to time (default: all).
      elements: override the number of float32 elements (a multiple of 1024).
      steps: also time a training step of an equinox MLP with each of
        :data:`STEP_ACTIVATIONS` (skipped without equinox).

    Returns:
      ``{"elements", "repeats", "functions": {label: {"forward": c, "forward_grad": c}},
      "steps": {label: c} | {"skipped": why}, "step_shape": {...}}`` where each ``c`` is
      :meth:`jaxact.bench.timing.Comparison.as_dict` with jax.nn as the reference: ``ratio``
      > 1 means jaxact is slower.
    """
    default = 2**22 if jax.default_backend() == "cpu" else 2**26
    n = elements or (2**18 if quick else default)
    if n % ROW:
        raise ValueError(f"elements must be a multiple of {ROW}, got {n}")
    repeats = 5 if quick else 15
    chosen = list(PAIRS) if names is None else names
    unknown = [c for c in chosen if c not in PAIRS]
    if unknown:
        raise ValueError(f"unknown function(s) {unknown}; valid: {', '.join(PAIRS)}")
    x = 3.0 * jax.random.normal(jax.random.key(0), (n // ROW, ROW), jnp.float32)
    out: dict[str, Any] = {"elements": n, "repeats": repeats, "functions": {}}
    for label in chosen:
        theirs, ours = PAIRS[label]
        fwd = compare(theirs, ours, x, repeats=repeats)
        both = compare(_forward_and_gradient(theirs), _forward_and_gradient(ours), x,
                       repeats=repeats)  # fmt: skip
        out["functions"][label] = {"forward": fwd.as_dict(), "forward_grad": both.as_dict()}
        if progress is not None:
            progress(label)
    if steps:
        shape = {"width": 128 if quick else 512, "depth": 4, "batch": 256, "optimizer": "adam",
                 "model": "equinox.nn.MLP"}  # fmt: skip
        out["step_shape"] = shape
        try:
            out["steps"] = {}
            for label in STEP_ACTIVATIONS:
                a, b, params, state = training_step_pair(
                    label, width=shape["width"], depth=shape["depth"], batch=shape["batch"]
                )
                out["steps"][label] = compare(a, b, params, state, repeats=repeats).as_dict()
        except ImportError as err:
            out["steps"] = {"skipped": f"equinox is not installed ({err})"}
    return out


def markdown_rows(res: dict[str, Any]) -> list[str]:
    """The "jaxact vs jax.nn" table: ratio (median, min-max) and jax.nn's time per call."""
    lines = [
        f"{res['elements']} float32 values (rows of {ROW}), {res['repeats']} alternating repeats. "
        "Ratio = time(jaxact) / time(jax.nn) in the same round: median (min-max); below 1 "
        "jaxact is faster.",
        "",
        "| function | forward ratio | jax.nn forward ms | forward+grad ratio | "
        "jax.nn forward+grad ms |",
        "|---|---|---|---|---|",
    ]
    for label, row in res["functions"].items():
        f, g = row["forward"], row["forward_grad"]
        lines.append(
            f"| {label} | {ratio_text(f)} | {f['reference']['median'] * 1e3:.3g} | "
            f"{ratio_text(g)} | {g['reference']['median'] * 1e3:.3g} |"
        )
    st = res.get("steps")
    if st and "skipped" in st:
        lines += ["", f"Training step: skipped ({st['skipped']})."]
    elif st:
        sh = res["step_shape"]
        lines += [
            "",
            f"Training step of an {sh['model']} ({sh['depth']} hidden layers of {sh['width']}, "
            f"batch {sh['batch']}, {sh['optimizer']}, squared loss), jaxact's activation "
            "against jax.nn's:",
            "",
            "| activation | step ratio | jax.nn step ms |",
            "|---|---|---|",
        ]
        for label, c in st.items():
            ms = c["reference"]["median"] * 1e3
            lines.append(f"| {label} | {ratio_text(c, 3)} | {ms:.3g} |")
    return lines
