//! The Audit tab's one call, a page of the audit log, run by the shell with the API client and
//! answered with what it asked.

use fota_shared::api::access::AuditPage;
use fota_shared::api::query::AuditQuery;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::Outcome;
use crate::dashboard::shell::failure;

/// A page of the audit log under `query`, for the list of `generation` (a page of a list the
/// filter has since replaced is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadAudit {
    pub generation: u64,
    pub query: AuditQuery,
}

/// The answer to [`LoadAudit`]; `cursor` is the page's (`None`: the first page).
#[derive(Debug)]
pub struct AuditLoaded {
    pub generation: u64,
    pub cursor: Option<String>,
    pub result: Outcome<AuditPage>,
}

/// The tab's command and answer, by the registry's names.
pub type AuditCommand = LoadAudit;
pub type AuditAnswer = AuditLoaded;

impl LoadAudit {
    /// The shell's part: one call with the API client.
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> AuditLoaded {
        AuditLoaded {
            generation: self.generation,
            cursor: self.query.cursor.clone(),
            result: api.audit(&self.query).await.map_err(failure),
        }
    }
}

impl AuditLoaded {
    /// Whether the call reached the server, for the link state.
    pub fn reached(&self) -> Option<Outcome<()>> {
        Some(self.result.as_ref().map(|_| ()).map_err(Clone::clone))
    }
}
