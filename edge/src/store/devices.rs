//! The fleet registry (`devices`) and each device's history (`device_events`): a device's
//! binding to its project (D1's row and KV's copy, in the form both keep), the check-time columns
//! the registry writes, the admin device list and its filters, unban, forget and move,
//! provisioning of JSON devices, and the lookup device authentication starts from. Storage only:
//! when to read or write a binding is `crate::owner`'s.

use super::{batch, db, kv, n, now, owner_kv_key, s, Metered as _, MeteredBatch as _};
use crate::error::{AppError, AppResult};
use fota_shared::api::fleet::Device;
use fota_shared::api::ota::Protocol;
use fota_shared::leaf::time::rfc3339;
use fota_shared::model::rollout::DevicePhase;
use fota_shared::rules::decide::Enrolment;
use fota_shared::rules::luat::UpgradeCheck;
use fota_shared::rules::luat_sign::LuatKey;
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Env;

/// Who a device id belongs to: its project, how it came there (bound by its own first check,
/// registered by an operator as a Luat device with a secret, or provisioned as a JSON device,
/// which speaks only the signed API: a Luat check with its id is refused and changes nothing),
/// and when the id was first bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub project: String,
    pub enrolment: Enrolment,
    /// The secret a registered Luat device holds (which key generation, under which master key).
    pub key: Option<LuatKey>,
    /// 0 when an operator vouched for the binding (moved or de-provisioned it), or for bindings
    /// stored before this was kept.
    pub first_seen: i64,
}

impl Owner {
    /// A binding as D1 holds it: `provisioned_at`, `protocol` and the key columns.
    pub fn from_row(project: String, row: &KeyColumns, first_seen: i64) -> Owner {
        let enrolment = match (row.provisioned_at.is_some(), row.protocol.as_deref()) {
            (false, _) => Enrolment::Bound,
            (true, Some("luat")) => Enrolment::Registered,
            (true, _) => Enrolment::Json,
        };
        let key = (enrolment == Enrolment::Registered).then(|| LuatKey {
            master_version: row.key_master_version.map_or(0, |v| v as u32),
            generation: row.key_generation.map_or(0, |g| g as i64),
        });
        Owner {
            project,
            enrolment,
            key,
            first_seen,
        }
    }
}

/// The columns of a device row that say how it is enrolled.
#[derive(Debug, Default, Deserialize)]
pub struct KeyColumns {
    pub provisioned_at: Option<f64>,
    pub protocol: Option<String>,
    pub key_generation: Option<f64>,
    pub key_master_version: Option<f64>,
}

/// KV and isolate memory keep an owner as `<project> signed` for a provisioned JSON device,
/// `<project> luat <first_seen ms> <generation> <master version>` for a registered Luat device,
/// else `<project> <first_seen ms>` (a project key has no spaces; a bare `<project>` is an older
/// copy).
pub fn owner_text(owner: &Owner) -> String {
    match (owner.enrolment, owner.key) {
        (Enrolment::Json, _) => format!("{} signed", owner.project),
        (Enrolment::Registered, Some(k)) => format!(
            "{} luat {} {} {}",
            owner.project, owner.first_seen, k.generation, k.master_version
        ),
        _ => format!("{} {}", owner.project, owner.first_seen),
    }
}

pub fn parse_owner(text: &str) -> Owner {
    let mut words = text.split(' ');
    let project = words.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = words.collect();
    let number = |i: usize| rest.get(i).and_then(|w| w.parse::<i64>().ok()).unwrap_or(0);
    match rest.first().copied() {
        Some("signed") => Owner {
            project,
            enrolment: Enrolment::Json,
            key: None,
            first_seen: 0,
        },
        Some("luat") => Owner {
            project,
            enrolment: Enrolment::Registered,
            key: Some(LuatKey {
                generation: number(2),
                master_version: u32::try_from(number(3)).unwrap_or(0),
            }),
            first_seen: number(1),
        },
        _ => Owner {
            project,
            enrolment: Enrolment::Bound,
            key: None,
            first_seen: number(0),
        },
    }
}

/// KV's copy of a device's binding (`owner_text`), if any.
pub async fn kv_owner(env: &Env, device: &str) -> AppResult<Option<String>> {
    crate::metrics::kv(crate::metrics::Kv::Read);
    Ok(kv(env)?.get(&owner_kv_key(device)).text().await?)
}

/// Writes KV's copy of a device's binding.
pub async fn put_kv_owner(env: &Env, device: &str, owner: &Owner) -> AppResult<()> {
    crate::metrics::kv(crate::metrics::Kv::Write);
    kv(env)?
        .put(&owner_kv_key(device), owner_text(owner).as_str())?
        .execute()
        .await?;
    Ok(())
}

/// Binds a device never seen before to the check's project in D1, with its history entry, in
/// one batch, and answers the binding D1 now holds (another check may have made it first).
pub async fn bind(env: &Env, check: &UpgradeCheck, now: i64) -> AppResult<Owner> {
    let bind = db(env)?
        .prepare(
            "INSERT INTO devices (id, project_key, firmware_name, version, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(id) DO NOTHING",
        )
        .bind(&[
            s(&check.device_id),
            s(&check.project_key),
            s(&check.firmware_name),
            s(&check.version_text),
            n(now),
        ])?;
    // The history entry only when this statement made the binding (changes() is 1).
    let bound = db(env)?
        .prepare(
            "INSERT INTO device_events (project_key, device_id, at, kind, detail)
             SELECT ?1, ?2, ?3, 'bound', ?4 WHERE changes() = 1",
        )
        .bind(&[
            s(&check.project_key),
            s(&check.device_id),
            n(now),
            s(&format!(
                "first check: {} {}",
                check.firmware_name, check.version_text
            )),
        ])?;
    let owner = db(env)?
        .prepare("SELECT project_key, provisioned_at, protocol, key_generation, key_master_version, first_seen FROM devices WHERE id = ?1")
        .bind(&[s(&check.device_id)])?;
    let results = db(env)?.counted_batch(vec![bind, bound, owner]).await?;
    #[derive(Deserialize)]
    struct Row {
        project_key: String,
        first_seen: Option<f64>,
        #[serde(flatten)]
        key: KeyColumns,
    }
    results
        .get(2)
        .map(|r| r.results::<Row>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .map(|r| {
            Owner::from_row(
                r.project_key,
                &r.key,
                r.first_seen.map_or(0, |at| at as i64),
            )
        })
        .ok_or_else(|| AppError::Unavailable("device binding returned nothing".into()))
}

/// The binding D1 holds for an id, if any (an id registered or provisioned by an operator has
/// no KV copy until its first check).
pub async fn owner_row(env: &Env, id: &str) -> AppResult<Option<Owner>> {
    #[derive(Deserialize)]
    struct Row {
        project_key: String,
        first_seen: Option<f64>,
        #[serde(flatten)]
        key: KeyColumns,
    }
    let row: Option<Row> = db(env)?
        .prepare("SELECT project_key, provisioned_at, protocol, key_generation, key_master_version, first_seen FROM devices WHERE id = ?1")
        .bind(&[s(id)])?
        .counted_first(None)
        .await?;
    Ok(row.map(|r| {
        Owner::from_row(
            r.project_key,
            &r.key,
            r.first_seen.map_or(0, |at| at as i64),
        )
    }))
}

/// What D1 holds of these devices' check-time columns (for the registry's write rule).
#[derive(Deserialize)]
pub struct RegistryRow {
    pub id: String,
    pub project_key: String,
    pub firmware_name: Option<String>,
    pub version: Option<String>,
    #[serde(deserialize_with = "f64_as_i64")]
    pub last_seen: i64,
}

fn f64_as_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    <f64 as Deserialize>::deserialize(d).map(|v| v as i64)
}

pub async fn registry_rows(env: &Env, ids: &[&str]) -> AppResult<Vec<RegistryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = (1..=ids.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let args: Vec<JsValue> = ids.iter().map(|id| s(id)).collect();
    Ok(db(env)?
        .prepare(format!("SELECT id, project_key, firmware_name, version, last_seen FROM devices WHERE id IN ({marks})"))
        .bind(&args)?
        .counted_all()
        .await?
        .results()?)
}

/// Records that a device was seen, nothing else having changed. It assigns `last_seen` alone,
/// which no index holds, so D1 writes the one row (an UPDATE that assigned an indexed column
/// would rewrite that index's row too, and D1 bills it).
pub fn last_seen_stmt(
    env: &Env,
    id: &str,
    project: &str,
    at: i64,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare(
            "UPDATE devices SET last_seen = MAX(last_seen, ?3) WHERE id = ?1 AND project_key = ?2",
        )
        .bind(&[s(id), s(project), n(at)])?)
}

/// Records what a check changed: firmware, version, `last_seen`.
pub fn seen_stmt(
    env: &Env,
    id: &str,
    project: &str,
    firmware: &str,
    version: &str,
    at: i64,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("UPDATE devices SET firmware_name = ?3, version = ?4, last_seen = MAX(last_seen, ?5) WHERE id = ?1 AND project_key = ?2")
        .bind(&[s(id), s(project), s(firmware), s(version), n(at)])?)
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
        // The kind is a literal: the partial index of budget entries (migration 0011) serves it.
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

/// Lifts a ban: the count starts again from zero.
pub async fn unban(env: &Env, project: &str, id: &str) -> AppResult<Option<Device>> {
    let row: Option<DeviceRow> = db(env)?
        .prepare(format!(
            "UPDATE devices SET banned = 0, deliveries = 0, banned_at = NULL WHERE project_key = ?1 AND id = ?2 RETURNING {DEVICE_COLUMNS}"
        ))
        .bind(&[s(project), s(id)])?
        .counted_first(None)
        .await?;
    Ok(row.map(Device::from))
}

/// Forgets a device: its registry row, history, modules, job and rollout records go, and KV's
/// copy of its binding. The next check with its id binds it again, as a new device. The
/// rollouts' coordinators are told first (`crate::rollout::forget`), so no pending copy of theirs
/// writes the records back.
pub async fn forget(env: &Env, project: &str, id: &str) -> AppResult<()> {
    let plans = format!("{}/%", like_escaped(project));
    batch(
        env,
        vec![
            db(env)?.prepare("DELETE FROM device_events WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            db(env)?.prepare("DELETE FROM device_modules WHERE device_id = ?1").bind(&[s(id)])?,
            db(env)?.prepare("DELETE FROM device_jobs WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
            db(env)?.prepare("DELETE FROM rollout_devices WHERE device_id = ?1 AND plan_id LIKE ?2 ESCAPE '\\'").bind(&[s(id), s(&plans)])?,
            db(env)?.prepare("DELETE FROM devices WHERE id = ?1 AND project_key = ?2").bind(&[s(id), s(project)])?,
        ],
    )
    .await?;
    crate::metrics::kv(crate::metrics::Kv::Delete);
    kv(env)?.delete(&owner_kv_key(id)).await?;
    Ok(())
}

/// Moves a device to project `to`: its row and history follow it; its job and rollout records in
/// the old project's rollouts go (the new project's plans count it afresh). Answers the moved
/// device and its new binding, for the caller to remember (`crate::owner::remember`).
pub async fn move_to(
    env: &Env,
    from: &str,
    to: &str,
    id: &str,
) -> AppResult<Option<(Device, Owner)>> {
    let plans = format!("{}/%", like_escaped(from));
    let statements = vec![
        db(env)?.prepare("DELETE FROM device_jobs WHERE device_id = ?1 AND project_key = ?2").bind(&[s(id), s(from)])?,
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
const ROWS_PER_STATEMENT: usize = 90;

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

// ---------------------------------------------------------------- JSON devices

/// What device authentication reads of a device: its project, whether it is provisioned, and
/// which secret it holds (see `fota_shared::rules::device_auth`).
#[derive(Deserialize)]
pub struct AuthRow {
    pub project_key: String,
    #[serde(flatten)]
    pub key: KeyColumns,
}

impl AuthRow {
    /// A provisioned JSON device (a registered Luat device's secret does not open the JSON API).
    pub fn is_json_device(&self) -> bool {
        self.key.provisioned_at.is_some() && self.key.protocol.as_deref() != Some("luat")
    }
}

pub async fn auth_row(env: &Env, id: &str) -> AppResult<Option<AuthRow>> {
    Ok(db(env)?
        .prepare("SELECT project_key, provisioned_at, protocol, key_generation, key_master_version FROM devices WHERE id = ?1")
        .bind(&[s(id)])?
        .counted_first(None)
        .await?)
}

/// Records the master key version a device from before versions were recorded just verified
/// under; from now on it verifies under that version only.
pub async fn record_master_version(
    env: &Env,
    id: &str,
    generation: i64,
    version: u32,
) -> AppResult<()> {
    db(env)?
        .prepare("UPDATE devices SET key_master_version = ?3 WHERE id = ?1 AND key_generation = ?2 AND key_master_version IS NULL")
        .bind(&[s(id), n(generation), n(i64::from(version))])?
        .counted_run()
        .await?;
    Ok(())
}

/// Records a JSON device's report: seen now, and its version when the report is for the whole device.
pub fn reported_stmt(
    env: &Env,
    id: &str,
    at: i64,
    whole_device: bool,
    version: &str,
) -> AppResult<worker::D1PreparedStatement> {
    Ok(db(env)?
        .prepare("UPDATE devices SET last_seen = ?2, version = CASE WHEN ?3 = 1 THEN ?4 ELSE version END WHERE id = ?1")
        .bind(&[s(id), n(at), n(whole_device as i64), s(version)])?)
}

/// Binds each id to the project and marks it provisioned, in one batch, issuing a new key
/// generation (derived from master key `master_version`) to each id not provisioned yet, or to
/// every id when `rekey`. Returns the ids given a generation, with it and whether this call made
/// the device's row (an id no check had bound). An id another project owns,
/// and without `rekey` an id already provisioned, is left as it is.
///
/// The generation issued is `max(now, previous + 1)` (the rule `fota_shared::rules::device_auth`
/// documents), computed in the statement so two concurrent re-keys cannot issue one generation
/// twice; a de-provisioned device keeps its last generation for this.
pub async fn provision(
    env: &Env,
    project: &str,
    ids: &[String],
    at: i64,
    master_version: u32,
    rekey: bool,
    protocol: Protocol,
) -> AppResult<Vec<(String, i64, bool)>> {
    // Many rows per statement (D1 binds at most 100 parameters: 6 shared, then one per id), so
    // 1,000 ids are a dozen statements in one batch. An id provisioned under the other protocol
    // is left as it is (the caller reports it).
    let mut statements = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let rows = (0..chunk.len())
            .map(|i| format!("(?{}, ?1, ?2, ?2, ?2, ?2, ?3, ?5)", i + 7))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<JsValue> = vec![
            s(project),
            n(at),
            n(i64::from(master_version)),
            n(rekey as i64),
            s(protocol.as_str()),
            JsValue::NULL,
        ];
        args.extend(chunk.iter().map(|id| s(id)));
        statements.push(
            db(env)?
                .prepare(format!(
                    "INSERT INTO devices (id, project_key, first_seen, last_seen, provisioned_at, key_generation, key_master_version, protocol)
                     VALUES {rows}
                     ON CONFLICT(id) DO UPDATE SET provisioned_at = COALESCE(devices.provisioned_at, ?2),
                       key_generation = MAX(?2, COALESCE(devices.key_generation, 0) + 1), key_master_version = ?3,
                       protocol = ?5
                     WHERE devices.project_key = ?1
                       AND (devices.provisioned_at IS NULL OR (?4 = 1 AND COALESCE(devices.protocol, 'json') = ?5))
                     RETURNING id, key_generation, first_seen"
                ))
                .bind(&args)?,
        );
    }
    #[derive(Deserialize)]
    struct Issued {
        id: String,
        key_generation: f64,
        first_seen: f64,
    }
    let mut issued = Vec::new();
    for result in db(env)?.counted_batch(statements).await? {
        issued.extend(
            result
                .results::<Issued>()?
                .into_iter()
                .map(|r| (r.id, r.key_generation as i64, r.first_seen as i64 == at)),
        );
    }
    Ok(issued)
}

/// Of `ids`, those provisioned (in any project) under the other protocol than `protocol`.
pub async fn other_protocol(
    env: &Env,
    ids: &[String],
    protocol: Protocol,
) -> AppResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(90) {
        let marks = (2..chunk.len() + 2)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut args: Vec<JsValue> = vec![s(protocol.as_str())];
        args.extend(chunk.iter().map(|id| s(id)));
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let rows: Vec<Row> = db(env)?
            .prepare(format!(
                "SELECT id FROM devices WHERE id IN ({marks}) AND provisioned_at IS NOT NULL AND COALESCE(protocol, 'json') <> ?1"
            ))
            .bind(&args)?
            .counted_all()
            .await?
            .results()?;
        found.extend(rows.into_iter().map(|r| r.id));
    }
    Ok(found)
}

/// Clears a device's provisioning: its signed requests are refused from now on (its key
/// generation stays, so provisioning it again issues a new secret), and KV's copy of its binding
/// no longer marks it signed. `false`: the device is not a provisioned device of this project.
pub async fn deprovision(env: &Env, project: &str, id: &str) -> AppResult<bool> {
    #[derive(Deserialize)]
    struct Row {
        #[allow(dead_code)]
        id: String,
    }
    let row: Option<Row> = db(env)?
        .prepare("UPDATE devices SET provisioned_at = NULL WHERE id = ?1 AND project_key = ?2 AND provisioned_at IS NOT NULL RETURNING id")
        .bind(&[s(id), s(project)])?
        .counted_first(None)
        .await?;
    Ok(row.is_some())
}

/// The project each of these devices is bound to (ids not in the registry are absent).
pub async fn owners(
    env: &Env,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, String>> {
    #[derive(Deserialize)]
    struct Owner {
        id: String,
        project_key: String,
    }
    let mut owners = std::collections::HashMap::new();
    // D1 takes at most 100 bound parameters per statement.
    for chunk in ids.chunks(90) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
        let rows: Vec<Owner> = db(env)?
            .prepare(format!(
                "SELECT id, project_key FROM devices WHERE id IN ({})",
                marks.join(",")
            ))
            .bind(&chunk.iter().map(|id| s(id)).collect::<Vec<_>>())?
            .counted_all()
            .await?
            .results()?;
        owners.extend(rows.into_iter().map(|r| (r.id, r.project_key)));
    }
    Ok(owners)
}

/// The ids of a project's provisioned devices, in order (the first 5000).
pub async fn provisioned_ids(env: &Env, project: &str) -> AppResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let rows: Vec<Row> = db(env)?
        .prepare("SELECT id FROM devices WHERE project_key = ?1 AND provisioned_at IS NOT NULL AND COALESCE(protocol, 'json') = 'json' ORDER BY id LIMIT 5000")
        .bind(&[s(project)])?
        .counted_all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
