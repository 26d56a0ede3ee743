//! Data fetched from the API as the dashboard holds it: the value, whether a load runs, and
//! why the last one failed.

use crate::strings;

/// A failed call as the app sees it: the client error's text (which carries the API's message),
/// and whether it means the server is out of reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub connection: bool,
}

pub type Outcome<T> = Result<T, Failure>;

/// Data fetched from the API with its loading and error state. Old data stays while a refresh
/// runs or fails, so the screen does not flash empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote<T> {
    pub data: Option<T>,
    pub loading: bool,
    pub error: Option<String>,
}

impl<T> Default for Remote<T> {
    fn default() -> Self {
        Remote {
            data: None,
            loading: false,
            error: None,
        }
    }
}

impl<T> Remote<T> {
    /// Marks a load as started; false when one is already running (no second request then).
    pub fn begin(&mut self) -> bool {
        !std::mem::replace(&mut self.loading, true)
    }

    pub fn settle(&mut self, what: &str, result: Outcome<T>) {
        self.loading = false;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(failure) => {
                self.error = Some(strings::failed(
                    &strings::loading_failed(what),
                    &failure.message,
                ))
            }
        }
    }
}

/// Keeps a selection inside a list of `len` rows.
pub fn clamp(index: usize, len: usize) -> usize {
    index.min(len.saturating_sub(1))
}
