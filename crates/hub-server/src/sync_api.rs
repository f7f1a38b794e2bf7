//! `/v1/sync` handlers: push, pull, snapshot. A token only ever reaches its own workspace:
//! every storage call is scoped by the authenticated device's workspace.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::api::Authenticated;
use crate::error::{ApiError, ApiJson};
use crate::storage::Storage;
use crate::sync::{
    rejection, ClockAheadBody, OpResult, OpStatus, PullResponse, PushRequest, PushResponse,
    SnapshotResponse, DEFAULT_PAGE, MAX_CLOCK_AHEAD_MS, MAX_PAGE, MAX_PUSH_CHANGES,
    MAX_SNAPSHOT_PAGE,
};
use crate::AppState;

pub async fn push(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    ApiJson(body): ApiJson<PushRequest>,
) -> Result<Response, ApiError> {
    if body.changes.len() > MAX_PUSH_CHANGES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_changes",
            format!(
                "a push carries at most {MAX_PUSH_CHANGES} changes, this one has {}",
                body.changes.len()
            ),
        ));
    }
    let now = Utc::now();
    let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    if let Some(ahead) = body
        .changes
        .iter()
        .find(|c| c.hlc.ms > now_ms + MAX_CLOCK_AHEAD_MS)
    {
        let body = ClockAheadBody {
            code: "clock_ahead".into(),
            message: format!(
                "change {} is stamped {} ms ahead of the server clock (at most {MAX_CLOCK_AHEAD_MS}); \
                 re-stamp unacknowledged changes from server_time; nothing was written",
                ahead.op_id,
                ahead.hlc.ms - now_ms
            ),
            server_time: now,
        };
        return Ok((StatusCode::CONFLICT, Json(body)).into_response());
    }
    // Rejected changes are answered here and never stored; the rest merge in one batch.
    let mut results: Vec<Option<OpResult>> = Vec::with_capacity(body.changes.len());
    let mut valid = Vec::with_capacity(body.changes.len());
    for change in body.changes {
        match rejection(&change, me.id) {
            Some(reason) => results.push(Some(OpResult {
                op_id: change.op_id,
                status: OpStatus::Rejected { reason },
            })),
            None => {
                results.push(None);
                valid.push(change);
            }
        }
    }
    let mut merged = state
        .db
        .push_changes(me.workspace_id, &valid, now)
        .await?
        .into_iter();
    let results: Vec<OpResult> = results
        .into_iter()
        .map(|r| r.or_else(|| merged.next()))
        .collect::<Option<_>>()
        .ok_or_else(|| ApiError::internal("push returned fewer results than changes"))?;
    state.metrics.observe_push(&results);
    tracing::info!(device = %me.id, workspace = %me.workspace_id, changes = results.len(), "push");
    Ok(Json(PushResponse {
        results,
        server_time: Utc::now(),
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct PullQuery {
    #[serde(default)]
    cursor: i64,
    limit: Option<i64>,
}

fn page_limit(limit: Option<i64>, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "limit must be between 1 and {max}, not {n}"
        ))),
    }
}

fn query<T: serde::de::DeserializeOwned>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::invalid(e.body_text()))
}

pub async fn pull(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    q: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, ApiError> {
    let q = query(q)?;
    let limit = page_limit(q.limit, MAX_PAGE)?;
    if q.cursor < 0 {
        return Err(ApiError::invalid("cursor must not be negative"));
    }
    let page = state
        .db
        .pull_changes(me.workspace_id, q.cursor, limit)
        .await?;
    state.metrics.observe_pull(page.changes.len());
    Ok(Json(PullResponse {
        changes: page.changes,
        conflicts: page.conflicts,
        next_cursor: page.next_cursor,
        has_more: page.has_more,
        server_time: Utc::now(),
    }))
}

#[derive(Deserialize)]
pub struct SnapshotQuery {
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn snapshot(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    q: Result<Query<SnapshotQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SnapshotResponse<Box<RawValue>>>, ApiError> {
    let q = query(q)?;
    let limit = page_limit(q.limit, MAX_SNAPSHOT_PAGE)?;
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(key) => {
            let bad = || ApiError::invalid("after must be ENTITY/ROW_ID from next_after");
            let (entity, row) = key.split_once('/').ok_or_else(bad)?;
            Some((entity.to_owned(), Uuid::parse_str(row).map_err(|_| bad())?))
        }
    };
    let page = state
        .db
        .snapshot_page(me.workspace_id, after, limit)
        .await?;
    let next_after = page
        .rows
        .last()
        .filter(|_| page.has_more)
        .map(|r| format!("{}/{}", r.entity, r.row_id));
    Ok(Json(SnapshotResponse {
        as_of_seq: page.as_of_seq,
        rows: page.rows,
        conflicts: page.conflicts,
        next_after,
        has_more: page.has_more,
        total_rows: page.total_rows,
        server_time: Utc::now(),
    }))
}
