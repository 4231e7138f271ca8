"""Gradient attenuation through depth: per-layer Jacobians and backward gradient norms.

Two views of the same effect:

* **Forward (Jacobians).** :func:`layer_jacobians` differentiates every hidden layer's output
  ``a_l`` with respect to the network input ``x`` with one :func:`jax.jacfwd` through the scan:
  ``J_l = d a_l / d x = D_l W_l^T ... D_1 W_1^T`` (``D_k = diag(phi'(h_k))``), shape
  ``(depth, width, in_dim)`` per example. Its norms shrink geometrically where ``phi'`` is
  small.
* **Backward (gradients).** :func:`layer_gradient_norms` gets ``dLoss/dh_l`` for every layer
  and ``dLoss/dW_l`` from one backward pass: it is :func:`jaxact.diagnose` on the MLP, with
  each pre-activation tapped. This is what training sees.

:func:`gradient_attenuation` summarises the backward view as a geometric rate per layer — the
factor by which the gradient norm is multiplied each time it passes one layer back towards the
input — so "sigmoid attenuates by about 1/4 per layer" becomes a number with a fit behind it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike

from jaxact.activations import Activation, activation_fn, activation_name
from jaxact.diagnosis import diagnose, tap
from jaxact.mlp import MLPParams, check_input, hidden_weight_norms, mlp_forward, mlp_trace
from jaxact.vocabulary import SIGNAL_LOST, fit_rate, signal_lost

__all__ = [
    "AttenuationResult",
    "GradientNorms",
    "SIGNAL_LOST",
    "JacobianNorms",
    "fit_rate",
    "gradient_attenuation",
    "jacobian_norms",
    "layer_gradient_norms",
    "layer_jacobians",
    "signal_lost",
]


def layer_jacobians(
    params: MLPParams,
    x: ArrayLike,
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    *,
    residual: bool = False,
) -> jax.Array:
    """Jacobian of every hidden layer's output with respect to the network input.

    One ``jax.jacfwd`` through the scan (``in_dim`` tangents pushed forward together), vmapped
    over any leading batch dimensions of ``x``.

    Args:
      params: MLP parameters.
      x: input of shape ``(..., in_dim)``.
      activation: hidden activation (a name, a record or a callable).
      residual: as in :func:`~jaxact.mlp_forward`.

    Returns:
      ``J`` of shape ``(..., depth, width, in_dim)`` with ``J[..., l, i, j] = d a_l[i] / d x[j]``.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=5, width=16, in_dim=3)
    >>> jaxact.layer_jacobians(p, jnp.ones((4, 3), jnp.float32), "tanh").shape
    (4, 5, 16, 3)
    """
    x = check_input(params, x, "layer_jacobians")

    def hidden(v):
        return mlp_trace(params, v, activation, residual=residual).post

    jac = jax.jacfwd(hidden)
    for _ in range(x.ndim - 1):
        jac = jax.vmap(jac)
    return jac(x)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class JacobianNorms:
    """Norms of each layer's Jacobian (:func:`jacobian_norms`), a pytree.

    Attributes:
      frobenius, spectral: ``(..., depth)``.
      singular_values: ``(..., depth, min(width, in_dim))``, descending.
    """

    frobenius: jax.Array
    spectral: jax.Array
    singular_values: jax.Array


def jacobian_norms(jacobians: jax.Array) -> JacobianNorms:
    """Frobenius norm, spectral norm and singular values of each layer's Jacobian.

    Args:
      jacobians: ``(..., depth, width, in_dim)`` from :func:`layer_jacobians`.

    Returns:
      :class:`JacobianNorms`: ``frobenius`` and ``spectral`` of shape ``(..., depth)``, and
      ``singular_values`` ``(..., depth, min(width, in_dim))`` in descending order.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.attenuation import jacobian_norms
    >>> n = jacobian_norms(jnp.stack([2 * jnp.eye(3), jnp.diag(jnp.array([3.0, 4.0, 0.0]))]))
    >>> n.spectral.tolist(), n.frobenius.tolist()
    ([2.0, 4.0], [3.464101552963257, 5.0])
    """
    sv = jnp.linalg.svd(jacobians, compute_uv=False)
    return JacobianNorms(
        frobenius=jnp.sqrt(jnp.sum(jacobians**2, axis=(-2, -1))),
        spectral=sv[..., 0],
        singular_values=sv,
    )


def _default_loss(key: jax.Array) -> Callable[[jax.Array], jax.Array]:
    """``L(y) = mean over examples of <y, u>``, ``u`` a fixed random unit vector.

    Linear in the output, so ``dL/dy`` is the same for every network and the measured norms
    show only what the layers do to the gradient on its way back.
    """

    def loss(y):
        u = jr.normal(key, (y.shape[-1],), y.dtype)
        u = u / jnp.linalg.norm(u)
        return jnp.mean(y @ u)

    return loss


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GradientNorms:
    """Per-layer gradient norms from :func:`layer_gradient_norms`, a pytree.

    Attributes:
      pre: ``(depth,)`` Frobenius norm of ``dL/dh_l`` over the whole batch, layer 1 first.
      weights: ``(depth,)`` norm of ``dL/dW_l``.
      loss: the scalar loss.
    """

    pre: jax.Array
    weights: jax.Array
    loss: jax.Array


def layer_gradient_norms(
    params: MLPParams,
    x: ArrayLike,
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    *,
    loss: Callable[[jax.Array], jax.Array] | None = None,
    residual: bool = False,
    remat: bool = False,
    loss_key: jax.Array | None = None,
) -> GradientNorms:
    """Norms of ``dLoss/dh_l`` and ``dLoss/dW_l`` for every layer, from one backward pass.

    This is :func:`jaxact.diagnose` on the network, with each hidden pre-activation ``h_l``
    marked by :func:`jaxact.tap` (so any callable activation works).

    Args:
      params: MLP parameters.
      x: a batch ``(..., in_dim)``.
      activation: hidden activation (a name, a record or a callable).
      loss: ``loss(y) -> scalar`` of the network output (before any head). Default: the mean
        over examples of ``<y, u>`` with ``u`` a fixed random unit vector (``loss_key``,
        default ``jax.random.key(0)``), which makes ``dL/dy`` identical for every network.
      residual: as in :func:`~jaxact.mlp_forward`.
      remat: as in :func:`~jaxact.mlp_forward`.

    Returns:
      :class:`GradientNorms`: ``pre`` (norm of ``dL/dh_l`` over the batch) and ``weights``
      (norm of ``dL/dW_l``), each of shape ``(depth,)`` with layer 1 first, and the scalar
      ``loss``.

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=8, width=64, init="he")
    >>> x = jax.random.normal(jax.random.key(1), (32, 64), jax.numpy.float32)
    >>> g = jaxact.layer_gradient_norms(p, x, "relu")
    >>> g.pre.shape, bool(0.2 < g.pre[0] / g.pre[-1] < 5)  # He-initialised ReLU: no decay
    ((8,), True)
    """
    x = check_input(params, x, "layer_gradient_norms")
    phi = activation_fn(activation)
    key = loss_key if loss_key is not None else jr.key(0)
    loss = loss if loss is not None else _default_loss(key)

    def tapped(h):
        return phi(tap(h, _TAP))

    def objective(p):
        return loss(mlp_forward(p, x, tapped, residual=residual, remat=remat))

    diag = diagnose(objective, params)
    hidden = [i for i, s in enumerate(diag.sites) if s.activation == "tap" and _TAP in s.name]
    return GradientNorms(
        pre=diag.grad_norm[jnp.asarray(hidden)],
        weights=hidden_weight_norms(diag.grads),
        loss=diag.loss,
    )


_TAP = "jaxact.layer_gradient_norms/h"


@dataclasses.dataclass(frozen=True)
class AttenuationResult:
    """Per-layer gradient norms and the geometric rate fitted to them.

    Attributes:
      activation: name of the hidden activation.
      grad_norms: ``(depth,)`` norm of ``dLoss/dh_l``, layer 1 (next to the input) first.
      weight_grad_norms: ``(depth,)`` norm of ``dLoss/dW_l``.
      rate: the per-layer factor: fitting ``log ||g_l|| = c + (depth - l) log(rate)`` by least
        squares; below 1 the gradient vanishes towards the input, above 1 it explodes.
      total: ``||g_1|| / ||g_depth||``, the attenuation across the whole stack.
      fit_rms: RMS residual of the log fit, in natural-log units (how geometric it is).
    """

    activation: str
    grad_norms: np.ndarray
    weight_grad_norms: np.ndarray
    rate: float
    total: float
    fit_rms: float

    @property
    def depth(self) -> int:
        return len(self.grad_norms)

    def depth_to(self, k: float = 6.0) -> float:
        """Layers back from the output for the gradient to fall by ``10**-k``, at the fitted rate.

        ``inf`` when the rate is >= 1 (no attenuation).
        """
        if self.rate >= 1.0 or self.rate <= 0.0:
            return math.inf
        return k * math.log(10.0) / -math.log(self.rate)

    def measured_depth_to(self, k: float = 6.0) -> int | None:
        """The first number of layers back from the output at which the measured norm is below
        ``10**-k`` of the last layer's; ``None`` if it never falls that far within the network."""
        rel = self.grad_norms[::-1] / self.grad_norms[-1]
        below = np.nonzero(rel < 10.0 ** (-k))[0]
        return int(below[0]) if below.size else None

    def __repr__(self) -> str:
        d6 = self.depth_to(6.0)
        d6s = "never" if math.isinf(d6) else f"{d6:.1f} layers"
        return (
            f"AttenuationResult({self.activation}, depth={self.depth}: gradient x{self.rate:.4g} "
            f"per layer (fit rms {self.fit_rms:.2g} in log), x{self.total:.3g} over the stack, "
            f"1e-6 after {d6s})"
        )


def gradient_attenuation(
    params: MLPParams,
    x: ArrayLike,
    activation: str | Activation | Callable[[jax.Array], jax.Array],
    *,
    loss: Callable[[jax.Array], jax.Array] | None = None,
    residual: bool = False,
    remat: bool = False,
) -> AttenuationResult:
    """Measure how the gradient shrinks (or grows) layer by layer on the way back to the input.

    Runs :func:`layer_gradient_norms` (one forward and one backward pass) and fits the
    geometric rate.

    Args:
      params: MLP parameters (:func:`~jaxact.init_mlp`), ``depth`` hidden layers.
      x: a batch ``(..., in_dim)`` in the parameters' dtype.
      activation: hidden activation (a name, a record or a callable).
      loss: ``loss(y) -> scalar`` of the network output; default as in
        :func:`layer_gradient_norms`.
      residual: as in :func:`~jaxact.mlp_forward`.
      remat: as in :func:`~jaxact.mlp_forward`.

    Returns:
      :class:`AttenuationResult`: ``grad_norms`` and ``weight_grad_norms`` of shape
      ``(depth,)`` (layer 1 first), the fitted per-layer ``rate``, the ``total`` attenuation
      and the fit's RMS residual.

    Raises:
      ValueError: fewer than 2 hidden layers (no rate to fit).
      FloatingPointError: the network overflowed (the layer is named).

    >>> import jax, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=30, width=128, init="lecun")
    >>> x = jax.random.normal(jax.random.key(1), (64, 128), jax.numpy.float32)
    >>> r = jaxact.gradient_attenuation(p, x, "sigmoid")
    >>> r.rate < 0.25
    True
    """
    name = activation_name(activation)
    if isinstance(params, MLPParams) and params.depth < 2:
        raise ValueError(f"gradient_attenuation: a per-layer rate needs at least 2 hidden "
                         f"layers, got depth {params.depth}.")  # fmt: skip
    out = layer_gradient_norms(params, x, activation, loss=loss, residual=residual, remat=remat)
    norms = np.asarray(out.pre, np.float64)
    lost = signal_lost(norms)
    if lost is not None and lost[0] == "overflow":
        bad = lost[1]
        raise FloatingPointError(
            f"gradient_attenuation: the gradient at hidden layer {bad} (of {norms.size}) is "
            f"{norms[bad - 1]}; the network overflowed. Lower sigma_w2 or the depth."
        )
    rate, rms = fit_rate(norms)
    total = float(norms[0] / norms[-1]) if norms[-1] > 0 else math.nan
    return AttenuationResult(
        activation=name,
        grad_norms=norms,
        weight_grad_norms=np.asarray(out.weights, np.float64),
        rate=rate,
        total=total,
        fit_rms=rms,
    )
