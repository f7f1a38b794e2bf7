//! `hub deal`, `hub pipeline`, `hub forecast` and `hub rate` as a user runs
//! them: the real binary on a real database file.

mod common;

use common::Hub;
use serde_json::Value;

impl Hub {
    /// Changes not yet synced: every synced write adds some.
    fn changes(&self) -> u64 {
        self.json(&["sync", "status", "--json"])["pending"]
            .as_u64()
            .unwrap()
    }
}

#[test]
fn a_deal_goes_through_the_pipeline_with_its_history() {
    let hub = Hub::new();
    let contact = hub.ok(&[
        "contact",
        "add",
        "--name",
        "Ada Lovelace",
        "--company",
        "Engines Ltd",
    ]);
    let contact = contact.trim();
    let id = hub.ok(&[
        "deal",
        "add",
        "--title",
        "Analytical engine",
        "--contact",
        contact,
        "--amount",
        "12,500.50",
        "--currency",
        "eur",
        "--close",
        "2026-12-31",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 36, "prints the id: {id:?}");

    let shown = hub.json(&["deal", "show", id, "--json"]);
    assert_eq!(shown["title"], "Analytical engine");
    assert_eq!(shown["amount"], "12500.50");
    assert_eq!(shown["currency"], "EUR");
    assert_eq!(shown["stage"]["name"], "Lead");
    assert_eq!(shown["probability"], "10");
    assert_eq!(shown["weighted"], "1250.05");
    assert_eq!(shown["company"]["name"], "Engines Ltd");
    assert_eq!(shown["pipeline_name"], "Sales");
    assert_eq!(shown["status"], "open");
    assert_eq!(shown["no_next_activity"], true);
    assert_eq!(shown["history"].as_array().unwrap().len(), 1);

    let moved = hub.json(&["deal", "move", id, "proposal", "--json"]);
    assert_eq!(moved["stage"]["name"], "Proposal");
    let history = moved["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["from_stage"]["name"], "Lead");
    assert_eq!(history[1]["to_stage"]["name"], "Proposal");
    assert_eq!(history[1]["changed_by"], "me");

    let won = hub.json(&[
        "deal",
        "won",
        "Analytical engine",
        "--reason",
        "Best offer",
        "--json",
    ]);
    assert_eq!(won["status"], "won");
    assert_eq!(won["stage"]["name"], "Won");
    assert_eq!(won["close_reason"], "Best offer");
    let reopened = hub.json(&["deal", "reopen", id, "--json"]);
    assert_eq!(reopened["stage"]["name"], "Proposal");
    let lost = hub.json(&["deal", "lost", id, "--reason", "Budget", "--json"]);
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["history"].as_array().unwrap().len(), 5);

    let text = hub.ok(&["deal", "show", id]);
    assert!(text.contains("Lead → Proposal"), "{text}");
    assert!(text.contains("Reason          Budget"), "{text}");

    let list = hub.json(&["deal", "list", "--status", "lost", "--json"]);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], id);
    let none = hub.json(&["deal", "list", "--status", "open", "--json"]);
    assert_eq!(none["total"], 0);

    let edited = hub.json(&[
        "deal",
        "edit",
        id,
        "--set",
        "amount=900",
        "--set",
        "title=Engine v2",
        "--json",
    ]);
    assert_eq!(edited["amount"], "900.00");
    assert_eq!(edited["title"], "Engine v2");

    hub.ok(&["deal", "delete", id]);
    assert_eq!(hub.json(&["deal", "list", "--json"])["total"], 0);
}

#[test]
fn pipelines_stages_board_and_line_items() {
    let hub = Hub::new();
    let pipelines = hub.json(&["pipeline", "list", "--json"]);
    assert_eq!(pipelines[0]["name"], "Sales");
    assert_eq!(pipelines[0]["stages"].as_array().unwrap().len(), 6);

    let p = hub.json(&[
        "pipeline",
        "add",
        "Partners",
        "--stage",
        "Intro:20",
        "--stage",
        "Pilot:50:open:14",
        "--stage",
        "Signed:100:won",
        "--json",
    ]);
    assert_eq!(p["stages"][1]["rot_days"], 14);
    assert_eq!(p["stages"][2]["kind"], "won");
    hub.ok(&[
        "pipeline",
        "stage-add",
        "Partners",
        "--name",
        "Dropped",
        "--kind",
        "lost",
    ]);
    let moved = hub.json(&[
        "pipeline",
        "stage-move",
        "Pilot",
        "0",
        "--in",
        "Partners",
        "--json",
    ]);
    assert_eq!(moved[0]["name"], "Pilot");
    let edited = hub.json(&[
        "pipeline",
        "stage-edit",
        "Pilot",
        "--in",
        "Partners",
        "--name",
        "Trial",
        "--probability",
        "40",
        "--rot-days",
        "7",
        "--json",
    ]);
    assert_eq!(edited["probability"], "40");

    hub.ok(&["rate", "base", "EUR"]);
    let id = hub.ok(&[
        "deal",
        "add",
        "--title",
        "Licences",
        "--pipeline",
        "Partners",
        "--stage",
        "Trial",
        "--item",
        "Seat:3:19.99",
        "--item",
        "Support: 1 :100",
    ]);
    let deal = hub.json(&["deal", "show", id.trim(), "--json"]);
    assert_eq!(deal["amount"], "159.97");
    assert_eq!(deal["currency"], "EUR");
    assert_eq!(deal["line_items"].as_array().unwrap().len(), 2);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "Big",
        "--pipeline",
        "Partners",
        "--stage",
        "Trial",
        "--amount",
        "1000",
        "--currency",
        "USD",
    ]);

    let board = hub.json(&["deal", "board", "--pipeline", "Partners", "--json"]);
    let trial = &board["columns"][0];
    assert_eq!(trial["stage"]["name"], "Trial");
    assert_eq!(trial["count"], 2);
    assert_eq!(
        trial["totals"],
        serde_json::json!([
            {"amount": "159.97", "currency": "EUR"},
            {"amount": "1000", "currency": "USD"}
        ])
    );
    assert_eq!(trial["weighted"][0]["amount"], "63.988");
    assert_eq!(trial["converted"], Value::Null);
    assert_eq!(trial["missing_rates"], serde_json::json!(["USD"]));
    hub.ok(&["rate", "set", "usd", "0.9"]);
    let board = hub.json(&["deal", "board", "--pipeline", "Partners", "--json"]);
    assert_eq!(board["columns"][0]["converted"]["total"], "1059.97");
    let text = hub.ok(&["deal", "board", "--pipeline", "Partners"]);
    assert!(text.contains("== Trial (40%) — 2 deals"), "{text}");
    assert!(text.contains("no next activity"), "{text}");

    // A stage with deals, and a pipeline with deals, stay.
    hub.fails(
        &["pipeline", "stage-delete", "Trial", "--in", "Partners"],
        "move them",
    );
    hub.fails(
        &["pipeline", "delete", "Partners"],
        "move or delete them first",
    );
}

#[test]
fn forecast_by_stage_and_month_with_rates() {
    let hub = Hub::new();
    hub.ok(&["rate", "base", "EUR"]);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "A",
        "--amount",
        "1000",
        "--close",
        "2026-12-15",
    ]);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "B",
        "--amount",
        "300",
        "--currency",
        "USD",
        "--close",
        "2027-01-10",
    ]);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "C",
        "--amount",
        "50000",
        "--currency",
        "JPY",
    ]);
    hub.ok(&["deal", "move", "A", "negotiation"]);

    let f = hub.json(&["forecast", "--json"]);
    assert_eq!(f["by"], "stage");
    assert_eq!(f["rows"][0]["label"], "Sales / Lead");
    assert_eq!(f["rows"][1]["label"], "Sales / Negotiation");
    assert_eq!(f["rows"][1]["currencies"][0]["weighted"], "750");
    assert_eq!(f["total"]["converted"], Value::Null);
    assert_eq!(
        f["total"]["missing_rates"],
        serde_json::json!(["JPY", "USD"])
    );

    hub.ok(&["rate", "set", "USD", "0.92"]);
    hub.ok(&["rate", "set", "JPY", "0.0061"]);
    let rates = hub.json(&["rate", "list", "--json"]);
    assert_eq!(rates["base_currency"], "EUR");
    assert_eq!(rates["rates"].as_array().unwrap().len(), 2);
    let f = hub.json(&["forecast", "--json"]);
    // 1000 + 300 × 0.92 + 50000 × 0.0061 = 1581
    assert_eq!(f["total"]["converted"]["total"], "1581");
    // 750 + 30 × 0.92 + 5000 × 0.0061 = 808.1
    assert_eq!(f["total"]["converted"]["weighted"], "808.1");

    let m = hub.json(&["forecast", "--by", "month", "--json"]);
    let keys: Vec<&str> = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2026-12", "2027-01", "none"]);
    let text = hub.ok(&["forecast", "--by", "month"]);
    assert!(text.contains("No date"), "{text}");
    assert!(text.contains("IN EUR"), "{text}");
}

#[test]
fn bad_input_fails_clearly_and_writes_nothing() {
    let hub = Hub::new();
    hub.ok(&["pipeline", "add", "Partners", "--stage", "Intro:20"]);
    hub.ok(&[
        "deal",
        "add",
        "--title",
        "Existing",
        "--amount",
        "10",
        "--currency",
        "EUR",
    ]);
    let before = hub.changes();

    // Acceptance 7: an unknown currency, a negative probability, a stage
    // from another pipeline.
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--amount",
            "10",
            "--currency",
            "EUX",
        ],
        "currency: \"EUX\" is not an ISO 4217 currency code",
    );
    hub.fails(
        &["pipeline", "add", "Bad", "--stage", "Lead:-5"],
        "A probability cannot be negative",
    );
    hub.fails(
        &[
            "pipeline",
            "stage-add",
            "Partners",
            "--name",
            "Neg",
            "--probability",
            "-1",
        ],
        "A probability cannot be negative",
    );
    hub.fails(
        &["pipeline", "add", "Bad", "--stage", "Lead:120"],
        "percentage from 0 to 100",
    );
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--pipeline",
            "Sales",
            "--stage",
            "Intro",
            "--amount",
            "10",
            "--currency",
            "EUR",
        ],
        "The stage \"Intro\" belongs to the pipeline \"Partners\", not \"Sales\"",
    );
    hub.fails(
        &["deal", "move", "Existing", "Intro"],
        "belongs to the pipeline \"Partners\"",
    );
    // More bad input.
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--amount",
            "-3",
            "--currency",
            "EUR",
        ],
        "cannot be negative",
    );
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--amount",
            "1.5",
            "--currency",
            "JPY",
        ],
        "at most 0 decimal places",
    );
    hub.fails(
        &["deal", "add", "--title", "X", "--amount", "10"],
        "currency",
    );
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--amount",
            "10",
            "--currency",
            "EUR",
            "--close",
            "31.12.2026",
        ],
        "not a date",
    );
    hub.fails(
        &[
            "deal",
            "add",
            "--title",
            "X",
            "--item",
            "Seat:x:10",
            "--currency",
            "EUR",
        ],
        "quantity",
    );
    hub.fails(
        &["rate", "set", "USD", "0.9"],
        "Set the base currency first",
    );
    hub.fails(&["forecast", "--by", "week"], "not stage or month");
    hub.fails(&["deal", "show", "nope"], "no deal");
    hub.fails(
        &["deal", "edit", "Existing", "--set", "currency=XYZ"],
        "ISO 4217",
    );
    assert_eq!(hub.changes(), before, "nothing was written");

    // A move into another pipeline works when asked for.
    let moved = hub.json(&[
        "deal",
        "move",
        "Existing",
        "Intro",
        "--pipeline",
        "Partners",
        "--json",
    ]);
    assert_eq!(moved["stage"]["name"], "Intro");
}
