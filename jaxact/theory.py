r"""Mean-field theory of signal propagation in wide random networks.

For the network of :mod:`jaxact.mlp`, ``h_l = phi(h_{l-1}) W_l + b_l`` with
``W ~ N(0, sigma_w2 / N)`` and ``b ~ N(0, sigma_b2)``, in the limit of infinite width
(Poole et al. 2016; Schoenholz et al. 2017, "Deep Information Propagation"):

* the **length map** ``q_l = sigma_w2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b2`` (``z ~ N(0, 1)``)
  carries the pre-activation variance from layer to layer, towards its fixed point ``q*``;
* ``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]`` multiplies the squared gradient norm at every layer
  on the way back: ``chi_1 < 1`` vanishing (the ordered phase), ``> 1`` exploding (chaotic),
  ``= 1`` the edge of chaos, where deep networks train (:func:`critical_sigma_w2`);
* the depth scales ``xi_q = -1 / log(dq_l / dq_{l-1} at q*)`` and ``xi_c = -1 / log chi_c``
  say over how many layers the length and the correlation of two inputs converge;
* the spectrum of ``J J^T`` for the input-output Jacobian has mean ``chi_1^L`` and a variance that
  depends on the weights' distribution (Pennington, Schoenholz & Ganguli 2017, "Resurrecting
  the sigmoid in deep learning through dynamical isometry").

Gaussian expectations are computed by composite Gauss-Legendre quadrature on ``[-12, 12]``
(the truncated tails weigh below ``1e-32``), split at every kink of ``phi`` and ``phi'`` so the
rule stays exact to double precision for ReLU-like functions; ``phi'`` is the registry's closed
form, or ``jax.grad`` of a user's own function.

All computations run in float64 (inside ``jax.enable_x64``) whatever the global JAX setting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxact.activations import Activation, get_activation
from jaxact.checks import check_finite_number, check_memory, check_positive_int

__all__ = [
    "DepthScales",
    "EdgeOfChaos",
    "Float64Phi",
    "JacobianSpectrum",
    "attenuation_rate",
    "TheoryComparison",
    "c_map",
    "chi1",
    "compare",
    "composed_c_map",
    "critical_sigma_w2",
    "depth_scales",
    "edge_of_chaos",
    "float64_phi",
    "gaussian_expectation",
    "jacobian_spectrum",
    "q_fixed_point",
    "q_map",
    "q_map_slope",
    "relu_log_gain_variance",
]

_Z_MAX = 12.0
_PANELS = 24
_NODES = 24
_LEG_X, _LEG_W = np.polynomial.legendre.leggauss(_NODES)


def _x64():
    """Context manager enabling float64 in JAX (``jax.enable_x64`` or its older home)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # pragma: no cover - older JAX

    return enable_x64()  # pragma: no cover


@dataclasses.dataclass(frozen=True)
class Float64Phi:
    """An activation as the quadratures see it (:func:`float64_phi`).

    Attributes:
      name: the registry name (or the function's ``__name__``).
      fn: ``phi`` as a float64 numpy function (any shape in, the same shape out).
      d1: ``phi'``, the registry's closed form (``jax.grad`` for a user's function).
      kinks: points where ``phi'`` or ``phi''`` jumps: the integrals split there.
      d2: ``phi''`` (closed form; ``None`` only for a hand-built record).
      jumps: points where ``phi'`` itself jumps (``phi''`` has a delta there).
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    d1: Callable[[np.ndarray], np.ndarray]
    kinks: tuple[float, ...]
    d2: Callable[[np.ndarray], np.ndarray] | None = None
    #: points where ``phi'`` itself jumps (``phi''`` has a delta there)
    jumps: tuple[float, ...] = ()


_COMPILED: dict[int, tuple[Activation, Callable, Callable, Callable]] = {}


def _float64(f: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """``f`` as a float64 numpy function: one compiled program per input shape."""
    g = jax.jit(f)

    def run(x):
        with _x64():
            return np.asarray(g(jnp.asarray(x, jnp.float64)))

    return run


def _float64_callables(rec: Activation) -> tuple[Callable, Callable, Callable]:
    """``phi``, ``phi'`` and ``phi''`` of a registry record as float64 numpy functions, each one
    compiled program per input shape (the quadratures call them hundreds of times on a few
    shapes; op-by-op dispatch would dominate). Kept per record object (records are not
    hashable)."""
    hit = _COMPILED.get(id(rec))
    if hit is not None and hit[0] is rec:
        return hit[1], hit[2], hit[3]
    fns = (_float64(rec.fn), _float64(rec.derivative), _float64(rec.second_derivative))
    _COMPILED[id(rec)] = (rec, *fns)
    return fns


def float64_phi(activation) -> Float64Phi:
    """An activation as float64 numpy functions ``phi``, ``phi'``, ``phi''`` with its kinks:
    what every expectation of this module integrates (and :mod:`jaxact.shaping` solves with).

    Each function is one compiled program per input shape, kept per registry record.

    Args:
      activation: a registry name or record, or a user's scalar function ``phi(x)`` (its
        derivatives then come from ``jax.grad``).

    Returns:
      :class:`Float64Phi`.

    Raises:
      ValueError: an unknown name or an activation that is not elementwise (softmax).
      TypeError: anything that is neither a name, a record nor a callable.

    >>> import numpy as np, jaxact.theory as th
    >>> phi = th.float64_phi("relu")
    >>> phi.fn(np.array([-1.0, 2.0])).tolist(), phi.d1(np.array([-1.0, 2.0])).tolist(), phi.jumps
    ([0.0, 2.0], [0.0, 1.0], (0.0,))
    """
    if isinstance(activation, (str, Activation)):
        rec = get_activation(activation)
        if not rec.elementwise:
            raise ValueError(f"mean-field theory needs an elementwise activation, not {rec.name}.")

        fn, d1, d2 = _float64_callables(rec)
        kinks = tuple(sorted(set(rec.kinks) | set(rec.curvature_kinks)))
        return Float64Phi(rec.name, fn, d1, kinks, d2, tuple(sorted(rec.kinks)))
    if callable(activation):
        grad = jax.vmap(jax.grad(activation))
        grad2 = jax.vmap(jax.grad(jax.grad(activation)))

        def ufn(x):
            with _x64():
                return np.asarray(activation(jnp.asarray(x, jnp.float64)))

        def ud1(x):
            with _x64():
                return np.asarray(grad(jnp.asarray(x, jnp.float64).ravel())).reshape(np.shape(x))

        def ud2(x):
            with _x64():
                return np.asarray(grad2(jnp.asarray(x, jnp.float64).ravel())).reshape(np.shape(x))

        name = getattr(activation, "__name__", "custom")
        return Float64Phi(name, ufn, ud1, (), ud2)
    raise TypeError(
        f"activation must be a registry name, an Activation or a callable, got {activation!r}."
    )


def _nodes(breaks_z: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights (including the Gaussian density) on [-Z, Z]."""
    edges = set(np.linspace(-_Z_MAX, _Z_MAX, _PANELS + 1).tolist())
    edges |= {float(b) for b in breaks_z if -_Z_MAX < b < _Z_MAX}
    edges = np.array(sorted(edges))
    a, b = edges[:-1, None], edges[1:, None]
    z = (0.5 * (b - a) * _LEG_X[None, :] + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * _LEG_W[None, :]).ravel()
    w = w * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return z, w


def gaussian_expectation(
    f: Callable[[np.ndarray], np.ndarray], q: float = 1.0, kinks: Sequence[float] = ()
) -> float:
    """``E[f(sqrt(q) z)]`` for ``z ~ N(0, 1)``, by composite Gauss-Legendre quadrature.

    Args:
      f: vectorised function of ``x = sqrt(q) z`` (numpy float64 in and out).
      q: variance of the argument (>= 0).
      kinks: points in ``x`` where ``f`` or its derivative jumps; the rule splits there.

    Returns:
      The expectation as a float (about 1e-14 relative for smooth ``f``).

    >>> round(gaussian_expectation(lambda x: np.maximum(x, 0) ** 2, q=3.0), 14)
    1.5
    """
    if q < 0 or not math.isfinite(q):
        raise ValueError(f"q must be a finite number >= 0, got {q!r}.")
    # q = 0 means the limit q -> 0+: at a kink x0 = 0 the two sides each get half the mass,
    # which a vanishingly small q with the kink split reproduces (f(0) alone would not).
    s = math.sqrt(q) if q > 0 else 1e-150
    z, w = _nodes([k / s for k in kinks])
    return float(np.sum(w * f(s * z)))


def _check_sigmas(sigma_w2: float, sigma_b2: float) -> None:
    check_finite_number("sigma_w2", sigma_w2, positive=True)
    check_finite_number("sigma_b2", sigma_b2, positive=False)


def _length(phi: Float64Phi, sigma_w2: float, sigma_b2: float, q: float) -> float:
    return sigma_w2 * gaussian_expectation(lambda x: phi.fn(x) ** 2, q, phi.kinks) + sigma_b2


def q_map(
    activation, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0, depth: int = 10
) -> np.ndarray:
    """The length map iterated ``depth`` times from ``q0``: ``[q_0, q_1, ..., q_depth]``.

    ``q_l = sigma_w2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b2`` is the variance of the
    pre-activations at layer ``l`` of an infinitely wide network whose first pre-activations have
    variance ``q_0``.

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      q0: the first layer's pre-activation variance.
      depth: how many times to apply the map.

    Returns:
      float64 array of shape ``(depth + 1,)``.

    References:
      Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli (2016), Exponential expressivity in deep
      neural networks through transient chaos, https://arxiv.org/abs/1606.05340

    >>> import jaxact.theory as th
    >>> th.q_map("relu", 2.0, 0.0, q0=3.0, depth=3).round(12).tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    _check_sigmas(sigma_w2, sigma_b2)
    phi = float64_phi(activation)
    qs = [float(q0)]
    for _ in range(depth):
        qs.append(_length(phi, sigma_w2, sigma_b2, qs[-1]))
    return np.array(qs)


def q_fixed_point(
    activation, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0, rtol: float = 1e-13
) -> float:
    """The fixed point ``q*`` that the length map reaches from ``q0``.

    The length map is increasing in ``q``, so iterating it from ``q0`` moves monotonically to
    the nearest root of ``f(q) = q`` in the direction of ``f(q0) - q0``; we bracket that root and
    solve for it directly (plain iteration is slow near criticality, where convergence becomes
    algebraic), with Brent's method on the bracket. Returns ``inf`` if the variance grows
    without bound (e.g. ReLU with ``sigma_w2 > 2``) and ``q0`` itself where every ``q`` is
    fixed (ReLU at ``sigma_w2 = 2``, ``sigma_b2 = 0``).

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      q0: where the iteration starts.
      rtol: relative tolerance of the root.

    Returns:
      ``q*`` as a float (``inf`` or ``q0`` in the cases above).

    References:
      Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli (2016), Exponential expressivity in deep
      neural networks through transient chaos, https://arxiv.org/abs/1606.05340

    >>> import jaxact.theory as th
    >>> round(th.q_fixed_point("relu", 1.0, 0.5), 12)  # q = q/2 + 0.5
    1.0
    """
    _check_sigmas(sigma_w2, sigma_b2)
    phi = float64_phi(activation)

    def g(q):
        return _length(phi, sigma_w2, sigma_b2, q) - q

    g0 = g(q0)
    if abs(g0) <= rtol * max(q0, 1e-300):
        return float(q0)
    if g0 > 0:  # the variance grows: the first root above q0, or infinity
        lo, hi = q0, max(2 * q0, 1e-3)
        while g(hi) > 0:
            lo, hi = hi, hi * 4
            if hi > 1e30:
                return math.inf
    else:  # the variance shrinks: the last root below q0, or 0
        hi, lo = q0, q0 / 4
        while g(lo) < 0:
            hi, lo = lo, lo / 4
            if lo < 1e-14 * q0:  # collapses to q* = 0 (to 14 digits of q0)
                return 0.0
    from scipy import optimize  # imported here: ``import jaxact`` stays light

    return float(optimize.brentq(g, lo, hi, xtol=1e-300, rtol=max(rtol, 1e-15)))


def _chi1_at(phi: Float64Phi, sigma_w2: float, q: float) -> float:
    return sigma_w2 * gaussian_expectation(lambda x: phi.d1(x) ** 2, q, phi.kinks)


def chi1(activation, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> float:
    """``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``: per-layer factor of the squared gradient norm.

    Below 1 gradients vanish geometrically through depth, above 1 they explode (Schoenholz et
    al. 2017, eq. 7). For ReLU ``chi_1 = sigma_w2 / 2`` whatever ``q*``. Where ``q* = inf``
    (the variance grows without bound) this is the limit of ``sigma_w2 E[phi'(sqrt(q) z)^2]``
    for ``q -> inf``.

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      q0: the starting variance of the length map (which fixed point is reached).

    Returns:
      ``chi_1`` as a float.

    References:
      Schoenholz, Gilmer, Ganguli, Sohl-Dickstein (2017), Deep Information Propagation,
      https://arxiv.org/abs/1611.01232

    >>> import jaxact.theory as th
    >>> round(th.chi1("relu", 2.0, 0.0), 12)
    1.0
    """
    phi = float64_phi(activation)
    q = q_fixed_point(activation, sigma_w2, sigma_b2, q0=q0)
    # Where the variance diverges (q* = inf, e.g. a linear net with sigma_w2 > 1) chi_1 is its
    # limit for q -> inf, which is finite for the piecewise-linear activations that get there.
    return _chi1_at(phi, sigma_w2, 1e200 if math.isinf(q) else q)


def _length_slope(phi: Float64Phi, sigma_w2: float, q: float) -> float:
    """``d q_l / d q_{l-1}`` at ``q``: ``sigma_w2 E[phi(x) phi'(x) z] / sqrt(q)``, ``x = sqrt(q)z``.

    Equal to ``chi_1 + sigma_w2 E[phi phi'']`` by Gaussian integration by parts, without the
    delta functions that ``phi''`` has at kinks.
    """
    if q == 0:  # d f / dq at 0+ = sigma_w2 E[phi'^2] at 0+ when phi(0) = 0 (by Stein)
        return _chi1_at(phi, sigma_w2, 0.0)
    s = math.sqrt(q)
    return (
        sigma_w2 * gaussian_expectation(lambda x: phi.fn(x) * phi.d1(x) * (x / s), q, phi.kinks) / s
    )


def _correlation_terms(phi: Float64Phi, q: float, c: float, f, g) -> float:
    """``E[f(u1) g(u2)]`` for ``u1, u2`` jointly Gaussian, variance ``q``, correlation ``c``.

    ``u1 = sqrt(q) z1`` and ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``: the outer rule over
    ``z1`` splits at the kinks of ``phi``, and each row's inner rule over ``z2`` splits where
    ``u2`` crosses a kink (a different ``z2`` on every row), so piecewise-smooth functions are
    integrated to double precision, not just smooth ones.
    """
    c = min(max(float(c), -1.0), 1.0)
    s = math.sqrt(q) if q > 0 else 1e-150
    kinks = np.asarray(phi.kinks, np.float64) / s
    if c == 1.0:
        return gaussian_expectation(lambda x: f(x) * g(x), q, phi.kinks)
    if c == 0.0:
        return gaussian_expectation(f, q, phi.kinks) * gaussian_expectation(g, q, phi.kinks)
    if c == -1.0:
        both = tuple({*phi.kinks, *(-k for k in phi.kinks)})
        return gaussian_expectation(lambda x: f(x) * g(-x), q, both)
    z1, w1 = _nodes(kinks)
    r = math.sqrt(1.0 - c * c)
    base = np.linspace(-_Z_MAX, _Z_MAX, _PANELS + 1)
    extra = np.clip((kinks[None, :] - c * z1[:, None]) / r, -_Z_MAX, _Z_MAX)
    edges = np.sort(np.concatenate([np.broadcast_to(base, (z1.size, base.size)), extra], 1), 1)
    a, b = edges[:, :-1, None], edges[:, 1:, None]
    z2 = 0.5 * (b - a) * _LEG_X + 0.5 * (a + b)  # (rows, panels, nodes)
    w2 = 0.5 * (b - a) * _LEG_W * np.exp(-0.5 * z2 * z2) / math.sqrt(2 * math.pi)
    inner = np.sum(w2 * g(s * (c * z1[:, None, None] + r * z2)), axis=(1, 2))
    return float(np.sum(w1 * f(s * z1) * inner))


def _derivative_of_order(phi: Float64Phi, order: int) -> Callable[[np.ndarray], np.ndarray]:
    if order == 0:
        return phi.fn
    if order == 1:
        return phi.d1
    if phi.jumps:
        raise ValueError(
            f"the C map's second derivative is infinite for {phi.name}: its derivative jumps "
            f"at x = {', '.join(f'{k:g}' for k in phi.jumps)} (phi'' has a delta there)."
        )
    return phi.d2


def _c_map_at(phi: Float64Phi, c: float, q: float, sigma_w2: float, sigma_b2: float,
              order: int = 0) -> float:  # fmt: skip
    """``d^order/dc^order`` of the local C map at ``c`` (inputs of variance ``q``)."""
    q_out = _length(phi, sigma_w2, sigma_b2, q)
    if not (q_out > 0 and math.isfinite(q_out)):
        raise ValueError(
            f"the C map needs a finite, positive output variance; {phi.name} with "
            f"sigma_w2={sigma_w2}, sigma_b2={sigma_b2} at q={q} gives {q_out}."
        )
    d = _derivative_of_order(phi, order)
    e = _correlation_terms(phi, q, c, d, d)
    return (sigma_w2 * q**order * e + (sigma_b2 if order == 0 else 0.0)) / q_out


def _check_c(c) -> np.ndarray:
    arr = np.asarray(c, np.float64)
    if arr.ndim > 1 or not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > 1):
        raise ValueError(f"c must be a correlation in [-1, 1] (a number or a 1-D list), got {c!r}.")
    return arr


def _check_q(q) -> float:
    return check_finite_number("q", q, positive=True)


def c_map(activation, c, *, q: float = 1.0, sigma_w2: float = 1.0, sigma_b2: float = 0.0,
          order: int = 0):  # fmt: skip
    r"""The local C map: the correlation of two inputs after one layer (or its derivatives).

    Two pre-activations ``u1, u2`` of variance ``q`` and correlation ``c`` go through ``phi``
    and a wide random layer; the next pre-activations have correlation

    .. math::

        C(c) = \frac{\sigma_w^2\, E[\phi(u_1) \phi(u_2)] + \sigma_b^2}
                    {\sigma_w^2\, E[\phi(u)^2] + \sigma_b^2}

    (Poole et al. 2016; the normalised "local C map" of Martens et al. 2021, which is the same
    map at ``q = 1``). ``C(1) = 1``; the slope ``C'(1)`` is ``chi_1`` divided by the output
    variance (``= chi_1`` at the fixed point ``q*``), and a deep network's kernel is this map
    composed (:func:`composed_c_map`). ``order=1`` or ``2`` gives ``C'(c)`` or ``C''(c)``,
    ``sigma_w2 q^k E[phi^(k)(u1) phi^(k)(u2)] / q_out`` by Gaussian integration by parts
    (``phi''`` from the registry's closed form); ``C''`` is infinite where ``phi'`` jumps, and
    asking for it there is an error.

    Args:
      activation: a registry name or record (a shaped activation from :mod:`jaxact.shaping`
        too), or a scalar function of one argument.
      c: the input correlation in ``[-1, 1]``: a number or a 1-D sequence.
      q: the inputs' variance (> 0).
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      order: 0 for the map itself, 1 or 2 for its derivative in ``c``.

    Returns:
      A float for a number ``c``, else a float64 array of ``c``'s shape.

    Raises:
      ValueError: ``c`` outside ``[-1, 1]``, ``q <= 0``, an order other than 0, 1, 2, or
        ``order=2`` for an activation whose derivative jumps.

    References:
      Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli (2016), Exponential expressivity in deep
      neural networks through transient chaos, https://arxiv.org/abs/1606.05340;
      Martens, Ballard, Desjardins, Swirszcz, Dalibard, Sohl-Dickstein, Schoenholz (2021),
      Rapid training of deep neural networks without skip connections or normalization
      layers using Deep Kernel Shaping, https://arxiv.org/abs/2110.01765

    >>> import jaxact.theory as th
    >>> round(th.c_map("relu", 0.0), 12)  # the arc-cosine kernel: 1/pi
    0.318309886184
    >>> round(th.c_map("relu", 1.0, order=1), 12)  # relu'^2 averages 1/2, q_out = 1/2
    1.0
    """
    if order not in (0, 1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 0, 1 or 2, got {order!r}.")
    _check_sigmas(sigma_w2, sigma_b2)
    q = _check_q(q)
    cs = _check_c(c)
    phi = float64_phi(activation)
    out = np.array([_c_map_at(phi, float(v), q, sigma_w2, sigma_b2, order) for v in cs.ravel()])
    return float(out[0]) if cs.ndim == 0 else out.reshape(cs.shape)


def composed_c_map(activation, c, depth: int, *, q: float = 1.0, sigma_w2: float = 1.0,
                   sigma_b2: float = 0.0) -> np.ndarray:  # fmt: skip
    """A depth-``depth`` network's C map: :func:`c_map` applied ``depth`` times.

    The variance follows the length map alongside (``q_l``, :func:`q_map`), so each layer's
    C map is taken at its own ``q_l``; at a fixed point of the length map (a shaped activation
    has ``Q(1) = 1``) every layer uses the same map.

    Args:
      activation: a registry name or record, or a scalar function.
      c: the input correlation in ``[-1, 1]``: a number or a 1-D sequence.
      depth: how many layers (>= 1).
      q: the first layer's input variance.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.

    Returns:
      float64 array ``(depth + 1,)`` (a number ``c``) or ``(depth + 1, len(c))``:
      ``[c_0, c_1, ..., c_depth]``, ``c_0 = c``.

    >>> import jaxact.theory as th
    >>> th.composed_c_map("identity", 0.3, 3).round(12).tolist()  # linear: nothing changes
    [0.3, 0.3, 0.3, 0.3]
    >>> c = th.composed_c_map("relu", 0.0, 2, sigma_w2=2.0)  # arc-cosine kernel, twice
    >>> c.round(6).tolist()
    [0.0, 0.31831, 0.493731]
    """
    depth = check_positive_int("depth", depth)
    _check_sigmas(sigma_w2, sigma_b2)
    q = _check_q(q)
    cs = _check_c(c)
    phi = float64_phi(activation)
    qs = [q]
    for _ in range(depth - 1):
        qs.append(_length(phi, sigma_w2, sigma_b2, qs[-1]))
    rows = [cs.ravel()]
    for ql in qs:
        rows.append(np.array([_c_map_at(phi, float(v), ql, sigma_w2, sigma_b2) for v in rows[-1]]))
    out = np.stack(rows)
    return out[:, 0] if cs.ndim == 0 else out


def q_map_slope(activation, q: float = 1.0, *, sigma_w2: float = 1.0,
                sigma_b2: float = 0.0) -> float:  # fmt: skip
    r"""The local q map's slope ``dQ/dq`` at ``q``: how a layer changes a small change of the
    input variance.

    .. math::

        Q(q) = \sigma_w^2 E[\phi(\sqrt{q} z)^2] + \sigma_b^2, \qquad
        Q'(q) = \sigma_w^2 E[\phi(x) \phi'(x) z] / \sqrt{q},\ x = \sqrt{q} z

    Deep Kernel Shaping asks ``Q(1) = 1`` and ``Q'(1) = 1`` of every layer (Martens et al.
    2021), so that variances neither drift nor get pulled to a fixed point. At the fixed point
    ``q*`` it is ``exp(-1 / xi_q)`` (:func:`depth_scales`).

    Args:
      activation: a registry name or record, or a scalar function.
      q: the input variance (> 0).
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.

    Returns:
      ``Q'(q)`` as a float.

    >>> import jaxact.theory as th
    >>> round(th.q_map_slope("relu", 1.0, sigma_w2=2.0), 12)  # Q(q) = q
    1.0
    """
    _check_sigmas(sigma_w2, sigma_b2)
    return _length_slope(float64_phi(activation), sigma_w2, _check_q(q))


@dataclasses.dataclass(frozen=True)
class DepthScales:
    """What :func:`depth_scales` returns.

    Attributes:
      q_star: the fixed point of the length map.
      chi1: the per-layer factor of the squared gradient norm at ``q*``.
      xi_q: ``-1/log(dq_l/dq_{l-1})`` at ``q*``.
      c_star: the fixed point of the correlation map (1 in the ordered phase).
      chi_c: its slope there.
      xi_c: ``-1/log(chi_c)``; ``inf`` at the edge of chaos.
    """

    q_star: float
    chi1: float
    xi_q: float
    c_star: float
    chi_c: float
    xi_c: float


@dataclasses.dataclass(frozen=True)
class JacobianSpectrum:
    """What :func:`jacobian_spectrum` returns: ``mean`` and ``variance`` of the eigenvalues of
    ``J J^T``, the moments ``mu1``, ``mu2`` of ``phi'^2``, the S-transform coefficient ``s1`` and
    ``q_star``."""

    mean: float
    variance: float
    mu1: float
    mu2: float
    s1: float
    q_star: float


def _correlation_fixed_point(phi: Float64Phi, sigma_w2: float, sigma_b2: float, q: float) -> float:
    """The stable fixed point ``c* < 1`` of the correlation map in the chaotic phase.

    The map ``c -> (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q`` lies above the diagonal
    below ``c*`` and below it between ``c*`` and 1 (its slope at 1 is ``chi_1 > 1``), so
    Brent's method on ``map(c) - c`` finds ``c*`` in a few dozen evaluations; plain
    iteration (slow where ``chi_c`` is near 1) is the fallback if no bracket is found.
    """
    from scipy.optimize import brentq

    def cmap(c):
        return min(max((sigma_w2 * _correlation_terms(phi, q, c, phi.fn, phi.fn) + sigma_b2) / q,
                       -1.0), 1.0)  # fmt: skip

    lo, hi = -1.0 + 1e-12, 1.0 - 1e-9
    g_lo, g_hi = cmap(lo) - lo, cmap(hi) - hi
    if g_lo > 0 > g_hi:
        return float(brentq(lambda c: cmap(c) - c, lo, hi, xtol=1e-14, rtol=1e-14))
    c = 0.5
    for _ in range(500):
        c_new = cmap(c)
        if abs(c_new - c) < 1e-13:
            return c_new
        c = c_new
    return c


def depth_scales(activation, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> DepthScales:
    """Depth scales of the length and correlation maps (Schoenholz et al. 2017, eqs. 5 and 9).


    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      q0: the starting variance of the length map.

    Returns:
      :class:`DepthScales` (floats): ``q_star``, ``chi1``, ``xi_q = -1/log(dq_l/dq_{l-1})`` at
      ``q*``, ``c_star`` (the fixed point of the correlation map: 1 in the ordered phase),
      ``chi_c`` (its slope there) and ``xi_c = -1/log(chi_c)``; ``inf`` at the edge of chaos.

    Raises:
      ValueError: the length map has no fixed point (``q`` grows without bound, e.g. ReLU
        with ``sigma_w2 > 2``).

    References:
      Schoenholz, Gilmer, Ganguli, Sohl-Dickstein (2017), Deep Information Propagation,
      https://arxiv.org/abs/1611.01232

    >>> import jaxact.theory as th
    >>> round(th.depth_scales("relu", 1.5, 0.0).chi1, 6)
    0.75
    """
    phi = float64_phi(activation)
    q = q_fixed_point(activation, sigma_w2, sigma_b2, q0=q0)
    if math.isinf(q):
        raise ValueError(
            f"depth_scales({phi.name!r}, sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g}): the "
            f"length map has no fixed point - the pre-activation variance q grows without bound "
            f"from q0 = {q0:g} (the slope of q -> sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2 stays "
            "above 1) - so there are no depth scales; lower sigma_w2 (2 for ReLU)."
        )
    c1 = _chi1_at(phi, sigma_w2, q)
    slope = _length_slope(phi, sigma_w2, q)
    xi_q = -1.0 / math.log(slope) if 0 < slope < 1 - 1e-12 else math.inf
    if c1 <= 1.0 + 1e-12 or q == 0:  # ordered or critical (to quadrature precision)
        c_star, chi_c = 1.0, min(c1, 1.0)
    else:
        # Chaotic phase: the correlation map c -> (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q
        # has a stable fixed point c* < 1; iterate to it.
        c_star = _correlation_fixed_point(phi, sigma_w2, sigma_b2, q)
        chi_c = sigma_w2 * _correlation_terms(phi, q, c_star, phi.d1, phi.d1)
    xi_c = -1.0 / math.log(chi_c) if 0 < chi_c < 1 - 1e-12 else math.inf
    return DepthScales(q, c1, xi_q, c_star, chi_c, xi_c)


def relu_log_gain_variance(width: int, depth: int = 1) -> float:
    """Variance of ``log ||J u||^2`` for a He-initialised ReLU MLP at finite width.

    ``J`` is the input-output Jacobian of ``depth`` hidden layers of ``width`` units (Gaussian
    weights of variance ``2/width``, no biases) and ``u`` a fixed vector. Each layer multiplies
    ``||J u||^2`` by an independent factor ``(2/n) chi^2_K`` with ``K ~ Binomial(n, 1/2)``
    active units (the direction of ``u`` independent of the input's), of mean 1 and variance
    ``5/n``. With ``log chi^2_k`` of mean ``psi(k/2) + log 2`` and variance ``psi'(k/2)``
    (``psi`` the digamma function), per layer, given ``K >= 1``::

        Var[log factor] = E[psi'(K/2)] + Var[psi(K/2)]

    and the layers' variances add. For wide layers this is ``5/n`` per layer, ``5 sum_l 1/n_l``
    in all: the law of Hanin (2018) and Hanin & Nica (2019,
    https://arxiv.org/abs/1812.05994); at width 16 it is 0.42 per layer, a third above.

    Args:
      width: units per hidden layer ``n``.
      depth: number of hidden layers.

    Returns:
      The variance (a float), ``depth`` times the one-layer value.

    References:
      Hanin (2018), Which neural net architectures give rise to exploding and vanishing
      gradients?, https://arxiv.org/abs/1801.03744

    >>> import jaxact.theory as th
    >>> round(th.relu_log_gain_variance(1000) * 1000, 2)  # -> 5 for wide layers
    5.02
    """
    from scipy.special import polygamma
    from scipy.stats import binom

    n = check_positive_int("width", width)
    k = np.arange(1, n + 1)
    p = binom.pmf(k, n, 0.5) / -np.expm1(n * math.log(0.5))  # Binomial(n, 1/2) given K >= 1
    psi = polygamma(0, k / 2)
    per_layer = float(np.sum(p * polygamma(1, k / 2)) + np.sum(p * psi**2) - np.sum(p * psi) ** 2)
    return check_positive_int("depth", depth) * per_layer


def critical_sigma_w2(
    activation, sigma_b2: float = 0.0, *, bounds: tuple[float, float] = (1e-3, 1e3)
) -> float:
    """The ``sigma_w2`` at which ``chi_1 = 1`` (the edge of chaos) for the given ``sigma_b2``.

    Solved by Brent's method on ``log sigma_w2``. Raises ``ValueError`` if ``chi_1 - 1`` does not
    change sign within ``bounds``.

    Args:
      activation: a registry name or record.
      sigma_b2: bias variance.
      bounds: the ``sigma_w2`` interval searched.

    Returns:
      The critical ``sigma_w2`` (a float), to about 1e-12 relative.

    Raises:
      ValueError: ``chi_1 - 1`` does not change sign within ``bounds``.

    References:
      Schoenholz, Gilmer, Ganguli, Sohl-Dickstein (2017), Deep Information Propagation,
      https://arxiv.org/abs/1611.01232

    >>> import jaxact.theory as th
    >>> round(th.critical_sigma_w2("relu"), 10)
    2.0
    """
    phi = float64_phi(activation)

    def h(log_s):
        s = math.exp(log_s)
        q = q_fixed_point(activation, s, sigma_b2)
        return (math.inf if math.isinf(q) else _chi1_at(phi, s, q)) - 1.0

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    hlo, hhi = h(lo), h(hi)
    if hlo > 0 or hhi < 0:
        raise ValueError(
            f"chi_1 = 1 is not crossed for {phi.name} with sigma_b2={sigma_b2} and sigma_w2 in "
            f"{bounds} (chi_1 - 1 = {hlo:.3g} .. {hhi:.3g})."
        )
    from scipy import optimize

    # h carries the fixed point's own error (~1e-13 relative): asking Brent for more than
    # 1e-12 in log sigma_w2 made it chase that noise and, with some NumPy versions, run out of
    # iterations (found by running the suite at the declared version floors).
    return math.exp(optimize.brentq(h, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=200))


@dataclasses.dataclass(frozen=True)
class EdgeOfChaos:
    """What :func:`edge_of_chaos` returns: one activation's critical line ``chi_1 = 1`` in the
    ``(sigma_w2, sigma_b2)`` plane (:func:`jaxact.plotting.plot_phase_diagram` draws it).

    Attributes:
      activation: the registry name.
      sigma_w2: the critical ``sigma_w2`` at each ``sigma_b2`` where one exists.
      sigma_b2: those bias variances (the same length).
      unreached: the bias variances asked for at which ``chi_1 = 1`` is not crossed.
    """

    activation: str
    sigma_w2: tuple[float, ...]
    sigma_b2: tuple[float, ...]
    unreached: tuple[float, ...]


def edge_of_chaos(activation, sigma_b2: Sequence[float] | None = None) -> EdgeOfChaos:
    """The edge of chaos of one activation: :func:`critical_sigma_w2` along ``sigma_b2``.

    Left of the line (smaller ``sigma_w2``) a deep network is ordered and its gradients vanish;
    right of it, chaotic, and they explode.

    Args:
      activation: a registry name or record.
      sigma_b2: the bias variances (default 11 points in ``[0, 0.5]``).

    Returns:
      An :class:`EdgeOfChaos`; the bias variances where ``chi_1 = 1`` is not crossed (within
      :func:`critical_sigma_w2`'s bounds) are listed in ``unreached``.

    >>> import jaxact.theory as th
    >>> e = th.edge_of_chaos("relu", [0.0, 0.1])
    >>> [round(w, 6) for w in e.sigma_w2], e.unreached
    ([2.0, 2.0], ())
    """
    name = float64_phi(activation).name
    grid = np.linspace(0.0, 0.5, 11) if sigma_b2 is None else sigma_b2
    xs, ys, missed = [], [], []
    for b in (float(v) for v in grid):
        try:
            xs.append(critical_sigma_w2(activation, b))
            ys.append(b)
        except ValueError:
            missed.append(b)
    return EdgeOfChaos(name, tuple(xs), tuple(ys), tuple(missed))


def jacobian_spectrum(
    activation,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: str = "gaussian",
    *,
    q0: float = 1.0,
) -> JacobianSpectrum:
    """Mean and variance of the eigenvalues of ``J J^T`` for the input-output Jacobian.

    With ``mu_k = E[phi'(sqrt(q*) z)^{2k}]`` and ``s_1`` the first S-transform coefficient of
    ``W W^T`` (``-1`` for Gaussian weights, ``0`` for orthogonal), in the wide limit (Pennington
    et al. 2017, eqs. 14-17; normalised variances add under free multiplication):

    ``mean = chi_1^L``,  ``variance = mean^2 L (mu_2 / mu_1^2 - 1 - s_1)``.

    A linear network at criticality therefore has variance ``L`` with Gaussian weights and 0 with
    orthogonal ones (dynamical isometry).

    Returns:
      :class:`JacobianSpectrum`.

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      depth: number of layers ``L``.
      weights: ``"gaussian"`` or ``"orthogonal"``.
      q0: the starting variance of the length map.

    References:
      Pennington, Schoenholz, Ganguli (2017), Resurrecting the sigmoid in deep learning through
      dynamical isometry, https://arxiv.org/abs/1711.04735

    >>> import jaxact.theory as th
    >>> s = th.jacobian_spectrum("identity", 1.0, 0.0, 10)
    >>> round(s.mean, 12), round(s.variance, 9)  # critical linear net, Gaussian weights: L
    (1.0, 10.0)
    """
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}.")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}.")
    phi = float64_phi(activation)
    q = q_fixed_point(activation, sigma_w2, sigma_b2, q0=q0)
    mu1 = gaussian_expectation(lambda x: phi.d1(x) ** 2, q, phi.kinks)
    mu2 = gaussian_expectation(lambda x: phi.d1(x) ** 4, q, phi.kinks)
    s1 = -1.0 if weights == "gaussian" else 0.0
    mean = (sigma_w2 * mu1) ** depth
    variance = mean**2 * depth * (mu2 / mu1**2 - 1 - s1)
    return JacobianSpectrum(mean, variance, mu1, mu2, s1, q)


@dataclasses.dataclass(frozen=True)
class TheoryComparison:
    """Measured per-layer gradient attenuation beside the mean-field prediction.

    Attributes:
      activation, sigma_w2, sigma_b2, width, depth: the setting.
      q_star, chi1: the prediction.
      measured_chi1: per seed, ``exp(mean over layers of log(||g_l||^2 / ||g_{l+1}||^2))``.
      sq_norms: ``(seeds, depth)`` measured ``||dL/dh_l||^2``, normalised to 1 at the last layer.
      relative_error: ``|mean(measured_chi1) / chi1 - 1|``.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    width: int
    depth: int
    q_star: float
    chi1: float
    measured_chi1: np.ndarray
    sq_norms: np.ndarray

    @property
    def relative_error(self) -> float:
        return abs(float(np.mean(self.measured_chi1)) / self.chi1 - 1.0)

    def __repr__(self) -> str:
        m = self.measured_chi1
        return (
            f"TheoryComparison({self.activation}, sigma_w2={self.sigma_w2:g}, "
            f"sigma_b2={self.sigma_b2:g}, width={self.width}, depth={self.depth}: chi_1 "
            f"predicted {self.chi1:.4f}, measured {m.mean():.4f} +- {m.std():.4f} over "
            f"{m.size} seeds, relative error {100 * self.relative_error:.2f}%)"
        )


def compare(
    activation,
    *,
    sigma_w2: float | None = None,
    sigma_b2: float = 0.0,
    depth: int = 30,
    width: int = 1000,
    seeds: int | Sequence[int] = 4,
    batch: int = 16,
    dtype=jnp.float32,
    params=None,
) -> TheoryComparison:
    """Measure ``chi_1`` on random networks and put it beside the prediction.

    The inputs are drawn at the fixed point (``x = phi(h0)``, ``h0 ~ N(0, q*)``), so every layer
    sits at ``q*`` as the theory assumes; the gradient is that of the default linear loss of
    :func:`~jaxact.attenuation.layer_gradient_norms`, whose squared norm theory says is
    multiplied by ``chi_1`` per layer. Layers whose gradient has underflowed to 0 are left out
    of the fit (use ``dtype=jnp.float64`` inside ``jax.enable_x64`` for strongly ordered nets).

    Either give the settings (``sigma_w2``, ``sigma_b2``, ``depth``, ``width``; one random net per
    seed), or ``params`` of an existing network (from :func:`~jaxact.init_mlp`): then its own
    weights are measured and the prediction uses the variances read off them,
    ``sigma_w2 = width * var(W)`` and ``sigma_b2 = var(b)``.

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in (required without ``params``).
      sigma_b2: bias variance.
      depth: hidden layers of each random network.
      width: units per layer (theory is exact in the infinitely wide limit; the finite-width
        error shrinks like ``1/width``).
      seeds: a count or a list of seeds, one network each.
      batch: inputs per network.
      dtype: the networks' dtype.
      params: an existing network to measure instead of random ones.

    Returns:
      :class:`TheoryComparison`: the setting, the predicted ``q_star`` and ``chi1``, the
      measured ``chi_1`` per seed, the normalised squared norms ``(seeds, depth)`` and the
      relative error of their mean.

    References:
      Schoenholz, Gilmer, Ganguli, Sohl-Dickstein (2017), Deep Information Propagation,
      https://arxiv.org/abs/1611.01232

    >>> import jaxact.theory as th
    >>> c = th.compare("tanh", sigma_w2=1.5, depth=10, width=256, seeds=2)
    >>> c.sq_norms.shape, bool(c.relative_error < 0.1)
    ((2, 10), True)
    """
    from jaxact.attenuation import layer_gradient_norms
    from jaxact.mlp import init_mlp

    name = get_activation(activation).name
    if params is not None:
        depth, width = params.depth, params.width
        sigma_w2 = float(jnp.var(params.weights) * width)
        sigma_b2 = float(jnp.var(params.biases))
        dtype = params.dtype
    elif sigma_w2 is None:
        raise ValueError("compare needs sigma_w2 (with the settings) or params.")
    else:
        check_positive_int("compare: depth", depth)
        check_positive_int("compare: width", width)
    check_positive_int("compare: batch", batch)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if isinstance(seeds, bool) or not seed_list:
        raise ValueError(f"compare: seeds must be a count >= 1 or a non-empty list of seeds, "
                         f"got {seeds!r}.")  # fmt: skip
    if params is None:  # the network (sampled at about 3x its size) and the batch's trace
        values = 3 * depth * (width + 1) * width + 4 * depth * batch * width
        check_memory(f"compare: depth {depth} x width {width}",
                     values * jnp.dtype(dtype).itemsize)  # fmt: skip
    q = q_fixed_point(name, sigma_w2, sigma_b2)
    if not (0 < q < math.inf):
        raise ValueError(
            f"compare needs a finite, positive fixed point q*; {name} with sigma_w2={sigma_w2}, "
            f"sigma_b2={sigma_b2} has q* = {q}."
        )
    c1 = chi1(name, sigma_w2, sigma_b2)
    if params is not None:
        seed_list = seed_list[:1]
    measured, curves = [], []
    rec = get_activation(name)
    for seed in seed_list:
        kp, kx = jax.random.split(jax.random.key(seed))
        net = params if params is not None else init_mlp(
            kp, depth=depth, width=width, init="gaussian", sigma_w2=sigma_w2,
            sigma_b2=sigma_b2, dtype=dtype,
        )  # fmt: skip
        h0 = math.sqrt(q) * jax.random.normal(kx, (batch, width), dtype)
        out = layer_gradient_norms(net, rec.fn(h0), name)
        sq = np.asarray(out.pre, np.float64) ** 2
        usable = np.nonzero(sq > 0)[0]
        if usable.size < 3 or usable[0] != depth - usable.size:
            raise FloatingPointError(
                f"compare: the gradient underflowed to 0 below layer {depth - usable.size + 1} "
                f"of {depth} (chi_1 = {c1:.3g}); use fewer layers or float64."
            )
        ratios = sq[usable[:-1]] / sq[usable[1:]]
        measured.append(float(np.exp(np.mean(np.log(ratios)))))
        curves.append(sq / sq[-1])
    return TheoryComparison(
        name, sigma_w2, sigma_b2, width, depth, q, c1, np.array(measured), np.array(curves)
    )


def attenuation_rate(activation, sigma_w2: float, sigma_b2: float,
                     depth: int | None = None) -> float:  # fmt: skip
    """Mean-field prediction of the per-layer gradient rate that :func:`~jaxact.sweep` fits.

    (Also importable as ``jaxact.sweeps.theory_rate``.)

    Backwards through layer ``l`` the gradient norm changes by ``sqrt(chi(q_l))``, with
    ``chi(q) = sigma_w2 E[phi'(sqrt(q) z)^2]`` and ``q_l`` the pre-activation variance of an
    infinitely wide network.

    * ``depth=None``: at the fixed point ``q*``, ``sqrt(chi_1)``; what a very deep network
      approaches.
    * ``depth``: what this sweep measures at that depth. The variances start from
      ``q_1 = sigma_w2 + sigma_b2`` (the sweep's inputs are standard normal), follow the length
      map, and the predicted per-layer norms get the same least-squares fit as the measured
      ones (:func:`~jaxact.attenuation.fit_rate`). Near a critical point, where ``q_l``
      approaches ``q*`` slowly, the two differ at finite depth.

    Args:
      activation: a registry name or record.
      sigma_w2: weight variance times fan-in.
      sigma_b2: bias variance.
      depth: ``None`` for the deep limit, or the number of hidden layers.

    Returns:
      The predicted per-layer factor of the gradient norm (a float; below 1 it vanishes).

    >>> round(attenuation_rate("relu", 1.0, 0.0), 6)   # sqrt(sigma_w2 / 2)
    0.707107
    >>> r = attenuation_rate
    >>> round(r("tanh", 1.0, 0.0), 4), round(r("tanh", 1.0, 0.0, depth=30), 4)
    (1.0, 0.9533)
    """
    from jaxact.vocabulary import fit_rate

    if depth is None:
        return math.sqrt(chi1(activation, sigma_w2, sigma_b2))
    depth = check_positive_int("attenuation_rate: depth", depth)
    phi = float64_phi(activation)
    qs = q_map(activation, sigma_w2, sigma_b2, q0=sigma_w2 + sigma_b2, depth=depth - 1)
    factors = np.sqrt([_chi1_at(phi, sigma_w2, q) for q in qs])  # layer 1 first
    # g_depth = 1 and g_l = g_{l+1} sqrt(chi(q_l)): the norms, layer 1 first.
    norms = np.append(np.cumprod(factors[:-1][::-1])[::-1], 1.0)
    return fit_rate(norms)[0]
