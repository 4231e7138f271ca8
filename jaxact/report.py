"""The study's report: ``report.md`` and a self-contained ``report.html`` (figures embedded).

The HTML is rendered with Jinja2 (autoescaping on), every figure inlined as a base64 ``data:``
URI so the page reads offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from jaxact.files import atomic_write

_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jaxact study: activation functions and the vanishing-gradient problem</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; }
.claim { font-style: italic; color: #555; border-left: 3px solid #ccc; padding-left: .8rem; }
.verdict { display: inline-block; padding: .1rem .5rem; border-radius: .3rem; font-weight: 600; }
.supported { background: #d8f3dc; } .caveat { background: #fff3bf; } .not { background: #ffd6d6; }
table { border-collapse: collapse; font-size: .9rem; } td, th { border: 1px solid #ddd;
        padding: .2rem .5rem; text-align: left; }
img { max-width: 100%; } .meta { color: #666; font-size: .85rem; }
</style>
</head>
<body>
<h1>Activation functions and the vanishing-gradient problem: the lesson's claims, measured</h1>
<p class="meta">{{ meta.command }} &middot; {{ meta.device.backend }} /
{{ meta.device.device_kind }} &middot; jax {{ meta.device.jax }} &middot;
{{ meta.device.date }} &middot; mode {{ meta.config.mode }}</p>
<table>
<tr><th>#</th><th>claim</th><th>verdict</th></tr>
{% for e in experiments %}<tr><td>{{ loop.index }}</td>
<td><a href="#{{ e.id }}">{{ e.title }}</a></td>
<td><span class="verdict {{ css(e.verdict) }}">{{ e.verdict }}</span></td></tr>
{% endfor %}</table>
{% for e in experiments %}
<h2 id="{{ e.id }}">{{ loop.index }}. {{ e.title }}</h2>
<p class="claim">&ldquo;{{ e.claim }}&rdquo;</p>
<p><span class="verdict {{ css(e.verdict) }}">{{ e.verdict }}</span> {{ e.summary }}</p>
{% for fig in e.figures %}<img src="{{ figures[fig] }}" alt="{{ e.title }}: {{ fig }}">
{% endfor %}<p class="meta">{{ '%.1f' % e.seconds }} s</p>
{% endfor %}
</body>
</html>
"""


def _css(verdict: str) -> str:
    return {"supported": "supported", "supported with a caveat": "caveat"}.get(verdict, "not")


def render_markdown(experiments, meta: dict[str, Any]) -> str:
    d = meta["device"]
    lines = [
        "# jaxact study: the lesson's claims, measured",
        "",
        f"`{meta['command']}` on {d['backend']} / {d['device_kind']}, jax {d['jax']}, "
        f"{d['date']} (mode {meta['config']['mode']}).",
        "",
        "| # | claim | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | {e.title} | {e.verdict} |" for i, e in enumerate(experiments, 1)]
    for i, e in enumerate(experiments, 1):
        lines += ["", f"## {i}. {e.title}", "", f"> {e.claim}", "", f"**{e.verdict}.** {e.summary}"]
        lines += [f"\n![{e.title}](figures/{fig})" for fig in e.figures]
    return "\n".join(lines) + "\n"


def render_html(experiments, meta: dict[str, Any], figures_dir: Path) -> str:
    figures = {}
    for e in experiments:
        for fig in e.figures:
            data = base64.b64encode((figures_dir / fig).read_bytes()).decode("ascii")
            figures[fig] = f"data:image/png;base64,{data}"
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_HTML)
    return template.render(experiments=experiments, meta=meta, figures=figures, css=_css)


def write_report(out: Path, experiments, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out`` (atomically)."""

    md, html = out / "report.md", out / "report.html"
    atomic_write(md, render_markdown(experiments, meta))
    atomic_write(html, render_html(experiments, meta, out / "figures"))
    return md, html
