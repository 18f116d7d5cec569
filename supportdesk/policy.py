"""Who may do what, and the tenant-scoped queries every list starts from.

Nothing else decides access: views and services ask here. A row the user may
not see is *not found* (404), never *forbidden*, so another municipality's
objects cannot even be confirmed to exist. `can_*` answers yes/no for objects
the user can already see; `*_visible_to` builds the scoped query; `get_*`
loads one object or raises NotFound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import selectinload

from supportdesk.accounts.models import (
    MUNICIPAL_ROLES,
    Institution,
    Municipality,
    Role,
    SupportEntitlement,
    System,
    User,
    Vendor,
)
from supportdesk.audit.models import SecurityEvent
from supportdesk.errors import Forbidden, NotFound
from supportdesk.escalation.masking import has_cpr
from supportdesk.escalation.models import KnownIssue, SensitiveDataConfirmation, VendorCase
from supportdesk.extensions import db
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    Queue,
    Ticket,
    TicketStatus,
    TicketView,
)
from supportdesk.webhooks.models import Webhook

# --- organisations -------------------------------------------------------------


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.role == Role.admin


def is_municipal(user: User) -> bool:
    return user.is_authenticated and user.role in MUNICIPAL_ROLES


def is_vendor_staff(user: User) -> bool:
    return user.is_authenticated and user.role.is_vendor


def municipalities_visible_to(user: User) -> Select[tuple[Municipality]]:
    query = select(Municipality).order_by(Municipality.name)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(Municipality.id == user.municipality_id)
    return query.where(false())


def institutions_visible_to(user: User) -> Select[tuple[Institution]]:
    """Municipal staff see their municipality's institutions; admin sees all."""
    query = select(Institution).order_by(Institution.name)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(Institution.municipality_id == user.municipality_id)
    return query.where(false())


def get_institution(user: User, number: str) -> Institution:
    institution = db.session.scalar(
        institutions_visible_to(user).where(Institution.number == number)
    )
    if institution is None:
        raise NotFound()
    return institution


def get_municipality(user: User, slug: str) -> Municipality:
    municipality = db.session.scalar(
        municipalities_visible_to(user).where(Municipality.slug == slug)
    )
    if municipality is None:
        raise NotFound()
    return municipality


# --- user administration ------------------------------------------------------


def can_manage_municipality(user: User, municipality_id: int | None) -> bool:
    """Municipal admins manage users and institutions of their own municipality."""
    if is_admin(user):
        return True
    return (
        user.is_authenticated
        and user.role == Role.municipal_admin
        and municipality_id is not None
        and municipality_id == user.municipality_id
    )


def users_visible_to(user: User) -> Select[tuple[User]]:
    """Whom a user administrator may list: admin everyone, municipal admin own municipality."""
    query = select(User).order_by(User.name)
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.municipal_admin:
        return query.where(User.municipality_id == user.municipality_id)
    return query.where(false())


MAX_ID = 2**31 - 1  # ids from URLs and forms beyond INTEGER would fail in the database


def get_managed_user(actor: User, user_id: int) -> User:
    if not 0 < user_id <= MAX_ID:
        raise NotFound()
    target = db.session.scalar(users_visible_to(actor).where(User.id == user_id))
    if target is None:
        raise NotFound()
    return target


def assignable_roles(actor: User) -> list[Role]:
    """Roles the actor may give: municipal admins only create municipal roles."""
    if is_admin(actor):
        return list(Role)
    if actor.is_authenticated and actor.role == Role.municipal_admin:
        return [Role.superuser, Role.hotline, Role.coordinator, Role.municipal_admin]
    return []


def require_manage_municipality(user: User, municipality_id: int | None) -> None:
    if not can_manage_municipality(user, municipality_id):
        raise NotFound()


def require_admin(user: User) -> None:
    """System administration pages: everyone else gets 404, not a confirmation."""
    if not is_admin(user):
        raise NotFound()


def can_administer(user: User) -> bool:
    """The administration pages: municipal admins (own municipality) and the system admin."""
    return user.is_authenticated and user.role in (Role.municipal_admin, Role.admin)


def require_municipal_admin(user: User) -> None:
    if not can_administer(user):
        raise NotFound()


def managed_municipality(user: User, slug: str | None) -> Municipality | None:
    """The municipality an administration page works on: a municipal admin's own (any
    other slug is not found); admin picks any, None while none is chosen."""
    require_municipal_admin(user)
    if user.role == Role.municipal_admin:
        if slug and slug != user.municipality.slug:
            raise NotFound()
        return user.municipality
    return get_municipality(user, slug) if slug else None


def get_managed_institution(actor: User, number: str) -> Institution:
    """An institution the actor administers; anyone else's is not found."""
    institution = get_institution(actor, number)
    require_manage_municipality(actor, institution.municipality_id)
    return institution


# --- support entitlement --------------------------------------------------------


def can_hold_entitlement(user: User) -> bool:
    """Only coordinators (supportberettigede) hold support entitlements."""
    return user.role == Role.coordinator and user.active and user.municipality_id is not None


def can_grant_entitlement(actor: User, target: User) -> bool:
    return can_manage_municipality(actor, target.municipality_id)


def is_entitled(user: User, vendor: Vendor | int) -> bool:
    """Support-entitled for this vendor (rule 2): may talk to its servicedesk."""
    vendor_id = vendor if isinstance(vendor, int) else vendor.id
    return (
        user.is_authenticated
        and user.role == Role.coordinator
        and vendor_id in user.entitled_vendor_ids
    )


def entitlements_visible_to(user: User) -> Select[tuple[SupportEntitlement]]:
    query = select(SupportEntitlement)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(SupportEntitlement.municipality_id == user.municipality_id)
    return query.where(false())


def require(condition: bool) -> None:
    """For objects the user can already see: a visible 'no' (403)."""
    if not condition:
        raise Forbidden()


# --- tickets ----------------------------------------------------------------------

TICKET_STAFF_ROLES = frozenset({Role.coordinator, Role.municipal_admin})


def can_create_ticket(user: User) -> bool:
    """Municipal staff log tickets in their own municipality."""
    return is_municipal(user) and user.municipality_id is not None


def tickets_visible_to(user: User) -> Select[tuple[Ticket]]:
    """Single starting point, so no list, search or export forgets the tenant."""
    if not is_municipal(user):
        return select(Ticket).where(false())  # vendor staff see cases, not tickets
    query = select(Ticket).where(Ticket.municipality_id == user.municipality_id)
    match user.role:
        case Role.coordinator | Role.municipal_admin:
            return query
        case Role.superuser:
            own = [Ticket.created_by_id == user.id]
            if user.institution_id is not None:
                own.append(Ticket.institution_id == user.institution_id)
            return query.where(or_(*own))
        case Role.hotline:
            hotline_queues = select(Queue.id).where(
                Queue.municipality_id == user.municipality_id, Queue.is_hotline.is_(True)
            )
            return query.where(
                or_(Ticket.created_by_id == user.id, Ticket.queue_id.in_(hotline_queues))
            )
        case _:
            return query.where(false())


def get_ticket(user: User, number: str) -> Ticket:
    ticket = db.session.scalar(tickets_visible_to(user).where(Ticket.number == number))
    if ticket is None:
        raise NotFound()
    return ticket


def is_ticket_staff(user: User) -> bool:
    """Coordinators and municipal admins work the municipality's tickets."""
    return user.is_authenticated and user.role in TICKET_STAFF_ROLES


def can_see_internal_notes(user: User, ticket: Ticket) -> bool:
    """Internal notes are for municipal ticket staff only, never superusers or hotline."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_reply(user: User, ticket: Ticket) -> bool:
    return (
        is_municipal(user)
        and user.municipality_id == ticket.municipality_id
        and ticket.status != TicketStatus.closed
    )


def can_add_internal_note(user: User, ticket: Ticket) -> bool:
    return can_see_internal_notes(user, ticket)


def can_assign(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_status(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_priority(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_category(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_reopen(user: User, ticket: Ticket) -> bool:
    """The creator (or ticket staff) may reopen; the window itself is checked by the service."""
    if ticket.status not in (TicketStatus.resolved, TicketStatus.closed):
        return False
    return user.municipality_id == ticket.municipality_id and (
        ticket.created_by_id == user.id or is_ticket_staff(user)
    )


def can_triage(user: User) -> bool:
    """The municipality's triage queue with filters and bulk actions."""
    return is_ticket_staff(user) and user.municipality_id is not None


def ticket_list_scopes(user: User) -> tuple[str | None, ...]:
    """The views of the ticket list a user chooses between (tabs); the first is the default.

    A scope only narrows `tickets_visible_to`. Staff who triage get filters instead.
    """
    if can_triage(user):
        return ()
    match user.role:
        case Role.superuser:
            return (None, "mine", "institution")
        case Role.hotline:
            return ("mine", "queue")
    return ()


def can_manage_routing(user: User) -> bool:
    """Routing rules and queues belong to the municipal admin of that municipality."""
    return (
        user.is_authenticated
        and user.role == Role.municipal_admin
        and user.municipality_id is not None
    )


def can_take_hotline_calls(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.hotline, *TICKET_STAFF_ROLES)


def can_view_attachment(user: User, attachment: Attachment) -> bool:
    """Attachments on an internal note are as internal as the note."""
    if attachment.entry is not None and attachment.entry.kind == EntryKind.internal_note:
        return can_see_internal_notes(user, attachment.ticket)
    return True


def get_attachment(user: User, number: str, attachment_id: int) -> Attachment:
    ticket = get_ticket(user, number)
    attachment = db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.ticket_id == ticket.id)
    )
    if attachment is None or not can_view_attachment(user, attachment):
        raise NotFound()
    return attachment


def queues_visible_to(user: User) -> Select[tuple[Queue]]:
    if not is_municipal(user):
        return select(Queue).where(false())
    return select(Queue).where(Queue.municipality_id == user.municipality_id).order_by(Queue.name)


def assignable_users(user: User) -> Select[tuple[User]]:
    """Who a ticket in the user's municipality can be assigned to."""
    if not is_ticket_staff(user):
        return select(User).where(false())
    return (
        select(User)
        .where(
            User.municipality_id == user.municipality_id,
            User.role.in_([Role.coordinator, Role.municipal_admin, Role.hotline]),
            User.active.is_(True),
        )
        .order_by(User.name)
    )


# --- vendor cases and known issues (escalation) ----------------------------------------


def can_escalate(user: User, vendor: Vendor | int) -> bool:
    """Only a coordinator entitled for the vendor talks to its servicedesk (rule 3)."""
    return is_entitled(user, vendor)


def is_vendor_agent(user: User, vendor_id: int | None = None) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.vendor_agent
        and user.vendor_id is not None
        and (vendor_id is None or user.vendor_id == vendor_id)
    )


def cases_visible_to(user: User) -> Select[tuple[VendorCase]]:
    """Vendor agents see their vendor's cases from every municipality; coordinators and
    municipal admins their own municipality's. Nobody else sees cases."""
    query = select(VendorCase)
    if is_vendor_agent(user):
        return query.where(VendorCase.vendor_id == user.vendor_id)
    if is_ticket_staff(user) and user.municipality_id is not None:
        return query.where(VendorCase.municipality_id == user.municipality_id)
    return query.where(false())


def get_case(user: User, number: str) -> VendorCase:
    case = db.session.scalar(cases_visible_to(user).where(VendorCase.number == number))
    if case is None:
        raise NotFound()
    return case


def can_see_cases(user: User) -> bool:
    return is_vendor_agent(user) or (is_ticket_staff(user) and user.municipality_id is not None)


def is_case_vendor_side(user: User, case: VendorCase) -> bool:
    return is_vendor_agent(user, case.vendor_id)


def is_case_municipal_side(user: User, case: VendorCase) -> bool:
    """An entitled coordinator of the case's municipality speaks for the municipality."""
    return user.municipality_id == case.municipality_id and is_entitled(user, case.vendor_id)


def can_message_case(user: User, case: VendorCase) -> bool:
    if case.status == "closed":  # a resolved case can still be discussed (and reopened)
        return False
    return is_case_vendor_side(user, case) or is_case_municipal_side(user, case)


def can_manage_case(user: User, case: VendorCase) -> bool:
    """Status, assignment and the vendor's own reference: the vendor's agents."""
    return is_case_vendor_side(user, case)


def can_relay_case(user: User, case: VendorCase) -> bool:
    """Relaying answers to tickets and resolving them: the municipality's entitled side."""
    return is_case_municipal_side(user, case)


def vendor_agents(vendor_id: int | None) -> Select[tuple[User]]:
    """The vendor's active servicedesk agents."""
    return (
        select(User)
        .where(
            User.vendor_id == vendor_id,
            User.role == Role.vendor_agent,
            User.active.is_(True),
        )
        .order_by(User.name)
    )


def case_agents(case: VendorCase) -> Select[tuple[User]]:
    """Whom a case can be assigned to: the vendor's active agents."""
    return vendor_agents(case.vendor_id)


def systems_managed_by(user: User) -> Select[tuple[System]]:
    """The systems of the vendor a vendor user works for (nothing for anyone else)."""
    if not (is_vendor_staff(user) and user.vendor_id is not None):
        return select(System).where(false())
    return select(System).where(System.vendor_id == user.vendor_id).order_by(System.name)


def can_view_known_issues(user: User) -> bool:
    """Municipal staff read the known issues; vendor staff also publish them."""
    return can_manage_known_issues(user) or is_municipal(user)


def can_manage_known_issues(user: User, vendor_id: int | None = None) -> bool:
    """Vendor agents and FAQ editors publish incidents for their own vendor's systems."""
    return (
        user.is_authenticated
        and user.role in (Role.vendor_agent, Role.vendor_editor)
        and user.vendor_id is not None
        and (vendor_id is None or user.vendor_id == vendor_id)
    )


def can_link_known_issue(user: User, ticket: Ticket) -> bool:
    """Ticket staff tie a ticket to a known issue ("Det er den kendte fejl")."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def get_managed_known_issue(user: User, issue_id: int) -> KnownIssue:
    issue = db.session.get(KnownIssue, issue_id)
    if issue is None or not can_manage_known_issues(user, issue.vendor_id):
        raise NotFound()
    return issue


# --- FAQ articles -------------------------------------------------------------------


def article_visibility(user: User):
    """Which published articles the user may read; the search filter is built from this."""
    from supportdesk.faq.models import Visibility

    if not user.is_authenticated:
        return Visibility()
    if is_admin(user):
        return Visibility(everything=True)
    if is_municipal(user):
        return Visibility(first_level=True, municipality_id=user.municipality_id)
    if is_vendor_staff(user):
        return Visibility(first_level=True, vendor_id=user.vendor_id)
    return Visibility()


def articles_visible_to(user: User):
    """Published articles the user may read (the SQL twin of the search filter)."""
    from supportdesk.accounts.models import System
    from supportdesk.faq.models import Article, ArticleState, Audience

    scope = article_visibility(user)
    query = select(Article).where(Article.state == ArticleState.published)
    if scope.everything:
        return query
    allowed = [Article.audience == Audience.public]
    if scope.first_level:
        allowed.append(Article.audience == Audience.first_level)
    if scope.municipality_id is not None:
        allowed.append(
            (Article.audience == Audience.municipal)
            & (Article.municipality_id == scope.municipality_id)
        )
    if scope.vendor_id is not None:
        vendor_systems = select(System.id).where(System.vendor_id == scope.vendor_id)
        allowed.append(
            (Article.audience == Audience.vendor_internal) & Article.system_id.in_(vendor_systems)
        )
    return query.where(or_(*allowed))


def articles_editable_by(user: User):
    """Articles in any state the user may edit: vendor editors their systems' articles
    (not municipal guides), municipal admins their municipality's local guides."""
    from supportdesk.accounts.models import System
    from supportdesk.faq.models import Article, Audience

    query = select(Article)
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.vendor_editor and user.vendor_id:
        vendor_systems = select(System.id).where(System.vendor_id == user.vendor_id)
        return query.where(
            Article.system_id.in_(vendor_systems), Article.audience != Audience.municipal
        )
    if user.is_authenticated and user.role == Role.municipal_admin:
        return query.where(
            Article.audience == Audience.municipal,
            Article.municipality_id == user.municipality_id,
        )
    return query.where(false())


def can_edit_faq(user: User) -> bool:
    """May open the editor pages at all."""
    return user.is_authenticated and user.role in (
        Role.vendor_editor,
        Role.municipal_admin,
        Role.admin,
    )


@dataclass(frozen=True)
class ArticlePlacement:
    """Where an FAQ editor may file an article."""

    systems: Select[tuple[System]]  # with their categories, by name
    audiences: tuple[str, ...]  # Audience values the editor may choose
    municipalities: Select[tuple[Municipality]]  # choices for a municipal article
    own_municipality_id: int | None  # a municipal article always belongs here


def article_placement(user: User) -> ArticlePlacement:
    """Vendor editors write for their vendor's systems, never municipal articles; a
    municipal admin writes municipal articles for the own municipality only."""
    from supportdesk.faq.models import Audience

    systems = select(System).options(selectinload(System.categories)).order_by(System.name)
    nowhere = select(Municipality).where(false())
    if user.is_authenticated and user.role == Role.vendor_editor:
        return ArticlePlacement(
            systems=systems.where(System.vendor_id == user.vendor_id),
            audiences=tuple(a.value for a in Audience if a != Audience.municipal),
            municipalities=nowhere,
            own_municipality_id=None,
        )
    if user.is_authenticated and user.role == Role.municipal_admin:
        return ArticlePlacement(
            systems=systems,
            audiences=(Audience.municipal.value,),
            municipalities=municipalities_visible_to(user),
            own_municipality_id=user.municipality_id,
        )
    if is_admin(user):
        return ArticlePlacement(
            systems=systems,
            audiences=tuple(a.value for a in Audience),
            municipalities=municipalities_visible_to(user),
            own_municipality_id=None,
        )
    return ArticlePlacement(systems.where(false()), (), nowhere, None)


def can_edit_article(user: User, article) -> bool:
    from supportdesk.faq.models import Audience

    if is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    if user.role == Role.vendor_editor:
        return article.audience != Audience.municipal and article.system.vendor_id == user.vendor_id
    if user.role == Role.municipal_admin:
        return (
            article.audience == Audience.municipal
            and article.municipality_id == user.municipality_id
        )
    return False


def can_publish_article(user: User, article) -> bool:
    """Editors review and publish their own domain's articles."""
    return can_edit_article(user, article)


def get_article(user: User, slug: str):
    """A published article the user may read, or one they may edit in any state."""
    from supportdesk.faq.models import Article

    article = db.session.scalar(articles_visible_to(user).where(Article.slug == slug))
    if article is None and can_edit_faq(user):
        article = db.session.scalar(articles_editable_by(user).where(Article.slug == slug))
    if article is None:
        raise NotFound()
    return article


def get_editable_article(user: User, slug: str):
    from supportdesk.faq.models import Article

    article = db.session.scalar(articles_editable_by(user).where(Article.slug == slug))
    if article is None:
        raise NotFound()
    return article


def can_view_faq_report(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.vendor_editor, Role.admin)


# --- webhooks ---------------------------------------------------------------------------


def can_manage_webhooks(
    user: User, *, vendor_id: int | None = None, municipality_id: int | None = None
) -> bool:
    """A vendor's webhooks: the system admin; a municipality's: its municipal admins too."""
    if vendor_id is not None:
        return is_admin(user)
    return can_manage_municipality(user, municipality_id)


def webhooks_visible_to(user: User) -> Select[tuple[Webhook]]:
    """Admin sees every webhook; a municipal admin the own municipality's; nobody else any."""
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.municipal_admin and user.municipality_id:
        return query.where(Webhook.municipality_id == user.municipality_id)
    return query.where(false())


def get_webhook(user: User, webhook_id: int) -> Webhook:
    """A webhook the user manages; another tenant's is not found, never forbidden."""
    if not 0 < webhook_id <= MAX_ID:
        raise NotFound()
    webhook = db.session.scalar(webhooks_visible_to(user).where(Webhook.id == webhook_id))
    if webhook is None:
        raise NotFound()
    return webhook


def webhook_owner(
    user: User, *, municipality: str | None = None, vendor: str | None = None
) -> tuple[Municipality | None, Vendor | None]:
    """The owner a webhook page works on: a municipal admin's own municipality (any other
    slug or a vendor is not found); admin names a vendor or a municipality, or neither for
    the overview of all webhooks."""
    require_municipal_admin(user)
    if user.role == Role.municipal_admin:
        if vendor or (municipality and municipality != user.municipality.slug):
            raise NotFound()
        return user.municipality, None
    if vendor:
        found = db.session.scalar(select(Vendor).where(Vendor.slug == vendor))
        if found is None:
            raise NotFound()
        return None, found
    return (get_municipality(user, municipality) if municipality else None), None


def webhook_reader(case: VendorCase, *, vendor_side: bool) -> User:
    """Whose eyes a webhook payload is built with: an agent of the case's vendor, or a
    coordinator of its municipality. A transient user, never saved, so the API's case JSON
    and the rules above decide what a receiver gets, exactly as for that person."""
    if vendor_side:
        return User(
            name="webhook", email="", role=Role.vendor_agent, vendor_id=case.vendor_id, active=True
        )
    return User(
        name="webhook",
        email="",
        role=Role.coordinator,
        municipality_id=case.municipality_id,
        active=True,
    )


# --- trust: two-factor sign-in, audit logs, personal data -------------------------------

TWO_FACTOR_ROLES = frozenset(
    {Role.vendor_agent, Role.vendor_editor, Role.municipal_admin, Role.admin}
)


def two_factor_required(user: User) -> bool:
    """Admins and vendor staff always; coordinators where their municipality asks for it."""
    if not user.is_authenticated:
        return False
    if user.role in TWO_FACTOR_ROLES:
        return True
    return (
        user.role == Role.coordinator
        and user.municipality is not None
        and user.municipality.require_2fa_coordinators
    )


def must_set_up_two_factor(user: User) -> bool:
    """Such a user may reach only the set-up page and sign-out until they have done it."""
    return two_factor_required(user) and not user.has_two_factor


def can_set_two_factor_policy(user: User, municipality_id: int | None) -> bool:
    return can_manage_municipality(user, municipality_id)


def can_reset_two_factor(actor: User, target: User) -> bool:
    """Support for a lost phone: an administrator of the user's municipality (vendor staff
    and admins: the system admin), never for oneself here."""
    return actor.id != target.id and can_manage_municipality(actor, target.municipality_id)


def can_view_audit_logs(user: User) -> bool:
    """The security log and the access log: municipal admins (own municipality), admin."""
    return can_administer(user)


def _audit_rows(user: User, query: Select, municipality_column) -> Select:
    """A log's rows: a municipal admin's own municipality, everything for the admin."""
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.municipal_admin and user.municipality_id:
        return query.where(municipality_column == user.municipality_id)
    return query.where(false())


def security_events_visible_to(user: User) -> Select[tuple[SecurityEvent]]:
    """A municipal admin sees the events of the municipality's accounts; admin all."""
    return _audit_rows(user, select(SecurityEvent), SecurityEvent.municipality_id)


def ticket_views_visible_to(user: User) -> Select[tuple[TicketView]]:
    """Who looked at which ticket: the municipality's admins for its tickets; admin all."""
    return _audit_rows(user, select(TicketView), TicketView.municipality_id)


def sensitive_confirmations_visible_to(user: User) -> Select[tuple[SensitiveDataConfirmation]]:
    """Who let CPR numbers reach a vendor: the same readers as the access log."""
    return _audit_rows(
        user, select(SensitiveDataConfirmation), SensitiveDataConfirmation.municipality_id
    )


def audit_ticket(user: User, number: str) -> Ticket:
    """A ticket whose access log the user may read; another municipality's is not found."""
    if not can_view_audit_logs(user):
        raise NotFound()
    query = select(Ticket).where(Ticket.number == number)
    if not is_admin(user):
        query = query.where(Ticket.municipality_id == user.municipality_id)
    ticket = db.session.scalar(query)
    if ticket is None:
        raise NotFound()
    return ticket


def can_use_personal_data_tools(user: User) -> bool:
    """Export and erasure of one person's data (GDPR): municipal admins, admin."""
    return can_administer(user)


def personal_data_scope(user: User) -> int | None:
    """The municipality whose data the user's GDPR tools reach; None means every one."""
    if not can_use_personal_data_tools(user):
        raise NotFound()
    return None if is_admin(user) else user.municipality_id


def sharing_needs_step_up(confirm_unmasked: bool, texts: Iterable[str | None]) -> bool:
    """Sending a detected CPR number unmasked to a vendor asks for the password again
    (when the last sign-in is older than accounts.stepup.STEP_UP_AFTER)."""
    return confirm_unmasked and has_cpr(*texts)
