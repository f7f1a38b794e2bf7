//! The figures behind the desktop Reports screen: pipeline funnel by stage,
//! won revenue by month, events per day and segment sizes over time, plus the
//! forecast ([`crate::forecast`]) and campaign performance
//! ([`crate::campaigns::report`]) gathered into one [`Dashboard`].
//!
//! Money is exact: per-currency sums are Decimal (SQLite sums the amounts'
//! whole units and millionths as integers, as the forecast does) and the
//! base-currency figure is the exact sum of each currency's total times its
//! rate — or None, with the currencies lacking a rate listed, never guessed.
//! Days and months are UTC calendar days and months.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::campaigns::{self, CampaignReport, ReportQuery};
use crate::deals;
use crate::error::{Error, Result};
use crate::export::ExportFile;
use crate::forecast::{self, Forecast, ForecastBy, ForecastQuery};
use crate::money::{self, Money};
use crate::store::Store;

/// One stage of the funnel: the live deals in it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FunnelStage {
    pub stage_id: Uuid,
    pub name: String,
    /// open | won | lost
    pub kind: String,
    pub deals: u32,
    /// Amounts of the deals that have one, exact, by currency code.
    pub amounts: Vec<Money>,
    /// The same in the base currency; None without a base currency or when a
    /// currency has no rate (listed in `missing_rates`).
    pub base: Option<Money>,
    pub missing_rates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Funnel {
    pub pipeline_id: Uuid,
    pub pipeline_name: String,
    pub base_currency: Option<String>,
    /// Every stage of the pipeline in board order, empty ones included.
    pub stages: Vec<FunnelStage>,
}

/// Won revenue in one calendar month (UTC) of `closed_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MonthRevenue {
    /// `YYYY-MM`
    pub month: String,
    pub deals: u32,
    pub amounts: Vec<Money>,
    pub base: Option<Money>,
    pub missing_rates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: u64,
}

/// One segment's size at the end of each day (UTC) of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SegmentSizes {
    pub segment_id: Uuid,
    pub name: String,
    /// Members now; the last day's size.
    pub current: u64,
    pub days: Vec<DayCount>,
}

/// Everything the Reports screen draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Dashboard {
    pub today: NaiveDate,
    pub days: u32,
    pub funnel: Funnel,
    pub won_by_month: Vec<MonthRevenue>,
    pub forecast: Forecast,
    pub campaigns: CampaignReport,
    pub segment_sizes: Vec<SegmentSizes>,
    pub events_per_day: Vec<DayCount>,
}

/// What the Reports screen asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DashboardQuery {
    /// The pipeline of the funnel and the forecast (the first one when None).
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Days back for events, segment sizes and campaigns (30 when None).
    #[serde(default)]
    pub days: Option<u32>,
    /// Months back for won revenue (12 when None).
    #[serde(default)]
    pub months: Option<u32>,
}

const MAX_DAYS: u32 = 366;
const MAX_MONTHS: u32 = 120;

async fn base_and_rates(store: &Store) -> Result<(Option<String>, Vec<(String, Decimal)>)> {
    let base = money::base_currency(store).await?;
    let rates = match &base {
        Some(b) => money::usable_rates(b, &money::rates(store).await?),
        None => Vec::new(),
    };
    Ok((base, rates))
}

/// Per-currency sums as Money plus the base-currency figure.
fn settle(
    sums: BTreeMap<String, Decimal>,
    base: Option<&str>,
    rates: &[(String, Decimal)],
) -> Result<(Vec<Money>, Option<Money>, Vec<String>)> {
    let amounts: Vec<Money> = sums
        .into_iter()
        .map(|(currency, amount)| Money {
            amount: amount.normalize(),
            currency,
        })
        .collect();
    let (converted, missing) = deals::convert(base, rates, &amounts, &amounts)?;
    let base = converted.map(|c| Money {
        amount: c.total,
        currency: c.currency,
    });
    Ok((amounts, base, missing))
}

fn exact(units: i64, micro: i64) -> Result<Decimal> {
    money::add(Decimal::from(units), Decimal::new(micro, 6))
}

/// The pipeline funnel: every stage of `pipeline` (the first pipeline when
/// None) with its live deals' count and exact amounts.
pub async fn funnel(store: &Store, pipeline: Option<Uuid>) -> Result<Funnel> {
    crate::pipelines::ensure_default(store).await?;
    let (pipeline_id, pipeline_name): (String, Option<String>) = match pipeline {
        Some(id) => {
            sqlx::query_as("SELECT id, name FROM pipelines WHERE id = ? AND deleted_at IS NULL")
                .bind(id.to_string())
                .fetch_optional(store.pool())
                .await?
                .ok_or_else(|| Error::invalid("pipeline", format!("No pipeline {id}")))?
        }
        None => sqlx::query_as(
            "SELECT id, name FROM pipelines WHERE deleted_at IS NULL
              ORDER BY position, rk LIMIT 1",
        )
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| Error::invalid("pipeline", "There is no pipeline"))?,
    };
    type StageRow = (String, Option<String>, Option<String>);
    let stages: Vec<StageRow> = sqlx::query_as(
        "SELECT id, name, kind FROM pipeline_stages
          WHERE pipeline_id = ? AND deleted_at IS NULL ORDER BY position, rk",
    )
    .bind(&pipeline_id)
    .fetch_all(store.pool())
    .await?;
    type Group = (String, Option<String>, i64, i64, i64);
    let groups: Vec<Group> = sqlx::query_as(
        "SELECT stage_id, currency, count(*),
                coalesce(sum(CASE WHEN amount IS NOT NULL AND currency IS NOT NULL
                                  THEN amount_units END), 0),
                coalesce(sum(CASE WHEN amount IS NOT NULL AND currency IS NOT NULL
                                  THEN amount_micro END), 0)
           FROM deals
          WHERE deleted_at IS NULL AND pipeline_id = ?
          GROUP BY stage_id, currency",
    )
    .bind(&pipeline_id)
    .fetch_all(store.pool())
    .await?;
    let (base, rates) = base_and_rates(store).await?;
    let mut out = Vec::with_capacity(stages.len());
    for (id, name, kind) in stages {
        let mut deals = 0u32;
        let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
        for (_, currency, count, units, micro) in groups.iter().filter(|g| g.0 == id) {
            deals += *count as u32;
            if let Some(c) = currency {
                let e = sums.entry(c.clone()).or_default();
                *e = money::add(*e, exact(*units, *micro)?)?;
            }
        }
        let (amounts, base_money, missing) = settle(sums, base.as_deref(), &rates)?;
        out.push(FunnelStage {
            stage_id: Uuid::parse_str(&id).unwrap_or_default(),
            name: name.unwrap_or_default(),
            kind: kind.unwrap_or_else(|| "open".into()),
            deals,
            amounts,
            base: base_money,
            missing_rates: missing,
        });
    }
    Ok(Funnel {
        pipeline_id: Uuid::parse_str(&pipeline_id).unwrap_or_default(),
        pipeline_name: pipeline_name.unwrap_or_default(),
        base_currency: base,
        stages: out,
    })
}

fn month_key(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The first day of the month `back` months before `d`'s month.
fn months_back(d: NaiveDate, back: u32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 - back as i32;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

/// Won revenue per month of the win, the `months` months up to and including
/// `today`'s (empty months included, oldest first).
pub async fn won_by_month(
    store: &Store,
    today: NaiveDate,
    months: u32,
) -> Result<Vec<MonthRevenue>> {
    if months == 0 || months > MAX_MONTHS {
        return Err(Error::invalid(
            "months",
            format!("Months are 1 to {MAX_MONTHS}"),
        ));
    }
    let first = months_back(today, months - 1);
    type Group = (Option<String>, Option<String>, i64, i64, i64);
    let groups: Vec<Group> = sqlx::query_as(
        "SELECT substr(closed_at, 1, 7) AS month, currency, count(*),
                coalesce(sum(CASE WHEN amount IS NOT NULL AND currency IS NOT NULL
                                  THEN amount_units END), 0),
                coalesce(sum(CASE WHEN amount IS NOT NULL AND currency IS NOT NULL
                                  THEN amount_micro END), 0)
           FROM deals
          WHERE deleted_at IS NULL AND status = 'won' AND closed_at IS NOT NULL
            AND substr(closed_at, 1, 7) BETWEEN ? AND ?
          GROUP BY month, currency",
    )
    .bind(month_key(first))
    .bind(month_key(today))
    .fetch_all(store.pool())
    .await?;
    let (base, rates) = base_and_rates(store).await?;
    let mut out = Vec::with_capacity(months as usize);
    for i in (0..months).rev() {
        let key = month_key(months_back(today, i));
        let mut deals = 0u32;
        let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
        for (_, currency, count, units, micro) in
            groups.iter().filter(|g| g.0.as_deref() == Some(&key))
        {
            deals += *count as u32;
            if let Some(c) = currency {
                let e = sums.entry(c.clone()).or_default();
                *e = money::add(*e, exact(*units, *micro)?)?;
            }
        }
        let (amounts, base_money, missing) = settle(sums, base.as_deref(), &rates)?;
        out.push(MonthRevenue {
            month: key,
            deals,
            amounts,
            base: base_money,
            missing_rates: missing,
        });
    }
    Ok(out)
}

fn check_days(days: u32) -> Result<()> {
    if days == 0 || days > MAX_DAYS {
        return Err(Error::invalid("days", format!("Days are 1 to {MAX_DAYS}")));
    }
    Ok(())
}

fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or_default()
}

fn range(today: NaiveDate, days: u32) -> Vec<NaiveDate> {
    (0..days)
        .rev()
        .filter_map(|i| today.checked_sub_days(Days::new(u64::from(i))))
        .collect()
}

/// Events (any type) per UTC day of their timestamp, the `days` days up to
/// and including `today`, empty days as 0.
pub async fn events_per_day(store: &Store, today: NaiveDate, days: u32) -> Result<Vec<DayCount>> {
    check_days(days)?;
    let range = range(today, days);
    let lo = day_start_ms(range[0]);
    let hi = day_start_ms(today) + 86_400_000;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (at_ms - ?1) / 86400000 AS d, count(*) FROM events
          WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY d",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(store.pool())
    .await?;
    let counts: BTreeMap<i64, i64> = rows.into_iter().collect();
    Ok(range
        .into_iter()
        .enumerate()
        .map(|(i, day)| DayCount {
            day,
            count: counts.get(&(i as i64)).copied().unwrap_or(0) as u64,
        })
        .collect())
}

/// Each live segment's size at the end of each of the `days` days up to
/// `today`: reconstructed backwards from its current size with the entries
/// and exits recorded in `segment_history` (size at the end of day d = size
/// at the end of day d+1 − entries on d+1 + exits on d+1).
pub async fn segment_sizes(
    store: &Store,
    today: NaiveDate,
    days: u32,
) -> Result<Vec<SegmentSizes>> {
    check_days(days)?;
    let range = range(today, days);
    let lo = day_start_ms(range[0]) + 86_400_000;
    let segments: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT s.id, s.name,
                (SELECT count(*) FROM segment_members m WHERE m.segment_rk = s.rk)
           FROM segments s WHERE s.deleted_at IS NULL ORDER BY lower(s.name), s.rk",
    )
    .fetch_all(store.pool())
    .await?;
    // Changes after the first day's end, per segment and day index.
    let changes: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT segment_id, (at_ms - ?1) / 86400000 + 1 AS d,
                sum(kind = 'entered'), sum(kind = 'exited')
           FROM segment_history WHERE at_ms >= ?1
          GROUP BY segment_id, d",
    )
    .bind(lo)
    .fetch_all(store.pool())
    .await?;
    let mut net: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for (segment, d, entered, exited) in &changes {
        // Changes after today (a clock ahead) count for the last day.
        let d = (*d).min(i64::from(days));
        *net.entry((segment.as_str(), d)).or_default() += entered - exited;
    }
    Ok(segments
        .iter()
        .map(|(id, name, current)| {
            let mut sizes = vec![0i64; range.len()];
            let mut size = *current;
            // Day index days means "after today": applied before today's end.
            size -= net
                .get(&(id.as_str(), i64::from(days)))
                .copied()
                .unwrap_or(0);
            for i in (0..range.len()).rev() {
                sizes[i] = size.max(0);
                size -= net.get(&(id.as_str(), i as i64)).copied().unwrap_or(0);
            }
            SegmentSizes {
                segment_id: Uuid::parse_str(id).unwrap_or_default(),
                name: name.clone().unwrap_or_default(),
                current: (*current).max(0) as u64,
                days: range
                    .iter()
                    .zip(sizes)
                    .map(|(day, s)| DayCount {
                        day: *day,
                        count: s as u64,
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Everything the Reports screen draws, as of `now`; the forecast is of the
/// funnel's pipeline.
pub async fn dashboard(
    store: &Store,
    query: &DashboardQuery,
    now: DateTime<Utc>,
) -> Result<Dashboard> {
    let today = now.date_naive();
    let days = query.days.unwrap_or(30);
    check_days(days)?;
    let months = query.months.unwrap_or(12);
    let from = today.checked_sub_days(Days::new(u64::from(days - 1)));
    let funnel = funnel(store, query.pipeline_id).await?;
    // The forecast of the funnel's pipeline, so both charts speak of one.
    let pipeline_id = Some(funnel.pipeline_id);
    Ok(Dashboard {
        today,
        days,
        funnel,
        won_by_month: won_by_month(store, today, months).await?,
        forecast: forecast::forecast(
            store,
            &ForecastQuery {
                by: ForecastBy::Month,
                pipeline_id,
                owner: None,
            },
        )
        .await?,
        campaigns: campaigns::report(
            store,
            ReportQuery {
                from,
                to: Some(today),
                segment_id: None,
            },
        )
        .await?,
        segment_sizes: segment_sizes(store, today, days).await?,
        events_per_day: events_per_day(store, today, days).await?,
    })
}

/// Write a chart drawn in the app (`data:image/png;base64,...` from a
/// canvas) as a PNG file at `path`, all or nothing.
pub fn write_chart_png(path: &Path, data_url: &str) -> Result<PathBuf> {
    use base64::Engine;
    let encoded = data_url
        .strip_prefix("data:image/png;base64,")
        .ok_or_else(|| Error::invalid("image", "The chart is not a PNG image"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| Error::invalid("image", "The chart image is damaged"))?;
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(Error::invalid("image", "The chart is not a PNG image"));
    }
    write_file(path, &bytes)
}

/// Write a chart's data (CSV text built by the app) at `path`, all or nothing.
pub fn write_chart_csv(path: &Path, csv: &str) -> Result<PathBuf> {
    write_file(path, csv.as_bytes())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let mut file = ExportFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deals::{DealInput, DealStatus};
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    async fn deal(store: &Store, title: &str, amount: &str, currency: &str) -> Uuid {
        deals::create(
            store,
            DealInput {
                title: title.into(),
                amount: Some(amount.into()),
                currency: Some(currency.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .summary
        .id
    }

    async fn win(store: &Store, id: Uuid, closed_at: &str) {
        deals::close(store, id, DealStatus::Won, None)
            .await
            .unwrap();
        sqlx::query("UPDATE deals SET closed_at = ? WHERE id = ?")
            .bind(closed_at)
            .bind(id.to_string())
            .execute(store.pool())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_funnel_counts_and_sums_every_stage_exactly() {
        let store = Store::open_in_memory().await.unwrap();
        money::set_base_currency(&store, "EUR").await.unwrap();
        money::set_rate(&store, "USD", "0.5").await.unwrap();
        deal(&store, "A", "0.10", "EUR").await;
        deal(&store, "B", "0.20", "EUR").await;
        deal(&store, "C", "301", "USD").await;
        deals::create(
            &store,
            DealInput {
                title: "No amount".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let won = deal(&store, "W", "1000.01", "EUR").await;
        win(&store, won, "2026-11-03T10:00:00Z").await;
        let f = funnel(&store, None).await.unwrap();
        assert!(f.stages.len() >= 3, "{f:?}");
        let first = &f.stages[0];
        assert_eq!(first.deals, 4);
        assert_eq!(
            first.amounts,
            vec![
                Money {
                    amount: dec("0.3"),
                    currency: "EUR".into()
                },
                Money {
                    amount: dec("301"),
                    currency: "USD".into()
                }
            ]
        );
        assert_eq!(first.base.as_ref().unwrap().amount, dec("150.8"));
        let won_stage = f.stages.iter().find(|s| s.kind == "won").unwrap();
        assert_eq!(won_stage.deals, 1);
        assert_eq!(won_stage.amounts[0].amount, dec("1000.01"));
        let empty: u32 = f
            .stages
            .iter()
            .filter(|s| s.kind == "open")
            .skip(1)
            .map(|s| s.deals)
            .sum();
        assert_eq!(empty, 0);
        // A rate removed: no converted figure, the currency is named.
        money::delete_rate(&store, "USD").await.unwrap();
        let f = funnel(&store, Some(f.pipeline_id)).await.unwrap();
        assert_eq!(f.stages[0].base, None);
        assert_eq!(f.stages[0].missing_rates, vec!["USD".to_string()]);
        assert!(funnel(&store, Some(Uuid::now_v7())).await.is_err());
    }

    #[tokio::test]
    async fn won_revenue_by_month_is_exact_with_empty_months() {
        let store = Store::open_in_memory().await.unwrap();
        money::set_base_currency(&store, "EUR").await.unwrap();
        money::set_rate(&store, "USD", "0.9").await.unwrap();
        for (title, amount, currency, at) in [
            ("A", "0.1", "EUR", "2026-09-30T23:59:59Z"),
            ("B", "0.2", "EUR", "2026-09-01T00:00:00Z"),
            ("C", "100", "USD", "2026-11-02T08:00:00Z"),
            ("D", "50", "EUR", "2026-11-20T08:00:00Z"),
            ("Old", "999", "EUR", "2025-01-01T08:00:00Z"),
        ] {
            let id = deal(&store, title, amount, currency).await;
            win(&store, id, at).await;
        }
        // Open and lost deals are not revenue.
        deal(&store, "Open", "7", "EUR").await;
        let lost = deal(&store, "Lost", "8", "EUR").await;
        deals::close(&store, lost, DealStatus::Lost, None)
            .await
            .unwrap();
        let months = won_by_month(&store, day("2026-11-30"), 3).await.unwrap();
        let keys: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(keys, ["2026-09", "2026-10", "2026-11"]);
        assert_eq!(months[0].deals, 2);
        assert_eq!(months[0].amounts[0].amount, dec("0.3"));
        assert_eq!(months[0].base.as_ref().unwrap().amount, dec("0.3"));
        assert_eq!(months[1].deals, 0);
        assert!(months[1].amounts.is_empty());
        assert_eq!(months[1].base.as_ref().unwrap().amount, Decimal::ZERO);
        assert_eq!(months[2].deals, 2);
        assert_eq!(months[2].base.as_ref().unwrap().amount, dec("140"));
        // Across a year end.
        let months = won_by_month(&store, day("2026-01-15"), 14).await.unwrap();
        assert_eq!(months[0].month, "2024-12");
        assert_eq!(months[1].deals, 1);
        assert!(won_by_month(&store, day("2026-01-15"), 0).await.is_err());
    }

    async fn event(store: &Store, id: &str, at_ms: i64) {
        sqlx::query(
            "INSERT INTO events (message_id, type, at_ms, received_ms, body)
             VALUES (?, 'track', ?, ?, '{}')",
        )
        .bind(id)
        .bind(at_ms)
        .bind(at_ms)
        .execute(store.pool())
        .await
        .unwrap();
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[tokio::test]
    async fn events_per_day_fills_empty_days_and_cuts_at_midnight_utc() {
        let store = Store::open_in_memory().await.unwrap();
        event(&store, "a", ms("2026-11-28T00:00:00Z")).await;
        event(&store, "b", ms("2026-11-28T23:59:59.999Z")).await;
        event(&store, "c", ms("2026-11-30T12:00:00Z")).await;
        event(&store, "before", ms("2026-11-27T23:59:59.999Z")).await;
        event(&store, "after", ms("2026-12-01T00:00:00Z")).await;
        let days = events_per_day(&store, day("2026-11-30"), 3).await.unwrap();
        assert_eq!(
            days,
            vec![
                DayCount {
                    day: day("2026-11-28"),
                    count: 2
                },
                DayCount {
                    day: day("2026-11-29"),
                    count: 0
                },
                DayCount {
                    day: day("2026-11-30"),
                    count: 1
                },
            ]
        );
        assert!(events_per_day(&store, day("2026-11-30"), 0).await.is_err());
        assert!(events_per_day(&store, day("2026-11-30"), 400)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn segment_sizes_are_rebuilt_backwards_from_the_current_size() {
        let store = Store::open_in_memory().await.unwrap();
        sqlx::query(
            "INSERT INTO segments (id, name, rule, created_at)
             VALUES ('00000000-0000-7000-8000-000000000001', 'Fans', '{}', '2026-11-01T00:00:00Z')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let rk: i64 = sqlx::query_scalar("SELECT rk FROM segments")
            .fetch_one(store.pool())
            .await
            .unwrap();
        // Now: 3 members.
        for c in 1..=3 {
            sqlx::query(
                "INSERT INTO segment_members (segment_rk, contact_rk, entered_ms) VALUES (?, ?, 0)",
            )
            .bind(rk)
            .bind(c)
            .execute(store.pool())
            .await
            .unwrap();
        }
        let seg = "00000000-0000-7000-8000-000000000001";
        // 27th: 2 entered; 28th: 2 entered, 1 exited; 30th: 1 entered (and
        // one before the range, which only the size before it reflects).
        for (kind, at) in [
            ("entered", "2026-11-20T10:00:00Z"),
            ("entered", "2026-11-27T10:00:00Z"),
            ("entered", "2026-11-27T11:00:00Z"),
            ("entered", "2026-11-28T10:00:00Z"),
            ("entered", "2026-11-28T11:00:00Z"),
            ("exited", "2026-11-28T12:00:00Z"),
            ("exited", "2026-11-28T13:00:00Z"),
            ("entered", "2026-11-30T23:59:59Z"),
        ] {
            sqlx::query(
                "INSERT INTO segment_history (segment_id, contact_id, kind, at, at_ms)
                 VALUES (?, 'x', ?, ?, ?)",
            )
            .bind(seg)
            .bind(kind)
            .bind(at)
            .bind(ms(at))
            .execute(store.pool())
            .await
            .unwrap();
        }
        let sizes = segment_sizes(&store, day("2026-11-30"), 4).await.unwrap();
        assert_eq!(sizes.len(), 1);
        assert_eq!(sizes[0].name, "Fans");
        assert_eq!(sizes[0].current, 3);
        let counts: Vec<u64> = sizes[0].days.iter().map(|d| d.count).collect();
        // 30th: 3; 29th: 3 - 1 = 2; 28th: 2; 27th: 2 - 2 + 2 = 2.
        assert_eq!(counts, [2, 2, 2, 3]);
        assert_eq!(sizes[0].days[0].day, day("2026-11-27"));
        let sizes = segment_sizes(&store, day("2026-11-30"), 5).await.unwrap();
        let counts: Vec<u64> = sizes[0].days.iter().map(|d| d.count).collect();
        // 26th: 2 - 2 (entered 27th) = 0.
        assert_eq!(counts, [0, 2, 2, 2, 3]);
    }

    #[tokio::test]
    async fn the_dashboard_gathers_every_chart() {
        let store = Store::open_in_memory().await.unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = deal(&store, "A", "10", "EUR").await;
        win(&store, id, "2026-11-29T12:00:00Z").await;
        event(&store, "e", ms("2026-11-29T12:00:00Z")).await;
        let d = dashboard(&store, &DashboardQuery::default(), now)
            .await
            .unwrap();
        assert_eq!(d.days, 30);
        assert_eq!(d.events_per_day.len(), 30);
        assert_eq!(d.events_per_day.iter().map(|d| d.count).sum::<u64>(), 1);
        assert_eq!(d.won_by_month.len(), 12);
        assert_eq!(d.won_by_month.last().unwrap().deals, 1);
        assert_eq!(d.forecast.total.deals, 1);
        assert_eq!(d.campaigns.from, Some(day("2026-11-01")));
        let bad = DashboardQuery {
            days: Some(0),
            ..Default::default()
        };
        assert!(dashboard(&store, &bad, now).await.is_err());
    }

    #[test]
    fn charts_are_written_as_png_and_csv_files() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), b"rest"].concat();
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let path = dir.path().join("chart.png");
        assert_eq!(write_chart_png(&path, &url).unwrap(), path);
        assert_eq!(std::fs::read(&path).unwrap(), png);
        let bad = dir.path().join("bad.png");
        assert!(write_chart_png(&bad, "data:image/jpeg;base64,AAAA").is_err());
        assert!(write_chart_png(&bad, "data:image/png;base64,!!!").is_err());
        let text = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(b"hello")
        );
        assert!(write_chart_png(&bad, &text).is_err());
        assert!(!bad.exists());
        let csv = dir.path().join("chart.csv");
        write_chart_csv(&csv, "day,events\n2026-11-30,3\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            "day,events\n2026-11-30,3\n"
        );
        assert!(write_chart_csv(dir.path(), "x").is_err());
    }
}
