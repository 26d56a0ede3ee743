//! What operators read about events, webhooks and cancels, in the CLI and the dashboard alike.

use fota_shared::api::events::{Event, Webhook, WebhookDelivery, WebhookState};
use fota_shared::api::ota::CancelResult;

/// `cancelled 8612… in FW_A, FW_B` or `8612… was not cancelled in any plan`.
pub fn cancelled(result: &CancelResult) -> String {
    let verb = if result.cancelled {
        "cancelled"
    } else {
        "uncancelled"
    };
    if result.firmware_names.is_empty() {
        return format!(
            "{} was already {verb} (or no plan reaches it): nothing changed\n",
            result.device_id
        );
    }
    format!(
        "{verb} {} in {}\n",
        result.device_id,
        result.firmware_names.join(", ")
    )
}

/// One event on one line: `#12 2026-12-03T08:00:00Z rollout.paused FW_A by gate: reason`.
pub fn event_line(event: &Event) -> String {
    let data = &event.data;
    let text = |key: &str| data.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let mut parts = vec![
        format!("#{}", event.id),
        event.at.clone(),
        event.event_type.as_str().to_string(),
    ];
    parts.extend(text("firmware_name"));
    parts.extend(text("device_id"));
    parts.extend(text("version"));
    parts.extend(text("webhook"));
    if let Some(by) = text("by") {
        let who = text("actor").map_or(by.clone(), |actor| format!("{by} {actor}"));
        parts.push(format!("by {who}"));
    } else if let Some(actor) = text("actor") {
        parts.push(format!("by {actor}"));
    }
    let mut line = parts.join(" ");
    if let Some(reason) = text("reason") {
        line.push_str(&format!(": {reason}"));
    }
    line
}

/// A webhook's state in a word.
pub fn webhook_state(state: WebhookState) -> &'static str {
    match state {
        WebhookState::Active => "active",
        WebhookState::Failing => "failing",
        WebhookState::Disabled => "disabled",
    }
}

/// A webhook's row: name, state, pending, events, url.
pub fn webhook_row(hook: &Webhook) -> Vec<String> {
    vec![
        hook.name.clone(),
        webhook_state(hook.state).to_string(),
        hook.pending.to_string(),
        hook.events.join(","),
        hook.url.clone(),
    ]
}

/// A delivery's row: id, at, event, attempt, outcome, latency.
pub fn delivery_row(d: &WebhookDelivery) -> Vec<String> {
    let outcome = match (d.ok, d.status, &d.error) {
        (true, Some(status), _) => format!("ok {status}"),
        (_, _, Some(error)) => error.clone(),
        (_, Some(status), None) => format!("failed {status}"),
        _ => "failed".to_string(),
    };
    vec![
        d.id.to_string(),
        d.at.clone(),
        format!("#{} {}", d.event_id, d.event_type.as_str()),
        format!(
            "{}{}",
            d.attempt,
            if d.redelivery { " (again)" } else { "" }
        ),
        outcome,
        format!("{} ms", d.latency),
    ]
}
