"""WebDriver test of the import wizard (issue 5, acceptance 5) and of Export.

The wizard on a Zoho CRM "Leads" export saved by a German Excel
(tests/fixtures/import-wizard/zoho-leads-excel-de.csv: semicolons,
Windows-1252): the file is read with its encoding and separator shown, one
column's mapping is changed (Rating -> Tags), the dry run shows the counts and
the bad line with its reason and writes nothing, the import adds and updates
contacts (the contacts list and the store say so), and Revert in the imports
history gives the database back as it was (a full JSON export, byte for byte).
A long import shows its progress and Cancel leaves nothing written. Export on
the contacts list writes a CSV the test reads back.

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every
test_*.py, each on a fresh database): tests/ui/run.sh [test_name ...].
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.remote.file_detector import UselessFileDetector
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

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "import-wizard" / "zoho-leads-excel-de.csv"
MARIA = "maria.johnson@brightwave.example.com"


class ImportApp(App):
    """test_app's App, ready once the sidebar is shown (the app opens on Today)."""

    def __init__(self) -> None:
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(DRIVER_URL, options=options)
        self.driver.implicitly_wait(0)
        # Typing a path that exists must type it, not upload the file.
        self.driver.file_detector = UselessFileDetector()
        try:
            self.wait_for("nav-import", timeout=30)
        except Failure:
            self.quit()
            raise


def contacts() -> dict[str, dict]:
    """Every contact in the store, by display name, with its full record."""
    listed = json.loads(hub("contact", "list", "--limit", "1000", "--json"))["items"]
    return {c["display_name"]: json.loads(hub("contact", "show", c["id"], "--json")) for c in listed}


def full_export() -> str:
    """The whole database as JSON, less the import history (the reverted
    import's own record stays, marked reverted)."""
    return hub("export", "json", "--exclude", "import", "--exclude", "import_batch")


def go_import(app: App) -> None:
    app.click("nav-import")
    app.wait_for("import-screen")


def list_names(app: App) -> list[str]:
    app.go_contacts()
    return sorted(app.row_names())


def test_import_wizard_map_dry_run_import_and_revert(app: App) -> None:
    # One contact already there: the file's Maria Johnson updates her.
    hub("contact", "add", "--name", "Maria Johnson", "--email", MARIA, "--title", "Buyer")
    before = full_export()
    wait_until("Maria in the list", lambda: list_names(app) == ["Maria Johnson"])

    go_import(app)
    app.wait_for("imports-empty")
    app.type("import-path", str(FIXTURE))
    app.click("import-read")

    # The file as read: encoding, separator, first rows, and the guessed mapping.
    app.wait_for("import-mapping")
    if content(app.find("import-encoding")) != "Encoding: Windows-1252 (Latin-1)":
        raise Failure(f"encoding: {content(app.find('import-encoding'))!r}")
    if content(app.find("import-delimiter")) != "Separator: semicolon":
        raise Failure(f"separator: {content(app.find('import-delimiter'))!r}")
    table = content(app.find("import-preview"))
    for seen in ("Jürgen", "Müller Maschinenbau GmbH", "Café Lumière", "Øystein"):
        if seen not in table:
            raise Failure(f"the preview should show {seen!r} decoded: {table[:300]!r}")
    email = Select(app.find("mapping-Email"))
    if email.first_selected_option.get_attribute("value") != "email:work":
        raise Failure("Email should be mapped to the work email")
    rating = Select(app.find("mapping-Rating"))
    if rating.first_selected_option.get_attribute("value") != "":
        raise Failure("Rating is not a field the import knows: skipped at first")

    # Adjust one mapping: Zoho's Rating (Hot/Warm/Cold) becomes tags.
    rating.select_by_value("tags")
    wait_until("Rating mapped to Tags", lambda: Select(app.find("mapping-Rating")).first_selected_option.text == "Tags")
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", app.find("mapping-Rating"))
    publish(screenshot("import-mapping", app.driver), "import-mapping")

    # Dry run: counts and the bad line with its reason; nothing written.
    app.click("import-dry-run")
    app.wait_for("dry-run-result", timeout=30)
    counts = {k: content(app.find(f"count-{k}")) for k in ("created", "updated", "skipped", "errors")}
    if counts != {"created": "3", "updated": "1", "skipped": "0", "errors": "1"}:
        raise Failure(f"dry run counts: {counts}")
    errors = [content(e) for e in app.find_all("import-error")]
    if len(errors) != 1 or not errors[0].startswith("Line 5") or "jean.dupont@@dupont.example.fr" not in errors[0]:
        raise Failure(f"the dry run should list line 5's bad email: {errors}")
    if "not a valid email address" not in errors[0]:
        raise Failure(f"the reason should be said: {errors[0]!r}")
    publish(screenshot("import-dry-run", app.driver), "import-dry-run")
    if full_export() != before:
        raise Failure("a dry run must write nothing")

    # Import.
    app.click("import-run")
    done = app.wait_for("import-done", timeout=60)
    if "3 new contacts" not in content(done) or "1 updated" not in content(done):
        raise Failure(f"the done screen should say what happened: {content(done)!r}")
    screenshot("import-done", app.driver)
    store = contacts()
    if sorted(store) != ["Jürgen Müller", "Maria Johnson", "Élodie Laurent", "Øystein Berg"]:
        raise Failure(f"the store after the import: {sorted(store)}")
    if "Jean Dupont" in store:
        raise Failure("the bad line must not be imported")
    if store["Jürgen Müller"]["tags"] != ["Hot"] or store["Øystein Berg"]["tags"] != ["Warm"]:
        raise Failure(f"Rating should have become tags: {store['Jürgen Müller']['tags']}, {store['Øystein Berg']['tags']}")
    if store["Jürgen Müller"]["company"]["name"] != "Müller Maschinenbau GmbH":
        raise Failure(f"company: {store['Jürgen Müller']['company']}")
    if store["Maria Johnson"]["title"] != "Head of Procurement":
        raise Failure(f"Maria should be updated from the file: {store['Maria Johnson']['title']!r}")
    # What the user sees: the contacts list has the new people.
    wait_until(
        "the imported contacts in the list",
        lambda: list_names(app) == sorted(["Jürgen Müller", "Maria Johnson", "Élodie Laurent", "Øystein Berg"]),
    )

    # The history lists the import; Revert asks, then undoes it.
    go_import(app)
    row = app.wait_for("import-row")
    if FIXTURE.name not in content(row) or "3 created" not in content(row):
        raise Failure(f"the history row: {content(row)!r}")
    publish(screenshot("import-history", app.driver), "import-history")
    app.click("import-revert")
    dialog = app.wait_for("confirm-dialog")
    if FIXTURE.name not in content(dialog):
        raise Failure("the revert dialog should name the file")
    app.click("confirm-accept")
    app.wait_for("import-reverted", timeout=30)
    screenshot("import-reverted", app.driver)

    store = contacts()
    if sorted(store) != ["Maria Johnson"] or store["Maria Johnson"]["title"] != "Buyer":
        raise Failure(f"after the revert: {[(n, c.get('title')) for n, c in store.items()]}")
    if full_export() != before:
        raise Failure("the revert should give the database back exactly (full JSON export)")
    wait_until("only Maria in the list again", lambda: list_names(app) == ["Maria Johnson"])


def test_a_long_import_shows_progress_and_cancel_writes_nothing(app: App) -> None:
    before = full_export()
    rows = 150_000
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["First Name", "Last Name", "Email", "Company"])
        for i in range(rows):
            w.writerow([f"Person{i}", "Bulk", f"person{i}@bulk.example.com", f"Bulk Co {i % 500}"])
        big = f.name
    try:
        go_import(app)
        if app.find("import-another"):
            app.click("import-another")
        app.type("import-path", big)
        app.click("import-read")
        app.wait_for("import-mapping")
        app.click("import-dry-run")
        # The dry run of 150,000 rows takes a while: progress is shown.
        app.wait_for("import-progress", timeout=10)
        app.wait_for("dry-run-result", timeout=300)
        if "".join(ch for ch in content(app.find("count-created")) if ch.isdigit()) != str(rows):
            raise Failure(f"dry run: {content(app.find('count-created'))}")
        app.click("import-run")
        bar = app.wait_for("import-progress", timeout=10)
        wait_until(
            "some records counted",
            lambda: "Importing… 0 records" not in content(app.find("import-progress") or bar),
            timeout=60,
        )
        publish(screenshot("import-progress", app.driver), "import-progress")
        app.click("import-cancel")
        notice = app.wait_for("import-notice", timeout=120)
        if "nothing was written" not in content(notice):
            raise Failure(f"cancel notice: {content(notice)!r}")
        if full_export() != before:
            raise Failure("a cancelled import must leave nothing half-written")
        if app.find("import-row") and FIXTURE.name not in content(app.find("import-row")):
            raise Failure("a cancelled import is not recorded in the history")
    finally:
        Path(big).unlink(missing_ok=True)


def test_export_the_contacts_list_as_csv(app: App) -> None:
    hub("contact", "add", "--name", "Zoë Ångström", "--email", "zoe@example.se", "--tag", "VIP")
    app.go_contacts()
    app.click("export-contacts")
    app.wait_for("export-dialog")
    path_field = app.wait_for("export-path")
    wait_until("a default path", lambda: path_field.get_attribute("value").endswith(".csv"))
    out = Path(tempfile.mkdtemp()) / "contacts export.csv"
    app.click("export-format-excel")
    path_field.clear()
    path_field.send_keys(str(out))
    screenshot("export-dialog", app.driver)
    app.click("export-run")
    done = app.wait_for("export-done", timeout=30)
    if str(out) not in content(done):
        raise Failure(f"the dialog should say where: {content(done)!r}")
    data = out.read_bytes()
    if not data.startswith(b"\xef\xbb\xbf"):
        raise Failure("CSV for Excel starts with a byte order mark")
    rows = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))
    names = sorted(r["display_name"] for r in rows)
    if "Zoë Ångström" not in names:
        raise Failure(f"the export should have Zoë: {names}")
    zoe = next(r for r in rows if r["display_name"] == "Zoë Ångström")
    if zoe["email:work"] != "zoe@example.se" or zoe["tags"] != "VIP":
        raise Failure(f"Zoë's row: {zoe}")
    app.click("export-close")
    wait_until("the dialog closed", lambda: not app.find("export-dialog").is_displayed())
    # A folder that does not exist: an error in the dialog, no file.
    app.click("export-contacts")
    field = app.wait_for("export-path")
    wait_until("a default path", lambda: field.get_attribute("value").endswith(".csv"))
    field.clear()
    field.send_keys("/nonexistent/folder/out.csv")
    app.click("export-run")
    err = app.wait_for("export-error")
    if "cannot write" not in content(err):
        raise Failure(f"the error should say why: {content(err)!r}")
    app.click("export-close")


def main() -> int:
    only = set(sys.argv[1:])
    tests = [
        t
        for t in (
            test_import_wizard_map_dry_run_import_and_revert,
            test_a_long_import_shows_progress_and_cancel_writes_nothing,
            test_export_the_contacts_list_as_csv,
        )
        if not only or t.__name__ in only
    ]
    results: list[tuple[str, bool]] = []
    app = ImportApp()
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
