//! The fleet summary (`GET /admin/v1/projects/{key}/summary`): the counts D1 keeps as devices
//! change (`store::summary`), read in one D1 batch of a few hundred rows whatever the fleet's
//! size, shaped by `fota_shared::api::fleet_summary`, and kept in isolate memory per project for at
//! most [`fota_shared::api::fleet_summary::CACHE_MS`], so a dashboard polling every few seconds
//! costs one read per isolate per minute.

use crate::error::AppResult;
use crate::store;
use fota_shared::api::fleet::FleetSummary;
use fota_shared::api::fleet_summary::{is_fresh, summarize};
use std::cell::RefCell;
use std::collections::HashMap;

/// Projects whose summary an isolate keeps; past this the map is cleared (memory stays bounded).
const MAX_PROJECTS: usize = 1_000;

thread_local! {
    /// project key -> (computed at, summary)
    static SUMMARIES: RefCell<HashMap<String, (i64, FleetSummary)>> = RefCell::new(HashMap::new());
}

/// The project's summary, from this isolate's memory while it is fresh.
pub async fn get(env: &worker::Env, project: &str) -> AppResult<FleetSummary> {
    let now = store::now();
    let hit = SUMMARIES.with_borrow(|m| {
        m.get(project)
            .filter(|(at, _)| is_fresh(*at, now))
            .map(|(_, s)| s.clone())
    });
    if let Some(summary) = hit {
        return Ok(summary);
    }
    let summary = summarize(
        store::summary::aggregates(env, project, now).await?,
        fota_shared::leaf::time::rfc3339(now),
    );
    SUMMARIES.with_borrow_mut(|m| {
        if m.len() >= MAX_PROJECTS {
            m.clear();
        }
        m.insert(project.to_string(), (now, summary.clone()));
    });
    Ok(summary)
}
