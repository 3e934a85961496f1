"""``sportello demo-data``: a desk worth clicking through, drawn from our support manuals.

It goes into a fresh database or one that holds only admins (the README
quickstart's ``SPORTELLO_ADMIN_*`` admin stays as it is, beside the demo's own
admin). Anything else (customers, tickets, categories, or a user with a demo
address) could collide with the demo's rows, so it refuses and says which.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.base import utcnow
from app.db.models import (
    BusinessCalendar,
    Category,
    Customer,
    Notification,
    SlaPolicy,
    Ticket,
    User,
)
from app.db.session import make_engine, make_sessionmaker
from app.demo_articles import load_demo_articles
from app.demo_tickets import load_demo_tickets
from app.domain.access import Locale, Role
from app.domain.notifications import NotificationKind, NotificationStatus
from app.domain.orders import OrderKind, OrderStatus
from app.domain.tickets import TicketType
from app.infra.blob_stores import make_storage
from app.infra.mail import public_link
from app.services import categories as category_service
from app.services import customers as customer_service
from app.services import notifications as _notifications  # noqa: F401  (the outbox listens)
from app.services import orders as order_service
from app.services import users as user_service

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

DEMO_PASSWORD = "demo-password"  # noqa: S105  (published demo credentials)


@dataclass(frozen=True)
class DemoCustomer:
    code: str
    name: str
    email: str
    phone: str
    locale: Locale
    plan: str
    users: list[tuple[str, str, str]] = field(default_factory=list)
    orders: list[tuple[str, OrderKind, str]] = field(default_factory=list)


CUSTOMERS = [
    DemoCustomer(
        code="AGRI-BIANCHI",
        name="Azienda Agricola Bianchi S.r.l.",
        email="amministrazione@agricolabianchi.example",
        phone="+39 0541 123456",
        locale=Locale.IT,
        plan="Gestionale Cantina - Premium",
        users=[
            ("mario.rossi@agricolabianchi.example", "Mario Rossi", "+39 333 1234567"),
            ("giulia.bianchi@agricolabianchi.example", "Giulia Bianchi", "+39 347 7654321"),
        ],
        orders=[
            ("ORD-2026-0142", OrderKind.SUBSCRIPTION, "Abbonamento annuale gestionale cantina"),
            ("ORD-2026-0187", OrderKind.PURCHASE, "Modulo registri telematici SIAN"),
        ],
    ),
    DemoCustomer(
        code="HOST-MARTINEZ",
        name="Hostelería Martínez S.L.",
        email="administracion@hosteleriamartinez.example",
        phone="+34 91 123 45 67",
        locale=Locale.ES,
        plan="Hosting Web Profesional",
        users=[
            ("lucia.martinez@hosteleriamartinez.example", "Lucía Martínez", "+34 612 345 678"),
            ("javier.garcia@hosteleriamartinez.example", "Javier García", "+34 622 987 654"),
        ],
        orders=[
            ("SUB-ES-55021", OrderKind.SUBSCRIPTION, "Suscripción hosting Linux con dominio"),
            ("PED-ES-77310", OrderKind.PURCHASE, "Certificado SSL para tienda online"),
        ],
    ),
]

CATEGORIES: dict[TicketType, list[tuple[str, list[str]]]] = {
    TicketType.TECHNICAL: [
        ("Contabilità", ["Prima nota", "Registri IVA", "Bilancio"]),
        ("Fatturazione elettronica", ["Invio allo SdI", "Ricezione fatture", "Conservazione"]),
        ("Magazzino", ["Inventario", "Movimenti di magazzino"]),
        ("Registri telematici SIAN", ["Invio operazioni", "MMV-E"]),
    ],
    TicketType.ADMINISTRATIVE: [
        ("Fatture ed estratto conto", ["Duplicato fattura", "Estratto conto"]),
        ("Pagamenti", ["Bonifico", "Carta di credito", "Insoluti"]),
        ("Disdette", ["Disdetta abbonamento", "Cancellazione dati"]),
    ],
    TicketType.COMMERCIAL: [
        ("Informazioni commerciali", ["Listino prezzi", "Nuovi moduli"]),
        ("Rinnovi", []),
    ],
    TicketType.ORDER: [
        ("Stato dell'ordine", ["Spedizione", "Attivazione servizio"]),
        ("Dominio e hosting", ["Trasferimento dominio", "Certificato SSL"]),
    ],
}

AGENTS = [
    ("anna.verdi@sportello.example", "Anna Verdi", Role.AGENT, Locale.IT),
    ("carlos.ruiz@sportello.example", "Carlos Ruiz", Role.AGENT, Locale.ES),
    ("admin@sportello.example", "Demo Admin", Role.ADMIN, Locale.EN),
]


class DemoRefused(Exception):
    """The database holds something the demo would collide with; the message says what."""


@dataclass(frozen=True)
class DemoSummary:
    logins: list[tuple[str, str, str]]
    """(role, e-mail, name) of every user the demo made."""
    password: str
    tickets_by_status: dict[str, int]
    public_link: str | None
    """The public status page of a solved ticket (its token is in no other place)."""


def _demo_emails() -> list[str]:
    return [email for spec in CUSTOMERS for email, _, _ in spec.users] + [
        email for email, _, _, _ in AGENTS
    ]


async def _refusal(session: AsyncSession) -> str | None:
    """Why the demo cannot go into this database, or None."""
    for model, what in ((Customer, "customers"), (Ticket, "tickets"), (Category, "categories")):
        count = await session.scalar(select(func.count()).select_from(model))
        if count:
            return (
                f"the database already has {count} {what}; demo data goes only into a fresh "
                "database or one holding nothing but admins (point SPORTELLO_DATABASE_URL at "
                "a new one, e.g. sqlite+aiosqlite:///var/demo.db)"
            )
    taken = (await session.scalars(select(User.email).where(User.email.in_(_demo_emails())))).all()
    if taken:
        return f"the demo's user {taken[0]} already exists; use a fresh database"
    return None


async def load_demo_data(settings: Settings) -> DemoSummary:
    """Fill the database with the demo desk; :class:`DemoRefused` says why it cannot."""
    engine = make_engine(settings)
    storage = make_storage(settings)
    try:
        async with make_sessionmaker(engine, settings).begin() as session:
            reason = await _refusal(session)
            if reason is not None:
                raise DemoRefused(reason)
            for spec in CUSTOMERS:
                customer = await customer_service.create(
                    session,
                    None,
                    code=spec.code,
                    name=spec.name,
                    email=spec.email,
                    phone=spec.phone,
                    locale=spec.locale,
                    plan=spec.plan,
                )
                for email, name, phone in spec.users:
                    await user_service.create(
                        session,
                        settings,
                        None,
                        email=email,
                        name=name,
                        password=DEMO_PASSWORD,
                        role=Role.CUSTOMER,
                        customer_id=customer.id,
                        phone=phone,
                        locale=customer.locale,
                    )
                for number, kind, description in spec.orders:
                    await order_service.create(
                        session,
                        None,
                        customer_id=customer.id,
                        number=number,
                        kind=kind,
                        description=description,
                        status=OrderStatus.ACTIVE,
                    )
            for ticket_type, areas in CATEGORIES.items():
                for area_name, subareas in areas:
                    area = await category_service.create(
                        session, None, type_=ticket_type, name=area_name, parent_id=None
                    )
                    for sub in subareas:
                        await category_service.create(
                            session, None, type_=ticket_type, name=sub, parent_id=area.id
                        )
            for email, name, role, locale in AGENTS:
                await user_service.create(
                    session,
                    settings,
                    None,
                    email=email,
                    name=name,
                    password=DEMO_PASSWORD,
                    role=role,
                    customer_id=None,
                    phone=None,
                    locale=locale,
                )
            await load_demo_articles(session)
            await load_demo_service_levels(session)
            tickets = await load_demo_tickets(session, settings, storage)
            link = await _public_link_of(session, settings, tickets)
            # The demo's mails go to .example addresses that do not exist: written as sent, so
            # that neither a mail server nor the log receives some forty of them at start.
            await session.execute(
                update(Notification)
                .where(Notification.status == NotificationStatus.QUEUED)
                .values(
                    status=NotificationStatus.SENT, sent_at=utcnow(), next_attempt_at=None,
                    secret=None,
                )
            )  # fmt: skip
        logins = [
            (Role.CUSTOMER.value, email, name)
            for spec in CUSTOMERS
            for email, name, _ in spec.users
        ] + [(role.value, email, name) for email, name, role, _ in AGENTS]
        return DemoSummary(
            logins=logins,
            password=DEMO_PASSWORD,
            tickets_by_status=dict(Counter(t.status.value for t in tickets)),
            public_link=link,
        )
    finally:
        await storage.aclose()
        await engine.dispose()


async def _public_link_of(
    session: AsyncSession, settings: Settings, tickets: list[Ticket]
) -> str | None:
    """The public status link of the first solved ticket, from its confirmation mail."""
    solved = [t.id for t in tickets if t.status.value == "resolved"]
    if not solved:
        return None
    token = await session.scalar(
        select(Notification.secret).where(
            Notification.ticket_id == solved[0],
            Notification.kind == NotificationKind.CONFIRMATION,
        )
    )
    return public_link(settings, token) if token else None


# --- service levels (issue 13) ----------------------------------------------------------------

_WEEKDAYS_9_13_14_18 = [[[540, 780], [840, 1080]]] * 5 + [[], []]
_SPAIN_WEEK = [[[480, 840], [900, 1080]]] * 4 + [[[480, 900]], [], []]

ITALIAN_HOLIDAYS_2026_2027 = [
    "2026-01-01", "2026-01-06", "2026-04-05", "2026-04-06", "2026-04-25", "2026-05-01",
    "2026-06-02", "2026-08-15", "2026-11-01", "2026-12-08", "2026-12-25", "2026-12-26",
    "2027-01-01", "2027-01-06", "2027-03-28", "2027-03-29", "2027-04-25", "2027-05-01",
    "2027-06-02", "2027-08-15", "2027-11-01", "2027-12-08", "2027-12-25", "2027-12-26",
]  # fmt: skip
SPANISH_HOLIDAYS_2026_2027 = [
    "2026-01-01", "2026-01-06", "2026-04-02", "2026-04-03", "2026-05-01", "2026-08-15",
    "2026-10-12", "2026-11-01", "2026-12-06", "2026-12-08", "2026-12-25",
    "2027-01-01", "2027-01-06", "2027-03-25", "2027-03-26", "2027-05-01", "2027-08-15",
    "2027-10-12", "2027-11-01", "2027-12-06", "2027-12-08", "2027-12-25",
]  # fmt: skip


async def load_demo_service_levels(session: AsyncSession) -> None:
    """An Italian and a Spanish business calendar, and the demo customers' SLA policies.

    Premium (Italian calendar, Mon-Fri 9-13 and 14-18 in Rome): a blocking ticket is
    answered within an hour of office time and resolved within a working day; the
    Spanish hosting plan works Mon-Thu 8-14 and 15-18, Friday 8-15 in Madrid.
    """
    italy = BusinessCalendar(
        name="Italia - ufficio",
        tz="Europe/Rome",
        week=_WEEKDAYS_9_13_14_18,
        holidays=ITALIAN_HOLIDAYS_2026_2027,
    )
    spain = BusinessCalendar(
        name="España - oficina",
        tz="Europe/Madrid",
        week=_SPAIN_WEEK,
        holidays=SPANISH_HOLIDAYS_2026_2027,
    )
    session.add_all([italy, spain])
    await session.flush()
    waiting = ["waiting_customer", "waiting_third_party"]
    session.add_all(
        [
            SlaPolicy(
                name="Premium - bloccanti",
                position=10,
                active=True,
                calendar_id=italy.id,
                plans=["Gestionale Cantina - Premium"],
                severities=["blocking"],
                types=[],
                first_response_minutes=60,
                next_response_minutes=120,
                resolution_minutes=480,
                pause_statuses=waiting,
                warning_minutes=15,
            ),
            SlaPolicy(
                name="Premium",
                position=20,
                active=True,
                calendar_id=italy.id,
                plans=["Gestionale Cantina - Premium"],
                severities=[],
                types=[],
                first_response_minutes=240,
                next_response_minutes=480,
                resolution_minutes=2400,
                pause_statuses=waiting,
                warning_minutes=30,
            ),
            SlaPolicy(
                name="Hosting Profesional",
                position=30,
                active=True,
                calendar_id=spain.id,
                plans=["Hosting Web Profesional"],
                severities=[],
                types=[],
                first_response_minutes=120,
                next_response_minutes=240,
                resolution_minutes=1440,
                pause_statuses=waiting,
                warning_minutes=30,
            ),
        ]
    )
    await session.flush()
