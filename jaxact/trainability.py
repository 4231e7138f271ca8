"""What makes a deep MLP trainable: the study's training experiments on real data (claim 6).

Four measurements, run by :func:`jaxact.sweeps.train_runs` (every network of a shape vmapped
in one compiled program):

* **the grid** of :data:`RECIPES`, ways to build a deep MLP: plain He-initialised ReLU, ReLU
  with residual connections (branch scaled by ``1/sqrt(depth)``), and plain nets made trainable
  from theory - a leaky ReLU shaped by TAT, tanh and softplus shaped by DKS
  (:mod:`jaxact.shaping`), and tanh with orthogonal weights at the edge of chaos
  (``sigma_w2`` from :func:`jaxact.theory.critical_sigma_w2`) - at several depths, SGD with
  momentum and Adam, several seeds, the same step budget for all;
* **width**: plain He-initialised ReLU nets on a depth x width grid (Hanin 2018: the
  fluctuations of the gradient grow like ``exp(5 sum_l 1/n_l)``, so depth/width matters);
* **He et al. (2015)**: a 30-layer ReLU net, He init against Xavier (Glorot) init, same budget,
  with SGD + momentum and with Adam;
* **the trainability map** (Schoenholz et al. 2017): tanh nets over depth x ``sigma_w2`` with
  ``sigma_b2 = 0.05``, Gaussian (and, in ``--full``, orthogonal) weights; they train where
  depth is below about ``6 xi_c``;
* **gradient fluctuations** (Hanin 2018, Hanin & Nica 2019): how much the gradient's size at
  initialisation varies from one random init to the next, over depth x width
  (:func:`gradient_fluctuations`, untrained, so hundreds of inits per cell are cheap).

:func:`signal_at_init` adds the why: how alike two inputs look after each layer (cosine
similarity) and how large the gradient is per layer, at initialisation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from jaxact import shaping, theory
from jaxact.checks import check_positive_int
from jaxact.datasets import Dataset
from jaxact.mlp import init_mlp, mlp_scales, mlp_trace, sample_mlp
from jaxact.runs.recipes import RECIPES, Recipe
from jaxact.runs.summaries import cell_summary
from jaxact.sweeps import Run, train_runs

__all__ = [
    "RECIPES",
    "GridSettings",
    "Recipe",
    "cell_summary",
    "fluctuation_cells",
    "gradient_fluctuations",
    "grid_runs",
    "he_xavier_runs",
    "map_runs",
    "recipe_run",
    "run_grid",
    "signal_at_init",
    "width_runs",
]


#: The flat fields every training run keeps in the study's results (``numbers.runs``).
RUN_FIELDS = ("recipe", "activation", "init", "sigma_w2", "sigma_b2", "depth", "width", "residual",
              "branch_scale", "optimizer", "learning_rate", "dataset", "seed", "steps",
              "batch_size", "final_loss", "train_accuracy", "test_loss", "test_accuracy",
              "diverged_step", "diverged_layer", "loss_curve", "steps_logged")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class GridSettings:
    """The sizes of the training experiments (one per study mode).

    Attributes:
      depths: depths of the main grid (:func:`grid_runs`).
      width: its width.
      steps: training steps of the grid and the width runs (the same budget for every recipe).
      batch_size: minibatch size.
      seeds: seeds per configuration.
      lr_momentum: SGD + momentum's learning rate.
      lr_adam: Adam's learning rate.
      recipes: ``(name, depths)`` pairs: which :data:`RECIPES` the grid trains, at which of
        ``depths`` each (every recipe at every depth if empty).
      widths: widths of the depth x width grid (:func:`width_runs`).
      width_depths: its depths.
      he_depth: depth of He et al.'s test (:func:`he_xavier_runs`).
      he_width: its width.
      he_steps: its steps.
      he_lr: its SGD + momentum rate.
      map_sigma_w2: the weight variances of the trainability map (:func:`map_runs`).
      map_sigma_b2: its bias variance.
      map_depths: its depths (the grid's if empty).
      map_steps: its step budget (the grid's if 0).
      map_lr: its SGD + momentum rate (the grid's if 0).
      map_inits: its weight schemes (``"gaussian"``, ``"orthogonal"``).
      fluct_depths: depths of the gradient-fluctuation measurement (:func:`fluctuation_cells`).
      fluct_widths: its widths.
      fluct_inits: random inits per cell there.
    """

    depths: tuple[int, ...]
    width: int
    steps: int
    batch_size: int
    seeds: int
    lr_momentum: float
    lr_adam: float
    widths: tuple[int, ...]
    width_depths: tuple[int, ...]
    he_depth: int
    he_width: int
    he_steps: int
    he_lr: float
    map_sigma_w2: tuple[float, ...]
    map_sigma_b2: float = 0.05
    recipes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    map_depths: tuple[int, ...] = ()
    map_steps: int = 0
    map_lr: float = 0.0
    map_inits: tuple[str, ...] = ("gaussian",)
    fluct_depths: tuple[int, ...] = (10, 25, 50, 100)
    fluct_widths: tuple[int, ...] = (16, 32, 64)
    fluct_inits: int = 256


def _opts(s: GridSettings):
    return (("momentum", s.lr_momentum), ("adam", s.lr_adam))


def recipe_run(recipe: str | Recipe, depth: int, width: int, *, optimizer: str,
               learning_rate: float, seed: int) -> Run:  # fmt: skip
    """The :class:`~jaxact.sweeps.Run` of a recipe at one depth.

    A shaped recipe registers its activation for this depth (:meth:`jaxact.shaping.Shaping.
    register`, e.g. ``tat_leaky_relu_d100_eta0p9``) and takes the weights the shaping assumes
    (orthogonal, ``sigma_w2 = 1``, no bias); a critical one takes ``sigma_w2`` from
    :func:`jaxact.theory.critical_sigma_w2` at ``sigma_b2 = 0``.

    Args:
      recipe: a key of :data:`RECIPES` or a :class:`Recipe`.
      depth: hidden layers.
      width: units per layer.
      optimizer: a key of :data:`~jaxact.training.OPTIMIZERS`.
      learning_rate: its rate.
      seed: the run's seed.

    Returns:
      A :class:`~jaxact.sweeps.Run`.

    >>> import jaxact.trainability as tr
    >>> r = tr.recipe_run("tat_leaky_relu", 50, 32, optimizer="adam", learning_rate=1e-3, seed=0)
    >>> r.activation, r.init, r.sigma_w2
    ('tat_leaky_relu_d50_eta0p9', 'orthogonal', 1.0)
    """
    rec = RECIPES[recipe] if isinstance(recipe, str) else recipe
    act, sigma_w2 = rec.activation, None
    if rec.shaping is not None:
        sh = (shaping.tat if rec.shaping == "tat" else shaping.dks)(rec.activation, depth)
        act, sigma_w2 = sh.register().name, sh.sigma_w2
    elif rec.critical:
        sigma_w2 = _critical_sigma_w2(rec.activation)
    return Run(act, depth, width, init=rec.init, sigma_w2=sigma_w2, residual=rec.residual,
               branch_scale=1 / math.sqrt(depth) if rec.residual else 1.0, optimizer=optimizer,
               learning_rate=learning_rate, seed=seed)  # fmt: skip


@functools.cache
def _critical_sigma_w2(activation: str) -> float:
    return theory.critical_sigma_w2(activation, 0.0)


def _recipe_depths(s: GridSettings) -> list[tuple[str, tuple[int, ...]]]:
    if s.recipes:
        return [(name, tuple(d for d in ds if d in s.depths)) for name, ds in s.recipes]
    return [(name, s.depths) for name in RECIPES]


def grid_runs(s: GridSettings) -> list[tuple[str, Run]]:
    """The grid: each of ``s.recipes`` x its depths x optimizers x seeds, as
    ``(recipe name, Run)`` pairs.

    Args:
      s: the experiment sizes.

    Returns:
      A list of ``(recipe, Run)``, one per (recipe, depth, optimizer, seed).

    >>> import jaxact.trainability as tr
    >>> s = tr.GridSettings(depths=(10, 50), width=16, steps=20, batch_size=32, seeds=2,
    ...                     lr_momentum=0.01, lr_adam=1e-3, widths=(8, 16, 32), width_depths=(10,),
    ...                     he_depth=30, he_width=16, he_steps=20, he_lr=0.01,
    ...                     map_sigma_w2=(1.0, 1.76, 2.5),
    ...                     recipes=(("he_relu", (10, 50)), ("residual_relu", (50,))))
    >>> len(tr.grid_runs(s))  # (2 + 1 depths) x 2 optimizers x 2 seeds
    12
    """
    return [
        (name, recipe_run(name, depth, s.width, optimizer=opt, learning_rate=lr, seed=seed))
        for name, depths in _recipe_depths(s) for depth in depths
        for opt, lr in _opts(s) for seed in range(s.seeds)
    ]  # fmt: skip


def width_runs(s: GridSettings) -> list[Run]:
    """Plain He ReLU nets, Adam, on ``width_depths x widths`` (the grid's width excluded:
    :func:`grid_runs` has those).

    Args:
      s: the experiment sizes.

    Returns:
      A list of :class:`~jaxact.sweeps.Run`.

    >>> import jaxact.trainability as tr
    >>> s = tr.GridSettings(depths=(10, 50), width=16, steps=20, batch_size=32, seeds=2,
    ...                     lr_momentum=0.01, lr_adam=1e-3, widths=(8, 16, 32), width_depths=(10,),
    ...                     he_depth=30, he_width=16, he_steps=20, he_lr=0.01,
    ...                     map_sigma_w2=(1.0, 1.76, 2.5))
    >>> sorted({r.width for r in tr.width_runs(s)})  # the grid's width 16 is grid_runs'
    [8, 32]
    """
    return [Run("relu", d, w, init="he", optimizer="adam", learning_rate=s.lr_adam, seed=seed)
            for d in s.width_depths for w in s.widths if w != s.width
            for seed in range(s.seeds)]  # fmt: skip


def map_runs(s: GridSettings) -> list[Run]:
    """Plain tanh nets with SGD + momentum over ``map_inits x map_depths x map_sigma_w2``
    (one seed each).

    Args:
      s: the experiment sizes.

    Returns:
      A list of :class:`~jaxact.sweeps.Run`, one per (depth, sigma_w2).

    >>> import jaxact.trainability as tr
    >>> s = tr.GridSettings(depths=(10, 50), width=16, steps=20, batch_size=32, seeds=2,
    ...                     lr_momentum=0.01, lr_adam=1e-3, widths=(8, 16, 32), width_depths=(10,),
    ...                     he_depth=30, he_width=16, he_steps=20, he_lr=0.01,
    ...                     map_sigma_w2=(1.0, 1.76, 2.5))
    >>> [(r.depth, r.sigma_w2) for r in tr.map_runs(s)][:3]
    [(10, 1.0), (10, 1.76), (10, 2.5)]
    """
    return [Run("tanh", d, s.width, init=init, sigma_w2=v, sigma_b2=s.map_sigma_b2,
                optimizer="momentum", learning_rate=s.map_lr or s.lr_momentum, seed=0)
            for init in s.map_inits for d in (s.map_depths or s.depths)
            for v in s.map_sigma_w2]  # fmt: skip


def he_xavier_runs(s: GridSettings) -> list[Run]:
    """He et al. (2015)'s test: plain ReLU at ``he_depth``, He against Glorot, SGD + momentum
    (rate ``he_lr``) and Adam, every seed.

    Args:
      s: the experiment sizes.

    Returns:
      A list of :class:`~jaxact.sweeps.Run`.

    >>> import jaxact.trainability as tr
    >>> s = tr.GridSettings(depths=(10, 50), width=16, steps=20, batch_size=32, seeds=2,
    ...                     lr_momentum=0.01, lr_adam=1e-3, widths=(8, 16, 32), width_depths=(10,),
    ...                     he_depth=30, he_width=16, he_steps=20, he_lr=0.01,
    ...                     map_sigma_w2=(1.0, 1.76, 2.5))
    >>> sorted({(r.init, r.optimizer) for r in tr.he_xavier_runs(s)})
    [('glorot', 'adam'), ('glorot', 'momentum'), ('he', 'adam'), ('he', 'momentum')]
    """
    return [Run("relu", s.he_depth, s.he_width, init=init, optimizer=opt, learning_rate=lr,
                seed=seed)
            for opt, lr in (("momentum", s.he_lr), ("adam", s.lr_adam))
            for init in ("he", "glorot") for seed in range(s.seeds)]  # fmt: skip


def run_grid(
    s: GridSettings, train: Dataset, test: Dataset, progress: Callable[[int], Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Train everything: ``{"grid", "width", "map", "he_xavier"}``, each a list of run records
    (:func:`jaxact.sweeps.train_runs`'s, restricted to :data:`RUN_FIELDS` plus the gradient
    norms of the first and last hidden layer at initialisation; ``recipe`` names the grid's
    :data:`RECIPES`, ``None`` elsewhere). Parts with the same step budget train in one call.

    Args:
      s: the experiment sizes.
      train: the training set.
      test: the test set (accuracy and loss recorded per run).
      progress: called with the number of training steps just done.

    Returns:
      ``{"grid", "width", "map", "he_xavier"}``: each a list of run records (dicts).

    >>> import jaxact.trainability as tr
    >>> from jaxact.datasets import digits, split
    >>> s = tr.GridSettings(depths=(3,), width=8, steps=5, batch_size=16, seeds=1,
    ...                     lr_momentum=0.01, lr_adam=1e-3, widths=(), width_depths=(),
    ...                     he_depth=3, he_width=8, he_steps=5, he_lr=0.01, map_sigma_w2=(),
    ...                     recipes=(("he_relu", (3,)), ("glorot_sigmoid", (3,))))
    >>> out = tr.run_grid(s, *split(digits()))
    >>> sorted(out), len(out["grid"]), sorted({r["recipe"] for r in out["grid"]})
    (['grid', 'he_xavier', 'map', 'width'], 4, ['glorot_sigmoid', 'he_relu'])
    """
    grid = grid_runs(s)
    parts = {"grid": ([r for _, r in grid], s.steps), "width": (width_runs(s), s.steps),
             "map": (map_runs(s), s.map_steps or s.steps),
             "he_xavier": (he_xavier_runs(s), s.he_steps)}  # fmt: skip
    # Parts with the same step budget are one call (and share compiled programs of one shape).
    out: dict[str, list[dict[str, Any]]] = {}
    for steps in dict.fromkeys(st for _, st in parts.values()):
        names = [n for n, (rs, st) in parts.items() if st == steps and rs]
        flat = [r for n in names for r in parts[n][0]]
        recs = train_runs(flat, train, test=test, steps=steps, batch_size=s.batch_size,
                          progress=progress) if flat else []  # fmt: skip
        i = 0
        for n in names:
            k = len(parts[n][0])
            out[n] = [_slim(r) for r in recs[i : i + k]]
            i += k
    for n in parts:
        out.setdefault(n, [])
    for (name, _), rec in zip(grid, out["grid"], strict=True):
        rec["recipe"] = name
    for part in ("width", "map", "he_xavier"):
        for rec in out[part]:
            rec["recipe"] = None
    return {n: out[n] for n in ("grid", "width", "map", "he_xavier")}


def _slim(rec: dict[str, Any]) -> dict[str, Any]:
    g = rec["grad_norms_init"]
    return {k: rec[k] for k in RUN_FIELDS if k != "recipe"} | {
        "grad_norm_layer1_init": g[0], "grad_norm_last_init": g[-1]}  # fmt: skip


def signal_at_init(
    activation: str, depth: int, width: int, x: jnp.ndarray, *, init: str, residual: bool,
    seed: int = 0, sigma_b2: float = 0.0, sigma_w2: float | None = None,
) -> dict[str, list[float]]:  # fmt: skip
    """How a fresh network sees its inputs, layer by layer.

    Returns ``spread``: after each layer, the part of the representations' energy that
    differs between inputs, ``E_i ||a_i - mean_j a_j||^2 / E_i ||a_i||^2`` (``(depth,)``, in
    [0, 1]; near 0 every input looks the same and the output cannot depend on it), ``cosine``:
    the mean cosine similarity of two inputs' representations, and ``scale``: the root mean
    square activation. Residual nets use ``branch_scale = 1/sqrt(depth)``.

    Args:
      activation: a registry name.
      depth: hidden layers.
      width: units per layer.
      x: a batch of inputs ``(batch, in_dim)``.
      init: initialisation scheme.
      residual: identity shortcuts with ``branch_scale = 1/sqrt(depth)``.
      seed: the network's seed.
      sigma_b2: bias variance.
      sigma_w2: weight variance times fan-in, for schemes that take one (``orthogonal``).

    Returns:
      ``{"spread", "cosine", "scale"}``, each a list of ``depth`` floats.

    >>> import jax, jaxact.trainability as tr
    >>> x = jax.random.normal(jax.random.key(0), (16, 8))
    >>> sig = tr.signal_at_init("relu", 6, 32, x, init="he", residual=False)
    >>> len(sig["spread"]), all(0 <= v <= 1 for v in sig["spread"])
    (6, True)
    """
    p = init_mlp(jr.key(seed), depth=depth, width=width, in_dim=x.shape[-1], init=init,
                 sigma_w2=sigma_w2, sigma_b2=sigma_b2)  # fmt: skip
    t = mlp_trace(p, x, activation, residual=residual,
                  branch_scale=1 / math.sqrt(depth) if residual else 1.0)  # fmt: skip
    a = np.asarray(t.post, np.float64)  # (depth, n, width)
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    u = a / np.where(norms > 0, norms, 1.0)
    gram = np.einsum("lnw,lmw->lnm", u, u)
    n = a.shape[1]
    off = (gram.sum((1, 2)) - np.trace(gram, axis1=1, axis2=2)) / (n * (n - 1))
    centred = a - a.mean(1, keepdims=True)
    spread = (centred**2).sum((1, 2)) / np.maximum((a**2).sum((1, 2)), 1e-300)
    return {"spread": spread.tolist(), "cosine": off.tolist(),
            "scale": np.sqrt((a**2).mean((1, 2))).tolist()}  # fmt: skip


def six_xi_c(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    """``6 xi_c``: Schoenholz et al. (2017)'s depth limit for training (``inf`` at criticality)."""
    return 6 * theory.depth_scales(activation, sigma_w2, sigma_b2).xi_c


@functools.partial(jax.jit, static_argnames=("depth", "width"))
def _jacobian_growth(keys: jax.Array, depth: int, width: int) -> jax.Array:
    scales = jnp.asarray(mlp_scales("he", width, 1, None, 0.0), jnp.float32)

    def one(key):
        kp, kx, ku = jr.split(key, 3)
        p = sample_mlp(kp, scales, depth=depth, width=width, in_dim=width, out_dim=1,
                       orthogonal=False, dtype=jnp.float32)  # fmt: skip
        x = jr.normal(kx, (width,), jnp.float32)
        u = jr.normal(ku, (width,), jnp.float32)
        _, t = jax.jvp(lambda x_: mlp_trace(p, x_, "relu").post, (x,), (u,))
        return jnp.sum(t * t, axis=-1) / jnp.sum(u * u)  # (depth,)

    return jax.lax.map(one, keys, batch_size=min(64, keys.shape[0]))


def gradient_fluctuations(depth: int, width: int, *, inits: int = 256, seed: int = 0) -> np.ndarray:
    """How much the gradient's size at initialisation varies between random inits.

    For each of ``inits`` independently drawn He-initialised ReLU MLPs (``depth`` hidden
    layers of ``width`` units, input size ``width``, no biases), a random input ``x`` and a
    random direction ``u``: ``G_l = ||J_l u||^2 / ||u||^2`` after every layer ``l``, where
    ``J_l = da_l/dx`` is the input-output Jacobian up to layer ``l`` (one forward-mode pass
    gives every layer). Backpropagation multiplies by the same matrices, transposed, so this
    is the factor by which a gradient's size changes through ``l`` layers.

    Its mean is 1 at every depth (He init preserves it on average); its spread is what depth
    costs. Each ReLU layer multiplies ``G`` by ``(2/n) chi^2_K`` with ``K ~ Binomial(n, 1/2)``
    active units, a factor of mean 1 and variance ``5/n``; so ``log G_l`` is close to Gaussian
    with variance ``5 beta_l``, ``beta_l = sum_{k<=l} 1/n_k = l/width`` (Hanin 2018; Hanin &
    Nica 2019), a little more at small widths (:func:`jaxact.theory.relu_log_gain_variance`).
    A deep narrow net's gradient scale is, from one seed to the next, a lottery over orders of
    magnitude, and no single learning rate suits every draw.

    Returns:
      ``(inits, depth)`` float64 values of ``G_l`` (0 where every unit of a layer was off).

    Args:
      depth: hidden layers.
      width: units per layer (and input size).
      inits: how many random networks.
      seed: the first network's seed (network ``i`` uses ``seed + i``).

    References:
      Hanin (2018), Which neural net architectures give rise to exploding and vanishing
      gradients?, https://arxiv.org/abs/1801.03744

    >>> import jaxact.trainability as tr
    >>> g = tr.gradient_fluctuations(5, 64, inits=512)
    >>> g.shape, bool(0.8 < g[:, -1].mean() < 1.2)
    ((512, 5), True)
    """
    keys = jr.split(jr.key(seed), check_positive_int("inits", inits))
    depth = check_positive_int("depth", depth)
    width = check_positive_int("width", width)
    return np.asarray(_jacobian_growth(keys, depth=depth, width=width), np.float64)


def fluctuation_cells(depths: Sequence[int], widths: Sequence[int], *, inits: int = 256,
                      seed: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """:func:`gradient_fluctuations` over ``depths x widths`` (one forward pass of the deepest
    net per width serves every depth): one record per cell with ``depth``, ``width``,
    ``beta = depth/width``, ``inits``, ``zero`` (inits whose ``G`` was exactly 0), ``mean`` of
    ``G``, ``var_log`` (variance of ``log G`` over the nonzero inits) with its standard error
    ``var_log_se = var_log sqrt(2/(n-1))`` (for Gaussian ``log G``), the theory's
    ``predicted_var_log`` (:func:`jaxact.theory.relu_log_gain_variance`, finite width) and
    ``hanin_var_log = 5 beta`` (its wide limit), and ``spread`` (``exp(sd of log G)``: the
    factor by which one init's gradient is typically off the median).

    Args:
      depths: depths measured.
      widths: widths measured.
      inits: random inits per width.
      seed: the first init's seed.

    Returns:
      One record (dict) per ``(depth, width)``, depths varying fastest.

    >>> import jaxact.trainability as tr
    >>> rows = tr.fluctuation_cells([4, 8], [32], inits=64)
    >>> [(r["depth"], r["width"]) for r in rows], bool(rows[1]["var_log"] > rows[0]["var_log"])
    ([(4, 32), (8, 32)], True)
    """
    out = []
    for w in widths:
        g = gradient_fluctuations(max(depths), w, inits=inits, seed=seed)
        per_layer = theory.relu_log_gain_variance(w)  # independent layers: variances add
        for d in sorted(depths):
            gd = g[:, d - 1]
            pos = gd[gd > 0]
            var = float(np.var(np.log(pos), ddof=1)) if pos.size > 1 else float("nan")
            out.append({"depth": d, "width": w, "beta": d / w, "inits": inits,
                        "zero": int(gd.size - pos.size), "mean": float(gd.mean()),
                        "var_log": var, "var_log_se": var * math.sqrt(2 / max(pos.size - 1, 1)),
                        "predicted_var_log": d * per_layer,
                        "hanin_var_log": 5 * d / w,
                        "spread": math.exp(math.sqrt(var))})  # fmt: skip
    return out
