"""The documentation site's sources: the README sections its pages include, its generated
blocks, and an API page for every public module. (``mkdocs build --strict`` itself runs in CI
with the docs extra.)"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import jaxact

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load("mkdocs_hooks")
PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_included_readme_section_exists(page):
    text = page.read_text()
    out = hooks.include_readme(text)
    assert "<!-- readme:" not in out
    # The README's image links are rewritten to the site's layout; none point into docs/.
    assert "](docs/" not in out


def test_a_section_is_included_with_shifted_headings_and_relative_links():
    out = hooks.include_readme("<!-- readme: What you can do with it | 1 -->", depth=1)
    assert out.startswith("# What you can do with it\n")
    assert "\n## Diagnose your own model\n" in out  # one level up, as the section's own heading
    assert "](../diagnose.md)" in out  # docs/diagnose.md, from a page one folder down
    study = hooks.include_readme("<!-- readme: The study: the lesson's claims, measured -->")
    assert "## The study: the lesson's claims, measured" in study
    assert "](study/figures/vanishing.png)" in study
    nested = hooks.include_readme("<!-- readme: The study: the lesson's claims, measured -->", 1)
    assert "](../study/figures/vanishing.png)" in nested
    # A heading-like line inside a code block ("# Records are ...") does not end the section.
    assert "\n# Records are flat dicts" in out and "summarize(records)  #" in out


def test_links_to_files_outside_the_site_become_names():
    links = ("[the changelog](CHANGELOG.md) [bench](benchmarks/results/cpu.md) "
             "![f](benchmarks/results/cpu-compile.png) [page](docs/mlp.md)")  # fmt: skip
    out = hooks.relink(links, 0)
    assert out == ("the changelog (`CHANGELOG.md`) bench (`benchmarks/results/cpu.md`) "
                   "![f](bench-results/cpu-compile.png) [page](mlp.md)")  # fmt: skip


def test_the_readme_is_a_front_page():
    # What jaxact is, the two commands, the verdicts and one figure, a snippet per capability
    # with its page: at most ~200 lines; the detail lives on the pages.
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    pages = ("activations", "mlp", "diagnose", "precision", "theory", "shaping", "sweeps",
             "benchmarks", "study", "getting-started", "examples", "contributing")  # fmt: skip
    for page in pages:
        assert f"](docs/{page}.md)" in text, page
    assert text.count("![") == 1  # one figure


def test_an_unknown_section_is_an_error():
    with pytest.raises(ValueError, match="no section 'Nope'"):
        hooks.include_readme("<!-- readme: Nope -->")


def test_docs_blocks_are_generated_from_the_committed_results():
    tool = _load("readme_numbers")
    for path, blocks in tool.DOCS_BLOCKS.items():
        text = path.read_text()
        assert tool.render(text, blocks, path.name) == text, f"{path.name} is stale"
        for fn in blocks.values():
            body = tool.relink(fn(), 0)  # as the page links it
            assert body and body in text
            stale = text.replace(body, body[: len(body) // 2])
            assert tool.render(stale, blocks, path.name) == text


#: The modules the API reference renders (the ``::: module`` lines of docs/api/*.md).
RENDERED = sorted(
    {
        line[4:].strip()
        for page in (DOCS / "api").glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
)


def _resolve(name: str):
    """A module, or a module's attribute (an API page may lead with the function itself)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        module, _, attr = name.rpartition(".")
        return getattr(importlib.import_module(module), attr)


def test_every_public_module_has_an_api_page():
    for name in RENDERED:
        _resolve(name)  # a page names a real module or function
    public = set()
    for pkg in (jaxact, importlib.import_module("jaxact.bench")):
        for m in pkgutil.iter_modules(pkg.__path__):
            full = f"{pkg.__name__}.{m.name}"
            if m.name.startswith("_") or m.name in ("cli", "special"):
                continue  # the command line (jaxact --help) and the numerics' internals
            if hasattr(importlib.import_module(full), "__all__"):
                public.add(full)
    assert public - set(RENDERED) == set(), "a public module without an API page"


def test_nav_lists_every_page():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    for page in pages:
        if page.startswith("study/"):
            continue  # the committed study report, linked from the study page
        assert re.search(rf"\b{re.escape(page)}\b", nav), f"{page} is not in mkdocs.yml's nav"


def _public_functions():
    for name in RENDERED:
        module = _resolve(name)
        if not inspect.ismodule(module):
            continue  # a function or class a page leads with: its module is listed too
        assert hasattr(module, "__all__"), f"{name} needs __all__ (its public API)"
        for attr in module.__all__:
            obj = getattr(module, attr)
            fn = inspect.unwrap(obj)  # functools.lru_cache and friends
            # defined in the module, or (a package) in one of its submodules
            if inspect.isfunction(fn) and (fn.__module__ == name
                                           or fn.__module__.startswith(f"{name}.")):  # fmt: skip
                yield f"{name}.{attr}", obj


FUNCTIONS = dict(_public_functions())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_public_function_has_args_returns_and_an_example(name):
    """The API reference's promise: what goes in, what comes out (shapes), an example that runs
    (--doctest-modules runs it in the default pytest)."""
    fn = FUNCTIONS[name]
    doc = inspect.getdoc(fn) or ""
    wanted = ["Returns:", ">>> "]
    if inspect.signature(fn).parameters:
        wanted.insert(0, "Args:")
    missing = [w for w in wanted if w not in doc]
    assert not missing, f"{name}'s docstring lacks {missing}"


def test_slow_doctests_name_real_examples():
    """A misspelt name in the root conftest's list would silently stay in the default run."""
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in module.SLOW_DOCTESTS:
        assert ">>> " in (_documented(name).__doc__ or ""), name


def _documented(dotted: str):
    """The module, class or function a doctest item is named after (``jaxact.sweeps``,
    ``jaxact.diagnosis.UnitActivity``, ``jaxact.sweeps.sweep``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"{dotted} names no module")


def _snippets() -> list[tuple[str, str]]:
    """Every ```python block of the README and the docs pages, as ``(where, code)``; a block
    right after ``<!-- snippet: not run (why) -->`` is left out."""
    found = []
    for path in [ROOT / "README.md", *PAGES]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() != "```python":
                continue
            if i and lines[i - 1].startswith("<!-- snippet: not run"):
                continue
            end = lines.index("```", i + 1)
            found.append((f"{path.name}:{i + 1}", "\n".join(lines[i + 1 : end]) + "\n"))
    return found


SNIPPETS = _snippets()


def test_the_snippets_are_found():
    # README: one per capability (7); the pages: those and more (the diagnose page: flax and
    # equinox; the multi-host sweep is marked not run).
    assert sum(w.startswith("README.md") for w, _ in SNIPPETS) == 7, [w for w, _ in SNIPPETS]
    assert len(SNIPPETS) >= 14, [w for w, _ in SNIPPETS]


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_every_snippet_runs_as_pasted(where, code, tmp_path):
    """A newcomer pastes it into a file and runs it: no undefined names, no missing setup."""
    import os
    import subprocess
    import sys

    (tmp_path / "snippet.py").write_text(code)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}  # fmt: skip
    proc = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, f"{where}:\n{proc.stderr[-3000:]}"


def test_math_is_rendered_as_mathml_without_a_script():
    # The site's formulas need no network: arithmatex's LaTeX becomes MathML at build time.
    page = (
        '<p>x</p><div class="arithmatex">\\[\n\\mathrm{grad} = \\|\\partial L / \\partial h\\|_F'
        '\n\\]</div> and <span class="arithmatex">\\(q^* &lt; 1\\)</span>'
    )
    out = hooks.render_math(page)
    assert "arithmatex" not in out and out.count("<math ") == 2
    assert 'display="block"' in out and 'display="inline"' in out
    assert "&lt;" in out or "&#x0003C;" in out  # the escaped < survives as a character
    assert "unpkg" not in (ROOT / "mkdocs.yml").read_text()
