"""The tables of each report, laid out once from the figures: the page, CSV and XLSX show
exactly these (and the API the figures they come from), so the formats cannot disagree.

Cells are raw values (int, float, str, None); rates are fractions (0.6667). The page
formats them the Danish way, CSV writes decimal commas, XLSX stores numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from supportdesk.accounts.models import InstitutionType
from supportdesk.reports.services import Report

# Which cells are rates (shown as percentages on the page).
RATE = "rate"
MINUTES = "minutes"


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    kinds: tuple[str | None, ...] = ()  # per column: RATE, MINUTES or None
    row_kinds: tuple[str | None, ...] = ()  # figure tables: per row, for the value column

    def kind(self, row: int, column: int) -> str | None:
        if self.row_kinds:
            return self.row_kinds[row] if column == 1 else None
        return self.kinds[column] if column < len(self.kinds) else None


def tables_for(report: Report) -> list[Table]:
    builder = {
        "municipality": municipality_tables,
        "vendor": vendor_tables,
        "rollout": rollout_tables,
        "tickets": ticket_tables,
        "cases": case_tables,
    }[report.name]
    return builder(report.figures)


def _pairs(key: str, title: str, header: str, values: dict[str, Any]) -> Table:
    return Table(key, title, [header, _("Tickets")], [[k, v] for k, v in values.items()])


def _value_table(key: str, title: str, rows: list[tuple[str, Any, str | None]]) -> Table:
    """A two-column table of named figures; each row may be a rate or minutes."""
    return Table(
        key,
        title,
        [_("Figure"), _("Value")],
        [[label, value] for label, value, _kind in rows],
        row_kinds=tuple(kind for _label, _value, kind in rows),
    )


def municipality_key_figures(f: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    response, resolution = f["first_response_business_minutes"], f["resolution_business_minutes"]
    return [
        (_("Tickets created"), f["tickets_created"], None),
        (_("Escalated to a vendor"), f["escalated"], None),
        (_("Escalation rate"), f["escalation_rate"], RATE),
        (_("Resolved"), f["resolved"], None),
        (_("Resolved without escalation"), f["resolved_without_escalation"], None),
        (_("First-level resolution rate"), f["first_level_resolution_rate"], RATE),
        (_("First response, median (business minutes)"), response["median"], MINUTES),
        (_("First response, 90th percentile (business minutes)"), response["p90"], MINUTES),
        (_("Resolution, median (business minutes)"), resolution["median"], MINUTES),
        (_("Resolution, 90th percentile (business minutes)"), resolution["p90"], MINUTES),
        (_("Reopened"), f["reopened"], None),
        (_("Reopen rate"), f["reopen_rate"], RATE),
        (_('Solved by the FAQ ("Det løste mit problem")'), f["deflected"], None),
        (_("Deflection rate"), f["deflection_rate"], RATE),
        (_("FAQ suggestions shown on the ticket form"), f["suggestions_shown"], None),
        (_("Tickets with FAQ suggestions"), f["tickets_with_suggestions"], None),
        (_("Tickets per institution"), f["tickets_per_institution"], None),
        (_('Satisfaction answers ("Fik du hjælp?")'), f["satisfaction"]["answers"], None),
        (_("Satisfaction, average (1-5)"), f["satisfaction"]["average"], None),
    ]


def _sla_row(label: str, s: dict[str, Any]) -> list[Any]:
    return [
        label,
        s["cases"],
        s["response_met"],
        s["response_breached"],
        s["response_compliance"],
        s["resolution_met"],
        s["resolution_breached"],
        s["resolution_compliance"],
    ]


def _sla_headers(first: str) -> list[str]:
    return [
        first,
        _("Cases"),
        _("Response met"),
        _("Response breached"),
        _("Response compliance"),
        _("Resolution met"),
        _("Resolution breached"),
        _("Resolution compliance"),
    ]


SLA_KINDS = (None, None, None, None, RATE, None, None, RATE)


def municipality_tables(f: dict[str, Any]) -> list[Table]:
    key_table = _value_table("key_figures", _("Key figures"), municipality_key_figures(f))
    type_labels = {t.value: t.value for t in InstitutionType}
    return [
        key_table,
        _pairs("by_week", _("Tickets per week"), _("Week"), f["by_week"]),
        _pairs("by_month", _("Tickets per month"), _("Month"), f["by_month"]),
        _pairs("by_system", _("Tickets per system"), _("System"), f["by_system"]),
        _pairs("by_category", _("Tickets per category"), _("Category"), f["by_category"]),
        _pairs(
            "by_institution", _("Tickets per institution"), _("Institution"), f["by_institution"]
        ),
        _pairs(
            "by_institution_type",
            _("Tickets per institution type"),
            _("Institution type"),
            {type_labels.get(k, k): v for k, v in f["by_institution_type"].items()},
        ),
        _pairs("by_source", _("Tickets per source"), _("Source"), f["by_source"]),
        Table(
            "open_by_age",
            _("Open tickets by age"),
            [_("Age"), _("Open tickets")],
            [[band, n] for band, n in f["open_by_age"].items()],
        ),
        Table(
            "escalation_by_vendor",
            _("Escalation per vendor"),
            [_("Vendor"), _("Tickets"), _("Escalated"), _("Escalation rate")],
            [
                [vendor, v["tickets"], v["escalated"], v["rate"]]
                for vendor, v in f["escalation_by_vendor"].items()
            ],
            kinds=(None, None, None, RATE),
        ),
        Table(
            "top_categories",
            _("Top categories"),
            [_("Category"), _("Name"), _("Tickets")],
            [[c["category"], c["name"], c["tickets"]] for c in f["top_categories"]],
        ),
        Table(
            "sla",
            _("Vendor SLA on the municipality's cases"),
            _sla_headers(_("Cases opened in the period")),
            [_sla_row(_("All vendors"), f["sla"])],
            kinds=SLA_KINDS,
        ),
    ]


def vendor_tables(f: dict[str, Any]) -> list[Table]:
    paused = f["paused_business_minutes"]
    bundling = f["bundling"]
    key_rows: list[tuple[str, Any, str | None]] = [
        (_("Cases opened"), f["cases_opened"], None),
        (_("Cases resolved"), f["cases_resolved"], None),
        (_("Response compliance"), f["sla"]["response_compliance"], RATE),
        (_("Resolution compliance"), f["sla"]["resolution_compliance"], RATE),
        (_("Waiting on the municipality (business minutes)"), paused["total"], MINUTES),
        (_("Cases that waited on the municipality"), paused["cases"], None),
        (_("Tickets per case"), bundling["tickets_per_case"], None),
    ]
    return [
        _value_table("key_figures", _("Key figures"), key_rows),
        Table(
            "by_week",
            _("Cases per week"),
            [_("Week"), _("Opened"), _("Resolved")],
            [[w, v["opened"], v["resolved"]] for w, v in f["by_week"].items()],
        ),
        Table(
            "sla_by_priority",
            _("SLA per priority"),
            _sla_headers(_("Priority")),
            [_sla_row(p, s) for p, s in f["sla_by_priority"].items()],
            kinds=SLA_KINDS,
        ),
        Table(
            "by_municipality",
            _("SLA per municipality"),
            [*_sla_headers(_("Municipality")), _("Cases resolved")],
            [[*_sla_row(m, s), s["cases_resolved"]] for m, s in f["by_municipality"].items()],
            kinds=(*SLA_KINDS, None),
        ),
        Table(
            "breaches",
            _("SLA breaches"),
            [
                _("Case"),
                _("Municipality"),
                _("Priority"),
                _("Status"),
                _("Response"),
                _("Resolution"),
            ],
            [
                [
                    b["case"],
                    b["municipality"],
                    b["priority"],
                    b["status"],
                    _("Breached") if b["response_breached"] else "",
                    _("Breached") if b["resolution_breached"] else "",
                ]
                for b in f["breaches"]
            ],
        ),
        Table(
            "bundling",
            _("Tickets per case"),
            [_("Tickets in the case"), _("Cases")],
            [[size, n] for size, n in bundling["cases_by_size"].items()],
        ),
        Table(
            "known_issues",
            _("Known issues"),
            [_("Known issue"), _("Status"), _("Tickets linked")],
            [[i["title"], i["status"], i["tickets"]] for i in f["known_issues"]],
        ),
    ]


ROLLOUT_COLUMNS: list[tuple[str, Any, str | None]] = [
    ("tickets_created", lambda m: m["tickets_created"], None),
    ("institutions", lambda m: m["institutions"], None),
    ("tickets_per_institution", lambda m: m["tickets_per_institution"], None),
    ("escalation_rate", lambda m: m["escalation_rate"], RATE),
    ("first_level_resolution_rate", lambda m: m["first_level_resolution_rate"], RATE),
    ("first_response", lambda m: m["first_response_business_minutes"]["median"], MINUTES),
    ("resolution", lambda m: m["resolution_business_minutes"]["median"], MINUTES),
    ("response_compliance", lambda m: m["sla"]["response_compliance"], RATE),
    ("resolution_compliance", lambda m: m["sla"]["resolution_compliance"], RATE),
    ("deflected", lambda m: m["deflected"], None),
    ("satisfaction", lambda m: m["satisfaction"]["average"], None),
]


def rollout_tables(f: dict[str, Any]) -> list[Table]:
    headers = {
        "tickets_created": _("Tickets created"),
        "institutions": _("Institutions"),
        "tickets_per_institution": _("Tickets per institution"),
        "escalation_rate": _("Escalation rate"),
        "first_level_resolution_rate": _("First-level resolution rate"),
        "first_response": _("First response, median (business minutes)"),
        "resolution": _("Resolution, median (business minutes)"),
        "response_compliance": _("Response compliance"),
        "resolution_compliance": _("Resolution compliance"),
        "deflected": _('Solved by the FAQ ("Det løste mit problem")'),
        "satisfaction": _("Satisfaction, average (1-5)"),
    }
    return [
        Table(
            "municipalities",
            _("Municipalities side by side"),
            [_("Municipality"), *(headers[key] for key, _get, _kind in ROLLOUT_COLUMNS)],
            [
                [slug, *(get(m) for _key, get, _kind in ROLLOUT_COLUMNS)]
                for slug, m in f["municipalities"].items()
            ],
            kinds=(None, *(kind for _key, _get, kind in ROLLOUT_COLUMNS)),
        )
    ]


TICKET_COLUMNS = (
    "number",
    "created_at",
    "municipality",
    "institution",
    "institution_name",
    "institution_type",
    "system",
    "category",
    "source",
    "priority",
    "status",
    "case",
    "resolved_at",
    "subject",
)


def ticket_tables(f: dict[str, Any]) -> list[Table]:
    headers = {
        "number": _("Number"),
        "created_at": _("Created"),
        "municipality": _("Municipality"),
        "institution": _("Institution number"),
        "institution_name": _("Institution"),
        "institution_type": _("Institution type"),
        "system": _("System"),
        "category": _("Category"),
        "source": _("Source"),
        "priority": _("Priority"),
        "status": _("Status"),
        "case": _("Vendor case"),
        "resolved_at": _("Resolved"),
        "subject": _("Subject"),
    }
    return [
        Table(
            "tickets",
            _("Tickets"),
            [headers[c] for c in TICKET_COLUMNS],
            [[row[c] for c in TICKET_COLUMNS] for row in f["items"]],
        )
    ]


CASE_COLUMNS = (
    "number",
    "created_at",
    "municipality",
    "vendor",
    "system",
    "priority",
    "status",
    "first_response_at",
    "resolved_at",
    "response_breached",
    "resolution_breached",
    "paused_business_minutes",
    "subject",
)


def case_tables(f: dict[str, Any]) -> list[Table]:
    headers = {
        "number": _("Case"),
        "created_at": _("Opened"),
        "municipality": _("Municipality"),
        "vendor": _("Vendor"),
        "system": _("System"),
        "priority": _("Priority"),
        "status": _("Status"),
        "first_response_at": _("First response"),
        "resolved_at": _("Resolved"),
        "response_breached": _("Response breached"),
        "resolution_breached": _("Resolution breached"),
        "paused_business_minutes": _("Waiting on the municipality (business minutes)"),
        "subject": _("Subject"),
    }

    def cell(row: dict[str, Any], column: str) -> Any:
        value = row[column]
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        return value

    return [
        Table(
            "cases",
            _("Vendor cases"),
            [headers[c] for c in CASE_COLUMNS],
            [[cell(row, c) for c in CASE_COLUMNS] for row in f["items"]],
        )
    ]
