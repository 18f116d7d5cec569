"""API: the reports' figures as JSON, CSV or XLSX (GET /api/v1/reports/<name>)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, query_param
from supportdesk.reports import exports
from supportdesk.reports import services as reports

PERIOD = [
    query_param("from", "first day, YYYY-MM-DD (Danish local date)"),
    query_param("to", "last day, YYYY-MM-DD (inclusive)"),
    query_param("preset", "7, 30, 90 or school_year instead of from/to"),
    query_param("system", "system slug"),
    query_param("vendor", "vendor slug"),
    query_param("institution_type", "skole, dagtilbud, sfo, klub or dagpleje"),
    query_param("format", "json (default), csv (UTF-8 with BOM, `;`) or xlsx"),
    query_param("table", "csv/xlsx: only this table of the report (its key)"),
]
MUNICIPALITY = query_param("municipality", "municipality slug (system admin: required)")


def _answer(name: str) -> ResponseReturnValue:
    require_user()
    report = reports.build(name, current_user, request.args)
    fmt = (request.args.get("format") or "json").lower()
    if fmt == "json":
        return jsonify(report.figures)
    return exports.download(report, fmt, request.args.get("table") or None)


# name → (OpenAPI summary, parameters): GET /api/v1/reports/<name>, endpoint report_<name>
REPORTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "municipality": (
        "Municipality report: tickets created by system, institution and source, escalation "
        "and first-level resolution, response and resolution times in business minutes, "
        "ageing, reopens, FAQ deflection and the vendors' SLA (coordinators and municipal "
        "admins: their own municipality; the system admin names one)",
        [*PERIOD, MUNICIPALITY],
    ),
    "vendor": (
        "Vendor report: cases opened and resolved, SLA compliance per priority and "
        "municipality, breaches, time waiting on the municipality, bundling and known issues "
        "(vendor staff: their own vendor; the system admin names one with vendor=)",
        PERIOD,
    ),
    "rollout": (
        "Whole rollout: the municipality figures side by side for every municipality "
        '(system admin only): {"municipalities": {slug: {...}}}',
        PERIOD,
    ),
    "tickets": (
        "One row per ticket created in the period, in the caller's scope (coordinators and "
        "municipal admins: their municipality; the system admin: all, or municipality=)",
        [*PERIOD, MUNICIPALITY],
    ),
    "cases": (
        "One row per vendor case opened in the period (vendor staff: their vendor's cases; "
        "coordinators and municipal admins: their municipality's; the system admin: all)",
        [*PERIOD, MUNICIPALITY],
    ),
}


def _report_view(name: str, summary: str, parameters: list[dict[str, Any]]) -> Callable:
    def view() -> ResponseReturnValue:
        return _answer(name)

    view.__name__ = f"report_{name}"
    return document(summary, parameters=parameters)(view)


for _name, (_summary, _parameters) in REPORTS.items():
    bp.add_url_rule(
        f"/reports/{_name}",
        endpoint=f"report_{_name}",
        view_func=_report_view(_name, _summary, _parameters),
        methods=["GET"],
    )
