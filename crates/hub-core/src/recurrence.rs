//! Recurring reminders: a subset of the RFC 5545 `RRULE`, computed in the
//! reminder's own IANA time zone.
//!
//! Supported: `FREQ=DAILY|WEEKLY|MONTHLY|YEARLY`, `INTERVAL=n`, `BYDAY=MO,WE,...`
//! (weekly rules only, no ordinals), and either `UNTIL` or `COUNT` — both is an
//! error, as in RFC 5545. Anything else (`BYMONTHDAY`, `BYSETPOS`, ...) is
//! refused with a message naming it, never ignored. A leading `RRULE:` is
//! accepted. The week starts on Monday (`WKST=MO`, the RFC's default).
//!
//! The rules this module decides, documented in docs/reminders.md:
//!
//! - **Wall-clock time is kept.** Every occurrence has the first occurrence's
//!   local time of day in the reminder's zone, so a 09:00 reminder stays at
//!   09:00 across a daylight-saving change (its UTC time moves by an hour).
//! - **Nonexistent local times** (the hour skipped when clocks go forward) are
//!   moved forward by the length of the gap, as RFC 5545 (3.3.5) says: 02:30 on
//!   the spring-forward day in Berlin is 03:30 CEST.
//! - **Ambiguous local times** (the hour repeated when clocks go back) are the
//!   first of the two, also per RFC 5545: 02:30 on the fall-back day in Berlin
//!   is 02:30 CEST (00:30 UTC), not CET.
//! - **Month ends are clamped, not skipped.** A monthly reminder on the 31st
//!   comes on the last day of shorter months (30 April, 28 or 29 February),
//!   and a yearly one on 29 February comes on 28 February in other years.
//!   RFC 5545 would skip those months; a CRM user who asks for "every month
//!   on the 31st" (pay-day, month-end report) expects one every month. The
//!   series is always computed from its first occurrence, so after a clamped
//!   February the next one is the 31st of March again, not the 28th.
//! - **The first occurrence is the series' start** (`DTSTART`) and counts
//!   towards `COUNT`, even when it does not match `BYDAY`.
//! - `UNTIL` is inclusive. Its RFC 5545 forms are accepted: `20261231T235959Z`
//!   (UTC), `20261231T235959` and `20261231` (local time in the reminder's
//!   zone; a date means "through that day"); RFC 3339 is accepted too.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

use crate::error::FieldError;

/// The input field recurrence errors are reported on.
const FIELD: &str = "rrule";
/// Largest `INTERVAL` and `COUNT` accepted: far beyond any real reminder,
/// small enough that no computation runs away.
const MAX_INTERVAL: u32 = 1000;
const MAX_COUNT: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    fn as_str(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    }
}

/// When a series ends (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// An instant: `...Z` or RFC 3339.
    Instant(DateTime<Utc>),
    /// A local date and time in the reminder's zone.
    Local(NaiveDateTime),
    /// Through the end of this local date.
    Date(NaiveDate),
}

/// A parsed recurrence rule. `Display` gives its canonical RRULE text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Freq,
    pub interval: u32,
    /// Weekly only; Monday-first order, no repeats.
    pub by_day: Vec<Weekday>,
    pub until: Option<Until>,
    pub count: Option<u32>,
}

fn err(message: impl Into<String>) -> FieldError {
    FieldError::new(FIELD, message)
}

fn parse_weekday(text: &str) -> Result<Weekday, FieldError> {
    Ok(match text {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        other
            if other.len() > 2
                && other
                    .get(other.len() - 2..)
                    .is_some_and(|d| d.chars().all(|c| c.is_ascii_alphabetic())) =>
        {
            return Err(err(format!(
                "BYDAY={other}: ordinal weekdays (like 1MO or -1FR) are not supported; use plain days such as MO,WE"
            )))
        }
        other => {
            return Err(err(format!(
                "BYDAY: \"{other}\" is not a weekday (MO, TU, WE, TH, FR, SA, SU)"
            )))
        }
    })
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn parse_until(text: &str) -> Result<Until, FieldError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Until::Instant(t.with_timezone(&Utc)));
    }
    if let Some(local) = text.strip_suffix('Z') {
        if let Ok(t) = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S") {
            return Ok(Until::Instant(t.and_utc()));
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S") {
        return Ok(Until::Local(t));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y%m%d") {
        return Ok(Until::Date(d));
    }
    Err(err(format!(
        "UNTIL={text} is not a date or time (use 20261231, 20261231T170000Z or RFC 3339)"
    )))
}

fn parse_number(key: &str, value: &str, max: u32) -> Result<u32, FieldError> {
    match value.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(err(format!(
            "{key}={value}: must be a whole number from 1 to {max}"
        ))),
    }
}

impl FromStr for Rule {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Rule, FieldError> {
        let body = text.trim();
        let body = match body.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &body[6..],
            _ => body,
        };
        if body.is_empty() {
            return Err(err("the rule is empty (e.g. FREQ=WEEKLY;BYDAY=MO)"));
        }
        let mut freq = None;
        let mut interval = None;
        let mut by_day: Option<Vec<Weekday>> = None;
        let mut until = None;
        let mut count = None;
        for part in body.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(err(format!("\"{part}\" is not NAME=VALUE")));
            };
            let key = key.trim().to_ascii_uppercase();
            let value = value.trim().to_ascii_uppercase();
            let seen = match key.as_str() {
                "FREQ" => freq
                    .replace(match value.as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        other => {
                            return Err(err(format!(
                                "FREQ={other} is not supported (DAILY, WEEKLY, MONTHLY or YEARLY)"
                            )))
                        }
                    })
                    .is_some(),
                "INTERVAL" => interval
                    .replace(parse_number("INTERVAL", &value, MAX_INTERVAL)?)
                    .is_some(),
                "COUNT" => count
                    .replace(parse_number("COUNT", &value, MAX_COUNT)?)
                    .is_some(),
                "UNTIL" => until.replace(parse_until(&value)?).is_some(),
                "BYDAY" => {
                    let mut days = Vec::new();
                    for d in value.split(',').map(str::trim) {
                        let day = parse_weekday(d)?;
                        if !days.contains(&day) {
                            days.push(day);
                        }
                    }
                    days.sort_by_key(|d| d.num_days_from_monday());
                    by_day.replace(days).is_some()
                }
                "WKST" if value == "MO" => false,
                "WKST" => {
                    return Err(err(
                        "WKST: only weeks starting on Monday (MO) are supported",
                    ))
                }
                "BYMONTHDAY" | "BYMONTH" | "BYYEARDAY" | "BYWEEKNO" | "BYSETPOS" | "BYHOUR"
                | "BYMINUTE" | "BYSECOND" => {
                    return Err(err(format!(
                        "{key} is not supported (supported: FREQ, INTERVAL, BYDAY, UNTIL, COUNT)"
                    )))
                }
                other => {
                    return Err(err(format!(
                        "unknown part {other} (supported: FREQ, INTERVAL, BYDAY, UNTIL, COUNT)"
                    )))
                }
            };
            if seen {
                return Err(err(format!("{key} is given twice")));
            }
        }
        let freq =
            freq.ok_or_else(|| err("FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)"))?;
        if until.is_some() && count.is_some() {
            return Err(err(
                "UNTIL and COUNT cannot both be given (RFC 5545): end the series by a date or after a number of times",
            ));
        }
        let by_day = by_day.unwrap_or_default();
        if !by_day.is_empty() && freq != Freq::Weekly {
            return Err(err(format!(
                "BYDAY is only supported with FREQ=WEEKLY (not {})",
                freq.as_str()
            )));
        }
        Ok(Rule {
            freq,
            interval: interval.unwrap_or(1),
            by_day,
            until,
            count,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FREQ={}", self.freq.as_str())?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| weekday_code(*d)).collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        match self.until {
            Some(Until::Instant(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ"))?,
            Some(Until::Local(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%S"))?,
            Some(Until::Date(d)) => write!(f, ";UNTIL={}", d.format("%Y%m%d"))?,
            None => {}
        }
        if let Some(count) = self.count {
            write!(f, ";COUNT={count}")?;
        }
        Ok(())
    }
}

/// A local wall-clock time in `tz` as an instant, by the RFC 5545 rules:
/// a time in a gap moves forward by the gap, an ambiguous one is the first.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Read the wall clock with the offset in force before the gap.
            use chrono::Offset;
            let before = local - Duration::hours(3);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.offset().fix(),
                LocalResult::None => tz.offset_from_utc_datetime(&before).fix(),
            };
            (local - Duration::seconds(offset.local_minus_utc().into())).and_utc()
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// `day` of the month `months` after (year, month), clamped to its last day.
fn clamped(year: i32, month: u32, day: u32, months: i64) -> Option<NaiveDate> {
    let index = i64::from(year) * 12 + i64::from(month - 1) + months;
    let y = i32::try_from(index.div_euclid(12)).ok()?;
    let m = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    NaiveDate::from_ymd_opt(y, m, day.min(days_in_month(y, m)))
}

impl Rule {
    /// The series' occurrences in order, from its first (`start`).
    pub fn occurrences(&self, start: DateTime<Utc>, tz: Tz) -> Occurrences<'_> {
        let local = start.with_timezone(&tz).naive_local();
        Occurrences {
            rule: self,
            tz,
            start,
            date: local.date(),
            time: local.time(),
            period: 0,
            queue: Vec::new(),
            emitted: 0,
            done: false,
        }
    }

    /// The first occurrence strictly after `after`, if the series has one.
    pub fn next_after(
        &self,
        start: DateTime<Utc>,
        tz: Tz,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.occurrences(start, tz).find(|t| *t > after)
    }

    /// The last instant the series may reach, for `start` in `tz`.
    fn until_instant(&self, tz: Tz) -> Option<DateTime<Utc>> {
        self.until.map(|u| match u {
            Until::Instant(t) => t,
            Until::Local(t) => resolve_local(tz, t),
            Until::Date(d) => match d.succ_opt() {
                Some(next) => {
                    resolve_local(tz, next.and_time(NaiveTime::MIN)) - Duration::milliseconds(1)
                }
                None => DateTime::<Utc>::MAX_UTC,
            },
        })
    }

    /// Refuse a rule whose end is before its own first occurrence.
    pub fn check_start(&self, start: DateTime<Utc>, tz: Tz) -> Result<(), FieldError> {
        match self.until_instant(tz) {
            Some(until) if until < start => {
                Err(err("UNTIL is before the first occurrence (the due time)"))
            }
            _ => Ok(()),
        }
    }

    /// "every 2 weeks on Mon, Wed, 5 times": for lists and notifications.
    pub fn describe(&self) -> String {
        let unit = match self.freq {
            Freq::Daily => "day",
            Freq::Weekly => "week",
            Freq::Monthly => "month",
            Freq::Yearly => "year",
        };
        let mut text = if self.interval == 1 {
            format!("every {unit}")
        } else {
            format!("every {} {unit}s", self.interval)
        };
        if !self.by_day.is_empty() {
            let days: Vec<String> = self.by_day.iter().map(|d| d.to_string()).collect();
            text.push_str(&format!(" on {}", days.join(", ")));
        }
        match self.until {
            Some(Until::Instant(t)) => {
                text.push_str(&format!(", until {}", t.format("%Y-%m-%d %H:%M UTC")))
            }
            Some(Until::Local(t)) => {
                text.push_str(&format!(", until {}", t.format("%Y-%m-%d %H:%M")))
            }
            Some(Until::Date(d)) => text.push_str(&format!(", until {}", d.format("%Y-%m-%d"))),
            None => {}
        }
        if let Some(n) = self.count {
            text.push_str(&format!(", {n} time{}", if n == 1 { "" } else { "s" }));
        }
        text
    }
}

/// Iterator over a series' occurrences (see [`Rule::occurrences`]).
pub struct Occurrences<'a> {
    rule: &'a Rule,
    tz: Tz,
    start: DateTime<Utc>,
    /// The first occurrence's local date and time of day.
    date: NaiveDate,
    time: NaiveTime,
    /// Index of the next period (day, week, month or year block) to expand.
    period: i64,
    /// Occurrences of the current period not yet returned, latest first.
    queue: Vec<DateTime<Utc>>,
    emitted: u32,
    done: bool,
}

impl Occurrences<'_> {
    /// Local dates of period `k` (k intervals after the start).
    fn dates(&self, k: i64) -> Vec<NaiveDate> {
        let step = k * i64::from(self.rule.interval);
        let d = self.date;
        match self.rule.freq {
            Freq::Daily => d
                .checked_add_signed(Duration::days(step))
                .into_iter()
                .collect(),
            Freq::Weekly if self.rule.by_day.is_empty() => d
                .checked_add_signed(Duration::weeks(step))
                .into_iter()
                .collect(),
            Freq::Weekly => {
                let monday = d - Duration::days(d.weekday().num_days_from_monday().into());
                let Some(week) = monday.checked_add_signed(Duration::weeks(step)) else {
                    return Vec::new();
                };
                self.rule
                    .by_day
                    .iter()
                    .map(|day| week + Duration::days(day.num_days_from_monday().into()))
                    .collect()
            }
            Freq::Monthly => clamped(d.year(), d.month(), d.day(), step)
                .into_iter()
                .collect(),
            Freq::Yearly => clamped(d.year(), d.month(), d.day(), step * 12)
                .into_iter()
                .collect(),
        }
    }
}

impl Iterator for Occurrences<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        if self.done {
            return None;
        }
        let until = self.rule.until_instant(self.tz);
        loop {
            if let Some(count) = self.rule.count {
                if self.emitted >= count {
                    self.done = true;
                    return None;
                }
            }
            let next = if self.emitted == 0 {
                // The first occurrence is the start itself (DTSTART).
                Some(self.start)
            } else {
                self.queue.pop()
            };
            let Some(next) = next else {
                // Expand the next period. Every period has at least one date
                // (months are clamped), so this always makes progress; a
                // period beyond chrono's range ends the series.
                let dates = self.dates(self.period);
                self.period += 1;
                if dates.is_empty() {
                    self.done = true;
                    return None;
                }
                let mut times: Vec<DateTime<Utc>> = dates
                    .into_iter()
                    .map(|d| resolve_local(self.tz, d.and_time(self.time)))
                    .filter(|t| *t > self.start)
                    .collect();
                times.sort();
                times.dedup();
                times.reverse();
                self.queue = times;
                continue;
            };
            if until.is_some_and(|u| next > u) {
                self.done = true;
                return None;
            }
            self.emitted += 1;
            return Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Europe::Berlin};

    fn rule(text: &str) -> Rule {
        text.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Local wall-clock times ("YYYY-MM-DD HH:MM" in `tz`) of the first `n` occurrences.
    fn local(rule_text: &str, start_local: &str, tz: Tz, n: usize) -> Vec<String> {
        let start = resolve_local(
            tz,
            NaiveDateTime::parse_from_str(start_local, "%Y-%m-%d %H:%M").unwrap(),
        );
        rule(rule_text)
            .occurrences(start, tz)
            .take(n)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
            .collect()
    }

    fn utc_times(rule_text: &str, start_local: &str, tz: Tz, n: usize) -> Vec<String> {
        let start = resolve_local(
            tz,
            NaiveDateTime::parse_from_str(start_local, "%Y-%m-%d %H:%M").unwrap(),
        );
        rule(rule_text)
            .occurrences(start, tz)
            .take(n)
            .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    #[test]
    fn daily_keeps_nine_oclock_across_spring_forward_in_berlin() {
        // Clocks go forward on Sunday 29 March 2026 in Europe/Berlin.
        assert_eq!(
            utc_times("FREQ=DAILY", "2026-03-28 09:00", Berlin, 3),
            [
                "2026-03-28T08:00Z",
                "2026-03-29T07:00Z",
                "2026-03-30T07:00Z"
            ]
        );
        assert_eq!(
            local("FREQ=DAILY", "2026-03-28 09:00", Berlin, 3),
            [
                "2026-03-28 09:00 CET",
                "2026-03-29 09:00 CEST",
                "2026-03-30 09:00 CEST"
            ]
        );
    }

    #[test]
    fn daily_keeps_nine_oclock_across_fall_back_in_new_york() {
        // Clocks go back on Sunday 1 November 2026 in America/New_York.
        assert_eq!(
            utc_times("FREQ=DAILY", "2026-10-31 09:00", New_York, 3),
            [
                "2026-10-31T13:00Z",
                "2026-11-01T14:00Z",
                "2026-11-02T14:00Z"
            ]
        );
    }

    #[test]
    fn weekly_by_weekday_across_dst_in_both_zones() {
        // Mondays and Thursdays at 08:30, spanning Berlin's 25 October 2026 change.
        assert_eq!(
            local("FREQ=WEEKLY;BYDAY=MO,TH", "2026-10-19 08:30", Berlin, 4),
            [
                "2026-10-19 08:30 CEST",
                "2026-10-22 08:30 CEST",
                "2026-10-26 08:30 CET",
                "2026-10-29 08:30 CET"
            ]
        );
        assert_eq!(
            utc_times("FREQ=WEEKLY;BYDAY=MO,TH", "2026-10-19 08:30", Berlin, 4),
            [
                "2026-10-19T06:30Z",
                "2026-10-22T06:30Z",
                "2026-10-26T07:30Z",
                "2026-10-29T07:30Z"
            ]
        );
        // New York springs forward on 8 March 2026; BYDAY given out of order.
        assert_eq!(
            utc_times("FREQ=WEEKLY;BYDAY=FR,TU", "2026-03-03 17:00", New_York, 4),
            [
                "2026-03-03T22:00Z",
                "2026-03-06T22:00Z",
                "2026-03-10T21:00Z",
                "2026-03-13T21:00Z"
            ]
        );
    }

    #[test]
    fn weekly_every_other_week_and_a_start_off_the_listed_days() {
        // Starts on a Wednesday: that is the first occurrence, then every
        // second week's Monday and Friday (the start's week counts as week 0).
        assert_eq!(
            local(
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR",
                "2026-06-03 10:00",
                Berlin,
                5
            ),
            [
                "2026-06-03 10:00 CEST",
                "2026-06-05 10:00 CEST",
                "2026-06-15 10:00 CEST",
                "2026-06-19 10:00 CEST",
                "2026-06-29 10:00 CEST"
            ]
        );
        // Without BYDAY: the start's weekday.
        assert_eq!(
            local("FREQ=WEEKLY", "2026-03-02 09:00", New_York, 3),
            [
                "2026-03-02 09:00 EST",
                "2026-03-09 09:00 EDT",
                "2026-03-16 09:00 EDT"
            ]
        );
    }

    #[test]
    fn monthly_on_the_31st_clamps_to_short_months_and_comes_back() {
        assert_eq!(
            local("FREQ=MONTHLY", "2026-01-31 09:00", Berlin, 6),
            [
                "2026-01-31 09:00 CET",
                "2026-02-28 09:00 CET",
                "2026-03-31 09:00 CEST",
                "2026-04-30 09:00 CEST",
                "2026-05-31 09:00 CEST",
                "2026-06-30 09:00 CEST"
            ]
        );
        // A leap year, in New York, across its March change.
        assert_eq!(
            utc_times("FREQ=MONTHLY", "2028-01-31 09:00", New_York, 4),
            [
                "2028-01-31T14:00Z",
                "2028-02-29T14:00Z",
                "2028-03-31T13:00Z",
                "2028-04-30T13:00Z"
            ]
        );
        // Every 3 months from 31 August: November has 30 days.
        assert_eq!(
            local("FREQ=MONTHLY;INTERVAL=3", "2026-08-31 18:00", Berlin, 3),
            [
                "2026-08-31 18:00 CEST",
                "2026-11-30 18:00 CET",
                "2027-02-28 18:00 CET"
            ]
        );
    }

    #[test]
    fn yearly_keeps_local_time_and_clamps_29_february() {
        assert_eq!(
            local("FREQ=YEARLY", "2026-03-29 09:00", Berlin, 3),
            [
                "2026-03-29 09:00 CEST",
                "2027-03-29 09:00 CEST",
                "2028-03-29 09:00 CEST"
            ]
        );
        // 2027-03-28 is Berlin's change day; 2026-03-28 is before it.
        assert_eq!(
            utc_times("FREQ=YEARLY", "2026-03-28 12:00", Berlin, 2),
            ["2026-03-28T11:00Z", "2027-03-28T10:00Z"]
        );
        assert_eq!(
            local("FREQ=YEARLY", "2028-02-29 08:00", New_York, 5),
            [
                "2028-02-29 08:00 EST",
                "2029-02-28 08:00 EST",
                "2030-02-28 08:00 EST",
                "2031-02-28 08:00 EST",
                "2032-02-29 08:00 EST"
            ]
        );
    }

    #[test]
    fn nonexistent_local_time_moves_forward_and_ambiguous_takes_the_first() {
        // 02:30 does not exist on 29 March 2026 in Berlin: 03:30 CEST.
        assert_eq!(
            local("FREQ=DAILY", "2026-03-28 02:30", Berlin, 3),
            [
                "2026-03-28 02:30 CET",
                "2026-03-29 03:30 CEST",
                "2026-03-30 02:30 CEST"
            ]
        );
        // 01:30 happens twice on 1 November 2026 in New York: the first (EDT).
        assert_eq!(
            utc_times("FREQ=DAILY", "2026-10-31 01:30", New_York, 3),
            [
                "2026-10-31T05:30Z",
                "2026-11-01T05:30Z",
                "2026-11-02T06:30Z"
            ]
        );
    }

    #[test]
    fn count_and_until_end_the_series() {
        let start = utc("2026-03-01T08:00:00Z");
        let daily_3: Vec<_> = rule("FREQ=DAILY;COUNT=3")
            .occurrences(start, Berlin)
            .collect();
        assert_eq!(daily_3.len(), 3);
        // UNTIL as a local date: through the end of 4 March in Berlin.
        let until: Vec<_> = rule("FREQ=DAILY;UNTIL=20260304")
            .occurrences(start, Berlin)
            .collect();
        assert_eq!(until.len(), 4);
        assert_eq!(until[3], utc("2026-03-04T08:00:00Z"));
        // UNTIL as a UTC instant is inclusive.
        let until: Vec<_> = rule("FREQ=DAILY;UNTIL=20260303T080000Z")
            .occurrences(start, Berlin)
            .collect();
        assert_eq!(until.len(), 3);
        // COUNT with BYDAY counts the start even off the listed days.
        let weekly: Vec<_> = rule("FREQ=WEEKLY;BYDAY=MO;COUNT=2")
            .occurrences(utc("2026-03-04T08:00:00Z"), Berlin)
            .collect();
        assert_eq!(
            weekly,
            [utc("2026-03-04T08:00:00Z"), utc("2026-03-09T08:00:00Z")]
        );
        assert_eq!(
            rule("FREQ=DAILY;COUNT=2").next_after(start, Berlin, utc("2026-03-02T08:00:00Z")),
            None
        );
        assert_eq!(
            rule("FREQ=DAILY").next_after(start, Berlin, utc("2026-03-02T08:00:00Z")),
            Some(utc("2026-03-03T08:00:00Z"))
        );
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let cases = [
            (
                "FREQ=DAILY;UNTIL=20261231;COUNT=3",
                "UNTIL and COUNT cannot both",
            ),
            ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
            ("INTERVAL=2", "FREQ is required"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0"),
            ("FREQ=DAILY;COUNT=-1", "COUNT=-1"),
            ("FREQ=MONTHLY;BYDAY=MO", "only supported with FREQ=WEEKLY"),
            ("FREQ=WEEKLY;BYDAY=1MO", "ordinal"),
            ("FREQ=WEEKLY;BYDAY=XX", "not a weekday"),
            ("FREQ=MONTHLY;BYMONTHDAY=15", "BYMONTHDAY is not supported"),
            ("FREQ=DAILY;FOO=1", "unknown part FOO"),
            ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
            ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL=TOMORROW"),
            ("", "empty"),
            ("FREQ", "not NAME=VALUE"),
        ];
        for (text, expected) in cases {
            let e = text.parse::<Rule>().unwrap_err();
            assert_eq!(e.field, "rrule");
            assert!(
                e.message.contains(expected),
                "{text}: {} does not mention {expected}",
                e.message
            );
        }
        let early = rule("FREQ=DAILY;UNTIL=20260101");
        assert!(early
            .check_start(utc("2026-03-01T08:00:00Z"), Berlin)
            .is_err());
        assert!(early
            .check_start(utc("2025-12-31T08:00:00Z"), Berlin)
            .is_ok());
    }

    #[test]
    fn canonical_text_round_trips() {
        for (given, canonical) in [
            (
                "rrule:freq=weekly;byday=we,mo;interval=1",
                "FREQ=WEEKLY;BYDAY=MO,WE",
            ),
            (
                "FREQ=MONTHLY;INTERVAL=2;COUNT=5",
                "FREQ=MONTHLY;INTERVAL=2;COUNT=5",
            ),
            (
                "FREQ=YEARLY;UNTIL=20301231T170000Z",
                "FREQ=YEARLY;UNTIL=20301231T170000Z",
            ),
            ("FREQ=DAILY;UNTIL=20301231", "FREQ=DAILY;UNTIL=20301231"),
        ] {
            let r = rule(given);
            assert_eq!(r.to_string(), canonical);
            assert_eq!(rule(canonical), r);
        }
        assert_eq!(
            rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=5").describe(),
            "every 2 weeks on Mon, Wed, 5 times"
        );
    }

    proptest::proptest! {
        /// Every series is strictly increasing, keeps its local time of day
        /// (unless it falls in a gap), and honours COUNT.
        #[test]
        fn occurrences_increase_and_keep_the_wall_clock(
            freq in 0usize..4,
            interval in 1u32..4,
            days in proptest::collection::vec(0u32..7, 0..4),
            start_day in 0i64..3000,
            minute in 0u32..(24 * 60),
            count in 1u32..40,
            zone in 0usize..2,
        ) {
            let tz = [Berlin, New_York][zone];
            let freq_text = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"][freq];
            let mut text = format!("FREQ={freq_text};INTERVAL={interval};COUNT={count}");
            if freq == 1 && !days.is_empty() {
                let codes: Vec<&str> = days.iter().map(|d| ["MO","TU","WE","TH","FR","SA","SU"][*d as usize]).collect();
                text.push_str(&format!(";BYDAY={}", codes.join(",")));
            }
            let r = rule(&text);
            let local_start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_time(NaiveTime::MIN)
                + Duration::days(start_day) + Duration::minutes(minute.into());
            let start = resolve_local(tz, local_start);
            let all: Vec<_> = r.occurrences(start, tz).collect();
            proptest::prop_assert_eq!(all.len(), count as usize);
            let wall = start.with_timezone(&tz).time();
            for pair in all.windows(2) {
                proptest::prop_assert!(pair[0] < pair[1]);
            }
            for t in &all {
                let local = t.with_timezone(&tz).naive_local();
                // Same wall time, or moved forward by a DST gap (at most 1 h).
                let back = resolve_local(tz, local.date().and_time(wall));
                proptest::prop_assert_eq!(*t, back);
            }
        }
    }
}
