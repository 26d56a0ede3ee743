//! Download sessions: the `upgrade_id` a `LUAUPDATE` answer hands out names one session, which
//! gives one image to the one source (address and port) whose start line opened it, until it has
//! gone unused for `ttl` (each `Get` it answers, and the same start line again, renew it).
//!
//! Ids are drawn at random from `1..=999_999_999` (nine decimal digits, so every device's integer
//! parsing holds them), never one a live session has; an id names nothing once its session
//! expired. A `Get` for an unknown or expired id, or from another source, is refused (the bridge
//! answers `error all`), so an id seen on the wire or guessed gives nobody else the image.
//!
//! Memory is bounded: expired sessions are removed when a lookup meets them, by a sweep at most
//! every [`SWEEP_INTERVAL`] when a session opens (and by the bridge once a minute), and at most
//! `cap` sessions are live at once ([`MAX_SESSIONS`] in the bridge, about 200 bytes each); past it
//! a new session is refused rather than a live download cut short.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Live sessions the bridge keeps at most (about 20 MB).
pub const MAX_SESSIONS: usize = 100_000;
/// The largest `upgrade_id`: nine decimal digits.
pub const MAX_UPGRADE_ID: u32 = 999_999_999;
/// Opening a session sweeps expired ones at most this often.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Draws of a random id before giving up (each fails with probability under 8%).
const DRAWS: usize = 32;

/// The image an edge check offered: what a session downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub sha256: Arc<str>,
    /// Where the image can be fetched again if the cache evicted it (`None`: it cannot).
    pub location: Option<Arc<str>>,
    pub size: u64,
    /// The bridge downloaded `location` itself to fill its cache, so the edge already counted
    /// this device's delivery: the finished session tells the edge nothing more.
    pub counted: bool,
}

#[derive(Debug)]
pub struct Session {
    pub id: u32,
    pub source: SocketAddr,
    pub offer: Offer,
    expires: Instant,
    /// Packages `1..=next` were each served, in order (a device asks for them one after the
    /// other, repeating one it lost; a `Get` out of that order is served and moves nothing).
    next: u64,
    /// Every package was served (a finished download is counted once).
    finished: bool,
}

/// Why a `Get`'s `upgrade_id` gets no package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No session has this id (never had, or swept after it expired).
    Unknown,
    /// The session's time was up (it is removed now).
    Expired,
    /// A live session, given to another source.
    OtherSource,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0} sessions are live, the most the bridge keeps")]
    Full(usize),
    #[error("no random upgrade_id: {0}")]
    Random(String),
}

/// The live sessions, by id and by (source, image) so a repeated start line keeps its id.
#[derive(Debug)]
pub struct Sessions {
    by_id: HashMap<u32, Session>,
    by_source: HashMap<(SocketAddr, Arc<str>), u32>,
    ttl: Duration,
    cap: usize,
    next_sweep: Option<Instant>,
}

impl Sessions {
    pub fn new(ttl: Duration, cap: usize) -> Sessions {
        Sessions {
            by_id: HashMap::new(),
            by_source: HashMap::new(),
            ttl,
            cap,
            next_sweep: None,
        }
    }

    /// The `upgrade_id` for `source` to download `offer`: its live session for the same sha256
    /// (given `ttl` again), else a new session under an id from `draw` (a `u32`, mapped into
    /// `1..=MAX_UPGRADE_ID` by [`upgrade_id_from`]). The `bool` says whether it is new.
    pub fn open(
        &mut self,
        source: SocketAddr,
        offer: &Offer,
        now: Instant,
        mut draw: impl FnMut() -> Result<u32, String>,
    ) -> Result<(u32, bool), OpenError> {
        let expires = now + self.ttl;
        let key = (source, offer.sha256.clone());
        if let Some(id) = self.by_source.get(&key).copied() {
            match self.by_id.get_mut(&id) {
                Some(session) if session.expires > now => {
                    // The same bytes; a newer check may have given a newer location for them.
                    let counted = session.offer.counted;
                    session.offer = offer.clone();
                    session.offer.counted |= counted;
                    session.expires = expires;
                    return Ok((id, false));
                }
                _ => self.remove(id),
            }
        }
        if self.next_sweep.is_none_or(|at| now >= at) || self.by_id.len() >= self.cap {
            self.sweep(now);
        }
        if self.by_id.len() >= self.cap {
            return Err(OpenError::Full(self.cap));
        }
        let id = self.fresh_id(&mut draw)?;
        self.by_source.insert(key, id);
        self.by_id.insert(
            id,
            Session {
                id,
                source,
                offer: offer.clone(),
                expires,
                next: 0,
                finished: false,
            },
        );
        Ok((id, true))
    }

    /// The session `upgrade_id` names for a `Get` from `from` at `now`, given `ttl` again. An
    /// expired one is removed; another source's is refused and left as it is.
    pub fn get(
        &mut self,
        upgrade_id: u64,
        from: SocketAddr,
        now: Instant,
    ) -> Result<&Session, Refused> {
        let id = u32::try_from(upgrade_id).map_err(|_| Refused::Unknown)?;
        let expired = match self.by_id.get(&id) {
            None => return Err(Refused::Unknown),
            Some(session) => session.expires <= now,
        };
        if expired {
            self.remove(id);
            return Err(Refused::Expired);
        }
        let ttl = self.ttl;
        match self.by_id.get_mut(&id) {
            Some(session) if session.source == from => {
                // In use: its time starts again, so a long download over a slow link goes on.
                session.expires = now + ttl;
                Ok(session)
            }
            Some(_) => Err(Refused::OtherSource),
            None => Err(Refused::Unknown),
        }
    }

    /// Records that package `n` of `count` was served to session `id`; `true` the first time the
    /// session has been served every package, `1` to `count` in order: its download finished.
    pub fn served(&mut self, id: u32, n: u64, count: u64) -> bool {
        let Some(session) = self.by_id.get_mut(&id) else {
            return false;
        };
        if n == session.next + 1 {
            session.next = n;
        }
        session.next >= count && !std::mem::replace(&mut session.finished, true)
    }

    /// Removes every expired session; returns how many went.
    pub fn sweep(&mut self, now: Instant) -> usize {
        let before = self.by_id.len();
        self.by_id.retain(|_, s| s.expires > now);
        let by_id = &self.by_id;
        self.by_source.retain(|_, id| by_id.contains_key(id));
        self.next_sweep = Some(now + SWEEP_INTERVAL);
        before - self.by_id.len()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn remove(&mut self, id: u32) {
        if let Some(session) = self.by_id.remove(&id) {
            self.by_source
                .remove(&(session.source, session.offer.sha256));
        }
    }

    fn fresh_id(&self, draw: &mut impl FnMut() -> Result<u32, String>) -> Result<u32, OpenError> {
        for _ in 0..DRAWS {
            if let Some(id) = upgrade_id_from(draw().map_err(OpenError::Random)?) {
                if !self.by_id.contains_key(&id) {
                    return Ok(id);
                }
            }
        }
        Err(OpenError::Random(format!("{DRAWS} draws gave no free id")))
    }
}

/// A uniformly drawn `u32` as an id in `1..=MAX_UPGRADE_ID`, or `None` for the few draws above
/// the last whole multiple of `MAX_UPGRADE_ID` (rejected so that every id is equally likely).
pub fn upgrade_id_from(draw: u32) -> Option<u32> {
    const ZONE: u32 = (u32::MAX / MAX_UPGRADE_ID) * MAX_UPGRADE_ID;
    (draw < ZONE).then(|| draw % MAX_UPGRADE_ID + 1)
}

/// A `u32` from the operating system's random source.
pub fn os_random() -> Result<u32, String> {
    getrandom::u32().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn offer(sha: &str) -> Offer {
        Offer {
            sha256: sha.into(),
            location: None,
            size: 3000,
            counted: false,
        }
    }

    /// A draw that yields `values` in turn.
    fn draws(values: &[u32]) -> impl FnMut() -> Result<u32, String> + '_ {
        let mut next = values.iter();
        move || {
            next.next()
                .copied()
                .ok_or_else(|| "out of draws".to_string())
        }
    }

    #[test]
    fn ids_fit_nine_digits_and_every_one_is_reachable() {
        assert_eq!(upgrade_id_from(0), Some(1));
        assert_eq!(upgrade_id_from(MAX_UPGRADE_ID - 1), Some(MAX_UPGRADE_ID));
        assert_eq!(upgrade_id_from(MAX_UPGRADE_ID), Some(1));
        assert_eq!(upgrade_id_from(3_999_999_995), Some(MAX_UPGRADE_ID));
        assert_eq!(upgrade_id_from(3_999_999_996), None);
        assert_eq!(upgrade_id_from(u32::MAX), None);
        let ids: Vec<u32> = (0..64)
            .map(|_| loop {
                if let Some(id) = upgrade_id_from(os_random().unwrap()) {
                    break id;
                }
            })
            .collect();
        assert!(ids.iter().all(|id| (1..=MAX_UPGRADE_ID).contains(id)));
        assert!(ids.windows(2).any(|w| w[1] != w[0] + 1), "{ids:?}");
    }

    #[test]
    fn a_session_is_its_source_s_alone_until_it_expires() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut sessions = Sessions::new(ttl, 100);
        let (id, new) = sessions
            .open(addr(1), &offer("a"), t0, draws(&[41]))
            .unwrap();
        assert_eq!((id, new), (42, true));
        assert_eq!(sessions.get(42, addr(1), t0).unwrap().offer, offer("a"));
        assert_eq!(
            sessions.get(42, addr(2), t0).err(),
            Some(Refused::OtherSource)
        );
        assert_eq!(sessions.get(43, addr(1), t0).err(), Some(Refused::Unknown));
        assert_eq!(
            sessions.get(u64::MAX, addr(1), t0).err(),
            Some(Refused::Unknown)
        );
        // The same source and image keep their id (and its time starts again); another source,
        // or another image, gets a new one.
        let t5 = t0 + Duration::from_secs(5);
        let again = sessions.open(addr(1), &offer("a"), t5, draws(&[])).unwrap();
        assert_eq!(again, (42, false));
        let other = sessions
            .open(addr(2), &offer("a"), t5, draws(&[6]))
            .unwrap();
        assert_eq!(other, (7, true));
        let other_image = sessions
            .open(addr(1), &offer("b"), t5, draws(&[7]))
            .unwrap();
        assert_eq!(other_image, (8, true));
        // A `Get` from its source renews it; another source's does not.
        let t14 = t0 + Duration::from_secs(14);
        assert!(sessions.get(42, addr(1), t14).is_ok());
        assert_eq!(
            sessions.get(7, addr(1), t14).err(),
            Some(Refused::OtherSource)
        );
        // Expired: refused, and gone from memory.
        let t15 = t0 + Duration::from_secs(15);
        assert_eq!(sessions.get(7, addr(2), t15).err(), Some(Refused::Expired));
        assert_eq!(sessions.get(7, addr(2), t15).err(), Some(Refused::Unknown));
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.sweep(t15), 1, "only 42 was used since");
        let t24 = t14 + ttl;
        assert_eq!(sessions.get(42, addr(1), t24).err(), Some(Refused::Expired));
        assert!(sessions.is_empty());
        assert!(sessions.by_source.is_empty());
    }

    #[test]
    fn ids_avoid_live_sessions() {
        let t0 = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(10), 100);
        sessions
            .open(addr(1), &offer("a"), t0, draws(&[0]))
            .unwrap();
        // 0 and 999_999_999 both map to id 1, which is taken; 4_000_000_000 is rejected.
        let (id, _) = sessions
            .open(
                addr(2),
                &offer("a"),
                t0,
                draws(&[0, 999_999_999, 4_000_000_000, 1]),
            )
            .unwrap();
        assert_eq!(id, 2);
        let stuck = sessions.open(addr(3), &offer("a"), t0, || Ok(0));
        assert!(matches!(stuck, Err(OpenError::Random(_))), "{stuck:?}");
        let broken = sessions.open(addr(3), &offer("a"), t0, || Err("no entropy".into()));
        assert!(matches!(broken, Err(OpenError::Random(_))), "{broken:?}");
    }

    #[test]
    fn live_sessions_are_capped_and_expired_ones_swept_on_open() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut sessions = Sessions::new(ttl, 3);
        for port in 1..=3 {
            sessions
                .open(addr(port), &offer("a"), t0, os_random)
                .unwrap();
        }
        let full = sessions.open(addr(4), &offer("a"), t0, os_random);
        assert!(matches!(full, Err(OpenError::Full(3))), "{full:?}");
        // A live session's own source still gets its id back when the table is full.
        assert!(
            !sessions
                .open(addr(1), &offer("a"), t0, os_random)
                .unwrap()
                .1
        );
        // Once they expired, opening sweeps them.
        let later = t0 + ttl;
        sessions
            .open(addr(4), &offer("a"), later, os_random)
            .unwrap();
        assert_eq!(sessions.len(), 1);
        // The periodic sweep on open, even below the cap.
        let mut sessions = Sessions::new(Duration::from_secs(1), 100);
        for port in 1..=50 {
            sessions
                .open(addr(port), &offer("a"), t0, os_random)
                .unwrap();
        }
        sessions
            .open(addr(99), &offer("a"), t0 + SWEEP_INTERVAL, os_random)
            .unwrap();
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn a_download_finishes_once_when_every_package_was_served_in_order() {
        let t0 = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(10), 10);
        let (id, _) = sessions.open(addr(1), &offer("a"), t0, os_random).unwrap();
        // (package served, finished?): the last package alone, or a gap, finishes nothing; a
        // repeated package (a lost answer) is served again and moves nothing.
        let table = [
            (3, false),
            (1, false),
            (1, false),
            (3, false),
            (2, false),
            (3, true),
            (3, false),
            (1, false),
        ];
        for (n, finished) in table {
            assert_eq!(sessions.served(id, n, 3), finished, "package {n}");
        }
        assert!(!sessions.served(id.wrapping_add(1), 1, 1));
    }
}
