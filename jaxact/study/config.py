"""The study's sizes per mode (``quick``, ``default``, ``full``) and the files it writes."""

from __future__ import annotations

import dataclasses

from jaxact.trainability import GridSettings

__all__ = ["STUDY_LAYOUT", "StudyConfig"]


# The depth grid's recipes per mode (jaxact.trainability.RECIPES): the default run trains the
# plain and residual He ReLU and the TAT leaky ReLU at depths 50 and 100 and the other plain
# recipes at 50 (each shaped net is a compiled program of its own: the default run's budget).
_ALL = (
    "he_relu",
    "residual_relu",
    "tat_leaky_relu",
    "dks_tanh",
    "dks_softplus",
    "critical_tanh",
    "glorot_tanh",
    "glorot_sigmoid",
)
_GRIDS = {
    "quick": GridSettings(depths=(20,), width=16, steps=60, batch_size=64, seeds=3,
                          lr_momentum=0.01, lr_adam=3e-3, widths=(16,), width_depths=(20,),
                          he_depth=20, he_width=16, he_steps=60, he_lr=0.002,
                          map_sigma_w2=(), fluct_depths=(), fluct_widths=(),
                          fluct_inits=128,
                          recipes=tuple((n, (20,)) for n in ("he_relu", "residual_relu",
                                                              "tat_leaky_relu"))),
    "default": GridSettings(depths=(50, 100), width=32, steps=300, batch_size=128, seeds=3,
                            lr_momentum=2e-3, lr_adam=5e-4, widths=(16, 32, 64),
                            width_depths=(), he_depth=30, he_width=128, he_steps=300,
                            he_lr=0.002, map_sigma_w2=(0.5, 1.0, 1.76, 2.5, 4.0),
                            fluct_depths=(10, 25, 50, 100), fluct_widths=(16, 32, 64),
                            fluct_inits=512, map_depths=(10, 50, 100), map_steps=150,
                            map_lr=0.01,
                            recipes=(("he_relu", (50, 100)), ("residual_relu", (50, 100)),
                                     ("tat_leaky_relu", (50, 100)), ("dks_tanh", (50,)),
                                     ("dks_softplus", (50,)), ("critical_tanh", (50,)))),
    "full": GridSettings(depths=(50, 100, 200), width=64, steps=1000, batch_size=128,
                         seeds=5, lr_momentum=1e-3, lr_adam=3e-4, widths=(16, 32, 64, 128),
                         width_depths=(50, 100, 200), he_depth=30, he_width=128,
                         he_steps=1500, he_lr=0.002,
                         map_sigma_w2=(0.5, 0.75, 1.0, 1.25, 1.5, 1.76, 2.0, 2.5, 3.0, 4.0),
                         fluct_depths=(10, 25, 50, 100, 200), fluct_widths=(16, 32, 64, 128),
                         fluct_inits=1024, map_depths=(10, 50, 100, 200), map_steps=1000,
                         map_lr=0.01, map_inits=("gaussian", "orthogonal"),
                         recipes=tuple((n, (50, 100, 200)) for n in _ALL)),
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Sizes for one mode of the study (``quick``, ``default`` or ``full``).

    Two spirals (claims 1 and 9): ``n_points``, ``spiral_width``, ``steps`` (Adam). Claim 4:
    ``att_depth`` x ``att_width``. Claim 7: ``bench_elements`` streamed. Claim 6: ``grid`` on
    digits (and MNIST-1D with ``mnist1d``). Claim 8: ``dead_steps`` of SGD at ``dead_lr``.
    """

    mode: str
    spiral_width: int
    n_points: int
    steps: int
    att_depth: int
    att_width: int
    bench_elements: int
    grid: GridSettings
    dead_steps: int
    dead_lr: float
    mnist1d: bool = False
    seed: int = 0

    @staticmethod
    def for_mode(mode: str, seed: int = 0) -> StudyConfig:
        sizes = {
            "quick": dict(spiral_width=16, n_points=256, steps=120, att_depth=20, att_width=64,
                          bench_elements=2**22, dead_steps=60),
            "default": dict(spiral_width=32, n_points=384, steps=300, att_depth=50,
                            att_width=128, bench_elements=2**24, dead_steps=200),
            "full": dict(spiral_width=64, n_points=1024, steps=2000, att_depth=100,
                         att_width=512, bench_elements=2**26, dead_steps=1000, mnist1d=True),
        }  # fmt: skip
        if mode not in sizes:
            raise ValueError(f"mode must be one of {sorted(sizes)}, got {mode!r}.")
        return StudyConfig(mode=mode, seed=seed, grid=_GRIDS[mode], dead_lr=0.5, **sizes[mode])


#: What a study writes in its ``--out`` folder: name -> ``"dir"`` or ``"file"`` (a clash with
#: a user's file of the other type is refused before any work).
STUDY_LAYOUT = {"results": "dir", "figures": "dir", "results.json": "file", "report.md": "file",
                "report.html": "file"}  # fmt: skip
