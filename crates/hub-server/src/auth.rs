//! Who is calling: passwords (argon2id), device tokens and one-time setup secrets.
//!
//! - Passwords are hashed with argon2id. Hashing and verifying run on the blocking pool
//!   (`spawn_blocking`) so a login never stalls the async workers. The PHC string keeps its
//!   own parameters, so [`Passwords`] only decides the cost of *new* hashes.
//! - A device token and a setup secret are 32 random bytes (base64url, 43 characters), shown
//!   once. Only their SHA-256 (base64url) is stored, and a lookup is by that hash, so the
//!   database never compares secrets: timing can reveal at most something about a hash, which
//!   does not help forge a token. argon2's own verification compares in constant time.
//! - Login answers the same 401 for an unknown email and a wrong password, and verifies
//!   against a dummy hash when the email is unknown so both take about as long.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// An email address, trimmed and lower-cased: users are unique per workspace by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A light check (one `@`, something either side, no spaces): enough to catch typos at
    /// the edge; whether the mailbox exists is the owner's business.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let email = input.trim().to_lowercase();
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !email.chars().any(char::is_whitespace)
                    && email.len() <= 320
            }
            None => false,
        };
        if valid {
            Ok(Self(email))
        } else {
            Err(InputError("email address is not valid"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the length rules; never printed by `Debug`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(input: String) -> Result<Self, InputError> {
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(InputError("password must have at least 8 characters"));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(InputError("password must have at most 1024 characters"));
        }
        Ok(Self(input))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Input rejected at the edge; the message is safe to show to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub &'static str);

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("password hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A fresh random secret (device token, setup secret, write key): 32 bytes, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a secret: SHA-256 of its text, base64url.
pub fn secret_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// argon2id hashing with a chosen cost. Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<PasswordsInner>,
}

struct PasswordsInner {
    params: Params,
    /// Hash of a random password: verified against when an email is unknown.
    dummy_hash: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.inner.params)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// Uses `params` for new hashes (and the timing dummy).
    pub fn new(params: Params) -> Self {
        let dummy_hash =
            hash_blocking(&params, &new_secret()).unwrap_or_else(|_| unreachable_dummy_hash());
        Self {
            inner: Arc::new(PasswordsInner { params, dummy_hash }),
        }
    }

    /// The OWASP-recommended argon2id cost (19 MiB, 2 passes, 1 lane): what the server uses.
    pub fn recommended() -> Self {
        Self::new(Params::default())
    }

    /// The lowest cost argon2 allows. For tests only: a debug build hashes the recommended
    /// cost slowly, and the tests are about the protocol, not the hash.
    pub fn cheap_for_tests() -> Self {
        let params =
            Params::new(Params::MIN_M_COST, Params::MIN_T_COST, 1, None).unwrap_or_default();
        Self::new(params)
    }

    /// Hashes on the blocking pool.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let params = self.inner.params.clone();
        let password = password.0.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&params, &password))
            .await?
            .map_err(HashError::Argon2)
    }

    /// Verifies on the blocking pool. `None` (unknown user, or no password set yet) is
    /// checked against the dummy hash so it costs the same, and is always `false`.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, HashError> {
        let inner = Arc::clone(&self.inner);
        let password = password.to_owned();
        let hash = hash.map(str::to_owned);
        let verified = tokio::task::spawn_blocking(move || {
            let real = hash.is_some();
            let phc = hash.unwrap_or_else(|| inner.dummy_hash.clone());
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return false;
            };
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            ok && real
        })
        .await?;
        Ok(verified)
    }
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Only reached if argon2 refuses valid parameters; a fixed valid PHC string keeps the
/// timing dummy usable (it can never match, as nobody knows its password).
fn unreachable_dummy_hash() -> String {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
     YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_have_length_rules_and_hide_in_debug() {
        assert!(Password::parse("short".into()).is_err());
        let password = Password::parse("long enough".into()).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let a = new_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_secret());
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), a);
        // SHA-256 of "abc", base64url without padding.
        assert_eq!(
            secret_hash("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let passwords = Passwords::cheap_for_tests();
        let password = Password::parse("correct horse".into()).unwrap();
        let hash = passwords.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(passwords
            .verify("correct horse", Some(&hash))
            .await
            .unwrap());
        assert!(!passwords.verify("wrong horse", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("correct horse", None).await.unwrap());
    }
}
