//! The `hub-server` binary: flags and logging only; everything else is in the library.

use std::io::IsTerminal;
use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use hub_server::config::{DatabaseUrl, ServerConfig, DEFAULT_BIND};
use hub_server::AppState;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

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
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "HUB_SERVER_BIND", default_value = DEFAULT_BIND)]
    bind: SocketAddr,
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
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServerConfig {
        bind: args.bind,
        database: args.database.resolve()?,
    };
    // Storage arrives with the sync issue; until then the URL is only validated and shown.
    tracing::info!(
        backend = config.database.backend(),
        database = %config.database,
        "database configured (no storage in use yet)"
    );
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!("listening on http://{addr}");
    hub_server::serve(listener, AppState::new()).await?;
    tracing::info!("stopped");
    Ok(())
}
