//! A device's binding to its project: D1's row and KV's copy, in the form both keep, the
//! binding of a new id, and the owner lookups. Storage only: when to read or write a binding is
//! `crate::owner`'s. The registry's check-time columns are `registry`'s, the admin's view of the
//! fleet `fleet`'s, and JSON devices' provisioning `provisioning`'s.

use super::{db, kv, n, owner_kv_key, s, Metered as _, MeteredBatch as _};
use crate::error::{AppError, AppResult};
use fota_shared::rules::decide::Enrolment;
use fota_shared::rules::luat::UpgradeCheck;
use fota_shared::rules::luat_sign::LuatKey;
use serde::Deserialize;
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
