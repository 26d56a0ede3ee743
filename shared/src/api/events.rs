//! Admin API types of events and webhooks: the feed (`GET .../events?after=&wait=`), webhooks
//! with their deliveries, and what a receiver gets.

use crate::model::event::EventType;
use serde::{Deserialize, Serialize};

/// One event as read back and as delivered: `POST`ed to a webhook as this JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Increasing within the project; the feed's cursor.
    pub id: u64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub project_key: String,
    pub at: String,
    pub data: serde_json::Value,
}

/// `GET /admin/v1/projects/{key}/events?after=&wait=&limit=`: the events after `after`, oldest
/// first; `cursor` is what to pass as `after` next (the last event's id, or `after` unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub cursor: String,
    /// The newest event's id in the log (0 when empty): where to follow from.
    #[serde(default)]
    pub latest: u64,
}

/// `PUT /admin/v1/projects/{key}/webhooks/{name}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    /// Event types (`device.banned`), families (`rollout.*`) or `*`.
    pub events: Vec<String>,
}

/// A webhook's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Delivering.
    Active,
    /// Its receiver is failing: the head delivery is being retried.
    Failing,
    /// Failed for 24 hours: nothing is delivered until it is saved again (`PUT`).
    Disabled,
}

/// A webhook as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub state: WebhookState,
    pub created_at: String,
    /// Events not yet delivered to it (those it wants, after its cursor).
    pub pending: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// `PUT` (created) and `POST .../rotate` answer: the only time the secret is shown. A `PUT` of
/// an existing webhook keeps its secret and shows none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSaved {
    pub webhook: Webhook,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `GET /admin/v1/projects/{key}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// One attempt to deliver an event to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Unique within the project; `X-Fota-Delivery` is `<project>:<id>`.
    pub id: u64,
    pub event_id: u64,
    #[serde(rename = "event_type")]
    pub event_type: EventType,
    /// 1 for the first attempt of this event, counting up while it is retried.
    pub attempt: u32,
    pub at: String,
    /// The receiver's HTTP status, absent when it was not reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Milliseconds from sending to the receiver's answer.
    pub latency: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Sent because an operator asked for it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redelivery: bool,
}

/// `GET /admin/v1/projects/{key}/webhooks/{name}/deliveries`: the latest (at most 100), newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
}

/// `POST .../deliveries/{id}/redeliver` answer: the event queued for that webhook again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redelivery {
    pub webhook: String,
    pub event_id: u64,
}

/// The headers of a delivery.
pub const EVENT_HEADER: &str = "X-Fota-Event";
pub const DELIVERY_HEADER: &str = "X-Fota-Delivery";
pub const SIGNATURE_HEADER: &str = "X-Fota-Signature";

/// The longest long poll, in seconds.
pub const MAX_WAIT_S: u32 = 30;
/// Events per page when `limit` is absent, and at most.
pub const DEFAULT_EVENT_LIMIT: u32 = 100;
pub const MAX_EVENT_LIMIT: u32 = 500;
