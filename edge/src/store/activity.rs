//! Dashboard activity (`activity`): checks and deliveries per project and hour, added to in
//! background flushes and read back with the empty hours filled in.

use super::{db, n, s, Metered as _, MeteredBatch as _};
use crate::error::AppResult;
use fota_shared::leaf::time::rfc3339;
use serde::Deserialize;
use worker::Env;

/// Adds counts to the activity table (background work: errors are logged, counts lost).
pub async fn flush_activity(env: Env, counts: Vec<((String, i64), (u64, u64))>) {
    let result = async {
        let mut batch = Vec::new();
        for ((project, hour), (checks, deliveries)) in &counts {
            batch.push(
                db(&env)?
                    .prepare(
                        "INSERT INTO activity (project_key, hour, checks, deliveries) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(project_key, hour) DO UPDATE SET checks = checks + ?3, deliveries = deliveries + ?4",
                    )
                    .bind(&[s(project), n(*hour), n(*checks as i64), n(*deliveries as i64)])?,
            );
        }
        if !batch.is_empty() {
            db(&env)?.background_batch(batch).await?;
        }
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        e.log();
    }
}

/// The last `hours` hours of a project's activity, oldest first, zeros filled in.
pub async fn activity(
    env: &Env,
    project: &str,
    hours: u32,
    now: i64,
) -> AppResult<Vec<fota_shared::api::fleet::ActivityHour>> {
    #[derive(Deserialize)]
    struct Row {
        hour: f64,
        checks: f64,
        deliveries: f64,
    }
    let current = now.div_euclid(3_600_000) * 3_600_000;
    let first = current - (hours as i64 - 1) * 3_600_000;
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT hour, checks, deliveries FROM activity WHERE project_key = ?1 AND hour >= ?2 ORDER BY hour")
        .bind(&[s(project), n(first)])?
        .counted_all()
        .await?
        .results()?;
    Ok((0..hours as i64)
        .map(|i| {
            let at = first + i * 3_600_000;
            let row = rows.iter().find(|r| r.hour as i64 == at);
            fota_shared::api::fleet::ActivityHour {
                at: rfc3339(at),
                checks: row.map_or(0, |r| r.checks as u64),
                deliveries: row.map_or(0, |r| r.deliveries as u64),
            }
        })
        .collect())
}
