"""WebDriver tests of custom fields (issue 4, acceptance 4: create a custom field
and filter by it): Settings -> Custom fields creates the fields, the contact's
detail sets their values (a bad value shows beside its field and writes nothing),
and the contacts list filters by one.

Uses test_app.py's session and helpers and needs run.sh's environment; run.sh
itself starts test_app.py only, so until it also runs this file:
  sed 's#tests/ui/test_app.py#tests/ui/test_fields.py#' tests/ui/run.sh > /tmp/run_fields.sh
  (with ROOT set to the checkout) and run that.
"""

from __future__ import annotations

import json
import sys

from selenium.webdriver.support.ui import Select

from test_app import App, content, hub, run_session, screenshot, wait_until


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
    row = wait_until(
        "the company row",
        lambda: next((r for r in app.find_all("company-row") if "Analytical Engines" in content(r)), None),
    )
    row.click()
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


def main() -> int:
    only = set(sys.argv[1:])
    all_tests = [test_create_a_custom_field_set_it_and_filter_by_it, test_custom_fields_on_a_company_page]
    tests = [t for t in all_tests if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    run_session(tests, results)
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
