//! `hub consent set|show`: consent per purpose and the do-not-sell flag.

use clap::Subcommand;
use hub_core::consent::{self, ConsentInput, ContactConsent, Purpose, Source, Status};
use hub_core::Store;
use uuid::Uuid;

use crate::log::parse_time;
use crate::output;

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record a decision: `hub consent set ID advertising granted`. Denying a granted
    /// purpose records a withdrawal (revoked); `sale denied` is do-not-sell.
    Set {
        /// The contact's id
        id: String,
        /// email_marketing, advertising, analytics or sale
        purpose: String,
        /// granted, denied or revoked
        status: String,
        /// How you learnt it: manual (default), form, import or tracking
        #[arg(long, default_value = "manual")]
        source: String,
        /// When the person decided (RFC 3339); default now
        #[arg(long)]
        at: Option<String>,
        /// What proves it: a form's name, a ticket, a note
        #[arg(long)]
        evidence: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where a contact stands on every purpose, with the history of decisions
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: ConsentCommand) -> anyhow::Result<()> {
    match cmd {
        ConsentCommand::Set {
            id,
            purpose,
            status,
            source,
            at,
            evidence,
            json,
        } => {
            let input = ConsentInput {
                contact_id: contact_id(&id)?,
                purpose: Purpose::parse(&purpose)?,
                status: Status::parse(&status)?,
                source: Source::parse(&source)?,
                decided_at: at.as_deref().map(|t| parse_time(t, "at")).transpose()?,
                evidence,
            };
            let consent = consent::set(store, input).await?;
            output::print(json, &consent, || describe(&consent))
        }
        ConsentCommand::Show { id, json } => {
            let consent = consent::of_contact(store, contact_id(&id)?).await?;
            output::print(json, &consent, || describe(&consent))
        }
    }
}

/// A contact id as typed on the command line (also used by `hub privacy`).
pub(crate) fn contact_id(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        hub_core::Error::invalid("contact_id", format!("\"{}\" is not an id", text.trim())).into()
    })
}

fn describe(consent: &ContactConsent) -> String {
    let rows = Purpose::ALL
        .into_iter()
        .map(|purpose| {
            let record = consent.current.iter().find(|r| r.purpose == purpose);
            vec![
                purpose.as_str().to_owned(),
                record.map_or("not asked".into(), |r| r.status.as_str().to_owned()),
                record.map_or(String::new(), |r| r.source.as_str().to_owned()),
                record.map_or(String::new(), |r| {
                    r.decided_at.format("%Y-%m-%d %H:%M UTC").to_string()
                }),
            ]
        })
        .collect();
    let mut text = output::table(&["PURPOSE", "STATUS", "SOURCE", "DECIDED"], rows);
    text.push_str(if consent.do_not_sell {
        "\ndo not sell: yes"
    } else {
        "\ndo not sell: no"
    });
    text.push_str(&format!(
        "\n{} decision(s) on record",
        consent.history.len()
    ));
    text
}
