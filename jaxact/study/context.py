"""What an experiment of the study is given: its sizes, where its figures go, its data and
progress, and trained networks shared between claims."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.random as jr

from jaxact.datasets import Dataset, digits, split, standardize, two_spirals
from jaxact.mlp import init_mlp
from jaxact.progress import Progress
from jaxact.study.config import StudyConfig
from jaxact.training import train

__all__ = ["Context"]


class Context:
    """What an experiment needs: the config, where figures go, and progress callbacks."""

    def __init__(self, config: StudyConfig, figures: Path, progress: Progress | None = None):
        self.config = config
        self.figures = figures
        self.progress = Progress(0, enabled=False) if progress is None else progress
        #: Callbacks for the training loops: steps done, networks trained to the end.
        self.step_progress: Callable[[int], Any] = self.progress.add_steps
        self.run_progress: Callable[[int], Any] = self.progress.add_runs
        self._digits = None
        self._trained: dict[tuple, Any] = {}

    def figure(self, name: str) -> Path:
        return self.figures / name

    def stage(self, text: str) -> None:
        """Say what a long experiment is doing now (a progress line off a terminal)."""
        self.progress.stage(text)

    def spirals(self) -> Dataset:
        return two_spirals(jr.key(self.config.seed + 100), self.config.n_points)

    def digits(self) -> tuple[Dataset, Dataset]:
        """scikit-learn's digits: the fixed stratified 75/25 split, standardised."""
        if self._digits is None:
            self._digits = standardize(*split(digits(), 0.25, seed=0))
        return self._digits

    def train_net(self, activation, depth, *, init="he", width=None, optimizer=None, data=None,
                  steps=None, seed=None):  # fmt: skip
        """Train on two spirals (or ``data``) with :func:`~jaxact.train`; the same arguments
        give the same (cached) result, so experiments can share a network."""
        key = (activation, depth, init, width, id(optimizer), id(data), steps, seed)
        if key not in self._trained:
            self._trained[key] = self._train(activation, depth, init=init, width=width,
                                             optimizer=optimizer, data=data, steps=steps,
                                             seed=seed)  # fmt: skip
        return self._trained[key]

    def _train(self, activation, depth, *, init, width, optimizer, data, steps, seed):
        data = self.spirals() if data is None else data
        seed = self.config.seed if seed is None else seed
        steps = steps or self.config.steps
        p = init_mlp(jr.key(seed), depth=depth, width=width or self.config.spiral_width,
                     in_dim=data.x.shape[1], out_dim=data.out_dim, init=init)  # fmt: skip
        return train(p, data, activation, optimizer=optimizer, steps=steps, log_every=steps,
                     progress=self.step_progress)  # fmt: skip
