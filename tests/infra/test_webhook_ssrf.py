"""Where a webhook may call: addresses judged after DNS resolution, the connection pinned to
the judged address, redirects not followed by default and judged at every hop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from app.config import Settings
from app.domain.webhooks import Reach, address_refusal, check_url
from app.infra.webhook_http import Attempt, HttpSender, Refused, make_client, pin
from tests.receiver import Receiver, running

OFF = Reach()
LOOPBACK_ON = Reach(allow_loopback=True)
PRIVATE_ON = Reach(allow_private=True)


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.0.0.7", "a private address"),
        ("172.16.4.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a private address"),
        ("fd00::1", "a private address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "a reserved address"),  # noqa: S104
        ("::", "a reserved address"),
        ("240.0.0.1", "a reserved address"),
        # IPv4 carried in IPv6 (Python calls these global whatever they carry).
        ("2002:a00:1::1", "a private address"),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::1", "a link-local address"),  # 6to4 of the metadata service
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of the metadata service
        ("64:ff9b::7f00:1", "a loopback address"),
        ("64:ff9b:1::a00:1", "a private address"),  # local-use NAT64
        ("fec0::1", "a private address"),  # site-local
        ("192.0.0.8", "a reserved address"),
        ("8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
        ("2001:4860:4860::8888", None),
    ],
)
def test_addresses_are_judged(address: str, refusal: str | None) -> None:
    assert address_refusal(address, OFF) == refusal


def test_settings_open_loopback_and_private_networks_only() -> None:
    assert address_refusal("127.0.0.1", LOOPBACK_ON) is None
    assert address_refusal("10.0.0.1", LOOPBACK_ON) == "a private address"
    assert address_refusal("10.0.0.1", PRIVATE_ON) is None
    assert address_refusal("127.0.0.1", PRIVATE_ON) == "a loopback address"
    for never in ("169.254.169.254", "224.0.0.1", "0.0.0.0"):  # noqa: S104
        assert address_refusal(never, Reach(True, True)) is not None


def test_plain_http_only_to_loopback_in_development() -> None:
    with pytest.raises(ValueError, match="https"):
        check_url("http://example.com/hook", Reach(True, True))
    with pytest.raises(ValueError, match="loopback"):
        check_url("http://127.0.0.1:8080/hook", OFF)
    assert check_url("http://127.0.0.1:8080/hook", LOOPBACK_ON).port == 8080
    assert check_url("https://example.com/hook?a=1", OFF).path == "/hook?a=1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running()


def send(settings: Settings, url: str) -> Attempt:
    async def go() -> Attempt:
        async with make_client(settings) as client:
            return await HttpSender(settings, client).send(url, {"webhook-id": "msg_1"}, b"{}")

    return asyncio.run(go())


def test_loopback_is_refused_after_resolution_without_the_development_setting(
    receiver: Receiver, settings: Settings
) -> None:
    off = settings.model_copy(
        update={"webhook_allow_loopback": False, "webhook_allow_private": True}
    )
    for url in (
        receiver.url(),  # a literal address
        f"http://localhost:{receiver.port}/hook",  # a name that resolves to loopback
        f"https://localhost:{receiver.port}/hook",
        f"https://127.1:{receiver.port}/hook",  # another spelling of 127.0.0.1
    ):
        attempt = send(off, url)
        assert attempt.status_code is None
        assert attempt.error is not None and attempt.error.startswith("refused:"), url
    assert receiver.requests == [], "nothing reached the receiver"


def test_the_connection_goes_to_the_judged_address(receiver: Receiver) -> None:
    pinned = asyncio.run(pin(f"http://localhost:{receiver.port}/hook?x=1", LOOPBACK_ON))
    assert pinned.url in (
        f"http://127.0.0.1:{receiver.port}/hook?x=1",
        f"http://[::1]:{receiver.port}/hook?x=1",
    )
    assert pinned.host_header == f"localhost:{receiver.port}"
    https = asyncio.run(pin("https://localhost/hook", LOOPBACK_ON))
    assert https.sni_hostname == "localhost", "TLS still checks the certificate of the name"
    with pytest.raises(Refused, match="could not be resolved"):
        asyncio.run(pin("https://no-such-host.invalid/hook", OFF))


def test_a_request_through_a_name_reaches_the_receiver_with_its_host(
    receiver: Receiver, settings: Settings
) -> None:
    attempt = send(settings, f"http://localhost:{receiver.port}/hook")
    assert attempt.status_code == 200, attempt.error
    [request] = receiver.requests
    assert request.headers["host"] == f"localhost:{receiver.port}"


def test_redirects_are_not_followed_by_default(receiver: Receiver, settings: Settings) -> None:
    receiver.routes["/hook"] = (307, {"location": receiver.url("/elsewhere")})
    attempt = send(settings, receiver.url())
    assert attempt.status_code == 307
    assert attempt.error == "HTTP 307: redirect not followed"
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_each_redirect_is_judged_when_following_is_allowed(
    receiver: Receiver, settings: Settings
) -> None:
    follow = settings.model_copy(update={"webhook_max_redirects": 2})
    receiver.routes["/hook"] = (307, {"location": "/second"})
    attempt = send(follow, receiver.url())
    assert attempt.status_code == 200, attempt.error
    assert [r.path for r in receiver.requests] == ["/hook", "/second"]

    for target in (
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/internal",
        "http://example.com/plain-http",
    ):
        receiver.received.clear()
        receiver.routes["/hook"] = (302, {"location": target})
        attempt = send(follow, receiver.url())
        assert attempt.status_code is None
        assert attempt.error is not None and attempt.error.startswith("refused:"), target
        assert [r.path for r in receiver.requests] == ["/hook"]

    receiver.received.clear()
    receiver.routes["/hook"] = (302, {"location": "/hook"})
    attempt = send(follow, receiver.url())
    assert attempt.error == "HTTP 302: redirect not followed", "a loop ends"
    assert len(receiver.requests) == 3
