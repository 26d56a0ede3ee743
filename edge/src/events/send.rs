//! Webhook deliveries, made from the event log's alarm: each webhook is given its events in
//! order (an operator's redeliveries first), one at a time; a failure holds that webhook's queue
//! and is retried with exponential backoff (`WEBHOOK_BACKOFF_MS` doubled per attempt, at most an
//! hour) until it has failed for 24 hours, when the webhook is disabled with an event of its own.

use super::store::{Hook, Log, Outcome, StoredEvent};
use crate::vars::positive;
use fota_shared::api::events::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use fota_shared::model::event::EventType;
use fota_shared::rules::webhook::{
    backoff_ms, gives_up, signature, wants, DEFAULT_BACKOFF_MS, RETRY_FOR_MS, TIMEOUT_MS,
};
use futures_util::future::{select, Either};
use std::time::Duration;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Result};

/// Deliveries one alarm makes per webhook before it leaves the rest to the next.
const PER_ALARM: usize = 25;
/// Events read per step while looking for the next one a webhook wants.
const SCAN: u32 = 200;

/// Makes every delivery that is due; answers when the alarm should run next (the earliest retry,
/// or at once when a webhook has more than one alarm's worth).
pub async fn deliver_due(log: &Log, env: &Env, project: &str, now: i64) -> Result<Option<i64>> {
    let timing = Timing {
        base: positive(env, "WEBHOOK_BACKOFF_MS").unwrap_or(DEFAULT_BACKOFF_MS),
        retry_for: positive(env, "WEBHOOK_RETRY_FOR_S").map_or(RETRY_FOR_MS, |s| s * 1000),
    };
    let mut next: Option<i64> = None;
    let mut soonest = |at: i64| next = Some(next.map_or(at, |n: i64| n.min(at)));
    for hook in log.hooks()? {
        if hook.state == "disabled" {
            continue;
        }
        if let Some(at) = hook.next_ms.filter(|_| hook.failing_since.is_some()) {
            if at > now {
                soonest(at);
                continue;
            }
        }
        if let Some(at) = deliver_hook(log, project, &hook, timing).await? {
            soonest(at);
        }
    }
    Ok(next)
}

/// The first retry's wait and how long a failing webhook is retried.
#[derive(Clone, Copy)]
struct Timing {
    base: i64,
    retry_for: i64,
}

/// What a webhook is to be sent next.
enum Next {
    Redelivery(i64, StoredEvent),
    Event(StoredEvent),
    Nothing,
}

fn next_for(log: &Log, hook: &Hook, patterns: &[String], cursor: &mut i64) -> Result<Next> {
    while let Some(queued) = log.next_redelivery(&hook.name)? {
        match log.event(queued.event_id)? {
            Some(event) => return Ok(Next::Redelivery(queued.seq, event)),
            // Its event aged out of the log: nothing to send.
            None => log.redelivered(&hook.name, queued.seq)?,
        }
    }
    loop {
        let page = log.after(*cursor, SCAN)?;
        let Some(last) = page.last().map(|e| e.id) else {
            return Ok(Next::Nothing);
        };
        for event in page {
            if event.kind().is_some_and(|t| wants(patterns, t)) {
                return Ok(Next::Event(event));
            }
            *cursor = event.id;
        }
        // Every event of the page was skipped: the webhook's cursor moves past them.
        log.advance(&hook.name, last)?;
    }
}

/// Delivers one webhook's due events; answers when it wants the alarm again.
async fn deliver_hook(log: &Log, project: &str, hook: &Hook, t: Timing) -> Result<Option<i64>> {
    let mut cursor = hook.cursor;
    let mut attempts = hook.attempts as u32;
    let mut failing_since = hook.failing_since;
    let patterns = hook.patterns();
    for _ in 0..PER_ALARM {
        let (redelivery, event) = match next_for(log, hook, &patterns, &mut cursor)? {
            Next::Redelivery(seq, event) => (Some(seq), event),
            Next::Event(event) => (None, event),
            Next::Nothing => return Ok(None),
        };
        let now = crate::store::now();
        let mut outcome = Outcome {
            webhook: &hook.name,
            event: &event,
            attempt: attempts + 1,
            at_ms: now,
            status: None,
            latency_ms: 0,
            ok: false,
            error: None,
            redelivery: redelivery.is_some(),
        };
        let delivery_id = log.start_delivery(&outcome)?;
        post(project, hook, &event, delivery_id, &mut outcome).await;
        log.finish_delivery(delivery_id, &outcome)?;
        if outcome.ok {
            match redelivery {
                Some(seq) => log.redelivered(&hook.name, seq)?,
                None => {
                    cursor = event.id;
                    log.advance(&hook.name, event.id)?;
                }
            }
            attempts = 0;
            failing_since = None;
            continue;
        }
        attempts += 1;
        let since = *failing_since.get_or_insert(now);
        if gives_up(since, now, t.retry_for) {
            log.disable(&hook.name)?;
            let data = serde_json::json!({
                "webhook": hook.name,
                "failing_since": fota_shared::leaf::time::rfc3339(since),
                "attempts": attempts,
                "last_error": outcome.error,
                "last_status": outcome.status,
            });
            log.append(EventType::WebhookDisabled, now, &data.to_string(), None)?;
            return Ok(None);
        }
        let at = now + backoff_ms(attempts, t.base);
        log.failed(&hook.name, attempts, since, at)?;
        return Ok(Some(at));
    }
    Ok(Some(crate::store::now()))
}

/// Sends one delivery, filling in its outcome (status, latency, error).
async fn post(project: &str, hook: &Hook, event: &StoredEvent, id: i64, out: &mut Outcome<'_>) {
    let Some(body) = event
        .api(project)
        .and_then(|e| serde_json::to_string(&e).ok())
    else {
        out.error = Some("the event cannot be read".into());
        return;
    };
    let started = crate::store::now();
    let sent = async {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        headers.set("User-Agent", "fota-edge-webhooks/1")?;
        headers.set(EVENT_HEADER, &event.event_type)?;
        headers.set(DELIVERY_HEADER, &id.to_string())?;
        let sig = signature(&hook.secret, started.div_euclid(1000), body.as_bytes());
        headers.set(SIGNATURE_HEADER, &sig)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.clone().into()));
        let req = Request::new_with_init(&hook.url, &init)?;
        let mut resp = Fetch::Request(req).send().await?;
        let status = resp.status_code();
        // The body is read (and dropped) so the connection is released.
        let _ = resp.bytes().await;
        Ok::<u16, worker::Error>(status)
    };
    let timeout = worker::Delay::from(Duration::from_millis(TIMEOUT_MS as u64));
    let result = match select(Box::pin(sent), timeout).await {
        Either::Left((result, _)) => result.map_err(|e| e.to_string()),
        Either::Right(_) => Err(format!("no answer within {} s", TIMEOUT_MS / 1000)),
    };
    out.latency_ms = crate::store::now() - started;
    match result {
        Ok(status) => {
            out.status = Some(status);
            out.ok = (200..300).contains(&status);
            if !out.ok {
                out.error = Some(format!("the receiver answered {status}"));
            }
        }
        Err(e) => out.error = Some(short(&e)),
    }
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}
