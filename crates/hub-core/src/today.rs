//! The Today view: what the current user ([`users::current`]) has to do now,
//! in one call.
//!
//! - **Overdue**: my open reminders that rang before `now` (the time they
//!   ring next: snoozed-until, else due), most overdue first.
//! - **Due today**: my open reminders ringing from `now` until the end of
//!   today on the wall clock of the user's time zone, earliest first.
//! - **Stale deals**: my open deals (owner = me) that the deals module flags
//!   as stale — idle in their stage past its rotting limit, or with no open
//!   reminder linked to them ("no next activity") — longest in their stage
//!   first. Other people's deals are theirs to chase: the Kanban board shows
//!   every deal's badge.
//! - **Stay in touch**: contacts whose next follow-up falls before the end
//!   of today ([`stay_in_touch::due`]); contacts have no owner, so this is the
//!   whole workspace's list.
//! - **Tickets**: open or pending tickets assigned to me, most urgent first
//!   (the tickets module's order).
//!
//! Each section has its full count and its first `limit` items. Every
//! section is one range of an index (migration 0010 for reminders and
//! deals, 0009 for stay-in-touch): `benches/today.rs` times the whole call
//! with 100k contacts, 50k deals and 100k reminders.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::deals::{DealStatus, DealSummary, NamedRef};
use crate::error::{Error, Result};
use crate::money;
use crate::pipelines::{self, StageKind};
use crate::recurrence::Rule;
use crate::reminders::{self, store_time, Reminder, ReminderStatus};
use crate::stay_in_touch::{self, DueContact};
use crate::store::Store;
use crate::tickets::{self, Ticket, TicketQuery, TicketStatus};
use crate::users;

/// Items per section when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// At most this many items per section.
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Today {
    /// Whose day this is.
    pub user: String,
    /// The IANA zone "today" is read in.
    pub tz: String,
    pub now: DateTime<Utc>,
    /// The end of today in `tz` (the next local midnight).
    pub day_end: DateTime<Utc>,
    pub overdue_count: u32,
    pub overdue: Vec<Reminder>,
    pub due_today_count: u32,
    pub due_today: Vec<Reminder>,
    pub stale_deal_count: u32,
    pub stale_deals: Vec<DealSummary>,
    pub stay_in_touch_count: u32,
    pub stay_in_touch: Vec<DueContact>,
    pub ticket_count: u32,
    pub tickets: Vec<Ticket>,
}

/// The next local midnight after `now` in `tz`. On a day whose midnight is
/// skipped by a DST change, the first valid instant after it.
pub fn end_of_day(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let tomorrow = now.with_timezone(&tz).date_naive() + Duration::days(1);
    let mut t = tomorrow.and_time(NaiveTime::MIN);
    for _ in 0..48 {
        if let Some(local) = tz.from_local_datetime(&t).earliest() {
            return local.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    now + Duration::days(1)
}

/// How many of my open reminders ring before `to` (at or after `from`):
/// one range of `reminders_mine_next`.
async fn reminder_count(store: &Store, user: &str, from: Option<&str>, to: &str) -> Result<u32> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reminders INDEXED BY reminders_mine_next
          WHERE assignee = ?1 AND deleted_at IS NULL AND done_at IS NULL
            AND coalesce(snoozed_until, due_at) >= coalesce(?2, '')
            AND coalesce(snoozed_until, due_at) < ?3",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_one(store.pool())
    .await?;
    Ok(n as u32)
}

/// My open reminders ringing in `[from, to)`, earliest first, at most
/// `limit`: one walk of `reminders_mine_next`, the page as one JSON text.
async fn my_reminders(
    store: &Store,
    user: &str,
    from: Option<&str>,
    to: &str,
    limit: u32,
) -> Result<Vec<Reminder>> {
    let json: String = sqlx::query_scalar(
        "SELECT coalesce(json_group_array(json_object(
                'id', r.id, 'title', r.title, 'notes', r.notes, 'due_at', r.due_at, 'tz', r.tz,
                'contact_id', r.contact_id, 'contact_name', c.display_name,
                'deal_id', r.deal_id, 'deal_title', d.title,
                'ticket_id', r.ticket_id, 'ticket_subject', t.subject,
                'assignee', r.assignee, 'rrule', r.rrule, 'starts_at', r.starts_at,
                'snoozed_until', r.snoozed_until, 'created_at', r.created_at)), '[]')
           FROM (SELECT rk FROM reminders INDEXED BY reminders_mine_next
                  WHERE assignee = ?1 AND deleted_at IS NULL AND done_at IS NULL
                    AND coalesce(snoozed_until, due_at) >= coalesce(?2, '')
                    AND coalesce(snoozed_until, due_at) < ?3
                  ORDER BY coalesce(snoozed_until, due_at), rk LIMIT ?4) page
           JOIN reminders r ON r.rk = page.rk
           LEFT JOIN contacts c ON c.id = r.contact_id AND c.deleted_at IS NULL
           LEFT JOIN deals d ON d.id = r.deal_id AND d.deleted_at IS NULL
           LEFT JOIN tickets t ON t.id = r.ticket_id AND t.deleted_at IS NULL",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .bind(i64::from(limit))
    .fetch_one(store.pool())
    .await?;
    let rows: Vec<ReminderRow> = serde_json::from_str(&json).map_err(|e| Error::Open {
        path: String::new(),
        message: format!("unreadable reminders: {e}"),
    })?;
    let mut items: Vec<Reminder> = rows.into_iter().filter_map(ReminderRow::reminder).collect();
    // json_group_array keeps the page's order in practice; restate it.
    items.sort_by_key(|r| r.next_at);
    Ok(items)
}

/// An open reminder as the page query gives it.
#[derive(Deserialize)]
struct ReminderRow {
    id: String,
    title: Option<String>,
    notes: Option<String>,
    due_at: Option<String>,
    tz: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    deal_id: Option<String>,
    deal_title: Option<String>,
    ticket_id: Option<String>,
    ticket_subject: Option<String>,
    assignee: Option<String>,
    rrule: Option<String>,
    starts_at: Option<String>,
    snoozed_until: Option<String>,
    created_at: Option<String>,
}

impl ReminderRow {
    /// The reminder [`reminders::get`] gives (a test checks they agree).
    fn reminder(self) -> Option<Reminder> {
        let tz = self
            .tz
            .as_deref()
            .and_then(|z| z.parse::<Tz>().ok())
            .unwrap_or(Tz::UTC);
        let due_at = time(self.due_at.as_deref()).unwrap_or_default();
        let snoozed_until = time(self.snoozed_until.as_deref());
        let rule = self.rrule.as_deref().and_then(|r| r.parse::<Rule>().ok());
        Some(Reminder {
            id: Uuid::parse_str(&self.id).ok()?,
            title: self.title.unwrap_or_default(),
            notes: self.notes,
            due_local: reminders::format_local(due_at, tz.name()),
            next_at: snoozed_until.unwrap_or(due_at),
            due_at,
            tz: self.tz.unwrap_or_else(|| "UTC".into()),
            status: ReminderStatus::Open,
            contact_id: uuid(self.contact_id.as_deref()),
            contact_name: self.contact_name,
            deal_id: uuid(self.deal_id.as_deref()),
            deal_title: self.deal_title,
            ticket_id: uuid(self.ticket_id.as_deref()),
            ticket_subject: self.ticket_subject,
            assignee: self.assignee,
            repeat: rule.as_ref().map(Rule::describe),
            rrule: self.rrule,
            starts_at: time(self.starts_at.as_deref()).unwrap_or(due_at),
            snoozed_until,
            done_at: None,
            created_at: time(self.created_at.as_deref()).unwrap_or_default(),
        })
    }
}

/// My stale open deals: the count and the first `limit` summaries, longest
/// in their stage first. The rule is the deals module's
/// ([`DealSummary::stale`]): past the stage's rotting limit, or no open
/// reminder linked; a test checks every summary against [`deals::get`].
async fn stale_deals(
    store: &Store,
    user: &str,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<(u32, Vec<DealSummary>)> {
    // Per open stage with a rotting limit, the entry time before which a
    // deal rots; a CASE over the few stages, bound as parameters.
    let mut cutoffs: Vec<(String, String)> = Vec::new();
    for pipeline in pipelines::list(store).await? {
        for stage in pipeline.stages {
            if let (Some(days), StageKind::Open) = (stage.rot_days, stage.kind) {
                cutoffs.push((
                    stage.id.to_string(),
                    store_time(now - Duration::days(i64::from(days))),
                ));
            }
        }
    }
    // Stale = rotting, or no open reminder (`open_reminders`, kept by the
    // triggers of 0011). The count: my idle deals, plus per rotting stage its
    // rotting deals that have a reminder (so not counted as idle); each term
    // is a range of an index (0011, 0017).
    const MINE: &str = "owner = ?1 AND deleted_at IS NULL AND status = 'open'";
    let mut count_sql = format!(
        "SELECT (SELECT count(*) FROM deals INDEXED BY deals_owner_idle
                  WHERE {MINE} AND open_reminders = 0)"
    );
    for i in 0..cutoffs.len() {
        let (stage, cutoff) = (3 + 2 * i, 4 + 2 * i);
        count_sql.push_str(&format!(
            " + (SELECT count(*) FROM deals INDEXED BY deals_owner_busy
                  WHERE {MINE} AND open_reminders > 0
                    AND stage_id = ?{stage} AND stage_entered_at < ?{cutoff})"
        ));
    }
    // `?2` keeps the parameter numbers of the page query.
    count_sql.push_str(" + 0 * ?2");
    let rotting = if cutoffs.is_empty() {
        "0".to_owned()
    } else {
        let arms: String = (0..cutoffs.len())
            .map(|i| format!(" WHEN ?{} THEN ?{}", 3 + 2 * i, 4 + 2 * i))
            .collect();
        format!("d.stage_entered_at < (CASE d.stage_id{arms} ELSE '' END)")
    };
    // The list walks my open deals oldest in stage first; the index holds
    // everything the filter reads.
    let filter = format!(
        "FROM deals d INDEXED BY deals_owner_open
          WHERE d.owner = ?1 AND d.deleted_at IS NULL AND d.status = 'open'
            AND ({rotting} OR d.open_reminders = 0)"
    );
    // The page as one JSON text (one row through sqlx, see deals.rs).
    let page_sql = format!(
        "SELECT coalesce(json_group_array(json_object(
                'id', d.id, 'title', d.title, 'contact_id', d.contact_id,
                'contact_name', c.display_name, 'company_id', d.company_id,
                'company_name', co.name, 'pipeline_id', d.pipeline_id,
                'stage_id', d.stage_id, 'stage_name', s.name, 'stage_kind', s.kind,
                'probability', s.probability, 'rot_days', s.rot_days,
                'amount', d.amount, 'currency', d.currency,
                'expected_close', d.expected_close, 'owner', d.owner,
                'stage_entered_at', d.stage_entered_at, 'created_at', d.created_at,
                'updated_ms', d.updated_ms,
                'next_activity_at', (SELECT min(coalesce(r.snoozed_until, r.due_at))
                    FROM reminders r INDEXED BY reminders_deal_open
                   WHERE r.deal_id = d.id AND r.deleted_at IS NULL AND r.done_at IS NULL
                     AND r.deal_id IS NOT NULL))), '[]')
           FROM (SELECT d.rk {filter} ORDER BY d.stage_entered_at LIMIT ?2) page
           JOIN deals d ON d.rk = page.rk
           LEFT JOIN contacts c ON c.id = d.contact_id AND c.deleted_at IS NULL
           LEFT JOIN companies co ON co.id = d.company_id AND co.deleted_at IS NULL
           LEFT JOIN pipeline_stages s ON s.id = d.stage_id"
    );
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql)
        .bind(user)
        .bind(1i64);
    let mut page = sqlx::query_scalar::<_, String>(&page_sql)
        .bind(user)
        .bind(i64::from(limit));
    for (stage, cutoff) in &cutoffs {
        count = count.bind(stage).bind(cutoff);
        page = page.bind(stage).bind(cutoff);
    }
    let count = count.fetch_one(store.pool()).await?;
    let json = page.fetch_one(store.pool()).await?;
    let rows: Vec<StaleRow> = serde_json::from_str(&json).map_err(|e| Error::Open {
        path: String::new(),
        message: format!("unreadable stale deals: {e}"),
    })?;
    let mut deals: Vec<DealSummary> = rows.into_iter().filter_map(|r| r.summary(now)).collect();
    // json_group_array keeps the subquery's order in practice; restate it.
    deals.sort_by_key(|d| d.stage_entered_at);
    Ok((count as u32, deals))
}

/// A stale deal as the page query gives it.
#[derive(Deserialize)]
struct StaleRow {
    id: String,
    title: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    company_id: Option<String>,
    company_name: Option<String>,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    stage_name: Option<String>,
    stage_kind: Option<String>,
    probability: Option<String>,
    rot_days: Option<i64>,
    amount: Option<String>,
    currency: Option<String>,
    expected_close: Option<String>,
    owner: Option<String>,
    stage_entered_at: Option<String>,
    created_at: Option<String>,
    updated_ms: i64,
    next_activity_at: Option<String>,
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn uuid(text: Option<&str>) -> Option<Uuid> {
    text.and_then(|t| Uuid::parse_str(t).ok())
}

impl StaleRow {
    /// The summary [`deals::get`] gives for an open deal at `now`.
    fn summary(self, now: DateTime<Utc>) -> Option<DealSummary> {
        const DAY_MS: i64 = 86_400_000;
        let created_at = time(self.created_at.as_deref())?;
        let entered = time(self.stage_entered_at.as_deref()).unwrap_or(created_at);
        let idle_ms = (now - entered).num_milliseconds();
        let probability = money::stored(self.probability.as_deref()).unwrap_or_default();
        let amount = money::stored(self.amount.as_deref());
        let next_activity_at = time(self.next_activity_at.as_deref());
        let named = |id: Option<String>, name: Option<String>| {
            Some(NamedRef {
                id: uuid(id.as_deref())?,
                name: name?,
            })
        };
        Some(DealSummary {
            id: Uuid::parse_str(&self.id).ok()?,
            title: self.title.unwrap_or_default(),
            contact: named(self.contact_id, self.contact_name),
            company: named(self.company_id, self.company_name),
            pipeline_id: uuid(self.pipeline_id.as_deref()).unwrap_or_default(),
            stage: NamedRef {
                id: uuid(self.stage_id.as_deref()).unwrap_or_default(),
                name: self.stage_name.unwrap_or_default(),
            },
            stage_kind: self
                .stage_kind
                .as_deref()
                .and_then(|k| StageKind::parse("kind", k).ok())
                .unwrap_or_default(),
            probability,
            weighted: amount.and_then(|a| money::weighted(a, probability).ok()),
            amount,
            currency: self.currency,
            expected_close: self
                .expected_close
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            owner: self.owner,
            status: DealStatus::Open,
            close_reason: None,
            closed_at: None,
            stage_entered_at: entered,
            days_in_stage: idle_ms.div_euclid(DAY_MS),
            rotting: self.rot_days.is_some_and(|d| idle_ms > d * DAY_MS),
            no_next_activity: next_activity_at.is_none(),
            next_activity_at,
            created_at,
            updated_at: DateTime::from_timestamp_millis(self.updated_ms).unwrap_or(created_at),
        })
    }
}

/// How many contacts are due a follow-up at or before `as_of`, and the
/// first `limit`, most overdue first: [`stay_in_touch::due`]'s rule and
/// index, read in the index's order (`due` also orders equal times by name,
/// which sorts the whole due range: ~6 ms for 3,000 due contacts).
async fn stay_in_touch_due(
    store: &Store,
    as_of: DateTime<Utc>,
    limit: u32,
) -> Result<(u32, Vec<DueContact>)> {
    const DUE: &str = "FROM contacts INDEXED BY contacts_next_follow_up
          WHERE stay_in_touch_days IS NOT NULL AND deleted_at IS NULL
            AND julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days <= julianday(?1)";
    let as_of = crate::activities::time_text(as_of);
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) {DUE}"))
        .bind(&as_of)
        .fetch_one(store.pool())
        .await?;
    let json: String = sqlx::query_scalar(&format!(
        "SELECT coalesce(json_group_array(json_array(
                id, display_name, stay_in_touch_days, created_at, last_interaction_at)), '[]')
           FROM (SELECT id, display_name, stay_in_touch_days, created_at, last_interaction_at
                 {DUE}
                 ORDER BY julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days
                 LIMIT ?2)"
    ))
    .bind(&as_of)
    .bind(i64::from(limit))
    .fetch_one(store.pool())
    .await?;
    type DueRow = (String, Option<String>, i64, Option<String>, Option<String>);
    let rows: Vec<DueRow> = serde_json::from_str(&json).map_err(|e| Error::Open {
        path: String::new(),
        message: format!("unreadable stay-in-touch list: {e}"),
    })?;
    let mut due: Vec<DueContact> = rows
        .into_iter()
        .filter_map(|(id, name, days, created_at, last)| {
            let every_days = u32::try_from(days).ok()?;
            let last_interaction = crate::activities::parse_time_opt(last.as_deref());
            Some(DueContact {
                contact_id: Uuid::parse_str(&id).ok()?,
                display_name: name.unwrap_or_default(),
                every_days,
                last_interaction,
                next_due: stay_in_touch::next_due(
                    every_days,
                    last_interaction,
                    crate::activities::parse_time_opt(created_at.as_deref()).unwrap_or_default(),
                ),
            })
        })
        .collect();
    due.sort_by(|a, b| {
        a.next_due.cmp(&b.next_due).then_with(|| {
            a.display_name
                .to_lowercase()
                .cmp(&b.display_name.to_lowercase())
        })
    });
    Ok((n as u32, due))
}

/// The current user's Today at `now`, "today" being the calendar day of
/// `now` in `tz`; at most `limit` items per section (capped at
/// [`MAX_LIMIT`]), with every section's full count.
pub async fn today(store: &Store, now: DateTime<Utc>, tz: Tz, limit: u32) -> Result<Today> {
    let limit = limit.min(MAX_LIMIT);
    let user = users::current(store).await?;
    let day_end = end_of_day(now, tz);
    let now_text = store_time(now);
    let end_text = store_time(day_end);

    // The sections are independent reads: on a file store they run side by
    // side on the pool's connections (WAL readers), in-memory one by one.
    let ticket_query = TicketQuery {
        status: vec![TicketStatus::Open, TicketStatus::Pending],
        assignee: Some(user.clone()),
        limit,
        ..Default::default()
    };
    let (
        overdue_count,
        due_today_count,
        overdue,
        due_today,
        (stale_deal_count, stale),
        (stay_in_touch_count, stay_in_touch),
        tickets,
    ) = tokio::try_join!(
        reminder_count(store, &user, None, &now_text),
        reminder_count(store, &user, Some(&now_text), &end_text),
        my_reminders(store, &user, None, &now_text, limit),
        my_reminders(store, &user, Some(&now_text), &end_text, limit),
        stale_deals(store, &user, now, limit),
        stay_in_touch_due(store, day_end, limit),
        tickets::list_at(store, &ticket_query, now),
    )?;

    Ok(Today {
        user,
        tz: tz.name().to_owned(),
        now,
        day_end,
        overdue_count,
        overdue,
        due_today_count,
        due_today,
        stale_deal_count,
        stale_deals: stale,
        stay_in_touch_count,
        stay_in_touch,
        ticket_count: tickets.total,
        tickets: tickets.items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use crate::deals::{self, DealInput};
    use crate::reminders::ReminderInput;
    use crate::tickets::TicketInput;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    async fn reminder(store: &Store, title: &str, due: &str, assignee: Option<&str>) -> Uuid {
        reminders::add(
            store,
            &ReminderInput {
                title: title.into(),
                due: due.into(),
                tz: Some("Europe/Berlin".into()),
                assignee: assignee.map(str::to_owned),
                ..Default::default()
            },
            at("2026-11-01T00:00:00Z"),
        )
        .await
        .unwrap()
        .id
    }

    fn titles(items: &[Reminder]) -> Vec<&str> {
        items.iter().map(|r| r.title.as_str()).collect()
    }

    #[test]
    fn the_day_ends_at_local_midnight() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 23:30 UTC on the 29th is already the 30th in Berlin.
        assert_eq!(
            end_of_day(at("2026-11-29T23:30:00Z"), berlin),
            at("2026-11-30T23:00:00Z")
        );
        assert_eq!(
            end_of_day(at("2026-11-29T10:00:00Z"), berlin),
            at("2026-11-29T23:00:00Z")
        );
        // Summer time: midnight is 22:00 UTC.
        assert_eq!(
            end_of_day(at("2026-07-01T10:00:00Z"), berlin),
            at("2026-07-01T22:00:00Z")
        );
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            end_of_day(at("2026-11-29T10:00:00Z"), ny),
            at("2026-11-30T05:00:00Z")
        );
        // Santiago skips midnight when DST starts (2026-09-06): the day
        // ends at 01:00 local.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            end_of_day(at("2026-09-05T15:00:00Z"), santiago),
            at("2026-09-06T04:00:00Z")
        );
    }

    #[tokio::test]
    async fn reminders_split_into_overdue_and_due_today() {
        let store = Store::open_in_memory().await.unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let now = at("2026-11-29T12:00:00Z"); // 13:00 in Berlin
        reminder(&store, "late", "2026-11-28T09:00:00Z", None).await;
        reminder(&store, "later", "2026-11-29T11:59:00Z", None).await;
        reminder(&store, "this evening", "2026-11-29T20:00:00Z", None).await;
        // 23:30 Berlin is still today; 00:30 Berlin is tomorrow.
        reminder(&store, "before midnight", "2026-11-29T22:30:00Z", None).await;
        reminder(&store, "tomorrow", "2026-11-29T23:30:00Z", None).await;
        reminder(
            &store,
            "someone else's",
            "2026-11-28T09:00:00Z",
            Some("ann@x.io"),
        )
        .await;
        let done = reminder(&store, "done", "2026-11-28T08:00:00Z", None).await;
        reminders::done(&store, done, now).await.unwrap();
        // Snoozed past now: not overdue, due today when it rings again.
        let snoozed = reminder(&store, "snoozed", "2026-11-28T10:00:00Z", None).await;
        reminders::snooze(&store, snoozed, at("2026-11-29T15:00:00Z"), now)
            .await
            .unwrap();

        let t = today(&store, now, berlin, 10).await.unwrap();
        assert_eq!(t.user, "me");
        assert_eq!(t.day_end, at("2026-11-29T23:00:00Z"));
        assert_eq!(titles(&t.overdue), ["late", "later"]);
        assert_eq!(t.overdue_count, 2);
        assert_eq!(
            titles(&t.due_today),
            ["snoozed", "this evening", "before midnight"]
        );
        assert_eq!(t.due_today_count, 3);
        // Exactly the reminders the reminders module gives.
        for r in t.overdue.iter().chain(&t.due_today) {
            assert_eq!(r, &reminders::get(&store, r.id).await.unwrap());
        }

        // The count is the whole section; the items are the first `limit`.
        let t = today(&store, now, berlin, 1).await.unwrap();
        assert_eq!(titles(&t.overdue), ["late"]);
        assert_eq!(t.overdue_count, 2);
        assert_eq!(t.due_today_count, 3);

        // In New York it is 07:00: 22:30 UTC is still today, 23:30 UTC too.
        let ny: Tz = "America/New_York".parse().unwrap();
        let t = today(&store, now, ny, 10).await.unwrap();
        assert_eq!(t.due_today_count, 4);
    }

    #[tokio::test]
    async fn stale_deals_are_mine_and_flagged_like_the_board() {
        let store = Store::open_in_memory().await.unwrap();
        let now = Utc::now();
        let deal = |title: &str, owner: Option<&str>| DealInput {
            title: title.into(),
            amount: Some("100".into()),
            currency: Some("EUR".into()),
            owner: owner.map(str::to_owned),
            ..Default::default()
        };
        let idle = deals::create(&store, deal("no next step", None))
            .await
            .unwrap();
        let planned = deals::create(&store, deal("planned", None)).await.unwrap();
        reminders::add(
            &store,
            &ReminderInput {
                title: "call".into(),
                due: store_time(now + Duration::days(2)),
                deal_id: Some(planned.summary.id),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        deals::create(&store, deal("theirs", Some("ann@x.io")))
            .await
            .unwrap();
        // After the deals were made (a deal made after "now" has -1 days in stage).
        let now = Utc::now();
        let t = today(&store, now, Tz::UTC, 10).await.unwrap();
        let ids: Vec<Uuid> = t.stale_deals.iter().map(|d| d.id).collect();
        assert_eq!(ids, [idle.summary.id]);
        assert_eq!(t.stale_deal_count, 1);
        assert!(t.stale_deals[0].no_next_activity);
        // Exactly the summary the deals module gives.
        for d in &t.stale_deals {
            assert_eq!(d, &deals::get(&store, d.id).await.unwrap().summary);
        }

        // The planned deal rots once it has sat in its stage past the
        // stage's limit, reminder or not.
        let lead = pipelines::list(&store).await.unwrap()[0].stages[0].clone();
        let days = lead.rot_days.expect("the default first stage rots");
        let later = now + Duration::days(i64::from(days) + 1);
        let t = today(&store, later, Tz::UTC, 10).await.unwrap();
        assert_eq!(t.stale_deal_count, 2);
        // Longest in its stage first (the idle one was made first).
        assert_eq!(t.stale_deals[0].id, idle.summary.id);
        assert!(t.stale_deals[1].rotting && !t.stale_deals[1].no_next_activity);
        let flagged = deals::get(&store, planned.summary.id).await.unwrap();
        assert!(!flagged.summary.stale(), "the board says fresh today");

        // A closed deal is never stale.
        let won = pipelines::list(&store).await.unwrap()[0]
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Won)
            .unwrap()
            .id;
        deals::move_deal(&store, idle.summary.id, won, None, Some("signed".into()))
            .await
            .unwrap();
        let t = today(&store, now, Tz::UTC, 10).await.unwrap();
        assert_eq!(t.stale_deal_count, 0);
        assert!(t.stale_deals.is_empty());
    }

    #[tokio::test]
    async fn a_deal_keeps_its_open_reminder_count() {
        use crate::entities::{DEAL, REMINDER};
        use serde_json::json;
        let store = Store::open_in_memory().await.unwrap();
        let now = Utc::now();
        let stale = |store: &Store| {
            let store = store.clone();
            async move {
                today(&store, now, Tz::UTC, 10)
                    .await
                    .unwrap()
                    .stale_deal_count
            }
        };
        let deal = deals::create(
            &store,
            DealInput {
                title: "Roof".into(),
                amount: Some("10".into()),
                currency: Some("EUR".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .summary
        .id;
        assert_eq!(stale(&store).await, 1);
        let add = |title: &'static str| ReminderInput {
            title: title.into(),
            due: store_time(now + Duration::days(1)),
            deal_id: Some(deal),
            ..Default::default()
        };
        let one = reminders::add(&store, &add("call"), now).await.unwrap().id;
        let two = reminders::add(&store, &add("mail"), now).await.unwrap().id;
        assert_eq!(stale(&store).await, 0);
        reminders::done(&store, one, now).await.unwrap();
        assert_eq!(stale(&store).await, 0, "one still open");
        reminders::delete(&store, two).await.unwrap();
        assert_eq!(stale(&store).await, 1, "done and deleted: no next activity");
        reminders::reopen(&store, one).await.unwrap();
        assert_eq!(stale(&store).await, 0);

        // Sync may bring a deal's reminder before the deal itself.
        let (late_deal, late_reminder) = (Uuid::now_v7(), Uuid::now_v7());
        let stage = pipelines::list(&store).await.unwrap()[0].stages[0].clone();
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &REMINDER,
            late_reminder,
            vec![
                ("title", json!("Follow up")),
                ("due_at", json!(store_time(now + Duration::days(1)))),
                ("tz", json!("UTC")),
                ("deal_id", json!(late_deal.to_string())),
                ("assignee", json!("me")),
                ("created_at", json!(store_time(now))),
            ],
        )
        .await
        .unwrap();
        tx.insert(
            &DEAL,
            late_deal,
            vec![
                ("title", json!("Arrived late")),
                ("pipeline_id", json!(stage.pipeline_id.to_string())),
                ("stage_id", json!(stage.id.to_string())),
                ("owner", json!("me")),
                ("status", json!("open")),
                ("stage_entered_at", json!(store_time(now))),
                ("created_at", json!(store_time(now))),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stale(&store).await, 0, "the late deal has its reminder");
        let kept: i64 = sqlx::query_scalar("SELECT open_reminders FROM deals WHERE id = ?")
            .bind(late_deal.to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(kept, 1);
    }

    #[tokio::test]
    async fn stay_in_touch_and_tickets() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contacts::create(
            &store,
            ContactInput {
                display_name: Some("Ada".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        stay_in_touch::set(&store, ada.id, Some(7)).await.unwrap();
        let now = Utc::now();
        let t = today(&store, now, Tz::UTC, 10).await.unwrap();
        assert_eq!(t.stay_in_touch_count, 0);
        let t = today(&store, now + Duration::days(8), Tz::UTC, 10)
            .await
            .unwrap();
        assert_eq!(t.stay_in_touch_count, 1);
        assert_eq!(t.stay_in_touch[0].contact_id, ada.id);
        // The stay-in-touch module's own list, item for item.
        assert_eq!(
            t.stay_in_touch,
            stay_in_touch::due(&store, t.day_end, 10).await.unwrap()
        );

        let ticket = |subject: &str, assignee: Option<&str>, status| TicketInput {
            subject: subject.into(),
            assignee: assignee.map(str::to_owned),
            status,
            ..Default::default()
        };
        tickets::create(&store, ticket("mine", Some("me"), TicketStatus::Open))
            .await
            .unwrap();
        tickets::create(&store, ticket("waiting", Some("me"), TicketStatus::Pending))
            .await
            .unwrap();
        tickets::create(&store, ticket("fixed", Some("me"), TicketStatus::Resolved))
            .await
            .unwrap();
        tickets::create(&store, ticket("nobody's", None, TicketStatus::Open))
            .await
            .unwrap();
        let t = today(&store, now, Tz::UTC, 10).await.unwrap();
        let mut subjects: Vec<&str> = t.tickets.iter().map(|t| t.subject.as_str()).collect();
        subjects.sort();
        assert_eq!(subjects, ["mine", "waiting"]);
        assert_eq!(t.ticket_count, 2);
    }

    #[tokio::test]
    async fn every_section_reads_an_index() {
        let store = Store::open_in_memory().await.unwrap();
        for (sql, index) in [
            (
                "EXPLAIN QUERY PLAN SELECT count(*) FROM reminders INDEXED BY reminders_mine_next
                  WHERE assignee = 'me' AND deleted_at IS NULL AND done_at IS NULL
                    AND coalesce(snoozed_until, due_at) >= '' AND coalesce(snoozed_until, due_at) < 'z'",
                "reminders_mine_next",
            ),
            (
                "EXPLAIN QUERY PLAN SELECT d.rk FROM deals d INDEXED BY deals_owner_open
                  WHERE d.owner = 'me' AND d.deleted_at IS NULL AND d.status = 'open'
                    AND (d.stage_entered_at < (CASE d.stage_id WHEN 'a' THEN 'b' ELSE '' END)
                         OR d.open_reminders = 0)
                  ORDER BY d.stage_entered_at LIMIT 5",
                "COVERING INDEX deals_owner_open",
            ),
            (
                "EXPLAIN QUERY PLAN SELECT count(*) FROM deals INDEXED BY deals_owner_busy
                  WHERE owner = 'me' AND deleted_at IS NULL AND status = 'open'
                    AND open_reminders > 0 AND stage_id = 'a' AND stage_entered_at < 'b'",
                "COVERING INDEX deals_owner_busy (owner=? AND stage_id=? AND stage_entered_at<?)",
            ),
            (
                "EXPLAIN QUERY PLAN SELECT count(*) FROM deals INDEXED BY deals_owner_idle
                  WHERE owner = 'me' AND deleted_at IS NULL AND status = 'open'
                    AND open_reminders = 0 AND stage_id = 'a' AND stage_entered_at < 'b'",
                "COVERING INDEX deals_owner_idle (owner=? AND open_reminders=? AND stage_id=? AND stage_entered_at<?)",
            ),
            (
                "EXPLAIN QUERY PLAN SELECT count(*) FROM tickets t
                  WHERE t.deleted_at IS NULL AND t.status IN ('open', 'pending')
                    AND t.assignee = 'me' COLLATE NOCASE",
                "COVERING INDEX tickets_queue",
            ),
        ] {
            let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sql)
                .fetch_all(store.pool())
                .await
                .unwrap();
            let text: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
            assert!(
                text.iter().any(|l| l.contains(index)),
                "{index} not used: {text:?}"
            );
            assert!(
                !text.iter().any(|l| l.contains("TEMP B-TREE")),
                "sorts: {text:?}"
            );
        }
    }
}
