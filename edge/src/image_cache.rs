//! What an isolate remembers about images, and the Workers Cache API in front of R2.
//!
//! An image is immutable by its sha256, so once read nothing about it needs a storage round trip
//! again: its record (size, md5) and, for small images, its bytes stay in isolate memory (bounds
//! in [`fota_shared::rules::image_memory::EDGE_LIMITS`]); larger images are kept whole in the Cache API
//! under a synthetic URL per sha256. Entries end by eviction (memory is bounded) or by a delete:
//! the deleting isolate forgets at once, other isolates re-check a record after [`RECORD_TTL_MS`].
//!
//! Concurrent first downloads of one image in one isolate share a single R2 read: the first
//! request fills, the others wait for it in short sleeps (a request never awaits another
//! request's I/O, which workerd does not allow across request contexts).

use crate::error::{AppError, AppResult};
use crate::store;
use fota_shared::leaf::range::{RangeAnswer, RangeHead};
use fota_shared::model::plan::ImageRef;
use fota_shared::rules::image_memory::{LruBudget, EDGE_LIMITS};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{Cache, Env, Headers, Method, Object, Request, RequestInit, Response, ResponseBody};

/// How long an image's record (it exists, its size and md5) is trusted before `GET /images/`
/// asks R2 again: the bound on serving an image another isolate deleted.
pub const RECORD_TTL_MS: i64 = 60_000;
/// Records kept before the map is cleared (the cache.rs rule: bounded, never evicting per entry).
const MAX_RECORDS: usize = 10_000;
/// How long requests wait for another request's fill before reading R2 themselves, in sleeps
/// of [`FILL_POLL_MS`]. A fill older than this is presumed lost (its request was cancelled).
const FILL_WAIT_MS: i64 = 5_000;
const FILL_POLL_MS: u64 = 5;
/// The origin of the Cache API keys: a name no request can reach, one entry per sha256. Cache API
/// entries live in the zone the Worker runs on, whatever the key's host; on `*.workers.dev` the
/// Cache API does nothing, which `Memory::cache_works` records so the isolate stops trying.
const CACHE_ORIGIN: &str = "https://image-cache.fota-edge.invalid/images/";

/// An image's facts the answer needs besides its sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub size: u64,
    pub md5: String,
}

struct Memory {
    records: HashMap<String, (i64, ImageRecord)>,
    bytes: LruBudget<String, Rc<Vec<u8>>>,
    /// sha256 -> when a request started reading it from R2 into memory or the Cache API.
    filling: HashMap<String, i64>,
    /// R2 reads per image, for `DEBUG_COUNTERS`: (gets, heads).
    r2_reads: HashMap<String, (u64, u64)>,
    /// False once a put into the Cache API was not found right after: the cache does nothing here.
    cache_works: bool,
    /// `DEBUG_COUNTERS` as first read (vars do not change within an isolate).
    debug: Option<bool>,
}

thread_local! {
    static MEMORY: RefCell<Memory> = RefCell::new(Memory {
        records: HashMap::new(),
        bytes: LruBudget::new(EDGE_LIMITS),
        filling: HashMap::new(),
        r2_reads: HashMap::new(),
        cache_works: true,
        debug: None,
    });
}

pub fn record(sha256: &str, now: i64) -> Option<ImageRecord> {
    MEMORY.with_borrow(|m| {
        m.records
            .get(sha256)
            .filter(|(at, _)| now - at < RECORD_TTL_MS)
            .map(|(_, r)| r.clone())
    })
}

pub fn put_record(sha256: &str, record: ImageRecord, now: i64) {
    MEMORY.with_borrow_mut(|m| {
        if m.records.len() >= MAX_RECORDS {
            m.records.clear();
        }
        m.records.insert(sha256.to_string(), (now, record));
    })
}

/// Would an image of `size` bytes be kept in isolate memory?
pub fn fits_memory(size: u64) -> bool {
    MEMORY.with_borrow(|m| m.bytes.admits(size))
}

/// The image was deleted: forget its record and bytes here, and its Cache API entry.
pub async fn forget(sha256: &str) {
    forget_here(sha256);
    // Only this location's cache is reached; elsewhere the entry is never looked up again once
    // no plan names the image and its record lapses.
    let _ = Cache::default().delete(cache_key(sha256), false).await;
}

/// Forgets the record and bytes of a deleted image in this isolate.
fn forget_here(sha256: &str) {
    MEMORY.with_borrow_mut(|m| {
        m.records.remove(sha256);
        m.bytes.remove(sha256);
    });
}

/// Counts one R2 `get` of `sha256` (for `DEBUG_COUNTERS`).
pub fn count_r2_read(sha256: &str) {
    count(sha256, (1, 0))
}

/// Counts one R2 `head` of `sha256`: a lapsed record asking whether the image still exists.
fn count_r2_head(sha256: &str) {
    count(sha256, (0, 1))
}

fn count(sha256: &str, (gets, heads): (u64, u64)) {
    for _ in 0..gets + heads {
        crate::metrics::r2(false);
    }
    MEMORY.with_borrow_mut(|m| {
        if m.r2_reads.len() >= MAX_RECORDS {
            m.r2_reads.clear();
        }
        let entry = m.r2_reads.entry(sha256.to_string()).or_default();
        entry.0 += gets;
        entry.1 += heads;
    })
}

/// Adds `X-Debug-R2-Reads` (R2 reads of this image by this isolate so far, gets and heads),
/// `X-Debug-R2-Heads` (the heads among them) and `X-Debug-Source` when the `DEBUG_COUNTERS` var
/// is set: how the bench and the tests count R2 reads.
pub fn debug_headers(env: &Env, headers: &Headers, sha256: &str, source: &str) -> AppResult<()> {
    let debug = MEMORY.with_borrow(|m| m.debug);
    let debug = debug.unwrap_or_else(|| {
        let on = env
            .var("DEBUG_COUNTERS")
            .map(|v| !matches!(v.to_string().trim(), "" | "0" | "false"))
            .unwrap_or(false);
        MEMORY.with_borrow_mut(|m| m.debug = Some(on));
        on
    });
    if debug {
        let (gets, heads) =
            MEMORY.with_borrow(|m| m.r2_reads.get(sha256).copied().unwrap_or_default());
        headers.set("X-Debug-R2-Reads", &(gets + heads).to_string())?;
        headers.set("X-Debug-R2-Heads", &heads.to_string())?;
        headers.set("X-Debug-Source", source)?;
    }
    Ok(())
}

/// Marks a fill of `sha256` as running until dropped (also when the request is cancelled).
struct Fill(String);

impl Fill {
    /// Some when this request should read R2 now; None while another request's fill is running.
    fn begin(sha256: &str) -> Option<Fill> {
        let now = store::now();
        MEMORY.with_borrow_mut(|m| match m.filling.get(sha256) {
            Some(started) if now - started < FILL_WAIT_MS => None,
            _ => {
                m.filling.insert(sha256.to_string(), now);
                Some(Fill(sha256.to_string()))
            }
        })
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        MEMORY.with_borrow_mut(|m| {
            m.filling.remove(&self.0);
        })
    }
}

async fn wait_for_fill(sha256: &str, done: impl Fn() -> bool) {
    let started = store::now();
    let polls = FILL_WAIT_MS as u64 / FILL_POLL_MS;
    for _ in 0..polls {
        if done()
            || !MEMORY.with_borrow(|m| m.filling.contains_key(sha256))
            || store::now() - started >= FILL_WAIT_MS
        {
            return;
        }
        worker::Delay::from(std::time::Duration::from_millis(FILL_POLL_MS)).await;
    }
}

/// Where the bytes of a small image came from.
pub enum Small {
    Bytes(Rc<Vec<u8>>),
    /// R2 has no object under the image's key.
    Missing,
    /// Another request is still filling: read R2 directly rather than wait longer.
    Busy,
}

/// The whole image from isolate memory, reading R2 once (per isolate) to fill it.
pub async fn small_image(env: &Env, image: &ImageRef) -> AppResult<Small> {
    let (sha256, size) = (image.sha256.as_str(), image.size);
    let cached = || MEMORY.with_borrow_mut(|m| m.bytes.get(sha256).cloned());
    if let Some(bytes) = cached() {
        return Ok(Small::Bytes(bytes));
    }
    let Some(_fill) = Fill::begin(sha256) else {
        wait_for_fill(sha256, || MEMORY.with_borrow(|m| m.bytes.contains(sha256))).await;
        return Ok(cached().map_or(Small::Busy, Small::Bytes));
    };
    let Some(object) = read_r2(env, sha256).await? else {
        return Ok(Small::Missing);
    };
    check_size(sha256, &object, size)?;
    let Some(bytes) = keep_small(sha256, size, object).await? else {
        return Ok(Small::Missing);
    };
    put_record(
        sha256,
        ImageRecord {
            size,
            md5: image.md5.clone(),
        },
        store::now(),
    );
    Ok(Small::Bytes(bytes))
}

/// The body of `range` of a large image from the Cache API, filling the cache from R2 (one read
/// per isolate and location) on a miss. None when the cache cannot answer exactly (missing, R2
/// has no object, or the cache's framing is not ours): the caller streams from R2 instead.
pub async fn large_image(
    env: &Env,
    image: &ImageRef,
    range: RangeAnswer,
) -> AppResult<Option<ResponseBody>> {
    let (sha256, size) = (image.sha256.as_str(), image.size);
    if !MEMORY.with_borrow(|m| m.cache_works) {
        return Ok(None);
    }
    let cache = Cache::default();
    let head = range.head(size);
    if let Some(body) = cached(&cache, sha256, range, &head).await {
        return Ok(Some(body));
    }
    let Some(fill) = Fill::begin(sha256) else {
        wait_for_fill(sha256, || false).await;
        return Ok(cached(&cache, sha256, range, &head).await);
    };
    let Some(object) = read_r2(env, sha256).await? else {
        return Ok(None);
    };
    check_size(sha256, &object, size)?;
    if !keep_large(&cache, sha256, size, object).await? {
        return Ok(None);
    }
    put_record(
        sha256,
        ImageRecord {
            size,
            md5: image.md5.clone(),
        },
        store::now(),
    );
    drop(fill);
    let body = cached(&cache, sha256, range, &head).await;
    if body.is_none() {
        // Stored and not found: this cache does nothing (workers.dev) or refuses our entries.
        MEMORY.with_borrow_mut(|m| m.cache_works = false);
    }
    Ok(body)
}

/// The record of an image this isolate does not know (`GET /images/`): one R2 read gives the
/// record and fills isolate memory or the Cache API, so the answer that follows reads no more.
/// None when R2 has no such object.
pub async fn load(env: &Env, sha256: &str) -> AppResult<Option<ImageRecord>> {
    // A lapsed record only asks whether the object still exists: its bytes are where they were.
    let lapsed = MEMORY.with_borrow(|m| m.records.contains_key(sha256));
    let fill = if lapsed { None } else { Fill::begin(sha256) };
    let Some(_fill) = fill else {
        if !lapsed {
            wait_for_fill(sha256, || record(sha256, store::now()).is_some()).await;
            if let Some(record) = record(sha256, store::now()) {
                return Ok(Some(record));
            }
        }
        // A head answers without touching the bytes.
        count_r2_head(sha256);
        let Some(head) = store::bucket(env)?.head(store::image_key(sha256)).await? else {
            forget_here(sha256);
            return Ok(None);
        };
        let record = ImageRecord {
            size: head.size(),
            md5: md5_of(env, sha256, &head).await?,
        };
        put_record(sha256, record.clone(), store::now());
        return Ok(Some(record));
    };
    let Some(object) = read_r2(env, sha256).await? else {
        return Ok(None);
    };
    let record = ImageRecord {
        size: object.size(),
        md5: md5_of(env, sha256, &object).await?,
    };
    if fits_memory(record.size) {
        keep_small(sha256, record.size, object).await?;
    } else if MEMORY.with_borrow(|m| m.cache_works) {
        keep_large(&Cache::default(), sha256, record.size, object).await?;
    }
    put_record(sha256, record.clone(), store::now());
    Ok(Some(record))
}

async fn read_r2(env: &Env, sha256: &str) -> AppResult<Option<Object>> {
    count_r2_read(sha256);
    Ok(store::bucket(env)?
        .get(store::image_key(sha256))
        .execute()
        .await?)
}

/// The record and the stored bytes disagree: never send something that is not the image.
fn check_size(sha256: &str, object: &Object, size: u64) -> AppResult<()> {
    if object.size() != size {
        return Err(AppError::Unavailable(format!(
            "image {sha256} has size {} not {size}",
            object.size()
        )));
    }
    Ok(())
}

/// The md5 R2 keeps beside the object, or for objects stored without it, the firmware record's.
async fn md5_of(env: &Env, sha256: &str, object: &Object) -> AppResult<String> {
    Ok(match object.custom_metadata()?.get("md5").cloned() {
        Some(md5) => md5,
        None => store::image_md5(env, sha256).await?.unwrap_or_default(),
    })
}

/// Reads `object` and keeps it in memory, only when its length and sha256 are the record's:
/// memory never holds other bytes.
async fn keep_small(sha256: &str, size: u64, object: Object) -> AppResult<Option<Rc<Vec<u8>>>> {
    let Some(body) = object.body() else {
        return Ok(None);
    };
    let bytes = body.bytes().await?;
    if bytes.len() as u64 != size || hex::encode(Sha256::digest(&bytes)) != sha256 {
        return Err(AppError::Unavailable(format!(
            "image {sha256}: stored bytes do not hash to their key"
        )));
    }
    let bytes = Rc::new(bytes);
    MEMORY.with_borrow_mut(|m| m.bytes.insert(sha256.to_string(), bytes.clone(), size));
    Ok(Some(bytes))
}

/// Streams `object` into the Cache API as a whole 200 answer (no copy in the Worker; R2 checked
/// the sha256 on upload, the size was checked against the record). False when nothing was stored.
async fn keep_large(cache: &Cache, sha256: &str, size: u64, object: Object) -> AppResult<bool> {
    let Some(body) = object.body() else {
        return Ok(false);
    };
    let headers = Headers::new();
    headers.set("Content-Type", "application/octet-stream")?;
    headers.set("Content-Length", &size.to_string())?;
    headers.set("Cache-Control", "public, max-age=31536000, immutable")?;
    let entry = Response::from_body(body.response_body()?)?.with_headers(headers);
    crate::metrics::cache_put();
    Ok(cache.put(cache_key(sha256), entry).await.is_ok())
}

fn cache_key(sha256: &str) -> String {
    format!("{CACHE_ORIGIN}{sha256}")
}

/// A cache hit for exactly `head`: status, `Content-Length` and `Content-Range` as we would send
/// them, else None (the cache's own Range rules differ from ours for odd headers, so we only ask
/// it canonical ranges and still check what comes back).
async fn cached(
    cache: &Cache,
    sha256: &str,
    range: RangeAnswer,
    head: &RangeHead,
) -> Option<ResponseBody> {
    let headers = Headers::new();
    if let Some(r) = range.request_header() {
        headers.set("Range", &r).ok()?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&cache_key(sha256), &init).ok()?;
    let hit = cache.get(&request, false).await.ok().flatten();
    crate::metrics::cache(hit.is_some());
    let hit = hit?;
    let h = hit.headers();
    let length = h.get("Content-Length").ok()??.parse::<u64>().ok()?;
    let exact = hit.status_code() == head.status
        && length == head.length
        && h.get("Content-Range").ok()? == head.content_range;
    if !exact {
        return None;
    }
    Some(hit.into_parts().1)
}
