//! `hub timeline [contact|company|deal] ID` and `hub stay-in-touch ...`.

use clap::{Args, Subcommand};
use hub_core::stay_in_touch::{self, DueContact, StayInTouch};
use hub_core::timeline::{
    self, EntryDetail, EntryKind, TimelineEntry, TimelineOf, TimelinePage, TimelineQuery,
};
use hub_core::Store;
use uuid::Uuid;

use crate::log::{company_id, headline, parse_time};
use crate::output;

#[derive(Args)]
pub struct TimelineArgs {
    /// Whose timeline: contact, company or deal, then its id; a contact's id alone
    /// is enough (`hub timeline CONTACT_ID`)
    #[arg(value_name = "RECORD|CONTACT_ID")]
    record: String,
    /// Its id (a company: id or name)
    id: Option<String>,
    /// Only these kinds (repeatable or comma-separated): call, email, meeting, note,
    /// ticket_opened, ticket_closed, ticket_comment, stage_change, page_view, screen_view,
    /// event, identified, group, alias; groups: activity, ticket, behaviour
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Entries per page (1-500)
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after a page: its `next_cursor`
    #[arg(long)]
    cursor: Option<String>,
    /// Every entry, not one page
    #[arg(long, conflicts_with = "cursor")]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run_timeline(store: &Store, args: TimelineArgs) -> anyhow::Result<()> {
    let (record, id) = match &args.id {
        Some(id) => (args.record.trim().to_lowercase(), id.clone()),
        None => ("contact".to_owned(), args.record.clone()),
    };
    let parse_id = |field: &str| -> anyhow::Result<Uuid> {
        Uuid::parse_str(id.trim()).map_err(|_| {
            hub_core::Error::invalid(field, format!("\"{}\" is not an id", id.trim())).into()
        })
    };
    let of = match record.as_str() {
        "contact" => TimelineOf::Contact(parse_id("contact_id")?),
        "company" => TimelineOf::Company(company_id(store, &id).await?),
        "deal" => TimelineOf::Deal(parse_id("deal_id")?),
        other => {
            return Err(hub_core::Error::invalid(
                "record",
                format!("\"{other}\" is not contact, company or deal"),
            )
            .into())
        }
    };
    let mut kinds = Vec::new();
    for k in args.kinds.iter().flat_map(|k| k.split(',')) {
        for kind in EntryKind::parse_filter(k)? {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    let mut query = TimelineQuery {
        kinds,
        cursor: args.cursor,
        limit: args.limit,
    };
    let mut page = timeline::page(store, of, &query).await?;
    if args.all {
        while let Some(cursor) = page.next_cursor.take() {
            query.cursor = Some(cursor);
            let next = timeline::page(store, of, &query).await?;
            page.entries.extend(next.entries);
            page.next_cursor = next.next_cursor;
        }
    }
    output::print(args.json, &page, || describe_page(&page))
}

fn describe_page(page: &TimelinePage) -> String {
    if page.entries.is_empty() {
        return "Nothing on this timeline yet.".into();
    }
    let rows = page
        .entries
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M").to_string(),
                e.kind.as_str().to_owned(),
                summary(e),
            ]
        })
        .collect();
    let mut text = output::table(&["WHEN (UTC)", "KIND", "WHAT"], rows);
    if let Some(c) = &page.next_cursor {
        text.push_str(&format!("\nMore: --cursor '{c}'"));
    }
    text
}

/// One line per entry.
pub fn summary(e: &TimelineEntry) -> String {
    let first_line = |s: &str| s.lines().next().unwrap_or("").to_owned();
    match &e.detail {
        EntryDetail::Activity { activity } => {
            let mut s = headline(activity);
            if let Some(body) = &activity.body {
                s.push_str(&format!(" — {}", first_line(body)));
            }
            s
        }
        EntryDetail::Ticket { ticket } if e.kind == EntryKind::TicketClosed => {
            format!("Ticket {}: {}", ticket.status.as_str(), ticket.subject)
        }
        EntryDetail::Ticket { ticket } => format!(
            "Ticket opened: {} ({} priority)",
            ticket.subject,
            ticket.priority.as_str()
        ),
        EntryDetail::Comment {
            comment,
            ticket_subject,
        } => format!(
            "{} on \"{ticket_subject}\": {}",
            comment.author.as_deref().unwrap_or("?"),
            first_line(&comment.body)
        ),
        EntryDetail::Event { event } => behaviour(event),
        EntryDetail::Segment { segment } => format!(
            "{} segment {}{}",
            if e.kind == EntryKind::SegmentExited {
                "Left"
            } else {
                "Entered"
            },
            segment.name,
            if segment.deleted { " (deleted)" } else { "" }
        ),
        EntryDetail::StageChange { change } => match &change.from_stage {
            Some(from) => format!(
                "{}: {} → {}",
                change.deal.name,
                from.name,
                change
                    .to_stage
                    .as_ref()
                    .map(|s| s.name.as_str())
                    .unwrap_or("?")
            ),
            None => format!(
                "{}: created in {}",
                change.deal.name,
                change
                    .to_stage
                    .as_ref()
                    .map(|s| s.name.as_str())
                    .unwrap_or("?")
            ),
        },
    }
}

/// One line for a behavioural event: what, where, and as whom.
fn behaviour(e: &hub_core::timeline::BehaviourEvent) -> String {
    let what = match e.call.as_str() {
        "page" => format!(
            "Viewed {}",
            e.path.as_deref().or(e.name.as_deref()).unwrap_or("a page")
        ),
        "screen" => format!("Viewed screen {}", e.name.as_deref().unwrap_or("?")),
        "track" => {
            let mut s = e.name.clone().unwrap_or_else(|| "Event".into());
            if let Some(p) = &e.path {
                s.push_str(&format!(" on {p}"));
            }
            s
        }
        "identify" => {
            let traits = e.body.get("traits").and_then(|t| t.as_object());
            let mut keys: Vec<&str> = traits
                .map(|t| t.keys().map(String::as_str).collect())
                .unwrap_or_default();
            keys.sort_unstable();
            if keys.is_empty() {
                "Identified".to_owned()
            } else {
                format!("Identified ({})", keys.join(", "))
            }
        }
        "group" => format!(
            "Joined group {}",
            e.body
                .get("groupId")
                .map(|g| g
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| g.to_string()))
                .unwrap_or_default()
        ),
        "alias" => format!(
            "Alias of {}",
            e.body
                .get("previousId")
                .map(|g| g
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| g.to_string()))
                .unwrap_or_default()
        ),
        other => other.to_owned(),
    };
    match (&e.user_id, &e.anonymous_id) {
        (Some(u), _) => format!("{what} [user {u}]"),
        (None, Some(a)) => format!("{what} [anonymous {a}]"),
        _ => what,
    }
}

#[derive(Subcommand)]
pub enum StayInTouchCommand {
    /// Stay in touch with a contact every N days, or stop (--off)
    Set {
        /// Contact id
        id: Uuid,
        #[arg(long, value_name = "DAYS", required_unless_present = "off")]
        every: Option<u32>,
        #[arg(long, conflicts_with = "every")]
        off: bool,
        #[arg(long)]
        json: bool,
    },
    /// A contact's setting, last interaction and next follow-up
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Contacts due for a follow-up, most overdue first
    Due {
        /// As of this time, RFC 3339 [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run_stay_in_touch(store: &Store, cmd: StayInTouchCommand) -> anyhow::Result<()> {
    match cmd {
        StayInTouchCommand::Set {
            id,
            every,
            off,
            json,
        } => {
            let s = stay_in_touch::set(store, id, if off { None } else { every }).await?;
            output::print(json, &s, || describe(&s))
        }
        StayInTouchCommand::Show { id, json } => {
            let s = stay_in_touch::get(store, id).await?;
            output::print(json, &s, || describe(&s))
        }
        StayInTouchCommand::Due { at, limit, json } => {
            let at = match at {
                Some(at) => parse_time(&at, "at")?,
                None => chrono::Utc::now(),
            };
            let due = stay_in_touch::due(store, at, limit).await?;
            output::print(json, &due, || describe_due(&due))
        }
    }
}

fn describe(s: &StayInTouch) -> String {
    match (s.every_days, s.next_due) {
        (Some(days), Some(next)) => format!(
            "Every {days} days; last interaction {}; next follow-up {}",
            s.last_interaction
                .map(|l| l.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "none".into()),
            next.format("%Y-%m-%d %H:%M UTC")
        ),
        _ => "Stay in touch is off".into(),
    }
}

fn describe_due(due: &[DueContact]) -> String {
    if due.is_empty() {
        return "Nobody is due for a follow-up.".into();
    }
    let rows = due
        .iter()
        .map(|d| {
            vec![
                d.contact_id.to_string(),
                d.display_name.clone(),
                d.next_due.format("%Y-%m-%d %H:%M").to_string(),
                d.last_interaction
                    .map(|l| l.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "never".into()),
                format!("{}d", d.every_days),
            ]
        })
        .collect();
    output::table(&["ID", "NAME", "DUE (UTC)", "LAST", "EVERY"], rows)
}
