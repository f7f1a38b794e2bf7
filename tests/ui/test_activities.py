"""WebDriver tests of the timeline, stay-in-touch and tickets (issue 4,
acceptance 4: log a call -> the stay-in-touch date moves).

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh [test_name ...] picks tests by name.
"""

from __future__ import annotations

import json
import sys

from selenium.webdriver.support.ui import Select

from test_app import App, Failure, content, hub, run_session, screenshot, wait_until


def stay(contact: str) -> dict:
    return json.loads(hub("stay-in-touch", "show", contact, "--json"))


def test_log_a_call_moves_the_stay_in_touch_date(app: App) -> None:
    ada = hub("contact", "add", "--name", "Ada Lovelace", "--company", "Analytical Engines").strip()
    hub("log", "email", "--contact", ada, "--subject", "Quote for 20 seats", "--at", "2026-01-20T10:00:00Z")
    hub("log", "meeting", "--contact", ada, "--subject", "Product demo", "--at", "2026-01-10T14:00:00Z")
    hub("stay-in-touch", "set", ada, "--every", "14")
    before = stay(ada)
    assert before["next_due"] == "2026-02-03T10:00:00Z", before

    app.driver.execute_script(f"location.hash = '#/contacts/{ada}'")
    app.wait_for("timeline")
    wait_until("the two logged entries", lambda: len(app.find_all("timeline-entry")) == 2)
    shown_before = wait_until("the next follow-up", lambda: content(app.find("stay-next")))
    if "(due)" not in shown_before:
        raise Failure(f"a follow-up in the past should be marked due: {shown_before!r}")

    # Log a call through the form, at the time the form proposes (now).
    app.click("log-call")
    app.wait_for("log-form")
    app.type("log-duration", "5m")
    app.type("log-body", "Talked about the renewal")
    screenshot("activities-log-call", app.driver)
    app.click("log-save")
    wait_until("the call on the timeline", lambda: len(app.find_all("timeline-entry")) == 3)
    first = content(app.find_all("timeline-headline")[0])
    if not first.startswith("Outbound call · Connected · 5m"):
        raise Failure(f"the newest entry should be the call: {first!r}")

    after = stay(ada)
    calls = json.loads(hub("timeline", "contact", ada, "--kind", "call", "--json"))["entries"]
    if len(calls) != 1 or after["last_interaction"] != calls[0]["at"]:
        raise Failure(f"stay-in-touch should count from the call: {after} {calls}")
    if after["next_due"] <= before["next_due"]:
        raise Failure(f"the next follow-up should move later: {before['next_due']} -> {after['next_due']}")
    wait_until("the new date on screen", lambda: content(app.find("stay-next")) != shown_before)
    if "(due)" in content(app.find("stay-next")):
        raise Failure("after a call the follow-up is two weeks away, not due")
    screenshot("activities-timeline", app.driver)

    # Bad input shows inline and writes nothing.
    app.click("log-meeting")
    app.click("log-save")
    app.wait_for("error-log-subject")
    if len(json.loads(hub("timeline", "contact", ada, "--json"))["entries"]) != 3:
        raise Failure("a refused meeting must not be written")

    # Filters.
    app.click("timeline-filter-calls")
    wait_until("only the call", lambda: [e.get_attribute("data-kind") for e in app.find_all("timeline-entry")] == ["call"])
    app.click("timeline-filter-all")
    wait_until("all three again", lambda: len(app.find_all("timeline-entry")) == 3)

    # Edit the call in place (the row's buttons show on hover: click through JS).
    call_row = next(e for e in app.find_all("timeline-entry") if e.get_attribute("data-kind") == "call")
    edit = call_row.find_element("css selector", '[data-testid="timeline-edit"]')
    app.driver.execute_script("arguments[0].click()", edit)
    app.wait_for("timeline-editing")
    app.type("log-body", "Renewal agreed for 2027")
    app.click("log-save")
    app.wait_gone("timeline-editing")
    call = json.loads(hub("timeline", "contact", ada, "--kind", "call", "--json"))["entries"][0]
    if call["detail"]["activity"]["body"] != "Renewal agreed for 2027" or call["at"] != calls[0]["at"]:
        raise Failure(f"the edit should change the body and keep the exact time: {call}")


def test_ticket_comment_and_resolve(app: App) -> None:
    ada = json.loads(hub("contact", "list", "--search", "Ada", "--json"))["items"][0]["id"]
    ticket = hub("ticket", "add", "--subject", "Cannot export invoices", "--contact", ada, "--priority", "high").strip()
    app.click("nav-tickets")
    app.wait_for("tickets-screen")
    row = wait_until(
        "the ticket row",
        lambda: next((r for r in app.find_all("ticket-row") if "Cannot export invoices" in content(r)), None),
    )
    # A new ticket without a subject is refused inline.
    app.click("ticket-new")
    app.click("ticket-save")
    app.wait_for("error-ticket-subject")
    row.click()
    app.wait_for("ticket-detail")
    app.type("ticket-comment-body", "Reproduced on 2.3")
    app.click("ticket-comment-add")
    wait_until("the comment", lambda: len(app.find_all("ticket-comment")) == 1)
    Select(app.find("ticket-status-quick")).select_by_value("resolved")
    wait_until(
        "the ticket resolved in the store",
        lambda: json.loads(hub("ticket", "show", ticket, "--json"))["ticket"]["closed_at"] is not None,
    )
    screenshot("activities-ticket", app.driver)
    kinds = [e["kind"] for e in json.loads(hub("timeline", "contact", ada, "--kind", "ticket", "--json"))["entries"]]
    if sorted(kinds) != ["ticket_closed", "ticket_comment", "ticket_opened"]:
        raise Failure(f"the ticket's story should be on Ada's timeline: {kinds}")


def main() -> int:
    only = set(sys.argv[1:])
    tests = [t for t in (test_log_a_call_moves_the_stay_in_touch_date, test_ticket_comment_and_resolve) if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    run_session(tests, results)
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
