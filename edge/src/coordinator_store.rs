//! The rollout coordinator's storage: every SQL statement a coordinator shard runs on its own
//! SQLite (a Durable Object's storage, billed per row like D1, so each statement's rows are
//! counted in `crate::metrics`). One shard keeps: `meta` (its part of the rollout's state, the
//! version D1's copy has reached, and on the first shard the merged state), `devices` (each
//! device's job and deliveries of the target, marked dirty until D1 has them), `history` (entries
//! waiting for D1), `rate` (first offers per clock minute), `served` (devices each package was
//! delivered to whole) and, on the first shard, `peers` (the other shards' latest counts). A
//! device's row also keeps the image bytes sent to it today (the daily data budget). No
//! decision is made here.

use fota_shared::model::rollout::{DevicePhase, DeviceRollout, RolloutState, Standing};
use fota_shared::rules::ban::DeliveryState;
use fota_shared::rules::rollout::{rate_window, OfferRate};
use serde::Deserialize;
use worker::{Result, SqlCursor, SqlStorage, SqlStorageValue as V};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1), plan_id TEXT NOT NULL, project_key TEXT NOT NULL, firmware_name TEXT NOT NULL,
  state TEXT NOT NULL, version INTEGER NOT NULL, high_water INTEGER NOT NULL, flushed_version INTEGER NOT NULL DEFAULT 0, gen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY, cohort INTEGER NOT NULL, phase TEXT NOT NULL, since_ms INTEGER NOT NULL, offered_ms INTEGER, cause TEXT,
  deliveries INTEGER NOT NULL DEFAULT 0, banned INTEGER NOT NULL DEFAULT 0, banned_at INTEGER, dirty INTEGER NOT NULL DEFAULT 0,
  last_delivery_ms INTEGER, standing TEXT, delivered INTEGER NOT NULL DEFAULT 0, unproven INTEGER NOT NULL DEFAULT 0,
  covered INTEGER NOT NULL DEFAULT 0, sent_day INTEGER NOT NULL DEFAULT 0, sent_bytes INTEGER NOT NULL DEFAULT 0, served_sha TEXT);
CREATE TABLE IF NOT EXISTS served (sha256 TEXT PRIMARY KEY, devices INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS devices_dirty ON devices (dirty) WHERE dirty > 0;
CREATE INDEX IF NOT EXISTS devices_offered ON devices (phase, offered_ms);
CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rate (minute INTEGER PRIMARY KEY, count INTEGER NOT NULL, unverified INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS peers (shard INTEGER PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);";

/// Columns added after the first objects were created: each `ALTER` fails harmlessly where the
/// column is already there.
const ADDED_COLUMNS: [&str; 12] = [
    "ALTER TABLE devices ADD COLUMN last_delivery_ms INTEGER",
    "ALTER TABLE devices ADD COLUMN standing TEXT",
    "ALTER TABLE devices ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE devices ADD COLUMN unproven INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE devices ADD COLUMN covered INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE rate ADD COLUMN unverified INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE meta ADD COLUMN merged TEXT",
    "ALTER TABLE meta ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE meta ADD COLUMN shards INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE devices ADD COLUMN sent_day INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE devices ADD COLUMN sent_bytes INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE devices ADD COLUMN served_sha TEXT",
];

pub const ROW_COLUMNS: &str = "device_id, cohort, phase, since_ms, offered_ms, cause, deliveries, banned, banned_at, dirty, last_delivery_ms, standing, delivered, unproven, covered, sent_day, sent_bytes, served_sha";

/// A device row as stored here.
#[derive(Deserialize)]
pub struct Row {
    pub device_id: String,
    pub cohort: i64,
    pub phase: String,
    pub since_ms: i64,
    pub offered_ms: Option<i64>,
    pub cause: Option<String>,
    pub deliveries: i64,
    pub banned: i64,
    pub banned_at: Option<i64>,
    #[serde(default)]
    pub dirty: i64,
    pub last_delivery_ms: Option<i64>,
    pub standing: Option<String>,
    /// The device's `delivered` and `reported_without_delivery` flags (`DeviceRollout`).
    #[serde(default)]
    pub delivered: i64,
    #[serde(default)]
    pub unproven: i64,
    /// Bytes of the image from byte 0 that streams handed the device since its last delivery.
    #[serde(default)]
    pub covered: i64,
    /// Image bytes sent to the device on `sent_day` (UTC days since the epoch): the daily data
    /// budget's count (`fota_shared::rules::budget`).
    #[serde(default)]
    pub sent_day: i64,
    #[serde(default)]
    pub sent_bytes: i64,
    /// The last package (sha256) delivered whole to the device: a device is counted once per
    /// package it was served (`served`).
    #[serde(default)]
    pub served_sha: Option<String>,
}

impl Row {
    pub fn sent(&self) -> fota_shared::rules::budget::Sent {
        fota_shared::rules::budget::Sent {
            day: self.sent_day,
            bytes: u64::try_from(self.sent_bytes).unwrap_or(0),
        }
    }
}

fn standing_text(standing: Standing) -> &'static str {
    match standing {
        Standing::Signed => "signed",
        Standing::Trusted => "trusted",
        Standing::Unverified => "unverified",
    }
}

impl Row {
    pub fn job(&self) -> DeviceRollout {
        DeviceRollout {
            device_id: self.device_id.clone(),
            cohort: self.cohort as i32,
            phase: DevicePhase::parse(&self.phase).unwrap_or(DevicePhase::Idle),
            since_ms: self.since_ms,
            offered_ms: self.offered_ms,
            cause: self.cause.clone(),
            standing: match self.standing.as_deref() {
                Some("signed") => Standing::Signed,
                Some("unverified") => Standing::Unverified,
                // Rows from before standings existed belong to devices the rollout always trusted.
                _ => Standing::Trusted,
            },
            delivered: self.delivered != 0,
            reported_without_delivery: self.unproven != 0,
        }
    }

    /// The device's deliveries of `target` as the loop-upgrade rule reads them.
    pub fn delivery(row: Option<&Row>, target: &str) -> DeliveryState {
        DeliveryState {
            target: Some(target.to_string()),
            count: row.map_or(0, |r| r.deliveries as u32),
            banned: row.is_some_and(|r| r.banned != 0),
            last_ms: row.and_then(|r| r.last_delivery_ms),
        }
    }
}

/// The shard's row in `meta`.
#[derive(Deserialize)]
pub struct Meta {
    pub plan_id: String,
    pub project_key: String,
    pub firmware_name: String,
    pub state: String,
    pub version: i64,
    pub high_water: i64,
    pub flushed_version: i64,
    #[serde(default)]
    pub merged: Option<String>,
    #[serde(default)]
    pub shard: i64,
    #[serde(default = "one")]
    pub shards: i64,
}

fn one() -> i64 {
    1
}

/// A history entry waiting for D1.
#[derive(Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub device_id: String,
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

pub fn json(state: &RolloutState) -> Result<String> {
    serde_json::to_string(state).map_err(|e| worker::Error::RustError(e.to_string()))
}

pub fn parse(text: &str) -> Result<RolloutState> {
    serde_json::from_str(text).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// One shard's SQLite.
pub struct Ledger(pub SqlStorage);

impl Ledger {
    /// Creates the tables (and the columns added since) where they are missing.
    pub fn init(&self) {
        if let Err(e) = self.0.exec(SCHEMA, None) {
            crate::logs::once("coordinator schema", &e.to_string());
        }
        for alter in ADDED_COLUMNS {
            let _ = self.0.exec(alter, None);
        }
    }

    /// Runs a statement, counting the rows it read and wrote (a write runs when executed, so its
    /// rows are known on return; a read's rows are those of its first step).
    fn exec(&self, query: &str, bindings: impl Into<Option<Vec<V>>>) -> Result<SqlCursor> {
        let cursor = self.0.exec(query, bindings)?;
        crate::metrics::do_rows(cursor.rows_read() as u64, cursor.rows_written() as u64);
        Ok(cursor)
    }

    pub fn meta(&self) -> Result<Option<Meta>> {
        Ok(self
            .exec("SELECT * FROM meta WHERE id = 1", None)?
            .to_array::<Meta>()?
            .into_iter()
            .next())
    }

    pub fn insert_meta(
        &self,
        ident: &crate::rollout::Rollout,
        shard: u32,
        state: &RolloutState,
        high: u32,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO meta (id, plan_id, project_key, firmware_name, state, version, high_water, shard, shards) VALUES (1, ?, ?, ?, ?, 1, ?, ?, ?)",
            vec![V::from(ident.plan_id.as_str()), V::from(ident.project_key.as_str()), V::from(ident.firmware_name.as_str()), V::from(json(state)?), V::from(high as i64), V::from(shard as i64), V::from(ident.shards as i64)],
        )?;
        Ok(())
    }

    pub fn save_state(&self, state: &RolloutState, version: i64, high: u32) -> Result<()> {
        self.exec(
            "UPDATE meta SET state = ?, version = ?, high_water = ? WHERE id = 1",
            vec![
                V::from(json(state)?),
                V::from(version),
                V::from(high as i64),
            ],
        )?;
        Ok(())
    }

    /// The first shard's merged state, under a new version so D1's copy follows.
    pub fn save_merged(&self, merged: &RolloutState, version: i64) -> Result<()> {
        self.exec(
            "UPDATE meta SET merged = ?, version = ? WHERE id = 1",
            vec![V::from(json(merged)?), V::from(version)],
        )?;
        Ok(())
    }

    /// Keeps an event for the project's log (`coordinator::outbox`).
    pub fn push_outbox(&self, body: &str) -> Result<()> {
        self.exec("INSERT INTO outbox (body) VALUES (?)", vec![V::from(body)])?;
        Ok(())
    }

    /// The oldest kept events, with their sequence numbers.
    pub fn outbox(&self, limit: u32) -> Result<Vec<(i64, String)>> {
        #[derive(Deserialize)]
        struct Kept {
            seq: i64,
            body: String,
        }
        let rows: Vec<Kept> = self
            .exec(
                "SELECT seq, body FROM outbox ORDER BY seq LIMIT ?",
                vec![V::from(limit as i64)],
            )?
            .to_array()?;
        Ok(rows.into_iter().map(|k| (k.seq, k.body)).collect())
    }

    /// The log took every kept event up to `seq`.
    pub fn drop_outbox(&self, seq: i64) -> Result<()> {
        self.exec("DELETE FROM outbox WHERE seq <= ?", vec![V::from(seq)])?;
        Ok(())
    }

    pub fn row(&self, device_id: &str) -> Result<Option<Row>> {
        let rows: Vec<Row> = self
            .exec(
                &format!("SELECT {ROW_COLUMNS} FROM devices WHERE device_id = ?"),
                vec![V::from(device_id)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    /// Stores a device's job and deliveries, marked for D1's copy.
    pub fn save_device(
        &self,
        job: &DeviceRollout,
        delivery: &DeliveryState,
        banned_at: Option<i64>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO devices (device_id, cohort, phase, since_ms, offered_ms, cause, deliveries, banned, banned_at, dirty, last_delivery_ms, standing, delivered, unproven)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT gen + 1 FROM meta WHERE id = 1), ?, ?, ?, ?)
             ON CONFLICT(device_id) DO UPDATE SET cohort = excluded.cohort, phase = excluded.phase, since_ms = excluded.since_ms,
               offered_ms = excluded.offered_ms, cause = excluded.cause, deliveries = excluded.deliveries, banned = excluded.banned,
               banned_at = excluded.banned_at, dirty = excluded.dirty, last_delivery_ms = excluded.last_delivery_ms, standing = excluded.standing,
               delivered = excluded.delivered, unproven = excluded.unproven",
            vec![
                V::from(job.device_id.as_str()),
                V::from(job.cohort as i64),
                V::from(job.phase.as_str()),
                V::from(job.since_ms),
                V::from(job.offered_ms),
                V::from(job.cause.clone()),
                V::from(delivery.count as i64),
                V::from(delivery.banned as i64),
                V::from(banned_at),
                V::from(delivery.last_ms),
                V::from(standing_text(job.standing)),
                V::from(i64::from(job.delivered)),
                V::from(i64::from(job.reported_without_delivery)),
            ],
        )?;
        self.exec("UPDATE meta SET gen = gen + 1 WHERE id = 1", None)?;
        Ok(())
    }

    /// What an ended stream leaves on the device's row, in one write (kept here only: D1's
    /// copy has no use for them): how much of the image from byte 0 streams have handed it
    /// since its last delivery, the image bytes sent to it today (the daily budget), and the
    /// last package delivered to it whole.
    pub fn save_stream(
        &self,
        device_id: &str,
        covered: u64,
        sent: fota_shared::rules::budget::Sent,
        served_sha: Option<&str>,
    ) -> Result<()> {
        self.exec(
            "UPDATE devices SET covered = ?, sent_day = ?, sent_bytes = ?, served_sha = ? WHERE device_id = ?",
            vec![
                V::from(covered as i64),
                V::from(sent.day),
                V::from(i64::try_from(sent.bytes).unwrap_or(i64::MAX)),
                V::from(served_sha.map(str::to_string)),
                V::from(device_id),
            ],
        )?;
        Ok(())
    }

    /// A package was delivered whole to a device it was never delivered to: one more device
    /// served for it.
    pub fn count_served(&self, sha256: &str) -> Result<()> {
        self.exec(
            "INSERT INTO served (sha256, devices) VALUES (?, 1)
             ON CONFLICT(sha256) DO UPDATE SET devices = devices + 1",
            vec![V::from(sha256)],
        )?;
        Ok(())
    }

    /// Devices served per package in this shard.
    pub fn served(&self) -> Result<Vec<(String, u64)>> {
        #[derive(Deserialize)]
        struct Served {
            sha256: String,
            devices: i64,
        }
        let rows: Vec<Served> = self
            .exec("SELECT sha256, devices FROM served", None)?
            .to_array()?;
        Ok(rows
            .into_iter()
            .map(|r| (r.sha256, u64::try_from(r.devices).unwrap_or(0)))
            .collect())
    }

    pub fn forget_device(&self, device_id: &str) -> Result<()> {
        self.exec(
            "DELETE FROM devices WHERE device_id = ?",
            vec![V::from(device_id)],
        )?;
        self.exec(
            "DELETE FROM history WHERE device_id = ?",
            vec![V::from(device_id)],
        )?;
        Ok(())
    }

    pub fn record(&self, device_id: &str, kind: &str, detail: &str, now: i64) -> Result<()> {
        self.exec(
            "INSERT INTO history (device_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            vec![
                V::from(device_id),
                V::from(now),
                V::from(kind),
                V::from(detail),
            ],
        )?;
        Ok(())
    }

    pub fn offers_this_minute(&self, now: i64) -> Result<OfferRate> {
        #[derive(Deserialize)]
        struct C {
            count: i64,
            unverified: i64,
        }
        let rows: Vec<C> = self
            .exec(
                "SELECT count, unverified FROM rate WHERE minute = ?",
                vec![V::from(rate_window(now))],
            )?
            .to_array()?;
        Ok(rows.first().map_or(OfferRate::default(), |c| OfferRate {
            offers: c.count as u32,
            unverified: c.unverified as u32,
        }))
    }

    pub fn count_offer(&self, now: i64, standing: Standing) -> Result<()> {
        let unverified = i64::from(standing == Standing::Unverified);
        self.exec(
            "INSERT INTO rate (minute, count, unverified) VALUES (?, 1, ?)
             ON CONFLICT(minute) DO UPDATE SET count = count + 1, unverified = unverified + excluded.unverified",
            vec![V::from(rate_window(now)), V::from(unverified)],
        )?;
        // Older windows are never read again.
        self.exec(
            "DELETE FROM rate WHERE minute < ?",
            vec![V::from(rate_window(now) - 3_600_000)],
        )?;
        Ok(())
    }

    /// Offered devices whose job may have timed out, a batch at a time.
    pub fn offered_before(&self, deadline: i64, limit: u32) -> Result<Vec<Row>> {
        self.exec(
            &format!("SELECT {ROW_COLUMNS} FROM devices WHERE phase = 'offered' AND offered_ms <= ? LIMIT {limit}"),
            vec![V::from(deadline)],
        )?
        .to_array()
    }

    pub fn has_pending(&self) -> Result<bool> {
        #[derive(Deserialize)]
        struct P {
            pending: i64,
        }
        let rows: Vec<P> = self
            .exec(
                "SELECT (SELECT version > flushed_version FROM meta WHERE id = 1)
                      + EXISTS (SELECT 1 FROM devices WHERE dirty > 0) + EXISTS (SELECT 1 FROM history) AS pending",
                None,
            )?
            .to_array()?;
        Ok(rows.first().is_some_and(|p| p.pending > 0))
    }

    pub fn dirty_devices(&self, limit: u32) -> Result<Vec<Row>> {
        self.exec(
            &format!("SELECT {ROW_COLUMNS} FROM devices WHERE dirty > 0 LIMIT {limit}"),
            None,
        )?
        .to_array()
    }

    pub fn history(&self, limit: u32) -> Result<Vec<Entry>> {
        self.exec(
            &format!(
                "SELECT seq, device_id, at, kind, detail FROM history ORDER BY seq LIMIT {limit}"
            ),
            None,
        )?
        .to_array()
    }

    /// What D1 now holds: only what was written is settled (a row changed meanwhile carries a
    /// newer mark).
    pub fn settled(&self, devices: &[Row], history_to: Option<i64>, version: i64) -> Result<()> {
        for d in devices {
            self.exec(
                "UPDATE devices SET dirty = 0 WHERE device_id = ? AND dirty = ?",
                vec![V::from(d.device_id.as_str()), V::from(d.dirty)],
            )?;
        }
        if let Some(last) = history_to {
            self.exec("DELETE FROM history WHERE seq <= ?", vec![V::from(last)])?;
        }
        self.exec(
            "UPDATE meta SET flushed_version = MAX(flushed_version, ?) WHERE id = 1",
            vec![V::from(version)],
        )?;
        Ok(())
    }

    /// The first shard keeps each other shard's latest state.
    pub fn put_peer(&self, shard: u32, state: &RolloutState) -> Result<()> {
        self.exec(
            "INSERT INTO peers (shard, state) VALUES (?, ?) ON CONFLICT(shard) DO UPDATE SET state = excluded.state",
            vec![V::from(shard as i64), V::from(json(state)?)],
        )?;
        Ok(())
    }

    pub fn peers(&self) -> Result<Vec<RolloutState>> {
        #[derive(Deserialize)]
        struct P {
            state: String,
        }
        self.exec("SELECT state FROM peers ORDER BY shard", None)?
            .to_array::<P>()?
            .iter()
            .map(|p| parse(&p.state))
            .collect()
    }
}
