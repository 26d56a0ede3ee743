//! Admin API types of access: tokens, the audit log, and the one error body every admin error uses.

use serde::{Deserialize, Serialize};

/// Every admin error: `{"error":{"code":"not_found","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// Stable machine code, e.g. `unauthorized`, `not_found`, `invalid_json`, `payload_too_large`.
    pub code: String,
    pub message: String,
}

/// `POST /admin/v1/tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Unique; names the token's holder in the audit log.
    pub name: String,
    pub role: crate::api::routes::Role,
}

/// A token as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: crate::api::routes::Role,
    pub created_at: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `201` answer to a token creation: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    pub name: String,
    pub role: crate::api::routes::Role,
    pub token: String,
    pub created_at: String,
}

/// `GET /admin/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// One audit log entry: who did what to what, and how it looked before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: String,
    /// The token name (`bootstrap` for `ADMIN_TOKEN`).
    pub actor: String,
    /// `METHOD route-pattern`, e.g. `PUT projects/{key}/plans/{firmware_name}`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// `GET /admin/v1/audit?project=&actor=&action=&since=&cursor=&limit=`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
