"""Data sets for the training studies: two spirals, a teacher network, digits and MNIST-1D.

Every data set is a :class:`Dataset` (inputs, targets, task, name) and is made offline: two
spirals and the teacher are drawn from a key, ``digits`` ships inside scikit-learn and
:func:`mnist1d` is generated here. :func:`split` makes a fixed, stratified train/test split.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact.checks import check_memory, check_positive_int
from jaxact.mlp import init_mlp, mlp_forward

__all__ = [
    "TASKS",
    "Dataset",
    "check_dataset",
    "digits",
    "mnist1d",
    "split",
    "standardize",
    "teacher_student",
    "two_spirals",
]


class Dataset(NamedTuple):
    """Inputs ``x`` ``(n, in_dim)``, targets ``y`` (``(n,)`` int labels or ``(n, out)`` floats).

    ``task`` is ``"binary"``, ``"multiclass"`` or ``"regression"``; ``name`` says what it is.
    """

    x: jax.Array
    y: jax.Array
    task: str
    name: str

    @property
    def out_dim(self) -> int:
        """Outputs a network needs: 1 for binary, the number of classes, or ``y``'s width."""
        if self.task == "binary":
            return 1
        if self.task == "multiclass":
            return int(np.max(np.asarray(self.y))) + 1
        return int(self.y.shape[-1])


#: The tasks a :class:`Dataset` can hold.
TASKS = ("binary", "multiclass", "regression")


def check_dataset(data: Any, name: str = "data") -> Dataset:
    """Check, before any training, that ``data`` is a :class:`Dataset` whose targets fit its
    task: a mismatch trains to nonsense (binary cross-entropy on labels 0..5 reaches a loss
    of -100) rather than failing.

    * ``x``: ``(n, in_dim)``, ``n >= 1``, floating, finite.
    * binary: ``y`` ``(n,)`` holding only 0 and 1; multiclass: ``y`` ``(n,)`` integers
      ``>= 0``; regression: ``y`` ``(n, out_dim)`` floating, finite.

    Args:
      data: the data set.
      name: how messages name it.

    Returns:
      ``data``.

    Raises:
      TypeError: not a :class:`Dataset`, or arrays of the wrong kind.
      ValueError: an unknown task, an empty set, mismatched lengths, targets outside the task.

    >>> import jax.numpy as jnp
    >>> from jaxact.datasets import Dataset, check_dataset
    >>> check_dataset(Dataset(jnp.zeros((3, 2)), jnp.array([0, 1, 5]), "binary", "mine"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data (mine): binary labels must be 0 or 1, got values up to 5; use task=...
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"{name} must be a jaxact Dataset(x, y, task, name), got "
                        f"{type(data).__name__}.")  # fmt: skip
    label = f"{name} ({data.name})"
    if data.task not in TASKS:
        raise ValueError(f"{label}: unknown task {data.task!r}; use one of {TASKS}.")
    x, y = np.asarray(data.x), np.asarray(data.y)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{label}: x must be a floating array (n, in_dim), got {x.dtype} "
                        f"{x.shape}.")  # fmt: skip
    if x.shape[0] == 0:
        raise ValueError(f"{label}: the data set is empty (x has shape {x.shape}).")
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"{label}: x has {x.shape[0]} examples but y has shape {y.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{label}: x holds {int(np.sum(~np.isfinite(x)))} NaN or inf value(s).")
    if data.task == "regression":
        if y.ndim != 2 or not np.issubdtype(y.dtype, np.floating):
            raise TypeError(f"{label}: regression targets must be floats (n, out_dim), got "
                            f"{y.dtype} {y.shape}.")  # fmt: skip
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{label}: y holds NaN or inf targets.")
        return data
    if y.ndim != 1:
        raise ValueError(f"{label}: {data.task} labels must have shape (n,), got {y.shape}.")
    if data.task == "binary":
        if not np.all((y == 0) | (y == 1)):
            hi = np.nanmax(y) if np.issubdtype(y.dtype, np.number) else y.max()
            raise ValueError(f"{label}: binary labels must be 0 or 1, got values up to {hi:g}"
                             + (f'; use task="multiclass" for {int(hi) + 1} classes.'
                                if np.issubdtype(y.dtype, np.integer) and y.min() >= 0
                                else "."))  # fmt: skip
        return data
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{label}: multiclass labels must be integers, got {y.dtype}.")
    if y.min() < 0:
        raise ValueError(f"{label}: multiclass labels must be >= 0, got {int(y.min())}.")
    return data


def two_spirals(key: jax.Array, n: int = 512, *, noise: float = 0.05, turns: float = 1.5,
                dtype=jnp.float32) -> Dataset:  # fmt: skip
    """Two interleaved spirals in the plane, ``n`` points, labels 0 and 1: no linear model fits.

    Args:
      key: PRNG key.
      n: number of points, an even number >= 2 (half per class).
      noise: standard deviation of the Gaussian noise added to each coordinate.
      turns: how many turns each spiral makes.

    Returns:
      A binary :class:`Dataset` with ``x`` of shape ``(n, 2)`` and ``y`` of shape ``(n,)``.

    >>> import jax, jaxact.datasets as ds
    >>> d = ds.two_spirals(jax.random.key(0), 100)
    >>> d.x.shape, d.y.shape, d.task
    ((100, 2), (100,), 'binary')
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 or n % 2:
        raise ValueError(f"two_spirals needs an even number n >= 2 of points, got {n!r}.")
    # x, y and the angle, radius and noise arrays the compiled draw holds (about 8 per point).
    check_memory(f"two_spirals: n = {n}", 8 * n * jnp.dtype(dtype).itemsize)
    x, y = _spirals(key, noise, n=n, turns=turns, dtype=jnp.dtype(dtype))
    return Dataset(x, y, "binary", "two spirals")


@functools.partial(jax.jit, static_argnames=("n", "turns", "dtype"))
def _spirals(key, noise, *, n, turns, dtype):
    half = n // 2
    # One normal draw for both the positions and the noise (one PRNG kernel to compile);
    # the positions use its Gaussian CDF, which is uniform on (0, 1).
    z = jr.normal(key, (half + 2 * half * 2,), dtype)
    u = jax.scipy.stats.norm.cdf(z[:half])
    t = jnp.sqrt(u) * turns * 2 * jnp.pi
    r = t / (turns * 2 * jnp.pi)
    a = jnp.stack([r * jnp.cos(t), r * jnp.sin(t)], axis=1)
    b = -a
    x = jnp.concatenate([a, b]) + noise * z[half:].reshape(2 * half, 2)
    y = jnp.concatenate([jnp.zeros(half, jnp.int32), jnp.ones(half, jnp.int32)])
    return x.astype(dtype), y


def teacher_student(key: jax.Array, n: int = 512, *, in_dim: int = 8, out_dim: int = 1,
                    depth: int = 2, width: int = 32, activation: str = "tanh",
                    dtype=jnp.float32) -> Dataset:  # fmt: skip
    """Regression on the outputs of a random teacher MLP (``depth`` x ``width``, ``activation``).


    Args:
      key: PRNG key for the inputs and the teacher's weights.
      n: number of examples.
      in_dim: input features.
      out_dim: outputs of the teacher (regression targets per example).
      depth: teacher's hidden layers.
      width: teacher's units per hidden layer.
      activation: teacher's activation (a registry name).
      dtype: floating dtype of ``x`` and ``y``.

    Returns:
      A regression :class:`Dataset`: ``x`` ``(n, in_dim)`` standard normal, ``y``
      ``(n, out_dim)`` the teacher's outputs.

    >>> import jax, jaxact.datasets as ds
    >>> ds.teacher_student(jax.random.key(0), 16, in_dim=3, out_dim=2).y.shape
    (16, 2)
    """
    kt, kx = jr.split(key)
    teacher = init_mlp(kt, depth=depth, width=width, in_dim=in_dim, out_dim=out_dim,
                       init="lecun", dtype=dtype)  # fmt: skip
    x = jr.normal(kx, (check_positive_int("teacher_student: n", n), in_dim), dtype)
    y = mlp_forward(teacher, x, activation)
    return Dataset(x, y, "regression", f"teacher-student ({activation} teacher)")


def digits(dtype=jnp.float32) -> Dataset:
    """scikit-learn's bundled 8x8 digits: 1,797 images, 10 classes, pixels scaled to [0, 1].

    No download: the data ship inside scikit-learn. Use :func:`split` for a train/test split.

    Args:
      dtype: the images' floating dtype.

    Returns:
      A multiclass :class:`Dataset`: ``x`` ``(1797, 64)``, ``y`` ``(1797,)`` int32 labels 0-9.

    References:
      The UCI optical recognition of handwritten digits data, as bundled by scikit-learn:
      https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html

    >>> import jaxact.datasets as ds
    >>> d = ds.digits()
    >>> d.x.shape, d.out_dim
    ((1797, 64), 10)
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    x = jnp.asarray(d.data / 16.0, dtype)
    return Dataset(x, jnp.asarray(d.target, jnp.int32), "multiclass", "digits")


def split(data: Dataset, test_fraction: float = 0.25, *, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A fixed, stratified train/test split: the same ``seed`` gives the same split everywhere.

    Each class is shuffled with ``numpy.random.default_rng(seed)`` and its first
    ``round(test_fraction * n_class)`` examples go to the test set; both parts keep the
    original order of the examples. Binary and multiclass data are stratified by label,
    regression data split as one group.

    Returns:
      ``(train, test)``, named ``"<name> (train)"`` and ``"<name> (test)"``.

    Args:
      data: the data set.
      test_fraction: the share of each class that goes to the test set, in (0, 1).
      seed: the shuffle's seed.

    >>> import jaxact.datasets as ds
    >>> train, test = ds.split(ds.digits())
    >>> train.x.shape, test.x.shape
    ((1347, 64), (450, 64))
    """
    if not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"split: test_fraction must be in (0, 1), got {test_fraction!r}.")
    y = np.asarray(data.y)
    groups = y if data.task in ("binary", "multiclass") else np.zeros(len(y), int)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for label in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == label))
        test[members[: round(test_fraction * len(members))]] = True
    if test.all() or not test.any():
        raise ValueError(f"split: {len(y)} examples are too few for test_fraction "
                         f"{test_fraction}: one part would be empty.")  # fmt: skip
    tr, te = np.flatnonzero(~test), np.flatnonzero(test)
    part = lambda idx, what: Dataset(data.x[idx], data.y[idx], data.task,  # noqa: E731
                                     f"{data.name} ({what})")  # fmt: skip
    return part(tr, "train"), part(te, "test")


def standardize(train: Dataset, *others: Dataset) -> tuple[Dataset, ...]:
    """Zero mean and unit variance per input feature, with the training set's statistics.

    Features constant on the training set (a digits pixel that is always 0) are only
    centred. Returns ``(train, *others)`` transformed alike; names gain ``", standardized"``.

    Args:
      train: the data set whose per-feature mean and standard deviation are used.
      *others: further data sets (a test set) transformed with the training statistics.

    Returns:
      ``(train, *others)`` as :class:`Dataset`, each ``x`` of the same shape and dtype as before.

    >>> import jaxact.datasets as ds
    >>> train, test = ds.standardize(*ds.split(ds.digits()))
    >>> float(abs(train.x.mean(0)).max()) < 1e-5
    True
    """
    x = np.asarray(train.x, np.float64)
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 0, std, 1.0)

    def apply(d: Dataset) -> Dataset:
        if d.x.shape[1:] != train.x.shape[1:]:
            raise ValueError(f"standardize: {d.name} has inputs of shape {d.x.shape[1:]}, "
                             f"the training set {train.x.shape[1:]}.")  # fmt: skip
        z = (np.asarray(d.x, np.float64) - mean) / std
        return d._replace(x=jnp.asarray(z, d.x.dtype), name=f"{d.name}, standardized")

    return tuple(apply(d) for d in (train, *others))


# MNIST-1D (Greydanus 2020): ten hand-drawn 12-point templates, one per digit.
_MNIST1D_TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])  # fmt: skip


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(x)), x)


def mnist1d(n: int = 5000, *, seed: int = 42, length: int = 40, dtype=jnp.float32) -> Dataset:
    """MNIST-1D (Greydanus 2020): 10 classes of 1-D signals, harder for an MLP than digits.

    Our own implementation of the published generator, run offline: each example is its
    class's 12-point template, standardised and scaled by 1/6, padded with 36-60 zeros,
    stretched to 72 points, scaled by a factor in [0.8, 1.2], circularly shifted by 0-47
    points, its zero padding replaced by Gaussian-smoothed noise (scale 0.25, filter width 2),
    plus i.i.d. noise (0.02), sheared by a random slope in [-0.375, 0.375] and resampled to
    ``length`` points; finally the whole set is standardised. Same procedure and constants as
    the ``mnist1d`` package, but its own random stream (numpy's ``default_rng(seed)``), so the
    examples are not those of the package's pickle.

    Args:
      n: number of examples (a multiple of 10: the classes are balanced).
      seed: the generator's seed.
      length: points per signal.

    Returns:
      A multiclass :class:`Dataset`, ``x`` ``(n, length)``, ``y`` ``(n,)``, shuffled.

    >>> import jaxact.datasets as ds
    >>> d = ds.mnist1d(100)
    >>> d.x.shape, sorted(set(d.y.tolist())) == list(range(10))
    ((100, 40), True)

    References:
      Greydanus, "Scaling down deep learning with MNIST-1D" (2020),
      https://arxiv.org/abs/2011.14439.
    """
    from scipy.ndimage import gaussian_filter

    if isinstance(n, bool) or not isinstance(n, int) or n < 10 or n % 10:
        raise ValueError(f"mnist1d: n must be a multiple of 10 (>= 10), got {n!r}.")
    check_positive_int("mnist1d: length", length)
    t = _MNIST1D_TEMPLATES - _MNIST1D_TEMPLATES.mean(1, keepdims=True)
    t /= t.std(1, keepdims=True)
    t = (t - t[:, :1]) / 6.0
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label in range(10):
        for _ in range(n // 10):
            x = np.concatenate([t[label] + 1e-8, np.zeros(rng.integers(36, 61))])
            x = _resample(x, 12 + 60)
            x = x * (1 + 0.4 * (rng.random() - 0.5))
            x = np.roll(x, rng.integers(0, 48))
            noise = gaussian_filter(0.25 * rng.standard_normal(x.shape), 2)
            x = np.where(x != 0, x, noise) + 0.02 * rng.standard_normal(x.shape)
            x = x - 0.75 * (rng.random() - 0.5) * np.linspace(-0.5, 0.5, len(x))
            xs.append(_resample(x, length))
            ys.append(label)
    order = rng.permutation(n)
    x, y = np.stack(xs)[order], np.asarray(ys)[order]
    x = (x - x.mean()) / x.std()
    return Dataset(jnp.asarray(x, dtype), jnp.asarray(y, jnp.int32), "multiclass", "MNIST-1D")
