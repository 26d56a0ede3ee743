//! Storage: projects and plans in KV (read on the hot path), images in R2 under their sha256,
//! the fleet registry and firmware metadata in D1. Every function here is one storage concern;
//! decisions are made by `fota_shared`.

use crate::cache;
use crate::error::{AppError, AppResult};
use fota_shared::api::{Device, Firmware, Plan, Project};
use fota_shared::ban::DeliveryState;
use fota_shared::luat::UpgradeCheck;
use fota_shared::time::rfc3339;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, Env};

pub mod retention;
pub mod summary;

pub const KV: &str = "FOTA_KV";
pub const R2: &str = "IMAGES";
pub const D1: &str = "DB";

pub fn now() -> i64 {
    worker::Date::now().as_millis() as i64
}

pub fn kv(env: &Env) -> AppResult<worker::kv::KvStore> {
    Ok(env.kv(KV)?)
}

pub fn bucket(env: &Env) -> AppResult<Bucket> {
    Ok(env.bucket(R2)?)
}

pub fn db(env: &Env) -> AppResult<D1Database> {
    Ok(env.d1(D1)?)
}

pub fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// A nullable text argument.
pub fn opt(text: Option<&str>) -> JsValue {
    text.map_or(JsValue::NULL, s)
}

pub fn n(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// The R2 key of an image: content-addressed, so a key never names other bytes.
pub fn image_key(sha256: &str) -> String {
    format!("images/{sha256}")
}

/// One component of a KV key, with `:` (the separator) and `%` escaped, so that
/// `plan:X:a:b` can never name both project `X`'s `a:b` and project `X:a`'s `b`.
fn kv_part(text: &str) -> String {
    text.replace('%', "%25").replace(':', "%3A")
}

fn project_kv_key(key: &str) -> String {
    format!("project:{}", kv_part(key))
}

fn plan_kv_key(project: &str, firmware: &str) -> String {
    format!("plan:{}:{}", kv_part(project), kv_part(firmware))
}

pub fn plan_kv_prefix(project: &str) -> String {
    format!("plan:{}:", kv_part(project))
}

fn owner_kv_key(device: &str) -> String {
    format!("owner:{}", kv_part(device))
}

/// Reads a JSON value from KV. Parsed with serde_json from the text: the binding's own `json()`
/// goes through a JS object, which loses `#[serde(flatten)]` types such as `Plan` (they become maps).
async fn kv_json<T: serde::de::DeserializeOwned>(store: &worker::kv::KvStore, key: &str) -> AppResult<Option<T>> {
    match store.get(key).text().await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AppError::Unavailable(format!("KV value {key} unreadable: {e}"))),
    }
}

/// Writes a JSON value to KV, serialized with serde_json (see [`kv_json`] for why).
async fn kv_put_json<T: serde::Serialize>(store: &worker::kv::KvStore, key: &str, value: &T) -> AppResult<()> {
    let text = serde_json::to_string(value).map_err(|e| AppError::Unavailable(format!("cannot encode {key}: {e}")))?;
    store.put(key, text.as_str())?.execute().await?;
    Ok(())
}

// ---------------------------------------------------------------- projects

pub async fn project(env: &Env, key: &str) -> AppResult<Option<Project>> {
    let now = now();
    if let Some(hit) = cache::project(key, now) {
        return Ok(hit);
    }
    let found: Option<Project> = kv_json(&kv(env)?, &project_kv_key(key)).await?;
    cache::put_project(key, now, found.clone());
    Ok(found)
}

#[derive(Deserialize)]
struct ProjectRow {
    key: String,
    name: String,
    ban_after: f64,
    created_at: f64,
    updated_at: f64,
}

impl From<ProjectRow> for Project {
    fn from(r: ProjectRow) -> Self {
        Project {
            key: r.key,
            name: r.name,
            ban_after: r.ban_after as u32,
            created_at: rfc3339(r.created_at as i64),
            updated_at: rfc3339(r.updated_at as i64),
        }
    }
}

/// Creates or renames a project: D1 is the record, KV the copy the hot path reads.
pub async fn put_project(env: &Env, key: &str, name: &str, ban_after: Option<u32>) -> AppResult<Project> {
    let now = now();
    let row: Option<ProjectRow> = db(env)?
        .prepare(
            "INSERT INTO projects (key, name, ban_after, created_at, updated_at) VALUES (?1, ?2, COALESCE(?3, 6), ?4, ?4)
             ON CONFLICT(key) DO UPDATE SET name = excluded.name, ban_after = COALESCE(?3, projects.ban_after), updated_at = ?4
             RETURNING key, name, ban_after, created_at, updated_at",
        )
        .bind(&[s(key), s(name), ban_after.map_or(JsValue::NULL, |b| n(b as i64)), n(now)])?
        .first(None)
        .await?;
    let project: Project = row.ok_or_else(|| AppError::Unavailable("project upsert returned nothing".into()))?.into();
    kv_put_json(&kv(env)?, &project_kv_key(key), &project).await?;
    cache::put_project(key, now, Some(project.clone()));
    Ok(project)
}

pub async fn list_projects(env: &Env) -> AppResult<Vec<Project>> {
    let rows: Vec<ProjectRow> = db(env)?
        .prepare("SELECT key, name, ban_after, created_at, updated_at FROM projects ORDER BY key")
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(Project::from).collect())
}

// ---------------------------------------------------------------- plans

pub async fn plan(env: &Env, project: &str, firmware: &str) -> AppResult<Option<Plan>> {
    let now = now();
    if let Some(hit) = cache::plan(project, firmware, now) {
        return Ok(hit);
    }
    let found: Option<Plan> = kv_json(&kv(env)?, &plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now, found.clone());
    Ok(found)
}

/// A plan read from KV, past the isolate cache (admin reads must see the latest write).
pub async fn fresh_plan(env: &Env, project: &str, firmware: &str) -> AppResult<Option<Plan>> {
    let found: Option<Plan> = kv_json(&kv(env)?, &plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now(), found.clone());
    Ok(found)
}

pub async fn put_plan(env: &Env, plan: &Plan) -> AppResult<()> {
    kv_put_json(&kv(env)?, &plan_kv_key(&plan.project_key, &plan.firmware_name), plan).await?;
    cache::put_plan(&plan.project_key, &plan.firmware_name, now(), Some(plan.clone()));
    Ok(())
}

pub async fn delete_plan(env: &Env, project: &str, firmware: &str) -> AppResult<()> {
    kv(env)?.delete(&plan_kv_key(project, firmware)).await?;
    cache::put_plan(project, firmware, now(), None);
    Ok(())
}

/// Every plan of a project, read from KV (always fresh: admin reads bypass the isolate cache).
pub async fn list_plans(env: &Env, project: &str) -> AppResult<Vec<Plan>> {
    let store = kv(env)?;
    let mut plans = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = store.list().prefix(plan_kv_prefix(project));
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        for key in &page.keys {
            if let Some(plan) = kv_json::<Plan>(&store, &key.name).await? {
                plans.push(plan);
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    plans.sort_by(|a, b| a.firmware_name.cmp(&b.firmware_name));
    Ok(plans)
}

// ---------------------------------------------------------------- devices

/// The project a device is bound to, binding it to the check's project on first sight.
///
/// The hot path answers from isolate memory or KV; only a device never seen before waits on D1,
/// where the binding is made durable before any answer goes out.
pub async fn owner(env: &Env, check: &UpgradeCheck) -> AppResult<String> {
    if let Some(owner) = cache::owner(&check.device_id) {
        return Ok(owner);
    }
    let store = kv(env)?;
    if let Some(owner) = store.get(&owner_kv_key(&check.device_id)).text().await? {
        cache::put_owner(&check.device_id, &owner);
        return Ok(owner);
    }
    let now = now();
    let owner: Option<String> = db(env)?
        .prepare(
            "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(id) DO UPDATE SET id = id
             RETURNING project_key",
        )
        .bind(&[s(&check.device_id), s(&check.project_key), s(&check.firmware_name), s(&check.version_text), n(now)])?
        .first(Some("project_key"))
        .await?;
    let owner = owner.ok_or_else(|| AppError::Unavailable("device upsert returned nothing".into()))?;
    if owner == check.project_key {
        device_event(env, &owner, &check.device_id, "bound", &format!("first check: {} {}", check.firmware_name, check.version_text)).await?;
    }
    store.put(&owner_kv_key(&check.device_id), owner.as_str())?.execute().await?;
    cache::put_owner(&check.device_id, &owner);
    if owner == check.project_key {
        cache::claim_seen_write(&check.device_id, &check.version_text, now);
    }
    Ok(owner)
}

/// Records what a check told about its device (version, firmware, last seen). Reporting the
/// version deliveries were counted for means the upgrade took: the count and any ban for that
/// target are cleared, exactly as `fota_shared::ban::after_report` says.
pub async fn record_seen(env: &Env, check: &UpgradeCheck, now: i64) -> AppResult<()> {
    let reported = fota_shared::ban::target_key(&check.firmware_name, &check.version);
    db(env)?
            .prepare(
                "UPDATE devices SET firmware_name = ?2, version = ?3, last_seen = ?4,
                   deliveries = CASE WHEN delivery_target = ?5 THEN 0 ELSE deliveries END,
                   banned = CASE WHEN delivery_target = ?5 THEN 0 ELSE banned END
                 WHERE id = ?1 AND project_key = ?6",
            )
            .bind(&[
                s(&check.device_id),
                s(&check.firmware_name),
                s(&check.version_text),
                n(now),
                s(&reported),
                s(&check.project_key),
            ])?
            .run()
            .await?;
    device_event(env, &check.project_key, &check.device_id, "check", &format!("{} {}", check.firmware_name, check.version_text)).await
}

#[derive(Deserialize)]
struct DeliveryRow {
    delivery_target: Option<String>,
    deliveries: f64,
    banned: f64,
}

pub async fn delivery_state(env: &Env, device: &str) -> AppResult<DeliveryState> {
    let row: Option<DeliveryRow> = db(env)?
        .prepare("SELECT delivery_target, deliveries, banned FROM devices WHERE id = ?1")
        .bind(&[s(device)])?
        .first(None)
        .await?;
    Ok(row.map_or_else(DeliveryState::default, |r| DeliveryState {
        target: r.delivery_target,
        count: r.deliveries as u32,
        banned: r.banned != 0.0,
    }))
}

pub async fn save_delivery(env: &Env, device: &str, state: &DeliveryState, now: i64) -> AppResult<()> {
    db(env)?
        .prepare(
            "UPDATE devices SET delivery_target = ?2, deliveries = ?3, banned = ?4,
               banned_at = CASE WHEN ?4 = 1 AND banned = 0 THEN ?5 ELSE banned_at END, last_seen = ?5
             WHERE id = ?1",
        )
        .bind(&[
            s(device),
            state.target.as_deref().map_or(JsValue::NULL, s),
            n(state.count as i64),
            n(state.banned as i64),
            n(now),
        ])?
        .run()
        .await?;
    Ok(())
}

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
            state: r.job_phase,
            cause: r.job_cause,
        }
    }
}

pub(crate) const DEVICE_COLUMNS: &str = "id, firmware_name, version, first_seen, last_seen, deliveries, banned, job_phase, job_cause";

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
    pub limit: u32,
}

/// One page of a project's devices in id order, and whether more follow.
pub async fn list_devices(env: &Env, project: &str, f: &DeviceFilter) -> AppResult<(Vec<Device>, bool)> {
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
        push(" AND banned = ?", n(b as i64), &mut sql);
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
    args.push(n(f.limit as i64 + 1));
    let page = format!(" ORDER BY id LIMIT ?{}", args.len());
    let sql = match &f.q {
        None => format!("{sql}{page}"),
        Some(q) => {
            // A prefix of the id, or an exact version: what an operator types in a filter box.
            // Each arm pages in id order off its own index ((project_key, id), (project_key,
            // version, id)); an OR of the two, or a substring LIKE, would scan the whole project.
            let (low, high) = fota_shared::fleet_summary::id_prefix_range(q);
            args.extend([s(&low), s(&high), s(q)]);
            let (a, b, c) = (args.len() - 2, args.len() - 1, args.len());
            format!(
                "SELECT * FROM (SELECT * FROM ({sql} AND id >= ?{a} AND id < ?{b}{page}) \
                 UNION SELECT * FROM ({sql} AND version = ?{c}{page})){page}"
            )
        }
    };
    let mut rows: Vec<DeviceRow> = db(env)?.prepare(sql).bind(&args)?.all().await?.results()?;
    let more = rows.len() > f.limit as usize;
    rows.truncate(f.limit as usize);
    Ok((rows.into_iter().map(Device::from).collect(), more))
}

pub async fn device(env: &Env, project: &str, id: &str) -> AppResult<Option<Device>> {
    let row: Option<DeviceRow> = db(env)?
        .prepare(format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE project_key = ?1 AND id = ?2"))
        .bind(&[s(project), s(id)])?
        .first(None)
        .await?;
    Ok(row.map(Device::from))
}

/// Lifts a ban: the count starts again from zero.
pub async fn unban(env: &Env, project: &str, id: &str) -> AppResult<Option<Device>> {
    let row: Option<DeviceRow> = db(env)?
        .prepare(format!(
            "UPDATE devices SET banned = 0, deliveries = 0, banned_at = NULL WHERE project_key = ?1 AND id = ?2 RETURNING {DEVICE_COLUMNS}"
        ))
        .bind(&[s(project), s(id)])?
        .first(None)
        .await?;
    Ok(row.map(Device::from))
}

/// Appends one entry to a device's history.
pub async fn device_event(env: &Env, project: &str, device: &str, kind: &str, detail: &str) -> AppResult<()> {
    device_event_stmt(env, project, device, kind, detail)?.run().await?;
    Ok(())
}

pub fn device_event_stmt(env: &Env, project: &str, device: &str, kind: &str, detail: &str) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("INSERT INTO device_events (project_key, device_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[s(project), s(device), n(now()), s(kind), s(detail)])?)
}

/// A device's history, oldest first (the latest 1000 entries).
pub async fn device_events(env: &Env, project: &str, device: &str) -> AppResult<Vec<fota_shared::api::DeviceEvent>> {
    #[derive(Deserialize)]
    struct Row {
        at: f64,
        kind: String,
        detail: Option<String>,
    }
    let mut rows: Vec<Row> = db(env)?
        .prepare("SELECT at, kind, detail FROM device_events WHERE device_id = ?1 AND project_key = ?2 ORDER BY id DESC LIMIT 1000")
        .bind(&[s(device), s(project)])?
        .all()
        .await?
        .results()?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|r| fota_shared::api::DeviceEvent { at: rfc3339(r.at as i64), kind: r.kind, detail: r.detail })
        .collect())
}

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
            db(&env)?.batch(batch).await?;
        }
        AppResult::Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = e.into_response();
    }
}

/// The last `hours` hours of a project's activity, oldest first, zeros filled in.
pub async fn activity(env: &Env, project: &str, hours: u32, now: i64) -> AppResult<Vec<fota_shared::api::ActivityHour>> {
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
        .all()
        .await?
        .results()?;
    Ok((0..hours as i64)
        .map(|i| {
            let at = first + i * 3_600_000;
            let row = rows.iter().find(|r| r.hour as i64 == at);
            fota_shared::api::ActivityHour {
                at: rfc3339(at),
                checks: row.map_or(0, |r| r.checks as u64),
                deliveries: row.map_or(0, |r| r.deliveries as u64),
            }
        })
        .collect())
}

// ---------------------------------------------------------------- firmware

#[derive(Deserialize)]
struct FirmwareRow {
    firmware_name: String,
    version: String,
    sha256: String,
    md5: String,
    size: f64,
    uploaded_at: f64,
    module: String,
    kind: String,
    source_version: Option<String>,
    notes: Option<String>,
    uploader: Option<String>,
}

impl From<FirmwareRow> for Firmware {
    fn from(r: FirmwareRow) -> Self {
        Firmware {
            firmware_name: r.firmware_name,
            version: r.version,
            sha256: r.sha256,
            md5: r.md5,
            size: r.size as u64,
            uploaded_at: rfc3339(r.uploaded_at as i64),
            module: r.module,
            kind: fota_shared::api::ImageKind::parse(&r.kind).unwrap_or_default(),
            source_version: r.source_version,
            notes: r.notes,
            uploader: r.uploader,
        }
    }
}

const FIRMWARE_COLUMNS: &str = "firmware_name, version, sha256, md5, size, uploaded_at, module, kind, source_version, notes, uploader";

pub async fn list_firmware(env: &Env, project: &str, firmware: Option<&str>) -> AppResult<Vec<Firmware>> {
    let stmt = match firmware {
        Some(fw) => db(env)?
            .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 ORDER BY firmware_name, uploaded_at"))
            .bind(&[s(project), s(fw)])?,
        None => db(env)?
            .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 ORDER BY firmware_name, uploaded_at"))
            .bind(&[s(project)])?,
    };
    let rows: Vec<FirmwareRow> = stmt.all().await?.results()?;
    Ok(rows.into_iter().map(Firmware::from).collect())
}

pub async fn firmware(env: &Env, project: &str, firmware: &str, version: &str) -> AppResult<Option<Firmware>> {
    let row: Option<FirmwareRow> = db(env)?
        .prepare(format!("SELECT {FIRMWARE_COLUMNS} FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 AND version = ?3"))
        .bind(&[s(project), s(firmware), s(version)])?
        .first(None)
        .await?;
    Ok(row.map(Firmware::from))
}

/// Records an uploaded image. Returns false when the version already exists (nothing written).
pub async fn insert_firmware(env: &Env, project: &str, fw: &Firmware, uploaded_at: i64) -> AppResult<bool> {
    let result = db(env)?
        .prepare(
            "INSERT INTO firmware (project_key, firmware_name, version, sha256, md5, size, uploaded_at, module, kind, source_version, notes, uploader)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
        )
        .bind(&[
            s(project),
            s(&fw.firmware_name),
            s(&fw.version),
            s(&fw.sha256),
            s(&fw.md5),
            n(fw.size as i64),
            n(uploaded_at),
            s(&fw.module),
            s(fw.kind.as_str()),
            opt(fw.source_version.as_deref()),
            opt(fw.notes.as_deref()),
            opt(fw.uploader.as_deref()),
        ])?
        .run()
        .await?;
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0)
}

pub async fn delete_firmware(env: &Env, project: &str, firmware: &str, version: &str) -> AppResult<()> {
    db(env)?
        .prepare("DELETE FROM firmware WHERE project_key = ?1 AND firmware_name = ?2 AND version = ?3")
        .bind(&[s(project), s(firmware), s(version)])?
        .run()
        .await?;
    Ok(())
}

/// The md5 of an image, from any firmware record of it.
pub async fn image_md5(env: &Env, sha256: &str) -> AppResult<Option<String>> {
    Ok(db(env)?.prepare("SELECT md5 FROM firmware WHERE sha256 = ?1 LIMIT 1").bind(&[s(sha256)])?.first(Some("md5")).await?)
}

/// How many firmware records (in any project) still point at these bytes.
pub async fn image_references(env: &Env, sha256: &str) -> AppResult<u32> {
    let count: Option<f64> = db(env)?
        .prepare("SELECT COUNT(*) AS n FROM firmware WHERE sha256 = ?1")
        .bind(&[s(sha256)])?
        .first(Some("n"))
        .await?;
    Ok(count.unwrap_or(0.0) as u32)
}
