//! A device's card: what the edge knows of a device between its checks (its owner binding and
//! what D1 holds of its firmware, version and `last_seen`), kept in the Cache API of the
//! location that answers it.
//!
//! Production spreads a fleet over thousands of isolates, so isolate memory almost never holds
//! the device a check comes from; a device keeps talking to the same location, whose cache does.
//! A card turns the owner's KV read and the registry's D1 read into one Cache API lookup, which
//! Cloudflare does not bill. A card is only a copy: KV holds the binding and D1 the registry,
//! and a missing or unreadable card means reading them again. Every write of the binding in
//! this location replaces or deletes the card; other locations read KV again for a card older
//! than its project's latest binding change (`crate::owner`), and drop unused cards after
//! [`CARD_TTL_S`].

use crate::cache::OwnerCopy;
use fota_shared::rules::registry::Known;
use serde::{Deserialize, Serialize};
use worker::{Cache, Response};

/// How long a location keeps a card without its device checking in.
pub const CARD_TTL_S: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    /// The binding as KV keeps it (`crate::store::devices`' owner text).
    pub owner: String,
    /// When the binding was read from D1 or KV (ms): a card older than its project's latest
    /// binding change is read again (`crate::owner`).
    #[serde(default)]
    pub owner_at: i64,
    /// What D1 holds of the device's check-time columns, when known.
    pub known: Option<Known>,
}

/// The cache key of a device's card: a synthetic URL no request can reach (the id in hex, so
/// any id makes a valid URL).
fn key(device: &str) -> String {
    format!("https://cards.fota-edge.invalid/v1/{}", hex::encode(device))
}

/// The device's card in this location, if any.
pub async fn get(device: &str) -> Option<Card> {
    let found = Cache::default()
        .get(key(device), false)
        .await
        .ok()
        .flatten();
    crate::metrics::cache(found.is_some());
    let mut resp = found?;
    let text = resp.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

/// Keeps the device's card in this location (a failure only costs a later read of KV or D1).
pub async fn put(device: &str, card: &Card) {
    let Ok(text) = serde_json::to_string(card) else {
        return;
    };
    let Ok(mut resp) = Response::ok(text) else {
        return;
    };
    let _ = resp
        .headers_mut()
        .set("Cache-Control", &format!("max-age={CARD_TTL_S}"));
    crate::metrics::cache_put();
    if let Err(e) = Cache::default().put(key(device), resp).await {
        crate::logs::once("device card not kept", &e.to_string());
    }
}

/// Keeps the device's card in this location after the request's answer (`wait_until`).
pub fn keep(ctx: &worker::Context, device: &str, owner: &OwnerCopy, known: Option<Known>) {
    let card = Card {
        owner: owner.text.clone(),
        owner_at: owner.at,
        known,
    };
    let device = device.to_string();
    ctx.wait_until(async move { put(&device, &card).await });
}

/// The card of what this isolate's memory holds of the device (its binding and what D1 holds);
/// `None` when it holds no binding.
pub fn compose(device: &str) -> Option<Card> {
    let owner = crate::cache::owner_copy(device)?;
    Some(Card {
        owner: owner.text,
        owner_at: owner.at,
        known: crate::registry::known(device),
    })
}

/// Rewrites the device's card from this isolate's memory (after something in it changed).
pub async fn refresh(device: &str) {
    if let Some(card) = compose(device) {
        put(device, &card).await;
    }
}

/// Takes a card into this isolate's memory.
pub fn recall(device: &str, card: Card, now: i64) {
    crate::cache::put_owner(device, &card.owner, card.owner_at, now);
    if let Some(known) = card.known {
        crate::registry::remember(device, known);
    }
}

/// Drops the device's card in this location (its binding was forgotten).
pub async fn delete(device: &str) {
    let _ = Cache::default().delete(key(device), false).await;
}
