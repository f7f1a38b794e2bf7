"""WebDriver tests of the Today view, its keys and the command palette
(issue 4: "the app opens on Today ... one keystroke to complete, snooze or
log a call ... a command palette (Ctrl/Cmd+K)"; acceptance 4: complete a
reminder from Today; log a call -> the stay-in-touch date moves).

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh [test_name ...] picks tests by name.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from test_app import App, content, hub, publish, screenshot, wait_until


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare() -> dict[str, str]:
    """A contact with an overdue follow-up, one due a stay-in-touch call, a
    stale deal and a ticket of mine: every Today section has a row."""
    now = datetime.now(timezone.utc)
    ada = hub("contact", "add", "--name", "Ada Lovelace", "--company", "Analytical Engines").strip()
    grace = hub("contact", "add", "--name", "Grace Hopper").strip()
    overdue = json.loads(
        hub(
            "reminder", "add", "--title", "Call Ada back", "--due", iso(now - timedelta(hours=3)),
            "--tz", "UTC", "--contact", ada, "--json",
        )
    )["id"]
    hub("reminder", "add", "--title", "Send the proposal", "--due", iso(now - timedelta(days=2)), "--tz", "UTC")
    # Grace: stay in touch weekly, last talked three weeks ago.
    hub("stay-in-touch", "set", grace, "--every", "7")
    hub("log", "call", "--contact", grace, "--subject", "Catch-up", "--at", iso(now - timedelta(days=21)))
    hub("rate", "base", "EUR")
    hub("deal", "add", "--title", "Engine retrofit", "--amount", "48000", "--contact", ada)
    hub("ticket", "add", "--subject", "Punch cards jammed", "--contact", ada, "--assignee", "me", "--priority", "high")
    return {"ada": ada, "grace": grace, "overdue": overdue}


def rows(app: App, section: str) -> list[str]:
    return [
        content(r.find_element("css selector", '[data-testid="today-row-title"]'))
        for r in app.find_all("today-row")
        if r.get_attribute("data-section") == section
    ]


def selected(app: App) -> tuple[str | None, str]:
    for r in app.find_all("today-row"):
        if r.get_attribute("aria-selected") == "true":
            return r.get_attribute("data-section"), content(r.find_element("css selector", '[data-testid="today-row-title"]'))
    return None, ""


def press(app: App, *keys: str) -> None:
    # Keys go to the page, not a field: focus the body first.
    app.driver.execute_script("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    ActionChains(app.driver).send_keys(*keys).perform()


def ctrl_k(app: App) -> None:
    app.driver.execute_script("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    ActionChains(app.driver).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()


def test_app_opens_on_today_and_completes_with_d(app: App, ids: dict[str, str]) -> None:
    app.wait_for("today-screen")
    wait_until("two overdue reminders", lambda: rows(app, "overdue") == ["Send the proposal", "Call Ada back"])
    assert app.text("today-count-overdue") == "2"
    wait_until("the stale deal", lambda: rows(app, "stale_deals") == ["Engine retrofit"])
    wait_until("Grace due a call", lambda: rows(app, "stay_in_touch") == ["Grace Hopper"])
    wait_until("my ticket", lambda: rows(app, "tickets") == ["Punch cards jammed"])
    publish(screenshot("today-01", app.driver), "today")

    # The first row is selected; j moves to "Call Ada back"; d completes it.
    assert selected(app) == ("overdue", "Send the proposal")
    press(app, "j")
    wait_until("the second row selected", lambda: selected(app) == ("overdue", "Call Ada back"))
    press(app, "d")
    wait_until("the reminder gone from Today", lambda: rows(app, "overdue") == ["Send the proposal"])
    assert app.text("today-count-overdue") == "1"
    done = [r for r in json.loads(hub("reminder", "list", "--done", "--json")) if r["id"] == ids["overdue"]]
    assert done and done[0]["status"] == "done", done
    # The rest is still open.
    still = [r["title"] for r in json.loads(hub("reminder", "list", "--json"))]
    assert still == ["Send the proposal"], still


def test_complete_with_the_button(app: App, ids: dict[str, str]) -> None:
    row = next(r for r in app.find_all("today-row") if r.get_attribute("data-section") == "overdue")
    row.find_element("css selector", '[data-testid="today-complete"]').click()
    wait_until("no overdue left", lambda: app.text("today-count-overdue") == "0")
    app.wait_for("today-empty-overdue")
    assert json.loads(hub("reminder", "list", "--json")) == []


def test_log_a_call_with_c_moves_stay_in_touch(app: App, ids: dict[str, str]) -> None:
    before = json.loads(hub("stay-in-touch", "show", ids["grace"], "--json"))["next_due"]
    # Walk down to Grace's row with the arrow key, then c.
    for _ in range(10):
        if selected(app) == ("stay_in_touch", "Grace Hopper"):
            break
        press(app, Keys.ARROW_DOWN)
        time.sleep(0.1)
    assert selected(app) == ("stay_in_touch", "Grace Hopper"), selected(app)
    press(app, "c")
    app.wait_for("log-call-dialog")
    assert app.text("log-call-contact") == "Grace Hopper"
    app.type("log-call-notes", "Talked about COBOL")
    app.click("log-call-save")
    app.wait_gone("log-call-dialog")
    wait_until("Grace off the list", lambda: app.find("today-empty-stay_in_touch") is not None)
    after = json.loads(hub("stay-in-touch", "show", ids["grace"], "--json"))
    assert after["next_due"] > before, (before, after)
    calls = json.loads(hub("timeline", "contact", ids["grace"], "--json"))["entries"]
    assert any(e.get("kind") == "call" and "COBOL" in json.dumps(e) for e in calls), calls


def test_palette_goes_to_deals_and_help_lists_keys(app: App, ids: dict[str, str]) -> None:
    ctrl_k(app)
    app.wait_for("command-palette")
    app.type("palette-input", "dls", clear=False)
    wait_until("Deals first", lambda: "Deals" in content(app.find_all("palette-entry")[0]))
    screenshot("today-02-palette", app.driver)
    app.wait_for("palette-input").send_keys(Keys.ENTER)
    app.wait_gone("command-palette")
    app.wait_for("board")
    wait_until("on #/deals", lambda: app.driver.execute_script("return location.hash") == "#/deals")

    # Esc closes the palette without doing anything.
    ctrl_k(app)
    app.wait_for("palette-input").send_keys(Keys.ESCAPE)
    app.wait_gone("command-palette")
    assert app.driver.execute_script("return location.hash") == "#/deals"

    # g t goes back to Today; ? lists the shortcuts.
    press(app, "g", "t")
    app.wait_for("today-screen")
    press(app, "?")
    help_text = content(app.wait_for("shortcuts-help"))
    assert "Command palette" in help_text and "Complete the selected reminder" in help_text, help_text
    app.click("shortcuts-close")
    app.wait_gone("shortcuts-help")

    # "g d" goes to Deals and does not also complete Today's selected reminder.
    hub("reminder", "add", "--title", "Keep me open", "--due", iso(datetime.now(timezone.utc) - timedelta(hours=1)))
    wait_until("the new reminder on Today", lambda: rows(app, "overdue") == ["Keep me open"])
    for _ in range(6):
        if selected(app) == ("overdue", "Keep me open"):
            break
        press(app, "k")
        time.sleep(0.1)
    assert selected(app) == ("overdue", "Keep me open"), selected(app)
    press(app, "g", "d")
    app.wait_for("board")
    assert [r["title"] for r in json.loads(hub("reminder", "list", "--json"))] == ["Keep me open"]


TESTS = [
    test_app_opens_on_today_and_completes_with_d,
    test_complete_with_the_button,
    test_log_a_call_with_c_moves_stay_in_touch,
    test_palette_goes_to_deals_and_help_lists_keys,
]


def main() -> int:
    only = set(sys.argv[1:])
    tests = [t for t in TESTS if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    try:
        ids = prepare()
        app = App(start="today")
    except Exception as e:
        print(f"cannot start the app session: {e}", file=sys.stderr)
        traceback.print_exc()
        print(f"0 passed, {len(tests)} failed")
        return 1
    try:
        for test in tests:
            started = time.monotonic()
            try:
                test(app, ids)
                results.append((test.__name__, True))
                print(f"PASS {test.__name__} ({time.monotonic() - started:.1f}s)", flush=True)
            except Exception:
                results.append((test.__name__, False))
                print(f"FAIL {test.__name__}", flush=True)
                traceback.print_exc()
                try:
                    screenshot(f"failure-{test.__name__}", app.driver)
                except Exception as shot_error:
                    print(f"    (no screenshot: {shot_error})")
    finally:
        app.quit()
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
