//! The UDP side: one socket, one receive loop. `Get` datagrams are answered in the loop from
//! memory; a start line is answered by a task that asks the edge (and fetches the image the first
//! time), so a slow edge never holds up the packages other devices are downloading.
//!
//! Every answer is idempotent: a start line is checked at the edge once (`start`), and a `Get` is
//! answered from the session its `upgrade_id` names (`session`): the image of that session, to
//! the source that opened it, until it expires; anything else is `error all`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tracing::{info, warn};

use crate::cache::{Cache, CacheError, Image};
use crate::counts::{Counters, Counts};
use crate::edge::{EdgeClient, EdgeError};
use crate::limit::{RateLimits, SourceLimiter};
use crate::map::{MapError, ProductMap};
use crate::protocol::{self, Answer, Request, Unreadable};
use crate::session::{self, Offer, OpenError, Refused, Sessions, MAX_SESSIONS};
use crate::start::{self, MemoEntry, StartKey};

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
    pub rate_limits: RateLimits,
    /// How long a start line's answer is repeated without asking the edge again.
    pub memo_ttl: Duration,
    /// How long an `upgrade_id` may go unused (no `Get`, no repeated start line) before it expires.
    pub session_ttl: Duration,
    /// Bound on the bytes of images kept (cache dir and memory; see `cache`).
    pub cache_max_bytes: u64,
}

impl Config {
    pub const DEFAULT_MEMO_TTL: Duration = Duration::from_secs(60);
    pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(600);
    /// 256 MiB.
    pub const DEFAULT_CACHE_MAX_BYTES: u64 = 256 * 1024 * 1024;

    /// A configuration with every default: no token, both rate limits on, a 60 s memo, 600 s
    /// sessions and a 256 MiB cache.
    pub fn new(
        listen: SocketAddr,
        edge_url: &str,
        map_path: PathBuf,
        cache_dir: PathBuf,
    ) -> Config {
        Config {
            listen,
            edge_url: edge_url.to_string(),
            map_path,
            cache_dir,
            token: None,
            rate_limits: RateLimits::default(),
            memo_ttl: Config::DEFAULT_MEMO_TTL,
            session_ttl: Config::DEFAULT_SESSION_TTL,
            cache_max_bytes: Config::DEFAULT_CACHE_MAX_BYTES,
        }
    }
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

/// Bound on the rate limiter's tables of sources.
const MAX_SOURCES: usize = 65_536;
/// Failures are logged at most this often (with a count), never once per device under load.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

pub(crate) struct Shared {
    pub(crate) socket: UdpSocket,
    pub(crate) map: RwLock<Arc<ProductMap>>,
    map_path: PathBuf,
    pub(crate) cache: Cache,
    pub(crate) edge: EdgeClient,
    pub(crate) memo: Mutex<HashMap<StartKey, MemoEntry>>,
    pub(crate) memo_ttl: Duration,
    pub(crate) sessions: Mutex<Sessions>,
    rate_limits: RateLimits,
    pub(crate) counters: Counters,
    /// When a failure was last logged, and how many went unlogged since.
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
        let cache = Cache::open(&config.cache_dir, config.cache_max_bytes)?;
        let edge = EdgeClient::new(&config.edge_url, config.token.clone())?;
        let socket = UdpSocket::bind(config.listen).await?;
        info!(listen = %socket.local_addr()?, edge = %config.edge_url, products = map.len(),
            session_ttl_s = config.session_ttl.as_secs(), cache_max_bytes = config.cache_max_bytes,
            rate_per_ip = config.rate_limits.per_ip.per_second, rate_limit = config.rate_limits.per_source.per_second,
            "fota-udp listening");
        Ok(Bridge {
            shared: Arc::new(Shared {
                socket,
                map: RwLock::new(Arc::new(map)),
                map_path: config.map_path,
                cache,
                edge,
                memo: Mutex::new(HashMap::new()),
                memo_ttl: config.memo_ttl,
                sessions: Mutex::new(Sessions::new(config.session_ttl, MAX_SESSIONS)),
                rate_limits: config.rate_limits,
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

    /// Sessions in memory (live, or expired and not swept yet).
    pub fn sessions(&self) -> usize {
        self.shared.sessions.lock().expect("sessions lock").len()
    }

    /// Opens a session for `source` on an image already in the cache, as a start line that the
    /// edge answered with it would (tests and the benchmark). If the cache evicts the image, the
    /// session cannot fetch it again: it has no edge location.
    pub fn open_session(&self, source: SocketAddr, image: &Image) -> Result<u32, OpenError> {
        let offer = Offer {
            sha256: image.sha256.as_str().into(),
            location: None,
            size: image.bytes.len() as u64,
            counted: true,
        };
        let mut sessions = self.shared.sessions.lock().expect("sessions lock");
        let (id, _) = sessions.open(source, &offer, Instant::now(), session::os_random)?;
        Ok(id)
    }

    /// Re-reads the map file (on SIGHUP). A map that does not parse leaves the old one in place.
    /// Remembered answers are dropped, since they may name products the new map changes; open
    /// sessions stay (they name bytes already offered).
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
        tokio::spawn(housekeeping(Arc::downgrade(&self.shared)));
        let shared = &self.shared;
        let mut limiter = SourceLimiter::new(shared.rate_limits, MAX_SOURCES);
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
                Ok(Request::Get { n, upgrade_id }) => match self.on_get(n, upgrade_id, from, now) {
                    Some(answer) => answer,
                    None => continue,
                },
                Ok(Request::Start(start)) => match start::on_start(shared, &start, from, now) {
                    Some(answer) => answer.to_bytes(),
                    None => continue,
                },
            };
            // A send can fail only for this one peer (unreachable, buffer full); the device retries.
            let _ = shared.socket.send_to(&answer, from).await;
        }
    }

    /// A `Get`: package `n` of the image of `from`'s session `upgrade_id`, else `error all`;
    /// `None` when a task answers once the image is loaded again.
    fn on_get(&self, n: u64, upgrade_id: u64, from: SocketAddr, now: Instant) -> Option<Vec<u8>> {
        let shared = &self.shared;
        let found = shared
            .sessions
            .lock()
            .expect("sessions lock")
            .get(upgrade_id, from, now)
            .map(|session| (session.id, session.offer.clone()));
        let (id, offer) = match found {
            Ok(found) => found,
            Err(refused) => {
                shared.counters.get_errors.fetch_add(1, Relaxed);
                if refused == Refused::OtherSource {
                    shared.counters.foreign_gets.fetch_add(1, Relaxed);
                }
                return Some(Answer::ErrorAll.to_bytes());
            }
        };
        match shared.cache.loaded(&offer.sha256) {
            Some(image) => Some(package_answer(shared, n, &image, id, from, &offer)),
            None => {
                // Evicted, or on disk only: load or fetch it off the loop.
                tokio::spawn(answer_after_load(shared.clone(), from, n, id, offer));
                None
            }
        }
    }
}

/// Package `n` of `image` (and the download's end, once per session), or `error all`.
fn package_answer(
    shared: &Arc<Shared>,
    n: u64,
    image: &Image,
    id: u32,
    from: SocketAddr,
    offer: &Offer,
) -> Vec<u8> {
    let Some(package) = protocol::package(n, &image.bytes) else {
        shared.counters.get_errors.fetch_add(1, Relaxed);
        return Answer::ErrorAll.to_bytes();
    };
    shared.counters.packages_sent.fetch_add(1, Relaxed);
    let size = image.bytes.len();
    let count = protocol::packages(size as u64).0;
    if shared
        .sessions
        .lock()
        .expect("sessions lock")
        .served(id, n, count)
    {
        shared.counters.downloads_finished.fetch_add(1, Relaxed);
        info!(source = %from, upgrade_id = id, sha256 = image.sha256, size, "download finished");
        if let (Some(location), false) = (&offer.location, offer.counted) {
            tokio::spawn(tell_delivery(
                shared.clone(),
                offer.sha256.clone(),
                location.clone(),
            ));
        }
    }
    package
}

/// A device took every package of its session: the bridge downloads the device's own signed
/// image URL from the edge, which counts that device's delivery in its rollout as it would for
/// an HTTP device (a success the device reports later follows a delivery). The bytes are hashed
/// and dropped; the session was served from the cache.
async fn tell_delivery(shared: Arc<Shared>, sha256: Arc<str>, location: Arc<str>) {
    match shared.edge.count_delivery(&location).await {
        Ok(got) if got == *sha256 => {
            shared.counters.deliveries_told.fetch_add(1, Relaxed);
        }
        Ok(got) => {
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_failure(
                &shared,
                &format!("delivery of {sha256}: the edge's bytes hash to {got}"),
            );
        }
        Err(e) => {
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_failure(&shared, &format!("delivery of {sha256}: {e}"));
        }
    }
}

/// A `Get` for a session whose image is not in memory: load it from disk or fetch it again from
/// the edge (once for every waiting `Get`), then answer.
async fn answer_after_load(shared: Arc<Shared>, from: SocketAddr, n: u64, id: u32, offer: Offer) {
    let (shared_ref, offer_ref) = (&shared, &offer);
    let fetch = move || async move {
        let (shared, offer) = (shared_ref, offer_ref);
        let Some(location) = &offer.location else {
            return Err(EdgeError::Unexpected(
                "evicted image has no edge location".into(),
            ));
        };
        shared.counters.images_fetched.fetch_add(1, Relaxed);
        shared.edge.fetch(&offer.sha256, location).await
    };
    let bytes = match shared.cache.image(&offer.sha256, fetch).await {
        Ok(image) => package_answer(&shared, n, &image, id, from, &offer),
        Err(e) => {
            log_failure(
                &shared,
                &format!("image {} for a session: {e}", offer.sha256),
            );
            shared.counters.get_errors.fetch_add(1, Relaxed);
            Answer::ErrorAll.to_bytes()
        }
    };
    let _ = shared.socket.send_to(&bytes, from).await;
}

/// Logs a failure (edge, cache, sessions), at most once per [`ERROR_LOG_INTERVAL`] with a count.
pub(crate) fn log_failure(shared: &Shared, error: &str) {
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
        "bridge failure; the device was answered no upgrade or error all"
    );
    *log = (Some(now), 0);
}

/// Each minute: sweeps expired sessions, and logs every counter when anything changed; ends with
/// the bridge.
async fn housekeeping(shared: std::sync::Weak<Shared>) {
    let mut last = Counts::default();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let live = {
            let mut sessions = shared.sessions.lock().expect("sessions lock");
            sessions.sweep(Instant::now());
            sessions.len()
        };
        let counts = shared.counters.snapshot();
        if counts != last {
            info!(
                ?counts,
                sessions = live,
                cache_bytes = shared.cache.bytes(),
                "counters"
            );
            last = counts;
        }
    }
}
