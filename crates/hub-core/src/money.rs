//! Money: exact decimal amounts in ISO 4217 currencies, the team's base
//! currency and the exchange rates its users maintain.
//!
//! Amounts are `rust_decimal::Decimal`, stored as TEXT in plain form, never
//! floats. An amount has at most its currency's minor-unit digits (2 for EUR,
//! 0 for JPY, 3 for KWD) and is below 10^12, so a column of 10^6 deals still
//! sums exactly in 64-bit integers (see `amount_units`/`amount_micro` in
//! migration 0003) and a weighted sum stays well inside Decimal's 28 digits.
//!
//! The base currency is a *workspace* setting (a synced `workspace_setting`
//! row), not a device one: a team's forecast must mean the same on every
//! laptop, and a rate is only meaningful against the base it was entered for.
//! A rate says `1 currency = rate base`; a rate entered against another base
//! (the base changed since) is not used, and a missing rate is reported,
//! never guessed.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, WriteTx};
use crate::entities::EXCHANGE_RATE;
use crate::error::{Error, Result};
use crate::settings;
use crate::store::Store;

const NAMESPACE: Uuid = Uuid::from_u128(0x0c2d_6e4a_91f3_4b8e_a7d5_3f10_62b9_c8e1);

/// Amounts are below this (a trillion): see the module comment.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Rates: positive, below this, at most [`RATE_DIGITS`] decimal places.
const MAX_RATE: i64 = 1_000_000_000;
const RATE_DIGITS: u32 = 10;

/// The active ISO 4217 currency codes with their minor-unit digits (the
/// standard's list as of 2025, without precious metals, the SDR and the
/// testing codes, which have no minor unit).
pub const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An amount in a currency. JSON: `{"amount": "1234.50", "currency": "EUR"}`
/// (the amount is a string so no JSON reader turns it into a float).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Money {
    #[ts(type = "string")]
    pub amount: Decimal,
    pub currency: String,
}

/// The minor-unit digits of an ISO 4217 code (upper case), if it is one.
pub fn minor_units(code: &str) -> Option<u32> {
    CURRENCIES
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .map(|i| CURRENCIES[i].1)
}

/// `" eur "` -> `"EUR"`; an unknown code is a field error on `field`.
pub fn parse_currency(field: &str, text: &str) -> Result<String> {
    let code = text.trim().to_uppercase();
    if minor_units(&code).is_some() {
        Ok(code)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "\"{}\" is not an ISO 4217 currency code (such as EUR, USD, GBP, JPY)",
                text.trim()
            ),
        ))
    }
}

/// A decimal as people type it: `1234.5`, `1,234.50`, `1 234.50`; never
/// exponents or floats.
pub fn parse_decimal(field: &str, text: &str) -> Result<Decimal> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '_' && !c.is_whitespace())
        .collect();
    let plain = !cleaned.is_empty()
        && cleaned
            .strip_prefix('-')
            .unwrap_or(&cleaned)
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && cleaned.matches('.').count() <= 1;
    match Decimal::from_str(&cleaned) {
        Ok(d) if plain => Ok(d.normalize()),
        _ => Err(Error::invalid(
            field,
            format!("\"{}\" is not a number such as 1234.50", text.trim()),
        )),
    }
}

/// A deal amount in `currency` (already checked): >= 0, below
/// [`MAX_AMOUNT`], at most the currency's minor-unit digits.
pub fn check_amount(field: &str, amount: Decimal, currency: &str) -> Result<Decimal> {
    let digits = minor_units(currency).unwrap_or(2);
    let amount = amount.normalize();
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(Error::invalid(field, "An amount cannot be negative"));
    }
    if amount >= Decimal::from(MAX_AMOUNT) {
        return Err(Error::invalid(
            field,
            "Amounts are below 1,000,000,000,000 (a trillion)",
        ));
    }
    if amount.scale() > digits {
        return Err(Error::invalid(
            field,
            format!("{currency} amounts have at most {digits} decimal places"),
        ));
    }
    Ok(amount)
}

/// The stored text of an amount: plain, with the currency's minor digits
/// (`1234.50` EUR, `1200` JPY).
pub fn amount_text(amount: Decimal, currency: &str) -> String {
    let mut a = amount;
    a.rescale(minor_units(currency).unwrap_or(2));
    a.to_string()
}

/// A stored decimal text, or None when missing or unreadable.
pub fn stored(text: Option<&str>) -> Option<Decimal> {
    text.and_then(|t| Decimal::from_str(t).ok())
}

/// Exact `a + b`; an overflow is an error, never a wrapped or rounded value.
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(too_large)
}

/// Exact `a × b`; an overflow is an error.
pub fn mul(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(too_large)
}

/// `amount × percent / 100`, exact (a division by 100 only moves the scale).
pub fn weighted(amount: Decimal, percent: Decimal) -> Result<Decimal> {
    let mut w = mul(amount, percent)?;
    w.set_scale(w.scale() + 2).map_err(|_| too_large())?;
    Ok(w.normalize())
}

fn too_large() -> Error {
    Error::invalid("amount", "the total is too large to compute exactly")
}

// ---- the base currency ----------------------------------------------------

const BASE_CURRENCY: &str = "base_currency";

/// The team's base currency for converted totals, if one was set.
pub async fn base_currency(store: &Store) -> Result<Option<String>> {
    Ok(settings::get(store, BASE_CURRENCY)
        .await?
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|c| minor_units(c).is_some()))
}

/// Set the team's base currency (synced to every device).
pub async fn set_base_currency(store: &Store, code: &str) -> Result<String> {
    let code = parse_currency("base_currency", code)?;
    settings::set(store, BASE_CURRENCY, &json!(code)).await?;
    Ok(code)
}

// ---- exchange rates -------------------------------------------------------

/// `1 currency = rate base`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExchangeRate {
    pub currency: String,
    pub base: String,
    #[ts(type = "string")]
    pub rate: Decimal,
    pub updated_at: String,
    /// False when the rate was entered against another base than today's.
    pub current: bool,
}

fn rate_id(currency: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("rate/{currency}").as_bytes())
}

/// Set the rate of `currency` against the current base currency.
pub async fn set_rate(store: &Store, currency: &str, rate: &str) -> Result<ExchangeRate> {
    let currency = parse_currency("currency", currency)?;
    let rate = parse_decimal("rate", rate)?;
    if rate <= Decimal::ZERO || rate >= Decimal::from(MAX_RATE) {
        return Err(Error::invalid(
            "rate",
            "A rate is a positive number below 1,000,000,000",
        ));
    }
    if rate.scale() > RATE_DIGITS {
        return Err(Error::invalid(
            "rate",
            format!("A rate has at most {RATE_DIGITS} decimal places"),
        ));
    }
    let Some(base) = base_currency(store).await? else {
        return Err(Error::invalid(
            "base_currency",
            "Set the base currency first (hub rate base EUR)",
        ));
    };
    if base == currency {
        return Err(Error::invalid(
            "currency",
            format!("{currency} is the base currency; its rate is always 1"),
        ));
    }
    let id = rate_id(&currency);
    let now = now_rfc3339();
    let fields = vec![
        ("currency", json!(currency)),
        ("base", json!(base)),
        ("rate", json!(rate.to_string())),
        ("updated_at", json!(now)),
        ("deleted_at", Value::Null),
    ];
    let mut tx = store.write().await?;
    upsert(&mut tx, id, fields).await?;
    tx.commit().await?;
    Ok(ExchangeRate {
        currency,
        base,
        rate,
        updated_at: now,
        current: true,
    })
}

/// Forget the rate of `currency`; returns whether there was one.
pub async fn delete_rate(store: &Store, currency: &str) -> Result<bool> {
    let currency = parse_currency("currency", currency)?;
    let mut tx = store.write().await?;
    let deleted = match tx.delete(&EXCHANGE_RATE, rate_id(&currency)).await {
        Ok(d) => d,
        Err(Error::NotFound { .. }) => false,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(deleted)
}

async fn upsert(tx: &mut WriteTx, id: Uuid, fields: crate::changes::Fields) -> Result<()> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM exchange_rates WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    if exists.is_some() {
        tx.update(&EXCHANGE_RATE, id, fields).await?;
    } else {
        tx.insert(&EXCHANGE_RATE, id, fields).await?;
    }
    Ok(())
}

/// Every live rate, by currency.
pub async fn rates(store: &Store) -> Result<Vec<ExchangeRate>> {
    let base = base_currency(store).await?;
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT currency, base, rate, updated_at FROM exchange_rates
              WHERE deleted_at IS NULL ORDER BY currency",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(currency, rate_base, rate, updated_at)| {
            let rate_base = rate_base?;
            Some(ExchangeRate {
                current: base.as_deref() == Some(rate_base.as_str()),
                currency: currency?,
                base: rate_base,
                rate: stored(rate.as_deref())?,
                updated_at: updated_at.unwrap_or_default(),
            })
        })
        .collect())
}

/// Rates usable for conversion into `base`: the base itself at 1 and every
/// rate entered against it.
pub fn usable_rates(base: &str, rates: &[ExchangeRate]) -> Vec<(String, Decimal)> {
    let mut out = vec![(base.to_owned(), Decimal::ONE)];
    out.extend(
        rates
            .iter()
            .filter(|r| r.base == base && r.currency != base)
            .map(|r| (r.currency.clone(), r.rate)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_currency_list_is_sorted_unique_and_iso_shaped() {
        for w in CURRENCIES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for (code, digits) in CURRENCIES {
            assert!(code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()));
            assert!(*digits <= 4);
        }
        assert_eq!(minor_units("EUR"), Some(2));
        assert_eq!(minor_units("JPY"), Some(0));
        assert_eq!(minor_units("KWD"), Some(3));
        assert_eq!(minor_units("XXX"), None);
        assert_eq!(minor_units("eur"), None);
    }

    #[test]
    fn currencies_and_amounts_are_checked() {
        assert_eq!(parse_currency("c", " eur ").unwrap(), "EUR");
        let err = parse_currency("currency", "EUX").unwrap_err();
        assert_eq!(err.field_errors()[0].field, "currency");
        assert!(err.to_string().contains("ISO 4217"));

        assert_eq!(
            parse_decimal("a", "1,234.50").unwrap(),
            Decimal::new(12345, 1)
        );
        assert!(parse_decimal("a", "1e5").is_err());
        assert!(parse_decimal("a", "12.3.4").is_err());
        assert!(parse_decimal("a", "").is_err());
        assert!(parse_decimal("a", "NaN").is_err());

        let a = |t: &str, c: &str| check_amount("amount", parse_decimal("amount", t)?, c);
        assert_eq!(a("10.5", "EUR").unwrap(), Decimal::new(105, 1));
        assert!(a("-1", "EUR").is_err());
        assert!(a("10.001", "EUR").is_err());
        assert!(a("10.5", "JPY").is_err());
        assert!(a("10.125", "KWD").is_ok());
        assert!(a("1000000000000", "EUR").is_err());
        assert_eq!(amount_text(Decimal::new(105, 1), "EUR"), "10.50");
        assert_eq!(amount_text(Decimal::new(1200, 0), "JPY"), "1200");
    }

    #[test]
    fn weighting_is_exact() {
        let w = weighted(Decimal::new(99999, 2), Decimal::new(125, 1)).unwrap();
        // 999.99 × 12.5% = 124.99875
        assert_eq!(w, Decimal::from_str("124.99875").unwrap());
        assert_eq!(
            weighted(Decimal::from(7), Decimal::from(100)).unwrap(),
            Decimal::from(7)
        );
    }

    #[tokio::test]
    async fn rates_follow_the_base_currency() {
        let store = Store::open_in_memory().await.unwrap();
        assert_eq!(base_currency(&store).await.unwrap(), None);
        // No base yet: a rate has nothing to be against.
        let err = set_rate(&store, "USD", "0.9").await.unwrap_err();
        assert_eq!(err.field_errors()[0].field, "base_currency");

        set_base_currency(&store, "eur").await.unwrap();
        assert_eq!(base_currency(&store).await.unwrap().as_deref(), Some("EUR"));
        set_rate(&store, "usd", "0.92").await.unwrap();
        set_rate(&store, "USD", "0.91").await.unwrap();
        assert!(set_rate(&store, "EUR", "1").await.is_err());
        assert!(set_rate(&store, "USD", "-1").await.is_err());
        assert!(set_rate(&store, "ABC", "1").await.is_err());
        let all = rates(&store).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].rate, Decimal::from_str("0.91").unwrap());
        assert!(all[0].current);
        assert_eq!(
            usable_rates("EUR", &all),
            vec![
                ("EUR".into(), Decimal::ONE),
                ("USD".into(), Decimal::from_str("0.91").unwrap())
            ]
        );

        // A new base makes the old rates unusable (kept, marked).
        set_base_currency(&store, "GBP").await.unwrap();
        let all = rates(&store).await.unwrap();
        assert!(!all[0].current);
        assert_eq!(usable_rates("GBP", &all).len(), 1);

        assert!(delete_rate(&store, "USD").await.unwrap());
        assert!(!delete_rate(&store, "USD").await.unwrap());
        assert!(rates(&store).await.unwrap().is_empty());
        // One row per setting and per currency, whatever the number of edits.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM workspace_settings")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}
