"""The cells of a run: what one network of a sweep or a training study computes, as a
:class:`~jaxact.runs.engine.Cell` (draw the network, then measure it) that the engine batches.

* :func:`attenuation_cell`: a random network's per-layer gradient norms
  (:func:`~jaxact.layer_gradient_norms`);
* :func:`training_cell`: ``steps`` of the guarded training step
  (:func:`~jaxact.training.make_guarded_step`, the step :func:`~jaxact.train` runs) in one
  ``lax.scan``.

Each network brings one row of numbers, :data:`HYPERPARAMETERS`; everything else in a cell is
the compiled shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import optax

from jaxact.activations import get_activation
from jaxact.attenuation import layer_gradient_norms
from jaxact.datasets import Dataset
from jaxact.mlp import hidden_weight_norms, mlp_forward, sample_mlp
from jaxact.runs.engine import Cell
from jaxact.training import (
    Guarded,
    accuracy,
    loss_fn,
    make_guarded_step,
    make_step,
    observe,
    per_network_optimizer,
)

__all__ = ["HYPERPARAMETERS", "attenuation_cell", "training_cell"]


def attenuation_cell(act, depth, width, orthogonal, batch, dtype) -> Cell:
    """An attenuation cell: a random network and a standard normal batch, measured by
    :func:`~jaxact.layer_gradient_norms` (what ``sweep(kind="attenuation")`` runs).

    ``draw(key_data, hyper)`` samples the network (``hyper[:3]``: :func:`~jaxact.mlp.mlp_scales`)
    from the first half of the split key and the inputs from the second.

    Args:
      act: activation (a name or a record).
      depth: hidden layers.
      width: units per layer (and input size).
      orthogonal: Haar-orthogonal weights instead of Gaussian ones.
      batch: inputs per network.
      dtype: the network's floating dtype.

    Returns:
      A :class:`Cell` whose ``measure`` gives the ``(depth,)`` gradient norms ``||dL/dh_l||``.

    >>> import jax, jax.numpy as jnp
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.runs.cells import attenuation_cell
    >>> cell = attenuation_cell("relu", 5, 16, False, 8, jnp.float32)
    >>> key = jax.random.key_data(jax.random.key(0))
    >>> cell.one(key, jnp.asarray(mlp_scales("he", 16, None, None, 0.0), jnp.float32)).shape
    (5,)
    """
    rec = get_activation(act)

    def draw(key_data, hyper):
        kp, kx = jr.split(jr.wrap_key_data(key_data))
        params = sample_mlp(kp, hyper[:3], depth=depth, width=width, in_dim=None, out_dim=None,
                             orthogonal=orthogonal, dtype=dtype,
                             householder=True)  # fmt: skip
        # A flat draw, reshaped: vmapped random bits of a 2-D shape take XLA:CPU seconds to
        # compile (2.2 s against 0.2 s for (8, 12), jax 0.10); the values are the same.
        return params, jr.normal(kx, (batch * width,), dtype).reshape(batch, width)

    def measure(drawn):
        params, x = drawn
        return layer_gradient_norms(params, x, rec).pre

    return Cell(draw, measure, 0)


#: The per-network hyperparameters of a training program: the row of numbers each network
#: brings (``hyper``), in this order. The first three are :func:`jaxact.mlp.mlp_scales`.
HYPERPARAMETERS = ("weight_scale", "readout_scale", "sigma_b2", "residual", "branch_scale",
                   "optimizer_index", "learning_rate")  # fmt: skip


def training_cell(act, depth, width, orthogonal, task, in_dim, out_dim, optimizer, steps, dtype,
                  *, batch_size=None, n_train=None, test=False, residual=False,
                  observe_every=None) -> Cell:  # fmt: skip
    """A training cell: ``steps`` of :func:`jaxact.training.make_guarded_step` (the step
    :func:`~jaxact.train` runs) in one ``lax.scan``, recording where a NaN or inf first
    appeared instead of stopping.

    ``draw(key_data, hyper)`` samples the network from the first half of the split key (with
    ``hyper[:3]``, :data:`HYPERPARAMETERS`) and, with ``batch_size``, ``steps`` minibatches of
    indices into the ``n_train`` training examples (drawn with replacement) from the second.
    ``measure(drawn, x, y[, x_test, y_test])`` trains: on all of ``x`` every step (full batch)
    or on the minibatches. ``optimizer`` is an optax optimizer shared by every network, or a
    tuple of names of :data:`~jaxact.training.OPTIMIZERS`, one picked per network by
    ``hyper[5]`` at rate ``hyper[6]`` (:func:`~jaxact.training.per_network_optimizer`).
    ``residual``: ``False``/``True`` for every network, or ``"per-network"``: ``hyper[3] > 0``
    with branch scale ``hyper[4]``. ``observe_every``: every so many steps, the
    :func:`~jaxact.training.observe` of the whole training set (dead and saturated units per
    layer). Returns per network: ``loss`` (before each update, on that step's batch),
    ``final_loss`` and ``final_accuracy`` (the full training set after training),
    ``test_loss`` and ``test_accuracy`` (with ``test``), ``grad_norms_init``/``_final``
    (``||dL/dW_l||``), ``bad_step``, ``bad_layer`` and, when observing, ``dead_units`` and
    ``saturated_units`` ``(steps // observe_every, depth)``.

    Args:
      act: activation (a name or a record).
      depth: hidden layers.
      width: units per layer.
      orthogonal: Haar-orthogonal weights instead of Gaussian ones.
      task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
      in_dim: input features.
      out_dim: outputs.
      optimizer: an optax optimizer, or a tuple of optimizer names (see above).
      steps: training steps.
      dtype: the network's floating dtype.
      batch_size: minibatch size (default: full batch).
      n_train: training examples (needed with ``batch_size``).
      test: also measure ``(x_test, y_test)``.
      residual: see above.
      observe_every: see above.

    Returns:
      A :class:`Cell` whose ``measure`` returns the dict of arrays described above.

    >>> import jax, jax.numpy as jnp, optax
    >>> from jaxact.mlp import mlp_scales
    >>> from jaxact.runs.cells import training_cell
    >>> from jaxact.training import two_spirals
    >>> data = two_spirals(jax.random.key(0), 32)
    >>> cell = training_cell("tanh", 2, 8, False, "binary", 2, 1, optax.adam(0.01), 20,
    ...                      jnp.float32)
    >>> hyper = jnp.asarray(mlp_scales("glorot", 8, 1, None, 0.0), jnp.float32)
    >>> out = cell.one(jax.random.key_data(jax.random.key(0)), hyper, data.x, data.y)
    >>> out["loss"].shape, bool(out["final_loss"] < out["loss"][0])
    ((20,), True)
    """
    lf = loss_fn(task)
    if observe_every is not None and steps % observe_every:
        raise ValueError(f"observe_every={observe_every} must divide steps={steps}.")

    def draw(key_data, hyper):
        kp, kb = jr.split(jr.wrap_key_data(key_data))
        params = sample_mlp(kp, hyper[:3], depth=depth, width=width, in_dim=in_dim,
                            out_dim=out_dim, orthogonal=orthogonal, dtype=dtype,
                            householder=True)  # fmt: skip
        if batch_size is None:
            return params, hyper
        return params, hyper, jr.randint(kb, (steps, batch_size), 0, n_train)

    def measure(drawn, x, y, *test_data):
        params, hyper = drawn[:2]
        batches = drawn[2] if batch_size is not None else None
        if isinstance(optimizer, optax.GradientTransformation):
            opt = optimizer
        else:
            opt = per_network_optimizer(optimizer, hyper[5].astype(jnp.int32), hyper[6])
        res = hyper[3] > 0 if residual == "per-network" else residual
        branch = hyper[4] if residual is not False else 1.0
        guarded = make_guarded_step(act, task, opt, residual=res, branch_scale=branch)

        def step(carry, i):
            if batches is None:
                xb, yb = x, y
            else:
                xb, yb = x[batches[i - 1]], y[batches[i - 1]]
            carry, out = guarded(carry, i, xb, yb)
            return carry, (out.loss, hidden_weight_norms(out.grads))

        carry = Guarded.start(params, opt.init(params))
        observed = {}
        if observe_every is None:
            carry, (losses, gnorms) = jax.lax.scan(
                step, carry, jnp.arange(1, steps + 1, dtype=jnp.int32)
            )
        else:

            def window(carry, first):
                carry, out = jax.lax.scan(
                    step, carry, first + jnp.arange(observe_every, dtype=jnp.int32)
                )
                d = observe(carry.params, Dataset(x, y, task, ""), act, residual=res,
                            branch_scale=branch)  # fmt: skip
                return carry, (out, d.dead_units[:depth], d.saturated_units[:depth])

            firsts = jnp.arange(1, steps + 1, observe_every, dtype=jnp.int32)
            carry, ((losses, gnorms), dead, sat) = jax.lax.scan(window, carry, firsts)
            losses, gnorms = losses.reshape(steps), gnorms.reshape(steps, depth)
            observed = {"dead_units": dead, "saturated_units": sat}
        p = carry.params
        # The final loss, output and gradient on the whole training set: one more step, its
        # update unused.
        final_step = make_step(act, task, opt, residual=res, branch_scale=branch)
        final = final_step(p, carry.opt_state, x, y)
        result = {
            "loss": losses,
            "final_loss": final.loss,
            "final_accuracy": accuracy(final.output, y, task),
            "grad_norms_init": gnorms[0],
            "grad_norms_final": hidden_weight_norms(final.grads),
            "bad_step": carry.bad_step,
            "bad_layer": carry.bad_layer,
            **observed,
        }
        if test_data:
            x_test, y_test = test_data
            out = mlp_forward(p, x_test, act, residual=res, branch_scale=branch)
            result |= {"test_loss": lf(out, y_test), "test_accuracy": accuracy(out, y_test, task)}
        return result

    return Cell(draw, measure, 4 if test else 2)
