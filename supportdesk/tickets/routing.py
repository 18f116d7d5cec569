"""Routing: the municipality's ordered rules and queues that place a new ticket.

Creation asks `place()` where a ticket goes; municipal admins keep the rules and
queues (routing_views.py). Active rules are cached until a rule or a name changes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from supportdesk import policy
from supportdesk.accounts.models import Category, Institution, System, User
from supportdesk.cache import fragments, generations
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.extensions import db
from supportdesk.tickets.models import Queue, RoutingRule, TicketSource, routing_generation


@dataclass(frozen=True)
class Route:
    """A routing rule as creation needs it: its conditions, outcome and the names logged."""

    name: str
    system_id: int | None
    category_id: int | None
    institution_type: str | None
    source: TicketSource | None
    queue_id: int | None
    queue_name: str | None
    assignee_id: int | None
    assignee_name: str | None

    def matches(
        self,
        system: System,
        category: Category | None,
        institution: Institution | None,
        source: TicketSource,
    ) -> bool:
        """A rule's unset conditions match anything; every set condition must hold."""
        if self.system_id is not None and self.system_id != system.id:
            return False
        if self.category_id is not None and (category is None or self.category_id != category.id):
            return False
        if self.institution_type is not None and (
            institution is None or institution.type != self.institution_type
        ):
            return False
        return not (self.source is not None and self.source != source)


def active_routes(municipality_id: int) -> tuple[Route, ...]:
    """The municipality's active rules by position, cached until a rule or a name changes."""
    names = (
        routing_generation(municipality_id),
        generations.municipality_reference(municipality_id),
        generations.REFERENCE,
    )
    values = fragments.read_generations(*names)  # autoflushes: this transaction's changes are noted
    # changed in this very transaction: the generations are bumped only at its commit
    # (cache/generations.py), so the cache cannot know yet
    if generations.pending(*names):
        return _load_routes(municipality_id)
    return fragments.fragment(
        ("routes", municipality_id, *values), lambda: _load_routes(municipality_id)
    )


def _load_routes(municipality_id: int) -> tuple[Route, ...]:
    rules = db.session.scalars(
        select(RoutingRule)
        .where(RoutingRule.municipality_id == municipality_id, RoutingRule.active.is_(True))
        .options(joinedload(RoutingRule.queue), joinedload(RoutingRule.assignee))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    return tuple(
        Route(
            name=rule.name,
            queue_id=rule.queue_id,
            queue_name=rule.queue.name if rule.queue else None,
            assignee_id=rule.assignee_id,
            assignee_name=rule.assignee.name if rule.assignee else None,
            system_id=rule.system_id,
            category_id=rule.category_id,
            institution_type=rule.institution_type,
            source=rule.source,
        )
        for rule in rules
    )


def find_route(
    municipality_id: int,
    system: System,
    category: Category | None,
    institution: Institution | None,
    source: TicketSource,
) -> Route | None:
    """First active matching rule (by position): it sets queue and/or assignee."""
    for route in active_routes(municipality_id):
        if route.matches(system, category, institution, source):
            return route
    return None


@dataclass(frozen=True)
class Placement:
    """Where a new ticket goes: the matching rule (logged), its queue and its assignee."""

    route: Route | None
    queue_id: int | None
    assignee: User | None


def place(
    municipality_id: int,
    system: System,
    category: Category | None,
    institution: Institution | None,
    source: TicketSource,
) -> Placement:
    """The first matching rule decides; a phone call no rule places goes to the hotline queue."""
    route = find_route(municipality_id, system, category, institution, source)
    queue_id = route.queue_id if route is not None else None
    assignee = None
    if route is not None and route.assignee_id is not None:
        assignee = db.session.get(User, route.assignee_id)
        if assignee is not None and not assignee.active:
            assignee = None  # a rule may outlive its assignee's account
    if queue_id is None and source == TicketSource.hotline:
        queue_id = db.session.scalar(
            select(Queue.id)
            .where(Queue.municipality_id == municipality_id, Queue.is_hotline.is_(True))
            .order_by(Queue.id)
            .limit(1)
        )
    return Placement(route, queue_id, assignee)


def routing_rules(actor: User) -> list[RoutingRule]:
    policy.require_municipal_admin(actor)
    return list(
        db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.municipality_id == actor.municipality_id)
            .options(
                joinedload(RoutingRule.system),
                joinedload(RoutingRule.category),
                joinedload(RoutingRule.queue),
                joinedload(RoutingRule.assignee),
            )
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def get_rule(actor: User, rule_id: int) -> RoutingRule:
    policy.require_municipal_admin(actor)
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None or rule.municipality_id != actor.municipality_id:
        raise NotFound()
    return rule


def save_rule(
    actor: User,
    rule: RoutingRule | None,
    *,
    name: str,
    system: System | None,
    category: Category | None,
    institution_type: Any,
    source: TicketSource | None,
    queue: Queue | None,
    assignee: User | None,
    active: bool = True,
) -> RoutingRule:
    """Create or update a rule of the admin's municipality; a new rule goes last."""
    policy.require_municipal_admin(actor)
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = str(_l("Give the rule a name."))
    if queue is None and assignee is None:
        errors["queue"] = str(_l("Choose a queue, an assignee or both."))
    if queue is not None and queue.municipality_id != actor.municipality_id:
        errors["queue"] = str(_l("Choose a queue in your municipality."))
    if assignee is not None and not policy.can_take_tickets(assignee, actor.municipality_id):
        errors["assignee"] = str(_l("Choose a colleague in your municipality."))
    if category is not None and (system is None or category.system_id != system.id):
        errors["category"] = str(_l("The category does not belong to the chosen system."))
    if errors:
        raise ValidationFailed(fields=errors)
    if rule is None:
        last = db.session.scalar(
            select(func.max(RoutingRule.position)).where(
                RoutingRule.municipality_id == actor.municipality_id
            )
        )
        rule = RoutingRule(municipality_id=actor.municipality_id, position=(last or 0) + 1)
        db.session.add(rule)
    rule.name = name.strip()
    rule.system = system
    rule.category = category
    rule.institution_type = institution_type or None
    rule.source = source
    rule.queue = queue
    rule.assignee = assignee
    rule.active = active
    db.session.flush()
    return rule


def move_rule(actor: User, rule: RoutingRule, direction: int) -> None:
    """Swap with the neighbour above (-1) or below (+1); positions stay dense."""
    rules = routing_rules(actor)
    for index, item in enumerate(rules):
        item.position = index + 1
    index = rules.index(rule)
    other = index + direction
    if 0 <= other < len(rules):
        rules[index].position, rules[other].position = rules[other].position, rules[index].position
    db.session.flush()


def delete_rule(actor: User, rule: RoutingRule) -> None:
    policy.require_municipal_admin(actor)
    db.session.delete(rule)
    db.session.flush()


def create_queue(actor: User, name: str, is_hotline: bool = False) -> Queue:
    policy.require_municipal_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(fields={"name": str(_l("Give the queue a name."))})
    slug = _slugify(name)
    exists = db.session.scalar(
        select(Queue.id).where(Queue.municipality_id == actor.municipality_id, Queue.slug == slug)
    )
    if exists:
        raise ValidationFailed(fields={"name": str(_l("A queue with that name exists."))})
    queue = Queue(
        municipality_id=actor.municipality_id, slug=slug, name=name, is_hotline=is_hotline
    )
    db.session.add(queue)
    db.session.flush()
    return queue


def _slugify(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "koe"
