//! The sales forecast: deal amounts per stage or per month, total and
//! weighted (amount × probability), exact, per currency, and converted into
//! the team's base currency with the rates its users maintain.
//!
//! What counts: live deals with an amount that are open or won (lost deals
//! forecast nothing). An open deal is weighted by its stage's probability, a
//! won deal at 100 %. By month, an open deal counts in the month of its
//! expected close date and a won deal in the month it was closed (UTC); a
//! deal with no such date is in the "no date" row, last.
//!
//! Exactness: per-currency figures are exact Decimal sums. A converted figure
//! is the exact sum of each currency's exact total times its rate; when a
//! currency of a row has no usable rate, the row has no converted figure and
//! lists the currency in `missing_rates` — it is never guessed or skipped.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::deals::{self, Converted};
use crate::error::{Error, Result};
use crate::money::{self, Money};
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ForecastBy {
    #[default]
    Stage,
    Month,
}

impl ForecastBy {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_lowercase().as_str() {
            "stage" => Ok(ForecastBy::Stage),
            "month" => Ok(ForecastBy::Month),
            _ => Err(Error::invalid(
                "by",
                format!("\"{}\" is not stage or month", text.trim()),
            )),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ForecastQuery {
    #[serde(default)]
    pub by: ForecastBy,
    /// Only this pipeline (all when None).
    #[serde(default)]
    pub pipeline_id: Option<Uuid>,
    /// Only deals of this owner.
    #[serde(default)]
    pub owner: Option<String>,
}

/// One currency's figures in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CurrencyFigures {
    pub currency: String,
    pub deals: u32,
    #[ts(type = "string")]
    pub total: Decimal,
    #[ts(type = "string")]
    pub weighted: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ForecastRow {
    /// The stage id, `YYYY-MM`, `none` (no date) or `total`.
    pub key: String,
    /// "Sales / Proposal", "2026-12", "No date", "Total".
    pub label: String,
    pub deals: u32,
    /// By currency code.
    pub currencies: Vec<CurrencyFigures>,
    pub converted: Option<Converted>,
    pub missing_rates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Forecast {
    pub by: ForecastBy,
    pub base_currency: Option<String>,
    pub rows: Vec<ForecastRow>,
    pub total: ForecastRow,
}

/// Deals as the forecast sees them: one deal, or a group of deals of one
/// row, currency and probability with their summed amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Row key and label; rows are ordered by `order`, then key.
    pub key: String,
    pub label: String,
    pub order: (i64, i64),
    /// How many deals the item stands for.
    pub deals: u32,
    pub amount: Decimal,
    pub currency: String,
    /// Percent 0..=100.
    pub probability: Decimal,
}

#[derive(Default)]
struct Acc {
    label: String,
    order: (i64, i64),
    deals: u32,
    currencies: BTreeMap<String, (u32, Decimal, Decimal)>,
}

impl Acc {
    fn add(&mut self, item: &Item) -> Result<()> {
        self.deals += item.deals;
        let entry = self.currencies.entry(item.currency.clone()).or_insert((
            0,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
        entry.0 += item.deals;
        entry.1 = money::add(entry.1, item.amount)?;
        entry.2 = money::add(entry.2, money::weighted(item.amount, item.probability)?)?;
        Ok(())
    }

    fn into_row(
        self,
        key: String,
        base: Option<&str>,
        rates: &[(String, Decimal)],
    ) -> Result<ForecastRow> {
        let currencies: Vec<CurrencyFigures> = self
            .currencies
            .into_iter()
            .map(|(currency, (deals, total, weighted))| CurrencyFigures {
                currency,
                deals,
                total: total.normalize(),
                weighted: weighted.normalize(),
            })
            .collect();
        let money = |f: fn(&CurrencyFigures) -> Decimal| -> Vec<Money> {
            currencies
                .iter()
                .map(|c| Money {
                    amount: f(c),
                    currency: c.currency.clone(),
                })
                .collect()
        };
        let (converted, missing_rates) =
            deals::convert(base, rates, &money(|c| c.total), &money(|c| c.weighted))?;
        Ok(ForecastRow {
            key,
            label: self.label,
            deals: self.deals,
            currencies,
            converted,
            missing_rates,
        })
    }
}

/// The forecast of `items`: one row per key, plus the total.
pub fn compute(
    by: ForecastBy,
    items: &[Item],
    base: Option<&str>,
    rates: &[(String, Decimal)],
) -> Result<Forecast> {
    let mut rows: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = Acc {
        label: "Total".into(),
        ..Default::default()
    };
    for item in items {
        let acc = rows.entry(item.key.clone()).or_insert_with(|| Acc {
            label: item.label.clone(),
            order: item.order,
            ..Default::default()
        });
        acc.add(item)?;
        total.add(item)?;
    }
    let mut ordered: Vec<(String, Acc)> = rows.into_iter().collect();
    ordered.sort_by(|a, b| a.1.order.cmp(&b.1.order).then_with(|| a.0.cmp(&b.0)));
    Ok(Forecast {
        by,
        base_currency: base.map(str::to_owned),
        rows: ordered
            .into_iter()
            .map(|(key, acc)| acc.into_row(key, base, rates))
            .collect::<Result<_>>()?,
        total: total.into_row("total".into(), base, rates)?,
    })
}

/// The forecast of the store's deals.
pub async fn forecast(store: &Store, query: &ForecastQuery) -> Result<Forecast> {
    // The default pipeline exists from first use on, as everywhere else.
    crate::pipelines::ensure_default(store).await?;
    // SQLite groups the deals (by stage, status, currency and, by month, the
    // month) and sums the amounts' whole units and millionths exactly as
    // integers (migration 0003's generated columns); the few groups become
    // Decimals here. Weighting a group's sum equals summing the weighted
    // deals: the arithmetic is exact either way.
    #[derive(sqlx::FromRow)]
    struct Group {
        stage_id: Option<String>,
        stage_name: Option<String>,
        pipeline_name: Option<String>,
        pipeline_position: Option<i64>,
        stage_position: Option<i64>,
        status: Option<String>,
        probability: Option<String>,
        currency: Option<String>,
        month: Option<String>,
        deals: i64,
        units: i64,
        micro: i64,
    }
    let groups: Vec<Group> = sqlx::query_as(
        "SELECT d.stage_id, s.name AS stage_name, p.name AS pipeline_name,
                p.position AS pipeline_position, s.position AS stage_position, d.status,
                s.probability, d.currency,
                CASE WHEN ?3 THEN substr(CASE WHEN d.status = 'won' THEN d.closed_at
                                              ELSE d.expected_close END, 1, 7) END AS month,
                count(*) AS deals, coalesce(sum(d.amount_units), 0) AS units,
                coalesce(sum(d.amount_micro), 0) AS micro
           FROM deals d
           JOIN pipeline_stages s ON s.id = d.stage_id
           JOIN pipelines p ON p.id = d.pipeline_id
          WHERE d.deleted_at IS NULL AND d.amount IS NOT NULL AND d.currency IS NOT NULL
            AND d.status IN ('open', 'won')
            AND (?1 IS NULL OR d.pipeline_id = ?1)
            AND (?2 IS NULL OR d.owner = ?2)
          GROUP BY d.stage_id, d.status, d.currency, month",
    )
    .bind(query.pipeline_id.map(|p| p.to_string()))
    .bind(
        query
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty()),
    )
    .bind(query.by == ForecastBy::Month)
    .fetch_all(store.pool())
    .await?;
    let mut items = Vec::with_capacity(groups.len());
    for g in groups {
        let Some(currency) = g.currency else {
            continue;
        };
        let amount = money::add(Decimal::from(g.units), Decimal::new(g.micro, 6))?.normalize();
        let probability = if g.status.as_deref() == Some("won") {
            Decimal::ONE_HUNDRED
        } else {
            money::stored(g.probability.as_deref()).unwrap_or_default()
        };
        let (key, label, order) = match query.by {
            ForecastBy::Stage => (
                g.stage_id.unwrap_or_default(),
                format!(
                    "{} / {}",
                    g.pipeline_name.unwrap_or_default(),
                    g.stage_name.unwrap_or_default()
                ),
                (
                    g.pipeline_position.unwrap_or(0),
                    g.stage_position.unwrap_or(0),
                ),
            ),
            ForecastBy::Month => match g.month.filter(|m| m.len() == 7) {
                Some(month) => (month.clone(), month, (0, 0)),
                None => ("none".into(), "No date".into(), (1, 0)),
            },
        };
        items.push(Item {
            key,
            label,
            order,
            deals: g.deals as u32,
            amount,
            currency,
            probability,
        });
    }
    let base = money::base_currency(store).await?;
    let rates = match &base {
        Some(b) => money::usable_rates(b, &money::rates(store).await?),
        None => Vec::new(),
    };
    compute(query.by, &items, base.as_deref(), &rates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deals::{DealInput, DealStatus};
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    const CODES: [&str; 4] = ["EUR", "USD", "JPY", "KWD"];

    fn item_strategy() -> impl Strategy<Value = Item> {
        (
            0usize..4,             // row
            0usize..CODES.len(),   // currency
            0i64..100_000_000_000, // amount in minor units (< 10^9 units)
            0u32..=10_000,         // probability in hundredths of a percent
        )
            .prop_map(|(row, cur, minor, prob)| {
                let currency = CODES[cur];
                let digits = money::minor_units(currency).unwrap();
                Item {
                    key: format!("row{row}"),
                    label: format!("Row {row}"),
                    order: (row as i64, 0),
                    deals: 1,
                    amount: Decimal::new(minor, digits),
                    currency: currency.into(),
                    probability: Decimal::new(i64::from(prob), 2),
                }
            })
    }

    fn rates_strategy() -> impl Strategy<Value = Vec<(String, Decimal)>> {
        // EUR is the base; each other currency may lack a rate.
        proptest::collection::vec(proptest::option::of(1i64..10_000_000), 3).prop_map(|r| {
            let mut out = vec![("EUR".to_string(), Decimal::ONE)];
            for (code, rate) in CODES[1..].iter().zip(r) {
                if let Some(rate) = rate {
                    // Up to 4 decimal places, 0.0001..1000.
                    out.push(((*code).into(), Decimal::new(rate, 4)));
                }
            }
            out
        })
    }

    /// The reference: per row, loop over the deals and add each one's
    /// figures, converting each deal on its own.
    type Reference = (
        BTreeMap<String, (Decimal, Decimal)>,
        Option<(Decimal, Decimal)>,
    );

    fn reference(items: &[Item], rates: &[(String, Decimal)], key: Option<&str>) -> Reference {
        let mut per = BTreeMap::new();
        let mut conv = Some((Decimal::ZERO, Decimal::ZERO));
        for item in items.iter().filter(|i| key.is_none_or(|k| i.key == k)) {
            let w = item.amount * item.probability / Decimal::ONE_HUNDRED;
            let e = per
                .entry(item.currency.clone())
                .or_insert((Decimal::ZERO, Decimal::ZERO));
            e.0 += item.amount;
            e.1 += w;
            match rates.iter().find(|(c, _)| *c == item.currency) {
                Some((_, r)) => {
                    if let Some((t, wt)) = conv.as_mut() {
                        *t += item.amount * r;
                        *wt += w * r;
                    }
                }
                None => conv = None,
            }
        }
        (per, conv)
    }

    fn check_row(
        row: &ForecastRow,
        items: &[Item],
        rates: &[(String, Decimal)],
        key: Option<&str>,
    ) {
        let (per, conv) = reference(items, rates, key);
        let got: BTreeMap<String, (Decimal, Decimal)> = row
            .currencies
            .iter()
            .map(|c| (c.currency.clone(), (c.total, c.weighted)))
            .collect();
        assert_eq!(got, per);
        match (&row.converted, conv) {
            (Some(c), Some((t, w))) => {
                assert_eq!(c.total, t);
                assert_eq!(c.weighted, w);
                assert!(row.missing_rates.is_empty());
            }
            (None, None) => assert!(!row.missing_rates.is_empty()),
            (got, want) => panic!("converted {got:?}, reference {want:?}"),
        }
    }

    proptest! {
        /// Acceptance 1: the forecast equals a straightforward Decimal
        /// computation, per row and in total, per currency and converted.
        #[test]
        fn forecast_arithmetic_is_exact(
            items in proptest::collection::vec(item_strategy(), 0..60),
            rates in rates_strategy(),
        ) {
            let f = compute(ForecastBy::Stage, &items, Some("EUR"), &rates).unwrap();
            check_row(&f.total, &items, &rates, None);
            prop_assert_eq!(f.total.deals as usize, items.len());
            let mut keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(f.rows.len(), keys.len());
            for row in &f.rows {
                check_row(row, &items, &rates, Some(&row.key));
            }
            // Rows in order.
            let order: Vec<&str> = f.rows.iter().map(|r| r.key.as_str()).collect();
            prop_assert_eq!(order, keys);
        }
    }

    #[test]
    fn a_missing_rate_is_reported_never_guessed() {
        let items = vec![
            Item {
                key: "a".into(),
                label: "A".into(),
                order: (0, 0),
                deals: 1,
                amount: dec("100"),
                currency: "EUR".into(),
                probability: dec("50"),
            },
            Item {
                key: "b".into(),
                label: "B".into(),
                order: (1, 0),
                deals: 1,
                amount: dec("10"),
                currency: "CHF".into(),
                probability: dec("10"),
            },
        ];
        let rates = vec![("EUR".to_string(), Decimal::ONE)];
        let f = compute(ForecastBy::Stage, &items, Some("EUR"), &rates).unwrap();
        assert_eq!(f.rows[0].converted.as_ref().unwrap().weighted, dec("50"));
        assert_eq!(f.rows[1].converted, None);
        assert_eq!(f.rows[1].missing_rates, ["CHF"]);
        assert_eq!(f.total.converted, None);
        assert_eq!(f.total.missing_rates, ["CHF"]);
        // Without a base currency nothing is converted and nothing is missing.
        let f = compute(ForecastBy::Stage, &items, None, &[]).unwrap();
        assert_eq!(f.total.converted, None);
        assert!(f.total.missing_rates.is_empty());
    }

    #[tokio::test]
    async fn the_store_forecast_by_stage_and_month() {
        let store = Store::open_in_memory().await.unwrap();
        money::set_base_currency(&store, "EUR").await.unwrap();
        money::set_rate(&store, "USD", "0.5").await.unwrap();
        let add = |title: &str, amount: &str, currency: &str, close: Option<&str>| DealInput {
            title: title.into(),
            amount: Some(amount.into()),
            currency: Some(currency.into()),
            expected_close: close.map(str::to_owned),
            ..Default::default()
        };
        let a = deals::create(&store, add("A", "1000", "EUR", Some("2026-12-15")))
            .await
            .unwrap();
        deals::create(&store, add("B", "300", "USD", Some("2026-12-01")))
            .await
            .unwrap();
        deals::create(&store, add("C", "99.99", "EUR", None))
            .await
            .unwrap();
        let lost = deals::create(&store, add("D", "5000", "EUR", Some("2026-12-01")))
            .await
            .unwrap();
        deals::close(&store, lost.summary.id, DealStatus::Lost, None)
            .await
            .unwrap();
        let won = deals::create(&store, add("E", "200", "EUR", Some("2027-03-01")))
            .await
            .unwrap();
        deals::close(&store, won.summary.id, DealStatus::Won, None)
            .await
            .unwrap();
        let sales = crate::pipelines::find(&store, "Sales").await.unwrap();
        deals::move_deal(&store, a.summary.id, sales.stages[3].id, None, None)
            .await
            .unwrap();

        let f = forecast(&store, &ForecastQuery::default()).await.unwrap();
        let labels: Vec<&str> = f.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Sales / Lead", "Sales / Negotiation", "Sales / Won"]
        );
        // Lead: C 99.99 EUR @10%, B 300 USD @10%.
        let lead = &f.rows[0];
        assert_eq!(lead.deals, 2);
        assert_eq!(lead.currencies[0].weighted, dec("9.999"));
        assert_eq!(lead.currencies[1].weighted, dec("30"));
        let conv = lead.converted.as_ref().unwrap();
        assert_eq!(conv.total, dec("249.99"));
        assert_eq!(conv.weighted, dec("24.999"));
        // Negotiation: A 1000 @75%; Won: E 200 @100%.
        assert_eq!(f.rows[1].currencies[0].weighted, dec("750"));
        assert_eq!(f.rows[2].currencies[0].weighted, dec("200"));
        let t = f.total.converted.as_ref().unwrap();
        assert_eq!(t.total, dec("1449.99"));
        // 9.999 + 30 × 0.5 + 750 + 200
        assert_eq!(t.weighted, dec("974.999"));

        let m = forecast(
            &store,
            &ForecastQuery {
                by: ForecastBy::Month,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let keys: Vec<&str> = m.rows.iter().map(|r| r.key.as_str()).collect();
        // The won deal counts in the month it closed (now), not 2027-03.
        let this_month = chrono::Utc::now().format("%Y-%m").to_string();
        let mut want = vec!["2026-12".to_string(), this_month];
        want.sort();
        want.dedup();
        want.push("none".into());
        assert_eq!(keys, want);
        assert_eq!(m.rows.last().unwrap().label, "No date");
    }
}
