//! What the edge knows of a device when it reaches a rollout, and the standing it gives the
//! device there: trusted, signed, or counted apart (unverified).

use crate::model::rollout::{RolloutSpec, Standing};
use crate::rules::rollout::is_verify_device;
use serde::{Deserialize, Serialize};

/// What the edge knows of a device when it reaches a rollout, for [`Provenance::standing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub signed: bool,
    /// In the plan's explicit `devices` list.
    pub listed: bool,
    /// Registered by an operator (it holds a secret): trusted whatever it proved on this check.
    #[serde(default)]
    pub registered: bool,
    /// When its id was first bound to its project (shown, no longer a ground for trust: an id
    /// any check could bind before the rollout proves nothing).
    pub first_seen_ms: i64,
}

impl Provenance {
    /// A provisioned JSON device.
    pub const SIGNED: Provenance = Provenance {
        signed: true,
        listed: false,
        registered: false,
        first_seen_ms: 0,
    };

    /// Its standing in a rollout: trusted when it proved who it is (a provisioned JSON device, a
    /// registered Luat id) or an operator named it (the plan's `devices`, the rollout's test
    /// devices). Any other id is served within the unverified share and counted apart, however
    /// long ago it was bound (`_started_ms` is kept for callers; binding time no longer counts).
    pub fn standing(&self, spec: &RolloutSpec, device_id: &str, _started_ms: i64) -> Standing {
        if self.signed {
            Standing::Signed
        } else if self.listed || self.registered || is_verify_device(spec, device_id) {
            Standing::Trusted
        } else {
            Standing::Unverified
        }
    }
}
