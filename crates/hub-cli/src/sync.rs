//! `hub login`, `hub logout`, `hub sync [status]` and `hub devices ...`: this
//! database and the team's sync server (docs/sync.md). The device token is
//! kept with `hub_core::credentials`, never printed.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use hub_core::credentials::{self, find_token, TokenKey, TokenStore};
use hub_core::sync::{self, Account, HttpTransport, Phase, Progress, SyncError};
use hub_core::Store;
use uuid::Uuid;

use crate::output;

/// Message of every command that needs a token this device does not have.
pub const NOT_SIGNED_IN: &str = "not signed in on this device; run hub login";

#[derive(Args)]
pub struct LoginArgs {
    /// The sync server, e.g. https://hub.example.com
    #[arg(long, value_name = "URL")]
    server: String,
    #[arg(long)]
    email: String,
    /// Read the password from the first line of stdin (required when stdin is not a terminal)
    #[arg(long)]
    password_stdin: bool,
    /// How this device is listed in `hub devices list` [default: the host name]
    #[arg(long, value_name = "NAME")]
    device_name: Option<String>,
    /// The workspace to join, when the email has an account in several
    #[arg(long, value_name = "ID")]
    workspace: Option<Uuid>,
    /// Keep the token in a 0600 file in the config dir instead of the OS keyring
    /// (for machines without one)
    #[arg(long)]
    insecure_storage: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// The account, pending changes, conflicts and the last sync; works offline
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum DevicesCommand {
    /// The workspace's devices (this one marked)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device's token at once (it must sign in again to sync)
    Revoke {
        /// Device id (or a prefix of it that names one device)
        id: String,
    },
}

pub async fn login(store: &Store, args: LoginArgs) -> anyhow::Result<()> {
    // Where the token will go, before anything reaches the server: without a
    // keyring (and no --insecure-storage) nothing is registered.
    let tokens = TokenStore::choose(args.insecure_storage)?;
    let password = read_password(&args)?;
    let device_name = args.device_name.clone().unwrap_or_else(host_name);
    let signed_in = sync::sign_in(
        store,
        &args.server,
        &args.email,
        &password,
        &device_name,
        args.workspace,
    )
    .await
    .map_err(login_error)?;
    let account = signed_in.account;
    let key = token_key(store, &account);
    if let Err(e) = tokens.save(&key, &signed_in.token) {
        // Unusable without its token: give it back and forget the account.
        if let Ok(t) = HttpTransport::new(&account.server, &signed_in.token) {
            let _ = t.revoke(store.device_id().0).await;
        }
        sync::sign_out(store).await?;
        return Err(
            anyhow!(e).context("signed in, but the token could not be kept; signed out again")
        );
    }
    if matches!(tokens, TokenStore::Keyring) {
        // `find_token` reads the file before the keyring: an older token
        // there (an earlier --insecure-storage sign-in) must not shadow this one.
        let _ = TokenStore::default_file().delete(&key);
    }
    output::print(args.json, &account, || {
        format!(
            "Signed in to {} as {} (workspace {}); token kept in {}",
            account.server,
            account.email,
            account.workspace_id,
            tokens.describe()
        )
    })
}

fn read_password(args: &LoginArgs) -> anyhow::Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {}: ", args.email.trim()))
            .context("cannot read the password")?
    } else {
        bail!("stdin is not a terminal: pass the password on stdin with --password-stdin");
    };
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password)
}

fn host_name() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_owned();
    if name.is_empty() {
        "hub CLI".to_owned()
    } else {
        name
    }
}

/// Sign-in failures in the words of someone signing in.
fn login_error(e: SyncError) -> anyhow::Error {
    match &e {
        SyncError::Refused { code, .. } if code == "wrong_password" => {
            anyhow!("wrong email or password")
        }
        SyncError::Refused { code, .. } if code == "workspace_required" => anyhow!(
            "this email has an account in several workspaces; choose one with --workspace ID"
        ),
        _ => anyhow!(e),
    }
}

fn token_key(store: &Store, account: &Account) -> TokenKey {
    TokenKey::new(account.server.clone(), store.device_id().0)
}

/// The signed-in account and this device's token (and where it came from).
async fn signed_in(store: &Store) -> anyhow::Result<(Account, String, &'static str)> {
    let Some(account) = sync::account(store).await? else {
        bail!(NOT_SIGNED_IN);
    };
    match find_token(&token_key(store, &account))? {
        Some((token, from)) => Ok((account, token, from)),
        None => bail!("{NOT_SIGNED_IN} (no token for this device in HUB_TOKEN, the token file or the OS keyring)"),
    }
}

pub async fn logout(store: &Store) -> anyhow::Result<()> {
    let Some(account) = sync::account(store).await? else {
        println!("This database is not signed in.");
        return Ok(());
    };
    let key = token_key(store, &account);
    let token = find_token(&key).unwrap_or(None);
    // Best effort: offline, the token is still deleted here.
    let revoked = match &token {
        Some((token, _)) => Some(match HttpTransport::new(&account.server, token) {
            Ok(t) => t.revoke(store.device_id().0).await,
            Err(e) => Err(e),
        }),
        None => None,
    };
    let mut kept_errors = Vec::new();
    if let Err(e) = TokenStore::default_file().delete(&key) {
        kept_errors.push(e);
    }
    if credentials::keyring_available().is_ok() {
        if let Err(e) = TokenStore::Keyring.delete(&key) {
            kept_errors.push(e);
        }
    }
    sync::sign_out(store).await?;
    println!(
        "Signed out of {}; this database keeps its data and syncs again after hub login.",
        account.server
    );
    match revoked {
        None => {}
        Some(Ok(())) => println!("This device's token was revoked on the server."),
        Some(Err(e @ (SyncError::Offline(_) | SyncError::Unavailable(_)))) => eprintln!(
            "note: the server could not be reached ({e}); the token was deleted here but not \
             revoked there (revoke it later with hub devices revoke {} from another device)",
            store.device_id().0
        ),
        Some(Err(e)) => eprintln!("note: the server did not revoke the token: {e}"),
    }
    for e in kept_errors {
        eprintln!("warning: {e}");
    }
    Ok(())
}

pub async fn run_sync(store: &Store, args: SyncArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SyncCommand::Status { json }) => status(store, json).await,
        None => sync_round(store, args.json).await,
    }
}

async fn sync_round(store: &Store, json: bool) -> anyhow::Result<()> {
    let (account, token, _) = signed_in(store).await?;
    let transport = HttpTransport::new(&account.server, &token)?;
    let show = std::io::stderr().is_terminal();
    let mut shown = false;
    let report = sync::sync_once(store, &transport, |p: Progress| {
        if show {
            shown = true;
            let what = match p.phase {
                Phase::Pushing => "sending",
                Phase::Snapshot => "receiving the workspace",
                Phase::Pulling => "receiving",
            };
            let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
            eprint!("\r\x1b[2K{what} {}{total}", p.done);
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    if shown {
        eprint!("\r\x1b[2K");
    }
    let report = report.map_err(|e| match e {
        SyncError::Unauthorized(_) => anyhow!("{e} with hub login"),
        e => anyhow!(e),
    })?;
    output::print(json, &report, || {
        let mut line = format!(
            "Synced with {}: {} sent, {} received, {} new conflict{}, {} rejected.",
            account.server,
            report.pushed,
            report.pulled + report.snapshot_rows,
            report.new_conflicts,
            if report.new_conflicts == 1 { "" } else { "s" },
            report.rejected
        );
        if report.new_conflicts > 0 {
            line.push_str(" See hub conflicts list.");
        }
        if report.rejected > 0 {
            line.push_str(" Rejected changes are kept locally (hub sync status).");
        }
        line
    })
}

async fn status(store: &Store, json: bool) -> anyhow::Result<()> {
    let status = sync::status(store).await?;
    output::print(json, &status, || {
        let mut lines = Vec::new();
        match &status.account {
            Some(a) => {
                lines.push(format!("Server:     {}", a.server));
                lines.push(format!(
                    "Account:    {} (workspace {})",
                    a.email, a.workspace_id
                ));
                lines.push(format!(
                    "Device:     {} ({})",
                    status.device_id, a.device_name
                ));
            }
            None => {
                lines.push("Not signed in (hub login).".to_owned());
                lines.push(format!("Device:     {}", status.device_id));
            }
        }
        lines.push(format!(
            "Pending:    {} change(s) not sent yet",
            status.pending
        ));
        if status.rejected > 0 {
            lines.push(format!(
                "Rejected:   {} change(s) the server refused",
                status.rejected
            ));
        }
        lines.push(format!(
            "Conflicts:  {} open{}",
            status.open_conflicts,
            if status.open_conflicts > 0 {
                " (hub conflicts list)"
            } else {
                ""
            }
        ));
        lines.push(format!(
            "Last sync:  {}",
            status.last_sync_at.as_deref().unwrap_or("never")
        ));
        if let Some(e) = &status.last_error {
            lines.push(format!("Last error: {e}"));
        }
        lines.join("\n")
    })
}

pub async fn devices(store: &Store, cmd: DevicesCommand) -> anyhow::Result<()> {
    let (account, token, _) = signed_in(store).await?;
    let transport = HttpTransport::new(&account.server, &token)?;
    match cmd {
        DevicesCommand::List { json } => {
            let list = transport.devices().await?;
            output::print(json, &list, || {
                let time = |t: chrono::DateTime<chrono::Utc>| {
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                };
                let rows = list
                    .devices
                    .iter()
                    .map(|d| {
                        let state = if d.revoked_at.is_some() {
                            "revoked"
                        } else if d.current {
                            "this device"
                        } else {
                            "active"
                        };
                        vec![
                            d.id.to_string(),
                            d.name.clone(),
                            state.to_owned(),
                            time(d.created_at),
                            d.last_seen_at.map(time).unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                output::table(&["ID", "NAME", "STATE", "ADDED", "LAST SEEN"], rows)
            })
        }
        DevicesCommand::Revoke { id } => {
            let list = transport.devices().await?;
            let id = id.trim().to_lowercase();
            let matches: Vec<_> = list
                .devices
                .iter()
                .filter(|d| d.id.to_string().starts_with(&id))
                .collect();
            let device = match matches.as_slice() {
                [one] => *one,
                [] => bail!("no device {id} in this workspace (hub devices list)"),
                _ => bail!("{id} names several devices; give more of the id"),
            };
            transport.revoke(device.id).await?;
            println!("Revoked {} ({}).", device.id, device.name);
            if device.current {
                println!("That was this device: it cannot sync until hub login.");
            }
            Ok(())
        }
    }
}

/// Exit status for an error: 3 when the sync server could not be reached or
/// is unavailable (worth retrying later), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<SyncError>() {
        Some(SyncError::Offline(_) | SyncError::Unavailable(_)) => 3,
        _ => 1,
    }
}
