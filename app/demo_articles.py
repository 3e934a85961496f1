"""Knowledge-base articles of the demo data: a handful in each locale, one of them a draft."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Category
from app.domain.access import Locale
from app.services import articles as article_service


@dataclass(frozen=True)
class DemoArticle:
    locale: Locale
    title: str
    body: str
    category: str | None = None
    """The name of a demo category (app/demo.py), if the article belongs to one."""
    published: bool = True


ARTICLES = [
    DemoArticle(
        Locale.IT,
        "Fattura elettronica scartata dallo SdI: correggere e reinviare",
        "Quando il Sistema di Interscambio rifiuta una fattura, nel gestionale compare lo stato "
        "**Scartata** con la *notifica di scarto* e il codice dell'errore.\n\n"
        "- **00404** fattura duplicata: numero e data sono già stati trasmessi.\n"
        "- **00305** partita IVA del cliente non valida: correggi l'anagrafica.\n\n"
        "Correggi il dato indicato, mantieni numero e data e premi *Invia allo SdI*: hai cinque "
        "giorni dalla notifica per ritrasmetterla.",
        "Invio allo SdI",
    ),
    DemoArticle(
        Locale.IT,
        "Trasmettere le operazioni di cantina ai registri SIAN",
        "Le operazioni di cantina vanno comunicate al SIAN entro il giorno lavorativo "
        "successivo, da *Registri SIAN > Operazioni da inviare > Trasmetti*.\n\n"
        "Se ogni trasmissione fallisce con *utente non autorizzato*, la password del servizio "
        "web SIAN è scaduta (dura 90 giorni): rinnovala sul portale SIAN e aggiornala in "
        "*Impostazioni > SIAN*.",
        "Invio operazioni",
    ),
    DemoArticle(
        Locale.IT,
        "Giacenze negative in magazzino: cause e rimedi",
        "Una giacenza sotto zero indica più scarichi che carichi: di solito una bolla del "
        "fornitore non registrata o un movimento nel deposito sbagliato.\n\n"
        "Apri la scheda dell'articolo, scheda *Movimenti*: il primo movimento che porta la "
        "quantità sotto zero indica il documento da controllare.",
        "Movimenti di magazzino",
    ),
    DemoArticle(
        Locale.IT,
        "Disdire l'abbonamento",
        "L'abbonamento si rinnova ogni anno. Per non rinnovarlo invia la disdetta almeno "
        "**60 giorni** prima della scadenza da *Area clienti > Abbonamenti* oppure via PEC, "
        "indicando codice cliente e numero d'ordine.",
        "Disdetta abbonamento",
    ),
    DemoArticle(
        Locale.IT,
        "Novità della versione 9 (bozza)",
        "Bozza in preparazione: nuova stampa dei registri IVA, invio massivo dei documenti MMV-E.",
        published=False,
    ),
    DemoArticle(
        Locale.ES,
        "Renovar el certificado SSL de tu dominio",
        "Los certificados gratuitos se renuevan solos cada 90 días si el dominio apunta a "
        "nuestros servidores. Los de pago se renuevan desde *Área de cliente > Pedidos*.\n\n"
        "Si el navegador avisa de que la conexión no es privada, comprueba que el registro A "
        "del dominio tenga la IP de tu hosting y pulsa *Reemitir certificado*.",
        "Certificato SSL",
    ),
    DemoArticle(
        Locale.ES,
        "Transferir un dominio desde otro registrador",
        "Necesitas el dominio **desbloqueado** y el **código de autorización** (EPP) del "
        "registrador actual. Inicia la transferencia en *Dominios > Transferir*: tarda de 5 a "
        "7 días y la web y el correo no se interrumpen.",
        "Trasferimento dominio",
    ),
    DemoArticle(
        Locale.ES,
        "Configurar el correo en el móvil",
        "Entrante IMAP: mail.tudominio.es, puerto 993 con SSL. Saliente SMTP: "
        "mail.tudominio.es, puerto 465 con SSL y **autenticación** con el usuario del buzón.\n\n"
        "Si el móvil recibe pero no envía, falta la autenticación del servidor saliente.",
    ),
    DemoArticle(
        Locale.ES,
        "Pago rechazado: cambiar la tarjeta",
        "Si falla el cobro de una renovación, añade una tarjeta nueva en *Área de cliente > "
        "Métodos de pago* y pulsa *Pagar ahora* en la factura pendiente. El servicio se "
        "suspende 15 días después del vencimiento.",
        "Carta di credito",
    ),
    DemoArticle(
        Locale.EN,
        "Fixing the 'Not secure' warning after installing SSL",
        "If the padlock is missing although the certificate is installed, the page still loads "
        "images or scripts over plain http (**mixed content**). Replace those links with "
        "https:// and turn on *Force HTTPS* in the control panel.",
        "Certificato SSL",
    ),
    DemoArticle(
        Locale.EN,
        "Card payment failed: updating your payment method",
        "Add a new card under *Billing > Payment methods*, complete the 3-D Secure check and "
        "click *Pay now* on the unpaid invoice. Services are suspended 15 days after the due "
        "date and come back within minutes of the payment.",
        "Carta di credito",
    ),
    DemoArticle(
        Locale.EN,
        "Cancelling a subscription",
        "Cancel the renewal from *Orders > Subscription*: the service stays active until the "
        "end of the period paid. Hosting cancelled within 30 days of purchase is refunded in "
        "full; domains are not refundable.",
        "Disdetta abbonamento",
    ),
    DemoArticle(
        Locale.EN,
        "Italian e-invoice rejected by the SdI",
        "A rejection notice means the invoice was not accepted. Code **00404**: duplicate "
        "invoice; **00305**: invalid VAT number. Correct it and send it again with the same "
        "number and date within five days.",
        "Invio allo SdI",
    ),
]


async def load_demo_articles(session: AsyncSession) -> None:
    """Write the demo articles (after the demo categories, which they may name)."""
    rows = (await session.execute(select(Category.name, Category.id).order_by(Category.id))).all()
    category_ids: dict[str, int] = {}
    for name, category_id in rows:
        category_ids.setdefault(name, category_id)
    for spec in ARTICLES:
        await article_service.create(
            session,
            None,
            title=spec.title,
            body=spec.body,
            category_id=category_ids.get(spec.category) if spec.category else None,
            locale=spec.locale,
            published=spec.published,
        )
