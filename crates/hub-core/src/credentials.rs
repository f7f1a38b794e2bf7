//! Where a device's sync token is kept.
//!
//! A device that signs in to the team's sync server receives a secret device
//! token. It is kept, in order of preference:
//!
//! - in the **OS keyring** ([`TokenStore::Keyring`]): the macOS Keychain, the
//!   Windows Credential Manager, or the Secret Service (GNOME Keyring, KWallet)
//!   on Linux and the BSDs — service `customer-hub`, user `<device>@<server>`;
//! - in a **file** ([`TokenStore::File`]) when the user asked for
//!   `--insecure-storage` (a headless machine has no keyring): `tokens.json` in
//!   the config dir, mode 0600 in a 0700 dir, replaced atomically on each write;
//! - in **memory** ([`TokenStore::Memory`]), for tests.
//!
//! `HUB_TOKEN` ([`token_from_env`]) overrides every store, for scripts.
//!
//! A token is never logged or shown: no error message holds one, and the
//! `Debug` of [`TokenStore`] redacts the tokens it holds.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use uuid::Uuid;

/// The keyring service name every token is stored under.
pub const KEYRING_SERVICE: &str = "customer-hub";
/// The keyring user of the entry [`keyring_available`] writes and deletes.
pub const PROBE_USER: &str = "probe";
/// The name of the insecure-storage file inside the config dir.
pub const TOKENS_FILE: &str = "tokens.json";
/// Environment variable whose (non-empty) value overrides every store.
pub const TOKEN_ENV: &str = "HUB_TOKEN";
/// Environment variable that overrides the default config dir.
pub const CONFIG_DIR_ENV: &str = "HUB_CONFIG_DIR";
/// How long [`keyring_available`] waits for the keyring service to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Identifies one token: the sync server's base URL and this store's device id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    pub server: String,
    pub device: Uuid,
}

impl TokenKey {
    pub fn new(server: impl Into<String>, device: Uuid) -> Self {
        TokenKey {
            server: server.into(),
            device,
        }
    }

    /// The keyring user and the key in `tokens.json`: `<device>@<server>`.
    /// A trailing `/` of the server URL is ignored, so `https://sync.example/`
    /// and `https://sync.example` name the same token.
    pub fn account(&self) -> String {
        format!("{}@{}", self.device, self.server.trim_end_matches('/'))
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.account())
    }
}

/// Why a token could not be loaded, saved or deleted. Messages are written for
/// the person at the keyboard, and never contain a token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No usable keyring service here (headless machine, no D-Bus session, no
    /// Secret Service running, ...).
    #[error(
        "no keyring service is available here ({reason}); \
         use --insecure-storage to keep the token in a 0600 file"
    )]
    Unavailable { reason: String },

    /// Reading or writing the insecure-storage file or its dir failed.
    #[error("cannot use the token file {}: {message}", .path.display())]
    Io { path: PathBuf, message: String },

    /// `tokens.json` exists but is not what this program writes. It is left
    /// as it is; the user has to fix or remove it.
    #[error(
        "the token file {} is damaged ({message}); it was left untouched: \
         fix it, or remove it and sign in again",
        .path.display()
    )]
    Corrupt { path: PathBuf, message: String },

    /// The keyring service answered, but with an error.
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
}

impl CredentialError {
    /// A stable code for JSON output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Unavailable { .. } => "keyring_unavailable",
            CredentialError::Io { .. } => "io",
            CredentialError::Corrupt { .. } => "corrupt",
            CredentialError::Keyring(_) => "keyring",
        }
    }
}

/// Where tokens are kept. Clones share the same backing (the same keyring, the
/// same file, the same in-memory map).
#[derive(Clone)]
pub enum TokenStore {
    /// The OS keyring, service [`KEYRING_SERVICE`], user [`TokenKey::account`].
    Keyring,
    /// The insecure fallback: the config dir holding [`TOKENS_FILE`].
    File(PathBuf),
    /// An in-memory map from [`TokenKey::account`] to token, for tests.
    Memory(Arc<Mutex<HashMap<String, String>>>),
}

impl fmt::Debug for TokenStore {
    // Hand-written so the tokens of a Memory store are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenStore::Keyring => f.write_str("Keyring"),
            TokenStore::File(dir) => f.debug_tuple("File").field(dir).finish(),
            TokenStore::Memory(map) => {
                let map = map.lock().unwrap_or_else(PoisonError::into_inner);
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                f.debug_struct("Memory")
                    .field("accounts", &keys)
                    .field("tokens", &"<redacted>")
                    .finish()
            }
        }
    }
}

impl TokenStore {
    /// An empty in-memory store.
    pub fn memory() -> Self {
        TokenStore::Memory(Arc::default())
    }

    /// The insecure file store in [`default_config_dir`].
    pub fn default_file() -> Self {
        TokenStore::File(default_config_dir())
    }

    /// The store a sign-in should use: the file store in the default config
    /// dir with `insecure_storage`, else the OS keyring if
    /// [`keyring_available`], else [`CredentialError::Unavailable`].
    pub fn choose(insecure_storage: bool) -> Result<Self, CredentialError> {
        if insecure_storage {
            return Ok(Self::default_file());
        }
        keyring_available()?;
        Ok(TokenStore::Keyring)
    }

    /// For messages: "OS keyring", "file (insecure)" or "memory".
    pub fn describe(&self) -> &'static str {
        match self {
            TokenStore::Keyring => "OS keyring",
            TokenStore::File(_) => "file (insecure)",
            TokenStore::Memory(_) => "memory",
        }
    }

    /// The token file of a [`TokenStore::File`] store.
    pub fn file_path(&self) -> Option<PathBuf> {
        match self {
            TokenStore::File(dir) => Some(dir.join(TOKENS_FILE)),
            _ => None,
        }
    }

    /// The token kept for `key`, if any.
    pub fn load(&self, key: &TokenKey) -> Result<Option<String>, CredentialError> {
        match self {
            TokenStore::Keyring => match keyring_entry(key)?.get_password() {
                Ok(token) => Ok(Some(token)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(from_keyring(e)),
            },
            TokenStore::File(dir) => {
                let path = dir.join(TOKENS_FILE);
                Ok(read_tokens(&path)?.remove(&key.account()))
            }
            TokenStore::Memory(map) => Ok(lock(map).get(&key.account()).cloned()),
        }
    }

    /// Keep `token` for `key`, replacing any token it had. Other keys' tokens
    /// are kept.
    pub fn save(&self, key: &TokenKey, token: &str) -> Result<(), CredentialError> {
        match self {
            TokenStore::Keyring => keyring_entry(key)?
                .set_password(token)
                .map_err(from_keyring),
            TokenStore::File(dir) => {
                let path = dir.join(TOKENS_FILE);
                // Read first: a damaged file is reported, never overwritten.
                let mut tokens = read_tokens(&path)?;
                tokens.insert(key.account(), token.to_owned());
                create_private_dir(dir)?;
                write_tokens(dir, &path, &tokens)
            }
            TokenStore::Memory(map) => {
                lock(map).insert(key.account(), token.to_owned());
                Ok(())
            }
        }
    }

    /// Forget the token for `key`. `false` if there was none.
    pub fn delete(&self, key: &TokenKey) -> Result<bool, CredentialError> {
        match self {
            TokenStore::Keyring => match keyring_entry(key)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(from_keyring(e)),
            },
            TokenStore::File(dir) => {
                let path = dir.join(TOKENS_FILE);
                let mut tokens = read_tokens(&path)?;
                if tokens.remove(&key.account()).is_none() {
                    return Ok(false);
                }
                write_tokens(dir, &path, &tokens)?;
                Ok(true)
            }
            TokenStore::Memory(map) => Ok(lock(map).remove(&key.account()).is_some()),
        }
    }
}

/// `HUB_TOKEN`, when set and not blank (surrounding whitespace removed). It
/// overrides every store, so scripts and CI can sync without signing in.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The token to sync with for `key`, and where it came from: [`TOKEN_ENV`]
/// first (its name is the source), then the default file store if it has
/// the key ([`TokenStore::describe`] of it), then the OS keyring if one
/// answers. A missing or unreachable keyring is "no token", not an error;
/// a damaged token file or a keyring that answers with an error is one.
pub fn find_token(key: &TokenKey) -> Result<Option<(String, &'static str)>, CredentialError> {
    if let Some(token) = token_from_env() {
        return Ok(Some((token, TOKEN_ENV)));
    }
    let file = TokenStore::default_file();
    if let Some(token) = file.load(key)? {
        return Ok(Some((token, file.describe())));
    }
    // Read the keyring on its own thread: a Secret Service that hangs must
    // not hang the caller (see `keyring_available_within`).
    let (tx, rx) = mpsc::channel();
    let wanted = key.clone();
    let spawned = thread::Builder::new()
        .name("keyring-load".into())
        .spawn(move || {
            let _ = tx.send(TokenStore::Keyring.load(&wanted));
        });
    if spawned.is_err() {
        return Ok(None);
    }
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(Some(token))) => Ok(Some((token, TokenStore::Keyring.describe()))),
        Ok(Ok(None)) | Ok(Err(CredentialError::Unavailable { .. })) => Ok(None),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// The config dir of the insecure file store: `$HUB_CONFIG_DIR` if set, else
/// the platform config dir + `customer-hub` (`~/.config/customer-hub` on Linux).
pub fn default_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|d| d.config_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
        .join("customer-hub")
}

/// Whether the OS keyring is really usable here: writes, reads back and
/// deletes a probe entry (`customer-hub` / `probe`), giving up after
/// [`PROBE_TIMEOUT`]. `Err(Unavailable)` on a headless machine with no D-Bus
/// session or no Secret Service; its message tells the user about
/// `--insecure-storage`.
pub fn keyring_available() -> Result<(), CredentialError> {
    keyring_available_within(PROBE_TIMEOUT)
}

/// [`keyring_available`] with a chosen timeout. A keyring call that does not
/// answer in time is left to finish on its own thread.
pub fn keyring_available_within(timeout: Duration) -> Result<(), CredentialError> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("keyring-probe".into())
        .spawn(move || {
            let _ = tx.send(probe_keyring());
        });
    if let Err(e) = spawned {
        return Err(CredentialError::Unavailable {
            reason: format!("could not start the keyring probe: {e}"),
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(CredentialError::Unavailable {
            reason: format!(
                "the keyring service did not answer within {} s",
                timeout.as_secs_f32()
            ),
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(CredentialError::Unavailable {
            reason: "the keyring probe stopped unexpectedly".into(),
        }),
    }
}

fn probe_keyring() -> Result<(), CredentialError> {
    let unavailable = |e: keyring::Error| CredentialError::Unavailable {
        reason: keyring_reason(&e),
    };
    let value = format!("probe-{}", Uuid::new_v4());
    let entry = keyring::Entry::new(KEYRING_SERVICE, PROBE_USER).map_err(unavailable)?;
    entry.set_password(&value).map_err(unavailable)?;
    let read = entry.get_password();
    let _ = entry.delete_credential();
    match read {
        Ok(v) if v == value => Ok(()),
        Ok(_) => Err(CredentialError::Unavailable {
            reason: "the keyring gave back a different value than was written".into(),
        }),
        Err(keyring::Error::NoEntry) => Err(CredentialError::Unavailable {
            reason: "the keyring did not keep a value written to it".into(),
        }),
        Err(e) => Err(unavailable(e)),
    }
}

fn keyring_entry(key: &TokenKey) -> Result<keyring::Entry, CredentialError> {
    keyring::Entry::new(KEYRING_SERVICE, &key.account()).map_err(from_keyring)
}

/// A keyring error as a [`CredentialError`]. A platform failure (typically: no
/// D-Bus session, no Secret Service) means no usable keyring here.
fn from_keyring(e: keyring::Error) -> CredentialError {
    match e {
        keyring::Error::PlatformFailure(_) => CredentialError::Unavailable {
            reason: keyring_reason(&e),
        },
        other => CredentialError::Keyring(keyring_reason(&other)),
    }
}

/// A keyring error in words, without any secret it may carry.
fn keyring_reason(e: &keyring::Error) -> String {
    match e {
        keyring::Error::PlatformFailure(inner) => inner.to_string(),
        keyring::Error::NoStorageAccess(inner) => {
            format!(
                "access was refused (the keyring may be locked, \
                 or have no default collection): {inner}"
            )
        }
        keyring::Error::NoEntry => "no such entry".into(),
        // The bytes are the stored secret: never show them.
        keyring::Error::BadEncoding(_) => "the stored token is not valid text".into(),
        keyring::Error::Ambiguous(items) => {
            format!("{} entries match this token's name", items.len())
        }
        other => other.to_string(),
    }
}

fn lock(
    map: &Mutex<HashMap<String, String>>,
) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(path: &Path, e: io::Error) -> CredentialError {
    CredentialError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The tokens in `path`; empty if the file does not exist.
fn read_tokens(path: &Path) -> Result<BTreeMap<String, String>, CredentialError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_error(path, e)),
    };
    serde_json::from_slice(&bytes).map_err(|e| CredentialError::Corrupt {
        path: path.to_path_buf(),
        // serde_json's message names a line and column, never the content.
        message: format!("not a JSON object of tokens: {e}"),
    })
}

/// Create `dir` (and missing parents) with mode 0700 on unix. An existing dir
/// is left as it is.
fn create_private_dir(dir: &Path) -> Result<(), CredentialError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| io_error(dir, e))
}

/// Write `tokens` to `path` atomically: a new 0600 temp file in the same dir,
/// synced, then renamed over `path`. A crash leaves the old file or the new one,
/// never half of one.
fn write_tokens(
    dir: &Path,
    path: &Path,
    tokens: &BTreeMap<String, String>,
) -> Result<(), CredentialError> {
    let mut json = serde_json::to_vec_pretty(tokens).expect("a map of strings serialises");
    json.push(b'\n');

    let tmp = dir.join(format!(
        ".{TOKENS_FILE}.{}.{}.tmp",
        std::process::id(),
        Uuid::new_v4().simple()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(&json)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(path, e));
    }
    // Make the rename itself durable. Not possible everywhere; best effort.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
