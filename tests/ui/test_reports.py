"""WebDriver tests of audience export and the Reports screen (issue 7, acceptance 5:
export an audience from a segment — file written, counts shown — then open Reports
and see the charts populated).

Data comes in through the `hub` CLI against the app's database: contacts with
consent decisions (`hub consent set`), a segment of them, deals won and open,
behavioural events over several days with campaign-tagged page views
(`hub events import`). The CLI closes a deal "now"; to have wins in earlier
months the test moves two deals' `closed_at` back in the database. Uses
test_app.py's session and helpers; tests/ui/run.sh runs it on a fresh database.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from selenium.webdriver.common.by import By

from test_app import ARTIFACTS, HUB_DB, App, content, hub, publish, run_session, screenshot, wait_until

NOW = datetime.now(timezone.utc)
CHARTS = ["funnel", "won", "forecast", "campaigns", "segments", "events"]


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


def months_ago(n: int) -> str:
    """Noon on the 10th of the month n months before this one (UTC)."""
    y, m = NOW.year, NOW.month - n
    while m < 1:
        m += 12
        y -= 1
    return f"{y:04d}-{m:02d}-10T12:00:00Z"


def chart_table(app: App, chart: str) -> list[list[str]]:
    table = app.find(f"chart-{chart}-table")
    assert table is not None, chart
    return [
        [content(td) for td in tr.find_elements(By.CSS_SELECTOR, "td")]
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def setup_data() -> dict:
    people = {}
    for name, email in [
        ("Ada Lovelace", "ada@engines.example"),
        ("Grace Hopper", "grace@navy.example"),
        ("Alan Turing", "alan@bletchley.example"),
        ("Katherine Johnson", "katherine@nasa.example"),
        ("Hedy Lamarr", "hedy@films.example"),
    ]:
        people[name] = hub("contact", "add", "--name", name, "--email", email, "--tag", "Prospects").strip()
    # Advertising consent: Ada, Grace, Alan; Alan is also do-not-sell;
    # Katherine denied it; Hedy never said (no consent).
    for name in ["Ada Lovelace", "Grace Hopper", "Alan Turing"]:
        hub("consent", "set", people[name], "advertising", "granted", "--source", "form")
    hub("consent", "set", people["Alan Turing"], "sale", "denied")
    hub("consent", "set", people["Katherine Johnson"], "advertising", "denied")
    rule_file = ARTIFACTS / "reports-rule.json"
    rule_file.write_text(json.dumps({"tag": "Prospects"}))
    hub("segment", "create", "Prospects", "--rule-file", str(rule_file))

    # Events over the last days: identifies, campaign-tagged page views, tracks.
    lines: list[dict] = []
    users = [("u-ada", "ada@engines.example"), ("u-grace", "grace@navy.example"), ("u-alan", "alan@bletchley.example")]
    for user, email in users:
        lines.append({"type": "identify", "userId": user, "messageId": f"id-{user}", "timestamp": ts(12), "traits": {"email": email}})
    for day in range(10):
        for i, (user, _) in enumerate(users[: 1 + day % 3]):
            campaign = ["spring_sale", "webinar"][i % 2]
            url = f"https://shop.example/pricing?utm_source=newsletter&utm_medium=email&utm_campaign={campaign}"
            lines.append({"type": "page", "userId": user, "messageId": f"page-{user}-{day}", "timestamp": ts(day + 0.2), "name": "Pricing", "properties": {"path": "/pricing", "url": url}})
            lines.append({"type": "track", "event": "Viewed Product", "userId": user, "messageId": f"track-{user}-{day}", "timestamp": ts(day + 0.3), "properties": {"sku": "A1"}})
    # An anonymous visitor from an ad.
    lines.append({"type": "page", "anonymousId": "anon-1", "messageId": "page-anon-1", "timestamp": ts(1), "properties": {"path": "/", "url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand"}})
    report = import_events(lines)
    assert report["stored"] == len(lines), report

    # Deals: three won (this month, last month, two months ago), two open.
    won = []
    for title, amount, who in [("Analytical engine", "12500.50", "Ada Lovelace"), ("Compiler", "4200", "Grace Hopper"), ("Bombe", "980.25", "Alan Turing")]:
        won.append(hub("deal", "add", "--title", title, "--amount", amount, "--currency", "EUR", "--contact", people[who]).strip())
    for i in won:
        hub("deal", "won", i)
    hub("deal", "add", "--title", "Navy contract", "--amount", "30000", "--currency", "EUR", "--close", (NOW + timedelta(days=20)).strftime("%Y-%m-%d"))
    hub("deal", "add", "--title", "Film rights", "--amount", "7000", "--currency", "EUR", "--close", (NOW + timedelta(days=50)).strftime("%Y-%m-%d"), "--stage", "Qualified")
    db = sqlite3.connect(HUB_DB, timeout=30)
    with db:
        db.execute("UPDATE deals SET closed_at = ? WHERE id = ?", (months_ago(1), won[1]))
        db.execute("UPDATE deals SET closed_at = ? WHERE id = ?", (months_ago(2), won[2]))
    db.close()
    return people


def test_export_an_audience_from_a_segment(app: App) -> None:
    setup_data()
    app.click("nav-segments")
    row = wait_until("the Prospects segment", lambda: next((r for r in app.find_all("segment-row") if r.get_attribute("data-name") == "Prospects"), None))
    row.click()
    app.wait_for("segment-detail")
    wait_until("5 members", lambda: app.text("segment-size") == "5")

    app.click("segment-export-audience")
    app.wait_for("audience-dialog")
    path_input = app.wait_for("audience-path")
    default = wait_until("a prefilled path", lambda: path_input.get_attribute("value"))
    assert str(default).endswith(".json") and "prospects-meta-" in str(default), default
    app.click("audience-dest-google")
    wait_until("a .csv path for Google", lambda: str(path_input.get_attribute("value")).endswith(".csv"))
    out = ARTIFACTS / "prospects-google.csv"
    out.unlink(missing_ok=True)
    app.type("audience-path", str(out))
    screenshot("reports-01-audience-dialog", app.driver)
    app.click("audience-run")
    app.wait_for("audience-report")
    assert app.text("audience-exported-count") == "2", app.text("audience-exported-count")
    assert app.text("audience-left-consent") == "2"  # Katherine denied, Hedy never said
    assert app.text("audience-left-dns") == "1"  # Alan
    assert app.text("audience-left-id") == "0"
    files = [content(li) for li in app.find("audience-files").find_elements(By.CSS_SELECTOR, "li")]
    assert files == [str(out)], files
    assert out.exists()
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"], rows[0]
    assert len(rows) == 3, rows
    shot = screenshot("reports-02-audience-report", app.driver)
    publish(shot, "audience-export")

    # The history lists it; nobody to remove yet; the CLI agrees.
    app.click("audience-history-link")
    app.wait_for("audiences-screen")
    rows_el = wait_until("one export in the history", lambda: app.find_all("audience-row"))
    assert len(rows_el) == 1
    assert app.text("audience-exported") == "2"
    assert app.text("audience-pending") == "0"
    cli = json.loads(hub("audience", "history", "--json"))
    assert len(cli) == 1 and cli[0]["exported"] == 2, cli


def test_erased_member_is_a_pending_removal(app: App) -> None:
    ada = json.loads(hub("contact", "list", "--search", "Ada", "--json"))["items"][0]["id"]
    hub("privacy", "erase", ada, "--yes")
    app.driver.execute_script("location.hash = '#/reports/audiences'")
    app.wait_for("audiences-screen")
    wait_until("one pending removal", lambda: app.find("audience-pending") and app.text("audience-pending") == "1", timeout=15)
    publish(screenshot("reports-03-audience-history", app.driver), "audience-history")
    app.click("audience-write-removals")
    app.wait_for("removal-dialog")
    out = ARTIFACTS / "prospects-google-removals.csv"
    out.unlink(missing_ok=True)
    app.type("removal-path", str(out))
    app.click("removal-save")
    wait_until("the removal file", lambda: out.exists())
    lines = out.read_text().splitlines()
    assert lines[0].startswith("Email"), lines
    assert len(lines) == 2, lines
    wait_until("no pending removal left", lambda: app.text("audience-pending") == "0")
    screenshot("reports-03b-removal-written", app.driver)


def test_reports_show_every_chart(app: App) -> None:
    app.click("nav-reports")
    app.wait_for("reports-grid")
    for chart in CHARTS:
        card = app.wait_for(f"chart-{chart}")
        wait_until(f"data points in {chart}", lambda card=card: int(card.get_attribute("data-points") or 0) > 0)
    # The data behind the charts, from the accessible tables.
    funnel = chart_table(app, "funnel")
    won_stage = next(r for r in funnel if r[1] == "won")
    assert won_stage[2] == "3", funnel
    assert sum(int(r[2]) for r in funnel if r[1] == "open") == 2, funnel
    won = chart_table(app, "won")
    assert len(won) == 12, won
    assert [r[1] for r in won[-3:]] == ["1", "1", "1"], won
    assert won[-1][2] == "12500.50" or won[-1][2] == "12500.5", won[-1]
    assert won[-2][2] == "4200", won[-2]
    campaigns = {r[0]: r for r in chart_table(app, "campaigns")}
    assert any(k.startswith("spring_sale") for k in campaigns), campaigns
    assert any(k.startswith("brand") for k in campaigns), campaigns
    events = chart_table(app, "events")
    assert len(events) == 30 and sum(int(r[1]) for r in events) > 0, events
    assert sum(1 for r in events if int(r[1]) > 0) >= 5, events
    sizes = chart_table(app, "segments")
    assert sizes[-1][1] == "4", sizes[-1]  # Ada erased: 4 left
    forecast = chart_table(app, "forecast")
    assert any(r[1] != "0" for r in forecast), forecast

    # CSV and PNG export of a chart.
    app.click("chart-won-csv")
    app.wait_for("chart-export-dialog")
    path = app.wait_for("chart-export-path")
    assert str(wait_until("a prefilled path", lambda: path.get_attribute("value"))).endswith(".csv")
    out = ARTIFACTS / "won.csv"
    out.unlink(missing_ok=True)  # (selenium would upload an existing file's path)
    app.type("chart-export-path", str(out))
    app.click("chart-export-save")
    wait_until("the CSV", lambda: out.exists())
    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:2] == ["Month", "Deals won"], rows[0]
    assert len(rows) == 13, rows
    app.click("chart-events-png")
    app.wait_for("chart-export-dialog")
    png = ARTIFACTS / "events.png"
    png.unlink(missing_ok=True)
    app.type("chart-export-path", str(png))
    app.click("chart-export-save")
    wait_until("the PNG", lambda: png.exists() and png.stat().st_size > 1000)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wait_until("the toasts to fade", lambda: not app.find_all("toast"), timeout=8)
    app.driver.execute_script("document.activeElement && document.activeElement.blur()")
    app.driver.execute_script("document.querySelector('[data-testid=reports-screen]').scrollTop = 0")
    shot = screenshot("reports-04-charts", app.driver)
    publish(shot, "reports")
    app.driver.execute_script("document.querySelector('[data-testid=reports-screen]').scrollTop = 10000")
    screenshot("reports-05-charts-bottom", app.driver)


def main() -> int:
    only = set(sys.argv[1:])
    tests = [
        test_export_an_audience_from_a_segment,
        test_erased_member_is_a_pending_removal,
        test_reports_show_every_chart,
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
