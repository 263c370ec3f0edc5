"""HTTP/2 through nginx, configured with the deployment page's TLS server block
(``docs/snippets/nginx-http2.conf``, its certificate one the test makes with ``openssl``):
12 tabs of a page with two plain ``EventSource`` streams each, all open and flowing at once
over one TCP connection, where HTTP/1.1 would give the whole browser 6."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import Browser

from django_streaming import publish
from tests.support.docs import snippet
from tests.support.nginx import CONNECTIONS_LOG, run_nginx
from tests.support.servers import RunningServer, wait_until
from tests.support.tools import require
from tests.testapp.tabs import OPEN

pytestmark = [pytest.mark.browser, pytest.mark.nginx, pytest.mark.slow]

TABS = 12
MEMORY = {"BACKEND": "django_streaming.stores.memory.MemoryStore"}


def server_block(port: int, certificate: Path, key: Path) -> str:
    """The snippet, verbatim but for the address and the certificate's files."""
    block = snippet("nginx-http2.conf")
    replacements = {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{port} ssl http2;",
        "/etc/ssl/certs/example.com.pem": str(certificate),
        "/etc/ssl/private/example.com.key": str(key),
    }
    for old, new in replacements.items():
        assert old in block, f"the snippet no longer has {old!r}"
        block = block.replace(old, new)
    location = "".join(
        f"    {line}\n" if line else "\n" for line in snippet("nginx.conf").split("\n")
    )
    assert location.strip() in block, "its location is no longer the plain snippet's"
    return block


@pytest.fixture
def https_proxy(site_server: RunningServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """nginx with the snippet's TLS + http2 server block in front of the test site."""
    openssl = require("openssl")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with run_nginx(
        site_server,
        tmp_path,
        lambda port: server_block(port, certificate, key),
        scheme="https",
        access_log=CONNECTIONS_LOG,
    ) as url:
        yield url, tmp_path / "access.log"


def test_twelve_tabs_of_two_event_sources_flow_over_one_http2_connection(
    browser: Browser, https_proxy: tuple[str, Path], token: str
) -> None:
    url, access_log = https_proxy
    context = browser.new_context(base_url=url, ignore_https_errors=True)
    context.set_default_timeout(10_000)
    errors: list[str] = []
    with override_settings(DJANGO_STREAMING={"STORE": MEMORY}):
        pages = []
        for _ in range(TABS):
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"/tabs/{token}/page/?mode=eventsource", wait_until="load")
            pages.append(page)
        for page in pages:
            page.wait_for_function("window.tabs.opened.a && window.tabs.opened.b")
        wait_until(lambda: OPEN[token] == 2 * TABS, what="every stream open at the server")
        protocols = pages[-1].evaluate(
            "[...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')].map(entry => entry.nextHopProtocol)"
        )
        assert protocols
        assert set(protocols) == {"h2"}
        for number in range(3):
            publish(f"{token}-a", str(number))
            publish(f"{token}-b", str(number))
        for page in pages:
            page.wait_for_function(
                "window.tabs.received.a.length + window.tabs.received.b.length >= 6"
            )
            assert page.evaluate("window.tabs.received") == {
                "a": ["0", "1", "2"],
                "b": ["0", "1", "2"],
            }
        context.close()  # the streams end, and nginx logs them
        streams = f"/tabs/{token}/feed/"

        def logged() -> list[list[str]]:
            lines = [line.split(" ", 2) for line in access_log.read_text().splitlines()]
            return [line for line in lines if line[2].startswith(f"/tabs/{token}/")]

        wait_until(lambda: sum(line[2].startswith(streams) for line in logged()) == 2 * TABS)
    assert {(connection, protocol) for connection, protocol, _ in logged()} == {
        (logged()[0][0], "HTTP/2.0")
    }
    assert errors == []
