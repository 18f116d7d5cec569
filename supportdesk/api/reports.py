"""API: the reports' figures as JSON, CSV or XLSX (GET /api/v1/reports/<name>)."""

from __future__ import annotations

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


@bp.get("/reports/municipality")
@document(
    "Municipality report: tickets created by system, institution and source, escalation "
    "and first-level resolution, response and resolution times in business minutes, "
    "ageing, reopens, FAQ deflection and the vendors' SLA (coordinators and municipal "
    "admins: their own municipality; the system admin names one)",
    parameters=[*PERIOD, MUNICIPALITY],
)
def report_municipality() -> ResponseReturnValue:
    return _answer("municipality")


@bp.get("/reports/vendor")
@document(
    "Vendor report: cases opened and resolved, SLA compliance per priority and "
    "municipality, breaches, time waiting on the municipality, bundling and known issues "
    "(vendor staff: their own vendor; the system admin names one with vendor=)",
    parameters=PERIOD,
)
def report_vendor() -> ResponseReturnValue:
    return _answer("vendor")


@bp.get("/reports/rollout")
@document(
    "Whole rollout: the municipality figures side by side for every municipality "
    '(system admin only): {"municipalities": {slug: {...}}}',
    parameters=PERIOD,
)
def report_rollout() -> ResponseReturnValue:
    return _answer("rollout")


@bp.get("/reports/tickets")
@document(
    "One row per ticket created in the period, in the caller's scope (coordinators and "
    "municipal admins: their municipality; the system admin: all, or municipality=)",
    parameters=[*PERIOD, MUNICIPALITY],
)
def report_tickets() -> ResponseReturnValue:
    return _answer("tickets")


@bp.get("/reports/cases")
@document(
    "One row per vendor case opened in the period (vendor staff: their vendor's cases; "
    "coordinators and municipal admins: their municipality's; the system admin: all)",
    parameters=[*PERIOD, MUNICIPALITY],
)
def report_cases() -> ResponseReturnValue:
    return _answer("cases")
