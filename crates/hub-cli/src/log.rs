//! `hub log call|email|meeting|note|show|edit|delete`: logged activities.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use hub_core::activities::{self, Activity, ActivityInput, ActivityKind, CallOutcome, Direction};
use hub_core::{companies, Store};
use uuid::Uuid;

use crate::output;

/// Where an activity is logged: at least one of the three.
#[derive(Args)]
pub struct Links {
    /// Contact id
    #[arg(long)]
    contact: Option<Uuid>,
    /// Company id or name (default: the contact's company)
    #[arg(long)]
    company: Option<String>,
    /// Deal id (its contact is linked when --contact is not given)
    #[arg(long)]
    deal: Option<Uuid>,
}

#[derive(Args)]
pub struct When {
    /// When it happened, RFC 3339 (`2026-11-29T14:30:00Z`, `2026-11-29T15:30:00+01:00`) [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Log a phone call
    Call {
        #[command(flatten)]
        links: Links,
        /// inbound or outbound (in, out) [default: outbound]
        #[arg(long)]
        direction: Option<String>,
        /// 90, 45s, 5m, 1h30m or 1:30:00
        #[arg(long)]
        duration: Option<String>,
        /// connected, no_answer, left_voicemail, busy, wrong_number
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// What was said
        #[arg(long, alias = "notes")]
        body: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Log an email sent or received
    Email {
        #[command(flatten)]
        links: Links,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        body: Option<String>,
        /// inbound or outbound (in, out) [default: outbound]
        #[arg(long)]
        direction: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Log a meeting (--at is when it starts)
    Meeting {
        #[command(flatten)]
        links: Links,
        #[arg(long)]
        subject: Option<String>,
        /// 90, 45s, 5m, 1h30m or 1:30:00
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        location: Option<String>,
        /// Minutes, notes
        #[arg(long, alias = "notes")]
        body: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Add a note
    Note {
        #[command(flatten)]
        links: Links,
        #[arg(long, alias = "text")]
        body: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Show one logged activity
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Change a logged activity; an empty value clears a field
    Edit {
        id: Uuid,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        deal: Option<String>,
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[arg(long)]
        direction: Option<String>,
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a logged activity
    Delete { id: Uuid },
}

/// RFC 3339 in any offset, stored as UTC.
pub fn parse_time(text: &str, field: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            hub_core::Error::invalid(
                field,
                format!(
                    "\"{}\" is not an RFC 3339 time such as 2026-11-29T14:30:00Z",
                    text.trim()
                ),
            )
            .into()
        })
}

/// A company id, or the id of the live company with this name.
pub async fn company_id(store: &Store, text: &str) -> anyhow::Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        // Checked (as a field error) by the core's write.
        return Ok(id);
    }
    match companies::find(store, text).await {
        Ok(c) => Ok(c.id),
        Err(hub_core::Error::NotFound { .. }) => Err(hub_core::Error::invalid(
            "company_id",
            format!("no company named \"{}\"", text.trim()),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

fn opt<T>(
    value: Option<String>,
    parse: impl Fn(&str) -> hub_core::Result<T>,
) -> anyhow::Result<Option<T>> {
    Ok(value.as_deref().map(parse).transpose()?)
}

async fn base(
    store: &Store,
    kind: ActivityKind,
    links: Links,
    when: &When,
) -> anyhow::Result<ActivityInput> {
    let mut input = ActivityInput::new(kind);
    input.contact_id = links.contact;
    input.deal_id = links.deal;
    if let Some(company) = links.company {
        input.company_id = Some(company_id(store, &company).await?);
    }
    if let Some(at) = &when.at {
        input.occurred_at = Some(parse_time(at, "occurred_at")?);
    }
    Ok(input)
}

pub async fn run(store: &Store, cmd: LogCommand) -> anyhow::Result<()> {
    let (input, json) = match cmd {
        LogCommand::Call {
            links,
            direction,
            duration,
            outcome,
            subject,
            body,
            when,
        } => {
            let mut input = base(store, ActivityKind::Call, links, &when).await?;
            input.direction = opt(direction, Direction::parse)?;
            input.duration_s = opt(duration, activities::parse_duration)?;
            input.outcome = opt(outcome, CallOutcome::parse)?;
            input.subject = subject;
            input.body = body;
            (input, when.json)
        }
        LogCommand::Email {
            links,
            subject,
            body,
            direction,
            when,
        } => {
            let mut input = base(store, ActivityKind::Email, links, &when).await?;
            input.direction = opt(direction, Direction::parse)?;
            input.subject = subject;
            input.body = body;
            (input, when.json)
        }
        LogCommand::Meeting {
            links,
            subject,
            duration,
            location,
            body,
            when,
        } => {
            let mut input = base(store, ActivityKind::Meeting, links, &when).await?;
            input.duration_s = opt(duration, activities::parse_duration)?;
            input.subject = subject;
            input.location = location;
            input.body = body;
            (input, when.json)
        }
        LogCommand::Note { links, body, when } => {
            let mut input = base(store, ActivityKind::Note, links, &when).await?;
            input.body = body;
            (input, when.json)
        }
        LogCommand::Show { id, json } => {
            let activity = activities::get(store, id).await?;
            return output::print(json, &activity, || describe(&activity));
        }
        LogCommand::Edit {
            id,
            contact,
            company,
            deal,
            at,
            direction,
            duration,
            outcome,
            subject,
            body,
            location,
            json,
        } => {
            let current = activities::get(store, id).await?;
            let mut input = ActivityInput::from(&current);
            // An empty value clears a field.
            let given = |v: Option<String>| v.map(|v| Some(v).filter(|v| !v.trim().is_empty()));
            let uuid = |v: &str, field: &str| -> anyhow::Result<Uuid> {
                Uuid::parse_str(v.trim()).map_err(|_| {
                    hub_core::Error::invalid(field, format!("\"{}\" is not an id", v.trim())).into()
                })
            };
            if let Some(v) = given(contact) {
                input.contact_id = v.map(|v| uuid(&v, "contact_id")).transpose()?;
            }
            if let Some(v) = given(company) {
                input.company_id = match v {
                    Some(v) => Some(company_id(store, &v).await?),
                    None => None,
                };
            }
            if let Some(v) = given(deal) {
                input.deal_id = v.map(|v| uuid(&v, "deal_id")).transpose()?;
            }
            if let Some(at) = at {
                input.occurred_at = Some(parse_time(&at, "occurred_at")?);
            }
            if let Some(v) = given(direction) {
                input.direction = opt(v, Direction::parse)?;
            }
            if let Some(v) = given(duration) {
                input.duration_s = opt(v, activities::parse_duration)?;
            }
            if let Some(v) = given(outcome) {
                input.outcome = opt(v, CallOutcome::parse)?;
            }
            if let Some(v) = given(subject) {
                input.subject = v;
            }
            if let Some(v) = given(body) {
                input.body = v;
            }
            if let Some(v) = given(location) {
                input.location = v;
            }
            let activity = activities::update(store, id, input).await?;
            return output::print(json, &activity, || describe(&activity));
        }
        LogCommand::Delete { id } => {
            activities::delete(store, id).await?;
            println!("Deleted {id}");
            return Ok(());
        }
    };
    let activity = activities::log(store, input).await?;
    output::print(json, &activity, || activity.id.to_string())
}

/// "Outbound call · connected · 5m 30s": the one-line headline of an activity.
pub fn headline(a: &Activity) -> String {
    let mut parts = Vec::new();
    let kind = a.kind.as_str();
    match a.direction {
        Some(d) => parts.push(format!("{} {kind}", capitalise(d.as_str()))),
        None => parts.push(capitalise(kind)),
    }
    if let Some(o) = a.outcome {
        parts.push(o.as_str().replace('_', " "));
    }
    if let Some(d) = a.duration_s {
        parts.push(activities::format_duration(d));
    }
    if let Some(s) = &a.subject {
        parts.push(s.clone());
    }
    if let Some(l) = &a.location {
        parts.push(format!("at {l}"));
    }
    parts.join(" · ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn describe(a: &Activity) -> String {
    let mut lines = vec![format!("{}  ({})", headline(a), a.id)];
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lines.push(format!("  {label:<8} {v}"));
        }
    };
    field("When", Some(a.occurred_at.to_rfc3339()));
    field(
        "Contact",
        a.contact.as_ref().map(|r| format!("{} ({})", r.name, r.id)),
    );
    field(
        "Company",
        a.company.as_ref().map(|r| format!("{} ({})", r.name, r.id)),
    );
    field(
        "Deal",
        a.deal.as_ref().map(|r| format!("{} ({})", r.name, r.id)),
    );
    field("By", a.created_by.clone());
    if let Some(body) = &a.body {
        lines.push(String::new());
        lines.push(body.clone());
    }
    lines.join("\n")
}
