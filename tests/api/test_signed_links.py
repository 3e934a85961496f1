"""Short-lived signed links to attachments: no bearer header, bound to the file, expiring."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.factories import Desk, problem
from tests.samples import png

PNG = png("signed")


def _attach(desk: Desk) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    customer = desk.customer()
    client = desk.customer_user(customer)
    ticket = desk.ticket(client, customer)
    r = client.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", ("schermata.png", PNG))]
    )
    assert r.status_code == 201, r.text
    return client, desk.customer_user(desk.customer()), ticket, r.json()["attachments"][0]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.removeprefix("/api/v1") + "?" + parts.query


def test_a_signed_link_opens_the_file_without_a_bearer_header(desk: Desk) -> None:
    client, stranger, _, file = _attach(desk)
    r = client.post(f"/attachments/{file['id']}/link")
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["url"].startswith("http://sportello.test/api/v1/files/")
    expires = int(parse_qs(urlsplit(link["url"]).query)["expires"][0])
    assert 0 < expires - time.time() <= 300
    anonymous = desk.anonymous()
    opened = anonymous.get(_path(link["url"]))
    assert opened.status_code == 200, opened.text
    assert opened.content == PNG
    # Shown in an <img>, never sniffed into something else.
    assert opened.headers["content-type"] == "image/png"
    assert opened.headers["content-disposition"].startswith("inline;")
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in opened.headers["content-security-policy"]
    # Only those who may see the file get a link.
    problem(stranger.post(f"/attachments/{file['id']}/link"), 404)
    problem(anonymous.post(f"/attachments/{file['id']}/link"), 401)


def test_a_signed_link_is_bound_to_its_file_and_expires(desk: Desk) -> None:
    client, _, ticket, file = _attach(desk)
    r = client.post(
        f"/tickets/{ticket['id']}/attachments", files=[("files", ("altro.png", png("altro")))]
    )
    assert r.status_code == 201, r.text
    other = r.json()["attachments"][0]
    link = client.post(f"/attachments/{file['id']}/link").json()["url"]
    query = parse_qs(urlsplit(link).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    anonymous = desk.anonymous()
    # The same signature does not open another file, nor a later expiry, nor a changed one.
    problem(anonymous.get(f"/files/{other['id']}", params=query), 403)
    problem(
        anonymous.get(
            f"/files/{file['id']}", params={"expires": expires + 1000, "signature": signature}
        ),
        403,
    )
    problem(
        anonymous.get(f"/files/{file['id']}", params={"expires": expires, "signature": "0" * 64}),
        403,
    )
    # An expired link (signed in the past with the real key) is refused.
    from app.domain.signing import attachment_signature
    from app.infra.keys import signing_key

    key = signing_key(desk.settings)
    past = int(time.time()) - 5
    stale = attachment_signature(key, file["id"], file["sha256"], past)
    problem(
        anonymous.get(f"/files/{file['id']}", params={"expires": past, "signature": stale}), 403
    )
    fresh = int(time.time()) + 60
    good = attachment_signature(key, file["id"], file["sha256"], fresh)
    r = anonymous.get(f"/files/{file['id']}", params={"expires": fresh, "signature": good})
    assert r.status_code == 200
    problem(anonymous.get(f"/files/{file['id']}"), 422)
