"""WebDriver tests of segments, consent and privacy in the desktop app (issue 6,
acceptance 5: build a segment in the app, see the count, open a member's unified
timeline).

Data comes in through the `hub` CLI against the app's database, behavioural events
through `hub events import` (Segment JSON lines: identifies that stitch to the
contacts by email, then tracks and page views). Uses test_app.py's session and helpers;
tests/ui/run.sh runs it on a fresh database.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from test_app import ARTIFACTS, App, Failure, content, hub, publish, run_session, screenshot, wait_until

NOW = datetime.now(timezone.utc)


def ts(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def import_events(lines: list[dict]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
        path = f.name
    report = json.loads(hub("events", "import", path, "--json"))
    Path(path).unlink()
    assert report["failed"] == 0, report
    return report


def identify(user: str, email: str, name: str) -> dict:
    return {
        "type": "identify",
        "userId": user,
        "messageId": f"id-{user}",
        "timestamp": ts(40),
        "traits": {"email": email, "name": name},
    }


def order(user: str, n: int, days_ago: float, total: float = 120.0) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": f"order-{user}-{n}",
        "timestamp": ts(days_ago),
        "properties": {"total": total, "currency": "EUR"},
    }


def page(user: str, n: int, path: str, days_ago: float) -> dict:
    return {
        "type": "page",
        "userId": user,
        "messageId": f"page-{user}-{n}",
        "timestamp": ts(days_ago),
        "name": "Pricing",
        "properties": {"path": path, "url": f"https://shop.example{path}"},
    }


def segment_row(app: App, name: str):
    return next((r for r in app.find_all("segment-row") if r.get_attribute("data-name") == name), None)


def wait_gone_toasts(app: App) -> None:
    """Toasts fade after a few seconds; screenshots for the docs wait them out."""
    wait_until("the toasts to fade", lambda: not app.find_all("toast"), timeout=8)


def conditions(app: App):
    return app.find_all("condition")


def preview_count(app: App) -> str:
    found = app.find_all("segment-preview-count")
    return found[0].text.strip() if found else ""


def set_input(element, text: str) -> None:
    element.clear()
    element.send_keys(text)


def test_build_a_segment_and_open_a_members_timeline(app: App) -> None:
    ada = hub("contact", "add", "--name", "Ada Lovelace", "--email", "ada@engines.example").strip()
    grace = hub("contact", "add", "--name", "Grace Hopper", "--email", "grace@navy.example").strip()
    hub("contact", "add", "--name", "Alan Turing", "--email", "alan@bletchley.example")
    hub("contact", "add", "--name", "Katherine Johnson", "--email", "katherine@nasa.example")
    report = import_events(
        [
            identify("u-ada", "ada@engines.example", "Ada Lovelace"),
            identify("u-grace", "grace@navy.example", "Grace Hopper"),
            identify("u-alan", "alan@bletchley.example", "Alan Turing"),
            identify("u-charles", "charles@engines.example", "Charles Babbage"),  # a new lead, last seen 40 days ago
            order("u-ada", 1, 2),
            order("u-ada", 2, 9),
            order("u-ada", 3, 20),
            order("u-grace", 1, 5),
            order("u-grace", 2, 28),
            order("u-alan", 1, 3),
            order("u-alan", 2, 75),  # outside a 30-day window
            page("u-ada", 1, "/pricing", 1),
            page("u-alan", 1, "/pricing/teams", 4),
        ]
    )
    assert report["stored"] == 13, report

    app.click("nav-segments")
    app.wait_for("segments-empty")
    app.click("segment-new")
    app.wait_for("segment-builder")
    app.type("segment-name", "Repeat buyers")

    # The first row: "did Order Completed at least 2 times in the last 30 days".
    row = wait_until("one condition row", lambda: conditions(app)[0] if len(conditions(app)) == 1 else None)
    Select(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-kind"]')).select_by_value("event")
    row = conditions(app)[0]
    set_input(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-event"]'), "Order Completed")
    set_input(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-times"]'), "2")
    set_input(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-days"]'), "30")
    wait_until("the live count of 2", lambda: preview_count(app) == "2")
    names = sorted(content(e) for e in app.find_all("segment-preview-name"))
    assert names == ["Ada Lovelace", "Grace Hopper"], names

    # A rule the core refuses shows its message inline; fixed, the count is back.
    set_input(conditions(app)[0].find_element(By.CSS_SELECTOR, '[data-testid="condition-times"]'), "0")
    error = app.text("segment-rule-error")
    assert "at_least" in error and "at least 1" in error, error
    set_input(conditions(app)[0].find_element(By.CSS_SELECTOR, '[data-testid="condition-times"]'), "1")
    wait_until("the live count of 3 (Alan's recent order counts)", lambda: preview_count(app) == "3")

    # An any-group: visited a pricing page (prefix) or has the VIP tag.
    app.click("segment-add-group")
    group = app.wait_for("condition-group")
    grow = group.find_element(By.CSS_SELECTOR, '[data-testid="condition"]')
    Select(grow.find_element(By.CSS_SELECTOR, '[data-testid="condition-kind"]')).select_by_value("visited")
    grow = group.find_element(By.CSS_SELECTOR, '[data-testid="condition"]')
    Select(grow.find_element(By.CSS_SELECTOR, '[data-testid="condition-match"]')).select_by_value("prefix")
    set_input(grow.find_element(By.CSS_SELECTOR, '[data-testid="condition-path"]'), "/pricing")
    set_input(grow.find_element(By.CSS_SELECTOR, '[data-testid="condition-days"]'), "7")
    group.find_element(By.CSS_SELECTOR, '[data-testid="group-add-condition"]').click()
    tag_row = wait_until(
        "a second row in the group",
        lambda: (r := group.find_elements(By.CSS_SELECTOR, '[data-testid="condition"]')) and len(r) == 2 and r[1],
    )
    Select(tag_row.find_element(By.CSS_SELECTOR, '[data-testid="condition-kind"]')).select_by_value("tag")
    tag_row = group.find_elements(By.CSS_SELECTOR, '[data-testid="condition"]')[1]
    set_input(tag_row.find_element(By.CSS_SELECTOR, '[data-testid="condition-tag"]'), "VIP")
    # Orders once in 30 days AND (pricing page in 7 days OR VIP): Ada and Alan.
    wait_until("the live count of 2 with the group", lambda: preview_count(app) == "2")
    names = sorted(content(e) for e in app.find_all("segment-preview-name"))
    assert names == ["Ada Lovelace", "Alan Turing"], names
    # Grace gets the VIP tag from the CLI: the open preview follows.
    hub("tag", "add", "VIP", "--contact", grace)
    wait_until("Grace in the preview once tagged", lambda: preview_count(app) == "3", timeout=15)
    app.driver.execute_script("document.activeElement && document.activeElement.blur()")
    publish(screenshot("segments-01-builder", app.driver), "segment-builder")

    # The JSON toggle shows the documented format and comes back to the same rows.
    app.click("segment-mode-json")
    rule = json.loads(app.wait_for("segment-json").get_attribute("value"))
    assert rule == {
        "all": [
            {"event": "Order Completed", "in_last_days": 30},
            {"any": [{"visited": "/pricing", "match": "prefix", "in_last_days": 7}, {"tag": "VIP"}]},
        ]
    }, rule
    screenshot("segments-02-json", app.driver)
    app.click("segment-mode-visual")
    wait_until("three rows back", lambda: len(conditions(app)) == 3)
    wait_until("the same count", lambda: preview_count(app) == "3")

    app.click("segment-save")
    app.wait_for("segment-detail")
    wait_until("the size of 3", lambda: app.text("segment-size") == "3")
    members = sorted(content(e) for e in app.find_all("segment-member-name"))
    assert members == ["Ada Lovelace", "Alan Turing", "Grace Hopper"], members
    wait_until("3 entries in the history", lambda: len(app.find_all("segment-history-entry")) == 3)
    shown = json.loads(hub("segment", "show", "Repeat buyers", "--json"))
    assert shown["size"] == 3 and shown["rule"] == rule, shown
    screenshot("segments-03-detail", app.driver)

    hub("consent", "set", grace, "email_marketing", "granted", "--source", "form")
    # Two more from the CLI, as a teammate's would sync in.
    for name, rule in [
        ("Email subscribers", {"consent": "email_marketing"}),
        ("Gone quiet", {"all": [{"last_seen_more_than_days": 14}, {"lifecycle_stage": ["lead", "customer"]}]}),
    ]:
        rule_file = ARTIFACTS / "rule.json"
        rule_file.write_text(json.dumps(rule))
        hub("segment", "create", name, "--rule-file", str(rule_file))

    # The list shows it with its size, and follows new events live.
    app.click("back-to-segments")
    app.wait_for("segments-screen")
    row = wait_until("the segment row", lambda: segment_row(app, "Repeat buyers"))
    assert content(row.find_element(By.CSS_SELECTOR, '[data-testid="segment-row-name"]')) == "Repeat buyers"
    assert content(row.find_element(By.CSS_SELECTOR, '[data-testid="segment-row-size"]')) == "3"
    katherine = json.loads(hub("contact", "list", "--search", "Katherine", "--json"))["items"][0]["id"]
    hub("tag", "add", "VIP", "--contact", katherine)
    import_events(
        [identify("u-kj", "katherine@nasa.example", "Katherine Johnson"), order("u-kj", 1, 1)]
    )
    wait_until(
        "the size moving to 4 as Katherine's order arrives",
        lambda: content(segment_row(app, "Repeat buyers").find_element(By.CSS_SELECTOR, '[data-testid="segment-row-size"]')) == "4",
        timeout=15,
    )
    wait_gone_toasts(app)
    publish(screenshot("segments-04-list", app.driver), "segments")

    assert [content(e) for e in app.find_all("segment-row-name")] == ["Email subscribers", "Gone quiet", "Repeat buyers"]
    sizes = [content(e) for e in app.find_all("segment-row-size")]
    assert sizes == ["1", "1", "4"], sizes

    # Open a member: the contact with the unified timeline, its orders among it.
    segment_row(app, "Repeat buyers").click()
    app.wait_for("segment-detail")
    ada_link = wait_until(
        "Ada among the members",
        lambda: next((e for e in app.find_all("segment-member") if e.get_attribute("data-id") == ada), None),
    )
    ada_link.click()
    app.wait_for("contact-detail")
    assert app.text("contact-name") == "Ada Lovelace"
    kinds = wait_until(
        "behavioural events on the timeline",
        lambda: (k := [e.get_attribute("data-kind") for e in app.find_all("timeline-entry")]) and "event" in k and k,
    )
    assert "page_view" in kinds and "segment_entered" in kinds, kinds
    headlines = " | ".join(content(e) for e in app.find_all("timeline-headline"))
    assert "Order Completed" in headlines, headlines
    segs = [content(e) for e in app.find_all("contact-segment")]
    assert segs == ["Repeat buyers"], segs
    app.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'})", app.wait_for("consent-panel")
    )
    screenshot("segments-05-member-timeline", app.driver)


def consent_row(app: App, purpose: str):
    return wait_until(
        f"the {purpose} consent row",
        lambda: next((r for r in app.find_all("consent-row") if r.get_attribute("data-purpose") == purpose), None),
    )


def test_consent_export_and_erase_on_the_contact(app: App) -> None:
    ada = json.loads(hub("contact", "list", "--search", "Ada", "--json"))["items"][0]["id"]
    app.driver.get(app.driver.current_url.split("#")[0] + f"#/contacts/{ada}")
    app.wait_for("consent-panel")
    row = consent_row(app, "email_marketing")
    assert row.get_attribute("data-status") == "none"
    assert content(row.find_element(By.CSS_SELECTOR, '[data-testid="consent-status"]')) == "Not asked"

    row.find_element(By.CSS_SELECTOR, '[data-testid="consent-granted"]').click()
    wait_until("email marketing granted", lambda: consent_row(app, "email_marketing").get_attribute("data-status") == "granted")
    consent_row(app, "sale").find_element(By.CSS_SELECTOR, '[data-testid="consent-denied"]').click()
    wait_until("sale denied", lambda: consent_row(app, "sale").get_attribute("data-status") == "denied")
    app.wait_for("do-not-sell")
    shown = json.loads(hub("consent", "show", ada, "--json"))
    current = {r["purpose"]: (r["status"], r["source"]) for r in shown["current"]}
    assert current == {"email_marketing": ("granted", "manual"), "sale": ("denied", "manual")}, shown
    assert shown["do_not_sell"] is True, shown
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", app.wait_for("consent-panel"))
    screenshot("segments-06-consent", app.driver)

    # Revoking the grant: recorded as revoked, the grant kept in the history.
    consent_row(app, "email_marketing").find_element(By.CSS_SELECTOR, '[data-testid="consent-revoked"]').click()
    wait_until("email marketing revoked", lambda: consent_row(app, "email_marketing").get_attribute("data-status") == "revoked")
    statuses = [r["status"] for r in json.loads(hub("consent", "show", ada, "--json"))["history"] if r["purpose"] == "email_marketing"]
    assert statuses == ["revoked", "granted"], statuses
    history = app.wait_for("consent-history")
    history.find_element(By.CSS_SELECTOR, "summary").click()
    wait_until("three decisions in the history", lambda: len(app.find_all("consent-history-entry")) == 3)
    assert "Revoked" in content(app.find_all("consent-history-entry")[0])

    # Subject-access export to a file.
    out = (ARTIFACTS / "ada-subject-export.json").resolve()
    out.unlink(missing_ok=True)  # (selenium uploads an existing file named in send_keys)
    app.click("subject-export")
    app.type("subject-export-path", str(out))
    app.click("subject-export-save")
    wait_until("the export file", lambda: out.exists())
    data = json.loads(out.read_text())
    assert data["contact_id"] == ada, data.keys()
    assert len(data["records"]["consent_record"]) == 3, data["records"].keys()
    assert any(e.get("event") == "Order Completed" for e in data["events"]), data["events"][:2]

    # Erase, after typing the name; the app leaves the contact.
    app.click("subject-erase")
    app.wait_for("erase-dialog")
    accept = app.wait_for("erase-accept")
    app.type("erase-confirm", "Ada")
    assert not accept.is_enabled(), "a partial name must not erase"
    app.type("erase-confirm", "Ada Lovelace")
    wait_until("the erase button enabled", lambda: accept.is_enabled())
    screenshot("segments-07-erase", app.driver)
    accept.click()
    app.wait_for("contacts-screen")
    names = [c["display_name"] for c in json.loads(hub("contact", "list", "--json"))["items"]]
    assert "Ada Lovelace" not in names, names
    try:
        hub("consent", "show", ada)
    except Failure:
        pass
    else:
        raise Failure("the erased contact still has consent")
    # She leaves the segment too.
    members = [m["name"] for m in json.loads(hub("segment", "members", "Repeat buyers", "--json"))]
    assert "Ada Lovelace" not in members, members


def test_edit_and_delete_a_segment(app: App) -> None:
    app.click("nav-segments")
    wait_until("the segment row", lambda: segment_row(app, "Repeat buyers")).click()
    app.wait_for("segment-detail")
    app.click("segment-edit")
    app.wait_for("segment-builder")
    wait_until("the rule loaded", lambda: len(conditions(app)) == 3)
    # Drop the group: orders in 30 days alone.
    app.click("group-remove")
    wait_until("one row left", lambda: len(conditions(app)) == 1)
    expected = len(json.loads(hub("segment", "members", "Repeat buyers", "--json")))
    app.type("segment-name", "Recent buyers")
    wait_until("a preview", lambda: preview_count(app) != "")
    count = int(preview_count(app))
    assert count >= expected, (count, expected)
    screenshot("segments-08-edit", app.driver)
    app.click("segment-save")
    app.wait_for("segment-detail")
    wait_until("the new name", lambda: app.text("segment-name-title") == "Recent buyers")
    wait_until("the new size", lambda: app.text("segment-size") == str(count))
    shown = json.loads(hub("segment", "show", "Recent buyers", "--json"))
    assert shown["rule"] == {"all": [{"event": "Order Completed", "in_last_days": 30}]}, shown["rule"]
    assert shown["size"] == count

    app.click("segment-delete")
    app.wait_for("confirm-dialog")
    app.click("confirm-accept")
    app.wait_for("segments-screen")
    wait_until("two segments left", lambda: [content(e) for e in app.find_all("segment-row-name")] == ["Email subscribers", "Gone quiet"])
    assert [s["name"] for s in json.loads(hub("segment", "list", "--json"))] == ["Email subscribers", "Gone quiet"]


def test_a_rule_beyond_the_rows_is_edited_as_json(app: App) -> None:
    rule = {"event": "Order Completed", "in_last_days": 30, "where": [{"property": "total", "op": "gt", "value": 100}]}
    rule_file = ARTIFACTS / "rule.json"
    rule_file.write_text(json.dumps(rule))
    triggers = {"reminder": {"title": "Thank {name}", "due_in_days": 2}}
    triggers_file = ARTIFACTS / "triggers.json"
    triggers_file.write_text(json.dumps(triggers))
    hub("segment", "create", "Big orders", "--rule-file", str(rule_file), "--triggers-file", str(triggers_file))
    expected = json.loads(hub("segment", "show", "Big orders", "--json"))["size"]
    assert expected == 3, expected  # Grace, Alan and Katherine (Ada was erased)
    app.click("nav-segments")
    wait_until("the Big orders row", lambda: segment_row(app, "Big orders")).click()
    app.wait_for("segment-detail")
    assert json.loads(app.text("segment-rule-json")) == rule
    assert app.text("segment-triggers") == "On entry: a reminder “Thank {name}” due in 2 days"
    app.click("segment-edit")
    # The rows cannot show a `where` filter: the builder opens on the JSON, with a note.
    app.wait_for("segment-json-note")
    editor = app.wait_for("segment-json")
    assert json.loads(editor.get_attribute("value")) == rule
    wait_until("the live count", lambda: preview_count(app) == "3")
    app.click("segment-mode-visual")
    assert app.find("segment-json") is not None, "stays in JSON"

    set_input(editor, '{"event": "Order Completed", "where": [')
    assert "Not valid JSON" in app.text("segment-rule-error")
    set_input(editor, json.dumps({**rule, "within": 3}))
    error = wait_until("the core's message", lambda: (e := app.find("segment-rule-error")) and "within" in e.text and e.text)
    assert "unknown key" in error, error
    set_input(editor, json.dumps({**rule, "where": [{"property": "total", "op": "gt", "value": 1000}]}))
    wait_until("nobody spends over 1,000", lambda: preview_count(app) == "0")
    app.click("segment-save")
    app.wait_for("segment-detail")
    wait_until("the size of 0", lambda: app.text("segment-size") == "0")
    app.wait_for("segment-members-empty")
    shown = json.loads(hub("segment", "show", "Big orders", "--json"))
    assert shown["rule"]["where"][0]["value"] == 1000, shown
    assert shown["triggers"] == triggers, "an edit in the app keeps the triggers"


def test_members_are_paged(app: App) -> None:
    hub("demo", "--contacts", "120", "--seed", "7")
    app.click("nav-segments")
    app.click("segment-new")
    app.wait_for("segment-builder")
    app.type("segment-name", "Demo people")
    row = wait_until("one condition row", lambda: conditions(app)[0] if len(conditions(app)) == 1 else None)
    Select(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-field"]')).select_by_value("source")
    row = conditions(app)[0]
    Select(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-op"]')).select_by_value("eq")
    set_input(row.find_element(By.CSS_SELECTOR, '[data-testid="condition-value"]'), "demo")
    wait_until("120 demo contacts", lambda: preview_count(app) == "120")
    assert len(app.find_all("segment-preview-name")) == 8
    app.click("segment-save")
    app.wait_for("segment-detail")
    wait_until("the size of 120", lambda: app.text("segment-size") == "120")
    assert app.text("segment-members-range") == "1–50 of 120"
    first = [content(e) for e in app.find_all("segment-member-name")]
    assert len(first) == 50
    app.click("segment-members-next")
    app.click("segment-members-next")
    wait_until("the last page", lambda: app.text("segment-members-range") == "101–120 of 120")
    last = [content(e) for e in app.find_all("segment-member-name")]
    assert len(last) == 20 and not set(last) & set(first), last
    cli = [m["name"] for m in json.loads(hub("segment", "members", "Demo people", "--offset", "100", "--limit", "50", "--json"))]
    assert last == cli, (last, cli)
    assert not app.find("segment-members-next").is_enabled()
    app.click("segment-members-prev")
    wait_until("the middle page", lambda: app.text("segment-members-range") == "51–100 of 120")


def main() -> int:
    only = set(sys.argv[1:])
    tests = [
        test_build_a_segment_and_open_a_members_timeline,
        test_consent_export_and_erase_on_the_contact,
        test_edit_and_delete_a_segment,
        test_a_rule_beyond_the_rows_is_edited_as_json,
        test_members_are_paged,
    ]
    tests = [t for t in tests if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    if tests:
        run_session(tests, results)
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
