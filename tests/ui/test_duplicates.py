"""WebDriver test of duplicates and merge (issue 5, acceptance 5 "merge dialog").

- The contact form warns before saving a contact whose email is already on
  another contact: "open existing" goes there, "save anyway" saves.
- The Duplicates screen lists the pair with its reasons; the merge dialog shows
  both records side by side, the user picks the other's title and keeps the
  name, sees what moves, merges; the store has one contact with the picked
  values, the call and both emails; the pair is gone and the history lists the
  merge. Undo from the history brings both contacts back as they were.

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh test_duplicates.py.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import Select

from test_app import (
    APP,
    DRIVER_URL,
    App,
    Failure,
    content,
    hub,
    publish,
    screenshot,
    wait_until,
)


class DuplicatesApp(App):
    """test_app's App, ready once the sidebar is shown (the app opens on Today)."""

    def __init__(self) -> None:
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(DRIVER_URL, options=options)
        self.driver.implicitly_wait(0)
        try:
            self.wait_for("nav-duplicates", timeout=30)
        except Failure:
            self.quit()
            raise


def show(contact_id: str) -> dict:
    return json.loads(hub("contact", "show", contact_id, "--json"))


def contact_ids() -> list[str]:
    return [c["id"] for c in json.loads(hub("contact", "list", "--json"))["items"]]


def test_the_form_warns_about_a_known_email(app: App) -> None:
    ada = hub("contact", "add", "--name", "Ada Lovelace", "--email", "ada@analytical.example").strip()
    app.click("nav-contacts")
    app.wait_for_row("Ada Lovelace")
    app.click("new-contact")
    app.wait_for("contact-form")
    app.type("input-first-name", "Augusta")
    app.type("input-last-name", "King")
    app.type("input-email-0", "  ADA@analytical.example ")
    app.click("save-contact")
    warning = app.wait_for("duplicate-warning")
    if "Ada Lovelace" not in content(warning) or "Same email ada@analytical.example" not in content(warning):
        raise Failure(f"the warning names the match and why: {content(warning)!r}")
    screenshot("duplicates-form-warning", app.driver)
    if len(contact_ids()) != 1:
        raise Failure("nothing is saved before the user decides")
    # "Open existing" goes to Ada.
    app.click("duplicate-open")
    app.wait_for("contact-detail")
    wait_until("Ada's page", lambda: app.text("contact-name") == "Ada Lovelace")
    # Again, and this time save anyway: two contacts, to merge below.
    app.click("nav-contacts")
    app.wait_for_row("Ada Lovelace")
    app.click("new-contact")
    app.wait_for("contact-form")
    app.type("input-first-name", "Augusta")
    app.type("input-last-name", "King")
    app.type("input-title", "Countess")
    app.type("input-email-0", "ADA@analytical.example")
    app.click("save-contact")
    app.wait_for("duplicate-warning")
    app.click("duplicate-save-anyway")
    app.wait_for("contact-detail")
    wait_until("the new contact", lambda: app.text("contact-name") == "Augusta King")
    if len(contact_ids()) != 2 or ada not in contact_ids():
        raise Failure("save anyway saves the second contact")


def test_merge_two_contacts_in_the_dialog_and_undo(app: App) -> None:
    by_name = {c["display_name"]: c["id"] for c in json.loads(hub("contact", "list", "--json"))["items"]}
    ada, augusta = by_name["Ada Lovelace"], by_name["Augusta King"]
    hub("contact", "edit", augusta, "--set", "email=ADA@analytical.example,home:countess@lovelace.example")
    hub("log", "call", "--contact", augusta, "--subject", "Notes on the Engine")
    before = {ada: show(ada), augusta: show(augusta)}

    app.click("nav-duplicates")
    app.wait_for("duplicates-screen")
    pair = wait_until("the pair", lambda: app.find("duplicate-pair"), timeout=15)
    reasons = [content(e) for e in app.find_all("duplicate-reason")]
    if reasons != ["Same email ada@analytical.example"]:
        raise Failure(f"the pair's reason: {reasons}")
    if pair.get_attribute("data-a") != ada or pair.get_attribute("data-b") != augusta:
        raise Failure("the older contact is offered as the one kept")
    Select(app.find("duplicates-kind")).select_by_value("company")
    app.wait_for("duplicates-empty")
    Select(app.find("duplicates-kind")).select_by_value("")
    app.wait_for("duplicate-pair")
    publish(screenshot("duplicates", app.driver), "duplicates")

    # The dialog: both sides, a pick per field, what moves.
    app.click("duplicate-review")
    dialog = app.wait_for("merge-dialog")
    wait_until("the fields", lambda: app.find_all("merge-field"))
    if "Ada Lovelace" not in app.text("merge-keep-name") or "Augusta King" not in app.text("merge-other-name"):
        raise Failure("keep on the left, the other on the right")

    def row(field: str):
        return next(e for e in app.find_all("merge-field") if e.get_attribute("data-field") == field)

    def picked(field: str) -> str:
        r = row(field)
        keep = r.find_element("css selector", '[data-testid="merge-pick-keep"]')
        return "keep" if keep.is_selected() else "other"

    # The kept contact has no title: the other's is picked by default; the name is Ada's.
    if picked("title") != "other" or picked("display_name") != "keep":
        raise Failure(f"defaults: title {picked('title')}, name {picked('display_name')}")
    # The user prefers the other's first name.
    row("first_name").find_element("css selector", '[data-testid="merge-pick-other"]').click()
    moves = app.text("merge-moves")
    if "1 activity" not in moves or "2 emails" not in moves:
        raise Failure(f"what moves: {moves!r}")
    # Cancel writes nothing.
    app.click("merge-cancel")
    wait_until("the dialog closed", lambda: not dialog.is_displayed())
    if len(contact_ids()) != 2:
        raise Failure("cancel must not merge")
    app.click("duplicate-review")
    app.wait_for("merge-dialog")
    wait_until("the fields again", lambda: app.find_all("merge-field"))
    row("first_name").find_element("css selector", '[data-testid="merge-pick-other"]').click()
    publish(screenshot("merge-dialog", app.driver), "merge-dialog")
    app.click("merge-confirm")
    app.wait_for("duplicates-empty", timeout=15)
    item = app.wait_for("merge-item")
    if "Augusta King → Ada Lovelace" not in content(item):
        raise Failure(f"the history line: {content(item)!r}")

    merged = show(ada)
    if merged["display_name"] != "Ada Lovelace" or merged["title"] != "Countess" or merged["first_name"] != "Augusta":
        raise Failure(f"the picked values: {merged}")
    emails = sorted(e["address"].lower() for e in merged["emails"])
    if emails != ["ada@analytical.example", "countess@lovelace.example"]:
        raise Failure(f"the emails combined, the repeat once: {emails}")
    timeline = hub("timeline", "contact", ada, "--json")
    if "Notes on the Engine" not in timeline:
        raise Failure("the call moved to the kept contact")
    if contact_ids() != [ada]:
        raise Failure("the other contact is gone")

    # Undo from the history: both as they were.
    app.click("merge-undo")
    app.wait_for("confirm-dialog")
    app.click("confirm-accept")
    app.wait_for("merge-undone", timeout=15)
    wait_until("the pair back", lambda: app.find("duplicate-pair"), timeout=15)
    after = {ada: show(ada), augusta: show(augusta)}
    for cid in (ada, augusta):
        for key in ("display_name", "first_name", "last_name", "title", "emails", "phones", "tags", "company"):
            if before[cid].get(key) != after[cid].get(key):
                raise Failure(f"undo restores {key} of {cid}: {before[cid].get(key)} != {after[cid].get(key)}")
    if "Notes on the Engine" not in hub("timeline", "contact", augusta, "--json"):
        raise Failure("undo moves the call back")
    screenshot("duplicates-after-undo", app.driver)


def main() -> int:
    only = set(sys.argv[1:])
    tests = [t for t in (
        test_the_form_warns_about_a_known_email,
        test_merge_two_contacts_in_the_dialog_and_undo,
    ) if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    app = DuplicatesApp()
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
