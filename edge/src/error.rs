//! The one way out for admin-side errors: a stable machine code, an HTTP status, a short message.
//! Internal causes are logged (without secrets) and never shown to clients.

use fota_shared::api::access::{ApiErrorBody, ApiErrorDetail};
use fota_shared::api::query::QueryError;
use worker::Response;

#[derive(Debug)]
pub enum AppError {
    Unauthorized,
    /// A valid token whose role is below the route's.
    Forbidden(&'static str),
    NotFound(String),
    MethodNotAllowed,
    BadRequest {
        code: &'static str,
        message: String,
    },
    Conflict {
        code: &'static str,
        message: String,
    },
    PayloadTooLarge(u64),
    /// Any other refusal with its own status and stable code (JSON devices' `auth_*`, `url_*`, ...).
    Status {
        status: u16,
        code: &'static str,
        message: String,
    },
    /// A binding (KV, R2, D1) failed: the request may be retried. The cause is logged only.
    Unavailable(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed => 405,
            AppError::BadRequest { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::PayloadTooLarge(_) => 413,
            AppError::Status { status, .. } => *status,
            AppError::Unavailable(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::BadRequest { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Status { code, .. } => code,
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Unavailable(_) => "unavailable",
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::Unauthorized => "a valid bearer token is required".into(),
            AppError::Forbidden(role) => format!("this route needs the {role} role"),
            AppError::NotFound(what) => format!("{what} not found"),
            AppError::MethodNotAllowed => "method not allowed on this route".into(),
            AppError::BadRequest { message, .. }
            | AppError::Conflict { message, .. }
            | AppError::Status { message, .. } => message.clone(),
            AppError::PayloadTooLarge(limit) => format!("body larger than {limit} bytes"),
            AppError::Unavailable(_) => "storage temporarily unavailable, retry".into(),
        }
    }

    /// Logs a failure of background work (nobody is waiting for an answer), rate limited.
    pub fn log(&self) {
        match self {
            AppError::Unavailable(cause) => crate::logs::once(cause, "background work failed"),
            other => crate::logs::once(other.code(), &other.message()),
        }
    }

    pub fn into_response(self) -> Response {
        if let AppError::Unavailable(cause) = &self {
            crate::logs::once(cause, "storage error, answered 503");
        }
        let body = ApiErrorBody {
            error: ApiErrorDetail {
                code: self.code().into(),
                message: self.message(),
            },
        };
        json_response(self.status(), &body)
    }
}

impl From<QueryError> for AppError {
    fn from(e: QueryError) -> Self {
        AppError::BadRequest {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<worker::Error> for AppError {
    fn from(e: worker::Error) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

impl From<worker::kv::KvError> for AppError {
    fn from(e: worker::kv::KvError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

/// A JSON response with a fixed-length body.
pub fn json_response<T: serde::Serialize>(status: u16, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp =
        Response::from_bytes(body).unwrap_or_else(|_| Response::empty().expect("empty response"));
    let _ = resp.headers_mut().set("Content-Type", "application/json");
    resp.with_status(status)
}
