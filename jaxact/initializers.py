"""Weight initialisation schemes, each named by the variance it gives the weights.

Mean-field theory (:mod:`jaxact.theory`) describes a layer ``h = phi(a) W + b`` with
``W_ij ~ N(0, sigma_w2 / fan_in)`` and ``b_j ~ N(0, sigma_b2)``. Every scheme here states its
``sigma_w2`` in those units, so a measurement can be put beside the theory's prediction:

=============  ======================================  ==========================================
name           weights                                 ``sigma_w2``
=============  ======================================  ==========================================
``gaussian``   ``N(0, sigma_w2 / fan_in)``             as given (required)
``lecun``      ``N(0, 1 / fan_in)`` (LeCun 1998)       1
``glorot``     ``N(0, 2 / (fan_in + fan_out))``        ``2 fan_in / (fan_in + fan_out)`` (1 if
               (Glorot & Bengio 2010), alias xavier    square)
``he``         ``N(0, 2 / fan_in)`` (He et al. 2015),  2
               alias kaiming
``orthogonal`` ``gain * Q``, ``Q`` Haar-orthogonal     ``gain**2`` (``sigma_w2`` sets it; default 1)
               (Saxe et al. 2014)
``standard``   ``N(0, 1)``: the naive choice that      ``fan_in``
               made early deep nets fail
=============  ======================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import jax
import jax.numpy as jnp
import jax.random as jr

from jaxact.checks import check_finite_number

__all__ = ["INITIALIZERS", "Initializer", "get_initializer", "init_weights"]


@dataclasses.dataclass(frozen=True)
class Initializer:
    """A weight scheme: ``sigma_w2(fan_in, fan_out)`` and a sampler.

    Attributes:
      name: registry name.
      sigma_w2: ``(fan_in, fan_out, sigma_w2_arg) -> float``: the weights' variance times
        ``fan_in``. ``sigma_w2_arg`` is the user's ``sigma_w2`` (only ``gaussian`` and
        ``orthogonal`` take one).
      orthogonal: whether weights are a scaled orthogonal matrix rather than i.i.d. Gaussian.
      takes_sigma_w2: whether ``sigma_w2`` may be passed (required for ``gaussian``).
      doc: one-line description with the reference.
    """

    name: str
    sigma_w2: Callable[[int, int, float | None], float]
    orthogonal: bool
    takes_sigma_w2: bool
    doc: str


def _required(fan_in, fan_out, s):
    if s is None:
        raise ValueError("init='gaussian' needs sigma_w2 (W ~ N(0, sigma_w2 / fan_in)).")
    return float(s)


#: Read-only mapping from scheme name to :class:`Initializer` (:func:`get_initializer` also
#: takes the aliases ``"xavier"`` and ``"kaiming"``).
INITIALIZERS: Mapping[str, Initializer] = MappingProxyType(
    {
        "gaussian": Initializer(
            "gaussian", _required, False, True, "N(0, sigma_w2 / fan_in), sigma_w2 given"
        ),
        "lecun": Initializer("lecun", lambda i, o, s: 1.0, False, False, "N(0, 1/fan_in)"),
        "glorot": Initializer(
            "glorot",
            lambda i, o, s: 2.0 * i / (i + o),
            False,
            False,
            "N(0, 2/(fan_in+fan_out)), Glorot & Bengio 2010",
        ),
        "he": Initializer("he", lambda i, o, s: 2.0, False, False, "N(0, 2/fan_in), He 2015"),
        "orthogonal": Initializer(
            "orthogonal",
            lambda i, o, s: 1.0 if s is None else float(s),
            True,
            True,
            "gain * orthogonal, gain**2 = sigma_w2 (default 1), Saxe et al. 2014",
        ),
        "standard": Initializer(
            "standard", lambda i, o, s: float(i), False, False, "N(0, 1): unscaled"
        ),
    }
)

_ALIASES = MappingProxyType({"xavier": "glorot", "kaiming": "he", "normal": "gaussian"})


def get_initializer(name: str | Initializer) -> Initializer:
    """The :class:`Initializer` for a name or alias (``xavier``, ``kaiming``); records pass through.

    Args:
      name: a scheme's name (``jaxact.INITIALIZERS``), an alias (``"xavier"`` for
        ``"glorot"``, ``"kaiming"`` for ``"he"``) or an :class:`Initializer`.

    Returns:
      The :class:`Initializer` record (its weight variance rule ``sigma_w2(fan_in, fan_out,
      given)``, whether it is orthogonal, its description).

    Raises:
      ValueError: an unknown name (the message lists the valid ones and the closest match).

    >>> import jaxact
    >>> jaxact.get_initializer("kaiming").sigma_w2(256, 256, None)
    2.0
    """
    if isinstance(name, Initializer):
        return name
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key in INITIALIZERS:
        return INITIALIZERS[key]
    valid = sorted([*INITIALIZERS, *_ALIASES])
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown init {name!r}.{hint} Valid inits: {', '.join(valid)}.")


def resolve_sigma_w2(init: str | Initializer, fan_in: int, fan_out: int, sigma_w2=None) -> float:
    """The ``sigma_w2`` that ``init`` gives a ``fan_in x fan_out`` layer (arguments checked)."""
    rec = get_initializer(init)
    if sigma_w2 is not None:
        if not rec.takes_sigma_w2:
            raise ValueError(
                f"init={rec.name!r} fixes sigma_w2 ({rec.sigma_w2(fan_in, fan_out, None):g}); "
                "pass init='gaussian' (or 'orthogonal') to choose sigma_w2 yourself."
            )
        check_finite_number("sigma_w2", sigma_w2, positive=True)
    return rec.sigma_w2(fan_in, fan_out, sigma_w2)


def _householder_q(a: jax.Array) -> jax.Array:
    """``Q`` of the QR decomposition of ``a`` (``n x m``, ``n >= m``) with ``R``'s diagonal made
    positive: ``m`` Householder reflections in plain ``jax.numpy``.

    LAPACK's QR (what ``jnp.linalg.qr`` calls on CPU) hung XLA:CPU inside the sweeps' programs
    once they ran on two CPU devices (jaxlib 0.10.2: no thread busy, ``jaxact sweep --inits
    orthogonal`` and the study never returned); this has no custom call. It equals LAPACK's
    ``Q`` (sign-fixed) to float rounding, but its ``m`` sequential rank-1 updates are slower
    for wide matrices (0.5 s for 1000 x 1000 on a 2-core CPU, LAPACK's 0.05 s), so only those
    programs use it.
    """
    n, m = a.shape
    rows = jnp.arange(n)

    def reflect(j, carry):
        r, q = carry
        x = jnp.where(rows >= j, r[:, j], 0)
        # v = x + sign(x_j) ||x|| e_j, normalised: the reflection that zeroes column j below j.
        v = x.at[j].add(jnp.where(x[j] >= 0, 1, -1) * jnp.sqrt(jnp.sum(x * x)))
        vn = jnp.sqrt(jnp.sum(v * v))
        v = v / jnp.where(vn > 0, vn, 1)
        return r - 2 * jnp.outer(v, v @ r), q - 2 * jnp.outer(q @ v, v)

    r, q = jax.lax.fori_loop(0, m, reflect, (a, jnp.eye(n, dtype=a.dtype)))
    return q[:, :m] * jnp.where(jnp.diagonal(r)[:m] < 0, -1, 1).astype(a.dtype)


def _haar(key: jax.Array, n_rows: int, n_cols: int, dtype, householder: bool) -> jax.Array:
    """A Haar-distributed ``(n_rows, n_cols)`` matrix with orthonormal rows or columns.

    QR of a standard Gaussian matrix, with the columns of ``Q`` multiplied by the signs of
    ``R``'s diagonal (Mezzadri 2007) - the same values as ``jax.nn.initializers.orthogonal``
    (to float rounding with ``householder``: :func:`_householder_q`). The Gaussian matrix is
    drawn flat and reshaped (same numbers): under ``vmap``, random bits of a 2-D shape take
    XLA:CPU seconds to compile, a flat draw a fraction of one.
    """
    n, m = max(n_rows, n_cols), min(n_rows, n_cols)
    a = jr.normal(key, (n * m,), dtype).reshape(n, m)
    if householder:
        q = _householder_q(a)
    else:
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diagonal(r))
    return q if n_rows >= n_cols else q.T


def init_weights(
    key: jax.Array,
    shape: tuple[int, ...],
    init: str | Initializer = "he",
    *,
    sigma_w2: float | None = None,
    dtype=jnp.float32,
    householder: bool = False,
) -> jax.Array:
    """Sample weights of shape ``(..., fan_in, fan_out)`` (leading axes: independent stacks).

    Args:
      key: PRNG key.
      shape: ``(..., fan_in, fan_out)``; a layer computes ``a @ W``.
      init: scheme name (see the module table) or :class:`Initializer`.
      sigma_w2: for ``gaussian`` (required) and ``orthogonal`` (``gain**2``).
      dtype: floating dtype of the result.
      householder: orthogonal weights by Householder reflections in ``jax.numpy`` instead of
        LAPACK's QR, the same values to float rounding: for programs sharded over several CPU
        devices, where LAPACK's QR hung XLA:CPU (jaxlib 0.10.2; the sweeps use it).

    Returns:
      Array of ``shape`` and ``dtype``.

    >>> import jax, jaxact
    >>> w = jaxact.init_weights(jax.random.key(0), (512, 512), "he")
    >>> round(float(w.var() * 512), 1)
    2.0
    """
    rec = get_initializer(init)
    if len(shape) < 2:
        raise ValueError(f"init_weights needs a shape (..., fan_in, fan_out), got {shape}.")
    fan_in, fan_out = int(shape[-2]), int(shape[-1])
    s2 = resolve_sigma_w2(rec, fan_in, fan_out, sigma_w2)
    if rec.orthogonal:
        # One independent orthogonal matrix per leading index (jax's initializer would treat
        # the leading axes as extra rows of a single matrix).
        lead = tuple(shape[:-2])
        keys = jr.split(key, math.prod(lead)) if lead else key[None]
        q = jax.vmap(lambda k: _haar(k, fan_in, fan_out, dtype, householder))(keys)
        q = q.reshape(shape)
        # A square Q has entries of variance 1/n, so gain * Q has sigma_w2 = gain**2.
        return (math.sqrt(s2) * q).astype(dtype)
    return (math.sqrt(s2 / fan_in) * jr.normal(key, shape, dtype)).astype(dtype)
