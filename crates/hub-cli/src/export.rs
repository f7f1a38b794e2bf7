//! `hub export csv|vcard|ics|json ...`: a list or saved view as CSV,
//! contacts as vCard 4.0, open reminders and follow-ups as iCalendar, the
//! whole database as JSON. The export goes to stdout, or with `--out FILE` to that file,
//! written next to it first and renamed into place when complete, so a
//! failed export never leaves half a file (nor replaces a good one).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use hub_core::export::{
    self, CsvOptions, CsvSummary, ExportFile, JsonOptions, JsonSummary, ListEntity,
};
use hub_core::filters::{self, Filter, Sort};
use hub_core::ical::{self, IcsOptions, IcsSummary};
use hub_core::reminders;
use hub_core::vcard::{self, Selection};
use hub_core::Store;
use uuid::Uuid;

use crate::output;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// A list or saved view as CSV: every field, custom fields, tags, linked names.
    /// `hub export csv --view "Hot leads" --out hot.csv`, `hub export csv --entity deals --filter status=open`
    Csv {
        /// A saved view: its entity, filter and sort
        #[arg(long, value_name = "NAME", conflicts_with_all = ["entity", "filters", "sort"])]
        view: Option<String>,
        /// contacts, companies, deals, tickets or reminders
        #[arg(long, default_value = "contacts")]
        entity: String,
        /// As in `hub view run`: FIELD=VALUE, FIELD~TEXT, FIELD>VALUE, tag=NAME, ... (repeatable, all must hold)
        #[arg(long = "filter", value_name = "CONDITION")]
        filters: Vec<String>,
        /// FIELD, -FIELD or FIELD:desc
        #[arg(long, value_name = "FIELD", allow_hyphen_values = true)]
        sort: Option<String>,
        /// Start with a UTF-8 byte order mark so Microsoft Excel reads accents right
        #[arg(long)]
        excel: bool,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Contacts as vCard 4.0 (RFC 6350): all, a saved view of contacts, or some by id
    Vcard {
        /// A saved view of contacts, in its order
        #[arg(long, value_name = "NAME", conflicts_with = "ids")]
        view: Option<String>,
        /// Only this contact; repeatable
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<Uuid>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Open reminders and stay-in-touch follow-ups as iCalendar (RFC 5545), for calendar apps
    Ics {
        /// Only reminders assigned to this user (`me`: you)
        #[arg(long)]
        assignee: Option<String>,
        /// Leave the stay-in-touch follow-ups out
        #[arg(long)]
        no_follow_ups: bool,
        /// IANA zone of the follow-ups [default: this computer's]
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// The whole database as JSON: every record that is not in the trash, all fields,
    /// in a stable order (two exports of the same data are identical)
    Json {
        /// Leave this entity out (e.g. import, import_batch); repeatable
        #[arg(long, value_name = "ENTITY")]
        exclude: Vec<String>,
        #[command(flatten)]
        out: OutArgs,
    },
}

#[derive(clap::Args)]
pub struct OutArgs {
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: print what was written as JSON
    #[arg(long, requires = "out")]
    json: bool,
}

/// One export, checked and ready to write.
enum Job {
    CsvView(String, CsvOptions),
    Csv(ListEntity, Filter, Option<Sort>, CsvOptions),
    Json(JsonOptions),
    Vcard(Selection),
    Ics(IcsOptions),
}

enum Summary {
    Csv(CsvSummary),
    Json(JsonSummary),
    Vcard(u64),
    Ics(IcsSummary),
}

impl Job {
    async fn write(&self, store: &Store, w: &mut dyn Write) -> hub_core::Result<Summary> {
        Ok(match self {
            Job::CsvView(name, options) => {
                Summary::Csv(export::csv_view(store, name, *options, w).await?)
            }
            Job::Csv(entity, filter, sort, options) => {
                Summary::Csv(export::csv(store, *entity, filter, sort.as_ref(), *options, w).await?)
            }
            Job::Json(options) => Summary::Json(export::json_with(store, options, w).await?),
            Job::Vcard(selection) => Summary::Vcard(vcard::export(store, selection, w).await?),
            Job::Ics(options) => Summary::Ics(ical::export(store, options, w).await?),
        })
    }
}

pub async fn run(store: &Store, cmd: ExportCommand) -> anyhow::Result<()> {
    // Everything the user typed is checked before any file is made.
    let (job, out) = match cmd {
        ExportCommand::Csv {
            view,
            entity,
            filters: conditions,
            sort,
            excel,
            out,
        } => {
            let options = CsvOptions { excel };
            let job = match view {
                Some(name) => Job::CsvView(name, options),
                None => Job::Csv(
                    ListEntity::parse(&entity)?,
                    filters::parse_filter(&conditions)?,
                    sort.as_deref().map(Sort::parse).transpose()?,
                    options,
                ),
            };
            (job, out)
        }
        ExportCommand::Json { exclude, out } => (Job::Json(JsonOptions { exclude }), out),
        ExportCommand::Vcard { view, ids, out } => {
            let selection = match view {
                Some(name) => Selection::View(name),
                None if !ids.is_empty() => Selection::Ids(ids),
                None => Selection::All,
            };
            (Job::Vcard(selection), out)
        }
        ExportCommand::Ics {
            assignee,
            no_follow_ups,
            tz,
            out,
        } => {
            let zone = tz.unwrap_or_else(reminders::local_zone);
            let follow_up_tz =
                reminders::parse_zone(&zone).map_err(|e| hub_core::Error::Validation(vec![e]))?;
            let assignee = match assignee.as_deref().map(str::trim) {
                Some("me") => Some(hub_core::users::current(store).await?),
                other => other.map(str::to_owned),
            };
            let options = IcsOptions {
                assignee,
                follow_ups: !no_follow_ups,
                follow_up_tz,
                now: chrono::Utc::now(),
            };
            (Job::Ics(options), out)
        }
    };
    let Some(path) = &out.out else {
        let stdout = std::io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        job.write(store, &mut w).await?;
        w.flush()?;
        return Ok(());
    };
    let summary = write_file(store, &job, path).await?;
    match summary {
        Summary::Csv(summary) => output::print(out.json, &summary, || {
            let what = match &summary.view {
                Some(v) => format!("the view \"{v}\" ({})", summary.entity),
                None => summary.entity.clone(),
            };
            format!(
                "Exported {} rows of {what}, {} columns, to {}.",
                summary.rows,
                summary.columns.len(),
                path.display()
            )
        }),
        Summary::Vcard(cards) => output::print(
            out.json,
            &serde_json::json!({ "cards": cards, "out": path }),
            || {
                format!(
                    "Exported {cards} contacts as vCard 4.0 to {}.",
                    path.display()
                )
            },
        ),
        Summary::Ics(summary) => output::print(out.json, &summary, || {
            format!(
                "Exported {} open reminders and {} follow-ups to {}.",
                summary.reminders,
                summary.follow_ups,
                path.display()
            )
        }),
        Summary::Json(summary) => output::print(out.json, &summary, || {
            let kinds = summary.entities.iter().filter(|e| e.records > 0).count();
            format!(
                "Exported {} records of {kinds} kinds ({} bytes) to {}.",
                summary.records,
                summary.bytes,
                path.display()
            )
        }),
    }
}

/// Write the export to a new file beside `path` and rename it into place
/// once complete; on any error the partial file is removed.
async fn write_file(store: &Store, job: &Job, path: &Path) -> anyhow::Result<Summary> {
    let mut file = ExportFile::create(path)?;
    let summary = job.write(store, &mut file).await?;
    file.commit()?;
    Ok(summary)
}
