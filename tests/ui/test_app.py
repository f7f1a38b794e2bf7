"""WebDriver suite for the Customer Hub desktop app.

Drives the real binary (WebKitGTK under Xvfb) through tauri-driver, and the
`hub` CLI against the same database. Started by tests/ui/run.sh, which sets
HUB_DB, APP, HUB_BIN, HUB_SERVER_BIN, HUB_CONFIG_DIR, DRIVER_URL and ARTIFACTS.

The tests run in order and share one database: the first session starts from
an empty store, the second after `hub demo --contacts 500`; the sync session
starts a real `hub-server` and a second device (the CLI on another database).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

APP = Path(os.environ["APP"]).resolve()
HUB_BIN = Path(os.environ["HUB_BIN"]).resolve()
HUB_SERVER_BIN = Path(os.environ.get("HUB_SERVER_BIN", HUB_BIN.with_name("hub-server"))).resolve()
HUB_DB = os.environ["HUB_DB"]
DRIVER_URL = os.environ.get("DRIVER_URL", "http://127.0.0.1:4444")
ARTIFACTS = Path(os.environ.get("ARTIFACTS", "tests/ui/artifacts"))
SCREENSHOTS = os.environ.get("SCREENSHOTS_DIR")  # set to docs/screenshots to refresh them

DEFAULT_WAIT = 10.0


class Failure(AssertionError):
    pass


# --- helpers -----------------------------------------------------------------


def hub(*args: str) -> str:
    """Run the `hub` CLI against the app's database; returns stdout."""
    result = subprocess.run(
        [str(HUB_BIN), "--db", HUB_DB, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise Failure(f"hub {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def cli_contacts(search: str | None = None) -> dict:
    args = ["contact", "list", "--json"]
    if search:
        args += ["--search", search]
    return json.loads(hub(*args))


def content(element: WebElement) -> str:
    """An element's text as in the DOM. WebDriver's `.text` drops text that
    WebKitWebDriver thinks is clipped, which the list's ellipsis cells are."""
    return (element.get_attribute("textContent") or "").strip()


def wait_until(what: str, check: Callable[[], object], timeout: float = DEFAULT_WAIT) -> object:
    """Poll `check` until it returns something truthy; fail with `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as e:
            last_error = e
        time.sleep(0.1)
    raise Failure(f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last_error})" if last_error else ""))


def screenshot(name: str, driver: webdriver.Remote | None = None) -> Path:
    """The whole Xvfb screen, cropped to the window (the screen around it is black).

    The DOM can be ahead of the pixels: with a driver, wait for two animation
    frames and a moment for WebKit to paint before capturing."""
    if driver is not None:
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
        )
        time.sleep(0.4)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    raw = ARTIFACTS / f"{name}.raw.png"
    out = ARTIFACTS / f"{name}.png"
    subprocess.run(["/usr/bin/import", "-window", "root", str(raw)], check=True, timeout=30)
    subprocess.run(["/usr/bin/convert", str(raw), "-trim", "+repage", str(out)], check=True, timeout=30)
    raw.unlink()
    return out


def publish(shot: Path, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(SCREENSHOTS) / f"{name}.png")


class App:
    """One WebDriver session: the app window with the current database."""

    def __init__(self, start: str = "contacts") -> None:
        """The app opens on Today; `start="contacts"` (the default for these
        tests) then goes to Contacts, `start="today"` stays."""
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(DRIVER_URL, options=options)
        self.driver.implicitly_wait(0)
        try:
            self.wait_for("today-screen", timeout=30)
            if start == "contacts":
                self.click("nav-contacts")
                self.wait_for("contacts-screen")
        except Failure:
            self.quit()
            raise

    def quit(self) -> None:
        try:
            self.driver.quit()
        except WebDriverException:
            pass

    # finding things

    def find_all(self, testid: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def find(self, testid: str) -> WebElement | None:
        found = self.find_all(testid)
        return found[0] if found else None

    def wait_for(self, testid: str, timeout: float = DEFAULT_WAIT) -> WebElement:
        return wait_until(
            f'[data-testid="{testid}"] to be shown',
            lambda: next((e for e in self.find_all(testid) if e.is_displayed()), None),
            timeout,
        )

    def wait_gone(self, testid: str, timeout: float = DEFAULT_WAIT) -> None:
        wait_until(f'[data-testid="{testid}"] to go away', lambda: not self.find_all(testid), timeout)

    def text(self, testid: str) -> str:
        return self.wait_for(testid).text.strip()

    def row_names(self) -> list[str]:
        return [content(e) for e in self.find_all("contact-row-name")]

    def wait_for_row(self, name: str, timeout: float = DEFAULT_WAIT) -> WebElement:
        def row() -> WebElement | None:
            for e in self.find_all("contact-row"):
                if content(e.find_element(By.CSS_SELECTOR, '[data-testid="contact-row-name"]')) == name:
                    return e
            return None

        return wait_until(f"a contact row named {name!r}", row, timeout)

    # doing things

    def click(self, testid: str) -> None:
        self.wait_for(testid).click()

    def type(self, testid: str, text: str, clear: bool = True) -> None:
        field = self.wait_for(testid)
        if clear:
            field.clear()
        field.send_keys(text)

    def go_contacts(self) -> None:
        self.click("nav-contacts")
        self.wait_for("contacts-screen")

    def go_companies(self) -> None:
        self.click("nav-companies")
        self.wait_for("companies-screen")

    def search_contacts(self, text: str) -> None:
        self.go_contacts()
        self.type("contact-search", text)

    def count(self, testid: str = "contact-count") -> int:
        return int(self.text(testid).replace(",", "").replace(".", "").replace("\u202f", ""))


# --- the tests ---------------------------------------------------------------

LOVELACE_EMAIL = "ada.lovelace@analytical-engines.example"


def test_empty_store_shows_an_empty_state(app: App) -> None:
    app.wait_for("contacts-empty")
    assert app.find("demo-banner") is None, "no demo banner on an empty store"
    screenshot("01-empty", app.driver)


def test_create_contact_through_form_then_find_it_by_email(app: App) -> None:
    # Someone else in the list, so the search below has something to filter out.
    hub("contact", "add", "--name", "Alan Turing", "--email", "alan@bletchley.example")
    app.wait_for_row("Alan Turing")
    app.click("new-contact")
    app.wait_for("contact-form")
    app.type("input-first-name", "Ada")
    app.type("input-last-name", "Lovelace")
    app.type("input-title", "Analyst")
    app.type("company-picker", "Analytical Engines")
    app.wait_for("company-new-hint")
    Select(app.wait_for("input-stage")).select_by_value("prospect")
    app.type("input-email-0", LOVELACE_EMAIL)
    app.type("input-phone-0", "+44 20 7946 0018")
    app.type("tags-input", "vip" + Keys.ENTER)
    app.type("tags-input", "mathematics" + Keys.ENTER, clear=False)
    assert len(app.find_all("tag-chip")) == 2, "two tag chips"
    app.type("input-notes", "Wrote the first program.")
    screenshot("02-contact-form", app.driver)
    app.click("save-contact")

    app.wait_for("contact-detail")
    wait_until("the saved contact's name", lambda: app.text("contact-name") == "Ada Lovelace")
    assert app.text("contact-email") == LOVELACE_EMAIL
    assert app.text("contact-company") == "Analytical Engines"
    assert sorted(e.text for e in app.find_all("contact-tag")) == ["mathematics", "vip"]

    # Find it again by typing part of its email address.
    app.search_contacts("lovelace@analyt")
    row = app.wait_for_row("Ada Lovelace")
    wait_until("exactly one match", lambda: app.row_names() == ["Ada Lovelace"])
    screenshot("03-search", app.driver)
    row.click()
    app.wait_for("contact-detail")
    wait_until("the opened contact", lambda: app.text("contact-name") == "Ada Lovelace")

    stored = cli_contacts("lovelace")
    assert stored["total"] == 1, stored
    assert stored["items"][0]["email"] == LOVELACE_EMAIL


def test_bad_email_shows_inline_error_and_saves_nothing(app: App) -> None:
    before = cli_contacts()["total"]
    app.go_contacts()
    app.click("new-contact")
    app.type("input-first-name", "Charles")
    app.type("input-last-name", "Babbage")
    app.type("input-email-0", "charles-at-difference-engine")
    app.click("save-contact")

    error = app.wait_for("error-email-0")
    assert "valid email" in error.text, error.text
    assert app.wait_for("input-email-0").get_attribute("aria-invalid") == "true"
    assert app.find("contact-form") is not None, "still on the form"
    screenshot("04-bad-email", app.driver)
    time.sleep(0.5)
    assert cli_contacts()["total"] == before, "nothing was saved"
    assert cli_contacts("babbage")["total"] == 0

    # Fixing the address clears the message.
    app.type("input-email-0", "charles@difference-engine.example")
    app.wait_gone("error-email-0")
    app.click("cancel-contact")
    app.wait_gone("contact-form")


def test_core_rejects_a_bad_phone_and_the_form_shows_it_inline(app: App) -> None:
    # Passes the UI's light check, so the core's validation error is the one shown.
    before = cli_contacts()["total"]
    app.go_contacts()
    app.click("new-contact")
    app.type("input-first-name", "Mary")
    app.type("input-last-name", "Somerville")
    app.type("input-phone-0", "+999 123 4567")
    app.click("save-contact")
    error = app.wait_for("error-phone-0")
    assert error.text.strip(), "a message from the core"
    assert app.find("contact-form") is not None
    assert cli_contacts()["total"] == before, "nothing was saved"
    app.click("cancel-contact")
    app.wait_gone("contact-form")


def test_contact_added_with_the_cli_appears_while_the_app_is_open(app: App) -> None:
    app.go_contacts()
    if app.find("clear-filters"):
        app.click("clear-filters")
    app.wait_for_row("Ada Lovelace")
    started = time.monotonic()
    new_id = hub("contact", "add", "--name", "Grace Hopper", "--email", "grace@navy.example",
                 "--company", "US Navy", "--tag", "vip").strip()
    assert new_id, "hub printed the new id"
    app.wait_for_row("Grace Hopper", timeout=5)
    took = time.monotonic() - started
    print(f"    CLI contact visible in the app after {took:.2f}s")
    wait_until("the count to follow", lambda: app.count() == cli_contacts()["total"] == 3)


def test_edit_contact_updates_detail_and_store(app: App) -> None:
    app.go_contacts()
    app.wait_for_row("Ada Lovelace").click()
    app.wait_for("contact-detail")
    app.click("edit-contact")
    app.wait_for("contact-form")
    wait_until("the form filled in", lambda: app.wait_for("input-first-name").get_attribute("value") == "Ada")
    Select(app.wait_for("input-stage")).select_by_value("customer")
    app.click("add-email")
    app.type("input-email-1", "ada@home.example")
    app.click("save-contact")
    app.wait_for("contact-detail")
    wait_until("two email addresses", lambda: len(app.find_all("contact-email")) == 2)
    assert app.text("stage-badge") == "Customer"

    shown = json.loads(hub("contact", "show", cli_contacts("lovelace")["items"][0]["id"], "--json"))
    assert shown["lifecycle_stage"] == "customer", shown
    assert [e["address"] for e in shown["emails"]] == [LOVELACE_EMAIL, "ada@home.example"], shown


def test_company_typed_on_a_contact_lists_its_people(app: App) -> None:
    app.go_companies()
    wait_until("two companies", lambda: app.count("company-count") == 2)
    row = wait_until(
        "the Analytical Engines row",
        lambda: next((r for r in app.find_all("company-row") if "Analytical Engines" in content(r)), None),
    )
    row.click()
    app.wait_for("company-detail")
    assert app.text("company-name") == "Analytical Engines"
    app.wait_for_row("Ada Lovelace")
    assert app.row_names() == ["Ada Lovelace"]


def test_delete_contact_asks_first(app: App) -> None:
    app.go_contacts()
    app.wait_for_row("Grace Hopper").click()
    app.click("delete-contact")
    app.wait_for("confirm-dialog")
    app.click("confirm-cancel")
    time.sleep(0.3)
    assert cli_contacts("grace")["total"] == 1, "cancel keeps the contact"
    app.click("delete-contact")
    app.click("confirm-accept")
    app.wait_for("contacts-screen")
    wait_until("Grace Hopper gone from the list", lambda: "Grace Hopper" not in app.row_names())
    assert cli_contacts("grace")["total"] == 0


def test_demo_data_banner_and_virtualised_list(app: App) -> None:
    app.wait_for("demo-banner")
    total = cli_contacts()["total"]
    assert total >= 500, total
    wait_until("the full count", lambda: app.count() == total)
    app.wait_for_row(cli_contacts()["items"][0]["display_name"])
    rows = len(app.find_all("contact-row"))
    assert 0 < rows < 60, f"only visible rows are in the DOM, got {rows}"
    shot = screenshot("10-contacts-demo", app.driver)
    publish(shot, "contacts")

    # Jump to the end: the last page is fetched on demand and rendered.
    app.driver.execute_script(
        "const v = document.querySelector('[data-testid=\"contact-list\"]'); v.scrollTop = v.scrollHeight;"
    )
    wait_until(
        "the last rows to be loaded",
        lambda: max((int(r.get_attribute("data-index")) for r in app.find_all("contact-row")), default=-1)
        == total - 1,
    )
    assert len(app.find_all("contact-row")) < 60
    screenshot("10b-contacts-end", app.driver)


def test_screenshots_of_detail_and_companies(app: App) -> None:
    app.go_contacts()
    app.type("contact-search", "lovelace")
    wait_until("the search to narrow the list", lambda: app.row_names() == ["Ada Lovelace"])
    app.wait_for_row("Ada Lovelace").click()
    app.wait_for("contact-detail")
    wait_until("the contact", lambda: app.text("contact-name") == "Ada Lovelace")
    publish(screenshot("11-contact-detail", app.driver), "contact-detail")
    app.go_companies()
    wait_until("companies listed", lambda: len(app.find_all("company-row")) > 5)
    publish(screenshot("12-companies", app.driver), "companies")
    app.find_all("company-row")[0].click()
    app.wait_for("company-detail")
    wait_until("the company's people", lambda: len(app.find_all("contact-row")) > 0)
    publish(screenshot("13-company-detail", app.driver), "company-detail")


def test_clear_demo_data_keeps_real_contacts(app: App) -> None:
    app.go_contacts()
    app.click("clear-demo")
    app.click("confirm-accept")
    app.wait_gone("demo-banner", timeout=20)
    if app.find("clear-filters"):
        app.click("clear-filters")
    wait_until("only the real contacts left", lambda: app.count() == 2, timeout=10)
    app.wait_for_row("Ada Lovelace")
    app.wait_for_row("Alan Turing")
    assert cli_contacts()["total"] == 2


NOT_A_DATABASE = "These are my meeting notes, not a database.\n" * 50


def test_a_file_that_is_not_a_database_is_reported_and_left_alone(app: App) -> None:
    error = app.wait_for("contacts-error")
    text = content(error)
    assert "not a Customer Hub database" in text, text
    assert app.find("contact-count") is None
    screenshot("20-not-a-database", app.driver)
    app.go_companies()
    app.wait_for("companies-error")
    assert Path(HUB_DB).read_text() == NOT_A_DATABASE, "the file is untouched"


# --- sync: a real hub-server, this app and a second device (the CLI) ---------

OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery staple"


class SyncWorld:
    """A hub-server on a free port with one workspace, and a second device:
    the `hub` CLI on its own database, signed in to the same workspace."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hub-sync-"))
        self.db_url = f"sqlite://{self.dir}/server.db"
        self.other_db = str(self.dir / "other.db")
        created = subprocess.run(
            [str(HUB_SERVER_BIN), "workspace", "create", "Acme", "--database-url", self.db_url,
             "--owner-email", OWNER_EMAIL, "--password-stdin", "--json"],
            input=OWNER_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
        )
        if created.returncode != 0:
            raise Failure(f"hub-server workspace create failed: {created.stderr.strip()}")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(ARTIFACTS / "hub-server.log", "w")
        self.server = subprocess.Popen(
            [str(HUB_SERVER_BIN), "serve", "--database-url", self.db_url, "--bind", f"127.0.0.1:{port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            if self.server.poll() is not None:
                raise Failure(f"hub-server exited ({self.server.returncode}), see hub-server.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until("hub-server to listen", up, timeout=30)

    def other(self, *args: str, stdin: str | None = None) -> str:
        """The `hub` CLI on the second device's database."""
        result = subprocess.run(
            [str(HUB_BIN), "--db", self.other_db, *args],
            input=stdin, capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise Failure(f"hub --db other {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


WORLD: SyncWorld | None = None


def world() -> SyncWorld:
    if WORLD is None:
        raise Failure("no sync server (the session did not start it)")
    return WORLD


def open_settings(app: App) -> None:
    app.click("nav-settings")
    app.wait_for("settings-screen")


def sync_now_in_app(app: App) -> None:
    """Settings → Sync → "Sync now", and wait for the round to finish."""
    open_settings(app)
    app.click("sync-now")
    wait_until("the round to finish", lambda: "Syncing" not in app.text("sync-now"), timeout=30)
    wait_until("a last sync time", lambda: app.text("sync-last") not in ("", "Not yet"), timeout=10)


def test_sign_in_through_settings(app: App) -> None:
    w = world()
    assert app.wait_for("sync-indicator").get_attribute("data-state") == "signed_out"
    open_settings(app)
    app.wait_for("sign-in-form")
    app.type("input-sync-server", w.url)
    app.type("input-sync-email", OWNER_EMAIL)
    app.type("input-sync-password", OWNER_PASSWORD)
    app.type("input-sync-device", "Test desktop")

    # No keyring in this session: without the checkbox the app refuses before
    # contacting the server, and says what to do.
    app.click("sign-in")
    error = app.wait_for("sign-in-error", timeout=20)
    assert error.get_attribute("data-code") == "keyring_unavailable", error.get_attribute("data-code")
    assert "Keep the token in a file" in error.text, error.text
    assert app.find("sync-account") is None

    app.click("input-sync-insecure")
    app.click("sign-in")
    app.wait_for("sync-account", timeout=20)
    assert app.text("sync-email") == OWNER_EMAIL
    assert app.text("sync-server") == w.url
    # The first round starts at once and sends the two local contacts.
    wait_until("the first sync", lambda: app.text("sync-last") != "Not yet", timeout=30)
    wait_until("nothing left to send", lambda: app.text("sync-pending").startswith("0 changes"), timeout=30)
    wait_until("the indicator to say online",
               lambda: app.wait_for("sync-indicator").get_attribute("data-state") == "idle", timeout=30)
    devices = wait_until("this device in the device list", lambda: app.find_all("device-row"), timeout=10)
    assert any(d.get_attribute("data-current") == "true" for d in devices)
    tokens = Path(os.environ["HUB_CONFIG_DIR"]) / "tokens.json"
    assert tokens.exists() and oct(tokens.stat().st_mode & 0o777) == "0o600", "token kept in a 0600 file"
    publish(screenshot("30-settings-sync", app.driver), "settings-sync")


def test_other_devices_edit_appears_after_sync(app: App) -> None:
    w = world()
    w.other("login", "--server", w.url, "--email", OWNER_EMAIL, "--password-stdin", "--insecure-storage",
            "--device-name", "Second laptop", stdin=OWNER_PASSWORD + "\n")
    w.other("sync")
    pulled = json.loads(w.other("contact", "list", "--json"))
    assert {c["display_name"] for c in pulled["items"]} >= {"Ada Lovelace", "Alan Turing"}, pulled
    w.other("contact", "add", "--name", "Katherine Johnson", "--email", "katherine@nasa.example")
    w.other("sync")

    sync_now_in_app(app)
    app.go_contacts()
    app.wait_for_row("Katherine Johnson", timeout=15)
    assert cli_contacts("katherine")["total"] == 1
    # The second device shows up in Settings, revocable; this one is not.
    open_settings(app)
    wait_until("two devices", lambda: len(app.find_all("device-row")) == 2)
    assert len(app.find_all("revoke-device")) == 1, "only the other device can be revoked"


def test_concurrent_edit_shows_as_conflict_and_restores(app: App) -> None:
    w = world()
    other_ada = json.loads(w.other("contact", "list", "--json", "--search", "lovelace"))["items"][0]["id"]
    # The second device edits first, offline…
    w.other("contact", "edit", other_ada, "--set", "title=Chief Analyst")
    time.sleep(0.05)
    # …then the app edits the same field, without having seen it, and syncs.
    app.go_contacts()
    app.wait_for_row("Ada Lovelace").click()
    app.click("edit-contact")
    app.wait_for("contact-form")
    wait_until("the form filled in", lambda: app.wait_for("input-first-name").get_attribute("value") == "Ada")
    app.type("input-title", "Lead Analyst")
    app.click("save-contact")
    app.wait_for("contact-detail")
    wait_until("the new title", lambda: "Lead Analyst" in app.text("contact-role"))
    sync_now_in_app(app)
    wait_until("the edit sent", lambda: app.text("sync-pending").startswith("0 changes"), timeout=15)

    # The second device's edit is older and its writer had not seen ours: it
    # loses, and is kept as a conflict.
    w.other("sync")
    sync_now_in_app(app)
    badge = app.wait_for("conflicts-badge", timeout=15)
    assert badge.text.strip() == "1", badge.text
    app.click("nav-conflicts")
    app.wait_for("conflicts-screen")
    conflict = app.wait_for("conflict")
    assert content(conflict.find_element(By.CSS_SELECTOR, '[data-testid="conflict-label"]')) == "Ada Lovelace"
    assert content(conflict.find_element(By.CSS_SELECTOR, '[data-testid="conflict-winner"]')) == "Lead Analyst"
    assert content(conflict.find_element(By.CSS_SELECTOR, '[data-testid="conflict-lost"]')) == "Chief Analyst"
    assert "This device" in content(conflict), "the winning side is marked as this device"
    publish(screenshot("31-conflicts", app.driver), "conflicts")

    app.click("conflict-restore")
    app.wait_for("confirm-dialog")
    app.click("confirm-accept")
    app.wait_for("conflicts-empty", timeout=10)
    app.wait_gone("conflicts-badge", timeout=10)
    shown = json.loads(hub("contact", "show", cli_contacts("lovelace")["items"][0]["id"], "--json"))
    assert shown["title"] == "Chief Analyst", shown
    app.go_contacts()
    app.wait_for_row("Ada Lovelace").click()
    wait_until("the restored title", lambda: "Chief Analyst" in app.text("contact-role"))

    # The restore is a new edit: it reaches the other device on its next sync.
    sync_now_in_app(app)
    w.other("sync")
    again = json.loads(w.other("contact", "show", other_ada, "--json"))
    assert again["title"] == "Chief Analyst", again


def test_sign_out_keeps_the_data(app: App) -> None:
    open_settings(app)
    app.click("sign-out")
    app.wait_for("confirm-dialog")
    app.click("confirm-accept")
    app.wait_for("sign-in-form", timeout=20)
    wait_until("the indicator to say signed out",
               lambda: app.wait_for("sync-indicator").get_attribute("data-state") == "signed_out", timeout=10)
    assert cli_contacts("katherine")["total"] == 1, "the data stays"
    tokens = json.loads((Path(os.environ["HUB_CONFIG_DIR"]) / "tokens.json").read_text())
    assert not any(k.startswith(json.loads(hub("sync", "status", "--json"))["device_id"]) for k in tokens), tokens


FIRST_SESSION = [
    test_empty_store_shows_an_empty_state,
    test_create_contact_through_form_then_find_it_by_email,
    test_bad_email_shows_inline_error_and_saves_nothing,
    test_core_rejects_a_bad_phone_and_the_form_shows_it_inline,
    test_contact_added_with_the_cli_appears_while_the_app_is_open,
    test_edit_contact_updates_detail_and_store,
    test_company_typed_on_a_contact_lists_its_people,
    test_delete_contact_asks_first,
]

DEMO_SESSION = [
    test_demo_data_banner_and_virtualised_list,
    test_screenshots_of_detail_and_companies,
    test_clear_demo_data_keeps_real_contacts,
]


BAD_FILE_SESSION = [test_a_file_that_is_not_a_database_is_reported_and_left_alone]

SYNC_SESSION = [
    test_sign_in_through_settings,
    test_other_devices_edit_appears_after_sync,
    test_concurrent_edit_shows_as_conflict_and_restores,
    test_sign_out_keeps_the_data,
]


# --- runner ------------------------------------------------------------------


def run_session(tests: list[Callable[[App], None]], results: list[tuple[str, bool]]) -> None:
    try:
        app = App()
    except Exception as e:  # the session itself failed: every test in it fails
        print(f"cannot start the app session: {e}", file=sys.stderr)
        results.extend((t.__name__, False) for t in tests)
        return
    try:
        for test in tests:
            name = test.__name__
            started = time.monotonic()
            try:
                test(app)
                results.append((name, True))
                print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
            except Exception:
                results.append((name, False))
                print(f"FAIL {name}", flush=True)
                traceback.print_exc()
                try:
                    screenshot(f"failure-{name}", app.driver)
                except Exception as shot_error:
                    print(f"    (no screenshot: {shot_error})")
    finally:
        app.quit()


def main() -> int:
    only = set(sys.argv[1:])
    pick = lambda tests: [t for t in tests if not only or t.__name__ in only]  # noqa: E731
    results: list[tuple[str, bool]] = []
    run_session(pick(FIRST_SESSION), results)
    if pick(DEMO_SESSION):
        try:
            hub("demo", "--contacts", "500")
            run_session(pick(DEMO_SESSION), results)
        except Failure as e:
            print(f"cannot load demo data: {e}", file=sys.stderr)
            results.extend((t.__name__, False) for t in pick(DEMO_SESSION))
    if pick(BAD_FILE_SESSION):
        # Swap the database for a text file for one session, then put it back.
        db = Path(HUB_DB)
        aside = {p: p.with_name(p.name + ".aside") for p in (db, Path(HUB_DB + "-wal"), Path(HUB_DB + "-shm"))}
        for p, q in aside.items():
            if p.exists():
                p.rename(q)
        db.write_text(NOT_A_DATABASE)
        try:
            run_session(pick(BAD_FILE_SESSION), results)
        finally:
            db.unlink()
            for p, q in aside.items():
                if q.exists():
                    q.rename(p)
    if pick(SYNC_SESSION):
        global WORLD
        try:
            WORLD = SyncWorld()
        except Exception as e:
            print(f"cannot start the sync server: {e}", file=sys.stderr)
            results.extend((t.__name__, False) for t in pick(SYNC_SESSION))
        else:
            try:
                run_session(pick(SYNC_SESSION), results)
            finally:
                WORLD.stop()
                WORLD = None
    passed = sum(ok for _, ok in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
