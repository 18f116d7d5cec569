"""Report pages ("Rapporter"): filters in the URL, charts beside their data tables, exports.

Thin: `services.build` checks access and computes (the same call the API makes), the
tables and charts lay the figures out, `exports.download` writes CSV or XLSX. The list
exports ("Eksportér" on the ticket list and the case queue) page through the lists'
own queries, so they export exactly what the list shows.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts.models import InstitutionType, Municipality, System, User, Vendor
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.escalation import listing as case_listing
from supportdesk.extensions import db
from supportdesk.navigation import NAV_PROVIDERS, NavItem
from supportdesk.reports import exports, list_exports, services
from supportdesk.reports.charts import chart_for
from supportdesk.reports.periods import PRESET_LABELS, PRESETS, ReportFilters
from supportdesk.reports.tables import (
    MINUTES,
    RATE,
    Table,
    case_tables,
    tables_for,
    ticket_tables,
)
from supportdesk.tickets import listing as ticket_listing

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGES = ("municipality", "vendor", "rollout")


def _nav(user: User) -> list[NavItem]:
    if user.is_authenticated and policy.can_view_reports(user):
        return [NavItem(_("Reports"), url_for("reports.index"))]
    return []


if _nav not in NAV_PROVIDERS:
    NAV_PROVIDERS.append(_nav)


def available_reports(user: User) -> list[tuple[str, str]]:
    found = []
    if policy.can_view_municipality_report(user):
        found.append(("municipality", _("Municipality")))
    if policy.can_view_vendor_report(user):
        found.append(("vendor", _("Vendor")))
    if policy.can_view_rollout_report(user):
        found.append(("rollout", _("Whole rollout")))
    return found


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    reports = available_reports(current_user)
    if not reports:
        raise NotFound()
    return render_template("reports/index.html", reports=reports)


@bp.get("/<name>")
@login_required
def report(name: str) -> ResponseReturnValue:
    """A report page; with `format=csv` or `format=xlsx` its tables as a download."""
    if name not in PAGES:
        raise NotFound()
    first = _admin_default(name)
    if first is not None:
        return redirect(url_for("reports.report", name=name, **request.args, **first))
    try:
        built = services.build(name, current_user, request.args)
    except ValidationFailed as error:
        if request.args.get("format") in exports.MEDIA_TYPES:
            raise
        return _page(name, None, error.fields), 422
    fmt = request.args.get("format")
    if fmt:
        return exports.download(built, fmt, request.args.get("table") or None)
    return _page(name, built, {})


def _admin_default(name: str) -> dict[str, str] | None:
    """The admin's municipality or vendor report names one; without it, the first."""
    if not policy.is_admin(current_user):
        return None
    model = {"municipality": Municipality, "vendor": Vendor}.get(name)
    if model is None or request.args.get(name):
        return None
    slug = db.session.scalar(select(model.slug).order_by(model.name).limit(1))
    return {name: slug} if slug else None


def _page(name: str, built: services.Report | None, errors: dict[str, Any]) -> str:
    filters = built.filters if built else None
    tables = tables_for(built) if built else []
    return render_template(
        "reports/report.html",
        name=name,
        title=dict(available_reports(current_user)).get(name, name),
        report=built,
        filters=filters,
        raw=request.args,
        errors=errors,
        blocks=[(table, chart_for(table)) for table in tables],
        presets=[(key, PRESET_LABELS[key]) for key in PRESETS],
        choices=_choices(name),
        cell=cell_text,
        period_text=_period_text(filters) if filters else "",
        export_url=lambda fmt, **kw: url_for(
            "reports.report", name=name, **_link_args(filters), format=fmt, **kw
        ),
        preset_url=lambda key: url_for(
            "reports.report", name=name, **_link_args(filters, keep_period=False), preset=key
        ),
    )


def _link_args(filters: ReportFilters | None, keep_period: bool = True) -> dict[str, str]:
    if filters is None:
        return {}
    args = filters.query_args()
    if not keep_period:
        args.pop("from", None)
        args.pop("to", None)
    return args


def _choices(name: str) -> dict[str, list[tuple[str, str]]]:
    """What the filter form offers: systems, vendors, institution types, and for the
    admin the municipality or vendor the report is about."""
    user = current_user._get_current_object()
    systems_query = select(System.slug, System.name).order_by(System.name)
    if name == "vendor" and not policy.is_admin(user):
        systems_query = systems_query.where(System.vendor_id == user.vendor_id)
    systems = db.session.execute(systems_query).all()
    # the vendor filter: on the municipality and rollout reports for all, and as the
    # report's subject for the admin; a vendor's own report has neither
    vendors: list[tuple[str, str]] = []
    if name != "vendor" or policy.is_admin(user):
        rows = db.session.execute(select(Vendor.slug, Vendor.name).order_by(Vendor.name))
        vendors = [(s, n) for s, n in rows]
    choices: dict[str, list[tuple[str, str]]] = {
        "system": [(s, n) for s, n in systems],
        "vendor": vendors if name != "vendor" else [],
        "institution_type": [(t.value, t.value) for t in InstitutionType]
        if name != "vendor"
        else [],
        "municipality": [],
    }
    if policy.is_admin(user) and name == "municipality":
        rows = db.session.execute(
            select(Municipality.slug, Municipality.name).order_by(Municipality.name)
        ).all()
        choices["municipality"] = [(s, n) for s, n in rows]
    if policy.is_admin(user) and name == "vendor":
        choices["vendor"] = vendors
    return choices


def cell_text(table: Table, row: int, column: int) -> str:
    """A cell the Danish way: decimal comma, thousands dot, rates as percentages."""
    value = table.rows[row][column]
    kind = table.kind(row, column)
    if value is None:
        return "\u2013"  # en dash: no value
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if kind == RATE and isinstance(value, int | float):
        return format_percent(value, format="#,##0.0\u00a0%")
    if kind == MINUTES and isinstance(value, int | float):
        return format_decimal(value, format="#,##0.#")
    if isinstance(value, int | float):
        return format_decimal(value, format="#,##0.##")
    return str(value)


def _period_text(filters: ReportFilters) -> str:
    return _(
        "%(start)s to %(end)s (%(days)s days)",
        start=format_date(filters.start, "d. MMMM y"),
        end=format_date(filters.end, "d. MMMM y"),
        days=filters.days,
    )


# --- "Eksportér" on the ticket list and the case queue --------------------------------


@bp.get("/export/tickets")
@login_required
def export_ticket_list() -> ResponseReturnValue:
    """The ticket list as filtered on /tickets, every page of it, as CSV or XLSX."""
    if not policy.is_municipal(current_user):
        raise NotFound()  # the ticket list is the municipality's; vendors export cases
    filters = ticket_listing.filters_from_args(request.args)
    filters.scope = request.args.get("scope") or None
    tables = ticket_tables({"items": list_exports.ticket_list_rows(current_user, filters)})
    return exports.send(tables, request.args.get("format") or "csv", "henvendelser")


@bp.get("/export/cases")
@login_required
def export_case_list() -> ResponseReturnValue:
    """The case queue as filtered on /cases, every page of it, as CSV or XLSX."""
    if not policy.can_see_cases(current_user):
        raise NotFound()
    filters = case_listing.CaseFilters.from_query(request.args)
    tables = case_tables({"items": list_exports.case_list_rows(current_user, filters)})
    return exports.send(tables, request.args.get("format") or "csv", "sager")
