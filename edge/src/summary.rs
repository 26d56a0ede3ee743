//! The fleet summary (`GET /admin/v1/projects/{key}/summary`): the counts D1 keeps as devices
//! change (`store::summary`), read in one D1 batch of a few hundred rows whatever the fleet's
//! size, shaped by `fota_shared::api::fleet_summary`, and kept in isolate memory per project for at
//! most [`fota_shared::api::fleet_summary::CACHE_MS`], so a dashboard polling every few seconds
//! costs one read per isolate per minute.

use crate::error::AppResult;
use crate::store;
use fota_shared::api::fleet::FleetSummary;
use fota_shared::api::fleet_summary::{is_fresh, summarize, Aggregates};
use std::cell::RefCell;
use std::collections::HashMap;

/// Projects whose counts an isolate keeps; past this the map is cleared (memory stays bounded).
const MAX_PROJECTS: usize = 1_000;

thread_local! {
    /// project key -> (read at, what D1 answered)
    static COUNTS: RefCell<HashMap<String, (i64, Aggregates)>> = RefCell::new(HashMap::new());
}

/// The project's summary, from this isolate's memory while it is fresh.
pub async fn get(env: &worker::Env, project: &str) -> AppResult<FleetSummary> {
    let (at, agg) = counts(env, project).await?;
    Ok(summarize(agg, fota_shared::leaf::time::rfc3339(at)))
}

/// What the summary is made of (`Aggregates`, with the clock hours its seen-within counts come
/// from) and when D1 was read for it: this isolate's copy while it is fresh, else one D1 batch.
/// The Prometheus metrics read the same copy, so a scrape and the summary agree.
pub async fn counts(env: &worker::Env, project: &str) -> AppResult<(i64, Aggregates)> {
    let now = store::now();
    let hit = COUNTS.with_borrow(|m| m.get(project).filter(|(at, _)| is_fresh(*at, now)).cloned());
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let agg = store::summary::aggregates(env, project, now).await?;
    COUNTS.with_borrow_mut(|m| {
        if m.len() >= MAX_PROJECTS {
            m.clear();
        }
        m.insert(project.to_string(), (now, agg.clone()));
    });
    Ok((now, agg))
}
