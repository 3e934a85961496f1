"""The words of full-text search: one analysis for both databases and both indexes.

Words are lower-cased, stripped of accents, stop words dropped, and each word is indexed
with its Italian, Spanish and English Snowball stems, so "fattura", "fatture", "factura"
and "invoices" find their relatives whatever the customer's language. Queries are written
from the same analysis (``query_groups``, ``draft_groups``) in each database's syntax.
``db/fulltext.py`` stores and asks the indexes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

MAX_QUERY_WORDS = 12
_WORD = re.compile(r"[0-9a-z]+")

_IT_STOP = (
    "a ad al alla alle agli ai all anche nell nella nelle negli dell dall sull che chi ci come "
    "con da dal dalla dalle dei del della delle dello di e ed gli ha hanno ho il in io la le lo "
    "ma mi mio mia ne nei nel non o per piu poi se si sono su sul sulla ti tra tu un una uno vi "
    "questo questa quello quella questi queste quelli quelle allo agli dagli dai dallo col coi "
    "nello negli sui sugli sullo sulle degli perche quando dove cui quale quali lei lui noi voi "
    "loro suo sua suoi tuo tua nostro nostra vostro vostra gia ancora"
)
_ES_STOP = (
    "el los las unos unas y en por para que su sus es son les mis tus como pero mas ya muy sin "
    "sobre este esta esto ese esa hay de del al lo la le se me te nos os mi tu un una uno con "
    "no ni desde hasta entre hacia tras cuando donde quien cual cuales nuestro nuestra "
    "nuestros nuestras vuestro vuestra estos estas esos esas aquel aquella tambien"
)
_EN_STOP = (
    "the an and or of to on at by for with from is are was were be been it its this that these "
    "those as not no my our your their we you he she they me us them do does did have has had "
    "can could will would should what which who whom when where why how if then than so "
    "into about because while during before after there here his her him hers i"
)
STOP_WORDS = frozenset(f"{_IT_STOP} {_ES_STOP} {_EN_STOP}".split())

# What people write around a problem rather than about it: left out of a draft's words when
# looking for its answer (not out of the index, nor out of a search the user typed).
_CHATTER = (
    "buongiorno buonasera salve ciao gentili gentile spettabile cortesemente grazie "
    "cordiali saluti distinti attesa riscontro vorrei vorremmo chiedo chiediamo potete "
    "potreste aiuto aiutarmi aiutarci riesco riusciamo sapere dirmi fare faccio "
    "hola buenos buenas dias tardes estimados gracias saludos cordial atentamente quisiera "
    "querria podeis podrian ayuda ayudar necesito necesitamos saber hacer "
    "hello hi dear thanks thank regards kind please could would help need want know "
    # The forms of the verbs every sentence leans on (be, have, can, must, do, get, stay).
    "sono sei siamo siete era erano sara stato stata essere ho hai abbiamo avete avere aver "
    "avevo aveva posso puoi puo possiamo potere devo deve dobbiamo dovere sto sta stiamo "
    "soy eres somos estoy esta estamos estan estaba fue sido ser estar he has ha hemos han "
    "habia haber tengo tiene tenemos tienen tener puedo puede podemos pueden poder debo debe "
    "debemos deber hago hace hacemos "
    "am im ive isnt arent wasnt dont doesnt didnt cant cannot wont get gets got getting "
    "being having must may might shall"
)
CHATTER = frozenset(_CHATTER.split())

_LANGUAGES = ("italian", "spanish", "english")


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    """:func:`_fold` of one word, remembered: texts repeat their words (a bulk import of
    thousands of tickets spent most of its time folding the same words again)."""
    return _fold(word)


@lru_cache(maxsize=3)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65536)
def variants(word: str) -> tuple[str, ...]:
    """The word and its stems in each language, accent-free, without repeats."""
    out = [_fold(word)]
    for language in _LANGUAGES:
        stem = _fold(_stemmer(language).stemWord(word))
        if stem and stem not in out:
            out.append(stem)
    return tuple(out)


def words(value: str) -> list[str]:
    """The searchable words of a text, in order (lower-case, stop words dropped)."""
    lowered = value.lower()
    found = []
    for raw in re.findall(r"\w+", lowered):
        folded = _fold_word(raw)
        if len(folded) < 2 or folded in STOP_WORDS or not _WORD.fullmatch(folded):
            continue
        found.append(raw)
    return found


def document(*parts: str | None) -> str:
    """What goes into the index for a text: every word's variants."""
    out: list[str] = []
    for part in parts:
        if part:
            for word in words(part):
                out.extend(variants(word))
    return " ".join(out)


def query_groups(q: str) -> list[tuple[str, ...]]:
    """A user's query as groups of alternatives, one group per word (bounded)."""
    groups: list[tuple[str, ...]] = []
    for word in words(q)[:MAX_QUERY_WORDS]:
        group = variants(word)
        if group not in groups:
            groups.append(group)
    return groups


def fts5_query(groups: list[tuple[str, ...]], *, any_word: bool = False) -> str:
    joiner = " OR " if any_word else " AND "
    return joiner.join("(" + " OR ".join(f'"{v}"' for v in group) + ")" for group in groups)


def tsquery(groups: list[tuple[str, ...]], *, any_word: bool = False) -> str:
    joiner = " | " if any_word else " & "
    return joiner.join("(" + " | ".join(group) + ")" for group in groups)


SUGGEST_MAX_WORDS = 40
"""A draft's words looked for: the subject's first, then the description's, in order."""


def draft_groups(*parts: str | None, limit: int = SUGGEST_MAX_WORDS) -> list[tuple[str, ...]]:
    """A draft ticket's words as groups of alternatives, without the words of courtesy."""
    groups: list[tuple[str, ...]] = []
    for part in parts:
        for word in words(part or ""):
            if _fold(word) in CHATTER:
                continue
            group = variants(word)
            if group not in groups:
                groups.append(group)
                if len(groups) == limit:
                    return groups
    return groups


def matched(groups: list[tuple[str, ...]], found: frozenset[str]) -> int:
    """How many of the query's words (in any of their forms) are among ``found``."""
    return sum(1 for group in groups if not found.isdisjoint(group))
