//! Start lines: the edge's check, once per question, and the session each asking source gets.
//!
//! A start line is checked at the edge once: a repeat of the same (IMEI, project_name, version)
//! while the check runs joins it, and one within `memo_ttl` after it gets the same outcome again,
//! so the edge counts one delivery per start the device makes. A refusal is the same text for
//! every source; an offered image becomes a session per source (a repeat from the same source
//! keeps its `upgrade_id`, another source gets its own), since an `upgrade_id` serves only the
//! source it was given to.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use tracing::{info, warn};

use crate::bridge::{log_failure, Shared};
use crate::edge::CheckAnswer;
use crate::protocol::{self, Answer, Start};
use crate::session::{self, Offer, OpenError};

/// One start line's identity: the same line again is the same question.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StartKey {
    imei: String,
    project_name: String,
    version: String,
}

/// What a check decided.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// A refusal text, the same for every source.
    Refusal(Answer),
    /// An image: each source that asks gets a session for it.
    Offer(Offer),
}

#[derive(Debug)]
pub(crate) enum MemoEntry {
    /// The edge is being asked; these sources get the answer too.
    Checking(Vec<SocketAddr>),
    Answered(Outcome, Instant),
}

/// Bound on remembered start lines; past it, expired ones go, then answered ones.
const MEMO_CAP: usize = 100_000;
/// Sources that may wait on one check (more are answered by their own retry).
const MAX_WAITING: usize = 8;

/// A start line: the remembered outcome's answer, or `None` when a task will answer after the check.
pub(crate) fn on_start(
    shared: &Arc<Shared>,
    start: &Start<'_>,
    from: SocketAddr,
    now: Instant,
) -> Option<Answer> {
    let key = StartKey {
        imei: start.imei.to_string(),
        project_name: start.project_name.to_string(),
        version: start.version.to_string(),
    };
    let mut memo = shared.memo.lock().expect("memo lock");
    match memo.get_mut(&key) {
        Some(MemoEntry::Answered(outcome, at)) if now.duration_since(*at) < shared.memo_ttl => {
            let outcome = outcome.clone();
            drop(memo);
            shared.counters.start_repeats.fetch_add(1, Relaxed);
            return Some(answer_for(shared, &outcome, &key, from, now));
        }
        Some(MemoEntry::Checking(waiting)) => {
            shared.counters.start_repeats.fetch_add(1, Relaxed);
            if !waiting.contains(&from) && waiting.len() < MAX_WAITING {
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
    tokio::spawn(answer_start(shared.clone(), key));
    None
}

/// Asks the edge, remembers the outcome and answers every source that asked meanwhile.
async fn answer_start(shared: Arc<Shared>, key: StartKey) {
    let (outcome, remember) = resolve(&shared, &key).await;
    let now = Instant::now();
    let waiting = {
        let mut memo = shared.memo.lock().expect("memo lock");
        let entry = if remember {
            memo.insert(key.clone(), MemoEntry::Answered(outcome.clone(), now))
        } else {
            memo.remove(&key)
        };
        match entry {
            Some(MemoEntry::Checking(waiting)) => waiting,
            _ => Vec::new(),
        }
    };
    for to in waiting {
        let bytes = answer_for(&shared, &outcome, &key, to, now).to_bytes();
        let _ = shared.socket.send_to(&bytes, to).await;
    }
}

/// The answer `outcome` gives `from`: a refusal as it is, an offer as `from`'s session for it.
fn answer_for(
    shared: &Shared,
    outcome: &Outcome,
    key: &StartKey,
    from: SocketAddr,
    now: Instant,
) -> Answer {
    let offer = match outcome {
        Outcome::Refusal(answer) => return *answer,
        Outcome::Offer(offer) => offer,
    };
    let opened =
        shared
            .sessions
            .lock()
            .expect("sessions lock")
            .open(from, offer, now, session::os_random);
    match opened {
        Ok((upgrade_id, new)) => {
            if new {
                shared.counters.sessions_opened.fetch_add(1, Relaxed);
                info!(imei = key.imei, source = %from, upgrade_id, sha256 = %offer.sha256, "session opened");
            }
            Answer::upgrade(upgrade_id, offer.size).unwrap_or(Answer::NoUpgrade)
        }
        Err(e) => {
            shared.counters.sessions_refused.fetch_add(1, Relaxed);
            let what = match e {
                OpenError::Full(_) => "sessions full",
                OpenError::Random(_) => "sessions",
            };
            log_failure(shared, &format!("{what}: {e}"));
            Answer::NoUpgrade
        }
    }
}

/// The outcome of a start line, and whether to repeat it for `memo_ttl` (not after an edge that
/// could not be asked: nothing was counted there, so the device's next try asks again).
async fn resolve(shared: &Shared, key: &StartKey) -> (Outcome, bool) {
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
        return (Outcome::Refusal(Answer::NoUpgrade), true);
    };
    let (sha256, location) = match shared.edge.check(&product, imei, version).await {
        Ok(CheckAnswer::Image { sha256, location }) => (sha256, location),
        Ok(CheckAnswer::Refused(code)) => {
            let answer = Answer::for_refusal(code);
            shared.counters.refusals.fetch_add(1, Relaxed);
            info!(imei, project_name, version, code, answer = %String::from_utf8_lossy(&answer.to_bytes()), "start: refused by the edge");
            return (Outcome::Refusal(answer), true);
        }
        Err(e) => {
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_failure(shared, &e.to_string());
            return (Outcome::Refusal(Answer::NoUpgrade), false);
        }
    };
    // Filling the cache downloads this device's own URL: the edge counts its delivery then.
    let filled = std::sync::atomic::AtomicBool::new(false);
    let fetch = || {
        filled.store(true, Relaxed);
        shared.counters.images_fetched.fetch_add(1, Relaxed);
        shared.edge.fetch(&sha256, &location)
    };
    let image = match shared.cache.image(&sha256, fetch).await {
        Ok(image) => image,
        Err(e) => {
            // The edge counted a delivery with its redirect: repeat this answer for a while
            // rather than count another one at each retry.
            shared.counters.edge_errors.fetch_add(1, Relaxed);
            log_failure(shared, &format!("image {sha256}: {e}"));
            return (Outcome::Refusal(Answer::NoUpgrade), true);
        }
    };
    let size = image.bytes.len() as u64;
    let (package_count, last_package_size) = protocol::packages(size);
    if package_count > protocol::MAX_PACKAGES {
        shared.counters.refusals.fetch_add(1, Relaxed);
        warn!(
            imei,
            project_name,
            sha256,
            size,
            "start: image has more packages than a 2-byte number names; no upgrade"
        );
        return (Outcome::Refusal(Answer::NoUpgrade), true);
    }
    shared.counters.upgrades_offered.fetch_add(1, Relaxed);
    info!(
        imei,
        project_name, version, package_count, last_package_size, sha256, "start: upgrade"
    );
    let offer = Offer {
        sha256: image.sha256.as_str().into(),
        location: Some(location.into()),
        size,
        counted: filled.load(Relaxed),
    };
    (Outcome::Offer(offer), true)
}
