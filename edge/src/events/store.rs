//! The event log's storage: every SQL statement a project's `EventLog` object runs on its own
//! SQLite (rows counted in `crate::metrics`). `events` (the log, kept by age and count),
//! `webhooks` (each with its cursor: the last event it was given or skipped), `deliveries` (the
//! latest attempts per webhook) and `redeliveries` (events an operator asked to send again).
//! No decision is made here.

use fota_shared::api::events::{Webhook, WebhookDelivery, WebhookSpec, WebhookState};
use fota_shared::leaf::time::rfc3339;
use fota_shared::model::event::EventType;
use fota_shared::rules::webhook::{wants, DELIVERIES_KEPT};
use worker::{Result, SqlCursor, SqlStorage, SqlStorageValue as V};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, at_ms INTEGER NOT NULL, data TEXT NOT NULL, source TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS webhooks (name TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, secret TEXT NOT NULL, state TEXT NOT NULL,
  created_ms INTEGER NOT NULL, cursor INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, failing_since INTEGER, next_ms INTEGER);
CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, webhook TEXT NOT NULL, event_id INTEGER NOT NULL, type TEXT NOT NULL,
  attempt INTEGER NOT NULL, at_ms INTEGER NOT NULL, status INTEGER, latency_ms INTEGER NOT NULL, ok INTEGER NOT NULL, error TEXT, redelivery INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook, id);
CREATE TABLE IF NOT EXISTS redeliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook TEXT NOT NULL, event_id INTEGER NOT NULL);";

/// An event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub event_type: String,
    pub at_ms: i64,
    pub data: String,
}

impl StoredEvent {
    pub fn kind(&self) -> Option<EventType> {
        EventType::parse(&self.event_type)
    }

    pub fn api(&self, project: &str) -> Option<fota_shared::api::events::Event> {
        Some(fota_shared::api::events::Event {
            id: self.id as u64,
            event_type: self.kind()?,
            project_key: project.to_string(),
            at: rfc3339(self.at_ms),
            data: serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null),
        })
    }
}

/// A webhook as stored.
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub state: String,
    pub created_ms: i64,
    pub cursor: i64,
    pub attempts: i64,
    pub failing_since: Option<i64>,
    pub next_ms: Option<i64>,
}

impl Hook {
    pub fn patterns(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    pub fn state(&self) -> WebhookState {
        match self.state.as_str() {
            "disabled" => WebhookState::Disabled,
            _ if self.failing_since.is_some() => WebhookState::Failing,
            _ => WebhookState::Active,
        }
    }

    pub fn api(&self, pending: u64) -> Webhook {
        Webhook {
            name: self.name.clone(),
            url: self.url.clone(),
            events: self.patterns(),
            state: self.state(),
            created_at: rfc3339(self.created_ms),
            pending,
            failing_since: self.failing_since.map(rfc3339),
            next_attempt_at: self
                .next_ms
                .filter(|_| self.failing_since.is_some())
                .map(rfc3339),
        }
    }
}

/// One delivery's outcome, to record.
pub struct Outcome<'a> {
    pub webhook: &'a str,
    pub event: &'a StoredEvent,
    pub attempt: u32,
    pub at_ms: i64,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub ok: bool,
    pub error: Option<String>,
    pub redelivery: bool,
}

/// A redelivery waiting at the head of a webhook's queue.
pub struct Queued {
    pub seq: i64,
    pub event_id: i64,
}

/// A row as SQLite gave it: read by position (`raw()`), so no row type of this log costs the
/// wasm a deserializer of its own.
struct Cells(Vec<V>);

impl Cells {
    fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(V::Integer(n)) => *n,
            Some(V::Float(f)) => *f as i64,
            Some(V::Boolean(b)) => i64::from(*b),
            _ => 0,
        }
    }

    fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(V::Null) | None => None,
            _ => Some(self.int(i)),
        }
    }

    fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }

    fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(V::String(t)) => Some(t.clone()),
            _ => None,
        }
    }
}

fn cells(cursor: SqlCursor) -> Result<Vec<Cells>> {
    cursor.raw().map(|row| row.map(Cells)).collect()
}

const EVENT_COLUMNS: &str = "id, type, at_ms, data";
const HOOK_COLUMNS: &str =
    "name, url, events, secret, state, created_ms, cursor, attempts, failing_since, next_ms";

fn event_of(c: &Cells) -> StoredEvent {
    StoredEvent {
        id: c.int(0),
        event_type: c.text(1),
        at_ms: c.int(2),
        data: c.text(3),
    }
}

fn hook_of(c: &Cells) -> Hook {
    Hook {
        name: c.text(0),
        url: c.text(1),
        events: c.text(2),
        secret: c.text(3),
        state: c.text(4),
        created_ms: c.int(5),
        cursor: c.int(6),
        attempts: c.int(7),
        failing_since: c.opt_int(8),
        next_ms: c.opt_int(9),
    }
}

/// One project's SQLite.
pub struct Log(pub SqlStorage);

impl Log {
    pub fn init(&self) {
        if let Err(e) = self.0.exec(SCHEMA, None) {
            crate::logs::once("event log schema", &e.to_string());
        }
    }

    fn exec(&self, query: &str, bindings: impl Into<Option<Vec<V>>>) -> Result<SqlCursor> {
        let cursor = self.0.exec(query, bindings)?;
        crate::metrics::do_rows(cursor.rows_read() as u64, cursor.rows_written() as u64);
        Ok(cursor)
    }

    /// The rows of a statement.
    fn rows(&self, query: &str, bindings: impl Into<Option<Vec<V>>>) -> Result<Vec<Cells>> {
        cells(self.exec(query, bindings)?)
    }

    /// The first column of a statement's first row, if it has one.
    fn first_int(&self, query: &str, bindings: impl Into<Option<Vec<V>>>) -> Result<Option<i64>> {
        Ok(self.rows(query, bindings)?.first().map(|c| c.int(0)))
    }

    /// The newest event's id (0 when the log is empty).
    pub fn last_id(&self) -> Result<i64> {
        Ok(self
            .first_int("SELECT COALESCE(MAX(id), 0) FROM events", None)?
            .unwrap_or(0))
    }

    /// Appends an event; `None` when its source was appended before.
    pub fn append(
        &self,
        event_type: EventType,
        at_ms: i64,
        data: &str,
        source: Option<&str>,
    ) -> Result<Option<i64>> {
        self.first_int(
            "INSERT INTO events (type, at_ms, data, source) VALUES (?, ?, ?, ?) ON CONFLICT (source) DO NOTHING RETURNING id",
            vec![
                V::from(event_type.as_str()),
                V::from(at_ms),
                V::from(data),
                source.map_or(V::Null, V::from),
            ],
        )
    }

    pub fn after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>> {
        let rows = self.rows(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?"),
            vec![V::from(after), V::from(limit as i64)],
        )?;
        Ok(rows.iter().map(event_of).collect())
    }

    pub fn event(&self, id: i64) -> Result<Option<StoredEvent>> {
        let rows = self.rows(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"),
            vec![V::from(id)],
        )?;
        Ok(rows.first().map(event_of))
    }

    /// Drops events older than `before_ms` or beyond the newest `keep`, but never one a webhook
    /// has still to be given.
    pub fn trim(&self, before_ms: i64, keep: i64) -> Result<()> {
        self.exec(
            "DELETE FROM events WHERE (at_ms < ? OR id <= (SELECT MAX(id) FROM events) - ?)
               AND id <= COALESCE((SELECT MIN(cursor) FROM webhooks WHERE state != 'disabled'), id)",
            vec![V::from(before_ms), V::from(keep)],
        )?;
        Ok(())
    }

    pub fn hooks(&self) -> Result<Vec<Hook>> {
        let rows = self.rows(
            &format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY name"),
            None,
        )?;
        Ok(rows.iter().map(hook_of).collect())
    }

    pub fn hook(&self, name: &str) -> Result<Option<Hook>> {
        let rows = self.rows(
            &format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE name = ?"),
            vec![V::from(name)],
        )?;
        Ok(rows.first().map(hook_of))
    }

    /// How many events after its cursor a webhook wants (the log is bounded, so this is too).
    pub fn pending(&self, hook: &Hook) -> Result<u64> {
        let patterns = hook.patterns();
        let types = self.rows(
            "SELECT type FROM events WHERE id > ?",
            vec![V::from(hook.cursor)],
        )?;
        let queued = self.first_int(
            "SELECT COUNT(*) FROM redeliveries WHERE webhook = ?",
            vec![V::from(hook.name.as_str())],
        )?;
        let wanted = types
            .iter()
            .filter_map(|t| EventType::parse(&t.text(0)))
            .filter(|t| wants(&patterns, *t))
            .count() as u64;
        Ok(wanted + queued.unwrap_or(0) as u64)
    }

    /// Creates a webhook (its cursor at the newest event: it gets what happens from now on), or
    /// changes an existing one's URL and events, which also enables it again.
    pub fn put_hook(&self, name: &str, spec: &WebhookSpec, secret: &str, now: i64) -> Result<()> {
        let events = serde_json::to_string(&spec.events)?;
        self.exec(
            "INSERT INTO webhooks (name, url, events, secret, state, created_ms, cursor)
             VALUES (?, ?, ?, ?, 'active', ?, (SELECT COALESCE(MAX(id), 0) FROM events))
             ON CONFLICT (name) DO UPDATE SET url = excluded.url, events = excluded.events, state = 'active',
               attempts = 0, failing_since = NULL, next_ms = NULL",
            vec![
                V::from(name),
                V::from(spec.url.as_str()),
                V::from(events),
                V::from(secret),
                V::from(now),
            ],
        )?;
        Ok(())
    }

    pub fn count_hooks(&self) -> Result<usize> {
        Ok(self
            .first_int("SELECT COUNT(*) FROM webhooks", None)?
            .unwrap_or(0) as usize)
    }

    pub fn delete_hook(&self, name: &str) -> Result<()> {
        for q in [
            "DELETE FROM webhooks WHERE name = ?",
            "DELETE FROM deliveries WHERE webhook = ?",
            "DELETE FROM redeliveries WHERE webhook = ?",
        ] {
            self.exec(q, vec![V::from(name)])?;
        }
        Ok(())
    }

    pub fn set_secret(&self, name: &str, secret: &str) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET secret = ? WHERE name = ?",
            vec![V::from(secret), V::from(name)],
        )?;
        Ok(())
    }

    /// A webhook was given (or skipped) every event up to `cursor`: its failure, if any, is over.
    pub fn advance(&self, name: &str, cursor: i64) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET cursor = MAX(cursor, ?), attempts = 0, failing_since = NULL, next_ms = NULL WHERE name = ?",
            vec![V::from(cursor), V::from(name)],
        )?;
        Ok(())
    }

    /// A delivery failed: the next attempt waits until `next_ms`.
    pub fn failed(&self, name: &str, attempts: u32, since: i64, next_ms: i64) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET attempts = ?, failing_since = ?, next_ms = ? WHERE name = ?",
            vec![
                V::from(attempts as i64),
                V::from(since),
                V::from(next_ms),
                V::from(name),
            ],
        )?;
        Ok(())
    }

    pub fn disable(&self, name: &str) -> Result<()> {
        self.exec(
            "UPDATE webhooks SET state = 'disabled', next_ms = NULL WHERE name = ?",
            vec![V::from(name)],
        )?;
        Ok(())
    }

    /// A delivery's row before it is sent (its id is `X-Fota-Delivery`); `finish` completes it.
    pub fn start_delivery(&self, o: &Outcome) -> Result<i64> {
        self.first_int(
            "INSERT INTO deliveries (webhook, event_id, type, attempt, at_ms, latency_ms, ok, redelivery) VALUES (?, ?, ?, ?, ?, 0, 0, ?) RETURNING id",
            vec![
                V::from(o.webhook),
                V::from(o.event.id),
                V::from(o.event.event_type.as_str()),
                V::from(o.attempt as i64),
                V::from(o.at_ms),
                V::from(i64::from(o.redelivery)),
            ],
        )?
        .ok_or_else(|| worker::Error::RustError("no delivery id".into()))
    }

    pub fn finish_delivery(&self, id: i64, o: &Outcome) -> Result<()> {
        self.exec(
            "UPDATE deliveries SET status = ?, latency_ms = ?, ok = ?, error = ? WHERE id = ?",
            vec![
                o.status.map_or(V::Null, |s| V::from(s as i64)),
                V::from(o.latency_ms),
                V::from(i64::from(o.ok)),
                o.error.as_deref().map_or(V::Null, V::from),
                V::from(id),
            ],
        )?;
        self.exec(
            "DELETE FROM deliveries WHERE webhook = ? AND id <= (SELECT id FROM deliveries WHERE webhook = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
            vec![
                V::from(o.webhook),
                V::from(o.webhook),
                V::from(DELIVERIES_KEPT as i64),
            ],
        )?;
        Ok(())
    }

    pub fn deliveries(&self, name: &str) -> Result<Vec<WebhookDelivery>> {
        let rows = self.rows(
            "SELECT id, event_id, type, attempt, at_ms, status, latency_ms, ok, error, redelivery
             FROM deliveries WHERE webhook = ? ORDER BY id DESC LIMIT ?",
            vec![V::from(name), V::from(DELIVERIES_KEPT as i64)],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(WebhookDelivery {
                    id: r.int(0) as u64,
                    event_id: r.int(1) as u64,
                    event_type: EventType::parse(&r.text(2))?,
                    attempt: r.int(3) as u32,
                    at: rfc3339(r.int(4)),
                    status: r.opt_int(5).map(|s| s as u16),
                    latency: r.int(6) as u64,
                    ok: r.int(7) != 0,
                    error: r.opt_text(8),
                    redelivery: r.int(9) != 0,
                })
            })
            .collect())
    }

    /// The event a delivery of this webhook carried.
    pub fn delivery_event(&self, name: &str, delivery_id: i64) -> Result<Option<i64>> {
        self.first_int(
            "SELECT event_id FROM deliveries WHERE webhook = ? AND id = ?",
            vec![V::from(name), V::from(delivery_id)],
        )
    }

    pub fn queue_redelivery(&self, name: &str, event_id: i64) -> Result<()> {
        self.exec(
            "INSERT INTO redeliveries (webhook, event_id) VALUES (?, ?)",
            vec![V::from(name), V::from(event_id)],
        )?;
        Ok(())
    }

    pub fn next_redelivery(&self, name: &str) -> Result<Option<Queued>> {
        let rows = self.rows(
            "SELECT seq, event_id FROM redeliveries WHERE webhook = ? ORDER BY seq LIMIT 1",
            vec![V::from(name)],
        )?;
        Ok(rows.first().map(|r| Queued {
            seq: r.int(0),
            event_id: r.int(1),
        }))
    }

    /// A redelivery was sent (or its event is gone): it leaves the queue, and the webhook's
    /// failure, if any, is over.
    pub fn redelivered(&self, name: &str, seq: i64) -> Result<()> {
        self.exec("DELETE FROM redeliveries WHERE seq = ?", vec![V::from(seq)])?;
        self.advance(name, 0)
    }
}
