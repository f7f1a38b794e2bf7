//! Support tickets and their comments.
//!
//! Status: `open` → `pending` (waiting on the customer) → `resolved` →
//! `closed`; any move is allowed (a resolved ticket can be reopened). A
//! ticket's `closed_at` is set when it becomes resolved or closed (the time
//! it stopped needing work; moving on from resolved to closed keeps it) and
//! cleared when it is reopened. A ticket is overdue when it has a due time
//! in the past and is still open or pending.
//!
//! Ticket opened/closed and every comment appear on the timeline of the
//! ticket's contact and company ([`crate::timeline`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::activities::{
    bounded, check_links, long_text, parse_time_opt, parse_word, time_text, RecordRef,
};
use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::entities::{TICKET, TICKET_COMMENT};
use crate::error::{Error, FieldError, Result};
use crate::store::Store;
use crate::users;

pub const MAX_SUBJECT: usize = 500;
pub const MAX_TEXT: usize = 100_000;
pub const MAX_ASSIGNEE: usize = 200;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TicketStatus {
    #[default]
    Open,
    Pending,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 4] = [
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Open and pending tickets still need work.
    pub fn is_active(self) -> bool {
        matches!(self, TicketStatus::Open | TicketStatus::Pending)
    }

    pub fn parse(text: &str) -> Result<Self> {
        parse_word(text, &Self::ALL, Self::as_str, "status", "a ticket status")
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS,
)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        parse_word(text, &Self::ALL, Self::as_str, "priority", "a priority")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Ticket {
    pub id: Uuid,
    pub subject: String,
    pub description: Option<String>,
    pub status: TicketStatus,
    pub priority: Priority,
    pub contact: Option<RecordRef>,
    pub company: Option<RecordRef>,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// Due in the past and still open or pending (at the time it was read).
    pub overdue: bool,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub comment_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TicketComment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A ticket with its comments, oldest first (a conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub comments: Vec<TicketComment>,
}

/// What a form or the CLI submits to create or (fully) replace a ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TicketInput {
    pub subject: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: TicketStatus,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    /// None with a contact: the contact's company.
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// A user's name as [`crate::users::current`] gives it (`me` before sign-in).
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

impl From<&Ticket> for TicketInput {
    fn from(t: &Ticket) -> Self {
        TicketInput {
            subject: t.subject.clone(),
            description: t.description.clone(),
            status: t.status,
            priority: t.priority,
            contact_id: t.contact.as_ref().map(|r| r.id),
            company_id: t.company.as_ref().map(|r| r.id),
            assignee: t.assignee.clone(),
            due_at: t.due_at,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TicketQuery {
    /// Any of these statuses; empty: all.
    #[serde(default)]
    pub status: Vec<TicketStatus>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub assignee: Option<String>,
    /// Only tickets nobody is assigned to.
    #[serde(default)]
    pub unassigned: bool,
    #[serde(default)]
    pub contact_id: Option<Uuid>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
    /// Only overdue tickets (due before now, still open or pending).
    #[serde(default)]
    pub overdue: bool,
    #[serde(default)]
    pub offset: u32,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TicketPage {
    pub total: u32,
    pub items: Vec<Ticket>,
}

fn validate(input: &TicketInput) -> Result<Fields> {
    let mut errors = Vec::new();
    let subject = bounded(
        &Some(input.subject.clone()),
        "subject",
        MAX_SUBJECT,
        &mut errors,
    );
    if subject.is_none() {
        errors.push(FieldError::new("subject", "A ticket needs a subject"));
    }
    let description = long_text(&input.description, "description", MAX_TEXT, &mut errors);
    let assignee = bounded(&input.assignee, "assignee", MAX_ASSIGNEE, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(vec![
        ("subject", json!(subject)),
        ("description", json!(description)),
        ("status", json!(input.status.as_str())),
        ("priority", json!(input.priority.as_str())),
        ("contact_id", json!(input.contact_id.map(|i| i.to_string()))),
        ("company_id", json!(input.company_id.map(|i| i.to_string()))),
        ("assignee", json!(assignee)),
        ("due_at", json!(input.due_at.map(time_text))),
    ])
}

/// Open a ticket. Nothing is written when the input or a link is invalid.
pub async fn create(store: &Store, input: TicketInput) -> Result<Ticket> {
    let mut fields = validate(&input)?;
    let me = users::current(store).await?;
    let id = Uuid::now_v7();
    let now = now_rfc3339();
    let mut tx = store.write().await?;
    check_links(tx.conn(), input.contact_id, input.company_id, None).await?;
    default_company(&mut tx, &input, &mut fields).await?;
    fields.push(("created_by", json!(me)));
    fields.push(("created_at", json!(now)));
    fields.push((
        "closed_at",
        json!((!input.status.is_active()).then_some(&now)),
    ));
    tx.insert(&TICKET, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

/// No company given but a contact: the contact's company (on create and update).
async fn default_company(tx: &mut WriteTx, input: &TicketInput, fields: &mut Fields) -> Result<()> {
    let (Some(contact), None) = (input.contact_id, input.company_id) else {
        return Ok(());
    };
    let company: Option<String> = sqlx::query_scalar(
        "SELECT co.id FROM contacts c JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
          WHERE c.id = ?",
    )
    .bind(contact.to_string())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(f) = fields.iter_mut().find(|(k, _)| *k == "company_id") {
        f.1 = json!(company);
    }
    Ok(())
}

/// Replace a ticket with `input`; a status change sets or clears `closed_at`
/// (module docs). Only fields that change are written.
pub async fn update(store: &Store, id: Uuid, input: TicketInput) -> Result<Ticket> {
    let mut fields = validate(&input)?;
    let mut tx = store.write().await?;
    let current: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT status, closed_at FROM tickets WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    let Some((status, closed_at)) = current else {
        return Err(Error::not_found("ticket", id));
    };
    check_links(tx.conn(), input.contact_id, input.company_id, None).await?;
    default_company(&mut tx, &input, &mut fields).await?;
    let was_active = status
        .as_deref()
        .and_then(|s| TicketStatus::parse(s).ok())
        .unwrap_or_default()
        .is_active();
    let closed_at = match (was_active, input.status.is_active()) {
        (_, true) => None,
        (true, false) => Some(now_rfc3339()),
        (false, false) => closed_at.or_else(|| Some(now_rfc3339())),
    };
    fields.push(("closed_at", json!(closed_at)));
    tx.update(&TICKET, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Move a ticket to `status` (the CLI's and the list's quick action).
pub async fn set_status(store: &Store, id: Uuid, status: TicketStatus) -> Result<Ticket> {
    let ticket = get(store, id).await?;
    let mut input = TicketInput::from(&ticket);
    input.status = status;
    update(store, id, input).await
}

pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), id).await?;
    tx.delete(&TICKET, id).await?;
    tx.commit().await
}

async fn ensure_live(conn: &mut SqliteConnection, id: Uuid) -> Result<()> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tickets WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    live.map(|_| ())
        .ok_or_else(|| Error::not_found("ticket", id))
}

/// Add a comment by the current user to a live ticket.
pub async fn comment(store: &Store, ticket_id: Uuid, body: &str) -> Result<TicketComment> {
    let mut errors = Vec::new();
    let body = long_text(&Some(body.to_owned()), "body", MAX_TEXT, &mut errors);
    if body.is_none() && errors.is_empty() {
        errors.push(FieldError::new("body", "A comment needs some text"));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let me = users::current(store).await?;
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    ensure_live(tx.conn(), ticket_id).await?;
    tx.insert(
        &TICKET_COMMENT,
        id,
        vec![
            ("ticket_id", json!(ticket_id.to_string())),
            ("author", json!(me)),
            ("body", json!(body)),
            ("created_at", json!(now_rfc3339())),
        ],
    )
    .await?;
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    comments_where(&mut conn, "c.id = ?", &id.to_string())
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("ticket_comment", id))
}

pub async fn delete_comment(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM ticket_comments WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    if live.is_none() {
        return Err(Error::not_found("ticket_comment", id));
    }
    tx.delete(&TICKET_COMMENT, id).await?;
    tx.commit().await
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    subject: Option<String>,
    description: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    contact_id: Option<String>,
    contact_name: Option<String>,
    company_id: Option<String>,
    company_name: Option<String>,
    assignee: Option<String>,
    due_at: Option<String>,
    created_by: Option<String>,
    created_at: Option<String>,
    closed_at: Option<String>,
    updated_ms: i64,
    comment_count: i64,
}

const SELECT: &str = "SELECT t.id, t.subject, t.description, t.status, t.priority,
        t.contact_id, (SELECT coalesce(c.display_name, '') FROM contacts c WHERE c.id = t.contact_id AND c.deleted_at IS NULL) AS contact_name,
        t.company_id, (SELECT coalesce(co.name, '') FROM companies co WHERE co.id = t.company_id AND co.deleted_at IS NULL) AS company_name,
        t.assignee, t.due_at, t.created_by, t.created_at, t.closed_at,
        max(t.updated_ms, coalesce((SELECT max(updated_ms) FROM ticket_comments x WHERE x.ticket_id = t.id), 0)) AS updated_ms,
        (SELECT count(*) FROM ticket_comments x WHERE x.ticket_id = t.id AND x.deleted_at IS NULL) AS comment_count
   FROM tickets t";

fn record_ref(id: Option<String>, name: Option<String>) -> Option<RecordRef> {
    let id = Uuid::parse_str(&id?).ok()?;
    Some(RecordRef {
        id,
        name: name.unwrap_or_else(|| "(deleted)".to_owned()),
    })
}

impl Row {
    fn into_ticket(self, now: DateTime<Utc>) -> Ticket {
        let created_at = parse_time_opt(self.created_at.as_deref()).unwrap_or_default();
        let status = self
            .status
            .as_deref()
            .and_then(|s| TicketStatus::parse(s).ok())
            .unwrap_or_default();
        let due_at = parse_time_opt(self.due_at.as_deref());
        Ticket {
            id: Uuid::parse_str(&self.id).unwrap_or_default(),
            subject: self.subject.unwrap_or_default(),
            description: self.description,
            status,
            priority: self
                .priority
                .as_deref()
                .and_then(|p| Priority::parse(p).ok())
                .unwrap_or_default(),
            contact: record_ref(self.contact_id, self.contact_name),
            company: record_ref(self.company_id, self.company_name),
            assignee: self.assignee,
            due_at,
            overdue: status.is_active() && due_at.is_some_and(|d| d < now),
            created_by: self.created_by,
            created_at,
            closed_at: parse_time_opt(self.closed_at.as_deref()),
            updated_at: DateTime::from_timestamp_millis(self.updated_ms).unwrap_or(created_at),
            comment_count: self.comment_count as u32,
        }
    }
}

pub async fn get(store: &Store, id: Uuid) -> Result<Ticket> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE t.id = ? AND t.deleted_at IS NULL"))
        .bind(id.to_string())
        .fetch_optional(store.pool())
        .await?
        .map(|r| r.into_ticket(Utc::now()))
        .ok_or_else(|| Error::not_found("ticket", id))
}

/// A ticket with its live comments, oldest first.
pub async fn show(store: &Store, id: Uuid) -> Result<TicketDetail> {
    let ticket = get(store, id).await?;
    let mut conn = store.pool().acquire().await?;
    let comments = comments_where(&mut conn, "c.ticket_id = ?", &id.to_string()).await?;
    Ok(TicketDetail { ticket, comments })
}

/// id, ticket_id, author, body, created_at.
type CommentRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn comments_where(
    conn: &mut SqliteConnection,
    filter: &str,
    value: &str,
) -> Result<Vec<TicketComment>> {
    let rows: Vec<CommentRow> = sqlx::query_as(&format!(
        "SELECT c.id, c.ticket_id, c.author, c.body, c.created_at FROM ticket_comments c
              WHERE {filter} AND c.deleted_at IS NULL ORDER BY c.created_at, c.id"
    ))
    .bind(value)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, ticket, author, body, created_at)| {
            Some(TicketComment {
                id: Uuid::parse_str(&id).ok()?,
                ticket_id: Uuid::parse_str(ticket.as_deref()?).ok()?,
                author,
                body: body.unwrap_or_default(),
                created_at: parse_time_opt(created_at.as_deref()).unwrap_or_default(),
            })
        })
        .collect())
}

/// Live comments by id (the timeline's hydration).
pub async fn comments_by_id(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<Vec<TicketComment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    comments_where(
        conn,
        "c.id IN (SELECT value FROM json_each(?))",
        &serde_json::to_string(ids).unwrap_or_default(),
    )
    .await
}

/// Live tickets by id (the timeline's hydration).
pub async fn get_many(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<Ticket>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE t.id IN (SELECT value FROM json_each(?)) AND t.deleted_at IS NULL"
    ))
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .fetch_all(conn)
    .await?;
    let now = Utc::now();
    Ok(rows.into_iter().map(|r| r.into_ticket(now)).collect())
}

/// Tickets matching `query`: active before resolved/closed, then most urgent
/// first, then the earliest due, then the newest.
pub async fn list(store: &Store, query: &TicketQuery) -> Result<TicketPage> {
    list_at(store, query, Utc::now()).await
}

/// [`list`] with "now" given (for `overdue`).
pub async fn list_at(store: &Store, query: &TicketQuery, now: DateTime<Utc>) -> Result<TicketPage> {
    // Only the filters in use go into the SQL, each with its own parameter.
    let mut filters = vec!["t.deleted_at IS NULL".to_owned()];
    let mut params: Vec<String> = Vec::new();
    let param = |value: String, params: &mut Vec<String>| {
        params.push(value);
        format!("?{}", params.len())
    };
    if !query.status.is_empty() {
        let list: Vec<&str> = query.status.iter().map(|s| s.as_str()).collect();
        let p = param(
            serde_json::to_string(&list).unwrap_or_default(),
            &mut params,
        );
        filters.push(format!("t.status IN (SELECT value FROM json_each({p}))"));
    }
    if let Some(priority) = query.priority {
        let p = param(priority.as_str().to_owned(), &mut params);
        filters.push(format!("t.priority = {p}"));
    }
    if let Some(assignee) = query
        .assignee
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let p = param(assignee.to_owned(), &mut params);
        filters.push(format!("t.assignee = {p} COLLATE NOCASE"));
    }
    if query.unassigned {
        filters.push("t.assignee IS NULL".to_owned());
    }
    if let Some(contact) = query.contact_id {
        let p = param(contact.to_string(), &mut params);
        filters.push(format!("t.contact_id = {p}"));
    }
    if let Some(company) = query.company_id {
        let p = param(company.to_string(), &mut params);
        filters.push(format!("t.company_id = {p}"));
    }
    if query.overdue {
        let p = param(time_text(now), &mut params);
        filters.push(format!(
            "t.status IN ('open', 'pending') AND t.due_at IS NOT NULL AND t.due_at < {p}"
        ));
    }
    let filter = filters.join(" AND ");
    let mut conn = store.pool().acquire().await?;
    let count_sql = format!("SELECT count(*) FROM tickets t WHERE {filter}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for p in &params {
        count = count.bind(p);
    }
    let total = count.fetch_one(&mut *conn).await?;
    // The page is chosen first and only its rows get their names and
    // comment counts: computed for every match, they cost ~10 ms on a list
    // of a few thousand tickets (the Today view's "my tickets").
    let order = "CASE WHEN t.status IN ('open', 'pending') THEN 0 ELSE 1 END,
                 CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                 coalesce(t.due_at, '9999'), t.created_at DESC, t.id";
    let sql = format!(
        "{SELECT} WHERE t.rk IN (SELECT t.rk FROM tickets t WHERE {filter}
                                  ORDER BY {order} LIMIT {} OFFSET {})
          ORDER BY {order}",
        query.limit.min(1000),
        query.offset
    );
    let mut rows = sqlx::query_as::<_, Row>(&sql);
    for p in &params {
        rows = rows.bind(p);
    }
    let items = rows
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| r.into_ticket(now))
        .collect();
    Ok(TicketPage {
        total: total as u32,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use chrono::Duration;

    async fn contact(store: &Store, name: &str, company: Option<&str>) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                display_name: Some(name.into()),
                company_name: company.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    fn input(subject: &str) -> TicketInput {
        TicketInput {
            subject: subject.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn create_comment_show_and_close() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", Some("Engines Ltd")).await;
        let due: DateTime<Utc> = "2030-01-01T12:00:00Z".parse().unwrap();
        let t = create(
            &store,
            TicketInput {
                subject: "  Printer on fire ".into(),
                description: Some("Smoke from tray 2\n".into()),
                priority: Priority::Urgent,
                contact_id: Some(ada),
                assignee: Some("me".into()),
                due_at: Some(due),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(t.subject, "Printer on fire");
        assert_eq!(t.description.as_deref(), Some("Smoke from tray 2"));
        assert_eq!(t.status, TicketStatus::Open);
        assert_eq!(t.company.as_ref().unwrap().name, "Engines Ltd");
        assert_eq!(t.due_at, Some(due));
        assert!(!t.overdue);
        assert_eq!(t.closed_at, None);

        let c1 = comment(&store, t.id, "Sent a technician").await.unwrap();
        let c2 = comment(&store, t.id, "Fixed the fuser").await.unwrap();
        assert_eq!(c1.author.as_deref(), Some(users::LOCAL_USER));
        let detail = show(&store, t.id).await.unwrap();
        assert_eq!(detail.ticket.comment_count, 2);
        assert_eq!(
            detail.comments.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![c1.id, c2.id]
        );

        // Given to another contact (company left out): the company follows.
        let grace = contact(&store, "Grace", Some("Navy")).await;
        let mut moved = TicketInput::from(&t);
        moved.contact_id = Some(grace);
        moved.company_id = None;
        let moved = update(&store, t.id, moved).await.unwrap();
        assert_eq!(moved.company.as_ref().unwrap().name, "Navy");

        let resolved = set_status(&store, t.id, TicketStatus::Resolved)
            .await
            .unwrap();
        let closed_at = resolved.closed_at.expect("resolving sets closed_at");
        // Resolved -> closed keeps the time it stopped needing work.
        let closed = set_status(&store, t.id, TicketStatus::Closed)
            .await
            .unwrap();
        assert_eq!(closed.closed_at, Some(closed_at));
        // Reopening clears it.
        let reopened = set_status(&store, t.id, TicketStatus::Pending)
            .await
            .unwrap();
        assert_eq!(reopened.closed_at, None);

        delete_comment(&store, c1.id).await.unwrap();
        assert_eq!(show(&store, t.id).await.unwrap().comments, vec![c2]);
        delete(&store, t.id).await.unwrap();
        assert_eq!(get(&store, t.id).await.unwrap_err().code(), "not_found");
        assert_eq!(
            comment(&store, t.id, "late").await.unwrap_err().code(),
            "not_found"
        );
    }

    #[tokio::test]
    async fn bad_input_writes_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let outbox = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM change_log")
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        let before = outbox().await;
        let err = create(&store, input("  ")).await.unwrap_err();
        assert_eq!(err.field_errors()[0].field, "subject");
        let err = create(
            &store,
            TicketInput {
                contact_id: Some(Uuid::now_v7()),
                company_id: Some(Uuid::now_v7()),
                ..input("x")
            },
        )
        .await
        .unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|f| f.field.as_str())
            .collect();
        assert_eq!(fields, ["contact_id", "company_id"]);
        let t = create(&store, input("ok")).await.unwrap();
        let after_create = outbox().await;
        assert!(after_create > before);
        let err = comment(&store, t.id, " \n ").await.unwrap_err();
        assert_eq!(err.field_errors()[0].field, "body");
        let err = update(&store, t.id, input("")).await.unwrap_err();
        assert_eq!(err.code(), "validation");
        assert_eq!(outbox().await, after_create);
        assert_eq!(
            Priority::parse("critical").unwrap_err().to_string(),
            "priority: \"critical\" is not a priority (low, normal, high, urgent)"
        );
    }

    #[tokio::test]
    async fn list_filters_and_orders() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contact(&store, "Ada", None).await;
        let now: DateTime<Utc> = "2026-06-01T12:00:00Z".parse().unwrap();
        let mk = |subject: &str, priority, assignee: Option<&str>, due: Option<i64>| TicketInput {
            subject: subject.into(),
            priority,
            assignee: assignee.map(str::to_owned),
            due_at: due.map(|d| now + Duration::days(d)),
            ..Default::default()
        };
        let late = create(&store, mk("late", Priority::Normal, Some("ann"), Some(-1)))
            .await
            .unwrap();
        let urgent = create(&store, mk("urgent", Priority::Urgent, Some("bob"), Some(3)))
            .await
            .unwrap();
        let low = create(
            &store,
            TicketInput {
                contact_id: Some(ada),
                ..mk("low", Priority::Low, None, None)
            },
        )
        .await
        .unwrap();
        let done = create(&store, mk("done", Priority::Urgent, Some("ann"), Some(-5)))
            .await
            .unwrap();
        set_status(&store, done.id, TicketStatus::Closed)
            .await
            .unwrap();

        let subjects = |page: TicketPage| -> Vec<String> {
            page.items.into_iter().map(|t| t.subject).collect()
        };
        let all = list_at(
            &store,
            &TicketQuery {
                limit: 100,
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!(all.total, 4);
        assert_eq!(subjects(all), ["urgent", "late", "low", "done"]);
        let q = |f: fn(&mut TicketQuery)| {
            let mut q = TicketQuery {
                limit: 100,
                ..Default::default()
            };
            f(&mut q);
            q
        };
        let overdue = list_at(&store, &q(|q| q.overdue = true), now)
            .await
            .unwrap();
        assert_eq!(subjects(overdue.clone()), ["late"]);
        assert!(overdue.items[0].overdue);
        assert_eq!(
            subjects(
                list_at(&store, &q(|q| q.assignee = Some("ANN".into())), now)
                    .await
                    .unwrap()
            ),
            ["late", "done"]
        );
        assert_eq!(
            subjects(
                list_at(&store, &q(|q| q.unassigned = true), now)
                    .await
                    .unwrap()
            ),
            ["low"]
        );
        assert_eq!(
            subjects(
                list_at(&store, &q(|q| q.status = vec![TicketStatus::Closed]), now)
                    .await
                    .unwrap()
            ),
            ["done"]
        );
        assert_eq!(
            subjects(
                list_at(&store, &q(|q| q.priority = Some(Priority::Urgent)), now)
                    .await
                    .unwrap()
            ),
            ["urgent", "done"]
        );
        let by_contact = list_at(
            &store,
            &TicketQuery {
                contact_id: Some(ada),
                limit: 100,
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!(by_contact.items[0].id, low.id);
        let paged = list_at(
            &store,
            &TicketQuery {
                limit: 1,
                offset: 1,
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        assert_eq!((paged.total, paged.items[0].id), (4, late.id));
        let _ = urgent;
    }
}
