//! `hub reminder ...`

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use hub_core::reminders::{
    self, Reminder, ReminderInput, ReminderQuery, ReminderStatus, StatusFilter,
};
use hub_core::Store;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum ReminderCommand {
    /// Add a reminder; prints its id
    Add {
        #[arg(long)]
        title: String,
        /// Due time: RFC 3339 (2026-11-30T09:00:00+01:00), or local 2026-11-30T09:00 read in --tz
        #[arg(long, value_name = "TIME")]
        due: String,
        /// IANA time zone the reminder lives in (recurrence keeps its wall-clock time)
        /// [default: this computer's zone]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Contact id
        #[arg(long, value_name = "ID")]
        contact: Option<Uuid>,
        /// Deal id
        #[arg(long, value_name = "ID")]
        deal: Option<Uuid>,
        /// Ticket id
        #[arg(long, value_name = "ID")]
        ticket: Option<Uuid>,
        /// Recurrence: daily, weekly, monthly, yearly, or an RRULE such as
        /// FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=10 (UNTIL or COUNT, not both)
        #[arg(long, value_name = "RULE")]
        repeat: Option<String>,
        /// Whose reminder it is [default: you]
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List open reminders by when they ring next
    List {
        /// Only those ringing before this time (RFC 3339, or local time)
        #[arg(long, value_name = "TIME")]
        due_before: Option<String>,
        /// Done reminders instead of open ones
        #[arg(long, conflicts_with = "all")]
        done: bool,
        /// Open and done reminders
        #[arg(long)]
        all: bool,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long, value_name = "ID")]
        contact: Option<Uuid>,
        #[arg(long, value_name = "ID")]
        deal: Option<Uuid>,
        #[arg(long, value_name = "ID")]
        ticket: Option<Uuid>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one reminder
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Complete it (a recurring reminder moves to its next occurrence)
    Done {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Ring again later (default: in 15 minutes)
    Snooze {
        id: Uuid,
        /// Until this time (RFC 3339, or local time)
        #[arg(long, value_name = "TIME", conflicts_with = "for_")]
        until: Option<String>,
        /// For this long: 10m, 2h, 1d, 1w
        #[arg(long = "for", value_name = "DURATION")]
        for_: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Make a done reminder open again
    Reopen {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Delete a reminder
    Delete { id: Uuid },
}

/// `daily` etc. as a rule; anything else is passed on as RRULE text.
fn repeat_rule(text: &str) -> String {
    match text.trim().to_ascii_lowercase().as_str() {
        "daily" | "day" => "FREQ=DAILY".into(),
        "weekly" | "week" => "FREQ=WEEKLY".into(),
        "monthly" | "month" => "FREQ=MONTHLY".into(),
        "yearly" | "year" | "annually" => "FREQ=YEARLY".into(),
        _ => text.to_owned(),
    }
}

/// `15m`, `2h`, `1d`, `1w` (also `90s`).
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 100_000)
        .with_context(|| {
            format!("--for {text:?}: expected a number and a unit, e.g. 10m, 2h, 1d")
        })?;
    Ok(match unit.trim() {
        "s" | "sec" | "secs" => Duration::seconds(n),
        "" | "m" | "min" | "mins" => Duration::minutes(n),
        "h" | "hour" | "hours" => Duration::hours(n),
        "d" | "day" | "days" => Duration::days(n),
        "w" | "week" | "weeks" => Duration::weeks(n),
        other => anyhow::bail!("--for {text:?}: unknown unit {other:?} (s, m, h, d, w)"),
    })
}

/// A time given on the command line, read in this computer's zone when it has no offset.
fn parse_time(text: &str, field: &str) -> anyhow::Result<DateTime<Utc>> {
    let zone = reminders::parse_zone(&reminders::local_zone())
        .map_err(|e| hub_core::Error::Validation(vec![e]))?;
    reminders::parse_due(text, zone, field).map_err(|e| hub_core::Error::Validation(vec![e]).into())
}

fn link(r: &Reminder) -> String {
    if let Some(t) = &r.deal_title {
        format!("deal: {t}")
    } else if let Some(s) = &r.ticket_subject {
        format!("ticket: {s}")
    } else if let Some(c) = &r.contact_name {
        format!("contact: {c}")
    } else {
        String::new()
    }
}

fn describe(r: &Reminder) -> String {
    let mut lines = vec![
        r.title.clone(),
        format!("  id:       {}", r.id),
        format!("  due:      {} ({})", r.due_local, r.tz),
        format!(
            "  status:   {}",
            match (r.status, r.snoozed_until) {
                (ReminderStatus::Done, _) => format!(
                    "done {}",
                    r.done_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                ),
                (ReminderStatus::Open, Some(until)) =>
                    format!("snoozed until {}", until.to_rfc3339()),
                (ReminderStatus::Open, None) => "open".into(),
            }
        ),
    ];
    if let Some(repeat) = &r.repeat {
        lines.push(format!("  repeats:  {repeat}"));
    }
    let link = link(r);
    if !link.is_empty() {
        lines.push(format!("  linked:   {link}"));
    }
    if let Some(a) = &r.assignee {
        lines.push(format!("  assignee: {a}"));
    }
    if let Some(n) = &r.notes {
        lines.push(format!("  notes:    {n}"));
    }
    lines.join("\n")
}

/// The one-line answer of done/snooze/reopen.
fn state_line(r: &Reminder) -> String {
    match (r.status, r.snoozed_until) {
        (ReminderStatus::Done, _) => format!("Done: {}", r.title),
        (ReminderStatus::Open, Some(until)) => {
            format!("Snoozed until {}: {}", until.to_rfc3339(), r.title)
        }
        (ReminderStatus::Open, None) => format!("Open, due {}: {}", r.due_local, r.title),
    }
}

pub async fn run(store: &Store, cmd: ReminderCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match cmd {
        ReminderCommand::Add {
            title,
            due,
            tz,
            contact,
            deal,
            ticket,
            repeat,
            assignee,
            notes,
            json,
        } => {
            let input = ReminderInput {
                title,
                notes,
                due,
                tz,
                contact_id: contact,
                deal_id: deal,
                ticket_id: ticket,
                assignee,
                rrule: repeat.as_deref().map(repeat_rule),
            };
            let r = reminders::add(store, &input, now).await?;
            output::print(json, &r, || r.id.to_string())
        }
        ReminderCommand::List {
            due_before,
            done,
            all,
            assignee,
            contact,
            deal,
            ticket,
            limit,
            offset,
            json,
        } => {
            let query = ReminderQuery {
                status: if all {
                    StatusFilter::All
                } else if done {
                    StatusFilter::Done
                } else {
                    StatusFilter::Open
                },
                due_before: due_before
                    .as_deref()
                    .map(|t| parse_time(t, "due_before"))
                    .transpose()?,
                assignee,
                contact_id: contact,
                deal_id: deal,
                ticket_id: ticket,
                offset,
                limit: Some(limit),
            };
            let list = reminders::list(store, &query).await?;
            output::print(json, &list, || {
                let rows = list
                    .iter()
                    .map(|r| {
                        let when = match (r.status, r.snoozed_until) {
                            (ReminderStatus::Done, _) => format!("done ({})", r.due_local),
                            (_, Some(until)) => {
                                format!("{} (snoozed)", reminders::format_local(until, &r.tz))
                            }
                            _ => r.due_local.clone(),
                        };
                        vec![
                            r.id.to_string(),
                            when,
                            r.title.clone(),
                            r.repeat.clone().unwrap_or_default(),
                            link(r),
                        ]
                    })
                    .collect();
                format!(
                    "{}\n{} reminder{}",
                    output::table(&["ID", "DUE", "TITLE", "REPEATS", "LINKED"], rows),
                    list.len(),
                    if list.len() == 1 { "" } else { "s" }
                )
            })
        }
        ReminderCommand::Show { id, json } => {
            let r = reminders::get(store, id).await?;
            output::print(json, &r, || describe(&r))
        }
        ReminderCommand::Done { id, json } => {
            let r = reminders::done(store, id, now).await?;
            output::print(json, &r, || state_line(&r))
        }
        ReminderCommand::Snooze {
            id,
            until,
            for_,
            json,
        } => {
            let until = match (until, for_) {
                (Some(t), _) => parse_time(&t, "snoozed_until")?,
                (None, Some(d)) => now + parse_duration(&d)?,
                (None, None) => now + reminders::DEFAULT_SNOOZE,
            };
            let r = reminders::snooze(store, id, until, now).await?;
            output::print(json, &r, || state_line(&r))
        }
        ReminderCommand::Reopen { id, json } => {
            let r = reminders::reopen(store, id).await?;
            output::print(json, &r, || state_line(&r))
        }
        ReminderCommand::Delete { id } => {
            reminders::delete(store, id).await?;
            println!("Deleted reminder {id}.");
            Ok(())
        }
    }
}
