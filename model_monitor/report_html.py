"""The report page: one self-contained HTML document (inline CSS and SVG, no script).

A Content-Security-Policy in the page forbids every external or inline script and every
external resource, so the file works offline and nothing in it can call out. Every string
from the input files (feature names come from CSV headers) is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape

from smlocal.model_monitor import report_svg as svg
from smlocal.model_monitor.report_data import Drift, FeatureView, Report, Side

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #fff; --ground: #f6f8fa;
  --bad: #b42318; --bad-bg: #fef3f2; --good: #1a7f37; --good-bg: #effbf3;
  --baseline: #4269a8; --current: #d4692a; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--ground); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
h1 { font-size: 1.6rem; margin: 24px 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 28px 0 10px; }
h3 { font-size: 1.05rem; margin: 0 0 6px; overflow-wrap: anywhere; }
a { color: #0b5cad; }
.status { display: inline-block; margin: 4px 0 12px; padding: 4px 10px; border-radius: 6px;
  font-weight: 600; border: 1px solid; }
.status.bad { color: var(--bad); background: var(--bad-bg); }
.status.good { color: var(--good); background: var(--good-bg); }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr));
  gap: 8px 24px; margin: 0; }
dl.facts div { min-width: 0; }
dt { color: var(--muted); font-size: .8rem; }
dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: var(--paper); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { font-weight: 600; background: var(--ground); }
table.violations { table-layout: fixed; border: 1px solid var(--line); }
tr.flagged td { color: var(--bad); font-weight: 600; }
table.violations col.feature { width: 22%; }
table.violations col.check { width: 19%; }
p.none { padding: 10px 12px; border: 1px solid var(--good); border-radius: 6px;
  color: var(--good); background: var(--good-bg); font-weight: 600; }
nav.index ol { columns: 15rem; column-gap: 24px; list-style: none; margin: 0; padding: 0; }
nav.index li { break-inside: avoid; overflow-wrap: anywhere; }
.mark { color: var(--bad); font-weight: 700; }
.note { color: var(--muted); font-size: .9rem; }
.grid { display: grid; gap: 16px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 34rem), 1fr)); }
article.feature { min-width: 0; background: var(--paper); border: 1px solid var(--line);
  border-radius: 8px; padding: 12px 14px; }
article.feature.flagged { border-left: 6px solid var(--bad); }
.type { color: var(--muted); font-weight: 400; font-size: .85rem; }
.type.changed { color: var(--bad); font-weight: 600; }
.flag { display: inline-block; margin-right: 6px; padding: 0 6px; border-radius: 4px;
  color: #fff; background: var(--bad); font-size: .8rem; font-weight: 600; }
ul.problems { margin: 4px 0 8px; padding-left: 18px; font-size: .9rem; }
ul.problems li { overflow-wrap: anywhere; }
p.warning { padding: 10px 12px; border: 1px solid var(--bad); border-radius: 6px;
  color: var(--bad); background: var(--bad-bg); }
p.drift { margin: 4px 0 8px; font-size: .9rem; }
p.drift.exceeded { color: var(--bad); font-weight: 600; }
.plots { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
figure { margin: 0; min-width: 0; }
figcaption { font-size: .85rem; font-weight: 600; }
figure.baseline figcaption { color: var(--baseline); }
figure.current figcaption { color: var(--current); }
.absent { display: flex; align-items: center; justify-content: center; min-height: 110px;
  padding: 8px; border: 1px dashed var(--line); color: var(--muted); font-size: .85rem;
  text-align: center; }
svg.chart { display: block; width: 100%; height: auto; }
svg .bar { fill: var(--baseline); }
svg.current .bar { fill: var(--current); }
svg .reference { fill: none; stroke: var(--baseline); stroke-width: 1; stroke-dasharray: 3 2; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .tick { font-size: 10px; fill: var(--muted); }
table.numbers th, table.numbers td { padding: 2px 8px; }
table.numbers { margin-top: 8px; font-size: .85rem; font-variant-numeric: tabular-nums; }
table.numbers td.n, table.numbers thead th { text-align: right; }
footer { margin: 32px auto 24px; color: var(--muted); font-size: .85rem; }
footer li { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  .plots { grid-template-columns: 1fr; }
  table.violations col.feature, table.violations col.check { width: 30%; }
}
@media print { body { background: #fff; } article.feature { break-inside: avoid; } }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _breakable(name: str) -> str:
    """A snake_case name that may wrap after its underscores."""
    return "_<wbr>".join(_e(part) for part in name.split("_"))


def _anchor(index: int) -> str:
    return f"feature-{index}"


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _facts(report: Report) -> str:
    info, flagged = report.info, sum(1 for f in report.features if f.flagged)
    facts: list[tuple[str, str]] = []
    if info.endpoint_name:
        facts.append(("Endpoint", info.endpoint_name))
    if info.schedule_name:
        facts.append(("Monitoring schedule", info.schedule_name))
    if info.start_time or info.end_time:
        start = _when(info.start_time) if info.start_time else "…"
        end = _when(info.end_time) if info.end_time else "…"
        facts.append(("Analysis window", f"{start} to {end}"))
    if info.scheduled_hour:
        facts.append(("Scheduled hour (from the output path)", _when(info.scheduled_hour)))
    sizes = (("Baseline dataset", report.baseline_items), ("Current dataset", report.current_items))
    for label, items in sizes:
        facts.append((label, "unknown" if items is None else f"{items:,} rows"))
    facts.append(("Features", f"{len(report.features)} ({flagged} with violations)"))
    rows = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    return f'<dl class="facts">{rows}</dl>'


def _header(report: Report) -> str:
    tone = "bad" if report.violations else "good"
    return (
        f"<header><h1>{_e(report.title)}</h1>"
        f'<p class="status {tone}" role="status">{_e(report.message)}</p>'
        f"{_facts(report)}{_notes(report)}</header>"
    )


def _notes(report: Report) -> str:
    """smlocal's explanations (not in the analyzer's files), e.g. columns not lining up."""
    return "".join(f'<p class="warning" role="note">⚠ {_e(n)}</p>' for n in report.notes)


def _violations(report: Report) -> str:
    anchors = {f.name: _anchor(i) for i, f in enumerate(report.features)}
    heading = f'<h2 id="violations">Violations ({len(report.violations)})</h2>'
    if not report.violations:
        return f'{heading}<p class="none">No violations: every check passed.</p>'
    rows = []
    for v in report.violations:
        name = _e(v.feature_name)
        link = (
            f'<a href="#{anchors[v.feature_name]}">{name}</a>'
            if v.feature_name in anchors
            else name
        )
        rows.append(
            f"<tr><td>{link}</td><td><code>{_breakable(v.check_type)}</code></td>"
            f"<td>{_e(v.description)}</td></tr>"
        )
    return (
        f'{heading}<table class="violations" aria-labelledby="violations">'
        '<colgroup><col class="feature"><col class="check"><col></colgroup>'
        "<thead><tr><th scope=col>Feature</th><th scope=col>Check type</th>"
        f"<th scope=col>Description</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _index(features: Iterable[FeatureView]) -> str:
    items = []
    for i, f in enumerate(features):
        mark = ' <span class="mark" title="has violations">⚠ flagged</span>' if f.flagged else ""
        items.append(f'<li><a href="#{_anchor(i)}">{_e(f.name)}</a>{mark}</li>')
    return f'<nav class="index" aria-label="All features"><ol>{"".join(items)}</ol></nav>'


def _drift(feature: FeatureView) -> str:
    drift, base, now = feature.drift, feature.baseline, feature.current
    if drift is None:
        if base and now and base.inferred_type != now.inferred_type:
            return '<p class="drift">No drift distance: the inferred types differ.</p>'
        return ""
    what = "Drift p-value (chi-squared)" if drift.kind == "p-value" else "Drift distance"
    text = f"{what}: {drift.value:.4g}{_breakdown(drift)}"
    if drift.threshold is not None:
        text += f" · threshold {drift.threshold:g}"
    text += f" · {drift.method}"
    css = "drift exceeded" if drift.exceeded else "drift"
    return f'<p class="{css}">{_e(text)}</p>'


def _breakdown(drift: Drift) -> str:
    """How a distance was reached: raw distance minus the small-sample allowance."""
    if drift.raw is None or drift.allowance is None:
        return ""
    if not drift.allowance:
        return f" (raw distance {drift.raw:.4g}, no small-sample allowance)"
    parts = f"raw distance {drift.raw:.4g} minus small-sample allowance {drift.allowance:.4g}"
    return f" = max(0, {parts})" if drift.raw < drift.allowance else f" = {parts}"


def _types(feature: FeatureView) -> str:
    base, now = feature.baseline, feature.current
    names = list(dict.fromkeys(s.inferred_type for s in (base, now) if s is not None))
    if not names:
        return ""
    changed = " changed" if len(names) > 1 else ""
    label = " → ".join(names)
    return f' <span class="type{changed}" title="inferred type">{_e(label)}</span>'


def _chart(feature: FeatureView, side: Side, which: str, other: Side | None) -> str:
    label = f"{which.capitalize()} distribution of {feature.name}"
    if side.numeric and side.buckets:
        paired = other.buckets if other is not None and other.numeric else ()
        scale = svg.NumericScale.of(side.buckets, paired)
        reference = paired if which == "current" else ()
        return svg.numeric_chart(side.buckets, scale, label=label, css=which, reference=reference)
    if side.categories:
        shared = other.categories if other is not None and other.categories else ()
        rows = svg.CategoricalScale.of(side.categories, shared)
        return svg.categorical_chart(side.categories, rows, label=label, css=which)
    if side.numeric:
        why = "No values present, so no buckets"
    elif side.distinct is not None:
        why = f"About {svg.number(side.distinct)} distinct values: too many for category buckets"
    else:
        why = "No distribution in the statistics"
    return f'<div class="absent" role="note" aria-label="{_e(label)}">{_e(why)}</div>'


def figure(feature: FeatureView, which: str) -> str:
    """One side's chart of a feature, captioned, on the scale both sides share."""
    side = feature.baseline if which == "baseline" else feature.current
    other = feature.current if which == "baseline" else feature.baseline
    caption = which.capitalize() + ("" if side is None else f" · {side.present:,} values")
    if side is None:
        where = "baseline statistics" if which == "baseline" else "current data"
        body = f'<div class="absent" role="note">Not in the {where}</div>'
    else:
        body = _chart(feature, side, which, other)
    return f'<figure class="{which}"><figcaption>{_e(caption)}</figcaption>{body}</figure>'


def _value(value: float | int | None) -> str:
    if value is None:
        return "—"
    return svg.number(float(value))


def _completeness(side: Side) -> str:
    total = side.present + side.missing
    share = f" ({svg.percent(side.missing / total)})" if total and side.missing else ""
    return f"{side.missing:,}{share}"


_NUMERIC_ROWS = (
    ("Mean", "mean"),
    ("Std dev", "std_dev"),
    ("Min", "minimum"),
    ("Max", "maximum"),
)


def _numbers(feature: FeatureView) -> str:
    sides = (feature.baseline, feature.current)
    rows: list[tuple[str, list[str]]] = [
        ("Type", [s.inferred_type if s else "—" for s in sides]),
        ("Present", [f"{s.present:,}" if s else "—" for s in sides]),
        ("Missing", [_completeness(s) if s else "—" for s in sides]),
    ]
    if any(s is not None and s.numeric for s in sides):
        for label, name in _NUMERIC_ROWS:
            rows.append((label, [_value(getattr(s, name)) if s else "—" for s in sides]))
    if any(s is not None and not s.numeric for s in sides):
        rows.append(("Distinct (approx.)", [_value(s.distinct) if s else "—" for s in sides]))
    body = "".join(
        f"<tr><th scope=row>{_e(label)}</th>"
        + "".join(f'<td class="n">{_e(v)}</td>' for v in values)
        + "</tr>"
        for label, values in rows
    )
    expected = ""
    if feature.expected_type or feature.required_completeness is not None:
        parts = []
        if feature.expected_type:
            parts.append(f"type {feature.expected_type}")
        if feature.required_completeness is not None:
            parts.append(f"completeness {svg.percent(feature.required_completeness)}")
        expected = f'<p class="note">Baseline constraints: {_e(", ".join(parts))}</p>'
    return (
        f'<table class="numbers" aria-label="{_e("Statistics of " + feature.name)}">'
        "<thead><tr><th scope=col></th><th scope=col>Baseline</th><th scope=col>Current</th>"
        f"</tr></thead><tbody>{body}</tbody></table>{expected}"
    )


def _feature(index: int, feature: FeatureView) -> str:
    count = len(feature.violations)
    flag = ""
    problems = ""
    if feature.flagged:
        flag = f'<span class="flag">⚠ {count} violation{"s" if count > 1 else ""}</span>'
        problems = "".join(
            f"<li><code>{_e(v.check_type)}</code>: {_e(v.description)}</li>"
            for v in feature.violations
        )
        problems = f'<ul class="problems">{problems}</ul>'
    css = "feature flagged" if feature.flagged else "feature"
    heading = f"{_anchor(index)}-name"
    return (
        f'<article class="{css}" id="{_anchor(index)}" aria-labelledby="{heading}">'
        f'<h3 id="{heading}">{flag}{_e(feature.name)}{_types(feature)}</h3>{problems}'
        f'{_drift(feature)}<div class="plots">{figure(feature, "baseline")}'
        f"{figure(feature, 'current')}</div>{_numbers(feature)}</article>"
    )


def _features(report: Report) -> str:
    flagged = [(i, f) for i, f in enumerate(report.features) if f.flagged]
    others = [(i, f) for i, f in enumerate(report.features) if not f.flagged]
    legend = (
        '<p class="note">Bars show each bucket\'s share of the values present (10 KLL buckets '
        "for numbers, the most frequent values for strings); both charts of a feature share "
        "their axes. On a current chart the dashed outline is the baseline.</p>"
    )
    parts = [f'<h2 id="features">Features ({len(report.features)})</h2>', legend]
    parts.append(_index(report.features))
    if flagged:
        parts.append(f'<h2 id="flagged">Features with violations ({len(flagged)})</h2>')
        parts.append(f'<div class="grid">{"".join(_feature(i, f) for i, f in flagged)}</div>')
    if others:
        title = "Other features" if flagged else "All features"
        parts.append(f'<h2 id="others">{title} ({len(others)})</h2>')
        parts.append(f'<div class="grid">{"".join(_feature(i, f) for i, f in others)}</div>')
    return "".join(parts)


def _footer(report: Report) -> str:
    sources = "".join(
        f"<li>{_e(what)}: <code>{_e(where)}</code></li>" for what, where in report.info.sources
    )
    listed = f"<p>Made from:</p><ul>{sources}</ul>" if sources else ""
    return f"<footer>{listed}<p>Written by <code>smlocal monitor report</code>.</p></footer>"


def page(title: str, body: str) -> str:
    """A whole page: the head (title, the policy, the style) around the body's content."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"{body}</body></html>\n"
    )


def render_html(report: Report) -> str:
    """The whole page."""
    return page(
        report.title,
        f"{_header(report)}<main>{_violations(report)}{_features(report)}</main>{_footer(report)}",
    )
