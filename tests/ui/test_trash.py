"""WebDriver test of the Trash screen: a contact deleted with the CLI is in the
app's trash, the kind filter narrows the list, cancel keeps it there, and
Restore brings the contact back (the store says so) and empties the trash.

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh [test_name ...] picks tests by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import Select

from test_app import (
    APP,
    DRIVER_URL,
    HUB_BIN,
    HUB_DB,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    App,
    Failure,
    SyncWorld,
    content,
    hub,
    publish,
    screenshot,
    wait_until,
)


class TrashApp(App):
    """test_app's App, ready once the sidebar is shown: the app opens on Today
    now, and App() still waits for the contact list."""

    def __init__(self) -> None:
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(DRIVER_URL, options=options)
        self.driver.implicitly_wait(0)
        try:
            self.wait_for("nav-trash", timeout=30)
        except Failure:
            self.quit()
            raise


def trash(*args: str) -> list[dict]:
    return json.loads(hub("trash", "list", *args, "--json"))["items"]


def shown(app: App) -> list[tuple[str, str]]:
    """The trash rows on screen, as (kind, name)."""
    return [
        (e.get_attribute("data-entity"), content(e.find_element("css selector", '[data-testid="trash-label"]')))
        for e in app.find_all("trash-item")
    ]


def test_restore_a_deleted_contact_from_the_trash(app: App) -> None:
    # An empty trash says so.
    app.driver.execute_script("location.hash = '#/trash'")
    app.wait_for("trash-screen")
    app.wait_for("trash-empty")

    ada = hub("contact", "add", "--name", "Ada Lovelace", "--email", "ada@analytical-engines.example").strip()
    deal = hub("deal", "add", "--title", "Difference Engine No. 2", "--contact", ada).strip()
    hub("deal", "delete", deal)
    hub("contact", "delete", ada)
    try:
        hub("contact", "show", ada, "--json")
    except Failure:
        pass
    else:
        raise Failure("a deleted contact should not be shown")

    # The screen reloads on the store-changed event: both deletes appear, newest first.
    app.click("nav-trash")
    app.wait_for("trash-screen")
    wait_until(
        "the deleted contact and deal, newest first",
        lambda: shown(app) == [("contact", "Ada Lovelace"), ("deal", "Difference Engine No. 2")],
    )
    if app.find("trash-edited"):
        raise Failure("nothing was edited after the delete: no chip")

    # The kind filter.
    Select(app.find("trash-kind")).select_by_value("contact")
    wait_until("only the contact", lambda: shown(app) == [("contact", "Ada Lovelace")])
    screenshot("trash-contacts", app.driver)
    Select(app.find("trash-kind")).select_by_value("")
    wait_until("both again", lambda: len(shown(app)) == 2)
    publish(screenshot("trash", app.driver), "trash")

    def restore_button():
        row = next(e for e in app.find_all("trash-item") if e.get_attribute("data-id") == ada)
        return row.find_element("css selector", '[data-testid="trash-restore"]')

    # Cancel keeps it in the trash.
    restore_button().click()
    app.wait_for("confirm-dialog")
    if "Ada Lovelace" not in content(app.find("confirm-dialog")):
        raise Failure("the confirm dialog should name the record")
    app.click("confirm-cancel")
    if [i["id"] for i in trash("--entity", "contact")] != [ada]:
        raise Failure("cancel must not restore")

    restore_button().click()
    app.click("confirm-accept")
    wait_until("the contact gone from the trash", lambda: shown(app) == [("deal", "Difference Engine No. 2")])
    app.wait_for("trash-restored")

    shown_contact = json.loads(hub("contact", "show", ada, "--json"))
    if shown_contact.get("display_name") != "Ada Lovelace":
        raise Failure(f"the restored contact should be whole: {shown_contact}")
    if "ada@analytical-engines.example" not in json.dumps(shown_contact):
        raise Failure(f"the restored contact keeps its email: {shown_contact}")
    if [i["entity"] for i in trash()] != ["deal"]:
        raise Failure(f"only the deal should be left in the trash: {trash()}")

    # The "Open" link goes to the restored contact.
    app.click("trash-restored-open")
    app.wait_for("contact-detail")

    # Restore the deal too: the trash is empty.
    app.click("nav-trash")
    app.wait_for("trash-screen")
    wait_until("the deal", lambda: len(app.find_all("trash-restore")) == 1)
    app.find("trash-restore").click()
    app.click("confirm-accept")
    app.wait_for("trash-empty")
    if trash():
        raise Failure(f"the trash should be empty: {trash()}")
    json.loads(hub("deal", "show", deal, "--json"))


def login(run, url: str, device: str) -> None:
    run("login", "--server", url, "--email", OWNER_EMAIL, "--password-stdin", "--insecure-storage",
        "--device-name", device, stdin=OWNER_PASSWORD + "\n")


def test_an_edit_made_after_the_delete_is_flagged_and_kept(app: App) -> None:
    """The app's store deletes a contact and syncs; a second device that had not
    seen the delete edits the title and syncs; the app's trash flags the row
    "Edited after delete: Title", and restoring keeps the later title."""

    def here(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run([str(HUB_BIN), "--db", HUB_DB, *args], input=stdin, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            raise Failure(f"hub {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    w = SyncWorld()
    try:
        grace = here("contact", "add", "--name", "Grace Hopper", "--title", "Commander").strip()
        login(here, w.url, "Trash desktop")
        here("sync")
        login(w.other, w.url, "Second laptop")
        w.other("sync")
        if json.loads(w.other("contact", "show", grace, "--json"))["title"] != "Commander":
            raise Failure("the second device should have Grace")

        here("contact", "delete", grace)
        here("sync")
        time.sleep(0.05)
        # Offline, without having seen the delete.
        w.other("contact", "edit", grace, "--set", "title=Rear Admiral")
        w.other("sync")
        here("sync")
        flagged = [i for i in trash() if i["id"] == grace]
        if not flagged or flagged[0]["edited_after_delete"] != ["title"]:
            raise Failure(f"the store should flag the title: {trash()}")

        app.click("nav-trash")
        app.wait_for("trash-screen")
        row = wait_until(
            "Grace in the trash",
            lambda: next((e for e in app.find_all("trash-item") if e.get_attribute("data-id") == grace), None),
            timeout=15,
        )
        chip = wait_until(
            "the edited-after-delete chip",
            lambda: row.find_elements("css selector", '[data-testid="trash-edited"]'),
        )[0]
        if content(chip) != "Edited after delete: Title":
            raise Failure(f"the chip should name the field: {content(chip)!r}")
        screenshot("trash-edited-after-delete", app.driver)

        row.find_element("css selector", '[data-testid="trash-restore"]').click()
        dialog = app.wait_for("confirm-dialog")
        if "Title" not in content(dialog):
            raise Failure(f"the dialog should say the later edit is kept: {content(dialog)!r}")
        app.click("confirm-accept")
        app.wait_for("trash-empty")
        if json.loads(here("contact", "show", grace, "--json"))["title"] != "Rear Admiral":
            raise Failure("the restored contact keeps the edit made after the delete")
        # The restore is an edit: the second device gets Grace back.
        here("sync")
        w.other("sync")
        if json.loads(w.other("contact", "show", grace, "--json"))["title"] != "Rear Admiral":
            raise Failure("the restore should reach the second device")
    finally:
        w.stop()


def main() -> int:
    only = set(sys.argv[1:])
    tests = [t for t in (
            test_restore_a_deleted_contact_from_the_trash,
            test_an_edit_made_after_the_delete_is_flagged_and_kept,
        ) if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    app = TrashApp()
    try:
        for test in tests:
            started = time.monotonic()
            try:
                test(app)
                results.append((test.__name__, True))
                print(f"PASS {test.__name__} ({time.monotonic() - started:.1f}s)", flush=True)
            except Exception:
                results.append((test.__name__, False))
                print(f"FAIL {test.__name__}", flush=True)
                traceback.print_exc()
                screenshot(f"failure-{test.__name__}", app.driver)
    finally:
        app.quit()
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
