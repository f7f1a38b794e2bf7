//! iCalendar (RFC 5545) export of open reminders and stay-in-touch
//! follow-ups, for calendar apps (Google Calendar, Apple Calendar, Outlook,
//! Thunderbird). See docs/vcard-ical.md for the choices:
//!
//! - Each item is a **VEVENT with a VALARM** (ACTION:DISPLAY at the start),
//!   not a VTODO: Google Calendar and Outlook import VEVENTs only, and a
//!   VTODO with RRULE is handled inconsistently where it is supported.
//!   Events are 15 minutes long and TRANSP:TRANSPARENT (they do not make
//!   the user busy).
//! - Times are written in the reminder's own IANA zone (`DTSTART;TZID=...`)
//!   with a VTIMEZONE per zone, generated from the tz database: its
//!   transitions over the exported span, as yearly RRULEs when they follow
//!   one (every zone with today's DST rules), else one observance per
//!   transition. UTC is written as `...Z` with no VTIMEZONE.
//! - A recurring reminder is one event from its open occurrence, with the
//!   series' RRULE (COUNT reduced by the occurrences already past; UNTIL in
//!   UTC, as RFC 5545 requires with a TZID). Our monthly rule clamps the
//!   29th–31st to shorter months' last day; that is written as
//!   `BYMONTHDAY=28,29,30;BYSETPOS=-1` (or `BYMONTHDAY=-1` for the 31st) so
//!   calendars show the same days.
//! - UIDs are stable (`<reminder id>@customer-hub`,
//!   `stay-in-touch-<contact id>@customer-hub`): importing the file again, or
//!   subscribing to it, updates events instead of duplicating them.

use std::collections::BTreeSet;
use std::io::Write;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use serde::Serialize;

use crate::error::Result;
use crate::recurrence::{resolve_local, Freq, Rule, Until};
use crate::reminders::{self, Reminder, ReminderQuery, StatusFilter};
use crate::stay_in_touch::{self, DueContact};
use crate::store::Store;
use crate::vcard::write::fold;

pub const PRODID: &str = "-//Customer Hub//Customer Hub//EN";
/// How long an exported reminder lasts in a calendar.
const EVENT_MINUTES: i64 = 15;

/// What to export.
#[derive(Debug, Clone)]
pub struct IcsOptions {
    /// Only reminders assigned to this user (None: every open reminder).
    pub assignee: Option<String>,
    /// Include stay-in-touch follow-ups.
    pub follow_ups: bool,
    /// Zone of the follow-ups (they have no zone of their own): usually
    /// this computer's ([`reminders::local_zone`]).
    pub follow_up_tz: Tz,
    /// DTSTAMP.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IcsSummary {
    pub reminders: u64,
    pub follow_ups: u64,
    /// The zones given a VTIMEZONE.
    pub zones: Vec<String>,
}

/// Escape a TEXT value (RFC 5545 3.3.11).
pub fn escape(text: &str) -> String {
    crate::vcard::write::escape(text)
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// `DTSTART;TZID=Europe/Berlin:20261130T090000`, or `...Z` for UTC.
fn time_prop(name: &str, t: DateTime<Utc>, tz: Tz) -> String {
    if tz == Tz::UTC {
        format!("{name}:{}", utc_stamp(t))
    } else {
        format!(
            "{name};TZID={}:{}",
            tz.name(),
            local_stamp(t.with_timezone(&tz).naive_local())
        )
    }
}

fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// The RRULE of a reminder's series from its open occurrence `from`.
/// None when the series has no occurrence left after `from` (then the event
/// is a one-off).
pub fn rrule_from(rule: &Rule, starts_at: DateTime<Utc>, tz: Tz, from: DateTime<Utc>) -> String {
    let mut parts = vec![format!(
        "FREQ={}",
        match rule.freq {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    )];
    if rule.interval != 1 {
        parts.push(format!("INTERVAL={}", rule.interval));
    }
    if !rule.by_day.is_empty() {
        let days: Vec<&str> = rule.by_day.iter().map(|d| weekday_code(*d)).collect();
        parts.push(format!("BYDAY={}", days.join(",")));
    }
    // Month-end clamping, in RFC 5545 terms.
    let start = starts_at.with_timezone(&tz).naive_local().date();
    let clamp = |day: u32| match day {
        31 => "BYMONTHDAY=-1".to_owned(),
        29 | 30 => format!(
            "BYMONTHDAY={};BYSETPOS=-1",
            (28..=day)
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => String::new(),
    };
    match rule.freq {
        Freq::Monthly if start.day() > 28 => parts.push(clamp(start.day())),
        Freq::Yearly if start.month() == 2 && start.day() == 29 => {
            parts.push("BYMONTH=2".into());
            parts.push(clamp(29));
        }
        _ => {}
    }
    if let Some(until) = rule.until {
        let instant = match until {
            Until::Instant(t) => t,
            Until::Local(t) => resolve_local(tz, t),
            Until::Date(d) => match d.succ_opt() {
                Some(next) => {
                    resolve_local(tz, next.and_time(NaiveTime::MIN)) - Duration::seconds(1)
                }
                None => DateTime::<Utc>::MAX_UTC,
            },
        };
        parts.push(format!("UNTIL={}", utc_stamp(instant)));
    }
    if let Some(count) = rule.count {
        // Occurrences before the open one are past (done).
        let past = rule
            .occurrences(starts_at, tz)
            .take_while(|t| *t < from)
            .take(count as usize)
            .count() as u32;
        parts.push(format!("COUNT={}", count.saturating_sub(past).max(1)));
    }
    parts.join(";")
}

fn reminder_event(r: &Reminder, now: DateTime<Utc>) -> Vec<String> {
    let tz = r.tz.parse::<Tz>().unwrap_or(Tz::UTC);
    let mut lines = vec![
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@customer-hub", r.id),
        format!("DTSTAMP:{}", utc_stamp(now)),
        format!("CREATED:{}", utc_stamp(r.created_at)),
        time_prop("DTSTART", r.due_at, tz),
        time_prop("DTEND", r.due_at + Duration::minutes(EVENT_MINUTES), tz),
        format!("SUMMARY:{}", escape(&r.title)),
    ];
    let mut description = Vec::new();
    if let Some(n) = &r.notes {
        description.push(n.clone());
    }
    for (label, value) in [
        ("Contact", &r.contact_name),
        ("Deal", &r.deal_title),
        ("Ticket", &r.ticket_subject),
        ("Assigned to", &r.assignee),
    ] {
        if let Some(v) = value {
            description.push(format!("{label}: {v}"));
        }
    }
    if !description.is_empty() {
        lines.push(format!("DESCRIPTION:{}", escape(&description.join("\n"))));
    }
    if let Some(rule) = r.rrule.as_deref().and_then(|t| t.parse::<Rule>().ok()) {
        if rule.next_after(r.starts_at, tz, r.due_at).is_some() {
            lines.push(format!(
                "RRULE:{}",
                rrule_from(&rule, r.starts_at, tz, r.due_at)
            ));
        }
    }
    lines.push("CATEGORIES:Customer Hub,Reminder".into());
    lines.push("TRANSP:TRANSPARENT".into());
    lines.push("BEGIN:VALARM".into());
    lines.push("ACTION:DISPLAY".into());
    lines.push(format!("DESCRIPTION:{}", escape(&r.title)));
    match r.snoozed_until {
        // Snoozed: the alarm rings when the snooze ends.
        Some(s) if s > r.due_at => lines.push(format!("TRIGGER;VALUE=DATE-TIME:{}", utc_stamp(s))),
        _ => lines.push("TRIGGER:PT0M".into()),
    }
    lines.push("END:VALARM".into());
    lines.push("END:VEVENT".into());
    lines
}

fn follow_up_event(c: &DueContact, tz: Tz, now: DateTime<Utc>) -> Vec<String> {
    let title = format!("Get in touch with {}", c.display_name);
    let mut description = format!("Stay in touch every {} days.", c.every_days);
    if let Some(last) = c.last_interaction {
        description.push_str(&format!(
            "\nLast call, email or meeting: {}.",
            last.with_timezone(&tz).format("%Y-%m-%d")
        ));
    }
    vec![
        "BEGIN:VEVENT".to_owned(),
        format!("UID:stay-in-touch-{}@customer-hub", c.contact_id),
        format!("DTSTAMP:{}", utc_stamp(now)),
        time_prop("DTSTART", c.next_due, tz),
        time_prop("DTEND", c.next_due + Duration::minutes(EVENT_MINUTES), tz),
        format!("SUMMARY:{}", escape(&title)),
        format!("DESCRIPTION:{}", escape(&description)),
        "CATEGORIES:Customer Hub,Stay in touch".into(),
        "TRANSP:TRANSPARENT".into(),
        "BEGIN:VALARM".into(),
        "ACTION:DISPLAY".into(),
        format!("DESCRIPTION:{}", escape(&title)),
        "TRIGGER:PT0M".into(),
        "END:VALARM".into(),
        "END:VEVENT".into(),
    ]
}

/// One offset change of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transition {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    dst: bool,
    name: String,
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> (i32, bool, String) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    let total = o.fix().local_minus_utc();
    let dst = !o.dst_offset().is_zero();
    let name = o
        .abbreviation()
        .map(str::to_owned)
        .unwrap_or_else(|| offset_text(total));
    (total, dst, name)
}

/// `+0100`, `-0330`, `+053028` (RFC 5545 UTC-OFFSET).
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// Every offset change of `tz` in [from, to): day steps, then a binary
/// search to the second.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let mut out = Vec::new();
    let mut t = from;
    let mut cur = offset_at(tz, t);
    while t < to {
        let next = t + Duration::hours(12);
        let there = offset_at(tz, next);
        if there != cur {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == cur {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            if there.0 != cur.0 || there.1 != cur.1 {
                out.push(Transition {
                    at: hi,
                    from: cur.0,
                    to: there.0,
                    dst: there.1,
                    name: there.2.clone(),
                });
            }
            cur = there;
        }
        t = next;
    }
    out
}

/// A transition's yearly rule: month, weekday, nth (or -1 for the last),
/// local time before the change.
fn yearly_key(t: &Transition) -> (u32, Weekday, i32, bool, NaiveTime) {
    let local = (t.at + Duration::seconds(i64::from(t.from))).naive_utc();
    let d = local.date();
    let nth = ((d.day() - 1) / 7 + 1) as i32;
    let days_in_month = (28..=31)
        .rev()
        .find(|day| NaiveDate::from_ymd_opt(d.year(), d.month(), *day).is_some())
        .unwrap_or(28);
    let last = d.day() + 7 > days_in_month;
    (d.month(), d.weekday(), nth, last, local.time())
}

/// The VTIMEZONE of `tz`, valid for times in [from, to].
pub fn vtimezone(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let start = from - Duration::days(366);
    let end = to.max(from) + Duration::days(3 * 366);
    let all = transitions(tz, start, end);
    let mut lines = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", tz.name())];
    let component = |lines: &mut Vec<String>, t: &Transition, rrule: Option<String>| {
        let kind = if t.dst { "DAYLIGHT" } else { "STANDARD" };
        let local = (t.at + Duration::seconds(i64::from(t.from))).naive_utc();
        lines.push(format!("BEGIN:{kind}"));
        lines.push(format!("DTSTART:{}", local_stamp(local)));
        if let Some(r) = rrule {
            lines.push(format!("RRULE:{r}"));
        }
        lines.push(format!("TZOFFSETFROM:{}", offset_text(t.from)));
        lines.push(format!("TZOFFSETTO:{}", offset_text(t.to)));
        lines.push(format!("TZNAME:{}", escape(&t.name)));
        lines.push(format!("END:{kind}"));
    };
    if all.is_empty() {
        let (offset, dst, name) = offset_at(tz, from);
        component(
            &mut lines,
            &Transition {
                at: DateTime::<Utc>::UNIX_EPOCH,
                from: offset,
                to: offset,
                dst,
                name,
            },
            None,
        );
    } else {
        // The offset before the first change, from the start of the span.
        let first = &all[0];
        component(
            &mut lines,
            &Transition {
                at: start - Duration::seconds(i64::from(first.from)),
                from: first.from,
                to: first.from,
                dst: offset_at(tz, start).1,
                name: offset_at(tz, start).2,
            },
            None,
        );
        // Each kind of change (into DST, out of it) as one yearly rule when
        // every one in the span follows it — the usual case — else each
        // change on its own. The rule's own last year is left open: the
        // zone's current rules go on.
        for dst in [true, false] {
            let group: Vec<&Transition> = all.iter().filter(|t| t.dst == dst).collect();
            let Some(head) = group.first() else { continue };
            let keys: Vec<_> = group.iter().map(|t| yearly_key(t)).collect();
            let k0 = keys[0];
            let same_offsets = group.iter().all(|t| t.from == head.from && t.to == head.to);
            let same_when = keys
                .iter()
                .all(|k| k.0 == k0.0 && k.1 == k0.1 && k.4 == k0.4);
            let yearly = group.len() >= 2
                && same_offsets
                && same_when
                && group
                    .windows(2)
                    .all(|w| w[1].at.year() == w[0].at.year() + 1);
            let by_day = if keys.iter().all(|k| k.3) {
                Some(-1)
            } else if keys.iter().all(|k| k.2 == k0.2) {
                Some(k0.2)
            } else {
                None
            };
            match (yearly, by_day) {
                (true, Some(n)) => component(
                    &mut lines,
                    head,
                    Some(format!(
                        "FREQ=YEARLY;BYMONTH={};BYDAY={n}{}",
                        k0.0,
                        weekday_code(k0.1)
                    )),
                ),
                _ => {
                    for t in group {
                        component(&mut lines, t, None);
                    }
                }
            }
        }
    }
    lines.push("END:VTIMEZONE".into());
    lines
}

/// A calendar of these reminders and follow-ups (pure: no store).
pub fn calendar(
    reminders: &[Reminder],
    follow_ups: &[DueContact],
    follow_up_tz: Tz,
    now: DateTime<Utc>,
) -> (String, Vec<String>) {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".into(),
        format!("PRODID:{PRODID}"),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        "X-WR-CALNAME:Customer Hub".into(),
    ];
    // Each zone's span: its events' first and last times.
    let mut zones: BTreeSet<String> = BTreeSet::new();
    let mut spans: Vec<(Tz, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut note = |tz: Tz, t: DateTime<Utc>| {
        if tz == Tz::UTC {
            return;
        }
        zones.insert(tz.name().to_owned());
        match spans.iter_mut().find(|(z, _, _)| *z == tz) {
            Some((_, lo, hi)) => {
                *lo = (*lo).min(t);
                *hi = (*hi).max(t);
            }
            None => spans.push((tz, t, t)),
        }
    };
    for r in reminders {
        note(r.tz.parse::<Tz>().unwrap_or(Tz::UTC), r.due_at);
    }
    for c in follow_ups {
        note(follow_up_tz, c.next_due);
    }
    spans.sort_by_key(|(tz, _, _)| tz.name());
    for (tz, lo, hi) in &spans {
        lines.extend(vtimezone(*tz, *lo, *hi));
    }
    for r in reminders {
        lines.extend(reminder_event(r, now));
    }
    for c in follow_ups {
        lines.extend(follow_up_event(c, follow_up_tz, now));
    }
    lines.push("END:VCALENDAR".into());
    (
        lines.iter().map(|l| fold(l)).collect(),
        zones.into_iter().collect(),
    )
}

/// Write the open reminders (and follow-ups) as an iCalendar file.
pub async fn export<W: Write + ?Sized>(
    store: &Store,
    options: &IcsOptions,
    out: &mut W,
) -> Result<IcsSummary> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = reminders::list(
            store,
            &ReminderQuery {
                status: StatusFilter::Open,
                assignee: options.assignee.clone(),
                offset,
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await?;
        let n = page.len() as u32;
        all.extend(page);
        if n < 1000 {
            break;
        }
        offset += n;
    }
    let follow_ups = if options.follow_ups {
        // Every contact with stay-in-touch on: their next follow-up is at
        // most MAX_DAYS after their last interaction.
        let horizon = options.now + Duration::days(i64::from(stay_in_touch::MAX_DAYS) + 1);
        stay_in_touch::due(store, horizon, u32::MAX).await?
    } else {
        Vec::new()
    };
    let (text, zones) = calendar(&all, &follow_ups, options.follow_up_tz, options.now);
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(IcsSummary {
        reminders: all.len() as u64,
        follow_ups: follow_ups.len() as u64,
        zones,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn berlin_gets_yearly_rules_on_the_last_sundays() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let lines = vtimezone(tz, utc("2026-11-30T08:00:00Z"), utc("2026-12-30T08:00:00Z"));
        let text = lines.join("\n");
        assert!(text.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST"), "{text}");
        assert!(text.contains("BEGIN:STANDARD\nDTSTART:20261025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET"), "{text}");
    }

    #[test]
    fn new_york_uses_the_second_and_first_sundays() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let text =
            vtimezone(tz, utc("2026-06-01T12:00:00Z"), utc("2026-06-01T12:00:00Z")).join("\n");
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
            "{text}"
        );
    }

    #[test]
    fn zones_without_dst_have_one_observance() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let text =
            vtimezone(tz, utc("2026-06-01T12:00:00Z"), utc("2026-06-01T12:00:00Z")).join("\n");
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(text.contains("TZOFFSETTO:+0530"), "{text}");
        assert!(!text.contains("DAYLIGHT"));
    }

    #[test]
    fn month_end_series_are_clamped_the_rfc_way() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let rule: Rule = "FREQ=MONTHLY;COUNT=12".parse().unwrap();
        let start = utc("2027-01-31T08:00:00Z");
        let second = rule.next_after(start, tz, start).unwrap();
        assert_eq!(
            rrule_from(&rule, start, tz, second),
            "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=11"
        );
        let rule: Rule = "FREQ=MONTHLY;UNTIL=20271231".parse().unwrap();
        let start = utc("2027-01-30T08:00:00Z");
        assert_eq!(
            rrule_from(&rule, start, tz, start),
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1;UNTIL=20271231T225959Z"
        );
        let rule: Rule = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE".parse().unwrap();
        assert_eq!(
            rrule_from(&rule, start, tz, start),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE"
        );
    }

    /// A Python with the `icalendar` package: `$HUB_PYTHON`, `python3`, or
    /// Debian's /usr/bin/python3 (what `make test` installs python3-icalendar
    /// into). Missing is a failure, not a skip.
    fn python_with_icalendar() -> String {
        let candidates: Vec<String> = std::env::var("HUB_PYTHON")
            .ok()
            .into_iter()
            .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()])
            .collect();
        for python in &candidates {
            let ok = std::process::Command::new(python)
                .args(["-c", "import icalendar"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return python.clone();
            }
        }
        panic!(
            "no Python with the icalendar package among {candidates:?}: install python3-icalendar \
             (scripts/setup.sh does for make test) or set HUB_PYTHON"
        );
    }

    /// What Python's icalendar reads from our file: each event's start as
    /// icalendar resolves it (TZID through pytz), the same local time read
    /// through *our* VTIMEZONE, the first occurrences of its RRULE (dateutil)
    /// read through our VTIMEZONE, and the alarm.
    const READER: &str = r#"
import sys, json, datetime
from icalendar import Calendar
from dateutil.rrule import rrulestr
cal = Calendar.from_ical(sys.stdin.buffer.read())
assert cal['VERSION'] == '2.0' and 'PRODID' in cal
own = {str(z['TZID']): z.to_tz() for z in cal.walk('VTIMEZONE')}
utc = datetime.timezone.utc
def via_own(tzid, naive):
    return own[tzid].localize(naive).astimezone(utc).isoformat() if tzid else None
events = []
for ev in cal.walk('VEVENT'):
    start = ev['DTSTART']
    tzid = start.params.get('TZID')
    dt = start.dt
    naive = dt.replace(tzinfo=None)
    occurrences = []
    if 'RRULE' in ev:
        rule = ev['RRULE'].to_ical().decode()
        for t in rrulestr(rule, dtstart=naive)[:6] if 'COUNT' in rule or 'UNTIL' in rule else list(__import__('itertools').islice(rrulestr(rule, dtstart=naive), 6)):
            occurrences.append(via_own(tzid, t) if tzid else t.replace(tzinfo=utc).isoformat())
    alarms = ev.walk('VALARM')
    events.append({
        'uid': str(ev['UID']),
        'summary': str(ev['SUMMARY']),
        'description': str(ev.get('DESCRIPTION', '')),
        'tzid': tzid,
        'start_utc': dt.astimezone(utc).isoformat(),
        'start_via_own_vtimezone': via_own(tzid, naive),
        'end_utc': ev['DTEND'].dt.astimezone(utc).isoformat(),
        'rrule': ev['RRULE'].to_ical().decode() if 'RRULE' in ev else None,
        'occurrences': occurrences,
        'alarm': (lambda t: t.total_seconds() if isinstance(t, datetime.timedelta) else t.astimezone(utc).isoformat())(alarms[0]['TRIGGER'].dt) if alarms else None,
        'action': str(alarms[0]['ACTION']) if alarms else None,
    })
print(json.dumps({'zones': sorted(own), 'events': events}))
"#;

    fn read_with_python(ics: &str) -> serde_json::Value {
        use std::io::Write as _;
        let mut child = std::process::Command::new(python_with_icalendar())
            .args(["-c", READER])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ics.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "icalendar refused our file: {}\n{ics}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[tokio::test]
    async fn python_icalendar_reads_our_times_zones_and_rules() {
        use crate::contacts::{self, ContactInput};
        use crate::reminders::ReminderInput;
        let store = Store::open_in_memory().await.unwrap();
        let now = utc("2026-10-20T10:00:00Z");
        let ada = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada, \"the\"; Countess".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let add = |title: &str, due: &str, tz: &str, rrule: Option<&str>| ReminderInput {
            title: title.into(),
            due: due.into(),
            tz: Some(tz.into()),
            rrule: rrule.map(str::to_owned),
            contact_id: Some(ada.id),
            notes: Some("Line one\nLine two, with; punctuation".into()),
            ..Default::default()
        };
        for input in [
            // Daily at 09:00 Berlin across the end of summer time (25 Oct).
            add(
                "Stand-up",
                "2026-10-23T09:00",
                "Europe/Berlin",
                Some("FREQ=DAILY;COUNT=5"),
            ),
            add("Call NYC", "2026-11-02T09:30", "America/New_York", None),
            add("Ping Pune", "2026-12-01T18:00", "Asia/Kolkata", None),
            add(
                "Month end",
                "2027-01-31T17:00",
                "Europe/Berlin",
                Some("FREQ=MONTHLY"),
            ),
            add("In UTC", "2026-11-05T12:00", "UTC", None),
        ] {
            reminders::add(&store, &input, now).await.unwrap();
        }
        // A done one is not exported.
        let done = reminders::add(&store, &add("Done", "2026-10-21T09:00", "UTC", None), now)
            .await
            .unwrap();
        reminders::done(&store, done.id, now).await.unwrap();
        stay_in_touch::set(&store, ada.id, Some(30)).await.unwrap();

        let mut out = Vec::new();
        let summary = export(
            &store,
            &IcsOptions {
                assignee: None,
                follow_ups: true,
                follow_up_tz: "Europe/London".parse().unwrap(),
                now,
            },
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!((summary.reminders, summary.follow_ups), (5, 1));
        let ics = String::from_utf8(out).unwrap();
        assert!(ics.lines().all(|l| l.len() <= 76), "folded");
        assert!(ics.split("\r\n").all(|l| !l.contains('\n')), "CRLF only");
        let parsed = read_with_python(&ics);
        assert_eq!(
            parsed["zones"],
            serde_json::json!([
                "America/New_York",
                "Asia/Kolkata",
                "Europe/Berlin",
                "Europe/London"
            ])
        );
        let events = parsed["events"].as_array().unwrap();
        assert_eq!(events.len(), 6);
        let ev = |summary: &str| {
            events
                .iter()
                .find(|e| e["summary"].as_str().unwrap().starts_with(summary))
                .unwrap_or_else(|| panic!("no {summary} in {events:?}"))
        };
        // Each start, as icalendar resolves the IANA TZID and as our own
        // VTIMEZONE gives it, is the same instant.
        for (summary, tzid, utc_start) in [
            (
                "Stand-up",
                Some("Europe/Berlin"),
                "2026-10-23T07:00:00+00:00",
            ),
            (
                "Call NYC",
                Some("America/New_York"),
                "2026-11-02T14:30:00+00:00",
            ),
            (
                "Ping Pune",
                Some("Asia/Kolkata"),
                "2026-12-01T12:30:00+00:00",
            ),
            (
                "Month end",
                Some("Europe/Berlin"),
                "2027-01-31T16:00:00+00:00",
            ),
            ("In UTC", None, "2026-11-05T12:00:00+00:00"),
        ] {
            let e = ev(summary);
            assert_eq!(e["tzid"].as_str(), tzid, "{summary}");
            assert_eq!(e["start_utc"], utc_start, "{summary}");
            if tzid.is_some() {
                assert_eq!(e["start_via_own_vtimezone"], utc_start, "{summary}");
            }
            assert_eq!(e["action"], "DISPLAY");
            assert_eq!(e["alarm"], 0.0, "{summary}: rings at the start");
            assert!(e["uid"].as_str().unwrap().ends_with("@customer-hub"));
        }
        assert_eq!(ev("Call NYC")["end_utc"], "2026-11-02T14:45:00+00:00");
        assert_eq!(
            ev("Call NYC")["description"],
            "Line one\nLine two, with; punctuation\nContact: Ada, \"the\"; Countess\nAssigned to: me"
                .replace("me", &crate::users::current(&store).await.unwrap())
        );
        // The daily series keeps 09:00 Berlin: 07:00 UTC in summer time,
        // 08:00 UTC from 25 October.
        assert_eq!(
            ev("Stand-up")["occurrences"],
            serde_json::json!([
                "2026-10-23T07:00:00+00:00",
                "2026-10-24T07:00:00+00:00",
                "2026-10-25T08:00:00+00:00",
                "2026-10-26T08:00:00+00:00",
                "2026-10-27T08:00:00+00:00"
            ])
        );
        // Month ends as our rule computes them, through dateutil and our VTIMEZONE.
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let ours: Vec<String> = "FREQ=MONTHLY"
            .parse::<Rule>()
            .unwrap()
            .occurrences(utc("2027-01-31T16:00:00Z"), tz)
            .take(6)
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(ev("Month end")["occurrences"], serde_json::json!(ours));
        assert_eq!(ours[1], "2027-02-28T16:00:00+00:00");
        assert_eq!(ours[2], "2027-03-31T15:00:00+00:00");
        // The follow-up: 30 days after the contact was created, in London.
        let follow = ev("Get in touch with Ada");
        assert_eq!(follow["tzid"], "Europe/London");
        let due = stay_in_touch::get(&store, ada.id)
            .await
            .unwrap()
            .next_due
            .unwrap();
        let want = due
            .with_timezone(&Utc)
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string();
        assert_eq!(follow["start_utc"], want);
        assert_eq!(follow["start_via_own_vtimezone"], want);
    }
}
