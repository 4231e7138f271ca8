"""The package surface, the CLI, and import hygiene."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import jaxact
from jaxact import cli


def _api_pages() -> str:
    from pathlib import Path

    api = Path(__file__).resolve().parent.parent / "docs" / "api"
    return "\n".join(p.read_text() for p in sorted(api.glob("*.md")))


@pytest.mark.parametrize("name", sorted(jaxact.__all__))
def test_public_names_are_documented(name):
    """Every name ``import jaxact`` offers is documented where users read about it."""
    import inspect

    obj = getattr(jaxact, name)
    if name == "__version__":
        assert isinstance(obj, str) and obj
        return
    if inspect.ismodule(obj):  # jaxact.theory: its module docstring and an API page
        assert obj.__doc__ and f"::: {obj.__name__}\n" in _api_pages()
        return
    if not callable(obj):  # the registries: a documented module attribute (a #: comment)
        import re

        from jaxact.activations import registry

        homes = [m for m in (registry, jaxact.initializers) if name in vars(m)]
        source = inspect.getsource(homes[0])
        assert re.search(rf"^#: .*\n(?:#: .*\n)*{name}\b.* = ", source, re.M), (
            f"jaxact.{name} needs a #: comment where it is defined"
        )
        return
    doc = inspect.getdoc(obj)
    assert doc, f"jaxact.{name} has no docstring"
    if getattr(obj, "__module__", "").startswith("jax.") or inspect.isclass(obj):
        return  # jax.nn's own functions (re-exported as they are); records list Attributes
    for section in ("Args:", "Returns:", ">>> "):
        assert section in doc, f"jaxact.{name}'s docstring has no {section!r}"


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout


def test_import_does_not_pull_in_matplotlib():
    out = _run("import sys, jaxact; print('matplotlib' in sys.modules)")
    assert out.strip() == "False"


def test_the_core_loads_on_first_use_and_the_application_stays_out():
    # `import jaxact` loads no JAX; the core's names load their modules on first use, and
    # none of them pulls in the application layer (training, sweeps, the study) or optax.
    code = (
        "import sys, jaxact\n"
        "print('jax' in sys.modules)\n"
        "for name in ('relu', 'diagnose', 'theory', 'shaping', 'init_mlp', 'init_weights',\n"
        "             'gradient_attenuation', 'trace_statistics', 'ACTIVATIONS'):\n"
        "    getattr(jaxact, name)\n"
        "app = ('optax', 'jaxact.sweeps', 'jaxact.training', 'jaxact.study', 'matplotlib')\n"
        "print([m for m in app if m in sys.modules])\n"
        "print(jaxact.sweep.__module__, 'jaxact.sweeps' in sys.modules)\n"
    )
    assert _run(code).split("\n")[:3] == ["False", "[]", "jaxact.sweeps True"]


def test_lazy_names_behave_like_attributes():
    from jaxact import diagnose, relu  # from-imports go through the same look-up

    assert relu is jaxact.activations.relu and diagnose is jaxact.diagnosis.diagnose
    assert set(jaxact.__all__) <= set(dir(jaxact))
    with pytest.raises(AttributeError, match="no attribute 'relux'"):
        jaxact.relux  # noqa: B018


@pytest.mark.slow
def test_works_with_default_float32_config():
    # The suite enables float64; users usually do not. Check the default configuration.
    code = (
        "import jax, jax.numpy as jnp, jaxact\n"
        "x = jnp.linspace(-90.0, 90.0, 7)\n"
        "for name, rec in jaxact.ACTIVATIONS.items():\n"
        "    y = rec.fn(x)\n"
        "    assert y.dtype == jnp.float32, (name, y.dtype)\n"
        "    if rec.elementwise:\n"
        "        g = jax.vmap(jax.grad(jax.grad(rec.fn)))(x)\n"
        "        assert bool(jnp.isfinite(g).all()), name\n"
        "print(float(jaxact.sigmoid(-100.0)))\n"
    )
    out = _run(code)
    assert float(out) == pytest.approx(3.7835e-44, rel=1e-3) or float(out) == 0.0


def test_cli_activations_table(capsys):
    assert cli.main(["activations"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["name", "range", "max", "|phi'|", "phi'(0)", "saturating", "gain"]
    rows = {line.split()[0]: line.split() for line in lines[2:] if line and line[0].isalpha()}
    assert rows["sigmoid"][1:] == ["(0,", "1)", "0.25", "0.25", "yes", "1"]
    assert rows["relu"][1:] == ["[0,", "inf)", "1", "0", "left", "1.414"]
    assert set(jaxact.ACTIVATIONS) <= set(rows)


@pytest.mark.slow
def test_cli_activations_plot(tmp_path, capsys):
    out = tmp_path / "act.png"  # into an existing folder: a missing one is an error now
    assert cli.main(["activations", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 50_000  # 18 panels of curves, not an empty canvas


def test_cli_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    assert "activations" in capsys.readouterr().out
    assert cli.main([]) == 2


@pytest.mark.slow
def test_cli_as_installed_command():
    out = subprocess.run(
        [sys.executable, "-m", "jaxact", "activations"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "gelu_tanh" in out.stdout


def test_plot_rejects_output_functions(tmp_path):
    from jaxact.plotting import plot_activations

    with pytest.raises(ValueError, match="softmax"):
        plot_activations(tmp_path / "x.png", ["relu", "softmax"])


@pytest.mark.slow
def test_cli_attenuation_prints_rates_and_plots(tmp_path, capsys):
    out = tmp_path / "att.png"
    code = cli.main(
        ["attenuation", "--activation", "sigmoid", "relu", "--depth", "20", "--width", "64",
         "--batch", "16", "--plot", str(out)]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines()[2:4]}
    assert float(rows["sigmoid"][1]) < 0.36  # sqrt(2) x sup sigma' = 0.354 with He weights
    assert 0.8 < float(rows["relu"][1]) < 1.2
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cli_attenuation_rejects_bad_names_before_compute(capsys):
    assert cli.main(["attenuation", "--activation", "sigmod"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'sigmoid'" in err and len(err.strip().splitlines()) == 1


def _private_uses(path) -> list[str]:
    """``from jaxact.x import _name``, ``from jaxact import _module`` and ``mod._name`` where
    ``mod`` is a jaxact module imported in ``path``: each a use of another module's private."""
    import ast

    tree = ast.parse(path.read_text())
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxact"):
            for alias in node.names:
                if alias.name.startswith("_") and alias.name != "__version__":
                    found.append(
                        f"{path.name}:{node.lineno} from {node.module} import {alias.name}"
                    )
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jaxact"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    from pathlib import Path

    root = Path(jaxact.__file__).parent
    uses = [u for p in sorted(root.rglob("*.py")) for u in _private_uses(p)]
    assert uses == []


def test_private_name_check_catches_each_form(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "from jaxact.mlp import _scan\nfrom jaxact import theory\n"
        "import jaxact.sweeps as sw\nx = theory._resolve\ny = sw._prepare\n"
    )
    assert len(_private_uses(src)) == 3


def test_the_examples_extra_covers_what_the_examples_import():
    # `pip install jaxact[examples]` must be enough to run examples/: every third-party
    # package they import is a dependency or in the examples extra.
    import ast
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in reqs}

    have = names(project["dependencies"]) | names(project["optional-dependencies"]["examples"])
    have |= {"jaxact", "numpy"}  # numpy comes with jax
    dist = {"sklearn": "scikit-learn"}
    imported = set()
    for path in sorted((root / "examples").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names}
    assert {dist.get(m, m) for m in third_party} <= have
    assert {"flax", "equinox", "sklearn"} <= third_party  # the check sees them
