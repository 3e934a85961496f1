"""The demo desk's tickets: every status, public replies, internal notes, files, follow-ups.

Each ticket is a short story played through the same services the API calls (so
the timeline, the mails and the search index are what real use leaves behind):
who opens it, which files come with it, what the agent and the customer say, and
where it ends. The solved ones answer the drafts that ``/kb/suggest`` and
``/solutions`` are tried with in the README ("le fatture non partono", "certificado
SSL caducado").
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import Category, CustomerOrder, Ticket, User
from app.domain.access import Actor
from app.domain.attachments import PDF, PNG, TEXT
from app.domain.tickets import Severity, TicketStatus, TicketType, Visibility
from app.infra.storage import BlobStorage
from app.services import replies as reply_service
from app.services import tickets as ticket_service
from app.services.attachments import IncomingFile, Uploads

# (who, what): "who" is a demo user's e-mail; a step is a reply, a note, a move or a file.
Step = tuple[str, str, str]
REPLY, NOTE, MOVE = "reply", "note", "move"
REPLY_WITH_LOG = "reply+log"


@dataclass(frozen=True)
class DemoTicket:
    opener: str
    customer_code: str
    type: TicketType
    category: str | None
    subject: str
    description: str
    severity: Severity = Severity.NORMAL
    order: str | None = None
    files: tuple[str, ...] = ()
    assignee: str | None = None
    steps: list[Step] = field(default_factory=list)
    follow_up: DemoTicket | None = None


MARIO = "mario.rossi@agricolabianchi.example"
GIULIA = "giulia.bianchi@agricolabianchi.example"
LUCIA = "lucia.martinez@hosteleriamartinez.example"
JAVIER = "javier.garcia@hosteleriamartinez.example"
ANNA = "anna.verdi@sportello.example"
CARLOS = "carlos.ruiz@sportello.example"

TICKETS = [
    DemoTicket(
        opener=MARIO,
        customer_code="AGRI-BIANCHI",
        type=TicketType.TECHNICAL,
        category="Registri IVA",
        subject="La stampa del registro IVA vendite non parte",
        description="Da questa mattina, scegliendo Stampa registro IVA vendite per febbraio, "
        "il programma resta fermo sulla finestra di anteprima. Allego la schermata.",
        files=("schermata-registro-iva.png",),
    ),
    DemoTicket(
        opener=GIULIA,
        customer_code="AGRI-BIANCHI",
        type=TicketType.TECHNICAL,
        category="Invio operazioni",
        subject="Errore nell'invio delle operazioni di cantina al SIAN",
        description="L'invio dei movimenti di imbottigliamento al SIAN termina con errore "
        "'servizio non disponibile'. Dobbiamo chiudere il registro entro venerdì.",
        severity=Severity.BLOCKING,
        assignee=ANNA,
        steps=[
            (ANNA, MOVE, TicketStatus.IN_PROGRESS),
            (
                ANNA,
                REPLY,
                "Buongiorno, stiamo verificando la connessione con il SIAN. "
                "Può inviarci il file di log dell'ultimo invio?",
            ),
            (
                ANNA,
                NOTE,
                "Il servizio SIAN risponde 503 a tutti i clienti da stamattina: "
                "aperta segnalazione all'assistenza AGEA.",
            ),
            (GIULIA, REPLY_WITH_LOG, "Ecco il log dell'ultimo invio."),
        ],
        files=(),
    ),
    DemoTicket(
        opener=LUCIA,
        customer_code="HOST-MARTINEZ",
        type=TicketType.TECHNICAL,
        category=None,
        subject="No puedo acceder al correo del dominio",
        description="Desde ayer el correo info@ de nuestro dominio rechaza la contraseña "
        "en el móvil y en el ordenador.",
        assignee=CARLOS,
        steps=[
            (CARLOS, MOVE, TicketStatus.IN_PROGRESS),
            (
                CARLOS,
                REPLY,
                "Hola Lucía, ¿ha cambiado la contraseña recientemente? "
                "Indíquenos también desde qué aplicación de correo accede.",
            ),
            (CARLOS, MOVE, TicketStatus.WAITING_CUSTOMER),
        ],
    ),
    DemoTicket(
        opener=JAVIER,
        customer_code="HOST-MARTINEZ",
        type=TicketType.ORDER,
        category="Trasferimento dominio",
        order="SUB-ES-55021",
        subject="Transferencia del dominio bloqueada",
        description="Hemos pedido la transferencia de hosteleriamartinez.example hace una "
        "semana y sigue pendiente.",
        assignee=CARLOS,
        steps=[
            (CARLOS, MOVE, TicketStatus.IN_PROGRESS),
            (
                CARLOS,
                NOTE,
                "El registrador anterior no ha enviado el código AUTH: "
                "se lo hemos pedido por escrito.",
            ),
            (
                CARLOS,
                REPLY,
                "Hemos solicitado el código de autorización al registrador "
                "anterior; le avisaremos en cuanto responda.",
            ),
            (CARLOS, MOVE, TicketStatus.WAITING_THIRD_PARTY),
        ],
    ),
    DemoTicket(
        opener=MARIO,
        customer_code="AGRI-BIANCHI",
        type=TicketType.TECHNICAL,
        category="Inventario",
        subject="Esportare l'inventario di magazzino in Excel",
        description="Sarebbe utile esportare l'inventario con le giacenze per lotto in un "
        "foglio Excel, per il commercialista.",
        assignee=ANNA,
        steps=[
            (ANNA, MOVE, TicketStatus.IN_PROGRESS),
            (
                ANNA,
                REPLY,
                "Grazie del suggerimento: l'esportazione per lotto non c'è ancora, "
                "l'abbiamo proposta per una prossima versione.",
            ),
            (ANNA, MOVE, TicketStatus.IMPROVEMENT),
        ],
    ),
    DemoTicket(
        opener=MARIO,
        customer_code="AGRI-BIANCHI",
        type=TicketType.TECHNICAL,
        category="Invio allo SdI",
        subject="Le fatture elettroniche non partono: scartate dallo SdI",
        description="Le fatture elettroniche di marzo restano in stato 'da inviare' e lo SdI "
        "le scarta con un errore di firma.",
        severity=Severity.BLOCKING,
        files=("ricevuta-scarto.pdf",),
        assignee=ANNA,
        steps=[
            (ANNA, MOVE, TicketStatus.IN_PROGRESS),
            (
                ANNA,
                NOTE,
                "Certificato di firma scaduto il 28/02: rinnovo fatto dal portale "
                "del certificatore.",
            ),
            (
                ANNA,
                MOVE,
                "resolved:Il certificato di firma digitale era scaduto: lo abbiamo "
                "rinnovato e abbiamo reinviato allo SdI le fatture scartate, ora consegnate.",
            ),
        ],
    ),
    DemoTicket(
        opener=LUCIA,
        customer_code="HOST-MARTINEZ",
        type=TicketType.ORDER,
        category="Certificato SSL",
        order="PED-ES-77310",
        subject="Certificado SSL caducado en la tienda online",
        description="El navegador avisa de que la conexión no es segura en la tienda online: "
        "el certificado SSL ha caducado.",
        severity=Severity.BLOCKING,
        assignee=CARLOS,
        steps=[
            (CARLOS, MOVE, TicketStatus.IN_PROGRESS),
            (
                CARLOS,
                MOVE,
                "resolved:La renovación automática del certificado SSL falló por un "
                "registro DNS antiguo; lo hemos corregido y renovado el certificado.",
            ),
            (LUCIA, MOVE, TicketStatus.CLOSED),
        ],
    ),
    DemoTicket(
        opener=GIULIA,
        customer_code="AGRI-BIANCHI",
        type=TicketType.ADMINISTRATIVE,
        category="Duplicato fattura",
        subject="Duplicato della fattura di gennaio",
        description="Non troviamo la fattura di gennaio del canone: potete inviarcene una copia?",
        steps=[(GIULIA, MOVE, TicketStatus.CLOSED)],
    ),
    DemoTicket(
        opener=MARIO,
        customer_code="AGRI-BIANCHI",
        type=TicketType.TECHNICAL,
        category="Prima nota",
        subject="Il backup giornaliero non viene eseguito",
        description="Il backup automatico delle 22:00 non risulta eseguito da tre giorni.",
        files=("backup.log",),
        assignee=ANNA,
        steps=[
            (ANNA, MOVE, TicketStatus.IN_PROGRESS),
            (
                ANNA,
                MOVE,
                "resolved:Il disco di destinazione del backup era pieno: abbiamo "
                "eliminato le copie più vecchie di 30 giorni e il backup è ripartito.",
            ),
            (ANNA, MOVE, TicketStatus.CLOSED),
        ],
        follow_up=DemoTicket(
            opener=MARIO,
            customer_code="AGRI-BIANCHI",
            type=TicketType.TECHNICAL,
            category=None,
            subject="Il backup si è fermato di nuovo",
            description="Dopo la vostra correzione il backup ha funzionato una settimana, "
            "ora si è fermato di nuovo.",
        ),
    ),
    DemoTicket(
        opener=JAVIER,
        customer_code="HOST-MARTINEZ",
        type=TicketType.ADMINISTRATIVE,
        category="Estratto conto",
        subject="Las facturas no llegan por correo",
        description="No recibimos las facturas mensuales del hosting por correo electrónico.",
        assignee=CARLOS,
        steps=[
            (CARLOS, REPLY, "Hola Javier, comprobamos la dirección de facturación."),
            (
                CARLOS,
                MOVE,
                "resolved:Las facturas se enviaban a una dirección antigua; hemos "
                "actualizado la dirección de facturación y reenviado las del último trimestre.",
            ),
        ],
    ),
]


def png_image(width: int = 64, height: int = 40) -> bytes:
    """A small real PNG (a grey window with a blue title bar), made without an image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + (b"\x30\x60\xc0" if y < 8 else b"\xe8\xe8\xe8") * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf_document(text: str) -> bytes:
    """A one-page PDF with a line of text."""
    stream = f"BT /F1 12 Tf 40 780 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def demo_file(name: str) -> tuple[str, bytes]:
    if name.endswith(".png"):
        return PNG, png_image()
    if name.endswith(".pdf"):
        return PDF, pdf_document("Esito: scarto - firma non valida (certificato scaduto)")
    lines = [f"2026-03-0{d} 22:00:01 backup: destination full, 0 bytes written" for d in (1, 2, 3)]
    return TEXT, ("\n".join(lines) + "\n").encode()


async def uploads_of(storage: BlobStorage, settings: Settings, names: tuple[str, ...]) -> Uploads:
    uploads = Uploads(
        storage, max_files=settings.max_attachments, max_bytes=settings.max_attachment_bytes
    )
    for name in names:
        content_type, data = demo_file(name)
        writer = storage.writer()
        await writer.write(data)
        staged = await writer.finish()
        uploads.files.append(IncomingFile(filename=name, content_type=content_type, staged=staged))
    return uploads


class DemoDesk:
    """Plays the stories with the services, as the demo users."""

    def __init__(self, session: AsyncSession, settings: Settings, storage: BlobStorage) -> None:
        self.session = session
        self.settings = settings
        self.storage = storage
        self.actors: dict[str, Actor] = {}

    async def actor(self, email: str) -> Actor:
        if email not in self.actors:
            user = await self.session.scalar(select(User).where(User.email == email))
            assert user is not None, email
            self.actors[email] = Actor(
                role=user.role, user_id=user.id, customer_id=user.customer_id, name=user.name
            )
        return self.actors[email]

    async def category_id(self, ticket_type: TicketType, name: str | None) -> int | None:
        if name is None:
            return None
        return await self.session.scalar(
            select(Category.id).where(Category.type == ticket_type, Category.name == name)
        )

    async def order_id(self, number: str | None) -> int | None:
        if number is None:
            return None
        return await self.session.scalar(
            select(CustomerOrder.id).where(CustomerOrder.number == number)
        )

    async def play(self, story: DemoTicket, parent: Ticket | None = None) -> list[Ticket]:
        opener = await self.actor(story.opener)
        uploads = await uploads_of(self.storage, self.settings, story.files)
        try:
            if parent is None:
                ticket, _ = await ticket_service.open_ticket(
                    self.session,
                    opener,
                    ticket_service.NewTicket(
                        customer_code=story.customer_code,
                        type=story.type,
                        subject=story.subject,
                        description=story.description,
                        category_id=await self.category_id(story.type, story.category),
                        order_id=await self.order_id(story.order),
                        severity=story.severity,
                    ),
                    uploads=uploads,
                )
            else:
                ticket, _ = await ticket_service.follow_up(
                    self.session,
                    opener,
                    parent.id,
                    ticket_service.FollowUp(subject=story.subject, description=story.description),
                    uploads=uploads,
                )
        finally:
            await uploads.close(failed=False)
        if story.assignee is not None:
            agent = await self.actor(story.assignee)
            await ticket_service.update(
                self.session, agent, ticket.id, {"assignee_id": agent.user_id}
            )
        for who, what, text in story.steps:
            await self.step(ticket, await self.actor(who), what, text)
        played = [ticket]
        if story.follow_up is not None:
            played += await self.play(story.follow_up, parent=ticket)
        return played

    async def step(self, ticket: Ticket, actor: Actor, what: str, text: str) -> None:
        if what == MOVE:
            status, _, solution = str(text).partition(":")
            await ticket_service.change_status(
                self.session,
                actor,
                ticket.id,
                to=TicketStatus(status),
                solution=solution or None,
                note=None,
            )
            return
        files: tuple[str, ...] = ("sian-invio.log",) if what == REPLY_WITH_LOG else ()
        uploads = await uploads_of(self.storage, self.settings, files)
        try:
            await reply_service.post_reply(
                self.session,
                actor,
                ticket.id,
                body=text,
                visibility=Visibility.INTERNAL if what == NOTE else Visibility.PUBLIC,
                uploads=uploads,
            )
        finally:
            await uploads.close(failed=False)


async def load_demo_tickets(
    session: AsyncSession, settings: Settings, storage: BlobStorage
) -> list[Ticket]:
    desk = DemoDesk(session, settings, storage)
    played: list[Ticket] = []
    for story in TICKETS:
        played += await desk.play(story)
    return played
