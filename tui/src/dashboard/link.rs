//! Whether the server answers: the status bar's link state and the retry backoff while it
//! does not.

use super::message::TICKS_PER_SECOND;
use super::remote::Outcome;

/// Seconds between retries while the server is unreachable, one step per failed attempt.
const BACKOFF_SECS: [u32; 6] = [1, 2, 4, 8, 15, 30];

/// Whether the server answers; drives the status bar and the retry backoff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Link {
    #[default]
    Connecting,
    Online,
    /// `retry_in` ticks until the next attempt; `None` while that attempt runs.
    Offline {
        attempt: u32,
        retry_in: Option<u32>,
        reason: String,
    },
}

impl Link {
    /// Records whether a call reached the server. Only the first failure of a round starts a new
    /// backoff step, so several requests failing together count as one attempt.
    pub fn observe<T>(&mut self, result: &Outcome<T>) {
        match result {
            Err(failure) if failure.connection => {
                let attempt = match &*self {
                    Link::Offline {
                        retry_in: Some(_), ..
                    } => return,
                    Link::Offline { attempt, .. } => attempt + 1,
                    _ => 1,
                };
                let step = BACKOFF_SECS[(attempt as usize - 1).min(BACKOFF_SECS.len() - 1)];
                *self = Link::Offline {
                    attempt,
                    retry_in: Some(step * TICKS_PER_SECOND),
                    reason: failure.message.clone(),
                };
            }
            _ => *self = Link::Online,
        }
    }
}
