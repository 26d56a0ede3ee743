//! The event log: one Durable Object per project (SQLite-backed) that numbers the project's
//! events, keeps them (`EVENTS_KEEP_DAYS`, at most `EVENTS_KEEP` of them), answers the feed's
//! long polls from memory (a waiting poll reads no row until an event arrives) and delivers them
//! to the project's webhooks from its alarm, so no request waits on a receiver.

use super::send;
use super::store::Log;
use super::{Answer, LogCall};
use fota_shared::api::events::{DeliveryList, EventPage, Redelivery, WebhookList, WebhookSaved};
use fota_shared::rules::webhook::MAX_WEBHOOKS;
use std::cell::{Cell, RefCell};
use std::time::Duration;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// Events kept at most, and for at most this many days (an undelivered one is kept longer).
const EVENTS_KEEP: i64 = 10_000;
const EVENTS_KEEP_DAYS: i64 = 30;
/// Every this many appends the log is trimmed.
const TRIM_EVERY: i64 = 100;
/// How often a waiting poll looks at the newest id in memory.
const POLL_STEP_MS: u64 = 100;

#[durable_object]
pub struct EventLog {
    state: State,
    env: Env,
    /// The newest event's id, read once per object lifetime: long polls wait on it.
    last_id: Cell<Option<i64>>,
    project: RefCell<String>,
    /// An alarm is set (deliveries to make).
    armed: Cell<bool>,
}

impl DurableObject for EventLog {
    fn new(state: State, env: Env) -> Self {
        Log(state.storage().sql()).init();
        Self {
            state,
            env,
            last_id: Cell::new(None),
            project: RefCell::new(String::new()),
            armed: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: LogCall = req.json().await?;
        match self.serve(call).await {
            Ok(answer) => answer.response(),
            Err(e) => {
                crate::logs::once("event log failed", &e.to_string());
                Answer::Failed(e.to_string()).response()
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.armed.set(false);
        let project = self.stored_project().await;
        let next = send::deliver_due(&self.log(), &self.env, &project, self.now()).await;
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                crate::logs::once("webhook delivery failed", &e.to_string());
                Some(self.now() + 60_000)
            }
        };
        if let Some(at) = next {
            self.arm(at).await?;
        }
        // Events a delivery appended (`webhook.disabled`) wake waiting polls too.
        self.last_id.set(Some(self.log().last_id()?));
        Response::ok("delivered")
    }
}

impl EventLog {
    fn log(&self) -> Log {
        Log(self.state.storage().sql())
    }

    fn now(&self) -> i64 {
        crate::store::now()
    }

    fn last(&self) -> Result<i64> {
        match self.last_id.get() {
            Some(id) => Ok(id),
            None => {
                let id = self.log().last_id()?;
                self.last_id.set(Some(id));
                Ok(id)
            }
        }
    }

    /// The project this object serves, remembered for its alarm.
    async fn remember(&self, project: &str) -> Result<()> {
        if *self.project.borrow() != project {
            *self.project.borrow_mut() = project.to_string();
            self.state.storage().put("project", project).await?;
        }
        Ok(())
    }

    async fn stored_project(&self) -> String {
        let known = self.project.borrow().clone();
        if !known.is_empty() {
            return known;
        }
        let stored: Option<String> = self.state.storage().get("project").await.ok().flatten();
        stored.unwrap_or_default()
    }

    async fn arm(&self, at_ms: i64) -> Result<()> {
        let storage = self.state.storage();
        let due = storage.get_alarm().await?;
        if due.is_none_or(|d| d > at_ms) {
            let wait = (at_ms - self.now()).max(0) as u64;
            storage.set_alarm(Duration::from_millis(wait)).await?;
        }
        self.armed.set(true);
        Ok(())
    }

    async fn serve(&self, call: LogCall) -> Result<Answer> {
        let log = self.log();
        let now = self.now();
        self.remember(call.project()).await?;
        Ok(match call {
            LogCall::Append { events, .. } => {
                let mut ids = Vec::new();
                for e in &events {
                    let data = serde_json::to_string(&e.data)?;
                    if let Some(id) =
                        log.append(e.event_type, e.at_ms, &data, e.source.as_deref())?
                    {
                        ids.push(id);
                        if id % TRIM_EVERY == 0 {
                            log.trim(now - EVENTS_KEEP_DAYS * 86_400_000, EVENTS_KEEP)?;
                        }
                    }
                }
                if let Some(&last) = ids.last() {
                    self.last_id.set(Some(last));
                    if log.count_hooks()? > 0 {
                        self.arm(now).await?;
                    }
                }
                Answer::Appended(ids)
            }
            LogCall::Read {
                project,
                after,
                wait_s,
                limit,
            } => {
                let after = after.unwrap_or(0) as i64;
                let deadline = now + i64::from(wait_s) * 1000;
                while self.last()? <= after && self.now() < deadline {
                    worker::Delay::from(Duration::from_millis(POLL_STEP_MS)).await;
                }
                let rows = log.after(after, limit)?;
                let cursor = rows.last().map_or(after, |e| e.id);
                let events = rows.iter().filter_map(|e| e.api(&project)).collect();
                Answer::Events(EventPage {
                    events,
                    cursor: cursor.to_string(),
                    latest: self.last()?.max(0) as u64,
                })
            }
            LogCall::Webhooks { .. } => {
                let mut webhooks = Vec::new();
                for hook in log.hooks()? {
                    webhooks.push(hook.api(log.pending(&hook)?));
                }
                Answer::Webhooks(WebhookList { webhooks })
            }
            LogCall::PutWebhook {
                name, spec, secret, ..
            } => {
                let existing = log.hook(&name)?;
                if existing.is_none() && log.count_hooks()? >= MAX_WEBHOOKS {
                    return Ok(Answer::TooMany);
                }
                log.put_hook(&name, &spec, &secret, now)?;
                let hook = log.hook(&name)?.ok_or_else(|| missing(&name))?;
                let webhook = hook.api(log.pending(&hook)?);
                Answer::Saved(WebhookSaved {
                    webhook,
                    secret: existing.is_none().then_some(secret),
                })
            }
            LogCall::DeleteWebhook { name, .. } => match log.hook(&name)? {
                Some(_) => {
                    log.delete_hook(&name)?;
                    Answer::Done
                }
                None => Answer::NotFound,
            },
            LogCall::Rotate { name, secret, .. } => match log.hook(&name)? {
                Some(hook) => {
                    log.set_secret(&name, &secret)?;
                    Answer::Saved(WebhookSaved {
                        webhook: hook.api(log.pending(&hook)?),
                        secret: Some(secret),
                    })
                }
                None => Answer::NotFound,
            },
            LogCall::Deliveries { name, .. } => match log.hook(&name)? {
                Some(_) => Answer::Deliveries(DeliveryList {
                    deliveries: log.deliveries(&name)?,
                }),
                None => Answer::NotFound,
            },
            LogCall::Redeliver {
                name, delivery_id, ..
            } => match log.delivery_event(&name, delivery_id as i64)? {
                Some(event_id) if log.event(event_id)?.is_some() => {
                    log.queue_redelivery(&name, event_id)?;
                    self.arm(now).await?;
                    Answer::Redelivery(Redelivery {
                        webhook: name,
                        event_id: event_id as u64,
                    })
                }
                _ => Answer::NotFound,
            },
        })
    }
}

fn missing(name: &str) -> worker::Error {
    worker::Error::RustError(format!("webhook {name} vanished"))
}
