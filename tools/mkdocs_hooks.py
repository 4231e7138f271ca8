"""mkdocs hooks: the documentation pages take their shared text from README.md.

A page line ``<!-- readme: Some heading -->`` is replaced by the README's section under that
heading (up to the next heading of the same or a higher level), so the site and the README say
the same thing from one source - the README's generated numbers included
(``tools/readme_numbers.py``). Headings are shifted so the section's own heading becomes the
level the page asks for (``<!-- readme: Some heading | 2 -->``, default 2); image links into
``docs/`` are made relative to the site; links to other files of the repository become plain
text with the path, since the site does not carry them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_MARK = re.compile(r"^<!-- readme: (?P<title>.+?)(?: \| (?P<level>\d))? -->$", re.M)
_HEADING = re.compile(r"^(#+) (.+)$")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\((?!https?://|#)([^)\s]+)\)")


def readme_section(title: str) -> tuple[int, list[str]]:
    """The README's heading level for ``title`` and the lines of its section (heading first)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    fence = False
    start = level = None
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if m is None:
            continue
        if start is None and m.group(2).strip() == title:
            start, level = i, len(m.group(1))
        elif start is not None and len(m.group(1)) <= level:
            return level, lines[start:i]
    if start is None:
        raise ValueError(f"README.md has no section {title!r} (a docs page includes it)")
    return level, lines[start:]


def relink(text: str, depth: int) -> str:
    """``text``'s links as seen from a page ``depth`` folders below ``docs/``: ``docs/x`` becomes
    relative, benchmark figures point where the site serves them, and files of the repository
    outside the site become their names."""
    up = "../" * depth

    def sub(m: re.Match) -> str:
        bang, label, target = m.groups()
        if target.startswith("docs/"):
            return f"{bang}[{label}]({up}{target[len('docs/') :]})"
        if target.startswith("benchmarks/results/") and target.endswith(".png"):
            return f"{bang}[{label}]({up}{BENCH_URI}/{target.rsplit('/', 1)[1]})"
        # A file of the repository outside the site: name it instead of linking to it.
        return f"{label} (`{target}`)" if label != target else f"`{target}`"

    return _LINK.sub(sub, text)


def include_readme(markdown: str, depth: int = 0) -> str:
    """Replace every ``<!-- readme: ... -->`` line of a page with the README's section."""

    def sub(m: re.Match) -> str:
        want = int(m.group("level") or 2)
        level, lines = readme_section(m.group("title"))
        fence = False
        out = []
        for line in lines:
            if line.startswith("```"):
                fence = not fence
            h = None if fence else _HEADING.match(line)
            if h is not None:
                line = "#" * max(1, len(h.group(1)) - level + want) + " " + h.group(2)
            out.append(line)
        return relink("\n".join(out), depth)

    return _MARK.sub(sub, markdown)


#: The benchmark figures the README shows live beside their results in ``benchmarks/results``;
#: the site serves them from here.
BENCH_FIGURES = ROOT / "benchmarks" / "results"
BENCH_URI = "bench-results"


def on_files(files, config):  # mkdocs hook
    from mkdocs.structure.files import File

    for png in sorted(BENCH_FIGURES.glob("*.png")):
        files.append(File.generated(config, f"{BENCH_URI}/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown, page, config, files):  # mkdocs hook
    return include_readme(markdown, depth=page.file.src_uri.count("/"))


_UNRESOLVED = re.compile(r"\]\[(jaxact\.[\w.]+)\]")
_log = logging.getLogger("mkdocs.hooks.jaxact")


# pymdownx.arithmatex (generic mode) leaves the formulas as LaTeX in these elements.
_MATH = re.compile(r'<(div|span) class="arithmatex">\s*(\\\[|\\\()(.*?)(\\\]|\\\))\s*</\1>', re.S)


def render_math(output: str, where: str = "") -> str:
    """Each arithmatex formula of a page as MathML, which browsers render natively: the math
    needs no script and no network (it was MathJax from a CDN: raw LaTeX offline). A formula
    latex2mathml cannot convert is a warning, which --strict turns into a failed build."""
    import html

    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        tag, latex = m.group(1), html.unescape(m.group(3)).strip()
        try:
            return convert(latex, display="block" if tag == "div" else "inline")
        except Exception as err:  # any failure is reported (a warning), never hidden
            _log.warning("%s: cannot render %r as MathML: %s", where, latex, err)
            return m.group(0)

    return _MATH.sub(one, output)


def on_post_page(output, page, config):  # mkdocs hook
    # A cross-reference autorefs left as text (it does not always warn): a warning, which
    # --strict turns into a failed build.
    for target in sorted(set(_UNRESOLVED.findall(output))):
        _log.warning("%s: unresolved cross-reference to %s", page.file.src_uri, target)
    return render_math(output, page.file.src_uri)
