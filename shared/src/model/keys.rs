//! Notice signing keys as data: the public side of a key and its validity, as the edge stores it
//! (milliseconds). The admin API shows it as `crate::api::ota::SigningKeyInfo`; the rules (which
//! key signs, which are trusted) live in `crate::rules::notice`.

use serde::{Deserialize, Serialize};

/// The public side of a notice signing key, as the edge stores and publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub id: String,
    pub public_key_hex: String,
    /// From this instant the key may sign.
    pub created_ms: i64,
    /// From this instant the key neither signs nor is trusted; `None` until a rotation sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after_ms: Option<i64>,
}
