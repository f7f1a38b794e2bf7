//! `hub ticket add|list|show|update|comment|delete`: support tickets.

use clap::Subcommand;
use hub_core::tickets::{
    self, Priority, Ticket, TicketDetail, TicketInput, TicketQuery, TicketStatus,
};
use hub_core::{users, Store};
use uuid::Uuid;

use crate::log::{company_id, parse_time};
use crate::output;

#[derive(Subcommand)]
pub enum TicketCommand {
    /// Open a ticket; prints its id
    Add {
        #[arg(long)]
        subject: String,
        #[arg(long)]
        description: Option<String>,
        /// low, normal, high, urgent
        #[arg(long, default_value = "normal")]
        priority: String,
        /// open, pending, resolved, closed
        #[arg(long, default_value = "open")]
        status: String,
        /// Contact id
        #[arg(long)]
        contact: Option<Uuid>,
        /// Company id or name (default: the contact's company)
        #[arg(long)]
        company: Option<String>,
        /// A user name, or `me`
        #[arg(long)]
        assignee: Option<String>,
        /// Due time, RFC 3339
        #[arg(long, value_name = "TIME")]
        due: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tickets (open and pending unless --status or --all)
    List {
        /// Repeatable: open, pending, resolved, closed
        #[arg(long)]
        status: Vec<String>,
        /// Every status
        #[arg(long, conflicts_with = "status")]
        all: bool,
        #[arg(long)]
        priority: Option<String>,
        /// A user name, or `me`
        #[arg(long)]
        assignee: Option<String>,
        /// Only tickets nobody is assigned to
        #[arg(long, conflicts_with = "assignee")]
        unassigned: bool,
        #[arg(long)]
        contact: Option<Uuid>,
        /// Company id or name
        #[arg(long)]
        company: Option<String>,
        /// Only tickets past their due time and still open or pending
        #[arg(long)]
        overdue: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show a ticket with its comments
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Change a ticket; an empty value clears a field
    Update {
        id: Uuid,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long, value_name = "TIME")]
        due: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add a comment (as the current user)
    Comment {
        id: Uuid,
        /// The comment's text
        #[arg(long, alias = "text")]
        body: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a ticket
    Delete { id: Uuid },
}

/// `me` is the current user ([`users::current`]).
async fn assignee(store: &Store, name: &str) -> anyhow::Result<String> {
    if name.trim().eq_ignore_ascii_case("me") {
        Ok(users::current(store).await?)
    } else {
        Ok(name.trim().to_owned())
    }
}

fn empty_clears(value: Option<String>) -> Option<Option<String>> {
    value.map(|v| Some(v).filter(|v| !v.trim().is_empty()))
}

pub async fn run(store: &Store, cmd: TicketCommand) -> anyhow::Result<()> {
    match cmd {
        TicketCommand::Add {
            subject,
            description,
            priority,
            status,
            contact,
            company,
            assignee: who,
            due,
            json,
        } => {
            let input = TicketInput {
                subject,
                description,
                status: TicketStatus::parse(&status)?,
                priority: Priority::parse(&priority)?,
                contact_id: contact,
                company_id: match company {
                    Some(c) => Some(company_id(store, &c).await?),
                    None => None,
                },
                assignee: match who {
                    Some(w) => Some(assignee(store, &w).await?),
                    None => None,
                },
                due_at: due.map(|d| parse_time(&d, "due_at")).transpose()?,
            };
            let ticket = tickets::create(store, input).await?;
            output::print(json, &ticket, || ticket.id.to_string())
        }
        TicketCommand::List {
            status,
            all,
            priority,
            assignee: who,
            unassigned,
            contact,
            company,
            overdue,
            limit,
            offset,
            json,
        } => {
            let status = if all {
                Vec::new()
            } else if status.is_empty() {
                vec![TicketStatus::Open, TicketStatus::Pending]
            } else {
                status
                    .iter()
                    .flat_map(|s| s.split(','))
                    .map(TicketStatus::parse)
                    .collect::<hub_core::Result<Vec<_>>>()?
            };
            let query = TicketQuery {
                status,
                priority: priority.as_deref().map(Priority::parse).transpose()?,
                assignee: match who {
                    Some(w) => Some(assignee(store, &w).await?),
                    None => None,
                },
                unassigned,
                contact_id: contact,
                company_id: match company {
                    Some(c) => Some(company_id(store, &c).await?),
                    None => None,
                },
                overdue,
                offset,
                limit,
            };
            let page = tickets::list(store, &query).await?;
            output::print(json, &page, || {
                let rows = page
                    .items
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.status.as_str().to_owned(),
                            t.priority.as_str().to_owned(),
                            due_text(t),
                            t.assignee.clone().unwrap_or_default(),
                            t.contact
                                .as_ref()
                                .map(|c| c.name.clone())
                                .unwrap_or_default(),
                            t.subject.clone(),
                        ]
                    })
                    .collect();
                format!(
                    "{}\n{} of {} tickets",
                    output::table(
                        &["ID", "STATUS", "PRIORITY", "DUE", "ASSIGNEE", "CONTACT", "SUBJECT"],
                        rows
                    ),
                    page.items.len(),
                    page.total
                )
            })
        }
        TicketCommand::Show { id, json } => {
            let detail = tickets::show(store, id).await?;
            output::print(json, &detail, || describe(&detail))
        }
        TicketCommand::Update {
            id,
            subject,
            description,
            status,
            priority,
            contact,
            company,
            assignee: who,
            due,
            json,
        } => {
            let current = tickets::get(store, id).await?;
            let mut input = TicketInput::from(&current);
            if let Some(s) = subject {
                input.subject = s;
            }
            if let Some(d) = empty_clears(description) {
                input.description = d;
            }
            if let Some(s) = status {
                input.status = TicketStatus::parse(&s)?;
            }
            if let Some(p) = priority {
                input.priority = Priority::parse(&p)?;
            }
            if contact.is_some() && company.is_none() {
                // A new contact brings its company (hub-core fills it in).
                input.company_id = None;
            }
            if let Some(c) = empty_clears(contact) {
                input.contact_id = c
                    .map(|c| {
                        Uuid::parse_str(c.trim()).map_err(|_| {
                            hub_core::Error::invalid(
                                "contact_id",
                                format!("\"{}\" is not an id", c.trim()),
                            )
                        })
                    })
                    .transpose()?;
            }
            if let Some(c) = empty_clears(company) {
                input.company_id = match c {
                    Some(c) => Some(company_id(store, &c).await?),
                    None => None,
                };
            }
            if let Some(w) = empty_clears(who) {
                input.assignee = match w {
                    Some(w) => Some(assignee(store, &w).await?),
                    None => None,
                };
            }
            if let Some(d) = empty_clears(due) {
                input.due_at = d.map(|d| parse_time(&d, "due_at")).transpose()?;
            }
            let ticket = tickets::update(store, id, input).await?;
            output::print(json, &ticket, || describe_ticket(&ticket))
        }
        TicketCommand::Comment { id, body, json } => {
            let comment = tickets::comment(store, id, &body).await?;
            output::print(json, &comment, || comment.id.to_string())
        }
        TicketCommand::Delete { id } => {
            tickets::delete(store, id).await?;
            println!("Deleted {id}");
            Ok(())
        }
    }
}

fn due_text(t: &Ticket) -> String {
    match t.due_at {
        Some(d) if t.overdue => format!("{} (overdue)", d.format("%Y-%m-%d %H:%M")),
        Some(d) => d.format("%Y-%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

fn describe_ticket(t: &Ticket) -> String {
    let mut lines = vec![format!("{}  ({})", t.subject, t.id)];
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lines.push(format!("  {label:<9} {v}"));
        }
    };
    field("Status", Some(t.status.as_str().to_owned()));
    field("Priority", Some(t.priority.as_str().to_owned()));
    field(
        "Contact",
        t.contact.as_ref().map(|r| format!("{} ({})", r.name, r.id)),
    );
    field(
        "Company",
        t.company.as_ref().map(|r| format!("{} ({})", r.name, r.id)),
    );
    field("Assignee", t.assignee.clone());
    field("Due", Some(due_text(t)));
    field("Opened", Some(t.created_at.to_rfc3339()));
    field("Closed", t.closed_at.map(|c| c.to_rfc3339()));
    if let Some(d) = &t.description {
        lines.push(String::new());
        lines.push(d.clone());
    }
    lines.join("\n")
}

fn describe(d: &TicketDetail) -> String {
    let mut text = describe_ticket(&d.ticket);
    if !d.comments.is_empty() {
        text.push_str(&format!("\n\nComments ({}):", d.comments.len()));
        for c in &d.comments {
            text.push_str(&format!(
                "\n  {} {}:\n    {}",
                c.created_at.format("%Y-%m-%d %H:%M"),
                c.author.as_deref().unwrap_or("?"),
                c.body.replace('\n', "\n    ")
            ));
        }
    }
    text
}
