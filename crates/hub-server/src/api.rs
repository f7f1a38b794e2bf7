//! `/v1` handlers for sign-in and devices, and the bearer-token extractor.
//!
//! Workspace isolation: every device query is scoped by the caller's workspace, so another
//! workspace's device is simply not there. `DELETE /v1/devices/{id}` answers 404 for it,
//! exactly as for an id that exists nowhere, so a token cannot even probe which ids exist.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hub_protocol::wire::{DeviceList, DeviceView, LoginRequest, LoginResponse};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts;
use crate::auth::{secret_hash, Password};
use crate::error::{ApiError, ApiJson};
use crate::metrics::LoginResult;
use crate::storage::{Device, Storage};
use crate::AppState;

/// The device behind a valid, unrevoked bearer token.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Device);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        state
            .db
            .authenticate_device(&secret_hash(token), Utc::now())
            .await?
            .map(Authenticated)
            .ok_or_else(|| ApiError::unauthorized("device token is invalid or revoked"))
    }
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let signed_in = accounts::login(
        &state.db,
        &state.passwords,
        &body.email,
        &body.password,
        &body.device_name,
        body.device_id,
        body.workspace_id,
    )
    .await;
    state.metrics.observe_login(match &signed_in {
        Ok(_) => LoginResult::Ok,
        Err(accounts::AccountError::Unauthorized) => LoginResult::Unauthorized,
        Err(_) => LoginResult::Refused,
    });
    let signed_in = signed_in?;
    tracing::info!(device = %signed_in.device_id, workspace = %signed_in.workspace_id, "device signed in");
    Ok(Json(LoginResponse {
        device_id: signed_in.device_id,
        token: signed_in.token,
        workspace_id: signed_in.workspace_id,
        user_id: signed_in.user_id,
        server_time: Utc::now(),
    }))
}

#[derive(Deserialize)]
pub struct SetupRequest {
    secret: String,
    password: String,
}

/// `200` body of `POST /v1/auth/setup`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetupResponse {
    pub user_id: Uuid,
    pub server_time: DateTime<Utc>,
}

pub async fn setup(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SetupRequest>,
) -> Result<Json<SetupResponse>, ApiError> {
    let password = Password::parse(body.password).map_err(|e| ApiError::invalid(e.0))?;
    let user_id =
        accounts::complete_password_setup(&state.db, &state.passwords, &body.secret, password)
            .await
            .map_err(|err| match err {
                accounts::AccountError::Unauthorized => {
                    ApiError::unauthorized("setup secret is invalid, used or expired")
                }
                other => other.into(),
            })?;
    Ok(Json(SetupResponse {
        user_id,
        server_time: Utc::now(),
    }))
}

pub async fn list_devices(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
) -> Result<Json<DeviceList>, ApiError> {
    let devices = state.db.devices(me.workspace_id).await?;
    Ok(Json(DeviceList {
        devices: devices
            .into_iter()
            .map(|d| DeviceView {
                current: d.id == me.id,
                id: d.id,
                user_id: d.user_id,
                name: d.name,
                created_at: d.created_at,
                last_seen_at: d.last_seen_at,
                revoked_at: d.revoked_at,
            })
            .collect(),
        server_time: Utc::now(),
    }))
}

/// Revokes at once: the device's next request is a 401. Revoking twice is fine (204 again).
pub async fn revoke_device(
    State(state): State<AppState>,
    Authenticated(me): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found("no such device in this workspace");
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    if state
        .db
        .revoke_device(me.workspace_id, id, Utc::now())
        .await?
    {
        tracing::info!(device = %id, by = %me.id, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
