//! The image cache: each image fetched once per sha256 into `<dir>/images/<sha256>` (verified,
//! written to a temporary name and renamed, so a file under its final name is always whole), held
//! in memory for the `Get` hot path, and given a stable `upgrade_id` kept in `<dir>/upgrade-ids`.
//!
//! An `upgrade_id` names bytes, not a plan: the same image keeps its id across restarts and plans,
//! so a device that resumes after the bridge restarted still asks for the right bytes.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::edge::EdgeError;

/// One image, whole and verified.
#[derive(Debug)]
pub struct Image {
    pub upgrade_id: u32,
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
    #[error("{0}")]
    Ids(String),
}

/// The persisted `upgrade_id` table, both ways.
#[derive(Debug, Default)]
struct Ids {
    by_sha: HashMap<String, u32>,
    by_id: HashMap<u32, String>,
}

pub struct Cache {
    dir: PathBuf,
    ids: Mutex<Ids>,
    /// Images in memory by `upgrade_id`: the `Get` path reads only this.
    loaded: RwLock<HashMap<u32, Arc<Image>>>,
    /// One load or download per sha256 at a time; later callers wait for the first.
    pending: Mutex<HashMap<String, Arc<OnceCell<Arc<Image>>>>>,
}

const IDS_FILE: &str = "upgrade-ids";

impl Cache {
    /// Opens (or creates) the cache in `dir` and reads its `upgrade_id` table.
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        std::fs::create_dir_all(dir.join("images"))?;
        let mut ids = Ids::default();
        match std::fs::read_to_string(dir.join(IDS_FILE)) {
            Ok(text) => {
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let bad = || {
                        CacheError::Ids(format!(
                            "{}: line {} is not `<id> <sha256>`",
                            dir.join(IDS_FILE).display(),
                            i + 1
                        ))
                    };
                    let (id, sha) = line.trim().split_once(' ').ok_or_else(bad)?;
                    let id: u32 = id.parse().map_err(|_| bad())?;
                    if !is_sha256(sha)
                        || ids.by_id.contains_key(&id)
                        || ids.by_sha.contains_key(sha)
                    {
                        return Err(bad());
                    }
                    ids.by_sha.insert(sha.to_string(), id);
                    ids.by_id.insert(id, sha.to_string());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
            ids: Mutex::new(ids),
            loaded: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The image with this `upgrade_id` when it is in memory.
    pub fn loaded(&self, upgrade_id: u64) -> Option<Arc<Image>> {
        let id = u32::try_from(upgrade_id).ok()?;
        self.loaded.read().expect("cache lock").get(&id).cloned()
    }

    /// The sha256 an `upgrade_id` was given to, loaded or not.
    pub fn sha256_of(&self, upgrade_id: u64) -> Option<String> {
        let id = u32::try_from(upgrade_id).ok()?;
        self.ids.lock().expect("ids lock").by_id.get(&id).cloned()
    }

    /// The image named `sha256`: from memory, else from disk, else from `fetch` (once for all
    /// concurrent callers). Bytes that do not hash to `sha256` are never kept.
    pub async fn image<F, Fut>(&self, sha256: &str, fetch: F) -> Result<Arc<Image>, CacheError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, EdgeError>>,
    {
        let sha256 = sha256.to_ascii_lowercase();
        if let Some(image) = self.loaded_by_sha(&sha256) {
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
            .get_or_try_init(|| async {
                let path = self.dir.join("images").join(&sha256);
                let on_disk = {
                    let (path, sha) = (path.clone(), sha256.clone());
                    tokio::task::spawn_blocking(move || read_verified(&path, &sha))
                        .await
                        .map_err(std::io::Error::other)??
                };
                let bytes = match on_disk {
                    Some(bytes) => bytes,
                    None => {
                        let bytes = fetch().await?;
                        let (dir, sha) = (self.dir.join("images"), sha256.clone());
                        tokio::task::spawn_blocking(move || write_verified(&dir, &sha, bytes))
                            .await
                            .map_err(std::io::Error::other)??
                    }
                };
                let upgrade_id = self.id_for(&sha256)?;
                let image = Arc::new(Image {
                    upgrade_id,
                    sha256: sha256.clone(),
                    bytes,
                });
                self.loaded
                    .write()
                    .expect("cache lock")
                    .insert(upgrade_id, image.clone());
                Ok::<_, CacheError>(image)
            })
            .await
            .cloned();
        // Loaded images are found in `loaded` from now on; a failure lets the next caller retry.
        self.pending.lock().expect("pending lock").remove(&sha256);
        result
    }

    /// Loads the image an `upgrade_id` names from disk (after a restart), never from the edge.
    pub async fn load(&self, upgrade_id: u64) -> Result<Option<Arc<Image>>, CacheError> {
        let Some(sha256) = self.sha256_of(upgrade_id) else {
            return Ok(None);
        };
        let missing =
            || async { Err(EdgeError::Unexpected("image no longer in the cache".into())) };
        match self.image(&sha256, missing).await {
            Ok(image) => Ok(Some(image)),
            Err(CacheError::Edge(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stores `bytes` as an image (the benchmark and tests seed the cache with this).
    pub async fn insert(&self, bytes: Vec<u8>) -> Result<Arc<Image>, CacheError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.image(&sha256, || async { Ok(bytes) }).await
    }

    fn loaded_by_sha(&self, sha256: &str) -> Option<Arc<Image>> {
        let id = *self.ids.lock().expect("ids lock").by_sha.get(sha256)?;
        self.loaded.read().expect("cache lock").get(&id).cloned()
    }

    /// The image's `upgrade_id`, given on first sight and stored before it is ever answered.
    fn id_for(&self, sha256: &str) -> Result<u32, CacheError> {
        let mut ids = self.ids.lock().expect("ids lock");
        if let Some(id) = ids.by_sha.get(sha256) {
            return Ok(*id);
        }
        let id = ids.by_id.keys().max().map_or(1, |max| max + 1);
        let mut lines: Vec<(u32, &str)> = ids
            .by_id
            .iter()
            .map(|(id, sha)| (*id, sha.as_str()))
            .collect();
        lines.push((id, sha256));
        lines.sort();
        let text: String = lines
            .iter()
            .map(|(id, sha)| format!("{id} {sha}\n"))
            .collect();
        write_atomically(&self.dir, IDS_FILE, text.as_bytes())?;
        ids.by_sha.insert(sha256.to_string(), id);
        ids.by_id.insert(id, sha256.to_string());
        Ok(id)
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
