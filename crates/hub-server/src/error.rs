//! The one error shape of the HTTP API: `{code, message}` with a matching status.
//!
//! Clients switch on `code`, never on `message`. Internal errors are logged here with their
//! real cause and answered with a generic message. axum's own rejections (bad JSON, body
//! too large, wrong content type) go through [`ApiJson`] so they share the shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::accounts::AccountError;
use crate::storage::StorageError;
use crate::ErrorBody;

/// An error answer. Build with the constructors; `into_response` renders it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// Logs the cause (never personal data: callers pass storage/hash errors only) and
    /// answers a generic 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StorageError::NotFound(what) => Self::not_found(format!("{what} not found")),
            StorageError::DeviceTaken(_) => Self::new(
                StatusCode::CONFLICT,
                "device_taken",
                "this device's database is registered with another workspace; \
                 a database syncs with one workspace only",
            ),
            StorageError::OpIdReused(op_id) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "op_id_reused",
                format!(
                    "op_id {op_id} was already pushed with a different payload; nothing was written"
                ),
            ),
            other => Self::internal(other),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Input(e) => Self::invalid(e.0),
            AccountError::Unauthorized => Self::unauthorized(err.to_string()),
            AccountError::WorkspaceRequired => {
                Self::new(StatusCode::CONFLICT, "workspace_required", err.to_string())
            }
            AccountError::Storage(e) => e.into(),
            AccountError::Hash(e) => Self::internal(e),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_request",
        };
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => format!(
                "request body is larger than {} bytes",
                crate::MAX_BODY_BYTES
            ),
            _ => rejection.body_text(),
        };
        // Syntax and shape errors are both the caller's bad request.
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        Self::new(status, code, message)
    }
}

/// `axum::Json`, but a rejection answers in the API's `{code, message}` shape.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}
