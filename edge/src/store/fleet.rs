//! The admin's view of the fleet: the device list and its filters, one device, unban, forget and
//! move, and each device's history (`device_events`).

use super::{batch, db, kv, n, now, owner_kv_key, s, Metered as _};
use crate::error::AppResult;
use fota_shared::api::fleet::Device;
use fota_shared::leaf::time::rfc3339;
use fota_shared::model::rollout::DevicePhase;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::devices::Owner;
use super::provisioning::auth_row;

#[derive(Deserialize)]
pub(crate) struct DeviceRow {
    id: String,
    firmware_name: Option<String>,
    version: Option<String>,
    first_seen: f64,
    last_seen: f64,
    deliveries: f64,
    banned: f64,
    job_phase: Option<String>,
    job_cause: Option<String>,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        Device {
            id: r.id,
            firmware_name: r.firmware_name,
            version: r.version,
            first_seen: rfc3339(r.first_seen as i64),
            last_seen: rfc3339(r.last_seen as i64),
            deliveries: r.deliveries as u32,
            banned: r.banned != 0.0,
            state: r.job_phase.as_deref().and_then(DevicePhase::parse),
            cause: r.job_cause,
        }
    }
}

pub(crate) const DEVICE_COLUMNS: &str =
    "id, firmware_name, version, first_seen, last_seen, deliveries, banned, job_phase, job_cause";

/// Filters of the device list; all optional.
#[derive(Debug, Default)]
pub struct DeviceFilter {
    pub after: Option<String>,
    pub q: Option<String>,
    pub version: Option<String>,
    pub firmware_name: Option<String>,
    pub banned: Option<bool>,
    /// The job state in the device's current rollout.
    pub state: Option<String>,
    /// Only devices seen at or after this time (ms).
    pub seen_since: Option<i64>,
    /// Only devices that reached their daily data budget at or after this time (ms): the start
    /// of the UTC day.
    pub over_budget_since: Option<i64>,
    pub limit: u32,
}

/// One page of a project's devices in id order, and whether more follow.
pub async fn list_devices(
    env: &Env,
    project: &str,
    f: &DeviceFilter,
) -> AppResult<(Vec<Device>, bool)> {
    let mut sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE project_key = ?1");
    let mut args = vec![s(project)];
    let mut push = |clause: &str, value: JsValue, sql: &mut String| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(after) = &f.after {
        push(" AND id > ?", s(after), &mut sql);
    }
    if let Some(v) = &f.version {
        push(" AND version = ?", s(v), &mut sql);
    }
    if let Some(fw) = &f.firmware_name {
        push(" AND firmware_name = ?", s(fw), &mut sql);
    }
    if let Some(b) = f.banned {
        // A literal, not a bound value: SQLite uses the partial index of banned devices only
        // for a condition it can see matches the index's.
        sql.push_str(if b {
            " AND banned = 1"
        } else {
            " AND banned = 0"
        });
    }
    if let Some(state) = &f.state {
        if state == "idle" {
            push(" AND COALESCE(job_phase, ?) = 'idle'", s("idle"), &mut sql);
        } else {
            push(" AND job_phase = ?", s(state), &mut sql);
        }
    }
    if let Some(since) = f.seen_since {
        push(" AND last_seen >= ?", n(since), &mut sql);
    }
    if let Some(since) = f.over_budget_since {
        // The kind is a literal: the partial index of budget entries (migration 0012) serves it.
        args.push(n(since));
        sql.push_str(&format!(
            " AND id IN (SELECT device_id FROM device_events WHERE project_key = ?1 \
             AND kind = 'daily_budget_reached' AND at >= ?{})",
            args.len()
        ));
    }
    args.push(n(f.limit as i64 + 1));
    let page = format!(" ORDER BY id LIMIT ?{}", args.len());
    let sql = match &f.q {
        None => format!("{sql}{page}"),
        Some(q) => {
            // A prefix of the id, or an exact version: what an operator types in a filter box.
            // Each arm pages in id order off its own index ((project_key, id), (project_key,
            // version, id)); an OR of the two, or a substring LIKE, would scan the whole project.
            let (low, high) = fota_shared::api::fleet_summary::id_prefix_range(q);
            args.extend([s(&low), s(&high), s(q)]);
            let (a, b, c) = (args.len() - 2, args.len() - 1, args.len());
            format!(
                "SELECT * FROM (SELECT * FROM ({sql} AND id >= ?{a} AND id < ?{b}{page}) \
                 UNION SELECT * FROM ({sql} AND version = ?{c}{page})){page}"
            )
        }
    };
    let mut rows: Vec<DeviceRow> = db(env)?
        .prepare(sql)
        .bind(&args)?
        .counted_all()
        .await?
        .results()?;
    let more = rows.len() > f.limit as usize;
    rows.truncate(f.limit as usize);
    Ok((rows.into_iter().map(Device::from).collect(), more))
}

pub async fn device(env: &Env, project: &str, id: &str) -> AppResult<Option<Device>> {
    let row: Option<DeviceRow> = db(env)?
        .prepare(format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE project_key = ?1 AND id = ?2"
        ))
        .bind(&[s(project), s(id)])?
        .counted_first(None)
        .await?;
    Ok(row.map(Device::from))
}

/// Lifts a ban in the registry (the count starts again from zero), with the history entry that
/// says who did it: statements for the caller's batch.
pub fn unban_stmts(
    env: &Env,
    project: &str,
    id: &str,
    by: &str,
) -> AppResult<Vec<worker::D1PreparedStatement>> {
    Ok(vec![
        db(env)?
            .prepare("UPDATE devices SET banned = 0, deliveries = 0, banned_at = NULL WHERE project_key = ?1 AND id = ?2")
            .bind(&[s(project), s(id)])?,
        device_event_stmt(env, project, id, "unban", &format!("by {by}"))?,
    ])
}

/// Forgets a device: its registry row, history, modules, job and rollout records go, and KV's
/// copy of its binding. The next check with its id binds it again, as a new device. The
/// rollouts' coordinators are told first (`crate::rollout::forget`), so no pending copy of theirs
/// writes the records back. `audit` is the operator's audit entry, committed with the removal.
pub async fn forget(
    env: &Env,
    project: &str,
    id: &str,
    audit: worker::D1PreparedStatement,
) -> AppResult<()> {
    let plans = format!("{}/%", like_escaped(project));
    batch(
        env,
        vec![
            db(env)?.prepare("DELETE FROM device_events WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            db(env)?.prepare("DELETE FROM device_modules WHERE device_id = ?1").bind(&[s(id)])?,
            db(env)?.prepare("DELETE FROM device_jobs WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            db(env)?.prepare("DELETE FROM rollout_devices WHERE device_id = ?1 AND plan_id LIKE ?2 ESCAPE '\\'").bind(&[s(id), s(&plans)])?,
            db(env)?.prepare("DELETE FROM devices WHERE id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            db(env)?.prepare("DELETE FROM ota_bytes WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            audit,
        ],
    )
    .await?;
    crate::metrics::kv(crate::metrics::Kv::Delete);
    kv(env)?.delete(&owner_kv_key(id)).await?;
    Ok(())
}

/// Moves a device to project `to`: its row and history follow it; its job and rollout records in
/// the old project's rollouts go (the new project's plans count it afresh). Answers the moved
/// device and its new binding, for the caller to remember (`crate::owner::remember`). `extra`
/// (the history entry and the audit entry) is committed with the move.
pub async fn move_to(
    env: &Env,
    from: &str,
    to: &str,
    id: &str,
    extra: Vec<worker::D1PreparedStatement>,
) -> AppResult<Option<(Device, Owner)>> {
    let plans = format!("{}/%", like_escaped(from));
    let mut statements = vec![
        db(env)?.prepare("DELETE FROM device_jobs WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(from)])?,
        db(env)?.prepare("DELETE FROM ota_bytes WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(from)])?,
        db(env)?.prepare("DELETE FROM rollout_devices WHERE device_id = ?1 AND plan_id LIKE ?2 ESCAPE '\\'").bind(&[s(id), s(&plans)])?,
        db(env)?.prepare("UPDATE device_events SET project_key = ?3 WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(from), s(to)])?,
        db(env)?
            .prepare(
                "UPDATE devices SET project_key = ?3, job_plan = NULL, job_phase = NULL, job_since = NULL, job_cause = NULL,
                   delivery_target = NULL, deliveries = 0, banned = 0, banned_at = NULL
                 WHERE id = ?1 AND project_key = ?2",
            )
            .bind(&[s(id), s(from), s(to)])?,
    ];
    statements.extend(extra);
    batch(env, statements).await?;
    let Some(moved) = device(env, to, id).await? else {
        return Ok(None);
    };
    let columns = auth_row(env, id).await?.map(|r| r.key).unwrap_or_default();
    Ok(Some((moved, Owner::from_row(to.to_string(), &columns, 0))))
}

/// `text` for a LIKE pattern with `\` as the escape character.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Appends one entry to a device's history.
pub async fn device_event(
    env: &Env,
    project: &str,
    device: &str,
    kind: &str,
    detail: &str,
) -> AppResult<()> {
    device_event_stmt(env, project, device, kind, detail)?
        .counted_run()
        .await?;
    Ok(())
}

/// Ids per multi-row statement: D1 binds at most 100 parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 90;

/// One history entry per device, `kind` and a detail each, as few statements as D1 allows.
pub fn device_events_stmts(
    env: &Env,
    project: &str,
    entries: &[(String, String)],
    kind: &str,
) -> AppResult<Vec<worker::D1PreparedStatement>> {
    let mut statements = Vec::new();
    for chunk in entries.chunks(ROWS_PER_STATEMENT / 2) {
        let rows = (0..chunk.len())
            .map(|i| format!("(?1, ?{}, ?2, ?3, ?{})", 2 * i + 4, 2 * i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<JsValue> = vec![s(project), n(now()), s(kind)];
        for (device, detail) in chunk {
            args.push(s(device));
            args.push(s(detail));
        }
        statements.push(
            db(env)?
                .prepare(format!(
                    "INSERT INTO device_events (project_key, device_id, at, kind, detail) VALUES {rows}"
                ))
                .bind(&args)?,
        );
    }
    Ok(statements)
}

pub fn device_event_stmt(
    env: &Env,
    project: &str,
    device: &str,
    kind: &str,
    detail: &str,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("INSERT INTO device_events (project_key, device_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[s(project), s(device), n(now()), s(kind), s(detail)])?)
}

/// A device's history, oldest first (the latest 1000 entries).
pub async fn device_events(
    env: &Env,
    project: &str,
    device: &str,
) -> AppResult<Vec<fota_shared::api::fleet::DeviceEvent>> {
    #[derive(Deserialize)]
    struct Row {
        at: f64,
        kind: String,
        detail: Option<String>,
    }
    let mut rows: Vec<Row> = db(env)?
        .prepare("SELECT at, kind, detail FROM device_events WHERE device_id = ?1 AND project_key = ?2 ORDER BY id DESC LIMIT 1000")
        .bind(&[s(device), s(project)])?
        .counted_all()
        .await?
        .results()?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|r| fota_shared::api::fleet::DeviceEvent {
            at: rfc3339(r.at as i64),
            kind: r.kind,
            detail: r.detail,
        })
        .collect())
}
