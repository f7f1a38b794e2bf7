//! The campaign report: per campaign (name / source / medium) over a date
//! range, who came, who became known, which deals it started and which won
//! deals it closed, with the revenue exact per currency and converted into the
//! workspace's base currency. Definitions: docs/campaigns.md.
//!
//! - Touches, visitors, contacts, anonymous: from the touches whose event
//!   timestamp is in the range. A visitor is a person: a contact (all of its
//!   anonymous ids count once) or, for events never identified, an anonymous
//!   id. `anonymous` is the anonymous audience: visitors who were never
//!   identified.
//! - Deals: deals created in the range, credited to their first touch at or
//!   before creation (first-touch attribution).
//! - Won and revenue: deals won in the range (`closed_at` of a won deal),
//!   credited to their last touch at or before the win (last-touch).
//! - Deals with no touch are the `direct/none` row (which has no visitor
//!   counts: every untagged event would be a visit).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use super::{key_label, settle, DIRECT};
use crate::error::{Error, Result};
use crate::money::{self, Money};
use crate::store::Store;

/// What the report covers: inclusive UTC calendar dates (None = open-ended)
/// and, optionally, only the contacts who are members of a segment now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReportQuery {
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Only the segment's current members (their touches and deals); the
    /// anonymous audience is then not counted (anonymous visitors are in no
    /// segment, docs/campaigns.md).
    #[serde(default)]
    pub segment_id: Option<Uuid>,
}

impl ReportQuery {
    /// `[from 00:00 UTC, the day after to 00:00 UTC)` in unix ms.
    fn bounds_ms(&self) -> Result<(i64, i64)> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(Error::invalid(
                    "from",
                    format!("The range starts ({from}) after it ends ({to})"),
                ));
            }
        }
        let ms = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis())
        };
        let lo = self.from.and_then(ms).unwrap_or(i64::MIN);
        let hi = match self.to {
            Some(to) => to
                .checked_add_days(Days::new(1))
                .and_then(ms)
                .unwrap_or(i64::MAX),
            None => i64::MAX,
        };
        Ok((lo, hi))
    }
}

/// Percentages (0-100, one decimal), None when the denominator is 0 or
/// unknown. See docs/campaigns.md "Conversion rates".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ConversionRates {
    /// contacts / visitors: visitors who are identified contacts.
    #[ts(type = "string | null")]
    pub visitor_to_contact: Option<Decimal>,
    /// deals / contacts: deals credited to the campaign per contact it reached.
    #[ts(type = "string | null")]
    pub contact_to_deal: Option<Decimal>,
    /// won / contacts: won deals credited to the campaign per contact it reached.
    #[ts(type = "string | null")]
    pub contact_to_won: Option<Decimal>,
}

/// One line of the report: a campaign, or `direct/none`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CampaignRow {
    /// `name / source / medium` (a missing part `(not set)`), or `direct/none`.
    pub label: String,
    /// The `direct/none` row: deals with no touch.
    pub direct: bool,
    pub campaign: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    /// Tagged events in the range.
    pub touches: u64,
    /// Distinct people who touched it in the range (contacts + anonymous); None
    /// for `direct/none`.
    pub visitors: Option<u64>,
    /// Identified contacts among them.
    pub contacts: Option<u64>,
    /// Anonymous audience: distinct anonymous ids never identified.
    pub anonymous: Option<u64>,
    /// Deals created in the range whose first touch is this campaign.
    pub deals: u64,
    /// Deals won in the range whose last touch before the win is this campaign.
    pub won: u64,
    /// Their amounts, exact, per currency (by currency code).
    pub revenue: Vec<Money>,
    /// The same in the base currency; None without a base currency or when a
    /// currency has no rate (listed in the report's `missing_rates`).
    pub revenue_base: Option<Money>,
    pub rates: ConversionRates,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CampaignReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The segment the report is limited to: (id, name).
    pub segment: Option<SegmentRef>,
    pub base_currency: Option<String>,
    /// Campaigns by won revenue in the base currency, then visitors, then
    /// label; `direct/none` last (when it has deals).
    pub rows: Vec<CampaignRow>,
    /// Currencies of won revenue with no rate into the base currency.
    pub missing_rates: Vec<String>,
}

/// A segment by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentRef {
    pub id: Uuid,
    pub name: String,
}

type Key = (Option<String>, Option<String>, Option<String>);

#[derive(Default)]
struct Acc {
    touches: u64,
    visitors: Option<u64>,
    contacts: Option<u64>,
    anonymous: Option<u64>,
    deals: u64,
    won: u64,
    revenue: BTreeMap<String, Decimal>,
}

/// The campaign report over `query`.
pub async fn report(store: &Store, query: ReportQuery) -> Result<CampaignReport> {
    let (lo, hi) = query.bounds_ms()?;
    let segment = match query.segment_id {
        Some(id) => {
            let row: Option<(i64, Option<String>)> =
                sqlx::query_as("SELECT rk, name FROM segments WHERE id = ? AND deleted_at IS NULL")
                    .bind(id.to_string())
                    .fetch_optional(store.pool())
                    .await?;
            let (rk, name) = row.ok_or_else(|| Error::not_found("segment", id))?;
            Some((
                rk,
                SegmentRef {
                    id,
                    name: name.unwrap_or_default(),
                },
            ))
        }
        None => None,
    };
    let segment_rk = segment.as_ref().map(|(rk, _)| *rk);
    settle(store).await?;
    let base = money::base_currency(store).await?;
    let rates = money::rates(store).await?;
    // One read transaction: both queries see the same data.
    let mut tx = store.pool().begin().await?;

    let mut rows: BTreeMap<Option<Key>, Acc> = BTreeMap::new();
    type TouchRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
    );
    let touched: Vec<TouchRow> = sqlx::query_as(
        "SELECT campaign, source, medium, count(*), count(DISTINCT contact_rk),
                count(DISTINCT anonymous_id)
           FROM campaign_touches INDEXED BY campaign_touches_key
          WHERE at_ms >= ?1 AND at_ms < ?2
            AND (?3 IS NULL OR contact_rk IN (SELECT contact_rk FROM segment_members
                                               WHERE segment_rk = ?3))
          GROUP BY campaign, source, medium",
    )
    .bind(lo)
    .bind(hi)
    .bind(segment_rk)
    .fetch_all(&mut *tx)
    .await?;
    for (campaign, source, medium, touches, contacts, anonymous) in touched {
        let acc = rows.entry(Some((campaign, source, medium))).or_default();
        acc.touches = touches as u64;
        acc.contacts = Some(contacts as u64);
        acc.anonymous = segment_rk.is_none().then_some(anonymous as u64);
        acc.visitors = Some((contacts + anonymous) as u64);
    }

    type DealRow = (
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    // Each deal in the range with its first touch at or before creation and
    // its last touch at or before the win (index campaign_touches_contact);
    // MATERIALIZED: each look-up runs once, not once per use of its column.
    let deals: Vec<DealRow> = sqlx::query_as(
        "WITH x AS (
              SELECT d.amount, d.currency, c.rk AS contact_rk,
                     CAST(round(unixepoch(d.created_at, 'subsec') * 1000) AS INTEGER) AS created_ms,
                     CASE WHEN d.status = 'won'
                          THEN CAST(round(unixepoch(d.closed_at, 'subsec') * 1000) AS INTEGER)
                     END AS won_ms
                FROM deals d LEFT JOIN contacts c ON c.id = d.contact_id
               WHERE d.deleted_at IS NULL),
         y AS MATERIALIZED (
              SELECT x.*,
                     (SELECT t.event_rk FROM campaign_touches t
                       WHERE t.contact_rk = x.contact_rk AND t.at_ms <= x.created_ms
                       ORDER BY t.at_ms, t.event_rk LIMIT 1) AS first_rk,
                     (SELECT t.event_rk FROM campaign_touches t
                       WHERE t.contact_rk = x.contact_rk AND t.at_ms <= x.won_ms
                       ORDER BY t.at_ms DESC, t.event_rk DESC LIMIT 1) AS last_rk
                FROM x
               WHERE ((x.created_ms >= ?1 AND x.created_ms < ?2)
                      OR (x.won_ms >= ?1 AND x.won_ms < ?2))
                 AND (?3 IS NULL OR x.contact_rk IN (SELECT contact_rk FROM segment_members
                                                      WHERE segment_rk = ?3)))
         SELECT y.amount, y.currency, y.created_ms, y.won_ms,
                y.first_rk, f.campaign, f.source, f.medium,
                y.last_rk, l.campaign, l.source, l.medium
           FROM y
           LEFT JOIN campaign_touches f ON f.event_rk = y.first_rk
           LEFT JOIN campaign_touches l ON l.event_rk = y.last_rk",
    )
    .bind(lo)
    .bind(hi)
    .bind(segment_rk)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let in_range = |ms: Option<i64>| ms.is_some_and(|ms| ms >= lo && ms < hi);
    for (amount, currency, created_ms, won_ms, first_rk, fc, fs, fm, last_rk, lc, ls, lm) in deals {
        if in_range(created_ms) {
            let key = first_rk.map(|_| (fc, fs, fm));
            rows.entry(key).or_default().deals += 1;
        }
        if in_range(won_ms) {
            let key = last_rk.map(|_| (lc, ls, lm));
            let acc = rows.entry(key).or_default();
            acc.won += 1;
            if let (Some(amount), Some(currency)) = (money::stored(amount.as_deref()), currency) {
                let sum = acc.revenue.entry(currency).or_default();
                *sum = money::add(*sum, amount)?;
            }
        }
    }

    let usable = base
        .as_deref()
        .map(|b| money::usable_rates(b, &rates))
        .unwrap_or_default();
    let mut missing_rates: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for (key, acc) in rows {
        let revenue: Vec<Money> = acc
            .revenue
            .into_iter()
            .map(|(currency, amount)| Money {
                amount: at_least_minor(amount, &currency),
                currency,
            })
            .collect();
        let revenue_base = match base.as_deref() {
            Some(base) => {
                let (converted, missing) =
                    crate::deals::convert(Some(base), &usable, &revenue, &[])?;
                missing_rates.extend(missing);
                converted.map(|c| Money {
                    amount: at_least_minor(c.total, &c.currency),
                    currency: c.currency,
                })
            }
            None => None,
        };
        let rates = ConversionRates {
            visitor_to_contact: acc
                .contacts
                .zip(acc.visitors)
                .and_then(|(c, v)| percent(c, v)),
            contact_to_deal: acc.contacts.and_then(|c| percent(acc.deals, c)),
            contact_to_won: acc.contacts.and_then(|c| percent(acc.won, c)),
        };
        let (label, direct, (campaign, source, medium)) = match key {
            Some(k) => (
                key_label(k.0.as_deref(), k.1.as_deref(), k.2.as_deref()),
                false,
                k,
            ),
            None => (DIRECT.to_owned(), true, (None, None, None)),
        };
        out.push(CampaignRow {
            label,
            direct,
            campaign,
            source,
            medium,
            touches: acc.touches,
            visitors: acc.visitors,
            contacts: acc.contacts,
            anonymous: acc.anonymous,
            deals: acc.deals,
            won: acc.won,
            revenue,
            revenue_base,
            rates,
        });
    }
    out.sort_by(|a, b| {
        let worth = |r: &CampaignRow| r.revenue_base.as_ref().map(|m| m.amount);
        a.direct
            .cmp(&b.direct)
            .then_with(|| worth(b).cmp(&worth(a)))
            .then_with(|| b.visitors.cmp(&a.visitors))
            .then_with(|| a.label.cmp(&b.label))
    });
    missing_rates.sort();
    missing_rates.dedup();
    Ok(CampaignReport {
        from: query.from,
        to: query.to,
        segment: segment.map(|(_, s)| s),
        base_currency: base,
        rows: out,
        missing_rates,
    })
}

/// `amount` exact, written with at least the currency's minor digits
/// (`500.10` USD, `345.00` EUR; a converted `450.0900001` keeps its digits).
fn at_least_minor(amount: Decimal, currency: &str) -> Decimal {
    let mut a = amount.normalize();
    let minor = money::minor_units(currency).unwrap_or(2);
    if a.scale() < minor {
        a.rescale(minor);
    }
    a
}

/// `part / whole` in percent with one decimal; None when `whole` is 0.
fn percent(part: u64, whole: u64) -> Option<Decimal> {
    (whole > 0).then(|| {
        let mut p = (Decimal::from(part) * Decimal::from(100) / Decimal::from(whole)).round_dp(1);
        p.rescale(1);
        p
    })
}
