//! Workspaces, users and device sign-in: the use cases behind the CLI and `/v1/auth/*`.
//!
//! A user is created either with a password or with a one-time *setup secret* (shown once,
//! stored as its SHA-256, valid for [`SETUP_SECRET_DAYS`] days) that the user trades for a
//! password at `POST /v1/auth/setup`, so an owner never has to type someone else's password.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::{new_secret, secret_hash, Email, HashError, InputError, Password, Passwords};
use crate::storage::{Database, NewDevice, NewUser, NewWorkspace, Storage, StorageError};

/// How long a password-setup secret stays valid.
pub const SETUP_SECRET_DAYS: i64 = 7;
/// Longest device name accepted.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;
/// Longest workspace name accepted.
pub const MAX_WORKSPACE_NAME_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Input(#[from] InputError),
    /// Wrong password, unknown email, user without a password, dead setup secret: one error,
    /// so a caller cannot tell which.
    #[error("email or password is wrong")]
    Unauthorized,
    /// The email and password match users in several workspaces: the caller must name one.
    #[error("this email signs in to several workspaces; pass workspace_id")]
    WorkspaceRequired,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// A one-time password-setup secret: print it once, never store it.
#[derive(Clone, Debug, Serialize)]
pub struct PasswordSetup {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// What `workspace create` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedWorkspace {
    pub workspace_id: Uuid,
    pub name: String,
    pub write_key: String,
    pub owner_user_id: Uuid,
    /// Present when the owner was created without a password.
    pub password_setup: Option<PasswordSetup>,
}

/// What `user add` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedUser {
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub password_setup: Option<PasswordSetup>,
}

/// A signed-in device: the token is shown once.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub device_id: Uuid,
    pub token: String,
    pub workspace_id: Uuid,
    pub user_id: Uuid,
}

/// Creates a workspace with its owner in one transaction.
pub async fn create_workspace(
    db: &Database,
    passwords: &Passwords,
    name: &str,
    owner_email: &str,
    password: Option<Password>,
) -> Result<CreatedWorkspace, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_WORKSPACE_NAME_CHARS {
        return Err(InputError("workspace name must have 1 to 200 characters").into());
    }
    let email = Email::parse(owner_email)?;
    let now = Utc::now();
    let workspace = NewWorkspace {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        write_key: new_secret(),
        created_at: now,
    };
    let (owner, password_setup) = new_user(passwords, workspace.id, email, password, now).await?;
    db.create_workspace(&workspace, &owner).await?;
    Ok(CreatedWorkspace {
        workspace_id: workspace.id,
        name: workspace.name,
        write_key: workspace.write_key,
        owner_user_id: owner.id,
        password_setup,
    })
}

/// Adds a user to a workspace; the email must be new there (case-insensitively).
pub async fn add_user(
    db: &Database,
    passwords: &Passwords,
    workspace_id: Uuid,
    email: &str,
    password: Option<Password>,
) -> Result<CreatedUser, AccountError> {
    let email = Email::parse(email)?;
    let (user, password_setup) =
        new_user(passwords, workspace_id, email, password, Utc::now()).await?;
    db.add_user(&user).await?;
    Ok(CreatedUser {
        user_id: user.id,
        workspace_id,
        password_setup,
    })
}

async fn new_user(
    passwords: &Passwords,
    workspace_id: Uuid,
    email: Email,
    password: Option<Password>,
    now: DateTime<Utc>,
) -> Result<(NewUser, Option<PasswordSetup>), AccountError> {
    let mut user = NewUser {
        id: Uuid::now_v7(),
        workspace_id,
        email: email.as_str().to_owned(),
        password_hash: None,
        password_setup_hash: None,
        password_setup_expires_at: None,
        created_at: now,
    };
    let setup = match password {
        Some(password) => {
            user.password_hash = Some(passwords.hash(&password).await?);
            None
        }
        None => {
            let setup = PasswordSetup {
                secret: new_secret(),
                expires_at: now + Duration::days(SETUP_SECRET_DAYS),
            };
            user.password_setup_hash = Some(secret_hash(&setup.secret));
            user.password_setup_expires_at = Some(setup.expires_at);
            Some(setup)
        }
    };
    Ok((user, setup))
}

/// Trades a live setup secret for a password; the secret is burnt. Returns the user id.
pub async fn complete_password_setup(
    db: &Database,
    passwords: &Passwords,
    secret: &str,
    password: Password,
) -> Result<Uuid, AccountError> {
    // Hash first: the update then burns the secret and sets the password atomically.
    let hash = passwords.hash(&password).await?;
    db.complete_password_setup(&secret_hash(secret.trim()), &hash, Utc::now())
        .await?
        .ok_or(AccountError::Unauthorized)
}

/// Checks email and password and registers the device (the store's own id when given, else
/// a new one) with a fresh token; a device signing in again gets a new token.
///
/// An email may exist in several workspaces; `workspace_id` picks one. Without it, a
/// password that matches in exactly one workspace signs in there, and one that matches in
/// several is [`AccountError::WorkspaceRequired`].
pub async fn login(
    db: &Database,
    passwords: &Passwords,
    email: &str,
    password: &str,
    device_name: &str,
    device_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
) -> Result<SignedIn, AccountError> {
    let device_name = device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(InputError("device_name must have 1 to 100 characters").into());
    }
    let candidates = match Email::parse(email) {
        Ok(email) => db.users_by_email(email.as_str()).await?,
        Err(_) => Vec::new(),
    };
    let candidates: Vec<_> = candidates
        .into_iter()
        .filter(|u| workspace_id.is_none_or(|w| w == u.workspace_id))
        .collect();
    if candidates.is_empty() {
        // Same work as a wrong password, so timing does not tell the two apart.
        passwords.verify(password, None).await?;
        return Err(AccountError::Unauthorized);
    }
    let mut matched = Vec::new();
    for user in candidates {
        if passwords
            .verify(password, user.password_hash.as_deref())
            .await?
        {
            matched.push(user);
        }
    }
    let user = match matched.len() {
        0 => return Err(AccountError::Unauthorized),
        1 => matched.remove(0),
        _ => return Err(AccountError::WorkspaceRequired),
    };
    let token = new_secret();
    let device = NewDevice {
        id: device_id.unwrap_or_else(Uuid::now_v7),
        workspace_id: user.workspace_id,
        user_id: user.id,
        name: device_name.to_owned(),
        token_hash: secret_hash(&token),
        created_at: Utc::now(),
    };
    db.add_device(&device).await?;
    Ok(SignedIn {
        device_id: device.id,
        token,
        workspace_id: user.workspace_id,
        user_id: user.id,
    })
}
