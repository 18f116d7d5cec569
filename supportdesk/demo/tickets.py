"""Demo tickets: queues, routing rules and ~2,000 realistic tickets over the last 90 days.

Bulk inserts through Core (one executemany per table, numbers reserved in blocks),
so `demo seed --tickets 100000` stays fast. Idempotent: only tops up to the count.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from supportdesk.accounts.models import (
    Institution,
    InstitutionType,
    Municipality,
    Role,
    System,
    User,
)
from supportdesk.cache import generations
from supportdesk.demo.report_patterns import spike_topic, ticket_times
from supportdesk.extensions import db, utcnow
from supportdesk.numbering import NumberSequence
from supportdesk.reports.durations import DONE_STATUSES, fill_business_times
from supportdesk.reports.queries import OPEN_STATUSES
from supportdesk.tickets.history import assignee_data, fill_from_history
from supportdesk.tickets.models import (
    EntryKind,
    Priority,
    Queue,
    RoutingRule,
    SurveyResponse,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
    ticket_generation,
)
from supportdesk.tickets.services import format_number

DEFAULT_COUNT = 2000
DAYS = 90
BATCH = 5000

QUEUES = [
    # slug, name, is_hotline
    ("hotline", "Hotline", True),
    ("skole-it", "Skole-IT", False),
    ("dagtilbud-it", "Dagtilbud-IT", False),
]
RULES = [
    # name, institution types, source, queue slug
    ("Opkald til hotlinen", None, TicketSource.hotline, "hotline"),
    (
        "Skoler, SFO og klubber",
        (InstitutionType.skole, InstitutionType.sfo, InstitutionType.klub),
        None,
        "skole-it",
    ),
    (
        "Dagtilbud og dagpleje",
        (InstitutionType.dagtilbud, InstitutionType.dagpleje),
        None,
        "dagtilbud-it",
    ),
]

SUBJECTS: dict[str, list[str]] = {
    "login": [
        "Forælder kan ikke logge ind med MitID",
        "Elev får fejl ved UNI-Login",
        "Ny medarbejder kan ikke logge ind",
        "Log ind hænger efter opdatering",
        "Vikar mangler adgang",
    ],
    "beskeder": [
        "Beskeder til forældre bliver ikke leveret",
        "Kan ikke sende besked til hele klassen",
        "Besked forsvundet fra indbakken",
        "Forælder modtager beskeder for et barn, der er flyttet",
    ],
    "kalender": ["Skole-hjem-samtaler vises ikke i kalenderen", "Begivenhed dukker op to gange"],
    "komme-gaa": [
        "Komme/gå-skærmen viser forkerte børn",
        "Afhentningstider gemmes ikke",
        "Tablet ved indgangen logger ud hele tiden",
    ],
    "grupper": ["Klassegruppe mangler elever efter skoleårsskift", "Kan ikke oprette ny gruppe"],
    "samtykker": ["Samtykker nulstillet for hele årgangen", "Forælder kan ikke give samtykke"],
    "galleri": ["Billeder uploades ikke fra appen", "Forkert barn tagget på billede"],
    "opslag": ["Opslag kan ikke redigeres", "Opslag vises for forkert gruppe"],
    "sikre-filer": ["Sikre filer kan ikke åbnes", "Dokument delt med forkerte modtagere"],
    "notifikationer": ["Ingen notifikationer på iPhone", "For mange notifikationer om opslag"],
    "app": ["Appen lukker ned ved opstart", "Appen viser hvid skærm"],
    "stamkort": ["Forkert telefonnummer på stamkort", "Kan ikke rette kontaktoplysninger"],
    "forloeb": ["Forløb forsvundet efter kopiering", "Årsplan kan ikke deles med kollega"],
    "elevplaner": ["Elevplan kan ikke udgives til forældre", "Elevplan mangler faglige mål"],
    "opgaver": ["Elever kan ikke aflevere opgave", "Afleveringer vises ikke for læreren"],
    "skoleaarsskift": ["Klasser er ikke rykket op efter skoleårsskift", "Gamle hold vises stadig"],
    "integrationer": ["Integration til Aula fejler", "Fravær overføres ikke"],
    "laeringsmaal": ["Læringsmål kan ikke knyttes til forløb"],
    "deling": ["Mappe kan ikke deles med forældre", "Delt link virker ikke"],
    "adgang": ["Lærer har ikke adgang til fællesdrev", "Elev kan se lærermappe"],
    "synkronisering": ["Filer synkroniserer ikke på skolens pc'er", "Konflikt i synkronisering"],
    "lagerplads": ["Lagerplads opbrugt for skolen", "Kan ikke uploade store videofiler"],
    "brugeroprettelse": ["Ny elev er ikke oprettet", "Pædagog mangler bruger"],
    "uni-login": ["Adgangskode kan ikke nulstilles", "Elev låst ude efter for mange forsøg"],
    "roller": ["Forkert rolle på medarbejder", "Leder mangler administratorrettigheder"],
    "dataimport": ["Import fra elevadministration fejler", "Dubletter efter dataimport"],
    "relationer": ["Forældrerelation mangler", "Forkert kontaktperson tilknyttet barn"],
}
GENERIC = ["Fejl i systemet", "Spørgsmål om brug", "Noget virker ikke som forventet"]

DESCRIPTIONS = [
    "Det startede i morges. Flere kolleger oplever det samme.\n\nVi har prøvet at logge ud og "
    "ind igen og at genstarte computeren.",
    "En forælder har ringet og er frustreret. Det drejer sig om **0.B** og **1.A**.",
    "Fejlen opstår både på pc og i appen. Der kommer ingen fejlbesked, siden bliver bare ved "
    "med at indlæse.",
    "Vi har brug for hjælp hurtigst muligt, da det påvirker hele afdelingen:\n\n"
    "- Det sker hver gang\n- Det gælder alle brugere\n- Det virkede i sidste uge",
    "Kan I se, om det er en kendt fejl? Vi har tjekket FAQ'en uden at finde svar.",
    "Skærmbillede kan eftersendes. Det sker kun for nogle af børnene i vuggestuegruppen.",
]
REPLIES = [
    "Tak for henvendelsen. Vi kigger på det og vender tilbage i dag.",
    "Kan du sende et skærmbillede af fejlen og oplyse, hvilken browser der bruges?",
    "Vi har rettet opsætningen. Prøv venligst igen og giv besked, hvis det stadig driller.",
    "Det er en kendt fejl hos leverandøren. Vi følger op og skriver, når den er løst.",
    "Problemet skyldtes en fejl i dataimporten. Det er nu rettet.",
]
REQUESTER_REPLIES = [
    "Tak, nu virker det igen.",
    "Her er skærmbilledet. Det sker stadig i Chrome.",
    "Det virker desværre stadig ikke hos to af mine kolleger.",
]
REOPENS = [
    "Det virker desværre ikke alligevel. Fejlen er kommet igen i dag.",
    "Vi troede, det var løst, men to forældre kan stadig ikke se beskederne.",
    "Fejlen er tilbage efter weekenden.",
]
# a share of the resolved tickets is reopened by the reporter (the reports' reopen rate)
REOPENABLE = (TicketStatus.open, TicketStatus.resolved, TicketStatus.closed)
REOPEN_SHARE = 0.06
# "Fik du hjælp?": how many reporters answer, and how (mostly content, a few not)
SURVEY_SHARE = 0.3
SCORE_WEIGHTS = [(5, 44), (4, 30), (3, 12), (2, 8), (1, 6)]
SURVEY_COMMENTS: dict[int, list[str]] = {
    5: ["Hurtig og venlig hjælp. Tak!", "Super, det virker nu.", ""],
    4: ["Fint svar, men det tog lidt tid.", ""],
    3: ["Løst, men jeg måtte selv rykke for svar.", ""],
    2: ["Svaret hjalp ikke rigtigt, vi fandt selv en løsning.", ""],
    1: ["Det tog over en uge, og fejlen kom igen.", "Ingen reel hjælp."],
}
NOTES = [
    "Samme problem ses på tre andre skoler. Overvej at samle det i én sag til leverandøren.",
    "Har tjekket loggen: importen fra elevadministrationen fejlede natten til tirsdag.",
    "Ringede til institutionen, lederen er orienteret.",
]

STATUS_WEIGHTS = [
    (TicketStatus.new, 10),
    (TicketStatus.open, 18),
    (TicketStatus.waiting, 10),
    (TicketStatus.escalated, 7),
    (TicketStatus.resolved, 25),
    (TicketStatus.closed, 30),
]
OPEN_HALF_LIFE_DAYS = 10
CLOSED_AFTER_DAYS = 10
PRIORITY_WEIGHTS = [
    (Priority.low, 20),
    (Priority.normal, 55),
    (Priority.high, 20),
    (Priority.critical, 5),
]
MUNICIPALITY_WEIGHT = {"esbjerg": 3, "aalborg": 3}


def _choice(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _ensure_queues_and_rules(municipality: Municipality) -> dict[str, Queue]:
    queues = {
        q.slug: q
        for q in db.session.scalars(select(Queue).where(Queue.municipality_id == municipality.id))
    }
    for slug, name, is_hotline in QUEUES:
        if slug not in queues:
            queues[slug] = Queue(
                municipality_id=municipality.id, slug=slug, name=name, is_hotline=is_hotline
            )
            db.session.add(queues[slug])
    db.session.flush()
    has_rules = db.session.scalar(
        select(func.count())
        .select_from(RoutingRule)
        .where(RoutingRule.municipality_id == municipality.id)
    )
    if not has_rules:
        position = 0
        for name, types, source, queue_slug in RULES:
            for type_ in types or (None,):
                position += 1
                label = name if type_ is None else f"{name} ({type_.value})"
                db.session.add(
                    RoutingRule(
                        municipality_id=municipality.id,
                        position=position,
                        name=label,
                        institution_type=type_,
                        source=source,
                        queue_id=queues[queue_slug].id,
                    )
                )
        db.session.flush()
    return queues


def _status_for(rng: random.Random, created: datetime, now: datetime) -> TicketStatus:
    """Most tickets are done within days, so the backlog is mostly recent: an unresolved
    ticket's chance to be still unresolved halves every OPEN_HALF_LIFE_DAYS."""
    status = _choice(rng, STATUS_WEIGHTS)
    age_days = (now - created).total_seconds() / 86400
    if status in OPEN_STATUSES and rng.random() > 0.5 ** (age_days / OPEN_HALF_LIFE_DAYS):
        old = age_days > CLOSED_AFTER_DAYS and rng.random() < 0.8
        status = TicketStatus.closed if old else TicketStatus.resolved
    if status == TicketStatus.new and age_days > 2:
        status = TicketStatus.open  # someone has looked at it by now
    if age_days < 0.25 and rng.random() < 0.7:
        status = TicketStatus.new
    return status


def reserve_numbers(key: str, count: int) -> range:
    """A block of `count` consecutive ticket numbers (same counter as services)."""
    table = NumberSequence.__table__
    condition = (table.c.scope == "ticket") & (table.c.key == key)
    stmt = update(table).where(condition).values(last_value=table.c.last_value + count)
    if db.session.execute(stmt).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(table).values(scope="ticket", key=key, last_value=0))
        except IntegrityError:
            pass
        db.session.execute(stmt)
    last = db.session.scalar(select(table.c.last_value).where(condition))
    return range(last - count + 1, last + 1)


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> None:
    target = DEFAULT_COUNT if ticket_count is None else max(0, int(ticket_count))
    existing = db.session.scalar(select(func.count()).select_from(Ticket)) or 0
    if db.session.connection().dialect.name == "sqlite":
        # Secondary indexes are updated in random order; SQLite's default 2 MB page
        # cache would thrash (this connection only; it returns to the pool afterwards).
        db.session.connection().exec_driver_sql("PRAGMA cache_size=-262144")
    municipalities = list(db.session.scalars(select(Municipality).order_by(Municipality.id)))
    staff = _staff_by_municipality()
    queues = {m.id: _ensure_queues_and_rules(m) for m in municipalities}
    if existing >= target:
        echo(f"Tickets: {existing} present, none added")
        return
    missing = target - existing
    weights = [MUNICIPALITY_WEIGHT.get(m.slug, 1) for m in municipalities]
    rng = random.Random(20260101 + existing)  # noqa: S311 — demo data, not security
    per_municipality: dict[int, int] = defaultdict(int)
    for m in rng.choices(municipalities, weights=weights, k=missing):
        per_municipality[m.id] += 1
    systems = list(
        db.session.scalars(
            select(System).options(selectinload(System.categories)).order_by(System.id)
        )
    )
    institutions: dict[int, list[Institution]] = defaultdict(list)
    for institution in db.session.scalars(select(Institution).order_by(Institution.id)):
        institutions[institution.municipality_id].append(institution)
    added = 0
    for municipality in municipalities:
        count = per_municipality.get(municipality.id, 0)
        if count and institutions[municipality.id] and staff[municipality.id]["coordinator"]:
            added += _insert_tickets(
                rng,
                municipality,
                count,
                systems,
                institutions[municipality.id],
                staff[municipality.id],
                queues[municipality.id],
            )
    echo(f"Tickets: {added} added, {existing + added} in total")


def _staff_by_municipality() -> dict[int, dict[str, list[User]]]:
    people: dict[int, dict[str, list[User]]] = defaultdict(lambda: defaultdict(list))
    for user in db.session.scalars(
        select(User)
        .where(User.municipality_id.is_not(None), User.active.is_(True))
        .order_by(User.id)
    ):
        key = {
            Role.superuser: "superuser",
            Role.hotline: "hotline",
            Role.coordinator: "coordinator",
            Role.municipal_admin: "admin",
        }[user.role]
        people[user.municipality_id][key].append(user)
    return people


def _insert_tickets(
    rng: random.Random,
    municipality: Municipality,
    count: int,
    systems: list[System],
    institutions: list[Institution],
    staff: dict[str, list[User]],
    queues: dict[str, Queue],
) -> int:
    """Build rows in memory and insert them per table in batches; numbers per year block."""
    now = utcnow()
    superusers_by_institution: dict[int, list[User]] = defaultdict(list)
    for user in staff["superuser"]:
        superusers_by_institution[user.institution_id].append(user)
    coordinators = staff["coordinator"]
    hotline = staff["hotline"]
    # a school's rhythm and one morning's login failure (demo/report_patterns.py)
    created_times = ticket_times(rng, now, DAYS, count)
    by_year: dict[int, list[datetime]] = defaultdict(list)
    for created in created_times:
        by_year[created.year].append(created)
    tickets: list[dict[str, Any]] = []
    plans: dict[str, dict[str, Any]] = {}
    for year, times in sorted(by_year.items()):
        numbers = reserve_numbers(f"{municipality.code}-{year}", len(times))
        for value, created in zip(numbers, times, strict=True):
            institution = rng.choice(institutions)
            system = rng.choice(systems)
            category = rng.choice(system.categories) if system.categories else None
            spike = spike_topic(created, now, systems)
            if spike is not None:
                system, category = spike
            from_hotline = bool(hotline) and rng.random() < 0.18
            candidates = superusers_by_institution.get(institution.id) or coordinators
            creator = rng.choice(hotline) if from_hotline else rng.choice(candidates)
            status = _status_for(rng, created, now)
            priority = _choice(rng, PRIORITY_WEIGHTS)
            assignee = None if status == TicketStatus.new else rng.choice(coordinators)
            if from_hotline:
                queue = queues["hotline"]
            elif institution.type in (InstitutionType.dagtilbud, InstitutionType.dagpleje):
                queue = queues["dagtilbud-it"]
            else:
                queue = queues["skole-it"]
            subjects = SUBJECTS.get(category.slug if category else "", GENERIC)
            age = now - created
            updated = created + age * rng.uniform(0.05, 0.9)
            resolved_at = updated if status in DONE_STATUSES else None
            closed_at = updated if status == TicketStatus.closed else None
            number = format_number(municipality.code, year, value)
            tickets.append(
                {
                    "number": number,
                    "municipality_id": municipality.id,
                    "institution_id": institution.id,
                    "system_id": system.id,
                    "category_id": category.id if category else None,
                    "created_by_id": creator.id,
                    "assignee_id": assignee.id if assignee else None,
                    "queue_id": queue.id,
                    "subject": rng.choice(subjects),
                    "description": rng.choice(DESCRIPTIONS),
                    "status": status.value,
                    "priority": priority.value,
                    "source": (TicketSource.hotline if from_hotline else TicketSource.web).value,
                    "requester_name": _caller(rng) if from_hotline else None,
                    "requester_phone": f"+45 {rng.randint(20, 99)} {rng.randint(10, 99)} "
                    f"{rng.randint(10, 99)} {rng.randint(10, 99)}"
                    if from_hotline
                    else None,
                    "requester_email": None,
                    "created_at": created,
                    "updated_at": updated,
                    "resolved_at": resolved_at,
                    "closed_at": closed_at,
                    "version": 1,
                }
            )
            plans[number] = {
                "creator": creator,
                "assignee": assignee,
                "status": status,
                "created": created,
                "updated": updated,
                "queue": queue,
                "from_hotline": from_hotline,
            }
    bulk_insert(Ticket.__table__, tickets)
    ids = _ids_for(municipality.id, plans)
    entries: list[dict[str, Any]] = []
    for number, plan in plans.items():
        entries.extend(_entries_for(rng, ids[number], municipality.id, plan))
    bulk_insert(TicketEntry.__table__, entries)
    bulk_insert(SurveyResponse.__table__, _survey_answers(rng, ids, municipality.id, plans, now))
    # the replies were inserted in bulk, not through history.touch
    fill_from_history(Ticket.municipality_id == municipality.id)
    fill_business_times(db.session, Ticket.municipality_id == municipality.id)
    generations.bump(
        ticket_generation(municipality.id)
    )  # bulk inserts bypass the session's tracking
    return len(tickets)


def bulk_insert(table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight on the driver: SQLAlchemy's per-value processing would cost
    most of the time for 100,000 tickets. Values are converted the way the column types
    would store them (UTC datetimes; JSON as text)."""
    if not rows:
        return
    columns = list(rows[0])
    connection = db.session.connection()
    sqlite = connection.dialect.name == "sqlite"
    marker = "?" if sqlite else "%s"
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join([marker] * len(columns))})'  # noqa: S608 — names from metadata

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
            return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value
        if isinstance(value, dict):
            return json.dumps(value)
        return value

    for start in range(0, len(rows), BATCH):
        batch = [tuple(convert(row[c]) for c in columns) for row in rows[start : start + BATCH]]
        connection.exec_driver_sql(sql, batch)


def _ids_for(municipality_id: int, plans: dict[str, Any]) -> dict[str, int]:
    """Number → id of the rows just inserted (no huge IN list for 100,000 numbers)."""
    table = Ticket.__table__
    rows = db.session.execute(
        select(table.c.number, table.c.id).where(table.c.municipality_id == municipality_id)
    )
    return {number: ident for number, ident in rows if number in plans}


def _survey_answers(
    rng: random.Random,
    ids: dict[str, int],
    municipality_id: int,
    plans: dict[str, dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """ "Fik du hjælp?" answers by the reporters of some resolved web tickets (a hotline
    caller is not asked), given hours to a day or two after the resolution."""
    rows = []
    for number, plan in plans.items():
        done = plan["status"] in DONE_STATUSES
        # not asked: a hotline caller, or a reporter who resolved it themselves
        asked = done and not plan["from_hotline"] and plan["assignee"] is not plan["creator"]
        if not asked or rng.random() >= SURVEY_SHARE:
            continue
        score = _choice(rng, SCORE_WEIGHTS)
        answered = plan["updated"] + timedelta(hours=rng.uniform(0.5, 40))
        rows.append(
            {
                "ticket_id": ids[number],
                "municipality_id": municipality_id,
                "user_id": plan["creator"].id,
                "score": score,
                "comment": rng.choice(SURVEY_COMMENTS[score]),
                "created_at": min(answered, now - timedelta(minutes=5)),
            }
        )
    return rows


def _caller(rng: random.Random) -> str:
    first = ["Mette", "Ali", "Sofie", "Jonas", "Fatima", "Kasper", "Line", "Mads", "Ida"]
    last = ["Hansen", "Nielsen", "Yilmaz", "Larsen", "Madsen", "Ahmed", "Holm"]
    return f"{rng.choice(first)} {rng.choice(last)} (forælder)"


def _entries_for(
    rng: random.Random, ticket_id: int, municipality_id: int, plan: dict[str, Any]
) -> list[dict[str, Any]]:
    created: datetime = plan["created"]
    updated: datetime = plan["updated"]
    status: TicketStatus = plan["status"]
    creator: User = plan["creator"]
    assignee: User | None = plan["assignee"]
    span = max((updated - created).total_seconds(), 60)

    def at(fraction: float) -> datetime:
        return created + timedelta(seconds=span * fraction)

    def row(kind: EntryKind, when: datetime, **values: Any) -> dict[str, Any]:
        return {
            "ticket_id": ticket_id,
            "municipality_id": municipality_id,
            "kind": kind.value,
            "author_id": values.get("author_id"),
            "body": values.get("body", ""),
            "event": values.get("event"),
            "data": values.get("data"),
            "created_at": when,
        }

    def status_change(when: datetime, old: str, new: str) -> dict[str, Any]:
        data = {"from": old, "to": new}
        return row(EntryKind.event, when, author_id=assignee.id, event="status", data=data)

    source = "hotline" if plan["queue"].is_hotline else "web"
    rows = [
        row(
            EntryKind.event, created, author_id=creator.id, event="created", data={"source": source}
        ),
        row(
            EntryKind.event,
            created,
            event="routed",
            data={"rule": plan["queue"].name, "queue": plan["queue"].name, "assignee": None},
        ),
    ]
    if status == TicketStatus.new:
        return rows
    rows.append(
        row(
            EntryKind.event,
            at(0.1),
            author_id=assignee.id,
            event="assigned",
            data=assignee_data(assignee.name, assignee.id),
        )
    )
    rows.append(status_change(at(0.1), "new", "open"))
    rows.append(row(EntryKind.reply, at(0.2), author_id=assignee.id, body=rng.choice(REPLIES)))
    if rng.random() < 0.35:
        rows.append(
            row(EntryKind.internal_note, at(0.3), author_id=assignee.id, body=rng.choice(NOTES))
        )
    if rng.random() < 0.5:
        rows.append(
            row(EntryKind.reply, at(0.4), author_id=creator.id, body=rng.choice(REQUESTER_REPLIES))
        )
    if status in REOPENABLE and rng.random() < REOPEN_SHARE:
        # resolved too early: the reporter reopens it (and it is resolved again unless open)
        rows.append(status_change(at(0.5), "open", "resolved"))
        data = {"from": "resolved", "to": "open"}
        rows.append(row(EntryKind.event, at(0.6), author_id=creator.id, event="status", data=data))
        rows.append(row(EntryKind.reply, at(0.6), author_id=creator.id, body=rng.choice(REOPENS)))
    if status != TicketStatus.open:
        if status == TicketStatus.closed:
            rows.append(status_change(at(0.9), "open", "resolved"))
            previous = "resolved"
        else:
            previous = "open"
        rows.append(status_change(updated, previous, status.value))
    return rows
