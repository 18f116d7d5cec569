"""The tables of each report, laid out once from the figures: the page, CSV and XLSX show
exactly these (and the API the figures they come from), so the formats cannot disagree.

Cells are raw values (int, float, str, None); rates are fractions (0.6667). The page
formats them the Danish way, CSV writes decimal commas, XLSX stores numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

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


def _pairs(
    key: str, title: str, header: str, values: dict[str, Any], counted: str | None = None
) -> Table:
    """A two-column table of a mapping: each key and its count (of tickets, unless `counted`
    names what is counted)."""
    headers = [header, counted if counted is not None else _("Tickets")]
    return Table(key, title, headers, [[k, v] for k, v in values.items()])


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
        _pairs(
            "open_by_age", _("Open tickets by age"), _("Age"), f["open_by_age"], _("Open tickets")
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
        _pairs(
            "bundling",
            _("Tickets per case"),
            _("Tickets in the case"),
            bundling["cases_by_size"],
            _("Cases"),
        ),
        Table(
            "known_issues",
            _("Known issues"),
            [_("Known issue"), _("Status"), _("Tickets linked")],
            [[i["title"], i["status"], i["tickets"]] for i in f["known_issues"]],
        ),
    ]


# Column tables: (header, value of the row, kind), the header lazy (read per request).
Column = tuple[Any, Callable[[dict[str, Any]], Any], str | None]


def _column_table(
    key: str, title: str, columns: list[Column], rows: list[dict[str, Any]], first=None
) -> Table:
    """One row per item, one column per entry of `columns`; `first` (header, value of the
    row) puts a column in front."""
    lead = [first] if first is not None else []
    return Table(
        key,
        title,
        [str(header) for header, _get in lead] + [str(header) for header, _g, _k in columns],
        [[*(get(row) for _h, get in lead), *(get(row) for _h, get, _k in columns)] for row in rows],
        kinds=(*(None for _ in lead), *(kind for _h, _g, kind in columns)),
    )


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


def _yes_no(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: _("Yes") if row[name] else _("No")


ROLLOUT_COLUMNS: list[Column] = [
    (_l("Tickets created"), _field("tickets_created"), None),
    (_l("Institutions"), _field("institutions"), None),
    (_l("Tickets per institution"), _field("tickets_per_institution"), None),
    (_l("Escalation rate"), _field("escalation_rate"), RATE),
    (_l("First-level resolution rate"), _field("first_level_resolution_rate"), RATE),
    (
        _l("First response, median (business minutes)"),
        lambda m: m["first_response_business_minutes"]["median"],
        MINUTES,
    ),
    (
        _l("Resolution, median (business minutes)"),
        lambda m: m["resolution_business_minutes"]["median"],
        MINUTES,
    ),
    (_l("Response compliance"), lambda m: m["sla"]["response_compliance"], RATE),
    (_l("Resolution compliance"), lambda m: m["sla"]["resolution_compliance"], RATE),
    (_l('Solved by the FAQ ("Det løste mit problem")'), _field("deflected"), None),
    (_l("Satisfaction, average (1-5)"), lambda m: m["satisfaction"]["average"], None),
]


def rollout_tables(f: dict[str, Any]) -> list[Table]:
    municipalities = [{"slug": slug, **m} for slug, m in f["municipalities"].items()]
    return [
        _column_table(
            "municipalities",
            _("Municipalities side by side"),
            ROLLOUT_COLUMNS,
            municipalities,
            first=(_l("Municipality"), _field("slug")),
        )
    ]


TICKET_COLUMNS: list[Column] = [
    (_l("Number"), _field("number"), None),
    (_l("Created"), _field("created_at"), None),
    (_l("Municipality"), _field("municipality"), None),
    (_l("Institution number"), _field("institution"), None),
    (_l("Institution"), _field("institution_name"), None),
    (_l("Institution type"), _field("institution_type"), None),
    (_l("System"), _field("system"), None),
    (_l("Category"), _field("category"), None),
    (_l("Source"), _field("source"), None),
    (_l("Priority"), _field("priority"), None),
    (_l("Status"), _field("status"), None),
    (_l("Vendor case"), _field("case"), None),
    (_l("Resolved"), _field("resolved_at"), None),
    (_l("Subject"), _field("subject"), None),
]


def ticket_tables(f: dict[str, Any]) -> list[Table]:
    return [_column_table("tickets", _("Tickets"), TICKET_COLUMNS, f["items"])]


CASE_COLUMNS: list[Column] = [
    (_l("Case"), _field("number"), None),
    (_l("Opened"), _field("created_at"), None),
    (_l("Municipality"), _field("municipality"), None),
    (_l("Vendor"), _field("vendor"), None),
    (_l("System"), _field("system"), None),
    (_l("Priority"), _field("priority"), None),
    (_l("Status"), _field("status"), None),
    (_l("First response"), _field("first_response_at"), None),
    (_l("Resolved"), _field("resolved_at"), None),
    (_l("Response breached"), _yes_no("response_breached"), None),
    (_l("Resolution breached"), _yes_no("resolution_breached"), None),
    (
        _l("Waiting on the municipality (business minutes)"),
        _field("paused_business_minutes"),
        None,
    ),
    (_l("Subject"), _field("subject"), None),
]


def case_tables(f: dict[str, Any]) -> list[Table]:
    return [_column_table("cases", _("Vendor cases"), CASE_COLUMNS, f["items"])]
