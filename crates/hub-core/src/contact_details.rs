//! Contact details that address books carry: a birthday, a website, a photo
//! and postal addresses (migration 0014). vCard import and export read and
//! write them; so may CSV imports that have such columns.
//!
//! Birthdays are ISO 8601 text: `1985-04-12`, or `--04-12` when the year is
//! not known (vCard 4.0's truncated date; Apple's "omit year"). Photos are
//! a `data:` URI (at most [`MAX_PHOTO`] bytes decoded) or an http(s) link.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{Fields, WriteTx};
use crate::entities::{CONTACT, CONTACT_ADDRESS};
use crate::error::{Error, FieldError, Result};
use crate::store::Store;
use crate::vcard::parse::Birthday;

pub const ADDRESS_KINDS: [&str; 3] = ["home", "work", "other"];
pub const ADDRESS_PARTS: [&str; 5] = ["street", "city", "region", "postal_code", "country"];
/// Largest photo kept, decoded.
pub const MAX_PHOTO: usize = crate::vcard::parse::MAX_PHOTO;
const MAX_PART: usize = 500;
const MAX_URL: usize = 2000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AddressEntry {
    pub kind: String,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

impl AddressEntry {
    pub fn part(&self, name: &str) -> Option<&str> {
        match name {
            "street" => self.street.as_deref(),
            "city" => self.city.as_deref(),
            "region" => self.region.as_deref(),
            "postal_code" => self.postal_code.as_deref(),
            "country" => self.country.as_deref(),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        ADDRESS_PARTS
            .iter()
            .all(|p| self.part(p).is_none_or(|v| v.trim().is_empty()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactDetails {
    /// `1985-04-12` or `--04-12`.
    #[serde(default)]
    pub birthday: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// `data:image/...;base64,...` or an http(s) link.
    #[serde(default)]
    pub photo: Option<String>,
    #[serde(default)]
    pub addresses: Vec<AddressEntry>,
}

/// A birthday as typed (`1985-04-12`, `19850412`, `--04-12`, `--0412`) in
/// its stored form.
pub fn normalize_birthday(text: &str) -> Result<String, String> {
    Birthday::parse(text).map(|b| b.to_string())
}

/// A website: `example.com` gets `https://`; only http(s) links are kept.
pub fn normalize_website(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() || t.chars().any(char::is_whitespace) || t.len() > MAX_URL {
        return Err(format!("\"{t}\" is not a web address"));
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(t.to_owned())
    } else if lower.contains("://") || !t.contains('.') {
        Err(format!("\"{t}\" is not an http(s) web address"))
    } else {
        Ok(format!("https://{t}"))
    }
}

/// A photo: a base64 `data:image/...` URI of at most [`MAX_PHOTO`] bytes
/// decoded, or an http(s) link.
pub fn check_photo(text: &str) -> Result<String, String> {
    use base64::Engine;
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or("a data: photo has no data")?;
        if !meta.starts_with("image/") || !meta.ends_with(";base64") {
            return Err("a photo must be a base64 data:image/... URI or an http(s) link".into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("the photo is not valid base64 ({e})"))?;
        if bytes.len() > MAX_PHOTO {
            return Err(format!(
                "photos are at most {} KB (this one is {} KB)",
                MAX_PHOTO >> 10,
                bytes.len() >> 10
            ));
        }
        Ok(t.to_owned())
    } else if t.starts_with("http://") || t.starts_with("https://") {
        if t.len() > MAX_URL {
            return Err("the photo link is too long".into());
        }
        Ok(t.to_owned())
    } else {
        Err("a photo must be a base64 data:image/... URI or an http(s) link".into())
    }
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Check and normalise details; every problem is reported at once.
pub fn validate(details: &ContactDetails) -> Result<ContactDetails> {
    let mut errors = Vec::new();
    let mut out = ContactDetails::default();
    if let Some(b) = clean(&details.birthday) {
        match normalize_birthday(b) {
            Ok(b) => out.birthday = Some(b),
            Err(e) => errors.push(FieldError::new("birthday", e)),
        }
    }
    if let Some(w) = clean(&details.website) {
        match normalize_website(w) {
            Ok(w) => out.website = Some(w),
            Err(e) => errors.push(FieldError::new("website", e)),
        }
    }
    if let Some(p) = clean(&details.photo) {
        match check_photo(p) {
            Ok(p) => out.photo = Some(p),
            Err(e) => errors.push(FieldError::new("photo", e)),
        }
    }
    for (i, a) in details.addresses.iter().enumerate() {
        if a.is_empty() {
            continue;
        }
        let kind = a.kind.trim().to_lowercase();
        if !ADDRESS_KINDS.contains(&kind.as_str()) {
            errors.push(FieldError::new(
                format!("addresses[{i}]"),
                format!("Address type must be one of {}", ADDRESS_KINDS.join(", ")),
            ));
            continue;
        }
        let part = |v: &Option<String>| clean(v).map(str::to_owned);
        let entry = AddressEntry {
            kind,
            street: part(&a.street),
            city: part(&a.city),
            region: part(&a.region),
            postal_code: part(&a.postal_code),
            country: part(&a.country),
        };
        if ADDRESS_PARTS
            .iter()
            .any(|p| entry.part(p).is_some_and(|v| v.chars().count() > MAX_PART))
        {
            errors.push(FieldError::new(
                format!("addresses[{i}]"),
                format!("Address parts are at most {MAX_PART} characters"),
            ));
            continue;
        }
        out.addresses.push(entry);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(out)
}

/// A live contact's details.
pub async fn get(store: &Store, id: Uuid) -> Result<ContactDetails> {
    let mut conn = store.pool().acquire().await?;
    get_conn(&mut conn, id).await
}

/// [`get`] on a connection (inside a transaction, or one reused for many).
pub async fn get_conn(conn: &mut SqliteConnection, id: Uuid) -> Result<ContactDetails> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT birthday, website, photo FROM contacts WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let (birthday, website, photo) = row.ok_or_else(|| Error::not_found("contact", id))?;
    type AddressRow = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<AddressRow> = sqlx::query_as(
        "SELECT kind, street, city, region, postal_code, country FROM contact_addresses
          WHERE contact_id = ? AND deleted_at IS NULL ORDER BY position, rk",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    Ok(ContactDetails {
        birthday,
        website,
        photo,
        addresses: rows
            .into_iter()
            .map(
                |(kind, street, city, region, postal_code, country)| AddressEntry {
                    kind,
                    street,
                    city,
                    region,
                    postal_code,
                    country,
                },
            )
            .collect(),
    })
}

/// Replace a live contact's details with `details` (checked first). Only
/// what changes is written; addresses that stay keep their rows.
pub async fn set(store: &Store, id: Uuid, details: &ContactDetails) -> Result<ContactDetails> {
    let valid = validate(details)?;
    let mut tx = store.write().await?;
    write(&mut tx, id, &valid).await?;
    tx.commit().await?;
    get(store, id).await
}

/// [`set`] inside a caller's transaction, with `details` already validated.
pub async fn write(tx: &mut WriteTx, id: Uuid, details: &ContactDetails) -> Result<()> {
    let current = get_conn(tx.conn(), id).await?;
    let mut fields: Fields = Vec::new();
    if current.birthday != details.birthday {
        fields.push(("birthday", json!(details.birthday)));
    }
    if current.website != details.website {
        fields.push(("website", json!(details.website)));
    }
    if current.photo != details.photo {
        fields.push(("photo", json!(details.photo)));
    }
    if !fields.is_empty() {
        tx.update(&CONTACT, id, fields).await?;
    }
    if current.addresses != details.addresses {
        let old: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM contact_addresses WHERE contact_id = ? AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_all(tx.conn())
        .await?;
        for row in old {
            if let Ok(row) = Uuid::parse_str(&row) {
                tx.delete(&CONTACT_ADDRESS, row).await?;
            }
        }
        tx.insert_many(&CONTACT_ADDRESS, address_rows(id, &details.addresses))
            .await?;
    }
    Ok(())
}

/// New `contact_addresses` rows for a contact.
pub fn address_rows(contact: Uuid, addresses: &[AddressEntry]) -> Vec<(Uuid, Fields)> {
    addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                Uuid::now_v7(),
                vec![
                    ("contact_id", json!(contact.to_string())),
                    ("kind", json!(a.kind)),
                    ("street", json!(a.street)),
                    ("city", json!(a.city)),
                    ("region", json!(a.region)),
                    ("postal_code", json!(a.postal_code)),
                    ("country", json!(a.country)),
                    ("position", json!(i)),
                ],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};

    #[test]
    fn birthdays_websites_and_photos_are_normalised() {
        assert_eq!(normalize_birthday("19850412").unwrap(), "1985-04-12");
        assert_eq!(normalize_birthday("--0412").unwrap(), "--04-12");
        assert_eq!(normalize_birthday("--02-29").unwrap(), "--02-29");
        assert!(normalize_birthday("1985-02-30").is_err());
        assert!(normalize_birthday("April 12").is_err());
        assert_eq!(
            normalize_website("example.com").unwrap(),
            "https://example.com"
        );
        assert!(normalize_website("ftp://example.com").is_err());
        assert!(check_photo("data:image/png;base64,iVBORw0KGgo=").is_ok());
        assert!(check_photo("data:text/html;base64,PGI+").is_err());
        assert!(check_photo("javascript:alert(1)").is_err());
    }

    #[tokio::test]
    async fn details_are_set_read_and_only_changes_written() {
        let store = Store::open_in_memory().await.unwrap();
        let c = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let details = ContactDetails {
            birthday: Some("18151210".into()),
            website: Some("ada.example".into()),
            photo: None,
            addresses: vec![AddressEntry {
                kind: "Home".into(),
                street: Some("12 St James's Sq".into()),
                city: Some("London".into()),
                country: Some("UK".into()),
                ..Default::default()
            }],
        };
        let got = set(&store, c.id, &details).await.unwrap();
        assert_eq!(got.birthday.as_deref(), Some("1815-12-10"));
        assert_eq!(got.website.as_deref(), Some("https://ada.example"));
        assert_eq!(got.addresses.len(), 1);
        assert_eq!(got.addresses[0].kind, "home");
        let log = |store: &Store| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM change_log")
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let before = log(&store).await;
        set(&store, c.id, &got).await.unwrap();
        assert_eq!(log(&store).await, before, "an unchanged set writes nothing");
        let err = set(
            &store,
            c.id,
            &ContactDetails {
                birthday: Some("yesterday".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.field_errors()[0].field, "birthday");
        assert_eq!(
            get(&store, c.id).await.unwrap(),
            got,
            "a refused set changes nothing"
        );
    }
}
