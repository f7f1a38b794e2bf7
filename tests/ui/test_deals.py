"""WebDriver tests of the deals Kanban board (issue 4, acceptance 4: drag a deal
to another stage -> a history entry and the column totals update).

Uses test_app.py's session and helpers; tests/ui/run.sh runs it (every test_*.py,
each on a fresh database): tests/ui/run.sh [test_name ...] picks tests by name.
"""

from __future__ import annotations

import json
import sys

import test_app
from test_app import App, hub, run_session, screenshot, wait_until

DRAG = """
const [card, column] = arguments;
const data = new DataTransfer();
const fire = (el, type) => el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
fire(card, "dragstart");
fire(column, "dragenter");
fire(column, "dragover");
fire(column, "drop");
fire(card, "dragend");
"""


def column(app: App, stage: str):
    return wait_until(
        f"the {stage} column",
        lambda: next((c for c in app.find_all("column") if c.get_attribute("data-stage") == stage), None),
    )


def column_text(app: App, stage: str, testid: str) -> str:
    col = column(app, stage)
    found = col.find_elements("css selector", f'[data-testid="{testid}"]')
    return found[0].text.strip() if found else ""


def card(app: App, stage: str, title: str):
    col = column(app, stage)
    return next(
        (c for c in col.find_elements("css selector", '[data-testid="deal-card"]') if c.get_attribute("data-deal") == title),
        None,
    )


def test_drag_a_deal_to_another_stage(app: App) -> None:
    hub("rate", "base", "EUR")
    hub("deal", "add", "--title", "Analytical engine", "--amount", "12500.50", "--close", "2026-12-31")
    hub("deal", "add", "--title", "Difference engine", "--amount", "1000", "--currency", "USD")
    hub("rate", "set", "USD", "0.5")
    app.click("nav-deals")
    app.wait_for("board")
    wait_until("two deals in Lead", lambda: column_text(app, "Lead", "column-count") == "2")
    assert column_text(app, "Lead", "column-total") == "12,500.50 EUR · 1,000.00 USD"
    assert column_text(app, "Lead", "column-weighted") == "Weighted 1,250.05 EUR · 100.00 USD"
    assert "13,000.50 EUR" in column_text(app, "Lead", "column-converted")
    assert len(app.find_all("stale-badge")) == 2, "no reminders: both lack a next activity"
    screenshot("deals-01-board", app.driver)

    # A rate set in the app converts the totals.
    app.click("deal-rates")
    app.type("rate-currency", "usd")
    app.type("rate-value", "0.6")
    app.click("rate-save")
    wait_until("the new rate used", lambda: "13,100.50 EUR" in column_text(app, "Lead", "column-converted"))
    screenshot("deals-01b-rates", app.driver)
    app.click("deal-rates")

    app.driver.execute_script(DRAG, card(app, "Lead", "Analytical engine"), column(app, "Proposal"))
    wait_until("the deal in Proposal", lambda: card(app, "Proposal", "Analytical engine") is not None)
    wait_until("Lead totals updated", lambda: column_text(app, "Lead", "column-total") == "1,000.00 USD")
    assert column_text(app, "Lead", "column-count") == "1"
    assert column_text(app, "Proposal", "column-count") == "1"
    assert column_text(app, "Proposal", "column-total") == "12,500.50 EUR"
    assert column_text(app, "Proposal", "column-weighted") == "Weighted 6,250.25 EUR"
    screenshot("deals-02-after-drag", app.driver)

    # The forecast: weighted per stage, converted into EUR (USD at 0.6).
    app.click("deal-forecast")
    app.wait_for("forecast")
    wait_until(
        "forecast rows",
        lambda: [r.find_element("css selector", "td").text for r in app.find_all("forecast-row")]
        == ["Sales / Lead", "Sales / Proposal", "Total"],
    )
    total = app.find_all("forecast-row")[-1].find_element("css selector", '[data-testid="forecast-converted"]').text
    assert total == "13,100.50 EUR", total
    screenshot("deals-02b-forecast", app.driver)
    app.click("deal-forecast")
    app.wait_for("board")

    # Stage probabilities are edited in the app; a negative one is refused.
    app.click("deal-stages")
    app.wait_for("stages-panel")
    lead_probability = app.find_all("stage-probability")[0]
    lead_probability.clear()
    lead_probability.send_keys("-5")
    app.find_all("stage-save")[0].click()
    error = app.wait_for("stage-error").text
    assert "cannot be negative" in error, error
    lead_probability = app.find_all("stage-probability")[0]
    lead_probability.clear()
    lead_probability.send_keys("20")
    app.find_all("stage-save")[0].click()
    wait_until("Lead weighted at 20 %", lambda: column_text(app, "Lead", "column-weighted") == "Weighted 200.00 USD")
    screenshot("deals-02c-stages", app.driver)
    app.click("deal-stages")

    # The move is in the store, with its history entry.
    shown = json.loads(hub("deal", "show", "Analytical engine", "--json"))
    assert shown["stage"]["name"] == "Proposal", shown["stage"]
    assert [h["to_stage"]["name"] for h in shown["history"]] == ["Lead", "Proposal"]

    # And on the deal's page.
    card(app, "Proposal", "Analytical engine").find_element("css selector", "a").click()
    app.wait_for("deal-detail")
    wait_until("two history entries", lambda: len(app.find_all("history-entry")) == 2)
    assert "Lead → Proposal" in app.find_all("history-entry")[0].text
    assert app.text("deal-detail-stage") == "Proposal"
    screenshot("deals-03-detail", app.driver)

    # Edit the amount from the detail view.
    app.click("deal-edit")
    app.type("deal-edit-amount", "13000")
    app.click("deal-edit-save")
    wait_until("the new amount", lambda: app.text("deal-detail-amount") == "13,000.00 EUR")
    assert json.loads(hub("deal", "show", "Analytical engine", "--json"))["amount"] == "13000.00"

    # Won from the detail view, with a reason.
    app.click("deal-won")
    app.type("deal-reason", "Best offer")
    app.click("deal-close-save")
    wait_until("the deal won", lambda: app.text("deal-detail-status") == "won")
    assert json.loads(hub("deal", "show", "Analytical engine", "--json"))["close_reason"] == "Best offer"


def main() -> int:
    only = set(sys.argv[1:])
    tests = [t for t in [test_drag_a_deal_to_another_stage] if not only or t.__name__ in only]
    results: list[tuple[str, bool]] = []
    run_session(tests, results)
    passed = sum(ok for _, ok in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
