//! Storage: every KV, R2 and D1 access of the edge, and every SQL statement. This root holds the
//! plumbing the table families share (bindings, argument helpers, KV key escaping and JSON, D1
//! batches); each family is a submodule. Every function is one storage concern; decisions are
//! made by `fota_shared` and the callers.

pub mod access;
pub mod activity;
pub mod devices;
pub mod firmware;
pub mod fleet;
pub mod jobs;
pub mod keys;
pub mod plans;
pub mod preview;
pub mod projects;
pub mod provisioning;
pub mod registry;
pub mod retention;
pub mod rollouts;
pub mod summary;

pub use activity::{activity, flush_activity};
pub use firmware::{
    delete_firmware, firmware, image_md5, image_references, insert_firmware, list_firmware,
};
pub use fleet::{
    device, device_event, device_event_stmt, device_events, list_devices, DeviceFilter,
};
pub use plans::{delete_plan, fresh_plan, list_plans, plan, put_plan};
pub use projects::{list_projects, project, put_project, touch_bindings};
pub use registry::{last_seen_stmt, registry_rows};

use crate::error::{AppError, AppResult};
use crate::metrics::{Kv, Work};
use worker::wasm_bindgen::JsValue;
use worker::{Bucket, D1Database, D1Result, Env};

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

/// Private to the store: only its modules talk to D1, so every SQL statement lives under `store/`.
fn db(env: &Env) -> AppResult<D1Database> {
    Ok(env.d1(D1)?)
}

/// Runs statements as one D1 batch: one round trip, one transaction.
pub async fn batch(env: &Env, statements: Vec<worker::D1PreparedStatement>) -> AppResult<()> {
    if !statements.is_empty() {
        db(env)?.counted_batch(statements).await?;
    }
    Ok(())
}

/// D1 calls that count what they cost (`crate::metrics`): every query the store runs goes
/// through these, so the rows D1 bills (its result meta, index rows included) are counted.
trait Metered {
    async fn counted_all(&self) -> worker::Result<D1Result>;
    async fn counted_run(&self) -> worker::Result<D1Result>;
    async fn counted_first<T: serde::de::DeserializeOwned>(
        &self,
        column: Option<&str>,
    ) -> worker::Result<Option<T>>;
}

/// Rows read and written as D1's meta reports them (0 where it reports nothing).
fn rows_of(result: &D1Result) -> (u64, u64) {
    match result.meta() {
        Ok(Some(m)) => (
            m.rows_read.unwrap_or(0) as u64,
            m.rows_written.unwrap_or(0) as u64,
        ),
        _ => (0, 0),
    }
}

fn count(work: Work, results: &[D1Result]) {
    let (read, written) = results
        .iter()
        .map(rows_of)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    crate::metrics::d1(work, results.len() as u64, read, written);
}

impl Metered for worker::D1PreparedStatement {
    async fn counted_all(&self) -> worker::Result<D1Result> {
        let result = self.all().await?;
        count(Work::Request, std::slice::from_ref(&result));
        Ok(result)
    }

    async fn counted_run(&self) -> worker::Result<D1Result> {
        let result = self.run().await?;
        count(Work::Request, std::slice::from_ref(&result));
        Ok(result)
    }

    /// The first row (or one column of it), as `first` gives it, read through `all` so its
    /// meta is counted.
    async fn counted_first<T: serde::de::DeserializeOwned>(
        &self,
        column: Option<&str>,
    ) -> worker::Result<Option<T>> {
        let result = self.counted_all().await?;
        Ok(match column {
            None => result.results::<T>()?.into_iter().next(),
            // The statements that ask for one column select only it; NULL reads as `None`, as
            // `first` reads it.
            Some(name) => result
                .results::<std::collections::HashMap<String, Option<T>>>()?
                .into_iter()
                .next()
                .and_then(|mut row| row.remove(name).flatten()),
        })
    }
}

trait MeteredBatch {
    async fn counted_batch(
        &self,
        statements: Vec<worker::D1PreparedStatement>,
    ) -> worker::Result<Vec<D1Result>>;
    async fn background_batch(
        &self,
        statements: Vec<worker::D1PreparedStatement>,
    ) -> worker::Result<Vec<D1Result>>;
}

impl MeteredBatch for D1Database {
    async fn counted_batch(
        &self,
        statements: Vec<worker::D1PreparedStatement>,
    ) -> worker::Result<Vec<D1Result>> {
        let results = self.batch(statements).await?;
        count(Work::Request, &results);
        Ok(results)
    }

    /// A batch run by the isolate's timer-driven work (counted apart as background too).
    async fn background_batch(
        &self,
        statements: Vec<worker::D1PreparedStatement>,
    ) -> worker::Result<Vec<D1Result>> {
        let results = self.batch(statements).await?;
        count(Work::Background, &results);
        Ok(results)
    }
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// A nullable text argument.
fn opt(text: Option<&str>) -> JsValue {
    text.map_or(JsValue::NULL, s)
}

fn n(value: i64) -> JsValue {
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

fn plan_kv_prefix(project: &str) -> String {
    format!("plan:{}:", kv_part(project))
}

fn owner_kv_key(device: &str) -> String {
    format!("owner:{}", kv_part(device))
}

/// Reads a JSON value from KV. Parsed with serde_json from the text: the binding's own `json()`
/// goes through a JS object, which loses `#[serde(flatten)]` types such as `Plan` (they become maps).
async fn kv_json<T: serde::de::DeserializeOwned>(
    store: &worker::kv::KvStore,
    key: &str,
) -> AppResult<Option<T>> {
    crate::metrics::kv(Kv::Read);
    match store.get(key).text().await? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AppError::Unavailable(format!("KV value {key} unreadable: {e}"))),
    }
}

/// Writes a JSON value to KV, serialized with serde_json (see [`kv_json`] for why).
async fn kv_put_json<T: serde::Serialize>(
    store: &worker::kv::KvStore,
    key: &str,
    value: &T,
) -> AppResult<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| AppError::Unavailable(format!("cannot encode {key}: {e}")))?;
    crate::metrics::kv(Kv::Write);
    store.put(key, text.as_str())?.execute().await?;
    Ok(())
}
