"""Checking every row of an onboarding workbook before anything is written.

The sheets are checked in the order they depend on each other — municipalities,
institutions, users, entitlements — against the rest of the file and the database
(`snapshot.Known`). Each row ends as a planned change (created, updated or unchanged,
by its natural key: municipality slug, institution number, e-mail address, e-mail and
vendor) or as problems naming sheet, row, column and reason.

A row is good when its own cells pass every check and what it refers to (its
municipality, institution or user) is in a good row of the file or in the database. So
an institution of a municipality whose row failed, and never existed, fails too, and so
do its people and their entitlements. The entitlement limits are counted after the
import: the database's entitlements plus the good rows of the file, per municipality and
vendor; above the vendor's maximum the rows past it fail, below its minimum all of the
group's new rows fail (writing some of them would not help).
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from supportdesk.accounts.models import InstitutionType, Role
from supportdesk.accounts.organisations import EMAIL, SLUG
from supportdesk.onboarding import codes
from supportdesk.onboarding.reader import COLUMNS, SHEETS, Row, Sheet
from supportdesk.onboarding.snapshot import Known

REQUIRED = _l("This field is required.")
DEFAULT_RETENTION_DAYS = 730
MAX_WAVE = 99
DATE_FORMATS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<d>\d{1,2})[-./](?P<m>\d{1,2})[-./](?P<y>\d{4})"),
)


class Action(enum.StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int  # 1 is the header
    column: str  # "" when the whole sheet or row is meant
    message: Any  # a lazy, translated string


@dataclass
class Change:
    """A good row: what to write (`values` hold natural keys for references)."""

    sheet: str
    row: int
    key: Any
    action: Action
    values: dict[str, Any]
    existing_id: int | None = None
    before: Any = None  # the database's row when there is one


@dataclass
class Plan:
    changes: dict[str, list[Change]] = field(default_factory=lambda: {s: [] for s in SHEETS})
    problems: list[Problem] = field(default_factory=list)
    failed_rows: dict[str, set[int]] = field(default_factory=lambda: {s: set() for s in SHEETS})
    sheets: tuple[str, ...] = ()  # the sheets the file had

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, sheet: str, action: Action) -> int:
        return sum(1 for change in self.changes[sheet] if change.action == action)

    def total(self, action: Action) -> int:
        return sum(self.count(sheet, action) for sheet in SHEETS)

    @property
    def failed(self) -> int:
        return sum(len(rows) for rows in self.failed_rows.values())


Errors = list[tuple[str, Any]]
# (role, municipality slug, user id or None when new, active) of an entitlement's holder
Holder = tuple[Role, str | None, int | None, bool]


def _whole(value: str, low: int, high: int) -> int | None:
    """A whole number within [low, high], or None."""
    if not re.fullmatch(r"\d{1,6}", value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def parse_date(value: str) -> date | None:
    """ISO (2027-08-09) or Danish (09-08-2027, 9.8.2027, 09/08/2027) dates."""
    for pattern in DATE_FORMATS:
        match = pattern.fullmatch(value)
        if match:
            try:
                parsed = date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
            return parsed if 2000 <= parsed.year <= 2100 else None
    return None


def _name(row: Row, errors: Errors, max_length: int) -> str:
    name = row["name"]
    if not name:
        errors.append(("name", REQUIRED))
    elif len(name) > max_length:
        errors.append(("name", _l("The name is too long.")))
    return name


def _report_order(problem: Problem) -> tuple[int, int, int]:
    """Sheet by sheet, row by row, the columns as the sheet has them."""
    columns = COLUMNS[problem.sheet]
    position = columns.index(problem.column) + 1 if problem.column in columns else 0
    return SHEETS.index(problem.sheet), problem.row, position


class Checker:
    """One pass over the sheets; `plan` holds the outcome."""

    def __init__(self, sheets: dict[str, Sheet], known: Known) -> None:
        self.sheets = sheets
        self.known = known
        self.plan = Plan(sheets=tuple(name for name in SHEETS if name in sheets))
        # natural key → the good row's change, or the failed row's number
        self.good: dict[str, dict[Any, Change]] = {s: {} for s in SHEETS}
        self.failed: dict[str, dict[Any, int]] = {s: {} for s in SHEETS}
        self.taken_codes = set(known.codes)

    def run(self) -> Plan:
        for name in SHEETS:
            sheet = self.sheets.get(name)
            if sheet is not None and self._header_ok(sheet):
                check = getattr(self, f"_{name}")
                for row in sheet.rows:
                    check(row)
        self._entitlement_limits()
        self.plan.problems.sort(key=_report_order)
        return self.plan

    # --- bookkeeping ---------------------------------------------------------------------

    def _header_ok(self, sheet: Sheet) -> bool:
        missing = [column for column in COLUMNS[sheet.name] if column not in sheet.columns]
        for column in missing:
            self.plan.problems.append(Problem(sheet.name, 1, column, _l("The column is missing.")))
        if missing:
            self.plan.failed_rows[sheet.name].update(row.number for row in sheet.rows)
        return not missing

    def _settle(self, sheet: str, row: Row, key: Any, errors: Errors, change: Change | None):
        if errors:
            for column, message in errors:
                self.plan.problems.append(Problem(sheet, row.number, column, message))
            self.plan.failed_rows[sheet].add(row.number)
            if key is not None:
                self.failed[sheet].setdefault(key, row.number)
            return
        if change is not None:
            self.good[sheet][key] = change
            self.plan.changes[sheet].append(change)

    def _first_row(self, sheet: str, key: Any) -> int | None:
        """The row a key was first seen in (good or not): a second one is a duplicate."""
        if key in self.good[sheet]:
            return self.good[sheet][key].row
        return self.failed[sheet].get(key)

    @staticmethod
    def _changed(existing: Any, values: dict[str, Any], columns: tuple[str, ...]) -> bool:
        return any(getattr(existing, column) != values[column] for column in columns)

    # --- references ----------------------------------------------------------------------

    def _unresolved(
        self,
        sheet: str,
        key: Any,
        column: str,
        failed: Callable[[int], Any],
        unknown: Any,
        errors: Errors,
    ) -> None:
        """A reference to nothing: the `failed` message names the referenced row when that
        row has errors; otherwise neither the file nor the database has it (`unknown`)."""
        row = self.failed[sheet].get(key)
        errors.append((column, unknown if row is None else failed(row)))

    def _municipality(self, row: Row, column: str, errors: Errors) -> str | None:
        """The slug of a municipality that a good row or the database provides."""
        slug = row[column].lower()
        if not slug:
            errors.append((column, REQUIRED))
        elif slug in self.good["municipalities"] or slug in self.known.municipalities:
            return slug
        else:
            self._unresolved(
                "municipalities",
                slug,
                column,
                lambda failed_row: _l(
                    "The municipality %(slug)s is not imported: its row %(row)s in the "
                    "sheet municipalities has errors.",
                    slug=slug,
                    row=failed_row,
                ),
                _l(
                    "Unknown municipality %(slug)s: it is neither in the sheet "
                    "municipalities nor in the database.",
                    slug=slug,
                ),
                errors,
            )
        return None

    def municipality_name(self, slug: str) -> str:
        change = self.good["municipalities"].get(slug)
        if change is not None:
            return change.values["name"]
        return self.known.municipalities[slug].name

    def _institution(self, row: Row, errors: Errors) -> tuple[str, str] | None:
        """(number, municipality slug) of an institution a good row or the database has."""
        number = row["institution"]
        change = self.good["institutions"].get(number)
        if change is not None:
            return number, change.values["municipality"]
        existing = self.known.institutions.get(number)
        if existing is not None:
            return number, self.known.municipality_slug(existing.municipality_id) or ""
        self._unresolved(
            "institutions",
            number,
            "institution",
            lambda failed_row: _l(
                "The institution %(number)s is not imported: its row %(row)s in the sheet "
                "institutions has errors.",
                number=number,
                row=failed_row,
            ),
            _l("Unknown institution %(number)s.", number=number),
            errors,
        )
        return None

    def _vendor(self, row: Row, errors: Errors) -> Any:
        slug = row["vendor"].lower()
        if not slug:
            errors.append(("vendor", REQUIRED))
            return None
        vendor = self.known.vendors.get(slug)
        if vendor is None:
            errors.append(("vendor", _l("Unknown vendor %(slug)s.", slug=slug)))
        return vendor

    # --- municipalities ------------------------------------------------------------------

    def _municipalities(self, row: Row) -> None:
        errors: Errors = []
        slug = row["slug"].lower()
        if not slug:
            errors.append(("slug", REQUIRED))
        elif not SLUG.match(slug):
            errors.append(("slug", _l("Use lower-case letters, digits and hyphens only.")))
        elif (first := self._first_row("municipalities", slug)) is not None:
            message = _l("The municipality also appears in row %(row)s.", row=first)
            errors.append(("slug", message))
        name = _name(row, errors, 120)
        existing = self.known.municipalities.get(slug)
        values: dict[str, Any] = {"slug": slug, "name": name}
        # an empty cell keeps what the municipality has (the default when it is new)
        for column, default, parse, message in (
            (
                "wave",
                None,
                lambda v: _whole(v, 0, MAX_WAVE),
                _l("A whole number from 0 (pilots) to %(max)s.", max=MAX_WAVE),
            ),
            ("go_live", None, parse_date, _l("A date such as 2027-08-09 or 09-08-2027.")),
            (
                "retention_days",
                DEFAULT_RETENTION_DAYS,
                lambda v: _whole(v, 30, 36500),
                _l("Between 30 and 36500 days."),
            ),
        ):
            text = row[column]
            parsed = parse(text) if text else None
            if text and parsed is None:
                errors.append((column, message))
            if parsed is None:
                parsed = getattr(existing, column) if existing is not None else default
            values[column] = parsed
        if errors:
            self._settle("municipalities", row, slug or None, errors, None)
            return
        if existing is None:
            values["code"] = codes.new_code(name, slug, self.taken_codes)
            self.taken_codes.add(values["code"])
            action = Action.created
        else:
            columns = ("name", "wave", "go_live", "retention_days")
            changed = self._changed(existing, values, columns)
            action = Action.updated if changed else Action.unchanged
        change = Change(
            "municipalities", row.number, slug, action, values, existing.id if existing else None
        )
        self._settle("municipalities", row, slug, errors, change)

    # --- institutions --------------------------------------------------------------------

    def _institutions(self, row: Row) -> None:
        errors: Errors = []
        municipality = self._municipality(row, "municipality", errors)
        number = row["number"]
        existing = self.known.institutions.get(number)
        if not number:
            errors.append(("number", REQUIRED))
        elif not re.fullmatch(r"\d{3,12}", number):
            errors.append(("number", _l("The institution number must be 3 to 12 digits.")))
        elif (first := self._first_row("institutions", number)) is not None:
            message = _l("The institution number also appears in row %(row)s.", row=first)
            errors.append(("number", message))
        elif (
            existing is not None
            and municipality is not None
            and self.known.municipality_slug(existing.municipality_id) != municipality
        ):
            owner = self.known.municipality_by_id[existing.municipality_id]
            message = _l(
                "Institution %(number)s already belongs to %(municipality)s.",
                number=number,
                municipality=owner.name,
            )
            errors.append(("number", message))
        name = _name(row, errors, 160)
        kind = row["type"].lower()
        if kind not in InstitutionType.__members__:
            choices = ", ".join(t.value for t in InstitutionType)
            message = (
                _l("Unknown type %(value)s: use %(choices)s.", value=row["type"], choices=choices)
                if kind
                else REQUIRED
            )
            errors.append(("type", message))
        change = None
        if not errors:
            values = {
                "municipality": municipality,
                "number": number,
                "name": name,
                "type": InstitutionType(kind),
            }
            if existing is None:
                action = Action.created
            else:
                changed = self._changed(existing, values, ("name", "type"))
                action = Action.updated if changed else Action.unchanged
            ident = existing.id if existing is not None else None
            change = Change("institutions", row.number, number, action, values, ident)
        self._settle("institutions", row, number or None, errors, change)

    # --- users ---------------------------------------------------------------------------

    def _role(self, row: Row, errors: Errors) -> Role | None:
        text = row["role"].lower()
        if text == Role.admin:
            message = _l("System administrators are not imported; create them one at a time.")
            errors.append(("role", message))
        elif text in Role.__members__:
            return Role(text)
        elif not text:
            errors.append(("role", REQUIRED))
        else:
            choices = ", ".join(r.value for r in Role if r != Role.admin)
            message = _l("Unknown role %(value)s: use %(choices)s.", value=text, choices=choices)
            errors.append(("role", message))
        return None

    def _placement(self, row: Row, role: Role, errors: Errors) -> tuple[Any, Any, Any]:
        """(municipality slug, institution number, vendor) the role requires, and nothing
        the role does not have."""
        municipality = institution = vendor = None
        if role.is_vendor:
            for column in ("municipality", "institution"):
                if row[column]:
                    message = _l("Leave this empty for vendor staff: they belong to a vendor.")
                    errors.append((column, message))
            return None, None, self._vendor(row, errors)
        municipality = self._municipality(row, "municipality", errors)
        if row["vendor"]:
            message = _l("Leave this empty for municipal staff: they belong to a municipality.")
            errors.append(("vendor", message))
        if role in (Role.superuser, Role.hotline) and row["institution"]:
            found = self._institution(row, errors)
            if found is not None and municipality is not None and found[1] != municipality:
                errors.append(
                    (
                        "institution",
                        _l(
                            "Institution %(number)s belongs to %(owner)s, not to %(municipality)s.",
                            number=found[0],
                            owner=self.municipality_name(found[1]),
                            municipality=self.municipality_name(municipality),
                        ),
                    )
                )
            institution = found[0] if found is not None else None
        elif role == Role.superuser:
            errors.append(("institution", _l("A superuser must belong to an institution.")))
        elif row["institution"]:
            message = _l("Only superusers and hotline staff belong to an institution.")
            errors.append(("institution", message))
        return municipality, institution, vendor

    def _place_of(self, existing: Any) -> str:
        if existing.municipality_id is not None:
            return self.known.municipality_by_id[existing.municipality_id].name
        if existing.vendor_id is not None:
            return self.known.vendor_by_id[existing.vendor_id].name
        return str(_l("the system administration"))

    def _existing_user(self, existing: Any, role: Role, values: dict[str, Any], errors: Errors):
        """A person already in the database stays where they are: same municipality or
        vendor; a coordinator keeps the role while support-entitled."""
        same_place = (
            existing.role != Role.admin
            and existing.role.is_vendor == role.is_vendor
            and existing.vendor_id == values["vendor_id"]
            and self.known.municipality_slug(existing.municipality_id) == values["municipality"]
        )
        if not same_place:
            message = _l(
                "%(email)s already exists in %(place)s.",
                email=existing.email,
                place=self._place_of(existing),
            )
            errors.append(("email", message))
        elif role != Role.coordinator and self.known.entitled_vendors.get(existing.id):
            held = self.known.entitled_vendors[existing.id]
            vendors = ", ".join(sorted(self.known.vendor_by_id[v].name for v in held))
            message = _l(
                "%(name)s is support-entitled for %(vendors)s; revoke that before changing "
                "the role.",
                name=existing.name,
                vendors=vendors,
            )
            errors.append(("role", message))

    def _users(self, row: Row) -> None:
        errors: Errors = []
        email = row["email"].lower()
        if not email:
            errors.append(("email", REQUIRED))
        elif len(email) > 254 or not EMAIL.match(email):
            errors.append(("email", _l("Enter a valid e-mail address.")))
        elif (first := self._first_row("users", email)) is not None:
            message = _l("The e-mail address also appears in row %(row)s.", row=first)
            errors.append(("email", message))
        name = _name(row, errors, 120)
        role = self._role(row, errors)
        placement = self._placement(row, role, errors) if role is not None else None
        change = None
        if not errors and role is not None and placement is not None:
            municipality, institution, vendor = placement
            values = {
                "email": email,
                "name": name,
                "role": role,
                "municipality": municipality,
                "institution": institution,
                "vendor_id": vendor.id if vendor is not None else None,
            }
            existing = self.known.users.get(email)
            action = Action.created
            if existing is not None:
                self._existing_user(existing, role, values, errors)
                known_institution = self.known.institutions.get(institution or "")
                institution_id = known_institution.id if known_institution else None
                changed = (
                    existing.name != name
                    or existing.role != role
                    or existing.institution_id != institution_id
                    or (institution is not None and known_institution is None)
                )
                action = Action.updated if changed else Action.unchanged
            ident = existing.id if existing is not None else None
            change = Change("users", row.number, email, action, values, ident, existing)
        self._settle("users", row, email or None, errors, change)

    # --- entitlements --------------------------------------------------------------------

    def _holder(self, email: str, errors: Errors) -> Holder | None:
        """(role, municipality slug, user id or None when new, active) of the named user."""
        change = self.good["users"].get(email)
        existing = self.known.users.get(email)
        if change is not None:
            active = existing.active if existing is not None else True
            values = change.values
            return values["role"], values["municipality"], change.existing_id, active
        if existing is not None:
            slug = self.known.municipality_slug(existing.municipality_id)
            return existing.role, slug, existing.id, existing.active
        self._unresolved(
            "users",
            email,
            "email",
            lambda failed_row: _l(
                "The user %(email)s is not imported: their row %(row)s in the sheet users has "
                "errors.",
                email=email,
                row=failed_row,
            ),
            _l(
                "Unknown user %(email)s: they are neither in the sheet users nor in the database.",
                email=email,
            ),
            errors,
        )
        return None

    def _entitlements(self, row: Row) -> None:
        errors: Errors = []
        email = row["email"].lower()
        holder = self._holder(email, errors) if email else None
        if not email:
            errors.append(("email", REQUIRED))
        vendor = self._vendor(row, errors)
        key = (email, vendor.id) if vendor is not None else None
        if holder is not None:
            role, municipality, _user_id, active = holder
            if role != Role.coordinator or not active or municipality is None:
                message = _l("Only active coordinators can be support-entitled.")
                errors.append(("email", message))
        if key is not None and (first := self._first_row("entitlements", key)) is not None:
            message = _l("The entitlement also appears in row %(row)s.", row=first)
            errors.append(("vendor", message))
        change = None
        if not errors and holder is not None and vendor is not None:
            _role, municipality, user_id, _active = holder
            exists = user_id is not None and (user_id, vendor.id) in self.known.entitlements
            values = {"email": email, "vendor_id": vendor.id, "municipality": municipality}
            action = Action.unchanged if exists else Action.created
            change = Change("entitlements", row.number, key, action, values)
        self._settle("entitlements", row, key, errors, change)

    def _entitlement_limits(self) -> None:
        """The vendor's min/max per municipality, counted after the import."""
        groups: dict[tuple[str, int], list[Change]] = defaultdict(list)
        for change in self.plan.changes["entitlements"]:
            if change.action == Action.created:
                groups[(change.values["municipality"], change.values["vendor_id"])].append(change)
        refused: set[int] = set()
        for (slug, vendor_id), new in groups.items():
            vendor = self.known.vendor_by_id[vendor_id]
            existing = self.known.municipalities.get(slug)
            before = self.known.counts.get((existing.id, vendor_id), 0) if existing else 0
            after = before + len(new)
            facts = {
                "municipality": self.municipality_name(slug),
                "count": after,
                "vendor": vendor.name,
                "min": vendor.min_entitled,
                "max": vendor.max_entitled,
            }
            if after > vendor.max_entitled:
                over = new[max(vendor.max_entitled - before, 0) :]
                message = lazy_ngettext(
                    "After the import %(municipality)s would have %(count)s support-entitled "
                    "user for %(vendor)s; at most %(max)s are allowed.",
                    "After the import %(municipality)s would have %(count)s support-entitled "
                    "users for %(vendor)s; at most %(max)s are allowed.",
                    after,
                    **facts,
                )
            elif after < vendor.min_entitled:
                over = new
                message = lazy_ngettext(
                    "After the import %(municipality)s would have %(count)s support-entitled "
                    "user for %(vendor)s; at least %(min)s are required.",
                    "After the import %(municipality)s would have %(count)s support-entitled "
                    "users for %(vendor)s; at least %(min)s are required.",
                    after,
                    **facts,
                )
            else:
                continue
            for change in over:
                self.plan.problems.append(Problem("entitlements", change.row, "vendor", message))
                self.plan.failed_rows["entitlements"].add(change.row)
                refused.add(change.row)
        if refused:
            self.plan.changes["entitlements"] = [
                c for c in self.plan.changes["entitlements"] if c.row not in refused
            ]


def check(sheets: dict[str, Sheet], known: Known) -> Plan:
    return Checker(sheets, known).run()
