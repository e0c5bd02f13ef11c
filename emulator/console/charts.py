"""Charts the console serves as images: the report's SVG (model_monitor.report_svg) over the
edge's own counters, bucketed as the monitor buckets a feature (its KLL sketch).

An SVG shown through <img> takes no style from the page, so the few rules the report's
stylesheet gives its charts travel inside the SVG; the route serves it with a CSP of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smlocal.model_monitor import report_svg as svg
from smlocal.model_monitor.kll import KllSketch

STYLE = (
    "<style>.bar{fill:#4269a8}.axis{stroke:#8c959f;stroke-width:1}"
    ".tick{font:10px system-ui,sans-serif;fill:#57606a}</style>"
)


def latency_svg(latencies: Sequence[float], label: str) -> str:
    """The latencies' distribution in the report's ten buckets, or an empty chart."""
    sketch = KllSketch.zero()
    if latencies:
        sketch.update(np.asarray(latencies, dtype=np.float64))
    buckets = sketch.buckets() if latencies else []
    chart = svg.numeric_chart(buckets, svg.NumericScale.of(buckets), label=label, css="latency")
    return chart.replace("<title>", STYLE + "<title>", 1)
