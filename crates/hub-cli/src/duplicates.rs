//! `hub duplicates`, `hub contact merge`, `hub company merge`, `hub merge ...`:
//! likely duplicates and merging them (docs/merge.md).

use anyhow::{bail, Context};
use clap::Subcommand;
use hub_core::contacts::ContactInput;
use hub_core::duplicates::{self, DuplicateMatch, RecordKind};
use hub_core::merge::{self, MergePreview, MergeRecord, Winner};
use hub_core::{companies, Store};
use uuid::Uuid;

use crate::output;

#[derive(clap::Args)]
pub struct DuplicatesArgs {
    /// Only contacts or only companies
    #[arg(long, value_parser = ["contact", "company"])]
    kind: Option<String>,
    /// Show at most this many pairs
    #[arg(long, default_value_t = 200)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The record that stays
    keep: String,
    /// The record merged into it (deleted afterwards; `hub merge undo` brings it back)
    other: String,
    /// Whose value a field takes: `--prefer title=other`, `--prefer email=keep`. By default
    /// the kept record's value, or the other's when the kept one is empty. Repeatable.
    #[arg(long = "prefer", value_name = "FIELD=keep|other")]
    prefer: Vec<String>,
    /// Show each field's two values and what would move; change nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum MergeCommand {
    /// Merges made on any device, newest first
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Undo a merge: both records and all their rows as they were before it
    Undo {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run_duplicates(store: &Store, args: DuplicatesArgs) -> anyhow::Result<()> {
    let mut scan = duplicates::scan(store).await?;
    let kind = match args.kind.as_deref() {
        Some("company") => Some(RecordKind::Company),
        Some(_) => Some(RecordKind::Contact),
        None => None,
    };
    scan.keep(kind, args.limit);
    let total = scan.total as usize;
    output::print(args.json, &scan, || {
        if scan.pairs.is_empty() {
            return format!(
                "No likely duplicates among {} contacts and {} companies.",
                scan.contacts_scanned, scan.companies_scanned
            );
        }
        let rows = scan
            .pairs
            .iter()
            .map(|p| {
                vec![
                    p.kind.as_str().to_owned(),
                    format!("{} ({})", p.a.name, p.a.id),
                    format!("{} ({})", p.b.name, p.b.id),
                    p.reasons
                        .iter()
                        .map(|r| r.describe())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        let mut text = output::table(&["KIND", "KEEP", "OTHER", "WHY"], rows);
        if total > scan.pairs.len() {
            text.push_str(&format!("\n… {} more (--limit)", total - scan.pairs.len()));
        }
        text.push_str(
            "\nMerge one: hub contact merge KEEP OTHER (hub company merge for companies)",
        );
        text
    })
}

fn parse_prefer(list: &[String]) -> anyhow::Result<Vec<(String, Winner)>> {
    list.iter()
        .map(|p| {
            let Some((field, side)) = p.split_once('=') else {
                bail!("--prefer takes FIELD=keep or FIELD=other, not \"{p}\"");
            };
            let winner = match side.trim().to_lowercase().as_str() {
                "other" => Winner::Other,
                "keep" => Winner::Keep,
                _ => bail!("--prefer {field}=… takes keep or other, not \"{side}\""),
            };
            Ok((field.trim().to_owned(), winner))
        })
        .collect()
}

/// A company given by id or exact name.
async fn record_id(store: &Store, kind: RecordKind, text: &str) -> anyhow::Result<Uuid> {
    match (kind, Uuid::parse_str(text.trim())) {
        (_, Ok(id)) => Ok(id),
        (RecordKind::Company, Err(_)) => Ok(companies::find(store, text).await?.id),
        (RecordKind::Contact, Err(_)) => bail!("\"{text}\" is not a contact id"),
    }
}

fn show_preview(p: &MergePreview) -> String {
    let rows = p
        .fields
        .iter()
        .filter(|f| f.keep.is_some() || f.other.is_some())
        .map(|f| {
            let mark = |w: Winner| if f.winner == w { "*" } else { " " };
            vec![
                f.field.clone(),
                format!("{}{}", mark(Winner::Keep), f.keep.as_deref().unwrap_or("—")),
                format!(
                    "{}{}",
                    mark(Winner::Other),
                    f.other.as_deref().unwrap_or("—")
                ),
            ]
        })
        .collect();
    let mut text = format!(
        "Merge \"{}\" into \"{}\" (* = the value kept)\n{}",
        p.other_name,
        p.keep_name,
        output::table(&["FIELD", "KEEP", "OTHER"], rows)
    );
    if p.moves.is_empty() {
        text.push_str("\nNothing else moves.");
    } else {
        let moves: Vec<String> = p
            .moves
            .iter()
            .map(|m| format!("{} {}", m.count, m.what))
            .collect();
        text.push_str(&format!("\nMoves to the kept record: {}", moves.join(", ")));
    }
    text
}

fn show_record(m: &MergeRecord) -> String {
    let moved: Vec<String> = m
        .moved
        .iter()
        .map(|x| format!("{} {}", x.count, x.what))
        .collect();
    let taken: Vec<&str> = m
        .choices
        .iter()
        .filter(|(_, w)| **w == Winner::Other)
        .map(|(f, _)| f.as_str())
        .collect();
    format!(
        "Merged {} \"{}\" into \"{}\" ({}).\nTook from the other: {}\nMoved: {}\nUndo: hub merge undo {}",
        m.kind.as_str(),
        m.loser_name,
        m.survivor_name,
        m.survivor_id,
        if taken.is_empty() { "nothing".into() } else { taken.join(", ") },
        if moved.is_empty() { "nothing".into() } else { moved.join(", ") },
        m.id
    )
}

/// `hub contact merge` and `hub company merge`.
pub async fn run_merge(store: &Store, kind: RecordKind, args: MergeArgs) -> anyhow::Result<()> {
    let prefer = parse_prefer(&args.prefer)?;
    let keep = record_id(store, kind, &args.keep).await?;
    let other = record_id(store, kind, &args.other).await?;
    if args.dry_run {
        let p = merge::preview(store, kind, keep, other, &prefer).await?;
        return output::print(args.json, &p, || show_preview(&p));
    }
    let m = merge::merge(store, kind, keep, other, &prefer).await?;
    output::print(args.json, &m, || show_record(&m))
}

pub async fn run(store: &Store, cmd: MergeCommand) -> anyhow::Result<()> {
    match cmd {
        MergeCommand::List { limit, json } => {
            let list = merge::list(store, limit).await?;
            output::print(json, &list, || {
                if list.is_empty() {
                    return "No merges yet.".into();
                }
                let rows = list
                    .iter()
                    .map(|m| {
                        vec![
                            m.id.to_string(),
                            m.merged_at
                                .chars()
                                .take(16)
                                .collect::<String>()
                                .replace('T', " "),
                            m.kind.as_str().to_owned(),
                            format!("{} → {}", m.loser_name, m.survivor_name),
                            m.merged_by.clone(),
                            match &m.undone_at {
                                Some(at) => format!(
                                    "undone {}",
                                    at.chars().take(16).collect::<String>().replace('T', " ")
                                ),
                                None => "merged".into(),
                            },
                        ]
                    })
                    .collect();
                output::table(&["ID", "WHEN", "KIND", "MERGED", "BY", "STATUS"], rows)
            })
        }
        MergeCommand::Undo { id, json } => {
            let report = merge::undo(store, id).await?;
            output::print(json, &report, || {
                let mut text = format!(
                    "Undone: \"{}\" and \"{}\" are separate again ({} rows put back).",
                    report.merge.loser_name, report.merge.survivor_name, report.restored
                );
                if !report.kept.is_empty() {
                    text.push_str(&format!(
                        "\nEdited since the merge, left as they are: {}",
                        report.kept.join("; ")
                    ));
                }
                text
            })
        }
    }
}

/// Before `hub contact add` saves: refuse when the email or phone is already
/// on a contact, unless `allow` (`--allow-duplicate`).
pub async fn check_new_contact(
    store: &Store,
    input: &ContactInput,
    allow: bool,
) -> anyhow::Result<()> {
    if allow {
        return Ok(());
    }
    let matches = duplicates::matching_contacts(store, input, None)
        .await
        .context("checking for duplicates")?;
    if matches.is_empty() {
        return Ok(());
    }
    bail!(
        "this looks like a contact you already have:\n{}\nNot saved. Use --allow-duplicate to save it anyway, or merge later with `hub contact merge`.",
        describe_matches(&matches)
    )
}

fn describe_matches(matches: &[DuplicateMatch]) -> String {
    matches
        .iter()
        .map(|m| {
            let reasons: Vec<String> = m.reasons.iter().map(|r| r.describe()).collect();
            let company = m
                .company_name
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            format!(
                "  {} ({}{company}): {}",
                m.display_name,
                m.id,
                reasons.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
