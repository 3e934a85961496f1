"""The caller's language: ``?lang``, else the user's locale, else ``Accept-Language``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Query

from app.api.deps import CurrentActor
from app.domain import i18n

LangQuery = Annotated[
    Literal["it", "es", "en"] | None,
    Query(
        description="Language of labels and category names; by default the user's locale, "
        "then the Accept-Language header, then English."
    ),
]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language", max_length=1000)]


async def get_lang(
    actor: CurrentActor, lang: LangQuery = None, accept_language: AcceptLanguage = None
) -> str:
    return i18n.choose(lang, actor.locale, accept_language)


async def get_public_lang(
    lang: LangQuery = None, accept_language: AcceptLanguage = None
) -> str | None:
    """For callers without a login: ``?lang``, else ``Accept-Language``, else None."""
    return lang or i18n.from_accept_language(accept_language)


# ``async def``, like every dependency (app/api/deps.py): a plain ``def`` hops to the thread
# pool on every request.
CallerLang = Annotated[str, Depends(get_lang)]
PublicLang = Annotated[str | None, Depends(get_public_lang)]
