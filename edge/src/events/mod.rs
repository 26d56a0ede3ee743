//! Events: what the edge tells operators. Anything that happens worth telling (a rollout's move,
//! a ban, an operator's change) is appended to its project's [`log::EventLog`], which numbers
//! and keeps it, answers the feed and delivers it to webhooks. This module is the callers' side:
//! the calls the log takes, and `emit` for handlers.

pub mod log;
mod send;
pub mod store;

use crate::error::{AppError, AppResult};
use fota_shared::api::events::{
    DeliveryList, EventPage, Redelivery, WebhookList, WebhookSaved, WebhookSpec,
};
use fota_shared::model::event::{EventType, NewEvent};
use serde::{Deserialize, Serialize};
use worker::{Env, Response};

const BINDING: &str = "EVENT_LOG";

/// A call to a project's event log. Externally tagged (serde's default): an internally or
/// adjacently tagged enum buffers its input and costs the wasm some 50 KB.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogCall {
    Append {
        project: String,
        events: Vec<NewEvent>,
    },
    Read {
        project: String,
        after: Option<u64>,
        wait_s: u32,
        limit: u32,
    },
    Webhooks {
        project: String,
    },
    PutWebhook {
        project: String,
        name: String,
        spec: WebhookSpec,
        /// The secret a new webhook gets (an existing one keeps its own).
        secret: String,
    },
    DeleteWebhook {
        project: String,
        name: String,
    },
    Rotate {
        project: String,
        name: String,
        secret: String,
    },
    Deliveries {
        project: String,
        name: String,
    },
    Redeliver {
        project: String,
        name: String,
        delivery_id: u64,
    },
}

impl LogCall {
    pub fn project(&self) -> &str {
        match self {
            LogCall::Append { project, .. }
            | LogCall::Read { project, .. }
            | LogCall::Webhooks { project }
            | LogCall::PutWebhook { project, .. }
            | LogCall::DeleteWebhook { project, .. }
            | LogCall::Rotate { project, .. }
            | LogCall::Deliveries { project, .. }
            | LogCall::Redeliver { project, .. } => project,
        }
    }
}

/// The log's answer (externally tagged, as [`LogCall`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Appended(Vec<i64>),
    Events(EventPage),
    Webhooks(WebhookList),
    Saved(WebhookSaved),
    Deliveries(DeliveryList),
    Redelivery(Redelivery),
    Done,
    NotFound,
    TooMany,
    Failed(String),
}

impl Answer {
    fn response(&self) -> worker::Result<Response> {
        Response::from_json(self)
    }
}

/// Sends a call to `project`'s log.
pub async fn call(env: &Env, call: &LogCall) -> AppResult<Answer> {
    let project = call.project().to_string();
    crate::metrics::durable_object(BINDING, &project);
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&project)?
        .get_stub()?;
    let body = serde_json::to_string(call).map_err(worker::Error::from)?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(body.into()));
    let req = worker::Request::new_with_init("https://event-log/", &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    match resp.json::<Answer>().await? {
        Answer::Failed(cause) => Err(AppError::Unavailable(format!("event log: {cause}"))),
        answer => Ok(answer),
    }
}

/// Appends events to `project`'s log. An event that cannot be appended is logged (once per
/// interval): telling is best effort for the change that caused it, which is made and audited.
pub async fn emit(env: &Env, project: &str, events: Vec<(EventType, serde_json::Value)>) {
    if events.is_empty() {
        return;
    }
    let now = crate::store::now();
    let events = events
        .into_iter()
        .map(|(event_type, data)| NewEvent {
            event_type,
            at_ms: now,
            data,
            source: None,
        })
        .collect();
    append(env, project, events).await;
}

/// Appends events that carry their own source keys; answers whether the log took them (so an
/// outbox may send them again).
pub async fn append(env: &Env, project: &str, events: Vec<NewEvent>) -> bool {
    let append = LogCall::Append {
        project: project.to_string(),
        events,
    };
    match call(env, &append).await {
        Ok(Answer::Appended(_)) => true,
        Ok(other) => {
            crate::logs::once("event log answered", &format!("{other:?}"));
            false
        }
        Err(e) => {
            crate::logs::once("event not appended", &format!("{e:?}"));
            false
        }
    }
}
