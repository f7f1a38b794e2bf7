//! `hub today`: the Today view in the terminal.

use chrono::{DateTime, Utc};
use clap::Args;
use hub_core::reminders::{self, Reminder};
use hub_core::today::{self, Today};
use hub_core::Store;

use crate::output;

#[derive(Args)]
pub struct TodayArgs {
    /// The IANA zone "today" is read in (default: this computer's)
    #[arg(long)]
    tz: Option<String>,
    /// Items per section (1-200; every section's count is always the full one)
    #[arg(long, default_value_t = today::DEFAULT_LIMIT)]
    limit: u32,
    /// "Now" as RFC 3339 (default: the current time): what Today looked like then
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &Store, args: TodayArgs) -> anyhow::Result<()> {
    let zone = args.tz.unwrap_or_else(reminders::local_zone);
    let tz = reminders::parse_zone(&zone).map_err(|e| hub_core::Error::Validation(vec![e]))?;
    if args.limit == 0 || args.limit > today::MAX_LIMIT {
        return Err(hub_core::Error::invalid(
            "limit",
            format!("between 1 and {}", today::MAX_LIMIT),
        )
        .into());
    }
    let now = match args.at.as_deref() {
        Some(text) => reminders::parse_due(text, tz, "at")
            .map_err(|e| hub_core::Error::Validation(vec![e]))?,
        None => Utc::now(),
    };
    let day = today::today(store, now, tz, args.limit).await?;
    output::print(args.json, &day, || describe(&day))
}

fn section(lines: &mut Vec<String>, title: &str, count: u32, shown: usize, rows: Vec<String>) {
    lines.push(String::new());
    lines.push(format!("{title} ({count})"));
    if count == 0 {
        lines.push("  nothing".into());
        return;
    }
    lines.extend(rows.into_iter().map(|r| format!("  {r}")));
    if (count as usize) > shown {
        lines.push(format!("  … and {} more", count as usize - shown));
    }
}

fn local(t: DateTime<Utc>, tz: &str) -> String {
    reminders::format_local(t, tz)
}

fn reminder_row(r: &Reminder, tz: &str) -> String {
    let link = r
        .deal_title
        .as_deref()
        .map(|t| format!(" · deal: {t}"))
        .or_else(|| {
            r.ticket_subject
                .as_deref()
                .map(|s| format!(" · ticket: {s}"))
        })
        .or_else(|| r.contact_name.as_deref().map(|c| format!(" · {c}")))
        .unwrap_or_default();
    format!("{}  {}{}  [{}]", local(r.next_at, tz), r.title, link, r.id)
}

fn describe(day: &Today) -> String {
    let mut lines = vec![format!(
        "Today for {} — {} ({})",
        day.user,
        local(day.now, &day.tz),
        day.tz
    )];
    section(
        &mut lines,
        "Overdue",
        day.overdue_count,
        day.overdue.len(),
        day.overdue
            .iter()
            .map(|r| reminder_row(r, &day.tz))
            .collect(),
    );
    section(
        &mut lines,
        "Due today",
        day.due_today_count,
        day.due_today.len(),
        day.due_today
            .iter()
            .map(|r| reminder_row(r, &day.tz))
            .collect(),
    );
    section(
        &mut lines,
        "Stale deals",
        day.stale_deal_count,
        day.stale_deals.len(),
        day.stale_deals
            .iter()
            .map(|d| {
                let why = match (d.rotting, d.no_next_activity) {
                    (true, true) => format!("{} days in stage, no next activity", d.days_in_stage),
                    (true, false) => format!("{} days in stage", d.days_in_stage),
                    _ => "no next activity".to_owned(),
                };
                let amount = match (&d.amount, &d.currency) {
                    (Some(a), Some(c)) => format!(" · {a} {c}"),
                    _ => String::new(),
                };
                format!("{} ({}){amount} — {why}  [{}]", d.title, d.stage.name, d.id)
            })
            .collect(),
    );
    section(
        &mut lines,
        "Stay in touch",
        day.stay_in_touch_count,
        day.stay_in_touch.len(),
        day.stay_in_touch
            .iter()
            .map(|c| {
                format!(
                    "{} — every {} days, due {}  [{}]",
                    c.display_name,
                    c.every_days,
                    local(c.next_due, &day.tz),
                    c.contact_id
                )
            })
            .collect(),
    );
    section(
        &mut lines,
        "My open tickets",
        day.ticket_count,
        day.tickets.len(),
        day.tickets
            .iter()
            .map(|t| {
                format!(
                    "{} ({}, {}){}  [{}]",
                    t.subject,
                    t.status.as_str(),
                    t.priority.as_str(),
                    if t.overdue { " overdue" } else { "" },
                    t.id
                )
            })
            .collect(),
    );
    lines.join("\n")
}
