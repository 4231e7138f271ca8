"""Where gradients vanish to exactly zero in low precision, and the loss scales that save them.

The lesson's arithmetic - a gradient that shrinks by a factor per layer - has a hard floor in
the formats people train in: float16's smallest positive number is ``2**-24`` (about 6e-8;
normal numbers start at 6.1e-5), so a gradient that shrinks by 0.25 per layer is exactly 0
after about a dozen sigmoid layers. bfloat16 keeps float32's range but has 8 bits of mantissa,
and XLA on CPU flushes subnormal numbers to 0. Mixed-precision training multiplies the loss by
a *loss scale* so that the backward pass stays in range, and chooses it blindly.

:func:`precision_census` runs any JAX model - the same ``loss_fn`` :func:`jaxact.diagnose`
takes - in a low-precision dtype beside a float32 reference from the same parameters and
data, at every loss scale of a list, and says per activation site how much of ``dL/dh`` is
lost to underflow and overflow, per parameter how much of its gradient, and which loss scales
are safe. Everything is counted in the gradient's own dtype by ``diagnose``'s probes
(``gradient_counts=True``).

Definitions (per site, at loss scale ``S``):

* ``underflow``: ``zero_low - zero_ref``, the fraction of ``dL/dh`` entries that are exactly 0
  in low precision, less the fraction that are 0 in the float32 reference (clipped at 0). It
  is the fraction lost to the format when the reference's zeros (units a ReLU blocks) are
  zeros in low precision too, as they are wherever the low-precision forward pass takes the
  same branches.
* ``overflow``: the fraction of entries that are inf or NaN.
* ``norm_error``: ``| ||dL/dh||_low / S - ||dL/dh||_ref | / ||dL/dh||_ref``.

A loss scale is *safe* when no site loses more than ``threshold`` of its entries to underflow
and nothing overflows: no site, no parameter gradient, not the loss.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxact.diagnosis import Site, diagnose

__all__ = ["LOW_PRECISION", "PrecisionCensus", "precision_census", "scale_label"]

#: The low-precision dtypes this JAX has, by name (float8 where JAX has them).
LOW_PRECISION = tuple(
    name for name in ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2") if hasattr(jnp, name)
)


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["loss_scales", "underflow", "overflow", "norm_error", "reference_zero",
                 "reference_norm", "loss", "param_lost", "param_overflow"],
    meta_fields=["sites", "dtype", "threshold"],
)  # fmt: skip
@dataclasses.dataclass(frozen=True)
class PrecisionCensus:
    """What :func:`precision_census` measured: a pytree (``sites``, ``dtype`` and
    ``threshold`` are static).

    Attributes:
      sites: static tuple of :class:`~jaxact.diagnosis.Site`, as ``diagnose`` finds them.
      dtype: static; the low-precision dtype's name.
      threshold: static; the largest fraction of a site's ``dL/dh`` a safe scale may lose.
      loss_scales: ``(n_scales,)`` the loss scales tried, ascending.
      underflow: ``(n_scales, n_sites)`` fraction of ``dL/dh`` lost to underflow (module
        docstring).
      overflow: ``(n_scales, n_sites)`` fraction of ``dL/dh`` entries that are inf or NaN.
      norm_error: ``(n_scales, n_sites)`` relative error of ``||dL/dh||`` (unscaled) against
        the reference; NaN where the reference's is 0.
      reference_zero: ``(n_sites,)`` fraction of the reference's ``dL/dh`` that is exactly 0.
      reference_norm: ``(n_sites,)`` the reference's ``||dL/dh||``.
      loss: ``(n_scales,)`` the low-precision loss (unscaled); inf or NaN if it overflowed.
      param_lost: a pytree like the differentiated argument(s), each leaf ``(n_scales,)``: the
        fraction of the parameter's gradient entries that are 0 in low precision but not in
        the reference.
      param_overflow: the same, for gradient entries that are inf or NaN.
    """

    sites: tuple[Site, ...]
    dtype: str
    threshold: float
    loss_scales: jax.Array
    underflow: jax.Array
    overflow: jax.Array
    norm_error: jax.Array
    reference_zero: jax.Array
    reference_norm: jax.Array
    loss: jax.Array
    param_lost: Any
    param_overflow: Any

    def _ok(self) -> tuple[np.ndarray, np.ndarray]:
        """Per scale and site: no more than ``threshold`` lost and nothing overflowed; and per
        scale, whether the parameters' gradients and the loss stayed finite."""
        under = np.asarray(self.underflow, np.float64)
        over = np.asarray(self.overflow, np.float64)
        sites_ok = (under <= self.threshold) & (over == 0)
        leaves = [np.asarray(v, np.float64) for v in jax.tree.leaves(self.param_overflow)]
        params_ok = np.all([v == 0 for v in leaves], axis=0) if leaves else np.ones(
            len(under), bool)  # fmt: skip
        return sites_ok, params_ok & np.isfinite(np.asarray(self.loss, np.float64))

    def safe(self) -> np.ndarray:
        """``(n_scales,)`` bool: the loss scales at which every site keeps all but
        ``threshold`` of its gradient and nothing overflows."""
        sites_ok, rest_ok = self._ok()
        return np.all(sites_ok, axis=1) & rest_ok

    def safe_loss_scales(self) -> tuple[float, float] | None:
        """The smallest and the largest safe loss scale tried, or ``None`` if none is safe
        (:meth:`conflicts` then says which sites pull apart).

        Returns:
          ``(low, high)`` as floats, or ``None``.
        """
        scales = np.asarray(self.loss_scales, np.float64)[self.safe()]
        return (float(scales[0]), float(scales[-1])) if scales.size else None

    def site_ranges(self) -> list[tuple[float, float] | None]:
        """Per site, the smallest and largest loss scale at which it loses no more than
        ``threshold`` and does not overflow (``None`` where no scale tried does)."""
        sites_ok, _ = self._ok()
        scales = np.asarray(self.loss_scales, np.float64)
        out: list[tuple[float, float] | None] = []
        for i in range(len(self.sites)):
            good = scales[sites_ok[:, i]]
            out.append((float(good[0]), float(good[-1])) if good.size else None)
        return out

    def conflicts(self) -> list[str]:
        """Why no single scale is safe, one line each (empty when one is): a site that no
        scale tried saves, a site that needs a larger scale than another site stands, or
        parameters or a loss that overflow wherever the sites are safe."""
        if self.safe_loss_scales() is not None:
            return []
        names = [s.name for s in self.sites]
        ranges = self.site_ranges()
        never = [names[i] for i, r in enumerate(ranges) if r is None]
        out = []
        if never:
            out.append(f"{len(never)} site(s) lose more than {self.threshold:.0%} or overflow "
                       f"at every loss scale tried (first: {never[0]})")  # fmt: skip
        known = [(i, r) for i, r in enumerate(ranges) if r is not None]
        if known:
            need = max(known, key=lambda t: t[1][0])  # the site that needs the largest scale
            stand = min(known, key=lambda t: t[1][1])  # the site that overflows soonest
            if need[1][0] > stand[1][1]:
                out.append(f"{names[need[0]]} needs a loss scale >= {scale_label(need[1][0])}, "
                           f"but {names[stand[0]]} overflows above "
                           f"{scale_label(stand[1][1])}")  # fmt: skip
        sites_ok, rest_ok = self._ok()
        all_sites = np.all(sites_ok, axis=1)
        if np.any(all_sites) and not np.any(all_sites & rest_ok):
            out.append("at every scale where the sites are safe, a parameter's gradient or "
                       "the loss overflows")  # fmt: skip
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per (scale, site): ``loss_scale``, ``site``, ``underflow``,
        ``overflow``, ``norm_error``."""
        scales = np.asarray(self.loss_scales, np.float64)
        vals = {k: np.asarray(getattr(self, k), np.float64)
                for k in ("underflow", "overflow", "norm_error")}  # fmt: skip
        return [{"loss_scale": float(s), "site": site.name,
                 **{k: float(v[j, i]) for k, v in vals.items()}}
                for j, s in enumerate(scales) for i, site in enumerate(self.sites)]  # fmt: skip

    def summary(self) -> str:
        """What is lost at loss scale 1, the safe range (or the conflicts), and a table of
        the fraction lost per site at each scale (``inf`` where it overflowed)."""
        scales = np.asarray(self.loss_scales, np.float64)
        under = np.asarray(self.underflow, np.float64)
        over = np.asarray(self.overflow, np.float64)
        safe = self.safe_loss_scales()
        head = [f"PrecisionCensus: {self.dtype}, {len(self.sites)} sites, {len(scales)} loss "
                f"scales {scale_label(scales[0])}..{scale_label(scales[-1])}, threshold "
                f"{self.threshold:.0%}"]  # fmt: skip
        first = int(np.argmin(np.abs(np.log2(scales))))  # the scale nearest 1
        lost = [i for i in range(len(self.sites)) if under[first, i] > self.threshold]
        if lost:
            worst = self.sites[max(lost, key=lambda i: under[first, i])].name
            head.append(f"! at loss scale {scale_label(scales[first])}, {len(lost)} of "
                        f"{len(self.sites)} sites lose more than {self.threshold:.0%} of dL/dh "
                        f"to underflow (worst: {worst})")  # fmt: skip
        if safe is None:
            head += ["! no single loss scale is safe:"] + [f"  {c}" for c in self.conflicts()]
        else:
            head.append(f"safe loss scales: {scale_label(safe[0])} to {scale_label(safe[1])}")
        shown = [j for j in range(len(scales)) if j % max(1, len(scales) // 8) == 0]
        width = max(len(s.name) for s in self.sites)
        lines = [f"{'site':<{width}} " + " ".join(f"{scale_label(scales[j]):>8}" for j in shown)]
        for i, s in enumerate(self.sites):
            cells = ["     inf" if over[j, i] > 0 else f"{under[j, i]:>8.3f}" for j in shown]
            lines.append(f"{s.name:<{width}} " + " ".join(cells))
        return "\n".join([*head, "", "fraction of dL/dh lost to underflow per loss scale:",
                          *lines])  # fmt: skip

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        safe = self.safe_loss_scales()
        return (f"PrecisionCensus(dtype={self.dtype}, sites={len(self.sites)}, "
                f"scales={len(np.asarray(self.loss_scales))}, safe={safe})")  # fmt: skip


def scale_label(scale: float) -> str:
    """``2^k`` for a power of two, else ``%g``: how loss scales are shown.

    Args:
      scale: a loss scale.

    Returns:
      The label.

    >>> from jaxact.precision import scale_label
    >>> scale_label(4096.0), scale_label(1.0), scale_label(0.5), scale_label(3.0)
    ('2^12', '2^0', '2^-1', '3')
    """
    m, e = np.frexp(float(scale))
    return f"2^{int(e) - 1}" if m == 0.5 else f"{scale:g}"


def _floating(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic)) and jnp.issubdtype(
        jnp.result_type(x), jnp.floating)  # fmt: skip


def _cast(tree, dtype):
    return jax.tree.map(lambda x: x.astype(dtype) if _floating(x) else x, tree)


def precision_census(
    loss_fn: Callable[..., Any],
    *args: Any,
    dtype=jnp.float16,
    loss_scales: Sequence[float] | None = None,
    threshold: float = 0.01,
    argnums: int | tuple[int, ...] = 0,
    has_aux: bool = False,
) -> PrecisionCensus:
    r"""Where a model's gradients are lost in a low-precision dtype, and which loss scales save
    them.

    The model runs twice per loss scale ``S``: every floating-point leaf of ``args``
    (parameters and data) cast to ``dtype``, the loss multiplied by ``S`` (in float32, as
    mixed-precision training does), and differentiated with
    :func:`~jaxact.diagnose`\ ``(..., gradient_counts=True)``; beside it, once, the same
    ``args`` in float32. See :mod:`jaxact.precision` for the definitions.

    Args:
      loss_fn: the loss, as for :func:`~jaxact.diagnose` (any flax, equinox or plain JAX
        model).
      *args: its arguments; ``args[argnums]`` are differentiated.
      dtype: the low-precision dtype: one of :data:`LOW_PRECISION` (float16, bfloat16, ...).
      loss_scales: the scales to try, each > 0 (default ``2**0 .. 2**24``); sorted.
      threshold: the largest fraction of a site's ``dL/dh`` a safe scale may lose, in
        ``[0, 1)``.
      argnums: as in :func:`jax.grad`.
      has_aux: ``loss_fn`` returns ``(loss, aux)``.

    Returns:
      :class:`PrecisionCensus`: per scale and site the fractions lost to underflow and
      overflow, the norm error, per parameter the fraction lost;
      :meth:`~PrecisionCensus.safe_loss_scales` gives the safe range.

    Raises:
      TypeError: ``dtype`` is not a low-precision floating dtype, or the model does not run in
        it (the model's own error is named).
      ValueError: a bad loss scale or threshold.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.precision import precision_census
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=16, width=16, init="glorot", out_dim=1)
    >>> x = jax.random.normal(jax.random.key(1), (8, 16))
    >>> def loss(p, x):
    ...     return jnp.mean(jaxact.mlp_forward(p, x, "sigmoid") ** 2)
    >>> c = precision_census(loss, p, x, dtype=jnp.float16, loss_scales=[1.0, 2.0**10])
    >>> c.sites[0].activation, float(c.underflow[0, 0])  # at scale 1 the first site's is gone
    ('sigmoid', 1.0)
    >>> print(c.summary().splitlines()[1])  # doctest: +ELLIPSIS
    ! at loss scale 2^0, ... of 16 sites lose more than 1% of dL/dh to underflow (worst: ...)
    """
    name = jnp.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in LOW_PRECISION:
        raise TypeError(f"precision_census: dtype must be one of {LOW_PRECISION} (the "
                        f"reference runs in float32), got {dtype!r}.")  # fmt: skip
    low = jnp.dtype(name)
    if loss_scales is None:
        loss_scales = [2.0**k for k in range(25)]
    scales = np.asarray(sorted(loss_scales), np.float64)
    if scales.ndim != 1 or not scales.size or not np.all(np.isfinite(scales) & (scales > 0)):
        raise ValueError(f"precision_census: loss_scales must be finite numbers > 0, got "
                         f"{list(loss_scales)!r:.80}.")  # fmt: skip
    if len(set(scales.tolist())) != scales.size:
        raise ValueError("precision_census: loss_scales has repeats.")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
            0 <= threshold < 1):  # fmt: skip
        raise ValueError(f"precision_census: threshold must be in [0, 1), got {threshold!r}.")
    # The reference pass validates argnums (with the user's numbering) before the shift.
    ref = diagnose(loss_fn, *_cast(args, jnp.float32), argnums=argnums, has_aux=has_aux,
                   gradient_counts=True)  # fmt: skip
    # The scale is scaled()'s first argument, so the user's argument k is argument k + 1.
    shifted = argnums + 1 if isinstance(argnums, int) else tuple(k + 1 for k in argnums)

    def scaled(s, *a):
        out = loss_fn(*a)
        loss, aux = out if has_aux else (out, None)
        value = s * jnp.asarray(loss).astype(jnp.float32)
        return (value, aux) if has_aux else value

    lp_args = _cast(args, low)

    @jax.jit
    def run(scales):
        def body(s):  # one low-precision pass at loss scale s
            d = diagnose(scaled, s, *lp_args, argnums=shifted, has_aux=has_aux,
                         gradient_counts=True)  # fmt: skip
            lost = jax.tree.map(
                lambda g, r: jnp.mean((g == 0) & (r != 0), dtype=jnp.float32), d.grads, ref.grads
            )
            bad = jax.tree.map(lambda g: jnp.mean(~jnp.isfinite(g), dtype=jnp.float32), d.grads)
            return (d.grad_zero, d.grad_nonfinite, d.grad_norm, d.loss / s, lost, bad)

        return jax.lax.map(body, scales)

    try:
        zero, nonfinite, norms, loss, lost, bad = run(jnp.asarray(scales, jnp.float32))
    except (TypeError, ValueError) as err:
        raise TypeError(f"precision_census: the model does not run in {name}: "
                        f"{str(err).splitlines()[0]}") from err  # fmt: skip
    s = jnp.asarray(scales, jnp.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = jnp.abs(norms / s - ref.grad_norm) / ref.grad_norm
    return PrecisionCensus(
        sites=ref.sites,
        dtype=name,
        threshold=float(threshold),
        loss_scales=jnp.asarray(scales, jnp.float32),
        underflow=jnp.maximum(zero - ref.grad_zero, 0.0),
        overflow=nonfinite,
        norm_error=jnp.where(ref.grad_norm > 0, err, jnp.nan),
        reference_zero=ref.grad_zero,
        reference_norm=ref.grad_norm,
        loss=loss,
        param_lost=lost,
        param_overflow=bad,
    )
