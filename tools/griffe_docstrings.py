"""A griffe extension for the API reference: jaxact's docstrings, written for ``help()`` and
doctest, rendered as Markdown.

* Sphinx roles (``:func:`~jaxact.diagnose```, ``:class:`X```, ...) become cross-references
  (``[diagnose][jaxact.diagnose]``), resolved by mkdocs-autorefs; a ``~`` shows the last part
  of the name only.
* A doctest block (lines starting ``>>>``, up to the next blank line) outside an ``Examples:``
  section becomes a fenced ``pycon`` block, instead of a Markdown quote.

Loaded by ``mkdocs.yml`` (mkdocstrings' ``extensions`` option).
"""

from __future__ import annotations

import re
from pathlib import Path

import griffe

#: The modules the API reference renders (the ``::: module`` lines of docs/api/*.md).
_API = Path(__file__).resolve().parent.parent / "docs" / "api"
RENDERED = tuple(
    line[4:].strip()
    for page in sorted(_API.glob("*.md"))
    for line in page.read_text(encoding="utf-8").splitlines()
    if line.startswith("::: ")
)

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|obj|exc):`(~?)([\w.]+)(?:\(\))?`")


def _walk(root, path: str, depth: int = 0):
    """The documented object at ``path`` (following re-exports), or None."""
    parts = path.split(".")
    if parts[0] != root.path or depth > 8:
        return None
    cur = root
    for name in parts[1:]:
        member = cur.members.get(name)
        if member is None or name.startswith("_"):
            return None
        if member.is_alias:
            member = _walk(root, member.target_path, depth + 1)
            if member is None:
                return None
        cur = member
    rendered_module = any(cur.path == m or cur.path.startswith(m + ".") for m in RENDERED)
    # Rendered only if public (in its module's __all__, see mkdocs.yml's filters) and documented.
    if cur.docstring is None or not rendered_module or not (cur.is_module or cur.is_public):
        return None  # not rendered: nothing to link to
    return cur


def _resolve(obj, target: str) -> str | None:
    """The canonical path a role's target names, seen from ``obj``'s docstring."""
    root = obj.package
    scopes = [target] if target.startswith(root.path + ".") else []
    scope = obj if obj.is_class or obj.is_module else obj.parent
    while scope is not None:
        scopes.append(f"{scope.path}.{target}")
        scope = scope.parent
    for path in scopes:
        found = _walk(root, path)
        if found is not None:
            return found.path
    return None


def _roles(obj, text: str) -> str:
    def sub(m: re.Match) -> str:
        short, target = m.groups()
        shown = target.rsplit(".", 1)[-1] if short else target
        path = _resolve(obj, target)
        # Outside jaxact (jax, optax, ...) or not documented: the name, as code.
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    return _ROLE.sub(sub, text)


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>") and not (out and out[-1].strip().startswith("```")):
            indent = line[: len(line) - len(stripped)]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _math(text: str) -> str:
    """``.. math::`` and its indented block become a displayed formula (``$$ ... $$``)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith(".. math::"):
            indent = line[: len(line) - len(line.lstrip())]
            i += 1
            body = [line.strip()[len(".. math::") :].strip()]
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(indent + " ")):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            out += [f"{indent}$$", *(indent + b for b in body if b), f"{indent}$$", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def render(obj, text: str) -> str:
    """``obj``'s docstring text as the API reference shows it."""
    return _fence_doctests(_math(_roles(obj, text)))


class JaxactDocstrings(griffe.Extension):
    """Rewrite each docstring once it is loaded (see the module docstring)."""

    def on_package(self, *, pkg, **kwargs) -> None:
        # Once the whole package is loaded, so that every cross-reference can be resolved.
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = render(obj, obj.docstring.value)


def _objects(obj):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)
