"""Labels for what the API names by code (statuses, types, severities, event kinds, channels)
in the desk's languages, and which language a caller reads."""

from __future__ import annotations

from app.domain.tickets import LABELS as STATUS_LABELS
from app.domain.tickets import ContactChannel, Severity, TicketStatus, TicketType

LANGUAGES = ("it", "es", "en")
DEFAULT_LANGUAGE = "en"

TYPE_LABELS: dict[str, dict[TicketType, str]] = {
    "it": {
        TicketType.ADMINISTRATIVE: "Amministrativo",
        TicketType.COMMERCIAL: "Commerciale",
        TicketType.TECHNICAL: "Tecnico",
        TicketType.ORDER: "Ordine",
    },
    "es": {
        TicketType.ADMINISTRATIVE: "Administrativo",
        TicketType.COMMERCIAL: "Comercial",
        TicketType.TECHNICAL: "Técnico",
        TicketType.ORDER: "Pedido",
    },
    "en": {
        TicketType.ADMINISTRATIVE: "Administrative",
        TicketType.COMMERCIAL: "Commercial",
        TicketType.TECHNICAL: "Technical",
        TicketType.ORDER: "Order",
    },
}

SEVERITY_LABELS: dict[str, dict[Severity, str]] = {
    "it": {Severity.NORMAL: "Normale", Severity.BLOCKING: "Bloccante"},
    "es": {Severity.NORMAL: "Normal", Severity.BLOCKING: "Bloqueante"},
    "en": {Severity.NORMAL: "Normal", Severity.BLOCKING: "Blocking"},
}

EVENT_KINDS = ("created", "status_changed", "assigned", "replied", "attachment_added")

EVENT_LABELS: dict[str, dict[str, str]] = {
    "it": {
        "created": "Ticket aperto",
        "status_changed": "Stato cambiato",
        "assigned": "Assegnato",
        "replied": "Risposta",
        "attachment_added": "Allegato aggiunto",
    },
    "es": {
        "created": "Ticket abierto",
        "status_changed": "Estado cambiado",
        "assigned": "Asignado",
        "replied": "Respuesta",
        "attachment_added": "Adjunto añadido",
    },
    "en": {
        "created": "Ticket opened",
        "status_changed": "Status changed",
        "assigned": "Assigned",
        "replied": "Reply",
        "attachment_added": "Attachment added",
    },
}

CHANNEL_LABELS: dict[str, dict[ContactChannel, str]] = {
    "it": {ContactChannel.EMAIL: "E-mail", ContactChannel.PHONE: "Telefono"},
    "es": {ContactChannel.EMAIL: "Correo electrónico", ContactChannel.PHONE: "Teléfono"},
    "en": {ContactChannel.EMAIL: "E-mail", ContactChannel.PHONE: "Phone"},
}


def status_label(status: TicketStatus, lang: str) -> str:
    return STATUS_LABELS.get(lang, STATUS_LABELS[DEFAULT_LANGUAGE])[status]


def from_accept_language(header: str | None) -> str | None:
    """The first of the desk's languages in an ``Accept-Language`` header, by weight."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            choices.append((-weight, position, primary))
    return min(choices)[2] if choices else None


def choose(explicit: str | None, user_locale: str | None, accept_language: str | None) -> str:
    """The language of an answer: ``?lang`` when given (the caller asked for it), else the
    user's own locale, else the browser's ``Accept-Language``, else English."""
    for candidate in (explicit, user_locale, from_accept_language(accept_language)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
