"""WebDriver tests of custom fields (issue 4, acceptance 4: create a custom field
and filter by it): Settings -> Custom fields creates the fields, the contact's
detail sets their values (a bad value shows beside its field and writes nothing),
and the contacts list filters by one.

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh [test_name ...] picks tests by name.
"""

from __future__ import annotations

import json
import sys

import test_app
from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import Select

from test_app import App, content, hub, run_session, screenshot, wait_until


class FieldsApp(App):
    """test_app's session, started on whichever screen the app opens on
    (contacts, or Today once that lands): it waits for the sidebar and goes
    to Contacts itself."""

    def __init__(self) -> None:
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(test_app.APP)})
        self.driver = webdriver.Remote(test_app.DRIVER_URL, options=options)
        self.driver.implicitly_wait(0)
        try:
            self.wait_for("nav-contacts", timeout=30)
            self.go_contacts()
        except Exception:
            self.quit()
            raise


def choose(app: App, testid: str, value: str) -> None:
    Select(app.wait_for(testid)).select_by_value(value)


def custom_fields_of(contact_id: str) -> dict:
    return json.loads(hub("contact", "show", contact_id, "--json"))["custom_fields"]


def test_create_a_custom_field_set_it_and_filter_by_it(app: App) -> None:
    ada = hub("contact", "add", "--name", "Ada Lovelace").strip()
    bob = hub("contact", "add", "--name", "Bob Babbage").strip()

    # Settings -> Custom fields: a number field and a select.
    app.click("nav-settings")
    app.wait_for("custom-fields-settings")
    choose(app, "new-field-entity", "contact")
    app.type("new-field-label", "Annual budget")
    choose(app, "new-field-type", "number")
    app.click("new-field-add")
    wait_until("the budget field listed", lambda: len(app.find_all("custom-field-row")) == 1)
    app.type("new-field-label", "Tier")
    choose(app, "new-field-type", "select")
    app.type("new-field-options", "Gold, Silver")
    app.click("new-field-add")
    wait_until("two fields listed", lambda: len(app.find_all("custom-field-row")) == 2)
    fields = json.loads(hub("field", "list", "contact", "--json"))
    assert [(f["key"], f["type"], f["options"]) for f in fields] == [
        ("annual_budget", "number", []),
        ("tier", "select", ["Gold", "Silver"]),
    ], fields
    screenshot("fields-01-settings", app.driver)

    # The contact's detail: a bad number is refused beside its field, nothing written.
    app.go_contacts()
    app.wait_for_row("Ada Lovelace").click()
    app.wait_for("custom-values")
    app.type("cf-annual_budget", "lots")
    app.click("cf-save")
    assert "not a number" in app.text("cf-error-annual_budget")
    assert custom_fields_of(ada) == {}
    app.type("cf-annual_budget", "12500.50")
    choose(app, "cf-tier", "Gold")
    app.click("cf-save")
    wait_until("the values stored", lambda: custom_fields_of(ada) == {"annual_budget": "12500.5", "tier": "Gold"})
    app.wait_gone("cf-error-annual_budget")
    screenshot("fields-02-contact", app.driver)

    # Bob's budget from the CLI; then filter the list by budget > 1000.
    hub("field", "set", "contact", bob, "annual_budget", "500")
    app.go_contacts()
    choose(app, "field-filter-field", "annual_budget")
    choose(app, "field-filter-op", "gt")
    app.type("field-filter-value", "1000")
    app.click("field-filter-apply")
    wait_until("one match", lambda: [content(r) for r in app.find_all("filtered-row")] != [])
    rows = [content(r) for r in app.find_all("filtered-row")]
    assert len(rows) == 1 and "Ada Lovelace" in rows[0] and "12500.5" in rows[0], rows
    assert "1 match" in app.text("filtered-count")
    screenshot("fields-03-filtered", app.driver)

    # Save it as a view; clear; pick the view again.
    app.click("saved-view-new")
    app.type("saved-view-name", "Big budgets")
    app.click("saved-view-save")
    wait_until(
        "the view stored",
        lambda: [v["name"] for v in json.loads(hub("view", "list", "--json"))] == ["Big budgets"],
    )
    shown = json.loads(hub("view", "show", "Big budgets", "--json"))
    assert [r["label"] for r in shown["page"]["items"]] == ["Ada Lovelace"], shown
    app.click("clear-field-filter")
    app.wait_gone("filtered-rows")
    Select(app.wait_for("saved-view-pick")).select_by_visible_text("Big budgets")
    wait_until("the view's rows", lambda: [content(r) for r in app.find_all("filtered-row")] == rows)

    # Another comparison: Tier is Gold; then Bob joins when his tier is set too.
    choose(app, "field-filter-field", "tier")
    choose(app, "field-filter-op", "eq")
    choose(app, "field-filter-value", "Gold")
    app.click("field-filter-apply")
    wait_until("Ada by tier", lambda: len(app.find_all("filtered-row")) == 1)
    hub("field", "set", "contact", bob, "tier", "gold")
    wait_until("Bob appears (store-changed)", lambda: len(app.find_all("filtered-row")) == 2)

    app.click("clear-field-filter")
    app.wait_gone("filtered-rows")
    app.wait_for_row("Bob Babbage")


def test_custom_fields_on_a_company_page(app: App) -> None:
    hub("company", "add", "--name", "Analytical Engines Ltd")
    hub("field", "add", "company", "Contract end", "--type", "date")
    hub("field", "add", "company", "Partner", "--type", "checkbox")
    app.go_companies()

    def open_company() -> bool:
        # The list may re-render under us as the three commands above land (store-changed):
        # find the row and click it in one go, again until it takes.
        row = next((r for r in app.find_all("company-row") if "Analytical Engines" in content(r)), None)
        if row is None:
            return False
        row.click()
        return True

    wait_until("the company row, opened", open_company)
    app.wait_for("custom-values")
    app.driver.execute_script(
        "const el = arguments[0]; el.value = '2027-06-30'; el.dispatchEvent(new Event('input', { bubbles: true }));",
        app.wait_for("cf-contract_end"),
    )
    app.click("cf-partner")
    app.click("cf-save")
    wait_until(
        "the company's values stored",
        lambda: json.loads(hub("field", "get", "company", "Analytical Engines Ltd", "--json"))
        == [
            {"key": "contract_end", "label": "Contract end", "type": "date", "value": "2027-06-30"},
            {"key": "partner", "label": "Partner", "type": "checkbox", "value": True},
        ],
    )
    screenshot("fields-04-company", app.driver)


def js_click(app: App, element) -> None:
    """Click through toasts that may cover the element."""
    app.driver.execute_script("arguments[0].click()", element)


def tag_names(app: App) -> list[str]:
    return [r.get_attribute("data-tag") for r in app.find_all("tag-row")]


def test_tags_renamed_merged_and_recoloured_in_settings(app: App) -> None:
    grace = hub("contact", "add", "--name", "Grace Hopper", "--tag", "VIP", "--tag", "Navy").strip()
    hub("company", "add", "--name", "Remington Rand")
    hub("tag", "add", "Client", "--company", "Remington Rand")
    app.click("nav-settings")
    app.wait_for("tags-settings")
    wait_until("the tags listed", lambda: {"VIP", "Navy", "Client"} <= set(tag_names(app)))

    def row(name: str):
        return next(r for r in app.find_all("tag-row") if r.get_attribute("data-tag") == name)

    # Rename VIP -> Key account: Grace keeps it.
    js_click(app, row("VIP").find_element("css selector", '[data-testid="tag-rename"]'))
    app.type("tag-new-name", "Key account")
    js_click(app, app.wait_for("tag-apply"))
    wait_until("renamed", lambda: "Key account" in tag_names(app) and "VIP" not in tag_names(app))
    assert "Key account" in json.loads(hub("contact", "show", grace, "--json"))["tags"]

    # Merge Navy into Client: Grace and the company both carry Client.
    js_click(app, row("Navy").find_element("css selector", '[data-testid="tag-merge"]'))
    choose(app, "tag-merge-into", "Client")
    js_click(app, app.wait_for("tag-apply"))
    wait_until("merged", lambda: "Navy" not in tag_names(app))
    client = next(t for t in json.loads(hub("tag", "list", "--json")) if t["name"] == "Client")
    assert (client["contact_count"], client["company_count"]) == (1, 1), client

    # Renaming onto an existing tag is refused with the reason shown.
    js_click(app, row("Client").find_element("css selector", '[data-testid="tag-rename"]'))
    app.type("tag-new-name", "key ACCOUNT")
    js_click(app, app.wait_for("tag-apply"))
    assert "merge" in app.text("tag-error")

    # Colour.
    picker = row("Key account").find_element("css selector", '[data-testid="tag-color"]')
    app.driver.execute_script(
        "const el = arguments[0]; el.value = '#123456'; el.dispatchEvent(new Event('change', { bubbles: true }));",
        picker,
    )
    wait_until(
        "the colour stored",
        lambda: next(t for t in json.loads(hub("tag", "list", "--json")) if t["name"] == "Key account")["color"]
        == "#123456",
    )
    screenshot("fields-05-tags", app.driver)


def main() -> int:
    only = set(sys.argv[1:])
    all_tests = [
        test_create_a_custom_field_set_it_and_filter_by_it,
        test_custom_fields_on_a_company_page,
        test_tags_renamed_merged_and_recoloured_in_settings,
    ]
    tests = [t for t in all_tests if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    test_app.App = FieldsApp  # run_session starts the session through this name
    run_session(tests, results)
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
