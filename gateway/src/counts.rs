//! What the bridge has seen and done since it started: one atomic counter per event, read as a
//! [`Counts`] snapshot (logged once a minute when it changed).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// What the bridge has seen and done since it started.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct Counts { $($(#[doc = $doc])* pub $name: u64,)* }

        #[derive(Debug, Default)]
        pub(crate) struct Counters { $(pub(crate) $name: AtomicU64,)* }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Counts {
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
    /// Images the edge offered on fresh checks (`LUAUPDATE` answers).
    upgrades_offered,
    /// Start lines refused (`version error`, `imei range error`, `no upgrade`).
    refusals,
    /// Checks or image downloads that failed (answered `no upgrade`).
    edge_errors,
    /// Sessions opened: `upgrade_id`s handed out (a repeated start line from the same source
    /// keeps its session).
    sessions_opened,
    /// Start lines answered `no upgrade` because no session could be opened (the most sessions
    /// are live, or no random id could be drawn).
    sessions_refused,
    /// Images downloaded from the edge (the first time, or again after the cache evicted them).
    images_fetched,
    /// `Get` datagrams answered with a package.
    packages_sent,
    /// `Get` datagrams answered `error all`: an unknown or expired `upgrade_id`, one given to
    /// another source, a package out of range, or an image that could not be loaded again.
    get_errors,
    /// Of `get_errors`, `Get`s for a live session from a source other than the one it was given to.
    foreign_gets,
    /// Sessions served every package in order, once per session (a download completed).
    downloads_finished,
    /// Finished downloads told to the edge (the device's own image URL fetched whole, which
    /// counts its delivery); a session whose URL filled the cache was counted by that fetch.
    deliveries_told,
    /// Datagrams matching neither pattern (`unknown function`).
    unknown,
    /// Datagrams over 512 bytes (`unknown function`).
    oversize,
    /// Non-ASCII datagrams (`error all`, as the sample's failed decode).
    not_ascii,
    /// Datagrams dropped unanswered: their source was over a rate limit.
    rate_limited,
}
