r"""Kernel shaping: transform an activation so that a plain deep MLP trains.

A plain network (no residual connections, no normalisation) of depth ``L`` fails when its
kernel degenerates: after many layers every pair of inputs looks alike (the composed C map
``C_f(c)`` is close to 1 for every ``c``), or the gradient's scale runs away. Kernel shaping
replaces ``phi`` by an affine change of it,

.. math::

    \hat\phi(x) = \alpha\, \phi(\beta x + \gamma) + \delta,

chosen from ``L`` so that the *whole network's* C map stays well-behaved, and pairs it with
orthogonal weights at ``sigma_w2 = 1`` and zero biases, with inputs normalised to
``||x||^2 / dim = 1`` (:func:`normalize_inputs`). Then every layer keeps ``q = 1``
(``Q(1) = 1``) and the network's kernel is the local C map composed ``L`` times
(:func:`jaxact.theory.composed_c_map`).

* **Deep Kernel Shaping** (:func:`dks`, Martens et al. 2021), any smooth activation:
  ``Q(1) = 1``, ``Q'(1) = 1`` (:func:`jaxact.theory.q_map_slope`), ``C(0) = 0`` and
  ``C'(1) = zeta^(1/L)``, so the network's ``C_f'(1) = zeta`` (1.5 by default): a
  depth-independent bound on how fast the network can pull inputs apart.
* **Tailored Activation Transformation** (:func:`tat`, Zhang et al. 2022): for leaky ReLU
  (and ReLU, which it turns into a leaky ReLU), the negative slope ``a`` that gives the network
  ``C_f(0) = eta`` (0.9 by default), with ``alpha = sqrt(2 / (1 + a^2))``; for smooth
  activations ``Q(1) = 1``, ``Q'(1) = 1``, ``C'(1) = 1`` and ``C''(1) = tau / L``, so the
  network's ``C_f''(1) = tau`` (0.3 by default).

The result is a :class:`Shaping`: the parameters, what was solved for (``targets``), the local
maps' values that the parameters give (``local``) and the network's C map values after ``L``
layers (``network``), computed afresh by :mod:`jaxact.theory` from the shaped activation.
:meth:`Shaping.register` makes the shaped activation a registry record with closed-form
derivatives (``alpha beta phi'(beta x + gamma)``), accepted wherever a registry name is:
:func:`jaxact.init_mlp`'s networks, :func:`jaxact.train`, :func:`jaxact.diagnose`, sweeps,
:mod:`jaxact.theory`.

Conventions against DeepMind's ``dks`` package (https://github.com/google-deepmind/dks): it
writes ``output_scale * (phi(input_scale * x + input_shift) + output_shift)``, so
``alpha = output_scale``, ``beta = input_scale``, ``gamma = input_shift`` and
``delta = output_scale * output_shift``; its ``c_slope_1_target`` is ``zeta``,
``c_val_0_target`` is ``eta`` and ``c_curve_target`` is ``tau``; the ``subnet_max_func`` of a
plain MLP of ``L`` activation layers composes ``L`` local maps, which is what this module
assumes. The tests check both give the same parameters.

References:
  Martens, Ballard, Desjardins, Swirszcz, Dalibard, Sohl-Dickstein, Schoenholz (2021), Rapid
  training of deep neural networks without skip connections or normalization layers using
  Deep Kernel Shaping, https://arxiv.org/abs/2110.01765;
  Zhang, Botev, Martens (2022), Deep Learning without Shortcuts: Shaping the Kernel with
  Tailored Rectifiers, https://arxiv.org/abs/2203.08120
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact import theory
from jaxact.activations import (
    ACTIVATIONS,
    Activation,
    Interval,
    get_activation,
    register_activation,
)
from jaxact.checks import check_finite_number, check_positive_int

__all__ = ["Shaping", "dks", "normalize_inputs", "tat"]

#: Where the root finder starts, in this order (the first solution found is kept); the
#: ``dks`` package starts from the same points, so both land on the same solution where an
#: activation has several (tanh's ``gamma`` and ``-gamma``).
_STARTS = {"beta": (1.0, 0.1), "gamma": (0.0, 1.0, -1.0), "shift": (0.0, 1.0, -1.0),
           "slope": (0.0, 0.5)}  # fmt: skip
#: A solution must meet its targets to this (absolute) tolerance, well inside the 1e-5 the
#: tests ask of the parameters and far above the quadrature's ~1e-14.
_SOLVE_TOL = 1e-10


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class Shaping:
    r"""A shaped activation ``alpha * phi(beta * x + gamma) + delta`` and what it was solved for.

    A static pytree (no leaves): it can be closed over or passed through ``jax.jit`` freely.

    Attributes:
      method: ``"dks"`` or ``"tat"``.
      activation: the registry name of ``phi`` (``"leaky_relu"`` for TAT of ReLU).
      depth: the number of activation layers ``L`` it was shaped for.
      alpha, beta, gamma, delta: the affine change.
      params: ``phi``'s hyperparameters (``{"negative_slope": a}`` for leaky ReLU).
      targets: what was asked: the network-level target (``zeta``, ``eta`` or ``tau``) and the
        local targets derived from it (``q_slope``, ``c0``, ``c_slope``, ``c_curvature``).
      local: what the parameters give, from :mod:`jaxact.theory` on the shaped function:
        ``q_out`` (``Q(1)``), ``q_slope`` (``Q'(1)``), ``c0`` (``C(0)``), ``c_slope``
        (``C'(1)``) and, where finite, ``c_curvature`` (``C''(1)``).
      network: the network's C map after ``depth`` layers: ``c0`` (``C_f(0)``, the composed
        map), ``c_slope`` (``C_f'(1) = C'(1)^L``) and, where finite, ``c_curvature``
        (``C_f''(1)``).
      init, sigma_w2, sigma_b2: the weights it assumes (orthogonal, 1, 0).
    """

    method: str
    activation: str
    depth: int
    alpha: float
    beta: float
    gamma: float
    delta: float
    params: Mapping[str, float]
    targets: Mapping[str, float]
    local: Mapping[str, float]
    network: Mapping[str, float]
    init: str = "orthogonal"
    sigma_w2: float = 1.0
    sigma_b2: float = 0.0

    @property
    def name(self) -> str:
        """The default registry name, e.g. ``tat_leaky_relu_d100_eta0p9``."""
        key, value = next(iter(self.targets.items()))
        num = f"{value:g}".replace(".", "p").replace("-", "m")
        return f"{self.method}_{self.activation}_d{self.depth}_{key}{num}"

    def __call__(self, x: ArrayLike) -> jax.Array:
        """``alpha * phi(beta * x + gamma) + delta`` (the registered record's function)."""
        return self.register()(x)

    def register(self, name: str | None = None) -> Activation:
        """The shaped activation as a registry record (registered on first use).

        Its ``derivative`` is ``alpha beta phi'(beta x + gamma)`` and its second derivative
        ``alpha beta^2 phi''(beta x + gamma)``, from ``phi``'s closed forms; kinks move to
        ``(x0 - gamma) / beta``. Registering the same shaping again returns the same record.

        Args:
          name: the registry name (default :attr:`name`).

        Returns:
          The :class:`~jaxact.Activation` (also ``jaxact.ACTIVATIONS[name]``).

        Raises:
          ValueError: ``name`` is taken by a different activation.
        """
        name = self.name if name is None else name
        rec = ACTIVATIONS.get(name)
        if rec is not None:
            if rec.doc == self._doc():
                return rec
            raise ValueError(
                f"Shaping.register: {name!r} is already registered as a different activation "
                f"({rec.doc}); pass another name=."
            )
        base = get_activation(self.activation)
        a, b, g, d, p = self.alpha, self.beta, self.gamma, self.delta, dict(self.params)

        def fn(x):
            return a * base.fn(b * x + g, **p) + d

        def d1(x):
            return (a * b) * base.derivative(b * x + g, **p)

        def d2(x):
            return (a * b * b) * base.second_derivative(b * x + g, **p)

        lo, hi = base.output_range.low, base.output_range.high
        if "negative_slope" in p:  # leaky ReLU with its own slope: unbounded both ways
            lo, hi = -math.inf, math.inf
        rng = Interval(a * lo + d, a * hi + d, base.output_range.low_closed,
                       base.output_range.high_closed)  # fmt: skip
        return register_activation(
            name, fn, d1, d2,
            kinks={(k - g) / b: a * b * v for k, v in base.kinks.items()},
            curvature_kinks={(k - g) / b: a * b * b * v for k, v in base.curvature_kinks.items()},
            output_range=rng, max_slope=a * b * base.max_slope,
            saturates_left=base.saturates_left, saturates_right=base.saturates_right,
            doc=self._doc(),
        )  # fmt: skip

    def _doc(self) -> str:
        p = "".join(f", {k}={v:.6g}" for k, v in self.params.items())
        return (f"{self.method.upper()} {self.activation}{p} for depth {self.depth}: "
                f"{self.alpha:.9g} * phi({self.beta:.9g} x + {self.gamma:.9g}) + "
                f"{self.delta:.9g}")  # fmt: skip


# ----------------------------------------------------------------------------- expectations


class _Family:
    """``phi(beta x + gamma)`` and its derivatives in ``x``, as float64 numpy functions."""

    def __init__(self, phi: theory.Float64Phi, beta: float, gamma: float):
        self.phi, self.beta, self.gamma = phi, beta, gamma
        self.kinks = [(k - gamma) / beta for k in phi.kinks]

    def mean(self, f: Callable[[np.ndarray], np.ndarray]) -> float:
        """``E[f(z)]``, ``z ~ N(0, 1)``, split at the moved kinks."""
        return theory.gaussian_expectation(f, 1.0, self.kinks)

    def at(self, order: int) -> Callable[[np.ndarray], np.ndarray]:
        f = (self.phi.fn, self.phi.d1, self.phi.d2)[order]
        b, g = self.beta, self.gamma
        return lambda z: b**order * f(b * z + g)


def _leaky(a: float) -> theory.Float64Phi:
    """Leaky ReLU with negative slope ``a`` (``phi'(0) = 1``, as the registry's)."""
    return theory.Float64Phi(
        "leaky_relu", lambda x: np.where(x >= 0, x, a * x),
        lambda x: np.where(x >= 0, 1.0, a), (0.0,), lambda x: np.zeros_like(x), (0.0,),
    )  # fmt: skip


def _moments(fam: _Family, shift: float | None, curvature: bool = False):
    """``(alpha, shift, Q'(1), C'(1), C''(1))`` of ``alpha (phi(beta x + gamma) + shift)`` with
    ``alpha`` giving ``Q(1) = 1``; ``shift=None`` picks the one that gives ``C(0) = 0``.
    ``C''(1)`` is computed only with ``curvature`` (TAT's smooth case; ``nan`` otherwise)."""
    f0, f1 = fam.at(0), fam.at(1)
    if shift is None:
        shift = -fam.mean(f0)
    m2 = fam.mean(lambda z: (f0(z) + shift) ** 2)
    if not (m2 > 0 and math.isfinite(m2)):
        return None
    a2 = 1.0 / m2
    q_slope = a2 * fam.mean(lambda z: (f0(z) + shift) * f1(z) * z)
    c_slope = a2 * fam.mean(lambda z: f1(z) ** 2)
    c_curv = math.nan
    if curvature:
        c_curv = a2 * fam.mean(lambda z: fam.at(2)(z) ** 2) if not fam.phi.jumps else math.inf
    return math.sqrt(a2), shift, q_slope, c_slope, c_curv


def _solve(residual: Callable[[np.ndarray], np.ndarray], starts, what: str) -> np.ndarray:
    """The first root of ``residual`` found from ``starts`` (scipy's hybrid Powell method)."""
    from scipy import optimize  # imported here: ``import jaxact`` stays light

    def safe(p):
        r = residual(p)
        return np.full(len(p), 1e6) if r is None or not np.all(np.isfinite(r)) else r

    for start in starts:
        sol = optimize.root(safe, np.asarray(start, np.float64), method="hybr")
        if sol.success and np.max(np.abs(safe(sol.x))) < _SOLVE_TOL:
            return sol.x
    raise ValueError(f"{what}: no parameters meet the targets (tried {len(starts)} starting "
                     "points); the targets may be out of this activation's reach.")  # fmt: skip


def _base(activation) -> tuple[Activation, theory.Float64Phi]:
    rec = get_activation(activation)
    if not rec.elementwise:
        raise ValueError(f"kernel shaping needs an elementwise activation, not {rec.name}.")
    return rec, theory.float64_phi(rec)


def _finish(method, name, depth, alpha, beta, gamma, delta, params, targets) -> Shaping:
    """Compute what the parameters give (local maps and the network's) from the shaped
    function itself, by :mod:`jaxact.theory`, and return the :class:`Shaping`."""
    s = Shaping(method, name, depth, float(alpha), float(beta), float(gamma), float(delta),
                dict(params), dict(targets), {}, {})  # fmt: skip
    rec = s.register()
    c_slope = theory.c_map(rec, 1.0, order=1)
    local = {"q_out": theory.q_map(rec, 1.0, 0.0, depth=1)[1],
             "q_slope": theory.q_map_slope(rec), "c0": theory.c_map(rec, 0.0),
             "c_slope": c_slope}  # fmt: skip
    network = {"c0": float(theory.composed_c_map(rec, 0.0, depth)[-1]),
               "c_slope": c_slope**depth}  # fmt: skip
    if not rec.kinks:
        c2 = theory.c_map(rec, 1.0, order=2)
        local["c_curvature"] = c2
        # (f o g)'' = f''(g) g'^2 + f'(g) g'' at c = 1, where every map is 1.
        net = 0.0
        for k in range(depth):
            net = c2 * c_slope ** (2 * k) + c_slope * net if k else c2
        network["c_curvature"] = net
    return dataclasses.replace(s, local={k: float(v) for k, v in local.items()},
                               network={k: float(v) for k, v in network.items()})  # fmt: skip


# ----------------------------------------------------------------------------- the methods


def _cached(solver):
    """The same arguments give the same :class:`Shaping` object (solved once per process)."""
    cached = functools.lru_cache(maxsize=256)(solver)

    @functools.wraps(solver)
    def call(activation, depth, **targets):
        if isinstance(activation, Activation):  # records are not hashable; names are
            return solver(activation, depth, **targets)
        return cached(activation, depth, **targets)

    return call


@_cached
def dks(activation, depth: int, *, zeta: float = 1.5, q_slope: float = 1.0) -> Shaping:
    r"""Deep Kernel Shaping for a plain MLP of ``depth`` activation layers.

    Solves for ``beta, gamma`` (``alpha``, ``delta`` follow in closed form) such that

    .. math::

        Q(1) = 1, \quad Q'(1) = q_{slope}, \quad C(0) = 0, \quad C'(1) = \zeta^{1/L},

    so the network's C map has ``C_f(0) = 0`` and ``C_f'(1) = zeta``. Two activations need
    their own unknowns, as in the paper: leaky ReLU solves for its negative slope and
    ``gamma`` (``beta`` is redundant for a positively homogeneous function); ReLU has one
    degree of freedom, so ``gamma = 1`` (``-1`` for ``zeta^(1/L) >= 1.4669``), ``beta`` meets
    ``C'(1)`` and ``Q'(1)`` is left free (reported in ``local``). Other hyperparameters stay
    at their registry defaults.

    Args:
      activation: a registry name or record (elementwise).
      depth: activation layers ``L`` of the network (>= 1).
      zeta: the network's ``C_f'(1)``, > 1 (1.5 in the paper).
      q_slope: the local ``Q'(1)`` (1 in the paper).

    Returns:
      :class:`Shaping` (``targets``: ``zeta``, ``q_slope``, ``c0`` and the local ``c_slope``).

    Raises:
      ValueError: ``zeta <= 1``, a non-positive depth, an activation that is not elementwise,
        or no solution found.

    References:
      Martens et al. (2021), Rapid training of deep neural networks without skip connections
      or normalization layers using Deep Kernel Shaping, https://arxiv.org/abs/2110.01765

    >>> import jaxact.shaping as sh
    >>> s = sh.dks("tanh", 50)
    >>> round(s.network["c_slope"], 9), round(s.network["c0"], 9), round(s.local["q_slope"], 9)
    (1.5, 0.0, 1.0)
    """
    depth = check_positive_int("dks: depth", depth)
    zeta = check_finite_number("dks: zeta", zeta, positive=True)
    q_slope = check_finite_number("dks: q_slope", q_slope, positive=True)
    if zeta <= 1.0:
        raise ValueError(f"dks: zeta must be > 1 (the network's C'(1)), got {zeta!r}.")
    rec, phi = _base(activation)
    target = zeta ** (1.0 / depth)
    targets = {"zeta": zeta, "q_slope": q_slope, "c0": 0.0, "c_slope": target}
    what = f"dks({rec.name!r}, depth={depth}, zeta={zeta:g})"
    if rec.name in ("relu", "leaky_relu"):
        if rec.name == "relu":
            gamma = 1.0 if target < 1.466942206924260361 else -1.0
            del targets["q_slope"]

            def res(p):
                m = _moments(_Family(phi, p[0], gamma), None)
                return None if m is None else np.array([m[3] - target])

            (beta,) = _solve(res, [(b,) for b in _STARTS["beta"]], what)
            a, shift = _moments(_Family(phi, beta, gamma), None)[:2]
            return _finish("dks", "relu", depth, a, beta, gamma, a * shift, {}, targets)

        def res(p):
            if not 0 <= p[0] < 1:
                return None
            m = _moments(_Family(_leaky(p[0]), 1.0, p[1]), None)
            return None if m is None else np.array([m[2] - q_slope, m[3] - target])

        slope, gamma = _solve(res, list(itertools.product(_STARTS["slope"], _STARTS["gamma"])),
                              what)  # fmt: skip
        a, shift = _moments(_Family(_leaky(slope), 1.0, gamma), None)[:2]
        return _finish("dks", "leaky_relu", depth, a, 1.0, gamma, a * shift,
                       {"negative_slope": float(slope)}, targets)  # fmt: skip

    def res(p):
        if p[0] <= 0:
            return None
        m = _moments(_Family(phi, p[0], p[1]), None)
        return None if m is None else np.array([m[2] - q_slope, m[3] - target])

    beta, gamma = _solve(res, list(itertools.product(_STARTS["beta"], _STARTS["gamma"])), what)
    a, shift = _moments(_Family(phi, beta, gamma), None)[:2]
    return _finish("dks", rec.name, depth, a, beta, gamma, a * shift, {}, targets)


def _leaky_c_map(c: float, a: float) -> float:
    """Leaky ReLU's local C map (slope ``a``, ``Q(1) = 1``): the arc-cosine kernel, mixed."""
    relu = (math.sqrt(max(0.0, 1 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi
    return ((1 - a) ** 2 * relu + 2 * a * c) / (1 + a * a)


def _leaky_network_c0(a: float, depth: int) -> float:
    c = 0.0
    for _ in range(depth):
        c = _leaky_c_map(c, a)
    return c


@_cached
def tat(activation, depth: int, *, eta: float = 0.9, tau: float = 0.3) -> Shaping:
    r"""Tailored Activation Transformation for a plain MLP of ``depth`` activation layers.

    * **Leaky ReLU, and ReLU** (which TAT turns into a leaky ReLU): the negative slope ``a``
      such that the network's C map has ``C_f(0) = eta``, with ``alpha = sqrt(2 / (1 + a^2))``
      (``Q(1) = 1``) and ``beta = 1, gamma = delta = 0``. ``eta`` near 1 keeps the network
      close to linear at initialisation; a deeper network needs a larger ``a``. The target is
      out of reach when even ReLU (``a = 0``) gives ``C_f(0) < eta``: shallow networks.
    * **Smooth activations**: ``beta, gamma`` and an output shift such that ``Q(1) = 1``,
      ``Q'(1) = 1``, ``C'(1) = 1`` and ``C''(1) = tau / L``, so the network's
      ``C_f''(1) = tau`` (solutions with ``alpha beta >= 2`` are passed over, as in the paper).

    Args:
      activation: a registry name or record (elementwise).
      depth: activation layers ``L`` of the network (>= 1).
      eta: the network's ``C_f(0)`` for (leaky) ReLU, in (0, 1).
      tau: the network's ``C_f''(1)`` for smooth activations, > 0.

    Returns:
      :class:`Shaping` (``targets``: ``eta`` and the slope, or ``tau`` and the local values).

    Raises:
      ValueError: a target out of range or out of reach at this depth, an activation that is
        not elementwise or whose derivative jumps (other than the ReLUs), or no solution found.

    References:
      Zhang, Botev, Martens (2022), Deep Learning without Shortcuts: Shaping the Kernel with
      Tailored Rectifiers, https://arxiv.org/abs/2203.08120

    >>> import jaxact.shaping as sh
    >>> s = sh.tat("leaky_relu", 100)
    >>> round(s.params["negative_slope"], 6), round(s.network["c0"], 9)
    (0.57044, 0.9)
    """
    from scipy import optimize

    depth = check_positive_int("tat: depth", depth)
    rec, phi = _base(activation)
    if rec.name in ("relu", "leaky_relu"):
        eta = check_finite_number("tat: eta", eta, positive=True)
        if eta >= 1.0:
            raise ValueError(f"tat: eta must be in (0, 1) (the network's C_f(0)), got {eta!r}.")
        top = _leaky_network_c0(0.0, depth)
        if top < eta:
            raise ValueError(
                f"tat: eta={eta:g} is out of reach at depth {depth}: even ReLU (negative slope "
                f"0) gives the network C_f(0) = {top:.4g}; lower eta or shape a deeper network."
            )
        slope = optimize.brentq(lambda a: _leaky_network_c0(a, depth) - eta, 0.0, 1.0,
                                xtol=1e-15, rtol=1e-15)  # fmt: skip
        alpha = math.sqrt(2.0 / (1.0 + slope * slope))
        return _finish("tat", "leaky_relu", depth, alpha, 1.0, 0.0, 0.0,
                       {"negative_slope": float(slope)},
                       {"eta": eta, "negative_slope": float(slope)})  # fmt: skip
    tau = check_finite_number("tat: tau", tau, positive=True)
    if phi.jumps:
        raise ValueError(f"tat: {rec.name}'s derivative jumps, so C''(1) is infinite; TAT "
                         "shapes smooth activations and (leaky) ReLU.")  # fmt: skip
    target = tau / depth

    def res(p):
        if p[0] <= 0:
            return None
        m = _moments(_Family(phi, p[0], p[1]), p[2], curvature=True)
        if m is None or m[0] * p[0] >= 2.0:
            return None
        return np.array([m[2] - 1.0, m[3] - 1.0, m[4] - target])

    starts = list(itertools.product(_STARTS["beta"], _STARTS["gamma"], _STARTS["shift"]))
    beta, gamma, shift = _solve(res, starts, f"tat({rec.name!r}, depth={depth}, tau={tau:g})")
    a = _moments(_Family(phi, beta, gamma), shift)[0]
    return _finish("tat", rec.name, depth, a, beta, gamma, a * shift, {},
                   {"tau": tau, "q_slope": 1.0, "c_slope": 1.0, "c_curvature": target})  # fmt: skip


def normalize_inputs(x: ArrayLike) -> jax.Array:
    """Scale each example to ``||x||^2 / dim = 1``: the input variance ``q = 1`` that a shaped
    network assumes (the ``dks`` package's per-location normalisation, for flat inputs).

    Args:
      x: ``(..., dim)`` inputs; an all-zero example is left at zero.

    Returns:
      Array of ``x``'s shape and dtype.

    >>> import jax.numpy as jnp, jaxact.shaping as sh
    >>> y = sh.normalize_inputs(jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    >>> [[round(float(v), 4) for v in row] for row in y]
    [[0.8485, 1.1314], [0.0, 0.0]]
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating) or x.ndim < 1:
        raise TypeError(f"normalize_inputs: x must be a floating array of shape (..., dim), "
                        f"got {x.dtype} {x.shape}.")  # fmt: skip
    ms = jnp.mean(x * x, axis=-1, keepdims=True)
    return x / jnp.sqrt(jnp.where(ms > 0, ms, 1.0))
