//! The image cache: each image fetched once per sha256 into `<dir>/images/<sha256>` (verified,
//! written to a temporary name and renamed, so a file under its final name is always whole) and
//! held in memory for the `Get` hot path.
//!
//! It is bounded by `max_bytes`, counting each image once (its file, and its copy in memory when
//! loaded; memory holds a subset of the files). When an image is kept and the total would pass the
//! bound, the least recently used others are evicted, from memory and from disk; a session whose
//! image went fetches it again on its next `Get`. The image just kept is never evicted by its own
//! arrival: a single image larger than the bound is still kept (alone) and served, so the bound is
//! passed by at most that one image until the next one arrives. Recency is in memory only; after
//! a restart the files on disk are ranked by their modification time.
//!
//! Finding the least recently used image is a scan: a bridge keeps tens of images, not thousands.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::edge::EdgeError;

/// One image, whole and verified.
#[derive(Debug)]
pub struct Image {
    pub sha256: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("image bytes hash to {got}, not {expected}")]
    Mismatch { expected: String, got: String },
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error("{0:?} is not a sha256")]
    Name(String),
}

#[derive(Debug)]
struct Entry {
    size: u64,
    /// The `Lru` clock when it was last used.
    used: u64,
    /// In memory, or on disk only.
    image: Option<Arc<Image>>,
}

/// What the cache keeps, by sha256, with its total size and a use clock.
#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<String, Entry>,
    total: u64,
    clock: u64,
}

impl Lru {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The image in memory, marked as just used.
    fn touch(&mut self, sha256: &str) -> Option<Arc<Image>> {
        let now = self.tick();
        let entry = self.entries.get_mut(sha256)?;
        entry.used = now;
        entry.image.clone()
    }

    /// Records an image kept on disk (`image: None`) or in memory too, as just used, and evicts
    /// the least recently used others while the total is over `max_bytes`; returns the evicted.
    fn keep(
        &mut self,
        sha256: &str,
        size: u64,
        image: Option<Arc<Image>>,
        max_bytes: u64,
    ) -> Vec<String> {
        let used = self.tick();
        let old = self
            .entries
            .insert(sha256.to_string(), Entry { size, used, image });
        self.total = self.total - old.map_or(0, |e| e.size) + size;
        self.evict_over(max_bytes, Some(sha256))
    }

    /// Evicts the least recently used entries but `spare` while the total is over `max_bytes`.
    fn evict_over(&mut self, max_bytes: u64, spare: Option<&str>) -> Vec<String> {
        let mut evicted = Vec::new();
        while self.total > max_bytes {
            let oldest = self
                .entries
                .iter()
                .filter(|(sha, _)| Some(sha.as_str()) != spare)
                .min_by_key(|(_, e)| e.used)
                .map(|(sha, _)| sha.clone());
            let Some(sha) = oldest else { break };
            self.forget(&sha);
            evicted.push(sha);
        }
        evicted
    }

    fn forget(&mut self, sha256: &str) {
        if let Some(entry) = self.entries.remove(sha256) {
            self.total -= entry.size;
        }
    }
}

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    lru: Mutex<Lru>,
    /// One load or download per sha256 at a time; later callers wait for the first.
    pending: Mutex<HashMap<String, Arc<OnceCell<Arc<Image>>>>>,
}

impl Cache {
    /// Opens (or creates) the cache in `dir`: the images already on disk count towards
    /// `max_bytes` (oldest first out, if they are over it already).
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Cache, CacheError> {
        let images = dir.join("images");
        std::fs::create_dir_all(&images)?;
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        for entry in std::fs::read_dir(&images)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata()?;
            if meta.is_file() && is_sha256(&name) {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((modified, name, meta.len()));
            }
        }
        found.sort();
        let mut lru = Lru::default();
        let mut evicted = Vec::new();
        for (_, sha, size) in found {
            evicted.extend(lru.keep(&sha, size, None, max_bytes));
        }
        remove_files(&images, &evicted);
        Ok(Cache {
            dir: dir.to_path_buf(),
            max_bytes,
            lru: Mutex::new(lru),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The image named `sha256` when it is in memory (marked as just used): the `Get` hot path.
    pub fn loaded(&self, sha256: &str) -> Option<Arc<Image>> {
        self.lru.lock().expect("cache lock").touch(sha256)
    }

    /// Bytes of images kept (on disk, and the loaded ones in memory too).
    pub fn bytes(&self) -> u64 {
        self.lru.lock().expect("cache lock").total
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Whether the image is kept (in memory or on disk).
    pub fn holds(&self, sha256: &str) -> bool {
        self.lru
            .lock()
            .expect("cache lock")
            .entries
            .contains_key(sha256)
    }

    /// The path an image is kept at.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join("images").join(sha256)
    }

    /// The image named `sha256`: from memory, else from disk, else from `fetch` (once for all
    /// concurrent callers). Bytes that do not hash to `sha256` are never kept.
    pub async fn image<F, Fut>(&self, sha256: &str, fetch: F) -> Result<Arc<Image>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, EdgeError>>,
    {
        let sha256 = sha256.to_ascii_lowercase();
        if !is_sha256(&sha256) {
            return Err(CacheError::Name(sha256));
        }
        if let Some(image) = self.loaded(&sha256) {
            return Ok(image);
        }
        let cell = self
            .pending
            .lock()
            .expect("pending lock")
            .entry(sha256.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_try_init(|| self.load_or_fetch(&sha256, fetch))
            .await
            .cloned();
        // Loaded images are found in memory from now on; a failure lets the next caller retry.
        self.pending.lock().expect("pending lock").remove(&sha256);
        result
    }

    async fn load_or_fetch<F, Fut>(&self, sha256: &str, fetch: F) -> Result<Arc<Image>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, EdgeError>>,
    {
        let path = self.path_of(sha256);
        let on_disk = {
            let (path, sha) = (path.clone(), sha256.to_string());
            tokio::task::spawn_blocking(move || read_verified(&path, &sha))
                .await
                .map_err(std::io::Error::other)??
        };
        let bytes = match on_disk {
            Some(bytes) => bytes,
            None => {
                // Not there (any more): it counts for nothing until it is written again.
                self.lru.lock().expect("cache lock").forget(sha256);
                let bytes = fetch().await?;
                let (dir, sha) = (self.dir.join("images"), sha256.to_string());
                tokio::task::spawn_blocking(move || write_verified(&dir, &sha, bytes))
                    .await
                    .map_err(std::io::Error::other)??
            }
        };
        let image = Arc::new(Image {
            sha256: sha256.to_string(),
            bytes,
        });
        let size = image.bytes.len() as u64;
        let evicted = self.lru.lock().expect("cache lock").keep(
            sha256,
            size,
            Some(image.clone()),
            self.max_bytes,
        );
        if size > self.max_bytes {
            warn!(
                sha256,
                size,
                max_bytes = self.max_bytes,
                "image larger than --cache-max-bytes; kept alone"
            );
        }
        if !evicted.is_empty() {
            let dir = self.dir.join("images");
            tokio::task::spawn_blocking(move || remove_files(&dir, &evicted))
                .await
                .map_err(std::io::Error::other)?;
        }
        Ok(image)
    }

    /// Stores `bytes` as an image (the benchmark and tests seed the cache with this).
    pub async fn insert(&self, bytes: Vec<u8>) -> Result<Arc<Image>, CacheError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.image(&sha256, || async { Ok(bytes) }).await
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Removes evicted images' files; one that cannot be removed is logged and left.
fn remove_files(dir: &Path, shas: &[String]) {
    for sha in shas {
        match std::fs::remove_file(dir.join(sha)) {
            Ok(()) => info!(sha256 = sha, "image evicted from the cache"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(sha256 = sha, error = %e, "evicted image's file not removed"),
        }
    }
}

/// The file's bytes if it exists and hashes to `sha256`; a corrupt file is removed.
fn read_verified(path: &Path, sha256: &str) -> Result<Option<Vec<u8>>, CacheError> {
    match std::fs::read(path) {
        Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == sha256 => Ok(Some(bytes)),
        Ok(_) => {
            std::fs::remove_file(path)?;
            Ok(None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Verifies `bytes` against `sha256`, then stores them under that name.
fn write_verified(dir: &Path, sha256: &str, bytes: Vec<u8>) -> Result<Vec<u8>, CacheError> {
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha256 {
        return Err(CacheError::Mismatch {
            expected: sha256.to_string(),
            got,
        });
    }
    write_atomically(dir, sha256, &bytes)?;
    Ok(bytes)
}

/// Writes `dir/name` through a temporary file and a rename, so readers see all or nothing.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))
}

#[cfg(test)]
mod tests;
