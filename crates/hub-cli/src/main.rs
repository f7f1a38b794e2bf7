//! `hub`: the Customer Hub store from a terminal. Same database, same rules
//! and same write path as the desktop app; `--json` output is documented in
//! docs/cli.md and kept stable.

mod audience;
mod campaigns;
mod company;
mod conflicts;
mod consent;
mod contact;
mod deal;
mod duplicates;
mod events;
mod export;
mod field;
mod import;
mod log;
mod lookalike;
mod output;
mod pipeline;
mod privacy;
mod reminder;
mod segment;
mod sync;
mod tag;
mod ticket;
mod timeline;
mod today;
mod trash;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hub_core::{demo, Store};

#[derive(Parser)]
#[command(
    name = "hub",
    version,
    about = "Customer Hub from the terminal: contacts, companies, demo data and team sync"
)]
struct Cli {
    /// Database file [default: $HUB_DB, else ~/.local/share/customer-hub/hub.db]
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list, show, edit and delete contacts
    #[command(subcommand)]
    Contact(contact::ContactCommand),
    /// Add, list and show companies
    #[command(subcommand)]
    Company(company::CompanyCommand),
    /// Tags on contacts, companies and deals: add, list, colour, rename, merge
    #[command(subcommand)]
    Tag(tag::TagCommand),
    /// Custom fields on contacts, companies, deals and tickets: define, list, set
    #[command(subcommand)]
    Field(field::FieldCommand),
    /// Saved views: filtered, sorted lists of contacts, deals or tickets kept by name
    #[command(subcommand)]
    View(view::ViewCommand),
    /// Reminders: add, list, show, done, snooze, reopen, delete
    #[command(subcommand)]
    Reminder(reminder::ReminderCommand),
    /// Deals: add, list, show, move, won, lost, reopen, edit, delete, board
    #[command(subcommand)]
    Deal(deal::DealCommand),
    /// Pipelines and their stages: list, add, rename, delete, stage-add/edit/move/delete
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// The sales forecast per stage or month: totals and weighted totals, per currency and converted
    Forecast(deal::ForecastArgs),
    /// Exchange rates into the base currency: set, list, delete, base
    #[command(subcommand)]
    Rate(deal::RateCommand),
    /// Log a call, email, meeting or note on a contact, company or deal; show, edit, delete
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Support tickets: add, list, show, update, comment, delete
    #[command(subcommand)]
    Ticket(ticket::TicketCommand),
    /// Rule-based segments of contacts that update live and tag their members: create, list, show, members
    #[command(subcommand)]
    Segment(segment::SegmentCommand),
    /// Contacts outside a segment ranked by likeness to its members, with reasons; save the top as a segment
    Lookalike(lookalike::LookalikeArgs),
    /// Campaigns and attribution: the campaign report, first/last touch of a contact or deal
    #[command(subcommand)]
    Campaigns(campaigns::CampaignsCommand),
    /// A contact's, company's or deal's timeline, newest first
    Timeline(timeline::TimelineArgs),
    /// Stay in touch with a contact every N days; who is due for a follow-up
    #[command(subcommand)]
    StayInTouch(timeline::StayInTouchCommand),
    /// Today: overdue and due-today reminders, stale deals, stay-in-touch due, my open tickets
    Today(today::TodayArgs),
    /// Fill the database with realistic demo contacts and companies
    Demo(DemoArgs),
    /// Read or change settings
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Sign this database in to the team's sync server
    Login(sync::LoginArgs),
    /// Sign out: revoke and delete this device's token (the data stays)
    Logout,
    /// Send local changes and receive the team's (`hub sync status`: where things stand)
    Sync(sync::SyncArgs),
    /// List and restore values that lost a concurrent edit
    #[command(subcommand)]
    Conflicts(conflicts::ConflictsCommand),
    /// Deleted records: list them, put them back
    #[command(subcommand)]
    Trash(trash::TrashCommand),
    /// Export a list or saved view as CSV, contacts as vCard, reminders as iCalendar, everything as JSON
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Likely duplicate contacts and companies (same email, phone or domain; similar names)
    Duplicates(duplicates::DuplicatesArgs),
    /// Merges of duplicates: list them, undo one
    #[command(subcommand)]
    Merge(duplicates::MergeCommand),
    /// Import CSV (HubSpot, Pipedrive, Salesforce, Zoho, Google, Outlook, any sheet) or vCard files; list and revert imports
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// The workspace's devices on the sync server
    #[command(subcommand)]
    Devices(sync::DevicesCommand),
    /// Behavioural events: import a Segment JSON-lines file, status
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Identity resolution: warnings (profiles not merged automatically), a contact's identifiers
    #[command(subcommand)]
    Identity(events::IdentityCommand),
    /// Consent per purpose (email marketing, advertising, analytics, sale): record, show
    #[command(subcommand)]
    Consent(consent::ConsentCommand),
    /// Erase a contact for good; subject-access export of everything about them
    #[command(subcommand)]
    Privacy(privacy::PrivacyCommand),
    /// Retention of anonymous behavioural data: run the purge, show or set the period
    #[command(subcommand)]
    Retention(privacy::RetentionCommand),
    /// Audiences: export a segment to Meta, Google Ads or an email tool (consent-gated,
    /// hashed); history; removal lists of erased people
    #[command(subcommand)]
    Audience(audience::AudienceCommand),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// How many contacts to generate (about one company per eight)
    #[arg(long, default_value_t = 2000)]
    contacts: usize,
    /// Random seed, for reproducible data
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Only generate when the database has no contacts yet
    #[arg(long)]
    if_empty: bool,
    /// Remove the demo data instead
    #[arg(long, conflicts_with_all = ["if_empty"])]
    clear: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a setting (default_region)
    Get { key: String },
    /// Change a setting: `hub config set default_region GB`
    Set { key: String, value: String },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(sync::exit_code(&err))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let path = cli.db.unwrap_or_else(Store::default_path);
    let store = Store::open(&path).await?;
    let result = match cli.command {
        Command::Contact(cmd) => contact::run(&store, cmd).await,
        Command::Company(cmd) => company::run(&store, cmd).await,
        Command::Tag(cmd) => tag::run(&store, cmd).await,
        Command::Consent(cmd) => consent::run(&store, cmd).await,
        Command::Privacy(cmd) => privacy::run(&store, cmd).await,
        Command::Retention(cmd) => privacy::run_retention(&store, cmd).await,
        Command::Audience(cmd) => audience::run(&store, cmd).await,
        Command::Field(cmd) => field::run(&store, cmd).await,
        Command::View(cmd) => view::run(&store, cmd).await,
        Command::Reminder(cmd) => reminder::run(&store, cmd).await,
        Command::Deal(cmd) => deal::run(&store, cmd).await,
        Command::Pipeline(cmd) => pipeline::run(&store, cmd).await,
        Command::Forecast(args) => deal::run_forecast(&store, args).await,
        Command::Rate(cmd) => deal::run_rate(&store, cmd).await,
        Command::Log(cmd) => log::run(&store, cmd).await,
        Command::Ticket(cmd) => ticket::run(&store, cmd).await,
        Command::Segment(cmd) => segment::run(&store, cmd).await,
        Command::Lookalike(args) => lookalike::run(&store, args).await,
        Command::Campaigns(cmd) => campaigns::run(&store, cmd).await,
        Command::Timeline(args) => timeline::run_timeline(&store, args).await,
        Command::StayInTouch(cmd) => timeline::run_stay_in_touch(&store, cmd).await,
        Command::Today(args) => today::run(&store, args).await,
        Command::Demo(args) => run_demo(&store, args).await,
        Command::Config(cmd) => run_config(&store, cmd).await,
        Command::Login(args) => sync::login(&store, args).await,
        Command::Logout => sync::logout(&store).await,
        Command::Sync(args) => sync::run_sync(&store, args).await,
        Command::Conflicts(cmd) => conflicts::run(&store, cmd).await,
        Command::Trash(cmd) => trash::run(&store, cmd).await,
        Command::Export(cmd) => export::run(&store, cmd).await,
        Command::Duplicates(args) => duplicates::run_duplicates(&store, args).await,
        Command::Merge(cmd) => duplicates::run(&store, cmd).await,
        Command::Import(cmd) => import::run(&store, cmd).await,
        Command::Devices(cmd) => sync::devices(&store, cmd).await,
        Command::Events(cmd) => events::run(&store, cmd).await,
        Command::Identity(cmd) => events::run_identity(&store, cmd).await,
    };
    // What the command wrote moves contacts in and out of segments now, as in the app
    // (docs/segments.md); a read when nothing is queued or due.
    if result.is_ok() {
        if let Err(err) = hub_core::segments::refresh(&store, chrono::Utc::now()).await {
            eprintln!("warning: segments were not refreshed: {err}");
        }
    }
    store.close().await;
    result
}

async fn run_demo(store: &Store, args: DemoArgs) -> anyhow::Result<()> {
    if args.clear {
        let removed = demo::clear(store).await?;
        return output::print(
            args.json,
            &serde_json::json!({ "removed_contacts": removed }),
            || format!("Removed {removed} demo contacts."),
        );
    }
    // A database that syncs with a team never gets demo data (see demo::generate).
    if args.if_empty
        && (hub_core::contacts::count(store).await? > 0 || hub_core::sync::is_bound(store).await?)
    {
        return output::print(
            args.json,
            &serde_json::json!({ "contacts": 0, "companies": 0, "skipped": true }),
            || "The database already has contacts; no demo data added.".into(),
        );
    }
    let options = demo::DemoOptions {
        contacts: args.contacts,
        seed: args.seed,
    };
    let total = args.contacts;
    let report = demo::generate_with_progress(store, options, |done| {
        if total >= 20_000 {
            eprint!("\r{done}/{total} contacts");
        }
    })
    .await?;
    if total >= 20_000 {
        eprintln!();
    }
    output::print(args.json, &report, || {
        format!(
            "Added {} demo contacts at {} companies.",
            report.contacts, report.companies
        )
    })
}

async fn run_config(store: &Store, cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Get { key } if key == "default_region" => {
            println!("{}", store.default_region().code());
            Ok(())
        }
        ConfigCommand::Set { key, value } if key == "default_region" => {
            let region = store.set_default_region(&value).await?;
            println!("default_region = {}", region.code());
            Ok(())
        }
        ConfigCommand::Get { key } | ConfigCommand::Set { key, .. } => {
            anyhow::bail!("unknown setting {key:?}; known settings: default_region")
        }
    }
}
