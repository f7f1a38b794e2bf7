//! `hub lookalike SEGMENT`: contacts outside a segment ranked by how much they
//! look like its members, with reasons (docs/lookalikes.md).

use chrono::Utc;
use clap::Args;
use hub_core::lookalike::{self, Lookalike};
use hub_core::{segments, Store};
use serde::Serialize;

use crate::output;

#[derive(Args)]
pub struct LookalikeArgs {
    /// The seed segment: name (any case) or id
    segment: String,
    /// How many to list (and save)
    #[arg(long, default_value_t = 20)]
    top: u32,
    /// Save the top contacts as a new segment NAME (tagged "lookalike: NAME")
    #[arg(long, value_name = "NAME")]
    save: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    result: Lookalike,
    saved: Option<segments::Segment>,
}

pub async fn run(store: &Store, args: LookalikeArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    segments::refresh(store, now).await?;
    let result = lookalike::rank(store, &args.segment, args.top).await?;
    let saved = match &args.save {
        Some(name) => Some(lookalike::save(store, name, &result.top, now).await?),
        None => None,
    };
    let shown = Shown { result, saved };
    output::print(args.json, &shown, || describe(&shown))
}

fn describe(shown: &Shown) -> String {
    let r = &shown.result;
    let mut out = format!(
        "Contacts most like \"{}\" ({} member{}), out of {} ranked on {} feature{}:\n\n",
        r.seed,
        r.seed_size,
        if r.seed_size == 1 { "" } else { "s" },
        r.candidates,
        r.features,
        if r.features == 1 { "" } else { "s" },
    );
    if r.top.is_empty() {
        out.push_str("Nobody outside the segment to rank.\n");
    } else {
        out.push_str(&output::table(
            &["#", "CONTACT", "SCORE", "WHY", "ID"],
            r.top
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let why = m
                        .reasons
                        .iter()
                        .map(|r| {
                            format!(
                                "{} ({:.0}% of members, {:.0}% of others)",
                                r.feature,
                                r.seed_share * 100.0,
                                r.base_share * 100.0
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    vec![
                        (i + 1).to_string(),
                        m.name.clone().unwrap_or_default(),
                        format!("{:.2}", m.score),
                        if why.is_empty() { "-".into() } else { why },
                        m.contact_id.to_string(),
                    ]
                })
                .collect(),
        ));
    }
    out.push('\n');
    match &r.quality {
        Some(q) => out.push_str(&format!(
            "Held-out check: {} of {} members left out of learning; {} of them in the top {} \
             (precision@{} {:.1}%, a random ranking: {:.1}%).",
            q.held_out,
            r.seed_size,
            q.hits,
            q.k,
            q.k,
            q.precision_at_k * 100.0,
            q.base_rate * 100.0
        )),
        None => out.push_str("Held-out check: skipped (fewer than 10 members)."),
    }
    if let Some(s) = &shown.saved {
        out.push_str(&format!(
            "\nSaved as segment \"{}\" ({} members, tag \"lookalike: {}\").",
            s.name, s.size, s.name
        ));
    }
    out
}
