//! Campaigns and attribution (docs/campaigns.md).
//!
//! A *touch* is a stored event that names a campaign: `context.campaign`
//! (Segment's spec: name, source, medium, term, content) or, for each field the
//! object leaves out, the UTM parameter of the event's page URL
//! (`context.page.url`, else `properties.url`). Migration 0025 keeps one
//! `campaign_touches` row per touch with SQLite triggers, whichever way the
//! event arrives and whenever identity resolution moves it to a contact; the
//! few URL values that still hold `%XX` escapes are decoded here ([`settle`])
//! before anything reads the table.
//!
//! - A contact's first and last touch: its earliest and latest touch (events
//!   of its anonymous past included once identify stitched them).
//! - A deal's first touch: its contact's earliest touch at or before the deal
//!   was created; its last touch: the contact's latest touch at or before the
//!   deal was won (`closed_at` of a won deal).
//! - No touch: `direct/none`.
//!
//! The campaign report is in [`report`].

pub mod report;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::Store;

pub use report::{report, CampaignReport, CampaignRow, ConversionRates, ReportQuery, SegmentRef};

/// The label of "no tagged event".
pub const DIRECT: &str = "direct/none";

/// One campaign touch: the event and the campaign fields it carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Touch {
    /// The event's `messageId`.
    pub message_id: String,
    /// The event's timestamp.
    pub at: DateTime<Utc>,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub term: Option<String>,
    pub content: Option<String>,
}

impl Touch {
    /// `spring-sale / google / cpc`, a missing part as `(not set)`.
    pub fn label(&self) -> String {
        key_label(
            self.campaign.as_deref(),
            self.source.as_deref(),
            self.medium.as_deref(),
        )
    }
}

/// `name / source / medium`, a missing part as `(not set)`.
pub fn key_label(campaign: Option<&str>, source: Option<&str>, medium: Option<&str>) -> String {
    let part = |p: Option<&str>| p.unwrap_or("(not set)").to_owned();
    format!("{} / {} / {}", part(campaign), part(source), part(medium))
}

/// What a contact or deal is credited to: a touch, or `direct/none` when
/// there is no tagged event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[ts(export)]
pub enum Attribution {
    Campaign(Touch),
    Direct,
}

impl Attribution {
    fn of(touch: Option<Touch>) -> Self {
        touch.map_or(Attribution::Direct, Attribution::Campaign)
    }

    /// The touch's label, or `direct/none`.
    pub fn label(&self) -> String {
        match self {
            Attribution::Campaign(t) => t.label(),
            Attribution::Direct => DIRECT.to_owned(),
        }
    }

    pub fn touch(&self) -> Option<&Touch> {
        match self {
            Attribution::Campaign(t) => Some(t),
            Attribution::Direct => None,
        }
    }
}

/// A contact's touches: first, last and every one (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ContactTouches {
    pub contact_id: Uuid,
    pub first_touch: Attribution,
    pub last_touch: Attribution,
    /// All touches, oldest first (at most [`MAX_LISTED`]).
    pub touches: Vec<Touch>,
    /// How many touches there are in all.
    pub count: u64,
}

/// A deal's attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DealTouches {
    pub deal_id: Uuid,
    pub title: String,
    pub contact_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When the deal was won; None while it is not won.
    pub won_at: Option<DateTime<Utc>>,
    /// The contact's first touch at or before the deal was created.
    pub first_touch: Attribution,
    /// The contact's last touch at or before the deal was won; None while it
    /// is not won.
    pub last_touch: Option<Attribution>,
}

/// Touches listed by [`contact_touches`].
pub const MAX_LISTED: usize = 500;

const TOUCH_COLUMNS: &str =
    "e.message_id, t.at_ms, t.campaign, t.source, t.medium, t.term, t.content";

type TouchRow = (
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn touch_of(row: TouchRow) -> Touch {
    let (message_id, at_ms, campaign, source, medium, term, content) = row;
    Touch {
        message_id,
        at: ms_time(at_ms),
        campaign,
        source,
        medium,
        term,
        content,
    }
}

pub(crate) fn ms_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The first and last touch of a contact, and its touches.
pub async fn contact_touches(store: &Store, contact_id: Uuid) -> Result<ContactTouches> {
    settle(store).await?;
    let rk: Option<i64> = sqlx::query_scalar("SELECT rk FROM contacts WHERE id = ?")
        .bind(contact_id.to_string())
        .fetch_optional(store.pool())
        .await?;
    let rk = rk.ok_or_else(|| Error::not_found("contact", contact_id))?;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM campaign_touches WHERE contact_rk = ?")
            .bind(rk)
            .fetch_one(store.pool())
            .await?;
    let rows: Vec<TouchRow> = sqlx::query_as(&format!(
        "SELECT {TOUCH_COLUMNS} FROM campaign_touches t JOIN events e ON e.rk = t.event_rk
          WHERE t.contact_rk = ? ORDER BY t.at_ms, t.event_rk LIMIT ?"
    ))
    .bind(rk)
    .bind(MAX_LISTED as i64)
    .fetch_all(store.pool())
    .await?;
    let touches: Vec<Touch> = rows.into_iter().map(touch_of).collect();
    let mut conn = store.pool().acquire().await?;
    let last = touch_at(&mut conn, rk, None, Order::Last).await?;
    Ok(ContactTouches {
        contact_id,
        first_touch: Attribution::of(touches.first().cloned()),
        last_touch: Attribution::of(last),
        touches,
        count: count as u64,
    })
}

#[derive(Clone, Copy)]
enum Order {
    First,
    Last,
}

/// The contact's first (last) touch, at or before `until_ms` if given.
async fn touch_at(
    conn: &mut SqliteConnection,
    contact_rk: i64,
    until_ms: Option<i64>,
    order: Order,
) -> Result<Option<Touch>> {
    let dir = match order {
        Order::First => "",
        Order::Last => " DESC",
    };
    let row: Option<TouchRow> = sqlx::query_as(&format!(
        "SELECT {TOUCH_COLUMNS} FROM campaign_touches t JOIN events e ON e.rk = t.event_rk
          WHERE t.contact_rk = ?1 AND (?2 IS NULL OR t.at_ms <= ?2)
          ORDER BY t.at_ms{dir}, t.event_rk{dir} LIMIT 1"
    ))
    .bind(contact_rk)
    .bind(until_ms)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(touch_of))
}

/// A deal's first touch (before it was created) and last touch (before it
/// was won).
pub async fn deal_touches(store: &Store, deal_id: Uuid) -> Result<DealTouches> {
    settle(store).await?;
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT d.title, d.contact_id, d.created_at, d.status, d.closed_at, c.rk
           FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id
          WHERE d.id = ? AND d.deleted_at IS NULL",
    )
    .bind(deal_id.to_string())
    .fetch_optional(store.pool())
    .await?;
    let (title, contact, created_at, status, closed_at, contact_rk) =
        row.ok_or_else(|| Error::not_found("deal", deal_id))?;
    let created_at = parse_time(created_at.as_deref()).unwrap_or_default();
    let won_at = if status.as_deref() == Some("won") {
        parse_time(closed_at.as_deref())
    } else {
        None
    };
    let mut conn = store.pool().acquire().await?;
    let first = match contact_rk {
        Some(rk) => {
            touch_at(
                &mut conn,
                rk,
                Some(created_at.timestamp_millis()),
                Order::First,
            )
            .await?
        }
        None => None,
    };
    let last = match (won_at, contact_rk) {
        (Some(won), Some(rk)) => Some(Attribution::of(
            touch_at(&mut conn, rk, Some(won.timestamp_millis()), Order::Last).await?,
        )),
        (Some(_), None) => Some(Attribution::Direct),
        (None, _) => None,
    };
    Ok(DealTouches {
        deal_id,
        title: title.unwrap_or_default(),
        contact_id: contact.and_then(|c| Uuid::parse_str(&c).ok()),
        created_at,
        won_at,
        first_touch: Attribution::of(first),
        last_touch: last,
    })
}

pub(crate) fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

// ---- decoding the URL values SQL could not ---------------------------------

/// `a+b%C3%A9` -> `a bé`: a query-string value as a browser's
/// `URLSearchParams` reads it ('+' is a space, `%XX` a byte, the bytes UTF-8,
/// an invalid sequence replaced, a '%' not followed by two hex digits kept).
pub fn decode_query_value(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decode the touches whose URL values still hold `%XX` escapes (migration
/// 0025 flags them). Cheap when there are none: one indexed read.
pub async fn settle(store: &Store) -> Result<u64> {
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT event_rk FROM campaign_touches WHERE encoded <> 0 LIMIT 1")
            .fetch_optional(store.pool())
            .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let mut tx = store.pool().begin_with("BEGIN IMMEDIATE").await?;
    type Row = (
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_rk, encoded, campaign, source, medium, term, content
           FROM campaign_touches WHERE encoded <> 0",
    )
    .fetch_all(&mut *tx)
    .await?;
    let n = rows.len() as u64;
    for (rk, encoded, campaign, source, medium, term, content) in rows {
        let mut values = [campaign, source, medium, term, content];
        for (bit, value) in values.iter_mut().enumerate() {
            if encoded & (1 << bit) != 0 {
                *value = value
                    .as_deref()
                    .map(|v| decode_query_value(v).trim().to_owned())
                    .filter(|v| !v.is_empty());
            }
        }
        let [campaign, source, medium, term, content] = values;
        if campaign.is_none() && source.is_none() && medium.is_none() {
            // Only escapes of nothing (`utm_source=%20`): not a touch.
            sqlx::query("DELETE FROM campaign_touches WHERE event_rk = ?")
                .bind(rk)
                .execute(&mut *tx)
                .await?;
            continue;
        }
        sqlx::query(
            "UPDATE campaign_touches SET campaign = ?, source = ?, medium = ?, term = ?,
                    content = ?, encoded = 0 WHERE event_rk = ?",
        )
        .bind(campaign)
        .bind(source)
        .bind(medium)
        .bind(term)
        .bind(content)
        .bind(rk)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests;
