"""The web console end to end, in headless Chromium (Debian's ``chromium``), driven by Playwright.

Alice signs in with an API token, creates a key, finds it, grants bob a
right, then revokes and destroys it; bob's session does not see the key
until the grant.  Admin signs in with a client certificate.  A screenshot of
every page goes to ``test-output/ui/``.  ``playwright install`` cannot
download browsers here, so the system Chromium is launched directly.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .http_client import http_port, write_token_file
from .server_process import RunningServer, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "ui"
TOKENS = {"alice": "alice-ui-token-" + secrets.token_hex(8), "bob": "bob-ui-token-" + secrets.token_hex(8)}

if os.environ.get("CI") == "true" and not CHROMIUM.exists():
    # In CI a missing browser is a failure, not a skip: scripts/_provision.sh installs it.
    pytest.fail("Debian's chromium is not installed (scripts/_provision.sh installs it)", pytrace=False)
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("ui")
    tokens = write_token_file(base / "tokens.txt", TOKENS)
    running = start_server(base / "data", "--non-fips", "--api-token-file", str(tokens))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def _base(server: RunningServer) -> str:
    return f"https://127.0.0.1:{http_port(server)}"


def _page(browser: Any, server: RunningServer, **context: Any) -> Any:
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 800}, **context)
    page = ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(15000)
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, server: RunningServer, user: str, shot: str | None = None) -> None:
    page.goto(_base(server) + "/ui/")
    page.wait_for_selector("#view-login:not([hidden])")
    if shot:
        _shot(page, shot)
    page.fill("#token", TOKENS[user])
    page.click("#login-token button[type=submit]")
    page.wait_for_selector(f"#user:text('{user}')")


def _search(page: Any, name: str) -> list[str]:
    page.click("nav a[data-view=objects]")
    page.fill("#search-name", name)
    page.click("#search button[type=submit]")
    page.wait_for_selector("#page:not(:empty)")
    page.wait_for_load_state("networkidle")
    return [str(row.get_attribute("data-id")) for row in page.query_selector_all("#objects tbody tr")]


def test_alice_creates_finds_shares_revokes_and_destroys_a_key(browser: Any, server: RunningServer) -> None:
    name = "ui-key-" + secrets.token_hex(4)
    alice = _page(browser, server)
    bob = _page(browser, server)

    _sign_in(alice, server, "alice", shot="01-sign-in")
    _shot(alice, "02-objects-empty")

    alice.click("nav a[data-view=create]")
    alice.select_option("#create-kind", "symmetric")
    alice.fill("#create-name", name)
    _shot(alice, "03-create")
    alice.click("#create-form button[type=submit]")
    alice.wait_for_selector("#view-object:not([hidden])")
    alice.wait_for_selector("#attributes tbody tr")
    uid = alice.inner_text("#object-id")
    assert re.fullmatch(r"[0-9a-f-]{36}", uid)
    assert "KeyMaterial" not in alice.content() and alice.is_hidden("#material")  # never shown unless asked
    _shot(alice, "04-object")

    assert _search(alice, name) == [uid]
    _shot(alice, "05-search-found")

    _sign_in(bob, server, "bob")
    assert _search(bob, name) == []
    _shot(bob, "06-bob-does-not-see-it")

    alice.goto(_base(server) + f"/ui/#object/{uid}")
    alice.wait_for_selector("#attributes tbody tr")
    alice.fill("#grant-user", "bob")
    alice.fill("#grant-ops", "get, get_attributes, locate")
    alice.click("#grant button[type=submit]")
    alice.wait_for_selector("#grants tbody tr td:text('bob')")
    _shot(alice, "07-granted")

    assert _search(bob, name) == [uid]
    bob.click("nav a[data-view=access]")
    bob.wait_for_selector(f"#obtained tbody tr td a:text('{uid}')")
    _shot(bob, "08-bob-shared-with-me")

    alice.goto(_base(server) + f"/ui/#object/{uid}")
    alice.wait_for_selector("#attributes tbody tr")
    alice.click("#activate")
    alice.wait_for_selector("#status:text('Activate: done')")
    alice.click("#revoke")
    alice.wait_for_selector("#status:text('Revoke: done')")
    _shot(alice, "09-revoked")
    alice.click("#destroy")
    alice.wait_for_selector("#status:text('Destroy: done')")
    assert "Destroyed" in alice.inner_text("#attributes")
    _shot(alice, "10-destroyed")

    alice.click("nav a[data-view=server]")
    alice.wait_for_selector("#server-info tbody tr")
    assert "ok" in alice.inner_text("#server-info")
    _shot(alice, "11-server")

    alice.click("#logout")
    alice.wait_for_selector("#view-login:not([hidden])")


def test_sign_in_with_a_client_certificate(browser: Any, server: RunningServer) -> None:
    certificate = {"origin": _base(server), "certPath": server.admin_cert, "keyPath": server.admin_key}
    try:
        page = _page(browser, server, client_certificates=[certificate])
    except TypeError:  # a Playwright without client certificate support
        pytest.skip("this Playwright cannot present client certificates")
    page.goto(_base(server) + "/ui/")
    # The certificate identifies the browser at once: the console turns it into a session by itself.
    page.wait_for_selector("#user:text('admin')")
    page.wait_for_selector("#view-objects:not([hidden])")
    me = page.evaluate("fetch('/me').then((r) => r.json())")
    assert me["user"] == "admin" and me["authenticated_by"] == "session"
    _shot(page, "12-certificate-sign-in")


def test_import_a_certificate_and_use_the_playground(browser: Any, server: RunningServer) -> None:
    page = _page(browser, server)
    _sign_in(page, server, "alice")
    page.click("nav a[data-view=import]")
    page.set_input_files("#import-file", server.ca)
    page.fill("#import-name", "dev-ca-" + secrets.token_hex(3))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#view-object:not([hidden])")
    page.wait_for_selector("#attributes tbody tr td:text('Certificate')")
    assert page.is_hidden("#reveal")  # nothing secret to reveal in a certificate
    _shot(page, "13-imported-certificate")

    page.click("nav a[data-view=create]")
    page.fill("#create-name", "play-" + secrets.token_hex(3))
    page.click("#create-form button[type=submit]")
    page.wait_for_selector("#attributes tbody tr")
    uid = page.inner_text("#object-id")
    page.click("#activate")
    page.wait_for_selector("#status:text('Activate: done')")
    if page.is_hidden("#nav-playground"):
        pytest.skip("the server offers no Encrypt/Decrypt yet")
    page.click("#nav-playground")
    page.fill("#play-key", uid)
    page.fill("#play-text", "attack at dawn")
    page.click("#play-encrypt")
    page.wait_for_selector("#status:text('Encrypt: done')")
    assert page.input_value("#play-cipher")
    page.fill("#play-text", "")
    page.click("#play-decrypt")
    page.wait_for_selector("#status:text('Decrypt: done')")
    assert page.input_value("#play-text") == "attack at dawn"
    _shot(page, "14-playground")
