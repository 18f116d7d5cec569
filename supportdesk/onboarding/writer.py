"""Writing a checked plan: bulk statements in the caller's transaction, then invitations.

Each sheet is one INSERT of its new rows and one UPDATE (by primary key) of its changed
rows, in the order rows refer to each other; references (municipality slug, institution
number, e-mail address) become ids by reading the keys back in chunks. The session does
not see these statements, so the cached pages' generations are bumped here. New people
get the set-password invitation of `accounts.passwords` (the outbox sends it); people
who already existed are not invited again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from supportdesk.accounts import passwords
from supportdesk.accounts.models import (
    Institution,
    Municipality,
    SupportEntitlement,
    User,
    Vendor,
)
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEventKind
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow
from supportdesk.onboarding.checks import Action, Change, Plan
from supportdesk.onboarding.snapshot import chunks

# An imported person cannot sign in until they choose a password through the invitation.
NO_PASSWORD = "!"  # noqa: S105 — no hash matches it


def _split(changes: Iterable[Change]) -> tuple[list[Change], list[Change]]:
    created = [c for c in changes if c.action == Action.created]
    updated = [c for c in changes if c.action == Action.updated]
    return created, updated


def _ids(column_key, column_id, keys: Iterable[Any]) -> dict[Any, int]:
    found: dict[Any, int] = {}
    for batch in chunks(sorted(set(keys))):
        found.update(
            db.session.execute(select(column_key, column_id).where(column_key.in_(batch))).all()
        )
    return found


class Writer:
    def __init__(self, plan: Plan, actor: User | None, now: datetime) -> None:
        self.plan = plan
        self.actor = actor
        self.now = now
        self.touched: set[str] = set()

    def run(self) -> int:
        """Write everything; returns how many people were invited."""
        municipalities = self._municipalities()
        institutions = self._institutions(municipalities)
        invited = self._users(municipalities, institutions)
        self._entitlements()
        generations.bump(*self.touched)
        return invited

    def _municipalities(self) -> dict[str, int]:
        created, updated = _split(self.plan.changes["municipalities"])
        if created:
            db.session.execute(
                insert(Municipality),
                [{**c.values, "created_at": self.now} for c in created],
            )
        if updated:
            columns = ("name", "wave", "go_live", "retention_days")
            db.session.execute(
                update(Municipality),
                [{"id": c.existing_id, **{k: c.values[k] for k in columns}} for c in updated],
            )
        ids = dict(db.session.execute(select(Municipality.slug, Municipality.id)).all())
        if created or updated:
            # every tenant's pages may show a municipality's name
            self.touched.add(generations.REFERENCE)
        for change in (*created, *updated):
            self.touched.add(generations.municipality_reference(ids[change.key]))
        return ids

    def _institutions(self, municipalities: dict[str, int]) -> dict[str, int]:
        created, updated = _split(self.plan.changes["institutions"])
        if created:
            db.session.execute(
                insert(Institution),
                [
                    {
                        "municipality_id": municipalities[c.values["municipality"]],
                        "number": c.values["number"],
                        "name": c.values["name"],
                        "type": c.values["type"],
                        "active": True,
                    }
                    for c in created
                ],
            )
        if updated:
            db.session.execute(
                update(Institution),
                [
                    {"id": c.existing_id, "name": c.values["name"], "type": c.values["type"]}
                    for c in updated
                ],
            )
        for change in (*created, *updated):
            municipality_id = municipalities[change.values["municipality"]]
            self.touched.add(generations.municipality_reference(municipality_id))
        wanted = {
            c.values["institution"] for c in self.plan.changes["users"] if c.values["institution"]
        }
        return _ids(Institution.number, Institution.id, wanted)

    def _user_values(
        self, change: Change, municipalities: dict[str, int], institutions: dict[str, int]
    ) -> dict[str, Any]:
        values = change.values
        municipality_id = municipalities[values["municipality"]] if values["municipality"] else None
        self.touched.add(
            generations.municipality_reference(municipality_id)
            if municipality_id is not None
            else generations.vendor_reference(values["vendor_id"])
        )
        return {
            "name": values["name"],
            "role": values["role"],
            "institution_id": institutions[values["institution"]]
            if values["institution"]
            else None,
            "municipality_id": municipality_id,
        }

    def _users(self, municipalities: dict[str, int], institutions: dict[str, int]) -> int:
        created, updated = _split(self.plan.changes["users"])
        if created:
            db.session.execute(
                insert(User),
                [
                    {
                        **self._user_values(c, municipalities, institutions),
                        "email": c.values["email"],
                        "vendor_id": c.values["vendor_id"],
                        "password_hash": NO_PASSWORD,
                        "active": True,
                        "locale": "da",
                        "auth_epoch": 0,
                        "created_at": self.now,
                    }
                    for c in created
                ],
            )
        if updated:
            rows = []
            for change in updated:
                values = self._user_values(change, municipalities, institutions)
                del values["municipality_id"]  # a person stays in their municipality
                rows.append({"id": change.existing_id, **values})
            db.session.execute(update(User), rows)
            for change in updated:
                if change.before.role != change.values["role"]:
                    events.record(
                        SecurityEventKind.role_changed,
                        user=db.session.get(User, change.existing_id),
                        actor=self.actor,
                        detail={"from": change.before.role.value, "to": change.values["role"]},
                    )
        return self._invite([c.values["email"] for c in created])

    def _rows(self, emails: Iterable[str]) -> dict[str, Any]:
        """e-mail → (id, email, municipality_id, role) of these people, read in chunks."""
        columns = (User.id, User.email, User.municipality_id, User.role)
        return {
            row.email: row
            for batch in chunks(sorted(set(emails)))
            for row in db.session.execute(select(*columns).where(User.email.in_(batch)))
        }

    def _invite(self, emails: list[str]) -> int:
        """The set-password invitation for each new person (the outbox sends them)."""
        people = list(self._rows(emails).values())
        if self.actor is not None:
            by_role: dict[Any, list[Any]] = defaultdict(list)
            for person in people:
                by_role[person.role].append(person)
            for role, group in by_role.items():
                events.record_many(
                    SecurityEventKind.user_created,
                    group,
                    actor=self.actor,
                    detail={"role": role.value, "via": "import"},
                    at=self.now,
                )
        return passwords.invite_many(self.actor, people, now=self.now)

    def _entitlements(self) -> None:
        created = [c for c in self.plan.changes["entitlements"] if c.action == Action.created]
        if not created:
            return
        people = self._rows(c.values["email"] for c in created)
        slugs = dict(db.session.execute(select(Vendor.id, Vendor.slug)).all())
        rows = []
        granted: dict[int, list[Any]] = defaultdict(list)
        for change in created:
            person = people[change.values["email"]]
            vendor_id = change.values["vendor_id"]
            rows.append(
                {
                    "user_id": person.id,
                    "vendor_id": vendor_id,
                    "municipality_id": person.municipality_id,
                    "granted_by_id": self.actor.id if self.actor is not None else None,
                    "granted_at": self.now,
                }
            )
            granted[vendor_id].append(person)
            self.touched.add(generations.municipality_reference(person.municipality_id))
        db.session.execute(insert(SupportEntitlement), rows)
        for vendor_id, group in granted.items():
            events.record_many(
                SecurityEventKind.entitlement_granted,
                group,
                actor=self.actor,
                detail={"vendor": slugs[vendor_id]},
                at=self.now,
            )


def write(plan: Plan, actor: User | None, now: datetime | None = None) -> int:
    """Write the plan's good rows; returns how many people were invited."""
    return Writer(plan, actor, now or utcnow()).run()
