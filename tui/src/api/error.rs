//! Why an admin API call failed, read from reqwest's error or the API's error body.

use fota_shared::api::access::ApiErrorBody;
use reqwest::StatusCode;

/// Why a call failed. `Display` carries the API's own message so it can be shown as is.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No HTTP answer at all: refused, timed out, DNS, TLS.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered with an error status, usually with an `ApiErrorBody`.
    #[error("{status} {code}: {message}")]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// The server answered 2xx with a body that is not the expected JSON.
    #[error("unexpected answer from {url}: {reason}")]
    Decode { url: String, reason: String },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server is unreachable or failing (5xx): worth retrying later, and shown as a
    /// lost connection rather than as a refusal.
    pub fn is_connection_problem(&self) -> bool {
        match self {
            ApiError::Unreachable { .. } => true,
            ApiError::Status { status, .. } => *status >= 500,
            ApiError::Decode { .. } => false,
        }
    }
}

/// Builds the error for a non-2xx answer; bodies that are not an `ApiErrorBody` (a proxy's HTML
/// page, say) still give a readable message.
pub fn status_error(status: StatusCode, body: &str) -> ApiError {
    match serde_json::from_str::<ApiErrorBody>(body) {
        Ok(body) => ApiError::Status {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => {
            let reason = status.canonical_reason().unwrap_or("error");
            let snippet: String = body.trim().chars().take(120).collect();
            let message = if snippet.is_empty() {
                reason.to_string()
            } else {
                snippet
            };
            ApiError::Status {
                status: status.as_u16(),
                code: reason.to_lowercase().replace(' ', "_"),
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_code_and_message() {
        let err = status_error(
            StatusCode::CONFLICT,
            r#"{"error":{"code":"in_use","message":"plan app targets it"}}"#,
        );
        assert_eq!(err.to_string(), "409 in_use: plan app targets it");
        assert!(!err.is_connection_problem());
    }

    #[test]
    fn non_json_error_bodies_still_read() {
        let err = status_error(StatusCode::BAD_GATEWAY, "");
        assert_eq!(err.to_string(), "502 bad_gateway: Bad Gateway");
        assert!(err.is_connection_problem());
    }
}
