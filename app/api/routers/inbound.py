"""The e-mail channel: raw mail in (the mailgate, an MTA's pipe), what became of each mail,
customers' mail domains and tickets' CC lists."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from app.api.body import UploadsDep, read_limited
from app.api.deps import CurrentActor, Cursor, Id, Limit, SessionDep, SettingsDep
from app.api.problems import responses
from app.api.schemas.common import Page
from app.api.schemas.inbound import (
    CcList,
    CcListRead,
    InboundMailRead,
    MailDomains,
    MailDomainsRead,
)
from app.domain.errors import BadRequest, UnsupportedMediaType
from app.domain.inbound import InboundOutcome, InboundSource, may_ingest
from app.services import inbound as inbound_service
from app.services import mail_addresses

router = APIRouter(prefix="/inbound", tags=["inbound mail"])
customer_domains = APIRouter(prefix="/customers", tags=["customers"])
ticket_cc = APIRouter(prefix="/tickets", tags=["tickets"])

RFC822 = "message/rfc822"


@router.post(
    "/mail",
    response_model=InboundMailRead,
    status_code=status.HTTP_201_CREATED,
    operation_id="receive_mail",
    responses={
        200: {"description": "This Message-ID was received before: nothing was done again"},
        **responses(400, 401, 403, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {RFC822: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def receive_mail(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    uploads: UploadsDep,
    source: InboundSource = Query(
        InboundSource.API, description="Who posts it: `mailgate` for the sportello mailgate"
    ),
) -> InboundMailRead:
    """A raw RFC 5322 message becomes a ticket, a reply, or a refusal (see `outcome`).

    For an API key with the `mail:ingest` scope (or an admin). 201 when received now,
    200 with `duplicate: true` when this Message-ID was received before.
    """
    may_ingest(actor)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != RFC822:
        raise UnsupportedMediaType("Send the mail as message/rfc822.")
    # The body may come slowly: the transaction that authenticated the caller ends first.
    await session.commit()
    raw = await read_limited(request, settings.inbox_max_message_bytes)
    if not raw.strip():
        raise BadRequest("The request body is empty.")
    received = await inbound_service.receive(session, settings, raw, source=source, uploads=uploads)
    number = await inbound_service.ticket_number(session, received.mail.ticket_id)
    if received.duplicate:
        response.status_code = status.HTTP_200_OK
    return InboundMailRead.of(received.mail, number, duplicate=received.duplicate)


@router.get(
    "/mails",
    response_model=Page[InboundMailRead],
    operation_id="list_inbound_mails",
    responses=responses(400, 401, 403, 422),
)
async def list_inbound_mails(
    session: SessionDep,
    actor: CurrentActor,
    outcome: InboundOutcome | None = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> Page[InboundMailRead]:
    """Received mails, newest first, with what became of each (admins)."""
    items, next_cursor = await inbound_service.list_page(
        session, actor, outcome=outcome, limit=limit, cursor=cursor
    )
    return Page(
        items=[InboundMailRead.of(m, number) for m, number in items], next_cursor=next_cursor
    )


@router.post(
    "/mails/{mail_id}/retry",
    response_model=InboundMailRead,
    operation_id="retry_inbound_mail",
    responses=responses(401, 403, 404, 409, 422),
)
async def retry_inbound_mail(
    mail_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    uploads: UploadsDep,
) -> InboundMailRead:
    """Act on a held mail (a staff address whose checks did not pass) after an admin read
    it: 409 unless it is `held`."""
    mail = await inbound_service.retry(session, settings, actor, mail_id, uploads)
    number = await inbound_service.ticket_number(session, mail.ticket_id)
    return InboundMailRead.of(mail, number)


@customer_domains.get(
    "/{customer_id}/mail-domains",
    response_model=MailDomainsRead,
    operation_id="get_customer_mail_domains",
    responses=responses(401, 403, 404, 422),
)
async def get_customer_mail_domains(
    customer_id: Id, session: SessionDep, actor: CurrentActor
) -> MailDomainsRead:
    """The mail domains of a customer (staff)."""
    domains = await mail_addresses.customer_domains(session, actor, customer_id)
    return MailDomainsRead(domains=domains)


@customer_domains.put(
    "/{customer_id}/mail-domains",
    response_model=MailDomainsRead,
    operation_id="set_customer_mail_domains",
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def set_customer_mail_domains(
    customer_id: Id, body: MailDomains, session: SessionDep, actor: CurrentActor
) -> MailDomainsRead:
    """Replace a customer's mail domains (staff): unknown senders from them may open tickets
    (with `INBOX_UNKNOWN_SENDER=domain`), Cc addresses within them join tickets. 409 when a
    domain is another customer's."""
    domains = await mail_addresses.set_customer_domains(session, actor, customer_id, body.domains)
    return MailDomainsRead(domains=domains)


@ticket_cc.get(
    "/{ticket_id}/cc",
    response_model=CcListRead,
    operation_id="get_ticket_cc",
    responses=responses(401, 403, 404, 422),
)
async def get_ticket_cc(ticket_id: Id, session: SessionDep, actor: CurrentActor) -> CcListRead:
    """The addresses that receive the ticket's public updates besides its contact."""
    return CcListRead(emails=await mail_addresses.ticket_cc(session, actor, ticket_id))


@ticket_cc.put(
    "/{ticket_id}/cc",
    response_model=CcListRead,
    operation_id="set_ticket_cc",
    responses=responses(400, 401, 403, 404, 422),
)
async def set_ticket_cc(
    ticket_id: Id, body: CcList, session: SessionDep, actor: CurrentActor
) -> CcListRead:
    """Replace the ticket's CC list (at most 20). A customer may name addresses within their
    company's mail domains only (422 otherwise)."""
    emails = await mail_addresses.set_ticket_cc(
        session, actor, ticket_id, [str(e) for e in body.emails]
    )
    return CcListRead(emails=emails)
