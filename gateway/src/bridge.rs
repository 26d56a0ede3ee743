//! The UDP side: one socket, one receive loop. `Get` datagrams are answered in the loop from
//! memory; a start line is answered by a task that asks the edge (and fetches the image the first
//! time), so a slow edge never holds up the packages other devices are downloading.
//!
//! Every answer is idempotent. A start line is checked at the edge once: a repeat of the same
//! (IMEI, project_name, version) while the check runs joins it, and one within `memo_ttl` after
//! it gets the same answer again, so the edge counts one delivery per start the device makes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tracing::{info, warn};

use crate::cache::{Cache, CacheError};
use crate::edge::{CheckAnswer, EdgeClient, EdgeError};
use crate::limit::{RateLimit, SourceLimiter};
use crate::map::{MapError, ProductMap};
use crate::protocol::{self, Answer, Request, Start, Unreadable};

/// Everything the bridge needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The edge's base URL, e.g. `http://127.0.0.1:8787`.
    pub edge_url: String,
    pub map_path: PathBuf,
    pub cache_dir: PathBuf,
    /// A bearer token for the edge, when it sits behind an access gate.
    pub token: Option<String>,
    pub rate_limit: RateLimit,
    /// How long a start line's answer is repeated without asking the edge again.
    pub memo_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("map file: {0}")]
    Map(#[from] MapError),
    #[error("cache: {0}")]
    Cache(#[from] CacheError),
    #[error("edge client: {0}")]
    Edge(#[from] EdgeError),
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
}

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// What the bridge has seen and done since it started.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct Counts { $($(#[doc = $doc])* pub $name: u64,)* }

        #[derive(Debug, Default)]
        struct Counters { $($name: AtomicU64,)* }

        impl Counters {
            fn snapshot(&self) -> Counts {
                Counts { $($name: self.$name.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Every datagram received.
    datagrams,
    /// Start lines checked at the edge.
    starts,
    /// Start lines answered from the memo (a repeat of one being checked or just answered).
    start_repeats,
    /// `LUAUPDATE` answers sent for fresh checks.
    upgrades_offered,
    /// Start lines refused (`version error`, `imei range error`, `no upgrade`).
    refusals,
    /// Checks or image downloads that failed (answered `no upgrade`).
    edge_errors,
    /// `Get` datagrams answered with a package.
    packages_sent,
    /// `Get` datagrams for an unknown upgrade or a package out of range (`error all`).
    get_errors,
    /// Last packages served (a download completed) per source and upgrade.
    downloads_finished,
    /// Datagrams matching neither pattern (`unknown function`).
    unknown,
    /// Datagrams over 512 bytes (`unknown function`).
    oversize,
    /// Non-ASCII datagrams (`error all`, as the sample's failed decode).
    not_ascii,
    /// Datagrams dropped unanswered: their source was over its rate limit.
    rate_limited,
}

/// One start line's identity: the same line again is the same question.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StartKey {
    imei: String,
    project_name: String,
    version: String,
}

#[derive(Debug)]
enum MemoEntry {
    /// The edge is being asked; these sources get the answer too.
    Checking(Vec<SocketAddr>),
    Answered(Answer, Instant),
}

/// Bound on remembered start lines; past it, expired ones go, then answered ones.
const MEMO_CAP: usize = 100_000;
/// Bound on the sources remembered for logging finished downloads once.
const FINISHED_CAP: usize = 10_000;
/// Bound on the rate limiter's table of sources.
const MAX_SOURCES: usize = 65_536;
/// Edge failures are logged at most this often (with a count), never once per device under load.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

struct Shared {
    socket: UdpSocket,
    map: RwLock<Arc<ProductMap>>,
    map_path: PathBuf,
    cache: Cache,
    edge: EdgeClient,
    memo: Mutex<HashMap<StartKey, MemoEntry>>,
    memo_ttl: Duration,
    rate_limit: RateLimit,
    counters: Counters,
    /// When an edge failure was last logged, and how many went unlogged since.
    error_log: Mutex<(Option<Instant>, u64)>,
}

/// A running bridge; clones share the socket and state.
#[derive(Clone)]
pub struct Bridge {
    shared: Arc<Shared>,
}

impl Bridge {
    /// Reads the map, opens the cache and binds the socket; [`Bridge::run`] then serves.
    pub async fn bind(config: Config) -> Result<Bridge, StartError> {
        let map = ProductMap::load(&config.map_path)?;
        let cache = Cache::open(&config.cache_dir)?;
        let edge = EdgeClient::new(&config.edge_url, config.token.clone())?;
        let socket = UdpSocket::bind(config.listen).await?;
        info!(listen = %socket.local_addr()?, edge = %config.edge_url, products = map.len(), "fota-udp listening");
        Ok(Bridge {
            shared: Arc::new(Shared {
                socket,
                map: RwLock::new(Arc::new(map)),
                map_path: config.map_path,
                cache,
                edge,
                memo: Mutex::new(HashMap::new()),
                memo_ttl: config.memo_ttl,
                rate_limit: config.rate_limit,
                counters: Counters::default(),
                error_log: Mutex::new((None, 0)),
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }

    pub fn counts(&self) -> Counts {
        self.shared.counters.snapshot()
    }

    /// The image cache (tests and the benchmark seed it).
    pub fn cache(&self) -> &Cache {
        &self.shared.cache
    }

    /// Re-reads the map file (on SIGHUP). A map that does not parse leaves the old one in place.
    /// Remembered answers are dropped, since they may name products the new map changes.
    pub fn reload_map(&self) -> Result<usize, MapError> {
        let map = ProductMap::load(&self.shared.map_path)?;
        let products = map.len();
        *self.shared.map.write().expect("map lock") = Arc::new(map);
        self.shared
            .memo
            .lock()
            .expect("memo lock")
            .retain(|_, entry| matches!(entry, MemoEntry::Checking(_)));
        Ok(products)
    }

    /// Serves datagrams until the socket fails.
    pub async fn run(&self) -> std::io::Result<()> {
        tokio::spawn(log_counts_periodically(Arc::downgrade(&self.shared)));
        let shared = &self.shared;
        let mut limiter = SourceLimiter::new(shared.rate_limit, MAX_SOURCES);
        let mut finished: HashMap<(SocketAddr, u32), Instant> = HashMap::new();
        let mut buf = vec![0u8; 2048];
        loop {
            let (len, from) = match shared.socket.recv_from(&mut buf).await {
                Ok(received) => received,
                // An ICMP error for an earlier answer may surface here; it concerns that peer only.
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionReset
                        || e.kind() == std::io::ErrorKind::ConnectionRefused =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let counters = &shared.counters;
            counters.datagrams.fetch_add(1, Relaxed);
            let now = Instant::now();
            if !limiter.admit(from, now) {
                counters.rate_limited.fetch_add(1, Relaxed);
                continue;
            }
            let answer = match protocol::parse(&buf[..len]) {
                Err(Unreadable::Oversize) => {
                    counters.oversize.fetch_add(1, Relaxed);
                    Answer::UnknownFunction.to_bytes()
                }
                Err(Unreadable::NotAscii) => {
                    counters.not_ascii.fetch_add(1, Relaxed);
                    Answer::ErrorAll.to_bytes()
                }
                Ok(Request::Unknown) => {
                    counters.unknown.fetch_add(1, Relaxed);
                    Answer::UnknownFunction.to_bytes()
                }
                Ok(Request::Get { n, upgrade_id }) => match shared.cache.loaded(upgrade_id) {
                    Some(image) => match protocol::package(n, &image.bytes) {
                        Some(package) => {
                            counters.packages_sent.fetch_add(1, Relaxed);
                            if n == protocol::packages(image.bytes.len() as u64).0 {
                                note_finished(&mut finished, shared, from, &image, now);
                            }
                            package
                        }
                        None => {
                            counters.get_errors.fetch_add(1, Relaxed);
                            Answer::ErrorAll.to_bytes()
                        }
                    },
                    None if shared.cache.sha256_of(upgrade_id).is_some() => {
                        // Known but not in memory (the bridge restarted): load it off the loop.
                        tokio::spawn(answer_after_load(self.shared.clone(), from, n, upgrade_id));
                        continue;
                    }
                    None => {
                        counters.get_errors.fetch_add(1, Relaxed);
                        Answer::ErrorAll.to_bytes()
                    }
                },
                Ok(Request::Start(start)) => match self.on_start(&start, from, now) {
                    Some(answer) => answer.to_bytes(),
                    None => continue,
                },
            };
            // A send can fail only for this one peer (unreachable, buffer full); the device retries.
            let _ = shared.socket.send_to(&answer, from).await;
        }
    }

    /// A start line: the remembered answer, or `None` when a task will answer after the check.
    fn on_start(&self, start: &Start<'_>, from: SocketAddr, now: Instant) -> Option<Answer> {
        let shared = &self.shared;
        let key = StartKey {
            imei: start.imei.to_string(),
            project_name: start.project_name.to_string(),
            version: start.version.to_string(),
        };
        let mut memo = shared.memo.lock().expect("memo lock");
        match memo.get_mut(&key) {
            Some(MemoEntry::Answered(answer, at)) if now.duration_since(*at) < shared.memo_ttl => {
                shared.counters.start_repeats.fetch_add(1, Relaxed);
                return Some(*answer);
            }
            Some(MemoEntry::Checking(waiting)) => {
                shared.counters.start_repeats.fetch_add(1, Relaxed);
                if !waiting.contains(&from) && waiting.len() < 8 {
                    waiting.push(from);
                }
                return None;
            }
            _ => {}
        }
        if memo.len() >= MEMO_CAP {
            let ttl = shared.memo_ttl;
            memo.retain(|_, e| match e {
                MemoEntry::Checking(_) => true,
                MemoEntry::Answered(_, at) => now.duration_since(*at) < ttl,
            });
            if memo.len() >= MEMO_CAP {
                memo.retain(|_, e| matches!(e, MemoEntry::Checking(_)));
            }
        }
        memo.insert(key.clone(), MemoEntry::Checking(vec![from]));
        drop(memo);
        shared.counters.starts.fetch_add(1, Relaxed);
        tokio::spawn(answer_start(self.shared.clone(), key));
        None
    }
}

/// Asks the edge, remembers the answer and sends it to every source that asked meanwhile.
async fn answer_start(shared: Arc<Shared>, key: StartKey) {
    let (answer, remember) = resolve(&shared, &key).await;
    let waiting = {
        let mut memo = shared.memo.lock().expect("memo lock");
        let entry = if remember {
            memo.insert(key, MemoEntry::Answered(answer, Instant::now()))
        } else {
            memo.remove(&key)
        };
        match entry {
            Some(MemoEntry::Checking(waiting)) => waiting,
            _ => Vec::new(),
        }
    };
    let bytes = answer.to_bytes();
    for to in waiting {
        let _ = shared.socket.send_to(&bytes, to).await;
    }
}

/// The answer to a start line, and whether to repeat it for `memo_ttl` (not after an edge that
/// could not be asked: nothing was counted there, so the device's next try asks again).
async fn resolve(shared: &Shared, key: &StartKey) -> (Answer, bool) {
    let StartKey {
        imei,
        project_name,
        version,
    } = key;
    let product = shared
        .map
        .read()
        .expect("map lock")
        .get(project_name)
        .cloned();
    let Some(product) = product else {
        shared.counters.refusals.fetch_add(1, Relaxed);
        info!(
            imei,
            project_name,
            version,
            answer = "no upgrade",
            "start: product not in the map"
        );
        return (Answer::NoUpgrade, true);
    };
    let (sha256, location) = match shared.edge.check(&product, imei, version).await {
        Ok(CheckAnswer::Image { sha256, location }) => (sha256, location),
        Ok(CheckAnswer::Refused(code)) => {
            let answer = Answer::for_refusal(code);
            shared.counters.refusals.fetch_add(1, Relaxed);
            info!(imei, project_name, version, code, answer = %String::from_utf8_lossy(&answer.to_bytes()), "start: refused by the edge");
            return (answer, true);
        }
        Err(e) => {
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_edge_error(shared, &e.to_string());
            return (Answer::NoUpgrade, false);
        }
    };
    match shared
        .cache
        .image(&sha256, || shared.edge.fetch(&sha256, &location))
        .await
    {
        Ok(image) => match Answer::upgrade(image.upgrade_id, image.bytes.len() as u64) {
            Some(answer) => {
                shared.counters.upgrades_offered.fetch_add(1, Relaxed);
                if let Answer::Upgrade {
                    upgrade_id,
                    package_count,
                    last_package_size,
                } = answer
                {
                    info!(
                        imei,
                        project_name,
                        version,
                        upgrade_id,
                        package_count,
                        last_package_size,
                        sha256,
                        "start: upgrade"
                    );
                }
                (answer, true)
            }
            None => {
                shared.counters.refusals.fetch_add(1, Relaxed);
                warn!(
                    imei,
                    project_name,
                    sha256,
                    size = image.bytes.len(),
                    "start: image has more packages than a 2-byte number names; no upgrade"
                );
                (Answer::NoUpgrade, true)
            }
        },
        Err(e) => {
            // The edge counted a delivery with its redirect: repeat this answer for a while
            // rather than count another one at each retry.
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_edge_error(shared, &format!("image {sha256}: {e}"));
            (Answer::NoUpgrade, true)
        }
    }
}

fn log_edge_error(shared: &Shared, error: &str) {
    let mut log = shared.error_log.lock().expect("log lock");
    let now = Instant::now();
    if log
        .0
        .is_some_and(|at| now.duration_since(at) < ERROR_LOG_INTERVAL)
    {
        log.1 += 1;
        return;
    }
    warn!(
        error,
        suppressed_since_last = log.1,
        "edge failure; answered no upgrade"
    );
    *log = (Some(now), 0);
}

/// Logs a finished download once per source and upgrade within the memo's time.
fn note_finished(
    finished: &mut HashMap<(SocketAddr, u32), Instant>,
    shared: &Shared,
    from: SocketAddr,
    image: &crate::cache::Image,
    now: Instant,
) {
    let ttl = shared.memo_ttl;
    if finished
        .get(&(from, image.upgrade_id))
        .is_some_and(|at| now.duration_since(*at) < ttl)
    {
        return;
    }
    if finished.len() >= FINISHED_CAP {
        finished.retain(|_, at| now.duration_since(*at) < ttl);
        if finished.len() >= FINISHED_CAP {
            finished.clear();
        }
    }
    finished.insert((from, image.upgrade_id), now);
    shared.counters.downloads_finished.fetch_add(1, Relaxed);
    info!(source = %from, upgrade_id = image.upgrade_id, sha256 = image.sha256, size = image.bytes.len(), "download finished");
}

/// A `Get` for an image known by id but not in memory: load it from disk, then answer.
async fn answer_after_load(shared: Arc<Shared>, from: SocketAddr, n: u64, upgrade_id: u64) {
    let package = match shared.cache.load(upgrade_id).await {
        Ok(Some(image)) => protocol::package(n, &image.bytes),
        Ok(None) => None,
        Err(e) => {
            log_edge_error(&shared, &format!("cache: {e}"));
            None
        }
    };
    let bytes = match package {
        Some(package) => {
            shared.counters.packages_sent.fetch_add(1, Relaxed);
            package
        }
        None => {
            shared.counters.get_errors.fetch_add(1, Relaxed);
            Answer::ErrorAll.to_bytes()
        }
    };
    let _ = shared.socket.send_to(&bytes, from).await;
}

/// One line with every counter each minute, when anything changed; ends with the bridge.
async fn log_counts_periodically(shared: std::sync::Weak<Shared>) {
    let mut last = Counts::default();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let counts = shared.counters.snapshot();
        if counts != last {
            info!(?counts, "counters");
            last = counts;
        }
    }
}
