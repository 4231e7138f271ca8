"""Training MLPs with optax: data sets, a jit-compiled step, and what happens inside.

Tasks and their losses (the output functions the lesson recommends):

* ``binary``: one logit, sigmoid output, ``optax.sigmoid_binary_cross_entropy``;
* ``multiclass``: one logit per class, softmax output, ``optax.softmax_cross_entropy``;
* ``regression``: linear output, mean squared error.

Every ``log_every`` steps the history records the loss, the accuracy, the per-layer gradient norm
``||dL/dW_l||``, the fraction of dead units (never active on the batch: ``phi'(h) == 0`` for every
example) and of saturated ones. A NaN or inf in the loss or in any layer's gradient stops
training with :class:`TrainingDiverged`, naming the step and the first bad layer. Runs are
deterministic: the same key gives the same run, bit for bit, on CPU.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxact.activations import ACTIVATIONS, Activation, get_activation
from jaxact.checks import check_positive_int
from jaxact.datasets import TASKS, Dataset, check_dataset, digits, teacher_student, two_spirals
from jaxact.diagnosis import Diagnosis, diagnose
from jaxact.mlp import MLPParams, hidden_weight_norms, mlp_forward
from jaxact.vocabulary import SATURATION, Record, divergence

__all__ = [
    "DIRECTIONS",
    "OPTIMIZERS",
    "TASKS",
    "accuracy",
    "loss_fn",
    "predict",
    "Dataset",
    "Guarded",
    "StepOutput",
    "TrainResult",
    "TrainingDiverged",
    "digits",
    "layer_finite",
    "layer_names",
    "make_guarded_step",
    "make_step",
    "named_optimizer",
    "observe",
    "per_network_optimizer",
    "teacher_student",
    "train",
    "two_spirals",
]


class TrainingDiverged(FloatingPointError):
    """A NaN or inf appeared during training; ``step`` and ``layer`` say where."""

    def __init__(self, step: int, layer: str, what: str):
        self.step, self.layer, self.what = step, layer, what
        super().__init__(f"training diverged at step {step}: {what} is not finite in {layer}.")


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Final parameters and the logged history (lists, one entry per logged step).

    ``history`` keys: ``step``, ``loss``, ``accuracy`` (NaN for regression), ``grad_norms``
    (``(depth,)`` per entry: ``||dL/dW_l||`` of that step's gradient), ``dead_units`` and
    ``saturated_units`` (``(depth,)`` fractions of units on the whole data set, as the
    :class:`~jaxact.Diagnosis` fields of those names: :mod:`jaxact.vocabulary`). The keys
    ``dead`` and ``saturated`` of earlier releases still read, with a ``DeprecationWarning``.
    ``diagnoses``: with ``train(..., diagnose_every=k)``, the :class:`~jaxact.Diagnosis` of the
    whole data set after every ``k``-th step (host copies), at ``diagnosis_steps``.
    """

    params: MLPParams
    activation: str
    task: str
    history: dict[str, list]
    diagnoses: tuple[Diagnosis, ...] = ()
    diagnosis_steps: tuple[int, ...] = ()

    @property
    def final_loss(self) -> float:
        return float(self.history["loss"][-1])

    @property
    def final_accuracy(self) -> float:
        return float(self.history["accuracy"][-1])


def loss_fn(task: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Mean loss of the network's output (logits) against targets for ``task``.

    Binary: sigmoid cross-entropy of the single logit; multiclass: softmax cross-entropy with
    integer labels; regression: mean squared error.

    Args:
      task: one of :data:`TASKS`.

    Returns:
      ``loss(out, y) -> scalar``, ``out`` ``(batch, out_dim)`` logits, ``y`` the targets.

    Raises:
      ValueError: an unknown task.

    >>> import jax.numpy as jnp
    >>> from jaxact.training import loss_fn
    >>> float(loss_fn("regression")(jnp.array([[1.0], [3.0]]), jnp.array([[0.0], [1.0]])))
    2.5
    """
    if task == "binary":
        return lambda out, y: optax.sigmoid_binary_cross_entropy(out[..., 0], y).mean()
    if task == "multiclass":
        return lambda out, y: optax.softmax_cross_entropy_with_integer_labels(out, y).mean()
    if task == "regression":
        return lambda out, y: jnp.mean((out - y) ** 2)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}.")


def predict(params: MLPParams, x, activation, task: str) -> jax.Array:
    """Probabilities (sigmoid for binary, softmax for multiclass) or regression outputs.

    Args:
      params: the network.
      x: inputs ``(..., in_dim)``.
      activation: hidden activation.
      task: one of :data:`TASKS` (sets the head).

    Returns:
      ``(..., out_dim)``: probabilities of class 1 (binary), class probabilities (multiclass),
      or the outputs (regression).

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.training import predict
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=2, width=8, in_dim=3, out_dim=4)
    >>> probs = predict(p, jnp.ones((5, 3)), "relu", "multiclass")
    >>> probs.shape, bool(jnp.allclose(probs.sum(-1), 1))
    ((5, 4), True)
    """
    head = {"binary": "sigmoid", "multiclass": "softmax", "regression": None}[task]
    return mlp_forward(params, x, activation, head=head)


def accuracy(out: jax.Array, y: jax.Array, task: str) -> jax.Array:
    """The fraction of examples whose predicted class is the label.

    Args:
      out: logits ``(batch, out_dim)``: binary tasks predict class 1 where the logit is > 0,
        multiclass ones the largest logit.
      y: labels ``(batch,)``.
      task: one of :data:`TASKS`.

    Returns:
      A scalar array; NaN for regression, which has no classes.

    >>> import jax.numpy as jnp
    >>> from jaxact.training import accuracy
    >>> float(accuracy(jnp.array([[2.0, 0.0], [0.0, 1.0]]), jnp.array([0, 0]), "multiclass"))
    0.5
    """
    if task == "binary":
        return jnp.mean((out[..., 0] > 0) == (y == 1))
    if task == "multiclass":
        return jnp.mean(jnp.argmax(out, -1) == y)
    return jnp.asarray(jnp.nan)


def layer_names(depth: int) -> list[str]:
    """Names of an MLP's layers as :func:`layer_finite` flags them and errors name them.

    Args:
      depth: number of hidden layers.

    Returns:
      ``depth + 2`` names: the input projection, each hidden layer, the readout.

    >>> from jaxact.training import layer_names
    >>> layer_names(2)
    ['input projection', 'hidden layer 1', 'hidden layer 2', 'readout']
    """
    return ["input projection", *[f"hidden layer {i}" for i in range(1, depth + 1)], "readout"]


def layer_finite(g: MLPParams) -> jax.Array:
    """One flag per layer of a gradient, in the order of :func:`layer_names` (input
    projection, hidden layers, readout): are all its entries finite?

    Args:
      g: a gradient (or any :class:`~jaxact.MLPParams`-shaped pytree) of a network with
        ``depth`` hidden layers.

    Returns:
      Boolean array ``(depth + 2,)``.

    >>> import jax, jax.numpy as jnp, jaxact
    >>> from jaxact.training import layer_finite, layer_names
    >>> p = jaxact.init_mlp(jax.random.key(0), depth=2, width=4, in_dim=3, out_dim=1)
    >>> bad = p._replace(weights=p.weights.at[1, 0, 0].set(jnp.nan))
    >>> [n for n, ok in zip(layer_names(2), layer_finite(bad).tolist()) if not ok]
    ['hidden layer 2']
    """
    hidden = jnp.isfinite(g.weights).all(axis=(1, 2)) & jnp.isfinite(g.biases).all(1)
    first = jnp.isfinite(g.w_in).all() if g.w_in is not None else jnp.asarray(True)
    last = jnp.isfinite(g.w_out).all() if g.w_out is not None else jnp.asarray(True)
    return jnp.concatenate([first[None], hidden, last[None]])


#: :attr:`TrainResult.history` keys renamed in this release: ``{old: new}``.
HISTORY_RENAMED = {"dead": "dead_units", "saturated": "saturated_units"}

#: Optimizers by name (``jaxact sweep --optimizer``): ``name -> f(learning_rate)``.
OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam, "momentum": lambda lr: optax.sgd(lr, 0.9)}
#: The default of :func:`train` and of training sweeps.
DEFAULT_OPTIMIZER_NAME, DEFAULT_LEARNING_RATE = "adam", 1e-2


#: The update direction of each named optimizer, before its learning rate:
#: ``OPTIMIZERS[name](lr)`` is ``optax.chain(DIRECTIONS[name](), optax.scale(-lr))``.
DIRECTIONS = {"sgd": optax.identity, "adam": optax.scale_by_adam,
              "momentum": lambda: optax.trace(decay=0.9)}  # fmt: skip


def per_network_optimizer(
    names: tuple[str, ...], index: jax.Array, learning_rate: jax.Array
) -> optax.GradientTransformation:
    """Named optimizers chosen per network: one program trains SGD and Adam networks vmapped.

    The state holds every optimizer in ``names`` (keys of :data:`OPTIMIZERS`); each update
    computes all their directions (:data:`DIRECTIONS`), keeps ``names[index]``'s and scales it
    by ``-learning_rate``. ``index`` and ``learning_rate`` are scalars and may be traced, so
    vmapping over them gives each network its own optimizer and rate. With one name it is
    ``OPTIMIZERS[name](learning_rate)`` exactly (the same updates, bit for bit); the cost of
    the unused directions is elementwise work on the parameters, small beside the matmuls.

    Args:
      names: optimizer names, keys of :data:`OPTIMIZERS`.
      index: which of ``names`` this network uses (an int32 scalar, may be traced).
      learning_rate: its rate (a scalar, may be traced).

    Returns:
      An optax ``GradientTransformation``.

    >>> import jax.numpy as jnp, optax
    >>> opt = per_network_optimizer(("adam", "momentum"), jnp.int32(1), jnp.float32(0.1))
    >>> p = {"w": jnp.ones(2)}
    >>> u, _ = opt.update({"w": jnp.ones(2)}, opt.init(p), p)
    >>> u["w"].tolist()  # momentum's first step: -0.1 * g
    [-0.10000000149011612, -0.10000000149011612]
    """
    unknown = [n for n in names if n not in DIRECTIONS]
    if not names or unknown:
        raise ValueError(f"per_network_optimizer: unknown optimizer(s) {unknown or names}; use "
                         f"names from {sorted(DIRECTIONS)}.")  # fmt: skip
    parts = tuple(DIRECTIONS[n]() for n in names)

    def init(params):
        return tuple(t.init(params) for t in parts)

    def update(grads, state, params=None):
        outs = [t.update(grads, s, params) for t, s in zip(parts, state, strict=True)]
        if len(outs) == 1:
            direction = outs[0][0]
        else:
            direction = jax.tree.map(lambda *us: jnp.stack(us)[index], *[o[0] for o in outs])
        updates = jax.tree.map(lambda u: -learning_rate * u, direction)
        return updates, tuple(o[1] for o in outs)

    return optax.GradientTransformation(init, update)


@functools.lru_cache(maxsize=32)
def named_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """``OPTIMIZERS[name](learning_rate)``, one object per (name, rate): compiled training
    steps are cached by optimizer identity, so runs with the same settings share them.

    Args:
      name: a key of :data:`OPTIMIZERS` (``"sgd"``, ``"momentum"``, ``"adam"``).
      learning_rate: the rate.

    Returns:
      The optax ``GradientTransformation`` (the same object for the same arguments).

    Raises:
      ValueError: an unknown name.

    >>> from jaxact.training import named_optimizer
    >>> named_optimizer("adam", 0.01) is named_optimizer("adam", 0.01)
    True
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; use one of {sorted(OPTIMIZERS)}.")
    return OPTIMIZERS[name](learning_rate)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class StepOutput:
    """What one training step returns (see :func:`make_step`), a pytree.

    Attributes:
      params: the parameters after the update.
      opt_state: the optimizer state after the update.
      loss: the scalar loss before the update.
      grads: the gradient (shaped like ``params``) before the update.
      finite: :func:`layer_finite` flags of ``grads``, ``(depth + 2,)``.
      output: the network's output (logits) on the step's ``x``, ``(batch, out_dim)``.
    """

    params: MLPParams
    opt_state: Any
    loss: jax.Array
    grads: MLPParams
    finite: jax.Array
    output: jax.Array


def make_step(
    activation: str | Activation,
    task: str,
    optimizer: optax.GradientTransformation,
    *,
    residual: bool | jax.Array = False,
    branch_scale: float | jax.Array = 1.0,
) -> Callable[[MLPParams, Any, jax.Array, jax.Array], StepOutput]:
    """The one training step of jaxact, unguarded: :func:`make_guarded_step` (what
    :func:`train` jits and training sweeps scan) wraps it with divergence detection.

    ``step(params, opt_state, x, y)`` computes the loss and gradient on ``(x, y)``, applies one
    ``optimizer`` update and returns :class:`StepOutput`: the new parameters and state, the loss
    and gradient *before* the update, :func:`layer_finite` flags of the gradient and the network
    output (logits) on ``x``. A pure function: not jitted. ``residual`` and ``branch_scale`` as
    in :func:`~jaxact.mlp_forward` (traced values allowed).

    Args:
      activation: hidden activation (a name or a record).
      task: ``"binary"``, ``"multiclass"`` or ``"regression"`` (selects the loss).
      optimizer: any optax transformation.
      residual: as in :func:`~jaxact.mlp_forward`.
      branch_scale: as in :func:`~jaxact.mlp_forward`.

    Returns:
      The step function ``step(params, opt_state, x, y) -> StepOutput`` (``x`` ``(batch,
      in_dim)``, ``y`` the targets).

    >>> import jax, optax, jaxact
    >>> from jaxact.training import make_step, two_spirals
    >>> data = two_spirals(jax.random.key(0), 32)
    >>> p = jaxact.init_mlp(jax.random.key(1), depth=2, width=8, in_dim=2, out_dim=1)
    >>> opt = optax.sgd(0.1)
    >>> out = jax.jit(make_step("relu", "binary", opt))(p, opt.init(p), data.x, data.y)
    >>> out.output.shape, bool(out.finite.all())
    ((32, 1), True)
    """
    rec = get_activation(activation)
    lf = loss_fn(task)

    def objective(p, x, y):
        out = mlp_forward(p, x, rec, residual=residual, branch_scale=branch_scale)
        return lf(out, y), out

    def step(p, state, x, y):
        (loss, out), g = jax.value_and_grad(objective, has_aux=True)(p, x, y)
        updates, state = optimizer.update(g, state, p)
        return StepOutput(optax.apply_updates(p, updates), state, loss, g, layer_finite(g), out)

    return step


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Guarded:
    """What a guarded training step carries from one step to the next (a pytree).

    Attributes:
      params: the network.
      opt_state: the optimizer's state.
      bad_step: the step (counted from 1) at which a NaN or inf first appeared, 0 while none
        has (int32).
      bad_layer: where it appeared: the index of the first layer whose gradient was not finite
        (:func:`layer_names`), -1 for the loss alone (int32; meaningful once ``bad_step > 0``).
    """

    params: MLPParams
    opt_state: Any
    bad_step: jax.Array
    bad_layer: jax.Array

    @classmethod
    def start(cls, params: MLPParams, opt_state: Any) -> Guarded:
        """The state before the first step: nothing has diverged."""
        return cls(params, opt_state, jnp.int32(0), jnp.int32(-1))


def make_guarded_step(
    activation: str | Activation,
    task: str,
    optimizer: optax.GradientTransformation,
    *,
    residual: bool | jax.Array = False,
    branch_scale: float | jax.Array = 1.0,
) -> Callable[[Guarded, jax.Array, jax.Array, jax.Array], tuple[Guarded, StepOutput]]:
    """:func:`make_step` with divergence detection: the one step :func:`train` and training
    sweeps both run.

    ``guarded(carry, i, x, y)`` runs step ``i`` (counted from 1) from ``carry``
    (:class:`Guarded`) and returns the new carry and the step's :class:`StepOutput`. The first
    step whose loss or gradient holds a NaN or inf (:func:`jaxact.vocabulary.divergence`) is
    recorded in ``bad_step`` and ``bad_layer``; from then on the network and optimizer state stay
    as they were before it (a sweep of many networks goes on; :func:`train` stops and raises
    :class:`TrainingDiverged`). Pure, traceable: ``jit`` it or ``scan`` it.

    Args:
      activation: hidden activation (a name or a record).
      task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
      optimizer: any optax transformation.
      residual: as in :func:`~jaxact.mlp_forward`.
      branch_scale: as in :func:`~jaxact.mlp_forward`.

    Returns:
      ``guarded(carry, i, x, y) -> (Guarded, StepOutput)``.

    >>> import jax, jax.numpy as jnp, optax, jaxact
    >>> from jaxact.training import Guarded, make_guarded_step, two_spirals
    >>> data = two_spirals(jax.random.key(0), 32)
    >>> p = jaxact.init_mlp(jax.random.key(1), depth=2, width=8, in_dim=2, out_dim=1)
    >>> opt = optax.sgd(1e30)  # a step size that overflows at once
    >>> step = jax.jit(make_guarded_step("relu", "binary", opt))
    >>> carry = Guarded.start(p, opt.init(p))
    >>> for i in (1, 2, 3):
    ...     carry, out = step(carry, jnp.int32(i), data.x, data.y)
    >>> int(carry.bad_step) > 0, carry.bad_layer.dtype
    (True, dtype('int32'))
    """
    step = make_step(activation, task, optimizer, residual=residual, branch_scale=branch_scale)

    def guarded(carry: Guarded, i, x, y) -> tuple[Guarded, StepOutput]:
        out = step(carry.params, carry.opt_state, x, y)
        diverged, where = divergence(out.loss, out.finite)  # where -1: the loss
        new_bad = (carry.bad_step == 0) & diverged
        bad_step = jnp.where(new_bad, jnp.asarray(i, jnp.int32), carry.bad_step)
        bad_layer = jnp.where(new_bad, where, carry.bad_layer)
        alive = bad_step == 0  # once diverged, the network stays where it was

        def keep(new, old):
            return jnp.where(alive, new, old)

        return Guarded(jax.tree.map(keep, out.params, carry.params),
                       jax.tree.map(keep, out.opt_state, carry.opt_state),
                       bad_step, bad_layer), out  # fmt: skip

    return guarded


def observe(params: MLPParams, data: Dataset, activation: str | Activation,
            saturation: float = SATURATION, *, residual: bool | jax.Array = False,
            branch_scale: float | jax.Array = 1.0) -> Diagnosis:  # fmt: skip
    """:func:`jaxact.diagnose` of the training loss on the whole data set, logits as ``aux``.

    Its first ``depth`` sites are the hidden layers (the loss adds none). ``residual`` and
    ``branch_scale`` as in :func:`~jaxact.mlp_forward`.

    Args:
      params: the network.
      data: the whole data set (one batch).
      activation: hidden activation (a name or a record).
      saturation: the saturation threshold, as in :func:`jaxact.diagnose`.
      residual: as in :func:`~jaxact.mlp_forward`.
      branch_scale: as in :func:`~jaxact.mlp_forward`.

    Returns:
      The :class:`~jaxact.Diagnosis`: per-site statistics (gradient norms, saturated and dead
      units) and the loss's gradient.

    >>> import jax, jaxact
    >>> from jaxact.training import observe, two_spirals
    >>> data = two_spirals(jax.random.key(0), 32)
    >>> p = jaxact.init_mlp(jax.random.key(1), depth=3, width=8, in_dim=2, out_dim=1)
    >>> len(observe(p, data, "relu").sites)
    3
    """
    rec = get_activation(activation)
    lf = loss_fn(data.task)

    def objective(p):
        out = mlp_forward(p, data.x, rec, residual=residual, branch_scale=branch_scale)
        return lf(out, data.y), out

    return diagnose(objective, params, has_aux=True, saturation=saturation)


def _programs(activation: str | Activation, task: str, optimizer: optax.GradientTransformation):
    """The jitted guarded step and observation for one (activation, task, optimizer)."""
    step = jax.jit(make_guarded_step(activation, task, optimizer))

    @jax.jit
    def observe_jit(p, x, y):
        return observe(p, Dataset(x, y, task, ""), activation)

    return step, observe_jit


#: Cached by registry name: runs that differ only in their parameters (another seed or init)
#: reuse the compiled programs.
_compiled = functools.lru_cache(maxsize=64)(_programs)


def train(
    params: MLPParams,
    data: Dataset,
    activation: str | Activation,
    *,
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 500,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    log_every: int = 10,
    diagnose_every: int | None = None,
    progress: Callable[[int], Any] | None = None,
) -> TrainResult:
    """Train ``params`` on ``data`` with ``optimizer`` (default ``optax.adam(1e-2)``).

    Each step is :func:`make_guarded_step` (the step training sweeps run). The history entries
    come from :func:`observe`: one :func:`jaxact.diagnose` of the whole data set.

    Args:
      params: from :func:`~jaxact.init_mlp` with ``in_dim`` and ``out_dim`` matching the data.
      data: a :class:`Dataset`.
      activation: hidden activation.
      optimizer: any optax optimizer.
      steps: number of steps.
      batch_size: minibatch size (default: full batch); batches drawn with ``key``.
      key: PRNG key for minibatches (default ``jax.random.key(0)``).
      log_every: record the history every ``log_every`` steps (and at the last step).
      diagnose_every: also keep the whole :class:`~jaxact.Diagnosis` every ``diagnose_every``
        steps (and at the last step) in ``TrainResult.diagnoses``, for
        :func:`~jaxact.plotting.plot_diagnosis_history`.
      progress: called with the number of steps just done (for a progress bar).

    Returns:
      :class:`TrainResult`: the final ``params``, and ``history`` with one entry per logged
      step: ``step``, ``loss``, ``accuracy``, and ``grad_norms``, ``dead_units`` and
      ``saturated_units`` of shape ``(depth,)`` each (:mod:`jaxact.vocabulary`; plus
      ``diagnoses`` with ``diagnose_every``).

    Raises:
      TrainingDiverged: a NaN or inf in the loss or a layer's gradient, with step and layer.
      ValueError: labels that do not fit the task, an empty data set, a ``batch_size`` over
        the data set's size (:func:`~jaxact.datasets.check_dataset`), before any step.
      TypeError: ``optimizer`` is not an optax transformation (a name, say).

    >>> import jax, jaxact
    >>> from jaxact.training import two_spirals
    >>> data = two_spirals(jax.random.key(0), 64)
    >>> p = jaxact.init_mlp(jax.random.key(1), depth=2, width=16, in_dim=2, out_dim=1)
    >>> r = jaxact.train(p, data, "relu", steps=40, log_every=20)
    >>> r.history["step"], r.history["loss"][-1] < r.history["loss"][0]
    ([20, 40], True)
    """
    rec = get_activation(activation)
    check_dataset(data, "train: data")  # labels that fit the task, no empty set
    task = data.task
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}.")
    n = data.x.shape[0]
    if batch_size is not None:
        check_positive_int("train: batch_size", batch_size)
        if batch_size > n:
            raise ValueError(f"train: batch_size {batch_size} is larger than the {n} "
                             "examples; use batch_size=None for the full batch.")  # fmt: skip
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        hint = (f"; for a named one, jaxact.training.named_optimizer({optimizer!r}, rate)"
                if isinstance(optimizer, str) else "")  # fmt: skip
        raise TypeError("train: optimizer must be an optax GradientTransformation (e.g. "
                        f"optax.adam(1e-3)), got {optimizer!r:.60}{hint}.")  # fmt: skip
    check_positive_int("train: log_every", log_every)
    if diagnose_every is not None:
        check_positive_int("train: diagnose_every", diagnose_every)
    if params.out_dim != data.out_dim:
        raise ValueError(
            f"the network has out_dim {params.out_dim} but the {data.name} task needs "
            f"{data.out_dim} output(s)."
        )
    if optimizer is None:
        optimizer = named_optimizer(DEFAULT_OPTIMIZER_NAME, DEFAULT_LEARNING_RATE)
    key = jr.key(0) if key is None else key
    bs = n if batch_size is None else batch_size
    # A registered record by its name (cached); a record of the user's own, not in the
    # registry (or under a registered name but different), as it is.
    registered = ACTIVATIONS.get(rec.name) is rec
    step, observe_jit = (_compiled(rec.name, task, optimizer) if registered
                         else _programs(rec, task, optimizer))  # fmt: skip

    carry = Guarded.start(params, optimizer.init(params))
    history = Record({k: [] for k in ("step", "loss", "accuracy", "grad_norms", "dead_units",
                                      "saturated_units")},
                     renamed=HISTORY_RENAMED)  # fmt: skip
    names = layer_names(params.depth)
    depth = params.depth
    diagnoses, diagnosis_steps = [], []
    for i in range(1, steps + 1):
        if bs < n:
            key, sub = jr.split(key)
            idx = jr.choice(sub, n, (bs,), replace=False)
            xb, yb = data.x[idx], data.y[idx]
        else:
            xb, yb = data.x, data.y
        carry, out = step(carry, np.int32(i), xb, yb)
        params, g = carry.params, out.grads
        if int(carry.bad_step):
            where = int(carry.bad_layer)
            raise TrainingDiverged(i, names[where] if where >= 0 else "the loss",
                                   "the gradient" if where >= 0 else "the value")  # fmt: skip
        log = i % log_every == 0 or i == steps
        keep = diagnose_every is not None and (i % diagnose_every == 0 or i == steps)
        if log or keep:
            diag = jax.device_get(observe_jit(params, data.x, data.y))
        if log:
            history["step"].append(i)
            history["loss"].append(float(diag.loss))
            history["accuracy"].append(float(accuracy(diag.aux, data.y, task)))
            history["grad_norms"].append(np.asarray(hidden_weight_norms(g)).tolist())
            history["dead_units"].append(np.asarray(diag.dead_units[:depth]).tolist())
            history["saturated_units"].append(np.asarray(diag.saturated_units[:depth]).tolist())
        if keep:
            diagnoses.append(dataclasses.replace(diag, aux=None, grads=None))
            diagnosis_steps.append(i)
        if progress is not None:
            progress(1)
    return TrainResult(params, rec.name, task, history, tuple(diagnoses), tuple(diagnosis_steps))
