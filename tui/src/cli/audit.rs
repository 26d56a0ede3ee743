//! `fota audit`: the audit log of every change, newest first, page by page or `--all`.

use fota_shared::api::access::{AuditEntry, AuditPage};

use super::output::{table, Output};
use super::{AuditFilters, CliError};
use crate::api::{ApiClient, ApiError};
use crate::config::Connection;
use fota_shared::api::query::AuditQuery;

/// Audit entries per request for `audit --all`.
const AUDIT_ALL_PAGE: u32 = 500;

/// Runs `fota audit` with its filters.
pub async fn run(
    filters: AuditFilters,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let AuditFilters {
        actor,
        action,
        since,
        limit,
        all,
    } = filters;
    let query = AuditQuery {
        project: connection.project.clone(),
        actor,
        action,
        since,
        cursor: None,
        limit: limit.or(all.then_some(AUDIT_ALL_PAGE)),
    };
    let page = if all {
        all_audit(api, query).await?
    } else {
        api.audit(&query).await?
    };
    if !out.json && page.next_cursor.is_some() {
        eprintln!("(older entries follow: use --all or a larger --limit)");
    }
    out.print(&page, || audit_table(&page.entries))
}

async fn all_audit(api: &ApiClient, mut query: AuditQuery) -> Result<AuditPage, ApiError> {
    let mut entries = Vec::new();
    loop {
        let page = api.audit(&query).await?;
        entries.extend(page.entries);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => {
                return Ok(AuditPage {
                    entries,
                    next_cursor: None,
                })
            }
        }
    }
}

fn audit_table(entries: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.project_key.clone().unwrap_or_default(),
                e.target.clone(),
            ]
        })
        .collect();
    table(&["id", "at", "actor", "action", "project", "target"], &rows)
}
