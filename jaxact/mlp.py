"""Deep MLPs whose hidden layers are stacked and run with one ``jax.lax.scan``.

The network, for ``l = 1 .. depth``::

    a_0 = x                      (or x @ w_in + b_in, a linear projection, if in_dim != width)
    h_l = a_{l-1} @ W_l + b_l    pre-activation, shape (..., width)
    a_l = phi(h_l)               (residual=True: a_l = a_{l-1} + branch_scale * phi(h_l))
    y   = a_depth @ w_out + b_out   (if out_dim was given), then head(y) if a head is given

``W_l`` and ``b_l`` are stacked into arrays of shape ``(depth, width, width)`` and
``(depth, width)``, so the compiled program contains one loop body whatever the depth: depth
1000 compiles as fast as depth 10.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike

from jaxact.activations import Activation, activation_fn, get_activation
from jaxact.checks import check_finite_number, check_memory, check_positive_int
from jaxact.initializers import (
    Initializer,
    get_initializer,
    init_weights,
    resolve_sigma_w2,
)
from jaxact.vocabulary import SATURATION, slope_statistics

__all__ = [
    "MLPParams",
    "MLPTrace",
    "SGDState",
    "TraceStatistics",
    "check_input",
    "hidden_weight_norms",
    "init_mlp",
    "init_sgd",
    "make_sgd_step",
    "mlp_forward",
    "mlp_scales",
    "mlp_trace",
    "sample_mlp",
    "trace_statistics",
]


class MLPParams(NamedTuple):
    """Parameters of a scan MLP (a pytree).

    Attributes:
      weights: ``(depth, width, width)`` hidden weights, ``h = a @ W + b``.
      biases: ``(depth, width)``.
      w_in, b_in: input projection ``(in_dim, width)``, ``(width,)``; ``None`` when the input
        already has ``width`` features.
      w_out, b_out: readout ``(width, out_dim)``, ``(out_dim,)``; ``None`` without ``out_dim``.
    """

    weights: jax.Array
    biases: jax.Array
    w_in: jax.Array | None = None
    b_in: jax.Array | None = None
    w_out: jax.Array | None = None
    b_out: jax.Array | None = None

    @property
    def depth(self) -> int:
        return int(self.weights.shape[0])

    @property
    def width(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def in_dim(self) -> int:
        return self.width if self.w_in is None else int(self.w_in.shape[0])

    @property
    def out_dim(self) -> int:
        return self.width if self.w_out is None else int(self.w_out.shape[-1])

    @property
    def dtype(self):
        return self.weights.dtype


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MLPTrace:
    """Per-layer signals collected by :func:`mlp_trace` (a pytree).

    Attributes:
      pre: pre-activations ``h_l``, shape ``(depth, ..., width)``.
      post: activations ``a_l``, shape ``(depth, ..., width)``.
      output: the network's output (as :func:`mlp_forward` returns it without a head).
    """

    pre: jax.Array
    post: jax.Array
    output: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TraceStatistics:
    """Per-layer statistics of a trace (:func:`trace_statistics`), each ``(depth,)``.

    The slope statistics are those of :func:`jaxact.diagnose`, defined once in
    :mod:`jaxact.vocabulary`.

    Attributes:
      pre_mean, pre_var: mean and variance of ``h_l`` over examples and units.
      post_mean, post_var: the same for ``a_l``.
      saturated: fraction of entries with ``0 < |phi'(h)| < saturation * sup|phi'|``.
      zero_grad: fraction of entries with ``phi'(h) == 0`` (``dead`` before this release).
      dead_units: fraction of units with ``phi'(h) == 0`` on every example.
      saturated_units: fraction of units saturated on every example.
    """

    pre_mean: jax.Array
    pre_var: jax.Array
    post_mean: jax.Array
    post_var: jax.Array
    saturated: jax.Array
    zero_grad: jax.Array
    dead_units: jax.Array
    saturated_units: jax.Array

    @property
    def dead(self) -> jax.Array:
        """Deprecated: the fraction of *entries* with ``phi'(h) == 0``, now ``zero_grad`` ("dead"
        is a property of units: ``dead_units``)."""
        warnings.warn("TraceStatistics.dead is renamed zero_grad (a fraction of entries; "
                      "dead_units counts units); the old name goes in the next release.",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.zero_grad


def init_mlp(
    key: jax.Array,
    *,
    depth: int,
    width: int,
    in_dim: int | None = None,
    out_dim: int | None = None,
    init: str = "he",
    sigma_w2: float | None = None,
    sigma_b2: float = 0.0,
    dtype=jnp.float32,
) -> MLPParams:
    """Initialise a scan MLP: ``depth`` hidden layers of ``width`` units.

    Hidden weights follow ``init`` (see :mod:`jaxact.initializers`); biases are
    ``N(0, sigma_b2)`` (zero by default). Projections, when present, use LeCun scaling for the
    input (so the first hidden pre-activations have the input's scale) and the same ``init`` for
    the readout. The same key gives the same parameters, bit for bit.

    Args:
      key: PRNG key.
      depth: number of hidden layers (>= 1).
      width: units per hidden layer (>= 1).
      in_dim: input features; a linear input projection is added if it differs from ``width``.
      out_dim: output features; adds a linear readout ``(width, out_dim)``.
      init: weight scheme name.
      sigma_w2: weight variance times fan-in, for ``init="gaussian"`` (or ``orthogonal``).
      sigma_b2: bias variance (>= 0).
      dtype: floating dtype of every parameter.

    Returns:
      :class:`MLPParams`.

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=100, width=64, in_dim=2, out_dim=1)
    >>> p.weights.shape, p.w_in.shape, p.w_out.shape
    ((100, 64, 64), (2, 64), (64, 1))
    """
    depth = check_positive_int("depth", depth)
    width = check_positive_int("width", width)
    if in_dim is not None:
        check_positive_int("in_dim", in_dim)
    if out_dim is not None:
        check_positive_int("out_dim", out_dim)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"init_mlp: dtype must be a floating dtype, got {jnp.dtype(dtype)}.")
    if not (isinstance(sigma_b2, (int, float)) and sigma_b2 >= 0):
        raise ValueError(f"sigma_b2 must be a number >= 0, got {sigma_b2!r}.")
    rec = get_initializer(init)
    resolve_sigma_w2(rec, width, width, sigma_w2)  # validates before any sampling
    # XLA aborts the process on an allocation it cannot make: ask first. The draw is one
    # normal array of every parameter, sliced (about three times the parameters' bytes).
    n = depth * (width * width + width) + width * ((in_dim or 0) + (out_dim or 0)) + (out_dim or 0)
    check_memory(f"init_mlp: depth {depth} x width {width}", 3 * n * jnp.dtype(dtype).itemsize)
    scales = jnp.asarray(mlp_scales(rec, width, out_dim, sigma_w2, sigma_b2), dtype)
    return sample_mlp(key, scales, depth=depth, width=width, in_dim=in_dim, out_dim=out_dim,
                       orthogonal=rec.orthogonal, dtype=jnp.dtype(dtype))  # fmt: skip


def mlp_scales(
    init: str | Initializer, width: int, out_dim: int | None, sigma_w2, sigma_b2
) -> tuple:
    """The three numbers that turn unit draws into :func:`init_mlp`'s parameters.

    ``(hidden weight scale, readout weight scale, sigma_b2)``: weights are the scale times a
    standard normal draw (Gaussian schemes, scale ``sqrt(sigma_w2 / fan_in)``) or times a
    Haar-orthogonal matrix (``orthogonal``, scale ``gain = sqrt(sigma_w2)``); biases are
    ``sqrt(sigma_b2)`` times a standard normal draw. Networks that differ only in these numbers
    share one sampling program (the sweeps vmap over them).

    Args:
      init: an initialisation scheme (name or record).
      width: units per hidden layer (the fan-in of hidden and readout weights).
      out_dim: readout size (its fan-out, for schemes that use it), or ``None`` for a readout
        of ``width`` (no readout).
      sigma_w2: weight variance times fan-in, where the scheme takes one.
      sigma_b2: bias variance.

    Returns:
      ``(w_scale, readout_scale, sigma_b2)`` as floats.

    >>> from jaxact.mlp import mlp_scales
    >>> mlp_scales("he", 50, None, None, 0.0)  # sqrt(2 / 50)
    (0.2, 0.2, 0.0)
    """
    rec = get_initializer(init)

    def scale(fan_in, fan_out):
        s2 = resolve_sigma_w2(rec, fan_in, fan_out, sigma_w2)
        return math.sqrt(s2) if rec.orthogonal else math.sqrt(s2 / fan_in)

    return (scale(width, width), scale(width, out_dim or width),
            check_finite_number("sigma_b2", sigma_b2, positive=False))  # fmt: skip


@functools.partial(
    jax.jit,
    static_argnames=("depth", "width", "in_dim", "out_dim", "orthogonal", "dtype", "householder"),
)
def sample_mlp(key, scales, *, depth, width, in_dim, out_dim, orthogonal, dtype,
               householder=False) -> MLPParams:  # fmt: skip
    """The sampling behind :func:`init_mlp`, compiled once per shape (no argument checks).

    ``sample_mlp(key, jnp.asarray(mlp_scales(init, width, out_dim, sigma_w2, sigma_b2)), ...)``
    is ``init_mlp(key, ...)`` bit for bit. ``scales`` may be traced: networks that differ only in
    their scales (init, ``sigma_w2``, ``sigma_b2``) are one vmapped program (the sweeps). All
    Gaussian draws come from one ``jax.random.normal`` call, sliced into the parameters: each
    separate call would be a separate threefry kernel for XLA to compile (about a second for a
    new width on CPU, which made initialisation slower than training small nets).

    Args:
      key: PRNG key.
      scales: ``(3,)``: :func:`mlp_scales`'s numbers (may be traced).
      depth: hidden layers.
      width: units per hidden layer.
      in_dim: input size, or ``None`` for none (the input is already ``width`` wide).
      out_dim: readout size, or ``None`` for none.
      orthogonal: Haar-orthogonal hidden weights instead of Gaussian ones.
      dtype: the parameters' floating dtype.
      householder: orthogonal weights without LAPACK (:func:`jaxact.init_weights`): what the
        sweeps' programs, sharded over several CPU devices, draw with.

    Returns:
      :class:`MLPParams`: ``weights`` ``(depth, width, width)``, ``biases`` ``(depth, width)``
      and the input and readout layers where asked for.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.mlp import mlp_scales, sample_mlp
    >>> s = jnp.asarray(mlp_scales("he", 16, 2, None, 0.0))
    >>> p = sample_mlp(jax.random.key(0), s, depth=3, width=16, in_dim=4, out_dim=2,
    ...                orthogonal=False, dtype=jnp.float32)
    >>> q = jaxact.init_mlp(jax.random.key(0), depth=3, width=16, in_dim=4, out_dim=2, init="he")
    >>> all(bool((a == b).all()) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q)))
    True
    """
    proj_in = in_dim is not None and in_dim != width
    shapes = {"weights": (depth, width, width), "biases": (depth, width)}
    if proj_in:
        shapes |= {"w_in": (in_dim, width), "b_in": (width,)}
    if out_dim is not None:
        shapes["w_out"] = (width, out_dim)
    k_gauss, k_orth = jr.split(key)
    sizes = [math.prod(v) for v in shapes.values()]
    z = jr.normal(k_gauss, (sum(sizes),), dtype)
    parts = dict(zip(shapes, jnp.split(z, list(itertools.accumulate(sizes))[:-1]), strict=True))
    draws = {k: parts[k].reshape(v) for k, v in shapes.items()}
    sb = jnp.sqrt(scales[2])

    def unit(name):
        if orthogonal:
            return init_weights(jr.fold_in(k_orth, len(name)), shapes[name], "orthogonal",
                                sigma_w2=1.0, dtype=dtype, householder=householder)  # fmt: skip
        return draws[name]

    weights = scales[0] * unit("weights")
    biases = sb * draws["biases"]
    w_in = b_in = w_out = b_out = None
    if proj_in:
        w_in = math.sqrt(1.0 / in_dim) * draws["w_in"]  # LeCun: keeps the input's scale
        b_in = sb * draws["b_in"]
    if out_dim is not None:
        w_out = scales[1] * unit("w_out")
        b_out = jnp.zeros((out_dim,), dtype)
    return MLPParams(weights, biases, w_in, b_in, w_out, b_out)


def hidden_weight_norms(params: MLPParams) -> jax.Array:
    """``||W_l||`` (Frobenius) of every hidden layer, ``(depth,)``; of a gradient, ``||dL/dW_l||``.

    Args:
      params: an MLP's parameters (or their gradient).

    Returns:
      Array ``(depth,)``.

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=3, width=4)
    >>> hidden_weight_norms(p).shape
    (3,)
    """
    return jnp.sqrt(jnp.sum(params.weights**2, axis=(1, 2)))


def check_residual(name: str, residual) -> None:
    """Raise TypeError unless ``residual`` is a bool or a scalar boolean array (traced, for
    vmapped plain/residual networks).

    Args:
      name: the calling function's name, for the message.
      residual: the value to check.

    >>> from jaxact.mlp import check_residual
    >>> check_residual("demo", True)
    >>> check_residual("demo", "yes")
    Traceback (most recent call last):
    ...
    TypeError: demo: residual must be a bool or a scalar boolean array, got 'yes'.
    """
    if isinstance(residual, bool | np.bool_):
        return
    if isinstance(residual, jax.Array | np.ndarray):
        if residual.ndim != 0:
            raise ValueError(f"{name}: residual must be a bool or a scalar boolean array, got "
                             f"shape {residual.shape}.")  # fmt: skip
        if residual.dtype == bool:
            return
    raise TypeError(f"{name}: residual must be a bool or a scalar boolean array, got "
                    f"{residual!r}.")  # fmt: skip


def check_input(params: MLPParams, x: ArrayLike, name: str) -> jax.Array:
    """``x`` as an array if it fits ``params`` (floating, same dtype, last axis ``in_dim``);
    else a TypeError/ValueError that names the function ``name``, the shape and the dtype.

    Args:
      params: the network's parameters.
      x: the input to check.
      name: the calling function's name, for the message.

    Returns:
      ``x`` as a ``jax.Array`` (unchanged values, shape and dtype).

    Raises:
      TypeError: ``x`` is not floating or its dtype differs from the parameters'.
      ValueError: its last axis is not ``in_dim``.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.mlp import check_input
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=2, width=4, in_dim=3)
    >>> check_input(p, jnp.ones((5, 3)), "demo").shape
    (5, 3)
    """
    if not isinstance(params, MLPParams):
        raise TypeError(f"{name}: params must be MLPParams (from jaxact.init_mlp), got "
                        f"{type(params).__name__}.")  # fmt: skip
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"{name}: x must be floating-point, got dtype {x.dtype} with shape {x.shape}; "
            f"cast it with x.astype({params.dtype})."
        )
    if x.dtype != params.dtype:
        raise TypeError(
            f"{name}: x has dtype {x.dtype} (shape {x.shape}) but the parameters are "
            f"{params.dtype}; cast one to match."
        )
    if x.ndim < 1 or x.shape[-1] != params.in_dim:
        raise ValueError(
            f"{name}: x has shape {x.shape}; its last dimension must be in_dim = "
            f"{params.in_dim} (weights {params.weights.shape}"
            + (f", w_in {params.w_in.shape}" if params.w_in is not None else "")
            + ")."
        )
    return x


def _resolve_head(head) -> Callable[[jax.Array], jax.Array] | None:
    if head is None or (callable(head) and not isinstance(head, str)):
        return head
    return get_activation(head).fn


def _input_layer(params: MLPParams, x: jax.Array) -> jax.Array:
    if params.w_in is None:
        return x
    return x @ params.w_in + params.b_in


def _readout(params: MLPParams, a: jax.Array) -> jax.Array:
    if params.w_out is None:
        return a
    return a @ params.w_out + params.b_out


def _scan(params, a0, phi, *, residual, branch_scale=1.0, remat, collect=False):
    """Run the hidden stack; returns ``(a_depth, (h, a) per layer if collect else None)``.

    ``residual`` is a Python bool or a traced boolean scalar (then plain and residual networks
    are one program: the shortcut is selected per network)."""
    static = isinstance(residual, bool)
    if not static and jnp.ndim(residual) != 0:
        raise ValueError(f"residual must be a bool or a scalar, got shape {jnp.shape(residual)}.")

    def step(a, xs):
        h = a @ xs[0] + xs[1]
        out = phi(h)
        if static:
            a_new = a + branch_scale * out if residual else out
        else:
            a_new = jnp.where(residual, a + branch_scale * out, out)
        return a_new, ((h, a_new) if collect else None)

    if remat:
        step = jax.checkpoint(step)
    return jax.lax.scan(step, a0, (params.weights, params.biases))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_stack(phi, weights, biases, a0):
    """``a_depth`` of the plain stack ``a_l = phi(a_{l-1} @ W_l + b_l)`` on 2-D ``a0``, with a
    hand-written reverse pass that keeps only the pre-activations (see ``backward="fused"``)."""
    return _fused_forward(phi, weights, biases, a0, keep_pre=False)[0]


def _fused_forward(phi, weights, biases, a0, *, keep_pre: bool):
    """The stack's output, and its pre-activations stacked if ``keep_pre`` (else ``None``)."""

    def layer(a, wb):
        h = a @ wb[0] + wb[1]
        return phi(h), (h if keep_pre else None)

    return jax.lax.scan(layer, a0, (weights, biases))


def _fused_fwd(phi, weights, biases, a0):
    out, hs = _fused_forward(phi, weights, biases, a0, keep_pre=True)
    return out, (weights, a0, hs)


def _layer_backward(phi, hs, a0, i, w, g):
    """Layer ``i`` of the hand-written reverse pass: from ``g = dL/da_i`` to
    ``(dL/da_{i-1}, dL/dW_i, dL/db_i)``, with ``a_{i-1} = phi(h_{i-1})`` recomputed from the
    stored pre-activations ``hs`` (``a0`` for the first layer) - one elementwise pass instead
    of a stored activation."""
    h = jax.lax.dynamic_index_in_dim(hs, i, 0, keepdims=False)
    prev = jax.lax.dynamic_index_in_dim(hs, jnp.maximum(i - 1, 0), 0, keepdims=False)
    a_prev = jnp.where(i > 0, phi(prev), a0)
    dh = jax.vjp(phi, h)[1](g)[0]
    return dh @ w.T, a_prev.T @ dh, dh.sum(0)


def _fused_bwd(phi, res, g):
    weights, a0, hs = res

    def layer(g, xs):
        w, i = xs
        g_prev, dw, db = _layer_backward(phi, hs, a0, i, w, g)
        return g_prev, (dw, db)

    depth = weights.shape[0]
    ga, (dw, db) = jax.lax.scan(layer, g, (weights, jnp.arange(depth)), reverse=True)
    return dw, db, ga


_fused_stack.defvjp(_fused_fwd, _fused_bwd)

BACKWARDS = ("autodiff", "fused")


def mlp_forward(
    params: MLPParams,
    x: ArrayLike,
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    *,
    head: str | Callable | None = None,
    residual: bool | jax.Array = False,
    branch_scale: float | jax.Array = 1.0,
    remat: bool = False,
    backward: str = "autodiff",
) -> jax.Array:
    """Run the MLP on ``x`` of shape ``(..., in_dim)``; returns ``(..., out_dim)``.

    Args:
      params: from :func:`init_mlp`.
      x: input; any leading batch dimensions; dtype must match the parameters.
      activation: the hidden layers' activation: a registry name, an
        :class:`~jaxact.Activation` or any elementwise callable (e.g.
        ``functools.partial(jaxact.leaky_relu, negative_slope=0.2)``).
      head: optional output function: a registry name (``"sigmoid"`` for binary tasks,
        ``"softmax"`` for multi-class) or a callable.
      residual: ``a_l = a_{l-1} + branch_scale * phi(h_l)`` (ResNet-style identity
        shortcuts). A Python bool, or a boolean scalar array that may be traced (vmapping over
        plain and residual networks).
      branch_scale: the residual branch's multiplier (scalar, may be traced; ignored without
        ``residual``). ``1 / sqrt(depth)`` keeps the signal's variance bounded with depth
        (the forward variance grows like ``(1 + branch_scale^2)^depth`` at He init).
      remat: wrap each layer in :func:`jax.checkpoint`, so ``grad`` stores one activation per
        layer instead of every intermediate (memory for very deep nets).
      backward: how reverse-mode derivatives of the hidden stack are computed.
        ``"autodiff"`` (default): JAX differentiates the scan; every transformation works,
        forward mode (``jax.jvp``, ``jax.jacfwd``) included. ``"fused"``: a hand-written
        reverse pass (:func:`jax.custom_vjp`) that stores only the pre-activations ``h_l``
        and recomputes ``a_{l-1} = phi(h_{l-1})`` and ``phi'(h_l)`` from them - one stored
        ``(depth, batch, width)`` array where autodiff stores two (each layer's input and
        ``phi'``) - for training steps (faster than autodiff in nearly every shape of the
        frameworks benchmark, ``jaxact bench --parts frameworks``). Reverse mode only
        (``jax.grad``, ``jax.vjp``); plain stacks only (``residual=False``, no ``remat``);
        :func:`jaxact.diagnose` cannot look inside it (it says so): diagnose with the
        default. Gradients equal autodiff's up to float rounding.

    Returns:
      The output ``(..., out_dim)`` in the parameters' dtype (after ``head`` if one is given).

    Raises:
      ValueError: an unknown ``backward``, or ``"fused"`` with ``residual`` or ``remat``.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=1000, width=32, in_dim=2, out_dim=1)
    >>> jaxact.mlp_forward(p, jnp.ones((8, 2), jnp.float32), "relu", head="sigmoid").shape
    (8, 1)
    """
    if backward not in BACKWARDS:
        raise ValueError(f"mlp_forward: backward must be one of {BACKWARDS}, got {backward!r}.")
    if backward == "fused" and (remat or residual is not False):
        raise ValueError(
            "mlp_forward: backward='fused' is for plain stacks (residual=False, remat=False); "
            f"got residual={residual!r}, remat={remat!r}."
        )
    check_residual("mlp_forward", residual)
    x = check_input(params, x, "mlp_forward")
    phi = activation_fn(activation)
    a0 = _input_layer(params, x)
    if backward == "fused":
        flat = a0.reshape(-1, a0.shape[-1])
        a = _fused_stack(phi, params.weights, params.biases, flat).reshape(a0.shape)
    else:
        a, _ = _scan(params, a0, phi, residual=residual, branch_scale=branch_scale,
                     remat=remat)  # fmt: skip
    y = _readout(params, a)
    head_fn = _resolve_head(head)
    return y if head_fn is None else head_fn(y)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SGDState:
    """The state of :func:`make_sgd_step`'s step: two parameter slots (a pytree).

    ``slots[current]`` holds the parameters; the step writes the updated parameters into the
    other slot and flips ``current``, so that a step jitted with its state donated updates the
    parameters in place: the new weights go into memory the previous step freed, and no
    ``(depth, width, width)`` array is allocated per step. Make one with :func:`init_sgd`.

    Attributes:
      slots: two :class:`MLPParams` of the same shapes.
      current: which slot holds the parameters (static: a jitted step compiles once for each
        value, i.e. twice).
    """

    slots: tuple[MLPParams, MLPParams]
    current: int = dataclasses.field(metadata={"static": True})

    @property
    def params(self) -> MLPParams:
        """The current parameters."""
        return self.slots[self.current]


def init_sgd(params: MLPParams) -> SGDState:
    """The state of :func:`make_sgd_step` for ``params``: they and a spare slot of zeros.

    Args:
      params: from :func:`init_mlp`.

    Returns:
      :class:`SGDState` with ``params`` in slot 0 (the spare slot doubles the parameters'
      memory, as the gradient does in an autodiff step).

    Raises:
      TypeError: ``params`` is not an :class:`MLPParams`.

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=3, width=4)
    >>> state = jaxact.init_sgd(p)
    >>> state.current, state.params is p
    (0, True)
    """
    if not isinstance(params, MLPParams):
        raise TypeError(
            f"init_sgd: params must be an MLPParams (from jaxact.init_mlp), got "
            f"{type(params).__name__}."
        )
    return SGDState((params, jax.tree.map(jnp.zeros_like, params)), 0)


def make_sgd_step(
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    loss: Callable[[jax.Array, jax.Array], jax.Array],
    learning_rate: float,
    *,
    head: str | Callable | None = None,
) -> Callable[[SGDState, ArrayLike, ArrayLike], tuple[SGDState, jax.Array]]:
    """A plain-SGD training step of the scan MLP with the update fused into its reverse pass.

    The step computes ``L = loss(mlp_forward(params, x, activation, head=head), y)`` and
    returns the parameters ``p - learning_rate * dL/dp``. The reverse pass is the one of
    ``mlp_forward(..., backward="fused")`` (only the pre-activations are stored), and each
    hidden layer's new ``W_l, b_l`` are written as soon as its gradient is known, into the
    spare slot of the :class:`SGDState`: no gradient stack exists, and under
    ``jax.jit(step, donate_argnums=0)`` no parameter-sized array is allocated per step
    (on a CPU, a fresh array of tens of MB per step costs its page faults: a sizeable part
    of a step at width >= 256, see ``jaxact bench --parts frameworks``).

    The result equals ``jax.grad`` of the same loss followed by ``p - learning_rate * g`` up
    to float rounding. Plain stacks only (as ``backward="fused"``: no residual, no remat);
    input and output projections and a head are supported (updated like the rest).

    Args:
      activation: the hidden layers' activation, as in :func:`mlp_forward`.
      loss: ``loss(output, y) -> scalar``, e.g. ``lambda o, y: jnp.mean((o - y) ** 2)``.
      learning_rate: the SGD step size, a finite number > 0.
      head: as in :func:`mlp_forward`.

    Returns:
      ``step(state, x, y) -> (state, loss_value)``, not jitted: ``state`` from
      :func:`init_sgd` (``state.params`` are the parameters), ``x`` of shape
      ``(..., in_dim)``, ``loss_value`` the loss before the update. Jit it with
      ``donate_argnums=0`` for the in-place update (it compiles once per slot, twice).

    Raises:
      ValueError: a learning rate that is not finite and > 0; (from the step) ``x`` of the
        wrong shape, or a loss that is not a scalar.
      TypeError: a ``loss`` that is not callable; (from the step) a state that is not an
        :class:`SGDState`, or ``x`` of the wrong dtype.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=20, width=16, in_dim=2, out_dim=1)
    >>> mse = lambda out, y: jnp.mean((out - y) ** 2)
    >>> step = jax.jit(jaxact.make_sgd_step("tanh", mse, 0.05), donate_argnums=0)
    >>> x, y = jnp.ones((8, 2)), jnp.zeros((8, 1))
    >>> state = jaxact.init_sgd(p)
    >>> state, first = step(state, x, y)
    >>> for _ in range(20):
    ...     state, last = step(state, x, y)
    >>> bool(last < first), state.params.weights.shape
    (True, (20, 16, 16))
    """
    if not callable(loss):
        raise TypeError(f"make_sgd_step: loss must be callable loss(output, y), got {loss!r}.")
    lr = check_finite_number("make_sgd_step: learning_rate", learning_rate, positive=True)
    phi = activation_fn(activation)
    head_fn = _resolve_head(head)

    def step(state: SGDState, x: ArrayLike, y: ArrayLike) -> tuple[SGDState, jax.Array]:
        if not isinstance(state, SGDState):
            raise TypeError(
                "sgd step: state must be an SGDState (from jaxact.init_sgd(params)), got "
                f"{type(state).__name__}."
            )
        p, spare = state.params, state.slots[1 - state.current]
        x = check_input(p, x, "sgd step")
        a0, input_vjp = jax.vjp(lambda wb: _input_layer(p._replace(w_in=wb[0], b_in=wb[1]), x),
                                (p.w_in, p.b_in))  # fmt: skip
        flat = a0.reshape(-1, p.width)
        a, hs = _fused_forward(phi, p.weights, p.biases, flat, keep_pre=True)

        def objective(readout, a):
            out = _readout(p._replace(w_out=readout[0], b_out=readout[1]), a.reshape(a0.shape))
            value = loss(out if head_fn is None else head_fn(out), y)
            if jnp.shape(value) != ():
                raise ValueError(
                    f"sgd step: loss must return a scalar, got shape {jnp.shape(value)}."
                )
            return value

        value, (g_readout, g) = jax.value_and_grad(objective, argnums=(0, 1))((p.w_out, p.b_out), a)
        depth = p.depth

        def layer(k, carry):
            g, new_w, new_b = carry
            i = depth - 1 - k
            w = jax.lax.dynamic_index_in_dim(p.weights, i, 0, keepdims=False)
            b = jax.lax.dynamic_index_in_dim(p.biases, i, 0, keepdims=False)
            g, dw, db = _layer_backward(phi, hs, flat, i, w, g)
            # Written into the spare slot, which the loop only writes: updated in place.
            new_w = jax.lax.dynamic_update_index_in_dim(new_w, w - lr * dw, i, 0)
            new_b = jax.lax.dynamic_update_index_in_dim(new_b, b - lr * db, i, 0)
            return g, new_w, new_b

        g, new_w, new_b = jax.lax.fori_loop(0, depth, layer, (g, spare.weights, spare.biases))
        (g_in,) = input_vjp(g.reshape(a0.shape))
        sgd = functools.partial(jax.tree.map, lambda q, d: q - lr * d)
        w_in, b_in = sgd((p.w_in, p.b_in), g_in)
        w_out, b_out = sgd((p.w_out, p.b_out), g_readout)
        new = MLPParams(new_w, new_b, w_in, b_in, w_out, b_out)
        # The old parameters stay in their slot (an output that aliases its donated input
        # costs nothing); the new ones are in the other.
        slots = (p, new) if state.current == 0 else (new, p)
        return SGDState(slots, 1 - state.current), value

    return step


def mlp_trace(
    params: MLPParams,
    x: ArrayLike,
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    *,
    residual: bool | jax.Array = False,
    branch_scale: float | jax.Array = 1.0,
) -> MLPTrace:
    """Per-layer pre-activations and activations from the same scan as :func:`mlp_forward`.

    Args:
      params: from :func:`init_mlp`.
      x: input ``(..., in_dim)`` in the parameters' dtype.
      activation: as in :func:`mlp_forward`.
      residual: as in :func:`mlp_forward`.
      branch_scale: as in :func:`mlp_forward`.

    Returns:
      :class:`MLPTrace`: ``pre`` (pre-activations ``h_l``) and ``post`` (``phi(h_l)``) of
      shape ``(depth, ..., width)``, and ``output``, the network's output ``(..., out_dim)``.

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=4, width=8, in_dim=3, out_dim=2)
    >>> t = jaxact.mlp_trace(p, jax.numpy.ones((5, 3)), "tanh")
    >>> t.pre.shape, t.post.shape
    ((4, 5, 8), (4, 5, 8))
    """
    check_residual("mlp_trace", residual)
    x = check_input(params, x, "mlp_trace")
    phi = activation_fn(activation)
    a, (pre, post) = _scan(
        params,
        _input_layer(params, x),
        phi,
        residual=residual,
        branch_scale=branch_scale,
        remat=False,
        collect=True,
    )
    return MLPTrace(pre, post, _readout(params, a))


def trace_statistics(
    trace: MLPTrace, activation: str | Activation, *, saturation: float = SATURATION
) -> TraceStatistics:
    """Per-layer statistics of a trace, each of shape ``(depth,)``.

    For any model, :func:`jaxact.diagnose` measures the same slope statistics per site from the
    training step itself, without keeping the trace; both use :mod:`jaxact.vocabulary`.

    Args:
      trace: from :func:`mlp_trace`.
      activation: the activation the trace was taken with (a name or a record: its closed-form
        derivative is needed).
      saturation: the threshold, as a fraction of ``sup|phi'|``, below which a nonzero slope
        counts as saturated.

    Returns:
      :class:`TraceStatistics`, every field of shape ``(depth,)``: ``pre_mean``, ``pre_var``
      (over examples and units), ``post_mean``, ``post_var``; ``saturated`` (fraction of
      entries with ``0 < |phi'(h)| < saturation * sup|phi'|``, on a flat part of a saturating
      curve), ``zero_grad`` (fraction with ``phi'(h) == 0`` exactly in the working dtype:
      ReLU's negative side, and also sigmoid where ``sigma'`` underflows, ``|h| > ~88`` in
      float32 - such an entry passes no gradient), ``dead_units`` and ``saturated_units``
      (fractions of units with ``phi'(h) == 0``, or saturated, on every example).

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=3, width=256, init="he")
    >>> x = jax.random.normal(jax.random.key(1), (64, 256), jax.numpy.float32)
    >>> s = jaxact.trace_statistics(jaxact.mlp_trace(p, x, "relu"), "relu")
    >>> s.zero_grad.shape, bool(0.4 < s.zero_grad[0] < 0.6)  # half of ReLU's entries are off
    ((3,), True)
    >>> float(s.saturated[0])  # a ReLU's slope is 0 or 1: never saturated
    0.0
    """
    rec = get_activation(activation)
    if not isinstance(trace, MLPTrace):
        raise TypeError(f"trace_statistics: trace must be an MLPTrace (from jaxact.mlp_trace), "
                        f"got {type(trace).__name__}.")  # fmt: skip
    axes = tuple(range(1, trace.pre.ndim))
    per_layer = jax.vmap(lambda h: slope_statistics(rec.derivative(h), rec.max_slope,
                                                    saturation=saturation))(trace.pre)  # fmt: skip
    return TraceStatistics(
        pre_mean=trace.pre.mean(axes),
        pre_var=trace.pre.var(axes),
        post_mean=trace.post.mean(axes),
        post_var=trace.post.var(axes),
        **{k: per_layer[k] for k in ("saturated", "zero_grad", "dead_units", "saturated_units")},
    )
