"""SVG charts of a report's tables, drawn on the server with pygal.

A chart is an image beside its data table (the table is what a screen reader reads and
what prints exactly); it goes into the page as a `data:` image, so the SVG's own styles
work under the page's Content-Security-Policy (no inline style or script on the page).
Numbers on the axes are Danish (decimal comma, thousands dot); rates are percentages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pygal
from flask_babel import format_decimal, format_percent
from pygal.style import Style

from supportdesk.reports.tables import RATE, Table

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#6b6b6b",
    colors=("#1d5ea8", "#b35900", "#2e7d32", "#8e24aa", "#c62828"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=12,
    title_font_size=16,
)
# Which tables get a chart, and of which kind: bar (one series per value column) or
# horizontal bars (long labels: systems, vendors, municipalities). A pygal chart costs
# some 40 ms to draw, so the tables people read as a trend or a ranking get one; the
# rest are tables only.
CHARTED = {
    "by_week": "bar",
    "by_system": "hbar",
    "open_by_age": "bar",
    "escalation_by_vendor": "hbar",
    "sla_by_priority": "bar",
    "by_municipality": "hbar",
    "municipalities": "hbar",
}
# Columns drawn (index into the table's columns) when not every value column is.
COLUMNS = {
    "escalation_by_vendor": (3,),
    "sla_by_priority": (4, 7),
    "by_municipality": (4, 7),
    "municipalities": (3,),  # tickets per institution: comparable across sizes
}


@dataclass(frozen=True)
class Chart:
    title: str
    data_uri: str
    description: str


def chart_for(table: Table) -> Chart | None:
    """The chart of a table, or None (no chart kind, or nothing to draw)."""
    kind = CHARTED.get(table.key)
    if kind is None or not table.rows:
        return None
    columns = COLUMNS.get(table.key) or tuple(range(1, len(table.headers)))
    rate = all(table.kind(0, c) == RATE for c in columns)
    config = {
        "js": [],
        "disable_xml_declaration": True,
        "style": STYLE,
        "width": 720,
        "height": 340 if kind == "bar" else max(220, 60 + 34 * len(table.rows)),
        "show_legend": len(columns) > 1,
        "legend_at_bottom": True,
        "print_values": len(table.rows) <= 12,
        "title": table.title,
        "value_formatter": _percent if rate else _number,
        "truncate_label": 40,
        "x_label_rotation": 0 if len(table.rows) <= 8 else 30,
    }
    chart = pygal.HorizontalBar(**config) if kind == "hbar" else pygal.Bar(**config)
    chart.x_labels = [str(row[0]) for row in table.rows]
    if rate:
        chart.range = (0, 1)
    for column in columns:
        chart.add(table.headers[column], [_value(row[column]) for row in table.rows])
    svg = chart.render(is_unicode=True)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    description = "; ".join(
        f"{row[0]}: {', '.join(_text(row[c], rate) for c in columns)}" for row in table.rows
    )
    return Chart(table.title, f"data:image/svg+xml;base64,{data}", description)


def _value(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _number(value: float) -> str:
    return format_decimal(value, format="#,##0.#")


def _percent(value: float) -> str:
    return format_percent(value, format="#,##0.#\u00a0%")


def _text(value: object, rate: bool) -> str:
    if not isinstance(value, int | float):
        return "\u2013"  # en dash: no value
    return _percent(value) if rate else _number(value)
