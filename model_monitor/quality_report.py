"""The report page of a model-quality execution (`smlocal monitor report` on its files).

A model-quality `statistics.json` holds one metrics section (`binary_classification_metrics`,
`multiclass_classification_metrics` or `regression_metrics`) instead of features. The page
lists the violations, then each scalar metric's current value (with its standard deviation)
beside the baseline's value and the baseline constraint (threshold and comparison
operator), then a classification's confusion matrix (actual labels down, predicted across).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from smlocal.model_monitor.contract import exit_message
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.quality_constraints import camel, section_of
from smlocal.model_monitor.quality_metrics import SECTIONS, scalar_metrics
from smlocal.model_monitor.report_data import ExecutionInfo
from smlocal.model_monitor.report_html import page


def problem_of(statistics: Any) -> str | None:
    """The problem type whose metrics a statistics document holds; None for data quality."""
    if isinstance(statistics, dict):
        for problem, key in SECTIONS.items():
            if isinstance(statistics.get(key), dict):
                return problem
    return None


@dataclass(frozen=True)
class QualityDocuments:
    """The parsed files of one model-quality execution and its baseline."""

    statistics: Mapping[str, Any]
    violations: Any
    baseline_statistics: Any = None
    baseline_constraints: Any = None


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else _e(value)
    return "NaN" if math.isnan(value) else f"{value:.6g}"


def _entries(violations: Any) -> list[Mapping[str, Any]]:
    found = violations.get("violations") if isinstance(violations, dict) else None
    if not isinstance(found, list) or not all(isinstance(v, dict) for v in found):
        raise AnalysisError("The constraint violations file has no list of violations")
    return found


def _violations(entries: list[Mapping[str, Any]]) -> str:
    heading = f'<h2 id="violations">Violations ({len(entries)})</h2>'
    if not entries:
        return f'{heading}<p class="none">No violations: every check passed.</p>'
    rows = "".join(
        f"<tr><td>{_e(v.get('metric_name', ''))}</td>"
        f"<td><code>{_e(v.get('constraint_check_type', ''))}</code></td>"
        f"<td>{_e(v.get('description', ''))}</td></tr>"
        for v in entries
    )
    return (
        f'{heading}<table class="violations" aria-labelledby="violations">'
        "<thead><tr><th scope=col>Metric</th><th scope=col>Check type</th>"
        f"<th scope=col>Description</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _section(document: Any, key: str) -> Mapping[str, Any]:
    found = document.get(key) if isinstance(document, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _metrics(problem: str, docs: QualityDocuments, violated: set[str]) -> str:
    key = SECTIONS[problem]
    baseline = _section(docs.baseline_statistics, key)
    limits = _section(docs.baseline_constraints, section_of(problem))
    rows = []
    for name, value, deviation in scalar_metrics(dict(_section(docs.statistics, key))):
        base = _section(baseline, name)
        limit = _section(limits, name)
        mark = ' class="flagged"' if camel(name) in violated or name in violated else ""
        rows.append(
            f"<tr{mark}><td>{_e(name)}</td><td>{_number(value)} ± {_number(deviation)}</td>"
            f"<td>{_number(base.get('value'))}</td>"
            f"<td>{_e(limit.get('comparison_operator', '—'))} "
            f"{_number(limit.get('threshold'))}</td></tr>"
        )
    return (
        '<h2 id="metrics">Metrics</h2><table class="metrics"><thead><tr>'
        "<th scope=col>Metric</th><th scope=col>Current (± standard deviation)</th>"
        "<th scope=col>Baseline</th><th scope=col>Baseline constraint</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _confusion(section: Mapping[str, Any]) -> str:
    matrix = section.get("confusion_matrix")
    if not isinstance(matrix, dict) or not matrix:
        return ""
    predicted = list(
        dict.fromkeys(p for row in matrix.values() if isinstance(row, dict) for p in row)
    )
    head = "".join(f"<th scope=col>{_e(p)}</th>" for p in predicted)
    rows = "".join(
        f"<tr><th scope=row>{_e(actual)}</th>"
        + "".join(f"<td>{_number(row.get(p, 0))}</td>" for p in predicted)
        + "</tr>"
        for actual, row in matrix.items()
        if isinstance(row, dict)
    )
    return (
        '<h2 id="confusion">Confusion matrix</h2><table class="confusion"><thead><tr>'
        f"<th>actual \\ predicted</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _facts(problem: str, docs: QualityDocuments, info: ExecutionInfo) -> str:
    facts = [("Problem type", problem)]
    facts += [(k, v) for k, v in (("Endpoint", info.endpoint_name),
                                  ("Monitoring schedule", info.schedule_name)) if v]  # fmt: skip
    for label, document in (("Baseline", docs.baseline_statistics), ("Current", docs.statistics)):
        dataset = _section(document, "dataset")
        items = dataset.get("item_count")
        facts.append((f"{label} dataset", "unknown" if items is None else f"{items:,} records"))
    rows = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    return f'<dl class="facts">{rows}</dl>'


def render_quality_report(docs: QualityDocuments, *, title: str, info: ExecutionInfo) -> str:
    """The page of a model-quality execution (AnalysisError if its files are not one's)."""
    problem = problem_of(docs.statistics)
    if problem is None:
        raise AnalysisError("The statistics file holds no model-quality metrics")
    entries = _entries(docs.violations)
    violated = {str(v.get("metric_name")) for v in entries}
    tone = "bad" if entries else "good"
    sources = "".join(f"<li>{_e(w)}: <code>{_e(loc)}</code></li>" for w, loc in info.sources)
    header = (
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="status {tone}" role="status">{_e(exit_message(len(entries)))}</p>'
        f"{_facts(problem, docs, info)}</header>"
    )
    main = (
        f"<main>{_violations(entries)}{_metrics(problem, docs, violated)}"
        f"{_confusion(_section(docs.statistics, SECTIONS[problem]))}</main>"
    )
    footer = (
        f"<footer>{f'<p>Made from:</p><ul>{sources}</ul>' if sources else ''}"
        "<p>Written by <code>smlocal monitor report</code>.</p></footer>"
    )
    return page(title, header + main + footer)
