//! `hub campaigns report|contact|deal`: campaign performance over a date
//! range, and first/last touch of a contact or a deal (docs/campaigns.md).

use chrono::NaiveDate;
use clap::Subcommand;
use hub_core::campaigns::{
    self, Attribution, CampaignReport, ContactTouches, DealTouches, ReportQuery, Touch,
};
use hub_core::money::Money;
use hub_core::{deals, segments, Store};

use crate::consent::contact_id;
use crate::output;

#[derive(Subcommand)]
pub enum CampaignsCommand {
    /// Per campaign (name / source / medium): visitors, contacts, anonymous
    /// audience, deals (first touch), won deals and revenue (last touch), rates
    Report {
        /// First day, YYYY-MM-DD (UTC, inclusive); default: the beginning
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (UTC, inclusive); default: today and later
        #[arg(long)]
        to: Option<String>,
        /// Only the members of this segment (name or id): their touches and deals
        #[arg(long)]
        segment: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A contact's first and last touch and every campaign touch
    Contact {
        /// The contact's id
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A deal's first touch (before it was created) and last touch (before it was won)
    Deal {
        /// The deal's id or exact title
        deal: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, cmd: CampaignsCommand) -> anyhow::Result<()> {
    match cmd {
        CampaignsCommand::Report {
            from,
            to,
            segment,
            json,
        } => {
            let segment_id = match segment {
                Some(s) => Some(segments::get(store, &s).await?.id),
                None => None,
            };
            let range = ReportQuery {
                from: from.as_deref().map(|d| parse_date("from", d)).transpose()?,
                to: to.as_deref().map(|d| parse_date("to", d)).transpose()?,
                segment_id,
            };
            let report = campaigns::report(store, range).await?;
            output::print(json, &report, || describe_report(&report))
        }
        CampaignsCommand::Contact { id, json } => {
            let touches = campaigns::contact_touches(store, contact_id(&id)?).await?;
            output::print(json, &touches, || describe_contact(&touches))
        }
        CampaignsCommand::Deal { deal, json } => {
            let id = deals::find(store, &deal).await?.summary.id;
            let touches = campaigns::deal_touches(store, id).await?;
            output::print(json, &touches, || describe_deal(&touches))
        }
    }
}

fn parse_date(field: &str, text: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        hub_core::Error::invalid(
            field,
            format!("\"{}\" is not a date such as 2026-03-31", text.trim()),
        )
        .into()
    })
}

fn money_list(list: &[Money]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|m| format!("{} {}", m.amount, m.currency))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

/// A rate in percent, `-` when it has no denominator.
fn percent<T: std::fmt::Display>(p: &Option<T>) -> String {
    p.as_ref().map_or_else(|| "-".into(), |p| format!("{p}%"))
}

fn describe_report(r: &CampaignReport) -> String {
    let span = match (r.from, r.to) {
        (None, None) => "all time".to_owned(),
        (Some(f), None) => format!("from {f}"),
        (None, Some(t)) => format!("up to {t}"),
        (Some(f), Some(t)) => format!("{f} to {t}"),
    };
    let base = r.base_currency.clone();
    let mut out = vec![match &r.segment {
        Some(s) => format!("Campaigns, {span} (UTC days), members of {}", s.name),
        None => format!("Campaigns, {span} (UTC days)"),
    }];
    if r.rows.is_empty() {
        out.push("No campaign touches or deals in this range.".into());
        return out.join("\n");
    }
    let base_header = match &base {
        Some(b) => format!("Revenue {b}"),
        None => "Revenue (base)".into(),
    };
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let part = |p: &Option<String>| {
                if row.direct {
                    String::new()
                } else {
                    p.clone().unwrap_or_else(|| "(not set)".into())
                }
            };
            vec![
                if row.direct {
                    campaigns::DIRECT.to_owned()
                } else {
                    part(&row.campaign)
                },
                part(&row.source),
                part(&row.medium),
                count(row.visitors),
                count(row.contacts),
                count(row.anonymous),
                row.deals.to_string(),
                row.won.to_string(),
                money_list(&row.revenue),
                row.revenue_base
                    .as_ref()
                    .map_or_else(|| "-".into(), |m| m.amount.to_string()),
                percent(&row.rates.visitor_to_contact),
                percent(&row.rates.contact_to_deal),
                percent(&row.rates.contact_to_won),
            ]
        })
        .collect();
    out.push(output::table(
        &[
            "Campaign",
            "Source",
            "Medium",
            "Visitors",
            "Contacts",
            "Anonymous",
            "Deals",
            "Won",
            "Revenue",
            &base_header,
            "Visit>contact",
            "Contact>deal",
            "Contact>won",
        ],
        rows,
    ));
    out.push(String::new());
    out.push(
        "Deals: created in the range, credited to their first touch. Won and revenue: won in the range, credited to the last touch before the win."
            .into(),
    );
    if base.is_none() {
        out.push("No base currency set: revenue is not converted (hub rate base EUR).".into());
    }
    if !r.missing_rates.is_empty() {
        out.push(format!(
            "No rate into {} for {}: set one with `hub rate set`.",
            base.unwrap_or_default(),
            r.missing_rates.join(", ")
        ));
    }
    out.join("\n")
}

fn touch_line(t: &Touch) -> String {
    let mut line = format!("{}  {}", t.at.format("%Y-%m-%d %H:%M:%S"), t.label());
    if let Some(term) = &t.term {
        line.push_str(&format!("  term: {term}"));
    }
    if let Some(content) = &t.content {
        line.push_str(&format!("  content: {content}"));
    }
    line
}

fn attribution_line(a: &Attribution) -> String {
    match a {
        Attribution::Campaign(t) => touch_line(t),
        Attribution::Direct => campaigns::DIRECT.to_owned(),
    }
}

fn describe_contact(c: &ContactTouches) -> String {
    let mut out = vec![
        format!("First touch: {}", attribution_line(&c.first_touch)),
        format!("Last touch:  {}", attribution_line(&c.last_touch)),
    ];
    if !c.touches.is_empty() {
        out.push(format!("Touches ({}):", c.count));
        out.extend(c.touches.iter().map(|t| format!("  {}", touch_line(t))));
        if c.count > c.touches.len() as u64 {
            out.push(format!(
                "  ... and {} more",
                c.count - c.touches.len() as u64
            ));
        }
    }
    out.join("\n")
}

fn describe_deal(d: &DealTouches) -> String {
    let mut out = vec![
        format!(
            "{} (created {})",
            d.title,
            d.created_at.format("%Y-%m-%d %H:%M:%S")
        ),
        format!(
            "First touch before it was created: {}",
            attribution_line(&d.first_touch)
        ),
    ];
    match (&d.won_at, &d.last_touch) {
        (Some(won), Some(last)) => out.push(format!(
            "Last touch before it was won ({}): {}",
            won.format("%Y-%m-%d %H:%M:%S"),
            attribution_line(last)
        )),
        _ => out.push("Not won: no last touch yet.".into()),
    }
    if d.contact_id.is_none() {
        out.push("The deal has no contact, so no touches: direct/none.".into());
    }
    out.join("\n")
}
