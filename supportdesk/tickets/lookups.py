"""Choices and lookups for ticket forms and the API: systems and categories (topics),
institutions, colleagues to assign, queues. Input that names nothing visible is a field error.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from supportdesk import policy
from supportdesk.accounts.models import Category, Institution, System, User
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.tickets.models import Queue


def topics() -> list[tuple[str, str, str | None, str]]:
    """(value, system name, category name, system slug) for the "System - Kategori" select."""
    systems = systems_with_categories()
    rows: list[tuple[str, str, str | None, str]] = []
    for system in systems:
        if not system.categories:
            rows.append((f"s{system.id}", system.name, None, system.slug))
        for category in system.categories:
            rows.append((f"c{category.id}", system.name, category.name, system.slug))
    return rows


def resolve_topic(value: str | None) -> tuple[System | None, Category | None]:
    """Turn a topic value ("c12" or "s3") into the system and category."""
    value = value or ""
    if value.startswith("c") and value[1:].isdigit():
        category = db.session.get(Category, int(value[1:]))
        if category is not None:
            return category.system, category
    if value.startswith("s") and value[1:].isdigit():
        return db.session.get(System, int(value[1:])), None
    return None, None


def find_system(slug: str | None) -> System | None:
    if not slug:
        return None
    return db.session.scalar(select(System).where(System.slug == slug))


def find_category(system: System | None, slug: str | None) -> Category | None:
    if system is None or not slug:
        return None
    return db.session.scalar(
        select(Category).where(Category.system_id == system.id, Category.slug == slug)
    )


def institution_options(user: User) -> list[Institution]:
    return list(
        db.session.scalars(policy.institutions_visible_to(user).where(Institution.active.is_(True)))
    )


def ticket_institution_options(user: User) -> list[Institution]:
    """The institutions the ticket form offers this user (policy.ticket_institutions)."""
    return list(db.session.scalars(policy.ticket_institutions(user)))


def find_institution(user: User, text: str) -> Institution:
    """Hotline lookup by number or name; ambiguous or unknown input is a field error."""
    text = (text or "").strip()
    visible = policy.institutions_visible_to(user).where(Institution.active.is_(True))
    exact = db.session.scalar(
        visible.where(or_(Institution.number == text, func.lower(Institution.name) == text.lower()))
    )
    if exact is not None:
        return exact
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = db.session.scalars(
        visible.where(Institution.name.ilike(pattern, escape="\\")).limit(6)
    ).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        message = _l("No institution matches “%(text)s”.", text=text)
    else:
        message = _l(
            "Several institutions match: %(names)s. Write more of the name or the number.",
            names=", ".join(m.name for m in matches[:5]),
        )
    raise ValidationFailed(fields={"institution_lookup": str(message)})


def get_institution_by_number(user: User, number: str | None) -> Institution | None:
    if not number:
        return None
    institution = db.session.scalar(
        policy.institutions_visible_to(user).where(Institution.number == number)
    )
    if institution is None:
        raise ValidationFailed(fields={"institution": str(_l("Unknown institution."))})
    return institution


def assignee_options(user: User) -> list[User]:
    return list(
        db.session.scalars(policy.assignable_users(user).options(joinedload(User.institution)))
    )


def person_labels(people: list[User], role_labels: dict[Any, Any]) -> dict[int, str]:
    """Each person's name; where names repeat, with institution (or role), and the e-mail
    only where that is not enough.

    Two "Anne Pedersen" in one list become "Anne Pedersen (Vestre Skole)" and
    "Anne Pedersen (Supportberettiget)".
    """

    def where(person: User) -> str:
        return person.institution.name if person.institution else str(role_labels[person.role])

    def key(text: str) -> str:
        return " ".join(text.split()).casefold()

    names = Counter(key(p.name) for p in people)
    places = Counter(key(f"{p.name} {where(p)}") for p in people)
    labels = {}
    for person in people:
        if names[key(person.name)] < 2:
            labels[person.id] = person.name
        elif places[key(f"{person.name} {where(person)}")] < 2:
            labels[person.id] = f"{person.name} ({where(person)})"
        else:
            labels[person.id] = f"{person.name} ({where(person)}, {person.email})"
    return labels


def assignee_choices(user: User, role_labels: dict[Any, Any]) -> list[tuple[str, str]]:
    """(id, label) of the colleagues a ticket can be assigned to, told apart by person_labels."""
    people = assignee_options(user)
    labels = person_labels(people, role_labels)
    return [(str(p.id), labels[p.id]) for p in people]


def get_assignee(user: User, user_id: int | str | None) -> User | None:
    """A colleague the ticket may be assigned to, or None for "nobody"."""
    if user_id in (None, "", "0"):
        return None
    try:
        ident = int(user_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))}) from None
    assignee = db.session.scalar(policy.assignable_users(user).where(User.id == ident))
    if assignee is None:
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))})
    return assignee


def find_assignee_by_email(user: User, email: str | None) -> User | None:
    if not email:
        return None
    assignee = db.session.scalar(
        policy.assignable_users(user).where(User.email == email.strip().lower())
    )
    if assignee is None:
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))})
    return assignee


def queue_options(user: User) -> list[Queue]:
    return list(db.session.scalars(policy.queues_visible_to(user)))


def systems_with_categories() -> list[System]:
    return list(
        db.session.scalars(
            select(System).options(selectinload(System.categories)).order_by(System.name)
        )
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def get_system_by_id(value: Any) -> System | None:
    ident = _int_or_none(value)
    return db.session.get(System, ident) if ident else None


def get_category_by_id(value: Any) -> Category | None:
    ident = _int_or_none(value)
    return db.session.get(Category, ident) if ident else None


def get_queue(user: User, value: Any) -> Queue | None:
    ident = _int_or_none(value)
    if ident is None:
        return None
    queue = db.session.scalar(policy.queues_visible_to(user).where(Queue.id == ident))
    if queue is None:
        raise ValidationFailed(fields={"queue": str(_l("Unknown queue."))})
    return queue
