"""The recipes of the trainability grid: ways to build a deep MLP, from the lesson's (He ReLU,
Glorot sigmoid and tanh) to the usual fix (residual connections) and plain nets made trainable
from theory (kernel shaping, orthogonal weights at criticality).

Plain data: the figures read labels and styles from here without importing what runs them
(:mod:`jaxact.trainability`).
"""

from __future__ import annotations

import dataclasses

__all__ = ["RECIPES", "Recipe"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A way to build a deep MLP of the grid.

    Attributes:
      name: the recipe's key in :data:`RECIPES`.
      label: how figures and the report name it.
      activation: the registry name of the activation (before any shaping).
      init: the weight scheme.
      shaping: ``"tat"`` or ``"dks"`` (:mod:`jaxact.shaping`, for the run's depth) or ``None``.
      critical: ``sigma_w2`` at the edge of chaos (:func:`jaxact.theory.critical_sigma_w2` at
        ``sigma_b2 = 0``) instead of the scheme's own.
      residual: identity shortcuts, branch scaled by ``1/sqrt(depth)``.
      plain: no residual connections and no normalisation.
    """

    name: str
    label: str
    activation: str
    init: str
    shaping: str | None = None
    critical: bool = False
    residual: bool = False

    @property
    def plain(self) -> bool:
        return not self.residual


#: The grid's recipes: the lesson's (He ReLU, Glorot sigmoid/tanh), the usual fix (residual),
#: and plain nets made trainable from theory (kernel shaping, orthogonal weights at criticality).
RECIPES = {r.name: r for r in (
    Recipe("he_relu", "ReLU, He init", "relu", "he"),
    Recipe("residual_relu", "ReLU + residual, He init", "relu", "he", residual=True),
    Recipe("tat_leaky_relu", "TAT leaky ReLU, orthogonal", "leaky_relu", "orthogonal", "tat"),
    Recipe("dks_tanh", "DKS tanh, orthogonal", "tanh", "orthogonal", "dks"),
    Recipe("dks_softplus", "DKS softplus, orthogonal", "softplus", "orthogonal", "dks"),
    Recipe("critical_tanh", "tanh, orthogonal at criticality", "tanh", "orthogonal",
           critical=True),
    Recipe("glorot_tanh", "tanh, Glorot init", "tanh", "glorot"),
    Recipe("glorot_sigmoid", "sigmoid, Glorot init", "sigmoid", "glorot"),
)}  # fmt: skip
