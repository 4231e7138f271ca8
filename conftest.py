"""Root test configuration: which doctests run in the slow step.

The default ``pytest`` runs every docstring example (``--doctest-modules``) except these, whose
examples compile training programs or run benchmarks (several seconds each on a 2-core CPU);
they run with ``pytest -m slow`` (a CI step of its own).
"""

import pytest

SLOW_DOCTESTS = {
    "jaxact.attenuation.gradient_attenuation",
    "jaxact.attenuation.layer_gradient_norms",
    "jaxact.plotting.plot_attenuation",
    "jaxact.plotting.plot_precision_census",
    "jaxact.bench.frameworks.faulted_mb_per_step",
    "jaxact.bench.frameworks.markdown_rows",
    "jaxact.bench.frameworks.plot",
    "jaxact.bench.frameworks.run",
    "jaxact.bench.runner.main",
    "jaxact.bench.runner.markdown",
    "jaxact.bench.runner.run_all",
    "jaxact.plotting.plot_theory_comparison",
    "jaxact.plotting.plot_phase_diagram",
    "jaxact.precision.precision_census",
    "jaxact.mlp.trace_statistics",
    "jaxact.runs.cells.attenuation_cell",
    "jaxact.runs.cells.training_cell",
    "jaxact.sweeps.train_runs",
    "jaxact.theory.compare",
    "jaxact.trainability.run_grid",
    "jaxact.training.observe",
    "jaxact.training.train",
    # Over 2.5 s each in the default run on 2 cores (pytest --durations): they compile a
    # network's program, its sampling or a training step.
    "jaxact.attenuation.layer_jacobians",
    "jaxact.bench.frameworks.compare_frameworks",
    "jaxact.datasets.teacher_student",
    "jaxact.diagnosis.UnitActivity",
    "jaxact.mlp.make_sgd_step",
    "jaxact.mlp.sample_mlp",
    "jaxact.runs.engine",
    "jaxact.runs.engine.program",
    "jaxact.shaping.dks",
    "jaxact.shaping.tat",
    "jaxact.sweeps",
    "jaxact.sweeps.sweep",
    "jaxact.theory.edge_of_chaos",
    "jaxact.trainability.fluctuation_cells",
    "jaxact.trainability.gradient_fluctuations",
    "jaxact.trainability.recipe_run",
    "jaxact.training.layer_finite",
    "jaxact.training.make_guarded_step",
    "jaxact.training.make_step",
    "jaxact.training.predict",
    "jaxact.plotting.plot_diagnosis",
    "jaxact.plotting.plot_diagnosis_history",
}


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
