//! Audiences: a segment exported to an ad network (Meta Custom Audiences, Google
//! Ads Customer Match) or an email tool, and the removal lists that follow
//! (docs/audiences.md).
//!
//! - [`export`] reads the segment's live members, keeps only those who may be
//!   sent (advertising consent granted — email marketing for an email tool — and
//!   not do-not-sell) and have an identifier the destination matches on, and
//!   writes the destination's file(s) with identifiers normalised and SHA-256
//!   hashed per the platform's published rules ([`normalise`]). The report says
//!   how many went out and how many were left out, by reason.
//! - Every export is recorded as a synced [`AUDIENCE_EXPORT`] row (who, when,
//!   segment, destination, counts), so the team sees every export on every
//!   device. Who was in it is kept on the device that wrote the file, in the
//!   local table `audience_export_members`, as the hashed keys that were sent.
//! - [`removals`] lists the members of earlier exports who have since been
//!   erased (hub_core::privacy) or no longer consent; [`write_removals`] writes
//!   them in the export's own format for the platform's remove upload. Erasure
//!   deletes the person's rows but not these hashes: they are what the network
//!   already holds, and the only way to ask it to forget the person.

pub mod export;
pub mod normalise;

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

pub use export::{export, ExportInput, CSV_HEADER, GOOGLE_HEADER};

pub use crate::entities::AUDIENCE_EXPORT;
use crate::error::{Error, Result};
use crate::store::Store;

/// Meta accepts at most 10,000 rows per payload.
pub const META_MAX_ROWS: usize = 10_000;

/// Where an audience goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "AudienceDestination")]
pub enum Destination {
    /// Meta Custom Audiences payload JSON.
    Meta,
    /// Google Ads Customer Match CSV.
    Google,
    /// A plain CSV for email tools (Mailchimp's columns).
    Csv,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Destination::Meta => "meta",
            Destination::Google => "google",
            Destination::Csv => "csv",
        }
    }

    pub fn parse(text: &str) -> Result<Destination> {
        match text.trim().to_lowercase().as_str() {
            "meta" | "facebook" => Ok(Destination::Meta),
            "google" | "google_ads" => Ok(Destination::Google),
            "csv" | "email" | "mailchimp" => Ok(Destination::Csv),
            _ => Err(Error::invalid(
                "dest",
                format!("unknown destination {text:?}: use meta, google or csv"),
            )),
        }
    }

    /// For people: "Meta", "Google Ads", "an email tool".
    pub fn label(self) -> &'static str {
        match self {
            Destination::Meta => "Meta",
            Destination::Google => "Google Ads",
            Destination::Csv => "an email tool",
        }
    }

    /// The consent purpose that must be granted.
    pub fn consent_purpose(self) -> &'static str {
        match self {
            Destination::Meta | Destination::Google => "advertising",
            Destination::Csv => "email_marketing",
        }
    }
}

/// What an export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "AudiencePurpose")]
pub enum Purpose {
    /// A custom audience / customer list to target.
    Audience,
    /// The source audience of the network's own lookalike feature.
    LookalikeSeed,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Audience => "audience",
            Purpose::LookalikeSeed => "lookalike_seed",
        }
    }
}

/// Members left out of an export, by the first reason that applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export, rename = "AudienceLeftOut")]
pub struct LeftOut {
    /// The destination's consent (advertising, or email marketing) not granted.
    pub no_consent: u32,
    /// Do-not-sell: the purpose `sale` denied or revoked.
    pub do_not_sell: u32,
    /// No email or phone the destination can match on (an email for email tools).
    pub no_identifier: u32,
}

impl LeftOut {
    pub fn total(&self) -> u32 {
        self.no_consent + self.do_not_sell + self.no_identifier
    }
}

/// What [`export`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export, rename = "AudienceExportReport")]
pub struct ExportReport {
    pub id: Uuid,
    pub segment_id: Uuid,
    pub segment_name: String,
    pub destination: Destination,
    pub purpose: Purpose,
    pub exported_by: String,
    pub exported_at: String,
    /// Live members of the segment.
    pub members: u32,
    /// Rows written.
    pub exported: u32,
    pub left_out: LeftOut,
    /// The files written, in order.
    pub files: Vec<String>,
}

/// A recorded export, as `hub audience history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct AudienceExport {
    pub id: Uuid,
    pub segment_id: Option<Uuid>,
    pub segment_name: String,
    pub destination: String,
    pub purpose: String,
    pub exported_by: String,
    pub exported_at: String,
    pub exported: u32,
    pub left_out: LeftOut,
    /// File names written (on the device that exported).
    pub files: Vec<String>,
    /// Whether this device holds the member list (the device that exported).
    pub members_here: bool,
    /// Members erased or without consent since, not yet in a removal file written here.
    pub pending_removals: u32,
}

/// Every recorded export, newest first.
pub async fn history(store: &Store) -> Result<Vec<AudienceExport>> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        bool,
    )> = sqlx::query_as(
        "SELECT x.id, x.segment_id, x.segment_name, x.destination, x.purpose, x.exported_by,
                x.exported_at, x.exported, x.left_out, x.files,
                EXISTS (SELECT 1 FROM audience_export_members m WHERE m.export_rk = x.rk)
           FROM audience_exports x WHERE x.deleted_at IS NULL
          ORDER BY x.exported_at DESC, x.id DESC",
    )
    .fetch_all(store.pool())
    .await?;
    let pending = removals(store, None).await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, segment_id, name, dest, purpose, by, at, exported, left_out, files, here)| {
                let pending_removals = pending
                    .iter()
                    .filter(|r| r.export_id.to_string() == id && r.removal_at.is_none())
                    .count() as u32;
                AudienceExport {
                    id: Uuid::parse_str(&id).unwrap_or_default(),
                    segment_id: segment_id.and_then(|s| Uuid::parse_str(&s).ok()),
                    segment_name: name.unwrap_or_default(),
                    destination: dest.unwrap_or_default(),
                    purpose: purpose.unwrap_or_default(),
                    exported_by: by.unwrap_or_default(),
                    exported_at: at.unwrap_or_default(),
                    exported: exported.unwrap_or(0).max(0) as u32,
                    left_out: left_out
                        .and_then(|l| serde_json::from_str(&l).ok())
                        .unwrap_or_default(),
                    files: files
                        .and_then(|f| serde_json::from_str(&f).ok())
                        .unwrap_or_default(),
                    members_here: here,
                    pending_removals,
                }
            },
        )
        .collect())
}

/// Why a member of an earlier export should be removed from the audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export, rename = "AudienceRemovalReason")]
pub enum RemovalReason {
    /// Erased (right to be forgotten) after the export.
    Erased,
    /// Still here, but the destination's consent is no longer granted, or do-not-sell.
    ConsentWithdrawn,
}

/// A member of an earlier export to remove from the platform's audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export, rename = "AudienceRemoval")]
pub struct Removal {
    pub export_id: Uuid,
    pub destination: String,
    pub contact_id: Uuid,
    pub reason: RemovalReason,
    /// When they were erased (for `erased`).
    pub erased_at: Option<String>,
    /// When a removal file listing them was written here; `None`: not yet.
    pub removal_at: Option<String>,
    #[serde(skip)]
    #[ts(skip)]
    email_key: Option<String>,
    #[serde(skip)]
    #[ts(skip)]
    phone_key: Option<String>,
}

/// The id of a recorded export from its id or a unique prefix of it.
async fn find_export(store: &Store, which: &str) -> Result<(String, Destination)> {
    let which = which.trim().to_lowercase();
    if which.is_empty() {
        return Err(Error::invalid("export", "name an export id"));
    }
    let found: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT id, destination FROM audience_exports
          WHERE deleted_at IS NULL AND substr(id, 1, length(?1)) = ?1 LIMIT 2",
    )
    .bind(&which)
    .fetch_all(store.pool())
    .await?;
    match found.as_slice() {
        [(id, dest)] => Ok((
            id.clone(),
            Destination::parse(dest.as_deref().unwrap_or_default())?,
        )),
        [] => Err(Error::NotFound {
            entity: "audience export",
            id: which,
        }),
        _ => Err(Error::invalid(
            "export",
            format!("{which} names more than one export: give more of the id"),
        )),
    }
}

/// Members of earlier exports (of one export, or all) to remove now: erased since,
/// or whose consent for the destination is no longer granted, or do-not-sell.
pub async fn removals(store: &Store, export: Option<&str>) -> Result<Vec<Removal>> {
    let export_id = match export {
        Some(which) => Some(find_export(store, which).await?.0),
        None => None,
    };
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    )> = sqlx::query_as(
        "SELECT x.id, x.destination, m.contact_id, nullif(lower(hex(m.email_key)), ''), nullif(lower(hex(m.phone_key)), ''), m.removal_at,
                (SELECT e.erased_at FROM erasures e WHERE e.contact_id = m.contact_id LIMIT 1),
                (SELECT cc.status FROM consent_current cc WHERE cc.contact_id = m.contact_id
                    AND cc.purpose = CASE x.destination WHEN 'csv' THEN 'email_marketing' ELSE 'advertising' END),
                (SELECT cc.status FROM consent_current cc WHERE cc.contact_id = m.contact_id AND cc.purpose = 'sale'),
                EXISTS (SELECT 1 FROM contacts c WHERE c.id = m.contact_id)
           FROM audience_export_members m JOIN audience_exports x ON x.rk = m.export_rk
          WHERE (?1 IS NULL OR x.id = ?1) AND x.deleted_at IS NULL
          ORDER BY x.exported_at DESC, x.id, m.contact_id",
    )
    .bind(export_id)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::new();
    for (
        export_id,
        dest,
        contact,
        email_key,
        phone_key,
        removal_at,
        erased_at,
        consent,
        sale,
        live,
    ) in rows
    {
        let reason = if erased_at.is_some() {
            RemovalReason::Erased
        } else if live
            && (consent.as_deref() != Some("granted")
                || matches!(sale.as_deref(), Some("denied" | "revoked")))
        {
            RemovalReason::ConsentWithdrawn
        } else {
            continue;
        };
        out.push(Removal {
            export_id: Uuid::parse_str(&export_id).unwrap_or_default(),
            destination: dest.unwrap_or_default(),
            contact_id: Uuid::parse_str(&contact).unwrap_or_default(),
            reason,
            erased_at,
            removal_at,
            email_key,
            phone_key,
        });
    }
    Ok(out)
}

/// What [`write_removals`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export, rename = "AudienceRemovalFile")]
pub struct RemovalReport {
    pub export_id: Uuid,
    pub destination: Destination,
    /// People listed (every removal of the export, written before or not).
    pub removed: u32,
    pub erased: u32,
    pub consent_withdrawn: u32,
    pub files: Vec<String>,
}

/// Write a removal file for one export in its own format (Meta payload with the
/// EMAIL/PHONE keys, Google CSV with Email/Phone, the subscriber hashes for an
/// email tool) and note the time on the members listed.
pub async fn write_removals(
    store: &Store,
    which: &str,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<RemovalReport> {
    let (export_id, destination) = find_export(store, which).await?;
    let list = removals(store, Some(&export_id)).await?;
    if list.is_empty() {
        return Err(Error::invalid(
            "export",
            format!("nobody in export {export_id} has been erased or withdrawn consent since: nothing to remove"),
        ));
    }
    if out.as_os_str().is_empty() || out.is_dir() {
        return Err(Error::invalid(
            "out",
            "name a file to write the removal list to",
        ));
    }
    let contents: Vec<String> = match destination {
        Destination::Meta => {
            let has_email = list.iter().any(|r| r.email_key.is_some());
            let has_phone = list.iter().any(|r| r.phone_key.is_some());
            let mut schema = Vec::new();
            if has_email {
                schema.push("EMAIL");
            }
            if has_phone {
                schema.push("PHONE");
            }
            let data: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    let mut row = Vec::new();
                    if has_email {
                        row.push(r.email_key.clone().unwrap_or_default());
                    }
                    if has_phone {
                        row.push(r.phone_key.clone().unwrap_or_default());
                    }
                    row
                })
                .collect();
            export::meta_payloads(&schema, &data)
        }
        Destination::Google => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.email_key.clone().unwrap_or_default(),
                        r.phone_key.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            vec![export::csv_text(&["Email", "Phone"], rows.iter())]
        }
        Destination::Csv => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| vec![r.email_key.clone().unwrap_or_default()])
                .collect();
            vec![export::csv_text(&["Subscriber Hash"], rows.iter())]
        }
    };
    let paths: Vec<PathBuf> = export::file_paths(out, contents.len());
    let at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut tx = store.pool().begin().await?;
    for r in &list {
        sqlx::query(
            "UPDATE audience_export_members SET removal_at = ?1
              WHERE export_rk = (SELECT rk FROM audience_exports WHERE id = ?2)
                AND contact_id = ?3 AND removal_at IS NULL",
        )
        .bind(&at)
        .bind(r.export_id.to_string())
        .bind(r.contact_id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    let written = export::write_all(&paths, &contents)?;
    if let Err(e) = tx.commit().await {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
        return Err(e.into());
    }
    let erased = list
        .iter()
        .filter(|r| r.reason == RemovalReason::Erased)
        .count() as u32;
    Ok(RemovalReport {
        export_id: Uuid::parse_str(&export_id).unwrap_or_default(),
        destination,
        removed: list.len() as u32,
        erased,
        consent_withdrawn: list.len() as u32 - erased,
        files: written.iter().map(|p| p.display().to_string()).collect(),
    })
}

#[cfg(test)]
mod tests;
