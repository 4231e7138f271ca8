"""The study's report: ``report.md`` and a self-contained ``report.html`` (figures embedded).

The HTML is rendered with Jinja2 (autoescaping on), every figure inlined as a base64 ``data:``
URI so the page reads offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from jaxact.files import atomic_write

__all__ = [
    "GLOSSARY",
    "SMOKE_TEST",
    "glossary_anchor",
    "glossary_terms",
    "render_html",
    "render_markdown",
    "write_report",
]

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
.untested { background: #e9ecef; }
table { border-collapse: collapse; font-size: .9rem; } td, th { border: 1px solid #ddd;
        padding: .2rem .5rem; text-align: left; }
img { max-width: 100%; } .meta { color: #666; font-size: .85rem; }
figure { margin: 1rem 0; } .decided { font-size: .9rem; color: #444; background: #f6f6f6;
  padding: .4rem .6rem; } .smoke { background: #fff4d6; padding: .5rem .7rem; }
dt { font-weight: 600; margin-top: .5rem; } details { margin: .4rem 0; }
summary { cursor: pointer; color: #245; }
</style>
</head>
<body>
<h1>Activation functions and the vanishing-gradient problem: the lesson's claims, measured</h1>
<p class="meta">{{ meta.command }} &middot; {{ meta.device.backend }} /
{{ meta.device.device_kind }} &middot; jax {{ meta.device.jax }} &middot;
{{ meta.device.date }} &middot; mode {{ meta.config.mode }}{% if meta.device.xla_flags %}
&middot; XLA_FLAGS <code>{{ meta.device.xla_flags }}</code>{% endif %}</p>
{% if meta.config.mode == "quick" %}<p class="smoke"><b>{{ smoke }}</b></p>
{% endif %}<table>
<tr><th>#</th><th>claim</th><th>verdict</th></tr>
{% for e in experiments %}<tr><td>{{ loop.index }}</td>
<td><a href="#{{ e.id }}">{{ e.title }}</a></td>
<td><span class="verdict {{ css(e.verdict) }}">{{ e.verdict }}</span></td></tr>
{% endfor %}</table>
{% for e in experiments %}
<h2 id="{{ e.id }}">{{ loop.index }}. {{ e.title }}</h2>
<p class="claim">&ldquo;{{ e.claim }}&rdquo;</p>
<p><span class="verdict {{ css(e.verdict) }}">{{ e.verdict }}</span> {{ e.summary }}</p>
{% for title, text in e.details %}<details><summary>{{ title }}</summary><p>{{ text }}</p>
</details>
{% endfor %}{% if e.decided_by %}<p class="decided"><b>How this verdict is decided</b> (fixed
before the run): {{ e.decided_by }}</p>
{% endif %}{% for fig in e.figures %}<figure><img src="{{ figures[fig] }}"
alt="{{ e.title }}: {{ fig }}"></figure>
{% endfor %}<p class="meta">Ran in {{ '%.1f' % e.seconds }} s.{% set terms = terms_of(e) %}{%
if terms %} Terms: {% for t in terms %}<a href="#{{ anchor(t) }}">{{ t }}</a>{{ ", " if not
loop.last }}{% endfor %}.{% endif %}</p>
{% endfor %}
<h2 id="glossary">Glossary</h2>
<dl>
{% for term, text in glossary %}<dt id="{{ anchor(term) }}">{{ term }}</dt><dd>{{ text }}</dd>
{% endfor %}</dl>
</body>
</html>
"""


#: What a ``--quick`` report and ``jaxact study --quick`` say first.
SMOKE_TEST = (
    "A smoke test (--quick): every experiment runs, at sizes too small to decide its claim "
    "(depth 20 where the claim is about 50+ layers, 60 training steps). The verdicts show that "
    "the code works; run `jaxact study` (about 2 minutes on 2 cores) for the measured answers."
)

#: Terms the report uses, explained once at its end.
GLOSSARY = (
    (
        "phi, phi'",
        "The activation function and its derivative (slope). The gradient flowing "
        "back through a layer is multiplied by phi'(h) at each unit's pre-activation h.",
    ),
    (
        "sigma_w2, sigma_b2",
        "The variances of the initial weights (times the fan-in: a weight "
        "is drawn with variance sigma_w2 / fan_in) and of the initial biases.",
    ),
    (
        "Glorot / Xavier init",
        "sigma_w2 = 1 for square layers (Glorot & Bengio 2010): keeps "
        "the signal's variance for an activation with slope 1 at 0, such as tanh.",
    ),
    (
        "He init",
        "sigma_w2 = 2 (He et al. 2015): ReLU zeroes half its inputs, so doubling the "
        "weight variance keeps the signal's and the gradient's size through depth.",
    ),
    (
        "Edge of chaos",
        "The sigma_w2 (for a given sigma_b2) at which the per-layer gradient "
        "factor chi_1 is exactly 1: below it gradients vanish (ordered phase), above it they "
        "explode (chaotic phase). Signals propagate over about xi_c layers, infinitely many at "
        "the edge (Schoenholz et al. 2017).",
    ),
    (
        "xi_c",
        "The correlation depth scale of mean-field theory: how many layers two inputs "
        "stay distinguishable. Networks deeper than about 6 xi_c do not train.",
    ),
    (
        "C map",
        "How correlated two inputs' representations are after a layer, as a function of "
        "their correlation before it (mean-field theory, wide networks). Composed over L "
        "layers it is the network's C map: near 1 for every input pair means every input "
        "looks alike to the output layer.",
    ),
    (
        "Kernel shaping (DKS, TAT)",
        "Replacing phi by alpha phi(beta x + gamma) + delta, chosen from the depth so that "
        "the network's C map stays away from degenerate: Deep Kernel Shaping (Martens et al. "
        "2021) and Tailored Activation Transformation (Zhang et al. 2022), with orthogonal "
        "weights and inputs normalised to ||x||^2/dim = 1 (jaxact.shaping).",
    ),
    (
        "Plain network",
        "No residual connections and no normalisation layers: each layer is a dense map "
        "followed by the activation.",
    ),
    (
        "Residual connection",
        "A shortcut a_l = a_{l-1} + s phi(W a_{l-1} + b) around each "
        "layer (ResNets); here with branch scale s = 1/sqrt(depth).",
    ),
    (
        "Dead unit",
        "A ReLU unit whose pre-activation is negative on every training input: its "
        "gradient is zero everywhere, so it never changes again.",
    ),
    (
        "Test accuracy",
        "The fraction of held-out examples (never trained on) classified "
        "correctly; mean ± sd are over seeds (different initial weights and minibatch orders).",
    ),
    (
        "Loss in nats",
        "Cross-entropy measured with the natural logarithm. Guessing uniformly among k classes "
        "costs ln k nats, 2.30 for the ten digits: a loss near it means the network has not "
        "started to learn.",
    ),
    (
        "log ||J u||^2",
        "J is the network's input-output Jacobian at initialisation and u a random unit "
        "direction: ||J u||^2 is how much the network stretches u, the scale of its gradient. "
        "Its variance over random initialisations grows like 5 x depth / width for ReLU (Hanin "
        "2018, https://arxiv.org/abs/1801.03744; Hanin & Nica 2019): in a deep, narrow network "
        "the gradient's scale is a lottery.",
    ),
    (
        "Jacobian spectrum",
        "The squared singular values of J. Mean 1 and a small variance (dynamical isometry, "
        "Pennington et al. 2017) mean every direction keeps its size through depth; a wide "
        "spread means some directions explode while others vanish.",
    ),
)

#: Words that point a claim's text at a glossary entry, beyond the term itself.
_GLOSSARY_WORDS = {
    "Glorot / Xavier init": ("Glorot", "Xavier"),
    "Kernel shaping (DKS, TAT)": ("shaping", "shaped", "DKS", "TAT"),
    "Plain network": ("plain net",),
    "Residual connection": ("residual",),
    "Dead unit": ("dead",),
    "Loss in nats": ("nats",),
    "log ||J u||^2": ("||J u||", "Hanin"),
    "Jacobian spectrum": ("Jacobian", "singular values"),
    "Edge of chaos": ("edge of chaos", "criticality", "critical"),
    "phi, phi'": ("phi'",),
}


def glossary_anchor(term: str) -> str:
    """The HTML id of a glossary entry (``g-`` and the term's letters and digits).

    Args:
      term: a :data:`GLOSSARY` term.

    Returns:
      The id, e.g. ``"g-c-map"``.

    >>> glossary_anchor("C map"), glossary_anchor("log ||J u||^2")
    ('g-c-map', 'g-log-j-u-2')
    """
    return "g-" + "-".join(re.findall(r"[a-z0-9]+", term.lower()))


def glossary_terms(text: str) -> list[str]:
    """The glossary terms a text uses (by the term or the words that point at it), in the
    glossary's order.

    Args:
      text: a claim's summary and details.

    Returns:
      The :data:`GLOSSARY` terms found (a list of strings).

    >>> glossary_terms("He init keeps the C map away from 1; 2.30 nats is chance")
    ['He init', 'C map', 'Loss in nats']
    """
    low = text.lower()
    found = []
    for term, _ in GLOSSARY:
        words = _GLOSSARY_WORDS.get(term, ()) or ()
        words = (*words, *(w.strip() for w in re.split(r"[,/]", term) if w.strip()))
        if any(w.lower() in low for w in words if len(w) > 1):
            found.append(term)
    return found


def _claim_text(e) -> str:
    return " ".join([e.summary, *(t for _, t in getattr(e, "details", []))])


def _css(verdict: str) -> str:
    if verdict.startswith("supported only"):
        return "caveat"
    return {"supported": "supported", "supported with a caveat": "caveat",
            "not tested at this size": "untested"}.get(verdict, "not")  # fmt: skip


def render_markdown(experiments, meta: dict[str, Any]) -> str:
    """The study's report as Markdown: the verdict table, then each claim in full.

    Args:
      experiments: :class:`~jaxact.study.Experiment` records.
      meta: ``results.json``'s top level without the experiments: ``command``, ``device``
        (:func:`~jaxact.bench.timing.device_info`), ``config`` (with ``mode``), ``seconds``.

    Returns:
      The Markdown text; figures are linked from ``figures/``.

    >>> from jaxact.bench.timing import device_info
    >>> from jaxact.study import Experiment
    >>> exps = [Experiment("flat", "Flat tails", "Sigmoid is flat far out.", "supported",
    ...                    "sigmoid'(10) = 4.5e-05", {"d10": 4.5e-05}, decided_by="< 1e-4")]
    >>> meta = {"command": "jaxact study", "device": device_info(), "seconds": 1.0,
    ...         "config": {"mode": "quick"}}
    >>> from jaxact.report import render_markdown
    >>> render_markdown(exps, meta).splitlines()[0]
    "# jaxact study: the lesson's claims, measured"
    """
    d = meta["device"]
    lines = [
        "# jaxact study: the lesson's claims, measured",
        "",
        f"`{meta['command']}` on {d['backend']} / {d['device_kind']}, jax {d['jax']}, "
        f"{d['date']} (mode {meta['config']['mode']})"
        + (f", XLA_FLAGS `{d['xla_flags']}`." if d.get("xla_flags") else "."),
        "",
        *([f"> **{SMOKE_TEST}**", ""] if meta["config"]["mode"] == "quick" else []),
        "| # | claim | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | {e.title} | {e.verdict} |" for i, e in enumerate(experiments, 1)]
    for i, e in enumerate(experiments, 1):
        lines += ["", f"## {i}. {e.title}", "", f"> {e.claim}", "", f"**{e.verdict}.** {e.summary}"]
        for title, text in getattr(e, "details", []):
            lines += ["", f"<details><summary>{title}</summary>", "", text, "", "</details>"]
        if e.decided_by:
            lines += ["", f"*How this verdict is decided (fixed before the run):* {e.decided_by}"]
        lines += [f"\n![{e.title}](figures/{fig})" for fig in e.figures]
        terms = glossary_terms(_claim_text(e))
        footer = f"*Ran in {e.seconds:.1f} s.*"
        if terms:
            footer += " Terms: " + ", ".join(f"[{t}](#glossary)" for t in terms) + "."
        lines += ["", footer]
    lines += ["", "## Glossary", ""]
    lines += [f"- **{term}**: {text}" for term, text in GLOSSARY]
    return "\n".join(lines) + "\n"


def render_html(experiments, meta: dict[str, Any], figures_dir: Path) -> str:
    """The study's report as one self-contained HTML page (figures embedded as data URLs,
    every value escaped by the template).

    Args:
      experiments: :class:`~jaxact.study.Experiment` records.
      meta: as in :func:`render_markdown`.
      figures_dir: the folder holding each experiment's figures.

    Returns:
      The HTML text.

    >>> from jaxact.bench.timing import device_info
    >>> from jaxact.study import Experiment
    >>> exps = [Experiment("flat", "Flat tails", "Sigmoid is flat far out.", "supported",
    ...                    "sigmoid'(10) = 4.5e-05", {"d10": 4.5e-05}, decided_by="< 1e-4")]
    >>> meta = {"command": "jaxact study", "device": device_info(), "seconds": 1.0,
    ...         "config": {"mode": "quick"}}
    >>> import pathlib
    >>> from jaxact.report import render_html
    >>> html = render_html(exps, meta, pathlib.Path("unused: no figures"))
    >>> html.startswith("<!DOCTYPE html>"), "sigmoid&#39;(10)" in html  # escaped
    (True, True)
    """
    figures = {}
    for e in experiments:
        for fig in e.figures:
            data = base64.b64encode((figures_dir / fig).read_bytes()).decode("ascii")
            figures[fig] = f"data:image/png;base64,{data}"
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_HTML)
    return template.render(experiments=experiments, meta=meta, figures=figures, css=_css,
                           glossary=GLOSSARY, smoke=SMOKE_TEST, anchor=glossary_anchor,
                           terms_of=lambda e: glossary_terms(_claim_text(e)))  # fmt: skip


def write_report(out: Path, experiments, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out`` (atomically).

    Args:
      out: the study's output folder (its ``figures/`` must hold the experiments' figures).
      experiments: :class:`~jaxact.study.Experiment` records.
      meta: as in :func:`render_markdown`.

    Returns:
      ``(path of report.md, path of report.html)``.

    >>> from jaxact.bench.timing import device_info
    >>> from jaxact.study import Experiment
    >>> exps = [Experiment("flat", "Flat tails", "Sigmoid is flat far out.", "supported",
    ...                    "sigmoid'(10) = 4.5e-05", {"d10": 4.5e-05}, decided_by="< 1e-4")]
    >>> meta = {"command": "jaxact study", "device": device_info(), "seconds": 1.0,
    ...         "config": {"mode": "quick"}}
    >>> import pathlib, tempfile
    >>> from jaxact.report import write_report
    >>> [p.name for p in write_report(pathlib.Path(tempfile.mkdtemp()), exps, meta)]
    ['report.md', 'report.html']
    """

    md, html = out / "report.md", out / "report.html"
    atomic_write(md, render_markdown(experiments, meta))
    atomic_write(html, render_html(experiments, meta, out / "figures"))
    return md, html
