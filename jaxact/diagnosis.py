"""Diagnose any JAX model: gradients, saturation and dead units at every activation site.

:func:`diagnose` takes a loss function and its arguments - a flax, equinox or plain-JAX model,
unchanged - and returns, from **one** forward and one backward pass, the loss, the gradient of
the loss with respect to ``args[0]`` and, for every *activation site* (each place where an
activation function is applied to a tensor ``h``):

* ``grad_norm``: ``||dLoss/dh||_F``, the gradient that flows back through the activation into
  its input, over the whole site tensor;
* ``pre_mean``, ``pre_std``: the mean and (population) standard deviation of ``h``;
* ``saturated``: the fraction of entries with ``0 < |phi'(h)| < saturation * sup|phi'|``;
* ``zero_grad``: the fraction with ``phi'(h) == 0`` (exactly, in the working dtype);
* ``dead_units``: the fraction of units (the last axis) with ``phi'(h) == 0`` for every example
  (over all the other axes): units that passed no gradient at all on this batch;
* ``saturated_units``: the fraction of units saturated on every example.

These words are defined once, in :mod:`jaxact.vocabulary`, for every producer.

How it works
------------
The loss function is traced to a jaxpr once (:func:`jax.make_jaxpr`, at trace time when
``diagnose`` is called inside :func:`jax.jit`). Activation sites are found in it:

* calls of jaxact's activations (``custom_jvp_call[name=jaxact_relu]``) and of the named
  ``jax.nn`` functions (``relu``, ``relu6`` are ``custom_jvp`` calls; ``silu``, ``elu``,
  ``softplus``, ... named ``jit`` calls);
* inline elementwise code that computes an activation of the catalogue: ``lax.tanh``,
  ``lax.logistic`` (``jax.nn.sigmoid``), ``jnp.maximum(x, 0)``, ``x * (x > 0)``,
  ``jnp.where(x > 0, x, 0)``, ``jnp.logaddexp(x, 0)``, a GELU written with ``x / sqrt(2)``,
  and ``jax.nn.gelu`` in both forms (it is not a named call in jax 0.10). A chain of
  elementwise operations that depends on one tensor only (and on scalar constants) is
  evaluated at trace time on probe points and compared with every activation of
  :data:`jaxact.ACTIVATIONS`, and with the leaky ReLU and swish of any slope or scale
  (``jnp.maximum(x, 0.2 * x)``, ``x * sigmoid(1.7 * x)``: one site on ``x``); the largest
  chain that matches is the site. A chain built like an activation (a comparison, a
  ``max``/``where``, ``tanh``, ``erf``, ...) that matches nothing, or whose tensor is too small
  to tell activations apart, is reported (a warning and ``Diagnosis.not_instrumented``), never
  dropped in silence. The statistics of normalisation layers (anything computed from
  reductions alone, such as the ``maximum(var, 0)`` clamp of a LayerNorm) are not sites;
* :func:`tap`: any other tensor a user marks.

Sites are found inside ``jit``, ``vmap`` (a vmapped activation is one site with the batch
axes), ``lax.scan`` (each iteration is its own site: ``equinox.nn.MLP(scan=True)``,
``flax.linen.scan``, jaxact's scan MLP), ``checkpoint``/``remat``. The loss is then evaluated
again from the jaxpr with each site's input passed through a *probe*: an identity whose
``custom_vjp`` backward rule returns ``sum(ct**2)`` as the gradient of a zero probe (twice: as
it is, and with ``ct`` scaled by ``2**64``, so that a gradient of entries near 1e-20, whose
squares flush to 0 in float32, still gets its norm).
Differentiating with respect to those scalars gives every site's ``||dLoss/dh||**2`` from the
ordinary backward pass; the forward statistics are reduced where they are computed. No
activation tensor is kept: the extra memory is O(number of sites) scalars. A primitive that
cannot be instrumented (``while_loop``, ``cond``, a ``custom_vjp``, a ``custom_jvp`` that is not
an activation, a ``shard_map`` inside the loss, ...) runs and is differentiated as it is: its
sites are not measured, which a warning and ``Diagnosis.not_instrumented`` say (naming the
primitive and its first site); the sites outside it, taps included, are measured as usual.

Inside ``shard_map`` - ``diagnose`` called in the per-shard function, as a data-parallel
training step calls ``value_and_grad`` - every site is measured: ``grads`` and ``loss`` are the
shard's own (as ``value_and_grad``'s), the forward statistics are the shard's, and
``grad_norm`` is the norm of the whole activation's gradient, every shard's part summed
(``sqrt(psum ||dL_shard/dh_shard||^2)``), the same on every shard.

Losses are not activations: ``jax.nn.log_sigmoid``, ``log_softmax``, ``softmax`` and
``logsumexp`` calls are not looked into (``optax``'s cross-entropies use them), and inline
``log_sigmoid`` code is not matched; tap their input to measure them. jaxact's own
``identity`` and ``log_sigmoid``, called by name, are sites like its other activations.

>>> import jax, jax.numpy as jnp, jaxact
>>> w = jnp.full((4, 4), 0.5)
>>> def loss(w, x):
...     return jnp.sum(jax.nn.relu(x @ w) ** 2)
>>> step = jax.jit(lambda w, x: jaxact.diagnose(loss, w, x))  # jit at the outermost call
>>> d = step(w, jnp.ones((2, 4)))
>>> [s.activation for s in d.sites], d.grad_norm.shape
(['relu'], (1,))
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore
from jax.extend import source_info_util

from jaxact.activations import ACTIVATIONS, JAXPR_NAME_PREFIX
from jaxact.vocabulary import SATURATION, fit_rate, slope_statistics, wide_dtype

__all__ = [
    "STATISTICS",
    "Diagnosis",
    "Site",
    "UnitActivity",
    "diagnose",
    "relative_gradients",
    "tap",
]

#: The per-site statistics of a :class:`Diagnosis`, each an array ``(len(sites),)``.
STATISTICS = (
    "grad_norm",
    "pre_mean",
    "pre_std",
    "saturated",
    "zero_grad",
    "dead_units",
    "saturated_units",
)
_FORWARD = STATISTICS[1:]

#: The thresholds :meth:`Diagnosis.findings` flags by default: a site's gradient below
#: ``VANISHING`` or above ``EXPLODING`` times the last site's; more than ``DEAD`` of its units
#: dead or ``SATURATED`` of its entries saturated on the batch.
VANISHING, EXPLODING, DEAD, SATURATED = 1e-3, 1e3, 0.5, 0.5

# --------------------------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True)
class Site:
    """One activation site: where an activation was applied to a tensor ``h``.

    Attributes:
      name: ``layer/activation (file:line)``. The layer that feeds the site is its module
        path from the name stack where the framework records one (flax: ``MLP/Dense_3``),
        else its field path in the model when its parameters are found behind the site's
        input (equinox: ``layers[3]``, the parent of ``.layers[3].weight``); without either,
        the activation and the source ``file:line`` of the call. ``[i]`` is the iteration of
        an enclosing ``lax.scan`` (nested scans: ``[i][j]``); ``#k`` tells apart sites that
        would otherwise share a name.
      activation: the registry name (``"relu"``, ``"gelu_tanh"``, ...), a ``jax.nn`` name that
        jaxact does not have, or ``"tap"``.
      shape: the shape of ``h`` (the site tensor; its last axis holds the units).
    """

    name: str
    activation: str
    shape: tuple[int, ...]


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=[
        "loss",
        "grads",
        "aux",
        *STATISTICS,
        "param_grad_norms",
        "param_norms",
        "unit_active",
        "grad_zero",
        "grad_nonfinite",
    ],
    meta_fields=["sites", "not_instrumented"],
)
@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` measured: a pytree (``sites`` is static), safe to return from jit.

    Attributes:
      loss: the scalar loss.
      grads: ``dLoss/dargs[0]``, a pytree like ``args[0]`` (``None`` at leaves that are not
        floating-point arrays), so a training step can use it as ``value_and_grad``'s.
      aux: ``loss_fn``'s auxiliary output with ``has_aux=True``, else ``None``.
      sites: static tuple of :class:`Site`, in forward execution order.
      grad_norm: ``(n_sites,)`` Frobenius norm of ``dLoss/dh`` at each site. The statistics
        are float32, or float64 where a site is float64.
      pre_mean, pre_std: ``(n_sites,)`` mean and standard deviation of ``h``.
      saturated: ``(n_sites,)`` fraction of entries with
        ``0 < |phi'(h)| < saturation sup|phi'|`` (entries with ``phi'(h) == 0`` are
        ``zero_grad``, not saturated; :mod:`jaxact.vocabulary`).
      zero_grad: ``(n_sites,)`` fraction of entries with ``phi'(h) == 0``.
      dead_units: ``(n_sites,)`` fraction of units (last axis) with ``phi'(h) == 0`` on every
        example.
      saturated_units: ``(n_sites,)`` fraction of units saturated but not dead on every
        example: ``0 < |phi'(h)| < saturation sup|phi'|`` (a sigmoid unit stuck on a tail).
        ``saturated``, ``zero_grad``, ``dead_units`` and ``saturated_units`` are NaN at taps.
      param_grad_norms, param_norms: pytrees like ``args[0]``: the Frobenius norm of each
        leaf's gradient and of the leaf.
      unit_active: ``(total_units,)`` float32, every site's units one after the other (a
        site's units are the last axis of its ``h``): 1 where the unit's ``phi'(h)`` is
        nonzero on some example of the batch, 0 where it is zero on all (dead on this batch),
        NaN at taps. :class:`UnitActivity` accumulates it over batches.
      grad_zero: with ``gradient_counts=True``, ``(n_sites,)``: the fraction of ``dL/dh``
        entries that are exactly 0 in the gradient's dtype (else ``None``).
      grad_nonfinite: with ``gradient_counts=True``, ``(n_sites,)``: the fraction of ``dL/dh``
        entries that are inf or NaN (else ``None``).
      not_instrumented: static; one line per region the sites of which are not measured (an
        activation inside a ``while_loop``, ``cond`` or custom rule): the model runs and
        differentiates through it unchanged, but its sites are not in ``sites``.
    """

    loss: jax.Array
    grads: Any
    aux: Any
    sites: tuple[Site, ...]
    grad_norm: jax.Array
    pre_mean: jax.Array
    pre_std: jax.Array
    saturated: jax.Array
    zero_grad: jax.Array
    dead_units: jax.Array
    saturated_units: jax.Array
    param_grad_norms: Any
    param_norms: Any
    unit_active: Any = None
    grad_zero: Any = None
    grad_nonfinite: Any = None
    not_instrumented: tuple[str, ...] = ()

    # -- reading the result (after ``jax.device_get``; a history stacked over steps, e.g.
    # ``jax.tree.map(np.stack, ...)`` or ``train(diagnose_every=k)``'s, reads its last step) --

    @property
    def steps(self) -> int | None:
        """The number of steps of a stacked history (statistics ``(steps, n_sites)``), or
        ``None`` for one diagnosis."""
        shape = np.shape(self.grad_norm)
        if len(shape) == 1:
            return None
        if len(shape) == 2:
            return shape[0]
        raise ValueError(f"Diagnosis: statistics of shape {shape}; expected (n_sites,) or "
                         "(steps, n_sites) (a history stacked over steps).")  # fmt: skip

    def unstack(self) -> list[Diagnosis]:
        """A stacked history as one :class:`Diagnosis` per step (one diagnosis: ``[self]``)."""
        if self.steps is None:
            return [self]
        return [jax.tree.map(lambda a, i=i: a[i], self) for i in range(self.steps)]

    def _values(self) -> dict[str, np.ndarray]:
        """Each statistic as float64: ``(n_sites,)``, or ``(steps, n_sites)`` for a history."""
        return {k: np.asarray(getattr(self, k), np.float64) for k in STATISTICS}

    def _last(self) -> dict[str, np.ndarray]:
        """Each statistic of the last (or only) step, as float64 ``(n_sites,)``."""
        return {k: v if v.ndim == 1 else v[-1] for k, v in self._values().items()}

    def rows(self) -> list[dict[str, Any]]:
        """The sites as rows (dicts): ``site``, ``activation``, ``shape`` and every statistic
        (a ``step`` index too, for a stacked history), ready for a CSV or a DataFrame."""
        out = []
        for step, d in enumerate(self.unstack()):
            values = d._values()
            for i, site in enumerate(self.sites):
                row = {"site": site.name, "activation": site.activation, "shape": site.shape}
                if self.steps is not None:
                    row = {"step": step, **row}
                out.append(row | {k: float(v[i]) for k, v in values.items()})
        return out

    def site(self, name: str) -> dict[str, Any]:
        """The statistics of the site called ``name`` (or the one site whose name contains
        it): floats, or arrays over steps for a stacked history.

        Raises:
          KeyError: no site matches, or several do (the candidates are listed).
        """
        names = [s.name for s in self.sites]
        hits = [i for i, n in enumerate(names) if n == name]
        hits = hits or [i for i, n in enumerate(names) if name in n]
        if len(hits) != 1:
            shown = ", ".join(names[i] for i in hits) if hits else ", ".join(names[:8])
            what = "several sites match" if hits else "no site matches"
            raise KeyError(f"Diagnosis.site({name!r}): {what}: {shown}")
        i = hits[0]
        stats = {k: v[..., i] for k, v in self._values().items()}
        return {"site": names[i], "activation": self.sites[i].activation,
                "shape": self.sites[i].shape} | {
            k: (float(v) if v.ndim == 0 else v) for k, v in stats.items()}  # fmt: skip

    def table(self) -> str:
        """The sites as a text table, one line each (after ``jax.device_get``); a stacked
        history shows its last step. ``sat``, ``zero`` and ``dead`` are fractions (0 to 1) of
        the site's entries, entries and units, measured on this batch."""
        rows = [f"{'site':<44} {'activation':<11} {'|dL/dh|':>10} {'mean h':>8} {'std h':>8} "
                f"{'sat':>5} {'zero':>5} {'dead':>5}"]  # fmt: skip
        v = self._last()
        for i, s in enumerate(self.sites):
            g, m, sd, sat, z, dead = (v[k][i] for k in STATISTICS[:6])
            rows.append(f"{s.name[-44:]:<44} {s.activation:<11} {g:>10.3e} {m:>8.3f} {sd:>8.3f} "
                        f"{sat:>5.2f} {z:>5.2f} {dead:>5.2f}")  # fmt: skip
        note = ("sat: fraction of entries with 0 < |phi'(h)| < the saturation threshold; zero: "
                "with phi'(h) = 0; dead: fraction of units with phi'(h) = 0 on every example "
                "of this batch (jaxact.vocabulary)")  # fmt: skip
        if self.steps is not None:
            note = f"step {self.steps - 1} of a history of {self.steps}; " + note
        return "\n".join([*rows, note])

    def findings(self, *, vanishing: float = VANISHING, exploding: float = EXPLODING,
                 dead: float = DEAD, saturated: float = SATURATED) -> list[str]:  # fmt: skip
        """What is wrong, one sentence each (empty when nothing is), with the thresholds.

        Args:
          vanishing: flag sites whose ``||dL/dh||`` is below this fraction of the last
            (output-nearest) site's.
          exploding: flag sites above this multiple of it.
          dead: flag sites with more than this fraction of units dead on this batch.
          saturated: flag sites with more than this fraction of entries saturated.

        Returns:
          The findings (strings), worst kind first.
        """
        v, names = self._last(), [s.name for s in self.sites]
        out = [f"not measured: {r}" for r in self.not_instrumented]
        rel = relative_gradients(v["grad_norm"])
        low = [i for i in range(len(names)) if rel[i] < vanishing]
        if low:
            worst = int(np.nanargmin(rel))
            out.append(f"vanishing gradient: {len(low)} of {len(names)} sites get less than "
                       f"{vanishing:g} of the last site's ||dL/dh|| (worst: {names[worst]}, "
                       f"{rel[worst]:.2g})")  # fmt: skip
        high = [i for i in range(len(names)) if rel[i] > exploding]
        if high:
            worst = int(np.nanargmax(rel))
            out.append(f"exploding gradient: {len(high)} of {len(names)} sites get more than "
                       f"{exploding:g} times the last site's ||dL/dh|| (worst: {names[worst]}, "
                       f"{rel[worst]:.3g}x)")  # fmt: skip
        checks = (
            (
                "dead_units",
                dead,
                "of their units dead on this batch (phi'(h) = 0 on every example; "
                "UnitActivity tells dead on every batch)",
            ),
            ("saturated", saturated, "of their entries saturated"),
        )
        for key, limit, what in checks:
            bad = [i for i in range(len(names)) if v[key][i] > limit]
            if bad:
                worst = max(bad, key=lambda i: v[key][i])
                out.append(f"{len(bad)} of {len(names)} sites have more than {limit:.0%} {what} "
                           f"(worst: {names[worst]}, {v[key][worst]:.0%})")  # fmt: skip
        return out

    def summary(self, **thresholds: float) -> str:
        """What :func:`diagnose` found, led by what is wrong: the findings (see
        :meth:`findings`, whose thresholds it takes), the fitted per-site rate of the gradient,
        then per site the gradient relative to the last site and the flags."""

        v, n = self._last(), len(self.sites)
        findings = self.findings(**thresholds)
        loss = float(np.asarray(self.loss, np.float64).reshape(-1)[-1])
        head = [
            f"Diagnosis: loss {loss:.4g}, {n} activation sites"
            + (f" (last of {self.steps} steps)" if self.steps is not None else "")
        ]
        head += [f"! {f}" for f in findings] or ["no vanishing, exploding, dead or saturated "
                                                 "sites at the default thresholds"]  # fmt: skip
        if n >= 2:
            rate, rms = fit_rate(v["grad_norm"])
            if math.isfinite(rate):
                head.append(f"||dL/dh|| changes by x{rate:.3g} per site going back (geometric "
                            f"fit over the {n} sites in order, rms {rms:.2g} in log)")  # fmt: skip
        rel = relative_gradients(v["grad_norm"])
        lines = [f"{'site':<44} {'activation':<11} {'|dL/dh| / last':>14} {'dead':>5} "
                 f"{'sat':>5}"]  # fmt: skip
        for i, s in enumerate(self.sites):
            lines.append(f"{s.name[-44:]:<44} {s.activation:<11} {rel[i]:>14.3g} "
                         f"{v['dead_units'][i]:>5.2f} {v['saturated'][i]:>5.2f}")  # fmt: skip
        return "\n".join([*head, "", *lines])

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        names = [s.name for s in self.sites]
        shown = ", ".join(names[:3]) + (f", ... ({len(names)} in all)" if len(names) > 3 else "")
        try:
            loss = f"{float(np.asarray(self.loss).reshape(-1)[-1]):.4g}"
        except (TypeError, jax.errors.ConcretizationTypeError):  # traced inside jit
            loss = "traced"
        hist = f", history of {self.steps} steps" if self.steps is not None else ""
        return f"Diagnosis(loss={loss}{hist}, sites=[{shown}])"


def relative_gradients(grad_norm) -> np.ndarray:
    """Each site's ``||dL/dh||`` over the last site's (the one nearest the loss).

    Args:
      grad_norm: ``(n_sites,)`` from a :class:`Diagnosis`.

    Returns:
      ``(n_sites,)`` float64; NaN where the last site's gradient is 0.

    >>> relative_gradients([1e-4, 1e-2, 2.0])
    array([5.e-05, 5.e-03, 1.e+00])
    """
    g = np.asarray(grad_norm, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return g / g[-1] if g.size and g[-1] > 0 else np.full(g.shape, np.nan)


def _unit_counts(sites: tuple[Site, ...]) -> list[int]:
    return [s.shape[-1] if s.shape else 1 for s in sites]


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["ever_active", "batches"],
    meta_fields=["sites"],
)
@dataclasses.dataclass(frozen=True)
class UnitActivity:
    r"""Which units were active on at least one of the batches seen: "dead on every batch seen".

    A :class:`Diagnosis` says which units are dead *on its batch* (``dead_units``: ``phi'(h)``
    is 0 on every example of it). A unit dead on one batch may fire on the next; a unit that
    never fires on any batch of the data is dead for good (a dead ReLU gets no gradient and
    never recovers). ``UnitActivity`` keeps, per unit, whether it was ever active - an OR of
    :attr:`Diagnosis.unit_active` over steps - so that the two are told apart:

    .. math::
       \mathrm{dead\_units} = \mathrm{mean}_u\,\big[\forall\,\text{batches seen},
       \forall\,\text{examples}: \phi'(h_{\dots u}) = 0\big]

    A pytree: ``update`` runs inside ``jit`` (one elementwise maximum).

    Attributes:
      sites: static; the sites, as in the :class:`Diagnosis`.
      ever_active: ``(total_units,)`` float32: 1 if the unit was active on some batch seen,
        else 0; NaN at taps.
      batches: int32 scalar: how many batches (diagnoses) it has seen.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.diagnosis import UnitActivity
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, out_dim=1)
    >>> def loss(p, x):
    ...     return jnp.mean(jaxact.mlp_forward(p, x, "relu") ** 2)
    >>> seen = None
    >>> for k in range(2):  # two batches of 2 examples
    ...     d = jaxact.diagnose(loss, p, jax.random.normal(jax.random.key(k), (2, 8)))
    ...     seen = UnitActivity.start(d) if seen is None else seen.update(d)
    >>> int(seen.batches), bool((seen.dead_units <= d.dead_units).all())
    (2, True)
    """

    sites: tuple[Site, ...]
    ever_active: jax.Array
    batches: jax.Array

    @classmethod
    def start(cls, d: Diagnosis) -> UnitActivity:
        """The activity of one diagnosis, or of a stacked history (every step of it seen).

        Args:
          d: a :class:`Diagnosis` (or a history stacked over steps).

        Returns:
          A :class:`UnitActivity` that has seen ``d``'s batch (or batches).

        Raises:
          ValueError: ``d`` has no per-unit activity (built by hand without ``unit_active``).
        """
        if d.unit_active is None:
            raise ValueError("UnitActivity.start: the Diagnosis has no unit_active; "
                             "diagnose() fills it.")  # fmt: skip
        a = jnp.asarray(d.unit_active, jnp.float32)
        if a.ndim == 2:  # a history: (steps, total_units)
            return cls(d.sites, jnp.max(a, axis=0), jnp.int32(a.shape[0]))
        return cls(d.sites, a, jnp.int32(1))

    def update(self, d: Diagnosis) -> UnitActivity:
        """This activity and one more diagnosis of the same model (a later step or batch).

        Args:
          d: a :class:`Diagnosis` of the same model (the same sites), or a stacked history.

        Returns:
          A new :class:`UnitActivity`: a unit is active if it was before or is in ``d``.

        Raises:
          ValueError: ``d`` has other sites (another model or another batch shape).
        """
        if tuple(d.sites) != tuple(self.sites):
            raise ValueError("UnitActivity.update: the diagnosis has other sites than the "
                             f"ones seen ({len(d.sites)} vs {len(self.sites)}): another "
                             "model or another input shape.")  # fmt: skip
        new = UnitActivity.start(d)
        return UnitActivity(self.sites, jnp.maximum(self.ever_active, new.ever_active),
                            self.batches + new.batches)  # fmt: skip

    def per_site(self) -> list[np.ndarray]:
        """``ever_active`` split by site: one float64 array ``(units,)`` per site.

        Returns:
          A list, in :attr:`sites` order.
        """
        a = np.asarray(self.ever_active, np.float64)
        return np.split(a, np.cumsum(_unit_counts(self.sites))[:-1])

    @property
    def dead_units(self) -> np.ndarray:
        """``(n_sites,)`` float64: the fraction of each site's units that were active on none
        of the batches seen (NaN at taps)."""
        return np.array([1.0 - u.mean() if u.size else np.nan for u in self.per_site()])

    def findings(self, *, dead: float = DEAD) -> list[str]:
        """One line per site with more than ``dead`` of its units dead on every batch seen.

        Args:
          dead: the fraction above which a site is flagged.

        Returns:
          Lines like ``"relu #3: 62% of 128 units dead on all 20 batches seen"``.
        """
        n = int(self.batches)
        out = []
        for s, f, units in zip(self.sites, self.dead_units, _unit_counts(self.sites),
                               strict=True):  # fmt: skip
            if np.isfinite(f) and f > dead:
                out.append(f"{s.name}: {f:.0%} of {units} units dead on all {n} batch(es) "
                           "seen")  # fmt: skip
        return out

    def __str__(self) -> str:
        n = int(self.batches)
        head = f"UnitActivity over {n} batch(es): units dead on every batch seen"
        width = max([len(s.name) for s in self.sites] + [4])
        lines = [head, f"{'site':<{width}}  units   dead"]
        for s, f, units in zip(self.sites, self.dead_units, _unit_counts(self.sites),
                               strict=True):  # fmt: skip
            lines.append(f"{s.name:<{width}}  {units:>5}  {f:>5.2f}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# tap


def _tap_value(x):
    # ``x * 1`` rather than ``x``: jit drops a call whose outputs are its inputs. XLA folds it.
    return x * jnp.ones((), x.dtype)


_tap_value.__name__ = _TAP_NAME = "jaxact_tap"
_tap_jit = jax.jit(_tap_value)


def tap(x: jax.Array, name: str) -> jax.Array:
    """Mark ``x`` as a site for :func:`diagnose`; the identity in value and in gradient.

    Use it for tensors that are not the input of a recognised activation: the input of an
    attention softmax, a residual stream, the input of a user's own non-linearity. Outside
    :func:`diagnose` it costs nothing (XLA removes it).

    Args:
      x: a floating-point array.
      name: the site's name (it joins the framework's name stack, if any).

    Returns:
      ``x``.

    >>> import jax.numpy as jnp, jaxact
    >>> jaxact.tap(jnp.ones(3, jnp.float32), "logits")
    Array([1., 1., 1.], dtype=float32)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"tap: name must be a non-empty string, got {name!r}.")
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"tap: {name!r} must be a floating-point array, got dtype {x.dtype}.")
    with jax.named_scope(name):
        return _tap_jit(x)


# --------------------------------------------------------------------------------------------
# Which calls are activations

#: sup|phi'| of the jax.nn activations jaxact's registry does not have (any parameters).
_OTHER_SUP = {"hard_silu": 1.5, "squareplus": 1.0, "sparse_plus": 1.0, "sparse_sigmoid": 0.5}
#: Activations not looked for in inline code: identity (any linear chain would be one) and
#: log_sigmoid (losses are written with it). Calls of jaxact.identity / jaxact.log_sigmoid are
#: sites like every jaxact activation.
_NOT_DETECTED = ("identity", "log_sigmoid")
#: Named calls diagnose does not look into: output functions and the pieces losses are made of
#: (``jax.nn.log_sigmoid`` is ``-softplus(-x)``: its softplus is not a site of the model).
_OPAQUE = frozenset(
    "log_sigmoid log_softmax softmax _softmax logsumexp logmeanexp logaddexp standardize "
    "one_hot _one_hot identity".split()
)

# Primitives a chain of elementwise operations may contain (plus elementwise jit calls).
_ELEMENTWISE = frozenset(
    "neg add sub mul div max min abs sign exp exp2 expm1 log log1p tanh logistic erf erfc sqrt "
    "rsqrt cbrt integer_pow pow square select_n gt ge lt le eq ne and or not convert_element_type "
    "clamp copy copy_p sin cos floor ceil round is_finite".split()
)
# A chain is compared with the catalogue only if it holds one of these (linear code is not).
_NONLINEAR = frozenset(
    "max min abs exp expm1 log1p tanh logistic erf erfc select_n clamp integer_pow "
    "gt ge lt le sign".split()
)
# Reductions: a tensor computed from their outputs alone is a statistic (a normalisation
# layer's mean and variance), not an activation's input.
_REDUCTIONS = frozenset("reduce_sum reduce_max reduce_min reduce_prod argmax argmin".split())
# What activations are made of: a chain holding one of these that matches nothing is said.
_ACTIVATION_LIKE = frozenset("gt ge lt le max min select_n clamp tanh logistic erf".split())
_CALLS = ("pjit", "jit")
_PRIMITIVE_SITES = {"tanh": "tanh", "logistic": "sigmoid"}
#: jax.nn functions that are named calls in a jaxpr: jax.nn name -> (activation, parameter
#: names after ``x`` in call order), read from the registry entries (``Activation.jax_nn``).
#: Not among them: tanh and sigmoid (primitives, sites of their own), the GELUs (inline code in
#: jax 0.10: ``jax_nn_kwargs``), and what is not looked for (``_NOT_DETECTED``).
_JAX_NN = {rec.jax_nn: (rec.name, tuple(rec.params)) for rec in ACTIVATIONS.values()
           if rec.jax_nn and rec.elementwise and not rec.jax_nn_kwargs
           and rec.name not in (*_PRIMITIVE_SITES.values(), *_NOT_DETECTED)}  # fmt: skip
_MAX_CHAIN = 64


def _is_var(v) -> bool:
    return not isinstance(v, jcore.Literal)


def _floating(aval) -> bool:
    return hasattr(aval, "dtype") and jnp.issubdtype(aval.dtype, jnp.floating)


def _inner(eqn) -> jcore.ClosedJaxpr | None:
    j = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
    if isinstance(j, jcore.Jaxpr):
        return jcore.ClosedJaxpr(j, ())
    return j


@dataclasses.dataclass
class _SiteSpec:
    """A site in one jaxpr: the equations it covers and how to measure it."""

    eqns: list[int]  # equation indices, in order; the first is where it is evaluated
    root: Any  # the Var holding h
    output: Any  # the Var holding phi(h)
    activation: str
    sup: Callable[[dict], Any] | None  # sup|phi'| from the eqn's parameter values; None: tap
    params: dict  # parameter name -> Var or Literal of the site's equation
    name: str


def _call_name(eqn) -> str | None:
    """The function name of a ``jit`` or ``custom_jvp_call`` equation."""
    if eqn.primitive.name in _CALLS:
        return eqn.params.get("name")
    if eqn.primitive.name == "custom_jvp_call":
        info = getattr(eqn.params["call_jaxpr"].jaxpr, "debug_info", None)
        src = getattr(info, "func_src_info", None)
        return src.split(" ")[0] if isinstance(src, str) and src else None
    return None


def _named_site(eqn) -> tuple[str, dict] | None:
    """``(activation, {param: atom})`` if ``eqn`` is a named activation call, else None."""
    prim = eqn.primitive.name
    if len(eqn.outvars) != 1 or not eqn.invars or not _floating(eqn.invars[0].aval):
        return None
    if eqn.outvars[0].aval.shape != eqn.invars[0].aval.shape:
        return None
    name = _call_name(eqn)
    if not isinstance(name, str):
        return None
    if prim == "custom_jvp_call" and name.startswith(JAXPR_NAME_PREFIX):
        act = name[len(JAXPR_NAME_PREFIX) :]
        if act not in ACTIVATIONS or not ACTIVATIONS[act].elementwise:
            return None
        # Non-default hyperparameters are the call's arguments after x, in sorted order.
        return act, dict(zip(sorted(ACTIVATIONS[act].params), eqn.invars[1:], strict=False))
    if prim in (*_CALLS, "custom_jvp_call") and name in _JAX_NN:
        act, names = _JAX_NN[name]
        return act, dict(zip(names, eqn.invars[1:], strict=False))
    if prim in _CALLS and name == _TAP_NAME:
        return "tap", {}
    return None


def _softplus_call(eqn) -> Any | None:
    """The input ``h`` if ``eqn`` is ``jnp.logaddexp(h, 0)`` (or ``(0, h)``): softplus written
    as a log-sum-exp, else None (a logaddexp of two tensors is a loss's, not a site)."""
    if _call_name(eqn) != "logaddexp" or len(eqn.invars) != 2 or len(eqn.outvars) != 1:
        return None
    a, b = eqn.invars
    for h, zero in ((a, b), (b, a)):
        literal_zero = not _is_var(zero) and np.ndim(zero.val) == 0 and float(zero.val) == 0.0
        if literal_zero and _is_var(h) and _floating(h.aval):
            return h if h.aval.shape == eqn.outvars[0].aval.shape else None
    return None


def _opaque(eqn) -> bool:
    """A call not to look into: a loss or output function, or one of jaxact's activations."""
    name = _call_name(eqn)
    return isinstance(name, str) and (name in _OPAQUE or name.startswith(JAXPR_NAME_PREFIX))


def _sup_function(act: str, params: dict) -> Callable[[dict], Any]:
    """sup|phi'| for a site, given its parameter values (Python numbers or arrays)."""
    if act in _OTHER_SUP:
        return lambda values: _OTHER_SUP[act]
    rec = ACTIVATIONS[act]
    if not params:
        return lambda values: rec.max_slope

    def sup(values):
        concrete = {k: v for k, v in values.items() if isinstance(v, (int, float, np.ndarray))}
        if len(concrete) == len(values) and all(
            np.ndim(v) == 0 and float(v) == rec.params.get(k) for k, v in concrete.items()
        ):
            return rec.max_slope
        # sup over a grid (step 0.005 on [-10, 10], 0 included) of the closed-form phi'.
        grid = jnp.linspace(-10.0, 10.0, 4001, dtype=jnp.float32)
        kw = {k: jnp.asarray(v, jnp.float32).reshape(()) for k, v in values.items()}
        return jnp.max(jnp.abs(rec.derivative(grid, **kw)))

    return sup


# --------------------------------------------------------------------------------------------
# Inline chains of elementwise operations


# Points on [-8, 8] where a chain is compared with the catalogue, shuffled once so that the
# first few (all a small site holds) already spread over the whole range and both signs.
_PROBE_POINTS = np.random.default_rng(0).permutation(
    np.concatenate([np.linspace(-8.0, 8.0, 65), [-0.3, 0.1, 0.7, 1.3, 2.6]])
)
_MIN_POINTS = 16


@functools.lru_cache(maxsize=8)
def _catalogue(dtype: np.dtype) -> tuple[tuple[str, np.ndarray], ...]:
    """Every detectable activation at the probe points, computed by jaxact in ``dtype``."""
    names = [n for n, r in ACTIVATIONS.items() if r.elementwise and n not in _NOT_DETECTED]
    x = np.asarray(_PROBE_POINTS, dtype)
    with jax.ensure_compile_time_eval():  # one compiled program for all of them
        values = jax.jit(lambda x: [ACTIVATIONS[n].fn(x) for n in names])(x)
    return tuple((n, np.asarray(v, np.float64)) for n, v in zip(names, values, strict=True))


def _match(values: np.ndarray, dtype) -> str | None:
    """The catalogue activation that ``values`` (at the first probe points) equal, if any.

    Equal means within ``16 eps (1 + |phi|)`` at every probe point (``eps`` of the dtype): the
    catalogue is accurate to 1-2 ulp and ``jax.nn``'s own formulas to a few ulp where they
    cancel, while two activations differ by far more at some probe point (``gelu`` and
    ``gelu_tanh`` by 1.5e-4 at 1.0). In 16-bit types the closest one wins. A site with fewer
    than 16 entries sees too few probe points to be told apart: :func:`_chains` does not ask.
    """
    n = values.size
    tol = 16 * float(jnp.finfo(dtype).eps)
    best, best_err = None, math.inf
    for name, ref in _catalogue(np.dtype(dtype)):
        with np.errstate(invalid="ignore"):
            err = np.max(np.abs(values - ref[:n]) / (1 + np.abs(ref[:n])))
        if err <= tol and err < best_err:
            best, best_err = name, err
    return best


def _eval_eqn(eqn, invals):
    params = eqn.primitive.get_bind_params(eqn.params)
    subfuns: list = []
    if isinstance(params, tuple):  # jax < 0.8 returned (subfuns, params)
        subfuns, params = params
    with source_info_util.user_context(
        eqn.source_info.traceback, name_stack=eqn.source_info.name_stack
    ):
        out = eqn.primitive.bind(*subfuns, *invals, **params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _elementwise_eqn(eqn, shape) -> bool:
    prim = eqn.primitive.name
    if len(eqn.outvars) != 1 or eqn.outvars[0].aval.shape != shape:
        return False
    if not all(
        (not _is_var(v) and np.ndim(v.val) == 0) or v.aval.shape in (shape, ()) for v in eqn.invars
    ):
        return False
    if prim in _ELEMENTWISE:
        return True
    if prim in _CALLS:
        inner = _inner(eqn).jaxpr
        return all(e.primitive.name in _ELEMENTWISE or e.primitive.name in _CALLS
                   or _scalar_broadcast(e) for e in inner.eqns)  # fmt: skip
    return False


def _scalar_broadcast(eqn) -> bool:
    """``broadcast_in_dim`` of a scalar (``jnp.where(h > 0, h, 0)`` fills with one)."""
    return eqn.primitive.name == "broadcast_in_dim" and all(
        np.ndim(v.val) == 0 if not _is_var(v) else v.aval.shape == () for v in eqn.invars
    )


def _constants(jaxpr) -> dict:
    """Scalars computed from literals alone (``jnp.sqrt(2.0)`` in a GELU written by hand):
    ``{var: index of the equation that makes it}``. A chain may use them like literals."""
    out: dict = {}
    for i, e in enumerate(jaxpr.eqns):
        if (len(e.outvars) == 1 and e.outvars[0].aval.shape == ()
                and e.primitive.name in _ELEMENTWISE
                and all(not _is_var(v) or v in out for v in e.invars)):  # fmt: skip
            out[e.outvars[0]] = i
    return out


def _statistics(jaxpr, given: frozenset = frozenset()) -> set:
    """Variables computed from reductions alone (and scalars), through elementwise code,
    broadcasts and calls: the statistics of a normalisation layer. A clamp on them
    (``maximum(var, 0)``) is no activation site. ``given``: the jaxpr's inputs that are
    statistics already (for a call's inner jaxpr)."""
    out: set = set(given)

    def stat_or_scalar(v) -> bool:
        return v in out or v.aval.shape == ()

    for e in jaxpr.eqns:
        ins = [v for v in e.invars if _is_var(v)]
        prim = e.primitive.name
        if prim in _REDUCTIONS:
            out.update(e.outvars)
        elif prim in _CALLS:  # a call's outputs may be statistics of non-statistic inputs
            inner = _inner(e).jaxpr
            marked = frozenset(u for u, v in zip(inner.invars, e.invars, strict=True)
                               if not _is_var(v) or stat_or_scalar(v))  # fmt: skip
            inner_stats = _statistics(inner, marked)
            out.update(o for o, i in zip(e.outvars, inner.outvars, strict=True)
                       if i in inner_stats)  # fmt: skip
        elif not ins or not all(map(stat_or_scalar, ins)):
            continue
        elif prim in _ELEMENTWISE or prim in ("broadcast_in_dim", "reshape", "squeeze"):
            out.update(e.outvars)
    return out


def _chains(jaxpr, taken: set[int], users: dict, producer: dict, consts: dict
            ) -> tuple[list[_SiteSpec], list[str]]:  # fmt: skip
    """Sites made of inline elementwise code (see the module docstring), and a note for each
    activation-like chain that matched nothing (never a silent drop). ``producer``: the index
    of the equation that makes each variable; ``consts``: :func:`_constants`."""
    eqns = jaxpr.eqns
    found = []
    unmatched: list[tuple[Any, list[int], str]] = []
    stats = _statistics(jaxpr)
    # The constants' values, once for every chain below.
    const_values: dict = {}
    with jax.ensure_compile_time_eval():
        for v, i in consts.items():
            e = eqns[i]
            ins = [const_values[u] if _is_var(u) else u.val for u in e.invars]
            const_values[v] = _eval_eqn(e, ins)[0]
    candidates = [*jaxpr.invars, *(o for e in eqns for o in e.outvars)]
    roots = [
        v
        for v in candidates
        if _is_var(v)
        and _floating(v.aval)
        and v.aval.shape != ()
        and users.get(v)
        and v not in stats
    ]
    for root in roots:
        shape = root.aval.shape
        region: set = {root}
        members: list[int] = []
        first = min(users[root])
        for i in range(first, min(len(eqns), first + _MAX_CHAIN)):
            e = eqns[i]
            if i in taken or not _elementwise_eqn(e, shape):
                continue
            if all(not _is_var(v) or v in region or v in consts for v in e.invars) and any(
                _is_var(v) and v in region for v in e.invars
            ):
                members.append(i)
                region.add(e.outvars[0])
        if not any(
            eqns[i].primitive.name in _NONLINEAR or eqns[i].primitive.name in _CALLS
            for i in members
        ):
            continue
        # Evaluate the chain on the probe points (tiled to the site's shape) at trace time.
        size = math.prod(shape)
        npts = min(size, _PROBE_POINTS.size)
        like = any(eqns[i].primitive.name in _ACTIVATION_LIKE for i in members)
        if npts < _MIN_POINTS:  # too small to probe: only lax.tanh / lax.logistic themselves
            n_found = len(found)
            for i in members:
                prim = eqns[i].primitive.name
                if prim in _PRIMITIVE_SITES and eqns[i].invars[0] is root:
                    act = _PRIMITIVE_SITES[prim]
                    found.append(_SiteSpec([i], root, eqns[i].outvars[0], act,
                                           _sup_function(act, {}), {}, ""))  # fmt: skip
            if like and len(found) == n_found:
                unmatched.append((root, members, f"only {size} entries, too few to tell "
                                  f"activations apart (it takes {_MIN_POINTS})"))  # fmt: skip
            continue
        probe = np.resize(np.asarray(_PROBE_POINTS, root.aval.dtype), shape)
        env = {**const_values, root: probe}
        try:
            with jax.ensure_compile_time_eval():
                for i in members:
                    e = eqns[i]
                    ins = [env[v] if _is_var(v) else v.val for v in e.invars]
                    env[e.outvars[0]] = _eval_eqn(e, ins)[0]
        except Exception:  # a chain that cannot be evaluated on probes is not an activation
            continue
        n_found = len(found)
        for i in members:
            out = eqns[i].outvars[0]
            if out.aval.dtype != root.aval.dtype:
                continue
            values = np.asarray(env[out], np.float64).reshape(-1)[:npts]
            act = _match(values, root.aval.dtype)
            sup = _sup_function(act, {}) if act is not None else None
            if act is None:
                family = _family(values, root.aval.dtype)
                if family is None:
                    continue
                act, sup = family
            needed = _slice_back(eqns, members, out, root)
            found.append(_SiteSpec(needed, root, out, act, sup, {}, ""))
        if like and len(found) == n_found:
            unmatched.append((root, members, "it matches no activation of the catalogue"))
    # The largest chains first; a chain that overlaps one already taken is dropped.
    found.sort(key=lambda s: -len(s.eqns))
    chosen, used = [], set(taken)
    for s in found:
        if used.isdisjoint(s.eqns):
            chosen.append(s)
            used.update(s.eqns)
    # An unmatched chain inside a site (a GELU's inner tanh) is part of that site, not a miss.
    notes = []
    for root, members, why in unmatched:
        if used.isdisjoint(members) and producer.get(root) not in used:
            dtype = root.aval.dtype
            notes.append(f"an elementwise nonlinearity on a {dtype}{list(root.aval.shape)} "
                         f"tensor at {_frame_of(eqns[members[0]])} was not measured: {why}; "
                         "mark its input with jaxact.tap(h, name)")  # fmt: skip
    return chosen, list(dict.fromkeys(notes))


def _leaky_slope(values: np.ndarray, dtype) -> float | None:
    """The negative slope ``a`` if ``values`` (at the probe points) are ``max(x, a x)`` (or
    ``where(x > 0, x, a x)``) for a constant ``0 < a < 1`` other than the catalogue's: a
    leaky ReLU with its own slope (``jnp.maximum(h, 0.2 * h)``). ``None`` otherwise."""
    x = np.asarray(_PROBE_POINTS[: values.size], np.float64)
    tol = 16 * float(jnp.finfo(dtype).eps)
    pos, neg = x > 0, x < -0.05
    if pos.sum() < 3 or neg.sum() < 3:
        return None
    if np.max(np.abs(values[pos] - x[pos]) / (1 + np.abs(x[pos]))) > tol:
        return None
    a = values[neg] / x[neg]
    slope = float(np.median(a))
    if not 0 < slope < 1 or np.max(np.abs(a - slope)) > tol * (1 + 8 * slope):
        return None
    return slope


def _swish_beta(values: np.ndarray, dtype) -> float | None:
    """``beta`` if ``values`` (at the probe points) are ``x sigmoid(beta x)`` for a constant
    ``beta > 0``: a swish with its own scale (``h * jax.nn.sigmoid(1.7 * h)``), one site on
    ``h``. ``None`` otherwise."""
    x = np.asarray(_PROBE_POINTS[: values.size], np.float64)
    use = (np.abs(x) > 0.05) & (np.abs(x) < 3.0)
    if use.sum() < 4:
        return None
    frac = values[use] / x[use]
    if np.any(frac <= 0) or np.any(frac >= 1):
        return None
    beta = float(np.median(np.log(frac / (1 - frac)) / x[use]))
    if not beta > 0:
        return None
    ref = x / (1 + np.exp(-beta * x))
    tol = 64 * float(jnp.finfo(dtype).eps)  # beta is itself estimated from rounded values
    if np.max(np.abs(values - ref) / (1 + np.abs(ref))) > tol:
        return None
    return beta


def _family(values: np.ndarray, dtype) -> tuple[str, Callable[[dict], Any]] | None:
    """A parametrised activation the catalogue holds only at its default parameter: a leaky
    ReLU with its own slope, a swish with its own scale. ``(activation, sup|phi'|)``."""
    if _leaky_slope(values, dtype) is not None:  # 0 < slope < 1: sup|phi'| is 1 for all
        return "leaky_relu", lambda _: ACTIVATIONS["leaky_relu"].max_slope
    beta = _swish_beta(values, dtype)
    if beta is not None:
        # max_x d/dx [x sigmoid(beta x)] is reached at beta x = 2.3994 and is 1.0998 for
        # every beta: the silu record's max_slope.
        return "silu", lambda _: ACTIVATIONS["silu"].max_slope
    return None


def _slice_back(eqns, members, out, root) -> list[int]:
    """The chain's equations that ``out`` depends on."""
    producer = {eqns[i].outvars[0]: i for i in members}
    need, stack = set(), [out]
    while stack:
        v = stack.pop()
        i = producer.get(v)
        if i is None or i in need:
            continue
        need.add(i)
        stack.extend(u for u in eqns[i].invars if _is_var(u) and u is not root)
    return sorted(need)


# --------------------------------------------------------------------------------------------
# The plan: what to do with each equation of a jaxpr


_REMAT = ("checkpoint", "remat", "remat2")
_HIGHER_ORDER_OK = ("scan", *_REMAT, *_CALLS)


@dataclasses.dataclass
class _Plan:
    """How to evaluate one jaxpr with probes: per equation, what to do."""

    actions: dict[int, tuple]  # eqn index -> ("site", spec) | ("skip",) | (kind, subplan)
    sites: list[Site]  # expanded, in execution order
    avals: list  # of every site input, this plan's and its subplans'
    skipped: list[str] = dataclasses.field(default_factory=list)  # regions not instrumented
    consts: dict = dataclasses.field(default_factory=dict)  # _constants of this jaxpr

    @property
    def n_sites(self) -> int:
        return len(self.sites)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CATALOGUE_DIR = os.path.join(_PACKAGE_DIR, "activations") + os.sep


def _own(file_name: str) -> bool:
    """Whether a frame is in jaxact's own activation (the catalogue package) or diagnosis
    code."""
    return file_name.startswith(_CATALOGUE_DIR) or file_name == _PACKAGE_DIR + "diagnosis.py"


def _in_jax(file_name: str) -> bool:
    return "/jax/" in file_name or "/jaxlib/" in file_name or file_name.startswith("<frozen")


def _frame_of(eqn) -> str:
    """``file:line`` of the model's code: the innermost frame outside jax and jaxact, else
    (JAX keeps only the innermost frames of a traceback) outside jax and jaxact's own
    activation and diagnosis code."""
    tb = eqn.source_info.traceback
    frames = [] if tb is None else [f for f in tb.frames if not _in_jax(f.file_name)]
    user = [f for f in frames if not f.file_name.startswith(_PACKAGE_DIR)]
    near = user or [f for f in frames if not _own(f.file_name)]
    if not near:
        return "?"
    return f"{os.path.basename(near[0].file_name)}:{near[0].line_num}"


def _scopes(eqn) -> str:
    """The eqn's name stack without transformation names (``vmap(...)``, ``jvp(...)``)."""
    stack = eqn.source_info.name_stack
    parts = getattr(stack, "stack", None)
    if parts is None:
        return str(stack)
    return "/".join(p.name for p in parts if type(p).__name__ == "Scope")


def _site_name(eqn, act: str, prefix: str, feeder=None, module: tuple | None = None) -> str:
    """``path/act (file:line)``. ``path`` is the name stack of the site; where the equation
    that computes the site's input sits deeper in it (flax: ``MLP/Dense_3`` below ``MLP``),
    that layer's path, so that each site names the layer that feeds it. Where the stack does
    not name that layer (equinox, plain JAX: no name stack, or a class name for every layer)
    and the layer's parameters are found (``module``: their path in the model, as
    :func:`_param_module` gives it), the site is named by that path: ``layers[3]/relu``."""
    stack = _scopes(eqn)
    if feeder is not None and act != "tap":
        deeper = _scopes(feeder)
        if deeper.startswith(stack + "/" if stack else "") and deeper != stack:
            stack = deeper
    if module is not None and act != "tap":
        text, last = module
        if last not in "/".join((prefix, stack)).split("/"):
            stack, prefix = text, ""  # the model's own path is the more exact name
    path = "/".join(p for p in (prefix, stack) if p)
    if act == "tap":
        return path or "tap"
    if path:
        return f"{path}/{act} ({_frame_of(eqn)})"
    return f"{act} ({_frame_of(eqn)})"


#: Operations a layer's parameters pass through on their way to the site's input: a bias
#: add, the matmul or convolution, and shape and dtype changes.
_TOWARDS_PARAMS = frozenset({
    "add", "add_any", "sub", "mul", "transpose", "reshape", "broadcast_in_dim", "squeeze",
    "expand_dims", "convert_element_type", "dot_general", "conv_general_dilated",
    "dynamic_slice", "slice", "copy", "copy_p",
})  # fmt: skip


def _param_module(root, producer: dict, eqns, paths: dict, hops: int = 8) -> tuple | None:
    """The model path of the layer that computes ``root``: walk back from it through a bias
    add, a matmul or convolution and shape changes (never past another layer: the walk stops
    at the first matmul's operands) to a parameter leaf, and return ``(path, last name)`` of
    the leaf's parent (``("layers[3]", "3")`` for ``.layers[3].weight``), or None."""
    frontier, seen = [root], set()
    for _ in range(hops):
        nxt = []
        for v in frontier:
            if v in paths:
                return paths[v]
            i = producer.get(v)
            if i is None or i in seen:
                continue
            seen.add(i)
            e = eqns[i]
            name = e.primitive.name
            if name not in _TOWARDS_PARAMS:
                continue
            ins = [x for x in e.invars if _is_var(x)]
            if name in ("dot_general", "conv_general_dilated"):
                for x in ins:  # the weight: an operand that is a parameter, reshaped at most
                    for _ in range(3):
                        if x in paths:
                            return paths[x]
                        j = producer.get(x)
                        if j is None or eqns[j].primitive.name not in _TOWARDS_PARAMS - {
                            "dot_general",
                            "conv_general_dilated",
                            "add",
                            "sub",
                            "mul",
                        }:
                            break
                        x = eqns[j].invars[0]
                continue
            nxt += ins
        frontier = nxt
    return None


def _inner_paths(eqn, sub, paths: dict) -> dict:
    """The parameter paths of ``sub``'s inputs, where its inputs are ``eqn``'s one to one
    (jit, checkpoint, custom rules, a scan's consts, carry and stacked inputs)."""
    if not paths or len(sub.invars) != len(eqn.invars):
        return {}
    return {i: paths[o] for i, o in zip(sub.invars, eqn.invars, strict=True)
            if _is_var(o) and o in paths}  # fmt: skip


def _analyse(jaxpr, prefix: str = "", paths: dict | None = None) -> _Plan:
    """Find the sites of ``jaxpr`` and of the jaxprs inside its equations (``prefix``: the name
    stack of the equation that holds it; ``paths``: the model path of each input that is a
    parameter, from :func:`_module_paths`)."""
    paths = paths or {}
    eqns = jaxpr.eqns
    actions: dict[int, tuple] = {}
    specs: dict[int, _SiteSpec] = {}
    users: dict = {}
    for i, e in enumerate(eqns):
        for v in e.invars:
            if _is_var(v):
                users.setdefault(v, []).append(i)
    for i, e in enumerate(eqns):
        named = _named_site(e)
        if named is not None:
            act, params = named
            sup = None if act == "tap" else _sup_function(act, params)
            specs[i] = _SiteSpec([i], e.invars[0], e.outvars[0], act, sup, params, "")
        elif (h := _softplus_call(e)) is not None:
            specs[i] = _SiteSpec([i], h, e.outvars[0], "softplus", _sup_function("softplus", {}),
                                 {}, "")  # fmt: skip
    producer = {o: i for i, e in enumerate(eqns) for o in e.outvars}
    consts = _constants(jaxpr)
    chained, notes = _chains(jaxpr, set(specs), users, producer, consts)
    for s in chained:
        specs[s.eqns[0]] = s
    for s in specs.values():
        eqn = eqns[s.eqns[-1]] if s.activation != "tap" else eqns[s.eqns[0]]
        feeder = eqns[producer[s.root]] if s.root in producer else None
        module = _param_module(s.root, producer, eqns, paths) if paths else None
        s.name = _site_name(eqn, s.activation, prefix, feeder, module)
        for j in s.eqns[1:]:
            actions[j] = ("skip",)
        actions[s.eqns[0]] = ("site", s)
    sites: list[Site] = []
    skipped: list[str] = list(notes)
    avals = [s.root.aval for s in specs.values()]
    for i, e in enumerate(eqns):
        if i in actions:
            if actions[i][0] == "site":
                s = actions[i][1]
                sites.append(Site(s.name, s.activation, tuple(s.root.aval.shape)))
            continue
        subs = list(jcore.jaxprs_in_params(e.params))
        if not subs or _opaque(e):
            continue
        prim = e.primitive.name
        stack = "/".join(p for p in (prefix, _scopes(e)) if p)
        bare = [j if isinstance(j, jcore.Jaxpr) else j.jaxpr for j in subs]
        inner = [_analyse(j, stack, _inner_paths(e, j, paths)) for j in bare]
        n_inner = sum(p.n_sites for p in inner)
        if n_inner == 0:
            continue
        if prim not in _HIGHER_ORDER_OK or len(inner) != 1:
            # Left as it is: it runs and is differentiated unchanged, its sites unmeasured.
            first = next(p for p in inner if p.n_sites).sites[0]
            skipped.append(
                f"{n_inner} activation site(s) inside a {prim!r} (the first: {first.name!r}); "
                "diagnose instruments jit, vmap, scan and checkpoint only: tap the tensors "
                f"you need outside the {prim!r}, or use a fixed-length scan"
            )
            continue
        (sub,) = inner
        if prim == "scan":
            length = e.params["length"]
            sites += [
                dataclasses.replace(s, name=_index_name(s.name, it))
                for it in range(length)
                for s in sub.sites
            ]
        else:
            sites += sub.sites
        actions[i] = (prim, sub)
        avals += sub.avals
        skipped += sub.skipped
    return _Plan(actions, sites, avals, skipped, consts)


def _index_name(name: str, i: int) -> str:
    """``relu (f.py:3)`` -> ``relu (f.py:3) [i]``; indices of nested scans accumulate."""
    if name.endswith("]"):
        head, _, tail = name.rpartition(" [")
        return f"{head} [{i}][{tail}"
    return f"{name} [{i}]"


def _dedupe(sites: list[Site]) -> tuple[Site, ...]:
    counts: dict[str, int] = {}
    for s in sites:
        counts[s.name] = counts.get(s.name, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for s in sites:
        if counts[s.name] > 1:
            seen[s.name] = seen.get(s.name, 0) + 1
            s = dataclasses.replace(s, name=f"{s.name} #{seen[s.name]}")
        out.append(s)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Evaluation with probes


def _varying_like(p, h):
    """Inside ``shard_map``, the probe varies over the same mesh axes as ``h``: the probe's
    cotangent (the shard's ``||dL/dh||^2``) is then summed over those axes on the way out, so
    a site's norm is that of the whole (global) activation's gradient, every shard's part
    included. Outside ``shard_map`` (no varying axes) ``p`` is returned as it is."""
    aval = jax.typeof(h)
    manual = getattr(aval, "manual_axis_type", None)  # JAX 0.10; earlier releases: .vma
    axes = tuple(sorted(getattr(manual, "varying", None) or getattr(aval, "vma", None) or ()))
    if not axes:
        return p
    return jax.lax.pcast(p, axes, to="varying")


#: A site's ``||dL/dh||^2`` is summed twice: as it is, and with ``dL/dh`` scaled by
#: ``2**_LIFT``. A gradient of entries near 1e-20 is representable in float32 but its squares
#: (1e-40) are not: the plain sum flushes to 0, the lifted one does not. Both sums add over
#: shards (``shard_map``); :func:`_norm_from` picks the one in range.
_LIFT = 64


def _squares(ct, dtype):
    wide = ct.astype(dtype)
    return [jnp.sum(jnp.square(wide)), jnp.sum(jnp.square(wide * 2.0**_LIFT))]


def _norm_from(plain, lifted):
    """``||dL/dh||`` from the two sums: the lifted one where the plain one is too small to
    have kept its digits (below ``2**-60``, where the lifted one is below ``2**68``)."""
    return jnp.where(plain < 2.0**-60, jnp.sqrt(lifted) * 2.0**-_LIFT, jnp.sqrt(plain))


@jax.custom_vjp
def _probe(h, p):
    """An identity whose ``(2,)`` probe ``p`` receives, as its cotangent, the two sums of
    squares of ``dL/dh`` (:data:`_LIFT`)."""
    return h


def _probe_fwd(h, p):
    return h, p


def _probe_bwd(p, ct):
    return ct, jnp.stack(_squares(ct, p.dtype))


_probe.defvjp(_probe_fwd, _probe_bwd)


@jax.custom_vjp
def _probe_counts(h, p):
    """The probe of ``diagnose(..., gradient_counts=True)``: its ``(4,)`` cotangent is the two
    sums of squares, the number of entries of ``ct`` that are exactly 0, and of those that are
    inf or NaN - counted in the cotangent's own dtype (a float16 gradient that underflowed is
    0 here), summed in the probe's."""
    return h


def _probe_counts_bwd(p, ct):
    counts = [jnp.sum(ct == 0, dtype=p.dtype), jnp.sum(~jnp.isfinite(ct), dtype=p.dtype)]
    return ct, jnp.stack([*_squares(ct, p.dtype), *counts])


_probe_counts.defvjp(_probe_fwd, _probe_counts_bwd)


def _site_statistics(spec: _SiteSpec, h, phi, param_values, saturation):
    """The forward statistics of one site, on ``h`` (no gradient flows through them)."""
    h = jax.lax.stop_gradient(h)
    wide = h.astype(wide_dtype(h.dtype))
    stats = {"pre_mean": jnp.mean(wide), "pre_std": jnp.std(wide)}
    units = h.shape[-1] if h.ndim else 1
    if spec.sup is None:
        nan = jnp.float32(jnp.nan)
        return (
            stats
            | {k: nan for k in _FORWARD if k not in stats}
            | {"active": jnp.full((units,), jnp.nan, jnp.float32)}
        )
    # phi'(h) as the model's own backward pass computes it: the JVP of its own code.
    _, d = jax.jvp(phi, (h,), (jnp.ones_like(h),))
    return stats | slope_statistics(d, spec.sup(param_values), saturation=saturation)


def _run(plan: _Plan, jaxpr, consts, args, probes, saturation):
    """Evaluate ``jaxpr`` with a probe at every site. Returns (outputs, stats): ``stats`` maps
    each forward statistic to an array ``(plan.n_sites,)`` in execution order."""
    env: dict = {}

    def read(v):
        return env[v] if _is_var(v) else v.val

    for v, x in zip(jaxpr.constvars, consts, strict=True):
        env[v] = x
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[v] = x
    # Scalars made from literals alone (jnp.sqrt(2.0)) may sit between a site's equations:
    # the site reads them before the plain evaluation below reaches them.
    for v, i in plan.consts.items():
        e = jaxpr.eqns[i]
        env[v] = _eval_eqn(e, [read(u) for u in e.invars])[0]
    parts: dict[str, list] = {k: [] for k in (*_FORWARD, "active")}
    offset = 0
    for i, e in enumerate(jaxpr.eqns):
        action = plan.actions.get(i)
        if action is None:
            outs = _eval_eqn(e, [read(v) for v in e.invars])
            for v, x in zip(e.outvars, outs, strict=True):
                env[v] = x
            continue
        kind = action[0]
        if kind == "skip":
            continue
        if kind == "site":
            spec = action[1]
            h = read(spec.root)
            values = {k: read(a) for k, a in spec.params.items()}

            def phi(x, spec=spec):
                local = {spec.root: x}
                for j in spec.eqns:
                    q = jaxpr.eqns[j]
                    ins = [local.get(v, env.get(v)) if _is_var(v) else v.val for v in q.invars]
                    for v, o in zip(q.outvars, _eval_eqn(q, ins), strict=True):
                        local[v] = o
                return local

            probe = _probe_counts if probes.shape[-1] == 4 else _probe
            local = phi(probe(h, _varying_like(probes[offset], h)))
            for j in spec.eqns:
                for v in jaxpr.eqns[j].outvars:
                    env[v] = local[v]
            st = _site_statistics(spec, h, lambda x, spec=spec: phi(x)[spec.output], values,
                                  saturation)  # fmt: skip
            for k in _FORWARD:
                parts[k].append(jnp.reshape(st[k], (1,)).astype(probes.dtype))
            parts["active"].append(st["active"])
            offset += 1
            continue
        sub: _Plan = action[1]
        invals = [read(v) for v in e.invars]
        if kind == "scan":
            n = sub.n_sites * e.params["length"]
            outs, st = _run_scan(e, sub, invals, probes[offset : offset + n], saturation)
        else:
            n = sub.n_sites
            inner = _inner(e)
            p = probes[offset : offset + n]
            if kind in _CALLS:
                outs, st = _run(sub, inner.jaxpr, inner.consts, invals, p, saturation)
            else:  # checkpoint / remat
                outs, st = _run_remat(e, sub, inner, invals, p, saturation)
        for v, x in zip(e.outvars, outs, strict=True):
            env[v] = x
        for k in parts:
            parts[k].append(st[k])
        offset += n
    stats = {k: (jnp.concatenate(v) if v else
                 jnp.zeros((0,), jnp.float32 if k == "active" else probes.dtype))
             for k, v in parts.items()}  # fmt: skip
    return [read(v) for v in jaxpr.outvars], stats


def _group_size(tree, i: int) -> int:
    """Leaves in group ``i`` of a scan's ``ft_in`` / ``ft_out`` (JAX >= 0.11)."""
    group = tree.elts[i]
    vals = getattr(group, "vals", None)
    if vals is None:
        vals = jax.tree.leaves(group, is_leaf=lambda v: v is None)
    return len(vals)


def _scan_counts(params) -> tuple[int, int]:
    """``(num_consts, num_carry)`` of a ``scan`` equation's params, in any JAX version.

    Up to JAX 0.10 they are params; JAX 0.11 structures the inputs as a tuple of groups
    ``ft_in = (consts, carry, xs)`` and the outputs as ``ft_out = (carry, ys)`` instead.
    """
    if "num_consts" in params:
        return params["num_consts"], params["num_carry"]
    return _group_size(params["ft_in"], 0), _group_size(params["ft_out"], 0)


def _run_scan(eqn, sub: _Plan, invals, probes, saturation):
    p = eqn.params
    (n_consts, n_carry), length = _scan_counts(p), p["length"]
    body = _inner(eqn)
    consts, init, xs = (
        invals[:n_consts],
        invals[n_consts : n_consts + n_carry],
        invals[n_consts + n_carry :],
    )
    # Probes and statistics are in execution order; a reverse scan runs its xs backwards.
    per_iter = probes.reshape(length, sub.n_sites, *probes.shape[1:])
    if p["reverse"]:
        per_iter = per_iter[::-1]

    def step(carry, x):
        xs_i, probe_i = x
        outs, st = _run(sub, body.jaxpr, body.consts, [*consts, *carry, *xs_i], probe_i,
                        saturation)  # fmt: skip
        return outs[:n_carry], (outs[n_carry:], st)

    carry, (ys, st) = jax.lax.scan(step, list(init), (list(xs), per_iter), length=length,
                                   reverse=p["reverse"], unroll=p["unroll"])  # fmt: skip
    if p["reverse"]:
        st = {k: v[::-1] for k, v in st.items()}
    return [*carry, *ys], {k: v.reshape(-1) for k, v in st.items()}


def _run_remat(eqn, sub: _Plan, inner, invals, probes, saturation):
    def body(invals, probes):
        return _run(sub, inner.jaxpr, inner.consts, invals, probes, saturation)

    kw = {k: eqn.params[k] for k in ("prevent_cse", "policy") if k in eqn.params}
    return jax.checkpoint(body, **kw)(invals, probes)


# --------------------------------------------------------------------------------------------
# diagnose


def _is_array(x) -> bool:
    """Array leaves are traced; other leaves (functions, Python numbers) stay static."""
    return isinstance(x, (jax.Array, np.ndarray, np.generic, jax.core.Tracer))


def _frobenius(x):
    return jnp.sqrt(jnp.sum(jnp.square(jnp.asarray(x, jnp.float32))))


def diagnose(
    loss_fn: Callable[..., Any],
    *args: Any,
    has_aux: bool = False,
    saturation: float = SATURATION,
    argnums: int | tuple[int, ...] = 0,
    gradient_counts: bool = False,
) -> Diagnosis:
    r"""Loss, gradients and per-site statistics of any JAX model, from one backward pass.

    ``loss_fn(*args)`` returns a scalar loss (or ``(loss, aux)`` with ``has_aux=True``). The
    gradient is taken with respect to the floating-point arrays in ``args[0]`` (the model or
    its parameters: a flax params dict, an equinox module, a jaxact ``MLPParams``, ...); the
    other arguments are data. Every activation site of the computation is measured (see
    :mod:`jaxact.diagnosis`), with no change to the model.

    For a site with input ``h`` (shape ``(..., units)``) and activation ``phi``:

    .. math::
       \mathrm{grad\_norm} = \|\partial L / \partial h\|_F, \quad
       \mathrm{saturated} = \mathrm{mean}\,[\,|\phi'(h)| < s \sup|\phi'|\,], \quad
       \mathrm{dead\_units} = \mathrm{mean}_{u}\,\big[\forall\,\text{other axes}:
       \phi'(h_{\dots u}) = 0\big]

    where ``phi'`` is what the model's own backward pass uses (the JVP of its code) and ``s``
    is ``saturation``. Everything comes from one forward and one backward pass; inside
    :func:`jax.jit` it can replace ``jax.value_and_grad`` in a training step.

    Args:
      loss_fn: the loss; any JAX-transformable Python function.
      *args: its arguments; ``args[0]`` is differentiated.
      has_aux: ``loss_fn`` returns ``(loss, aux)``.
      saturation: the threshold ``s`` in ``(0, 1]``.
      argnums: which argument(s) to differentiate, as in :func:`jax.grad`: an int (``grads``
        is a tree like that argument) or a tuple of ints (``grads`` is a tuple of trees).
      gradient_counts: also count, per site, the entries of ``dL/dh`` that are exactly 0
        (``grad_zero``) and that are inf or NaN (``grad_nonfinite``), in the gradient's own
        dtype: where a low-precision backward pass loses its gradient
        (:func:`jaxact.precision.precision_census` is built on it).

    Returns:
      :class:`Diagnosis` (a pytree; ``sites`` is static).

    Raises:
      ValueError: no activation site found (the message names any region that could not be
        instrumented), a non-scalar loss, ``saturation`` outside ``(0, 1]``, a bad
        ``argnums``.
      TypeError: ``loss_fn`` is not callable, the loss is not floating-point.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=3, width=8, in_dim=2, out_dim=1)
    >>> x = jnp.ones((5, 2), jnp.float32)
    >>> d = jax.jit(lambda p: jaxact.diagnose(
    ...     lambda p: jnp.mean(jaxact.mlp_forward(p, x, "tanh") ** 2), p))(p)
    >>> len(d.sites), d.grad_norm.shape, d.sites[0].activation, d.sites[0].shape
    (3, (3,), 'tanh', (5, 8))
    """
    if not callable(loss_fn):
        raise TypeError(f"diagnose: loss_fn must be callable, got {type(loss_fn).__name__}.")
    if not args:
        raise TypeError("diagnose: give the arguments of loss_fn; args[0] is differentiated.")
    ok = isinstance(saturation, (int, float)) and not isinstance(saturation, bool)
    if not ok or not 0 < saturation <= 1:
        raise ValueError(f"diagnose: saturation must be a number in (0, 1], got {saturation!r}.")
    several = not isinstance(argnums, int)
    nums = tuple(argnums) if several else (argnums,)
    if (not nums or len(set(nums)) != len(nums)
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(args)
                       for k in nums)):  # fmt: skip
        raise ValueError(f"diagnose: argnums must be an int or a tuple of distinct ints in "
                         f"[0, {len(args)}), got {argnums!r}.")  # fmt: skip
    flat, treedef = jax.tree_util.tree_flatten(args)
    starts = np.cumsum([0, *(len(jax.tree_util.tree_leaves(a)) for a in args)])
    owned = [i for k in nums for i in range(starts[k], starts[k + 1])]
    dynamic = [i for i, leaf in enumerate(flat) if _is_array(leaf)]
    diff = [i for i in dynamic
            if i in owned and jnp.issubdtype(jnp.result_type(flat[i]), jnp.inexact)]  # fmt: skip

    for k in nums:
        if not any(starts[k] <= i < starts[k + 1] for i in diff):
            raise TypeError(
                f"diagnose: args[{k}] holds no floating-point array to differentiate (got "
                f"{type(args[k]).__name__}); pass the parameters or the model there "
                "(argnums says which arguments are differentiated)."
            )

    def call(dyn_values):
        leaves = list(flat)
        for i, x in zip(dynamic, dyn_values, strict=True):
            leaves[i] = x
        return loss_fn(*jax.tree_util.tree_unflatten(treedef, leaves))

    dyn = [flat[i] for i in dynamic]
    closed, out_shape = jax.make_jaxpr(call, return_shape=True)(dyn)
    _check_output(out_shape, has_aux)
    paths = _module_paths(loss_fn, args, nums, dynamic, closed.jaxpr)
    plan = _analyse(closed.jaxpr, paths=paths)
    if plan.n_sites == 0:
        inside = f" Not measured: {'; '.join(plan.skipped)}." if plan.skipped else ""
        raise ValueError(
            "diagnose: found no activation site in loss_fn. It looks for calls of jaxact's "
            "and jax.nn's activations (relu, gelu, silu, sigmoid, tanh, elu, softplus, ...), "
            "inline tanh/logistic/maximum(x, 0)/GELU code, and jaxact.tap(x, name) marks; "
            f"the computation has {len(closed.jaxpr.eqns)} top-level operations and none is "
            f"one of them. Mark the tensors to measure with jaxact.tap.{inside}"
        )
    for region in plan.skipped:
        warnings.warn(f"diagnose: not measured: {region}.", stacklevel=2)
    sites = _dedupe(plan.sites)
    out_tree = jax.tree_util.tree_structure(out_shape)
    diff_positions = [dynamic.index(i) for i in diff]  # where in ``dyn`` they sit

    def objective(diff_values, probes, values, consts):
        values = list(values)
        for pos, x in zip(diff_positions, diff_values, strict=True):
            values[pos] = x
        outs, stats = _run(plan, closed.jaxpr, consts, values, probes, saturation)
        out = jax.tree_util.tree_unflatten(out_tree, outs)
        loss, aux = out if has_aux else (out, None)
        return loss, (aux, stats)

    # Statistics in float32, or float64 if a site is (the probes carry the dtype).
    dtype = jnp.float64 if any(wide_dtype(a.dtype) == jnp.float64 for a in plan.avals) else (
        jnp.float32)  # fmt: skip
    probes = jnp.zeros((plan.n_sites, 4 if gradient_counts else 2), dtype)

    step = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)
    if not any(isinstance(x, jax.core.Tracer) for x in (*dyn, *closed.consts)):
        # Called eagerly (a notebook cell, not a jitted step): one compiled program instead of
        # the jaxpr's operations dispatched one by one. It is not kept for the next call: a
        # custom rule redefined with the same code and place (a factory's closure) would look
        # the same and be reused stale; jit the step to keep it.
        step = jax.jit(step)
    (loss, (aux, stats)), (g_diff, g_probe) = step(
        tuple(flat[i] for i in diff), probes, list(dyn), list(closed.consts)
    )
    by_leaf = dict(zip(diff, g_diff, strict=True))
    trees: dict[str, list] = {"grads": [], "grad_norms": [], "norms": []}
    for k in nums:
        span = range(starts[k], starts[k + 1])
        tree = jax.tree_util.tree_structure(args[k])
        g = [by_leaf.get(i) for i in span]
        trees["grads"].append(jax.tree_util.tree_unflatten(tree, g))
        trees["grad_norms"].append(jax.tree_util.tree_unflatten(
            tree, [None if x is None else _frobenius(x) for x in g]))  # fmt: skip
        trees["norms"].append(jax.tree_util.tree_unflatten(
            tree, [_frobenius(flat[i]) if i in by_leaf else None for i in span]))  # fmt: skip
    grads, grad_norms, norms = (tuple(t) if several else t[0] for t in trees.values())
    return Diagnosis(
        loss=loss,
        grads=grads,
        aux=aux,
        sites=sites,
        grad_norm=_norm_from(g_probe[:, 0], g_probe[:, 1]),
        **{k: stats[k] for k in _FORWARD},
        unit_active=stats["active"],
        **(_gradient_fractions(g_probe, sites) if gradient_counts else {}),
        param_grad_norms=grad_norms,
        param_norms=norms,
        not_instrumented=tuple(plan.skipped),
    )


def _gradient_fractions(g_probe, sites) -> dict[str, jax.Array]:
    """``grad_zero`` and ``grad_nonfinite`` from the counting probes' cotangents."""
    size = jnp.asarray([math.prod(s.shape) for s in sites], g_probe.dtype)
    return {"grad_zero": g_probe[:, 2] / size, "grad_nonfinite": g_probe[:, 3] / size}


def _key_name(key) -> str:
    for attr in ("name", "key", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _arg_names(loss_fn, n: int) -> list[str]:
    """The names of ``loss_fn``'s first ``n`` parameters (``args[k]`` where there is none)."""
    names = [f"args[{k}]" for k in range(n)]
    try:
        params = list(inspect.signature(loss_fn).parameters.values())
    except (TypeError, ValueError):
        return names
    for k, p in enumerate(params[:n]):
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names[k] = p.name
        else:
            break
    return names


def _module_paths(loss_fn, args, nums, dynamic: list[int], jaxpr) -> dict:
    """For each jaxpr input that is a differentiated leaf: ``(path of its parent in the model,
    the parent's last name)`` - ``("layers[3]", "3")`` for an equinox MLP's
    ``.layers[3].weight``, ``("params[3]", "3")`` for ``params[3][0]`` of a list of layers.
    The argument's name leads where the path would start with an index, or when several
    arguments are differentiated."""
    leaves = jax.tree_util.tree_flatten_with_path(args)[0]
    names = _arg_names(loss_fn, len(args))
    out = {}
    for var, i in zip(jaxpr.invars, dynamic, strict=True):
        keys = leaves[i][0]
        k = getattr(keys[0], "idx", None)
        if k not in nums or len(keys) < 3:  # data, or a leaf at the model's top: no layer
            continue
        parent = keys[1:-1]
        text = jax.tree_util.keystr(parent).lstrip(".")
        if len(nums) > 1 or text.startswith("["):
            text = names[k] + ("." if not text.startswith("[") else "") + text
        out[var] = (text, _key_name(parent[-1]))
    return out


def _check_output(out_shape, has_aux: bool) -> None:
    if has_aux:
        if not (isinstance(out_shape, (tuple, list)) and len(out_shape) == 2):
            raise ValueError(
                "diagnose: has_aux=True but loss_fn did not return a pair (loss, aux); it "
                f"returned {jax.tree_util.tree_structure(out_shape)}."
            )
        out_shape = out_shape[0]
    shape = getattr(out_shape, "shape", None)
    if shape != ():
        what = f"shape {shape}" if shape is not None else jax.tree_util.tree_structure(out_shape)
        hint = " (it returns a pair: pass has_aux=True?)" if isinstance(out_shape, tuple) else ""
        raise ValueError(f"diagnose: loss_fn must return a scalar loss, got {what}{hint}.")
    if not jnp.issubdtype(out_shape.dtype, jnp.floating):
        raise TypeError(f"diagnose: the loss must be floating-point, got {out_shape.dtype}.")
