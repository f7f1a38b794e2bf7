//! The `hub-server` binary: flags and logging only; everything else is in the library.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use hub_server::accounts::{self, PasswordSetup};
use hub_server::auth::Password;
use hub_server::config::{DatabaseUrl, ServerConfig, DEFAULT_BIND};
use hub_server::{AppState, Database, Passwords};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use uuid::Uuid;

/// Customer Hub sync service.
#[derive(Debug, Parser)]
#[command(name = "hub-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Manage workspaces (one per business).
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage the users of a workspace.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and its owner; prints the workspace id and its event write key.
    ///
    /// Without --password-stdin the owner gets a one-time password-setup secret (valid 7
    /// days) to trade for a password at POST /v1/auth/setup.
    Create {
        /// Display name of the workspace (the business).
        name: String,
        /// Email of the first user, who signs in with it.
        #[arg(long)]
        owner_email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user to a workspace (email unique per workspace, case-insensitively).
    ///
    /// Without --password-stdin prints a one-time password-setup secret (valid 7 days).
    Add {
        /// Workspace id, as printed by `workspace create`.
        workspace: Uuid,
        /// The user's email.
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
struct PasswordArgs {
    /// Read the password from the first line of standard input (never from a flag, which
    /// would show in `ps` and shell history).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(&self) -> anyhow::Result<Option<Password>> {
        if !self.password_stdin {
            return Ok(None);
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        Ok(Some(Password::parse(password)?))
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "HUB_SERVER_BIND", default_value = DEFAULT_BIND)]
    bind: SocketAddr,
    /// Collected events per second each workspace may send (Segment API); over it a
    /// request is answered 429 with Retry-After. Bursts of one second's worth; 0 = no limit.
    #[arg(long, env = "HUB_SERVER_EVENT_RATE", default_value_t = hub_server::events_api::DEFAULT_EVENT_RATE)]
    event_rate: u32,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// Shared by every subcommand that opens the database.
#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Database URL: sqlite://PATH (default: <data dir>/customer-hub/hub-server.db),
    /// sqlite::memory:, or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, env = "HUB_SERVER_DATABASE_URL", hide_env_values = true)]
    database_url: Option<DatabaseUrl>,
}

impl DatabaseArgs {
    fn resolve(self) -> anyhow::Result<DatabaseUrl> {
        match self.database_url {
            Some(url) => Ok(url),
            None => Ok(DatabaseUrl::default_sqlite()?),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("hub_server=info,tower_http=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Workspace(WorkspaceCommand::Create {
            name,
            owner_email,
            password,
            json,
            database,
        }) => {
            let password = password.read()?;
            let db = open(database).await?;
            let created = accounts::create_workspace(
                &db,
                &Passwords::recommended(),
                &name,
                &owner_email,
                password,
            )
            .await;
            db.close().await;
            let created = created?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("workspace id: {}", created.workspace_id);
                println!("write key:    {}", created.write_key);
                println!("owner id:     {}", created.owner_user_id);
                print_setup(created.password_setup.as_ref());
            }
            Ok(())
        }
        Command::User(UserCommand::Add {
            workspace,
            email,
            password,
            json,
            database,
        }) => {
            let password = password.read()?;
            let db = open(database).await?;
            let created =
                accounts::add_user(&db, &Passwords::recommended(), workspace, &email, password)
                    .await;
            db.close().await;
            let created = created?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("user id:      {}", created.user_id);
                print_setup(created.password_setup.as_ref());
            }
            Ok(())
        }
    }
}

fn print_setup(setup: Option<&PasswordSetup>) {
    if let Some(setup) = setup {
        println!(
            "password setup secret (shown once, valid until {}):",
            setup.expires_at.to_rfc3339()
        );
        println!("  {}", setup.secret);
        println!(
            "  the user sets a password with POST /v1/auth/setup {{\"secret\", \"password\"}}"
        );
    }
}

async fn open(database: DatabaseArgs) -> anyhow::Result<Database> {
    let url = database.resolve()?;
    Database::open(&url)
        .await
        .with_context(|| format!("cannot open the database {url}"))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let event_rate = args.event_rate;
    let config = ServerConfig {
        bind: args.bind,
        database: args.database.resolve()?,
    };
    tracing::info!(
        backend = config.database.backend(),
        database = %config.database,
        "database configured"
    );
    // Bind first: a busy port is reported before a slow or unreachable database.
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let db = Database::open(&config.database)
        .await
        .with_context(|| format!("cannot open the database {}", config.database))?;
    tracing::info!("database ready (migrations applied)");
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    tracing::info!(event_rate, "events per second per workspace (0 = no limit)");
    hub_server::serve(
        listener,
        AppState::new(db.clone()).with_event_rate(event_rate),
    )
    .await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
