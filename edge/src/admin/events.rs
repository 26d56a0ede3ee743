//! Events and webhooks: the feed (a long poll on the project's event log) and the webhooks it
//! delivers to. A webhook's secret is made here and shown once (on creation and rotation).

use super::{ok, project, query, read_json, Call};
use crate::error::{AppError, AppResult};
use crate::events::{self, Answer, LogCall};
use fota_shared::api::events::WebhookSpec;
use fota_shared::api::query::EventQuery;
use fota_shared::leaf::ids::valid_name;
use fota_shared::rules::webhook::{check_patterns, check_url};
use worker::Response;

pub async fn feed(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    let q = query(call, EventQuery::from_pairs)?;
    let read = LogCall::Read {
        project: key,
        after: q.after,
        wait_s: q.wait.unwrap_or(0),
        limit: q
            .limit
            .unwrap_or(fota_shared::api::events::DEFAULT_EVENT_LIMIT),
    };
    answer(events::call(call.env, &read).await?, "events")
}

pub async fn list(call: &mut Call<'_>) -> AppResult<Response> {
    let key = call.param(0).to_string();
    project(call.env, &key).await?;
    answer(
        events::call(call.env, &LogCall::Webhooks { project: key }).await?,
        "webhooks",
    )
}

pub async fn put(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, name) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    if !valid_name(&name) {
        return Err(AppError::bad(
            "invalid_name",
            "a webhook name is 1-128 printable characters without / \\ \"",
        ));
    }
    let spec: WebhookSpec = read_json(&mut call.req).await?;
    check_url(&spec.url, allow_private(call.env))
        .map_err(|e| AppError::bad("invalid_webhook_url", e.to_string()))?;
    check_patterns(&spec.events).map_err(|e| AppError::bad("invalid_events", e))?;
    let put = LogCall::PutWebhook {
        project: key.clone(),
        name: name.clone(),
        spec: spec.clone(),
        secret: new_secret()?,
    };
    let saved = events::call(call.env, &put).await?;
    if let Answer::Saved(s) = &saved {
        let status = if s.secret.is_some() { 201 } else { 200 };
        call.changed(
            Some(&key),
            format!("webhook {name}"),
            None::<&()>,
            Some(&spec),
        );
        return ok(status, s);
    }
    answer(saved, "webhook")
}

pub async fn delete(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, name) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let del = LogCall::DeleteWebhook {
        project: key.clone(),
        name: name.clone(),
    };
    match events::call(call.env, &del).await? {
        Answer::Done => {
            call.changed(
                Some(&key),
                format!("webhook {name}"),
                None::<&()>,
                None::<&()>,
            );
            super::no_content()
        }
        other => answer(other, &format!("webhook {name}")),
    }
}

pub async fn rotate(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, name) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let rotate = LogCall::Rotate {
        project: key.clone(),
        name: name.clone(),
        secret: new_secret()?,
    };
    let answered = events::call(call.env, &rotate).await?;
    if matches!(answered, Answer::Saved(_)) {
        call.changed(
            Some(&key),
            format!("webhook {name}"),
            None::<&()>,
            Some(&"secret rotated"),
        );
    }
    answer(answered, &format!("webhook {name}"))
}

pub async fn deliveries(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, name) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let read = LogCall::Deliveries {
        project: key,
        name: name.clone(),
    };
    answer(
        events::call(call.env, &read).await?,
        &format!("webhook {name}"),
    )
}

pub async fn redeliver(call: &mut Call<'_>) -> AppResult<Response> {
    let (key, name) = (call.param(0).to_string(), call.param(1).to_string());
    project(call.env, &key).await?;
    let delivery_id: u64 = call
        .param(2)
        .parse()
        .map_err(|_| AppError::bad("invalid_delivery", "a delivery id is a whole number"))?;
    let again = LogCall::Redeliver {
        project: key.clone(),
        name: name.clone(),
        delivery_id,
    };
    let answered = events::call(call.env, &again).await?;
    if let Answer::Redelivery(r) = &answered {
        call.changed(
            Some(&key),
            format!("webhook {name}"),
            None::<&()>,
            Some(&serde_json::json!({ "redelivered_event": r.event_id })),
        );
        return ok(202, r);
    }
    answer(
        answered,
        &format!("delivery {delivery_id} of webhook {name}"),
    )
}

/// The log's answer as the route's response.
fn answer(answer: Answer, what: &str) -> AppResult<Response> {
    match answer {
        Answer::Events(page) => ok(200, &page),
        Answer::Webhooks(list) => ok(200, &list),
        Answer::Saved(saved) => ok(200, &saved),
        Answer::Deliveries(list) => ok(200, &list),
        Answer::Redelivery(r) => ok(202, &r),
        Answer::Appended(_) | Answer::Done => super::no_content(),
        Answer::NotFound => Err(AppError::NotFound(what.to_string())),
        Answer::TooMany => Err(AppError::conflict(
            "too_many_webhooks",
            format!(
                "a project has at most {} webhooks",
                fota_shared::rules::webhook::MAX_WEBHOOKS
            ),
        )),
        Answer::Failed(cause) => Err(AppError::Unavailable(cause)),
    }
}

fn allow_private(env: &worker::Env) -> bool {
    crate::vars::is_true(env, "ALLOW_PRIVATE_WEBHOOKS")
}

/// A new webhook secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> AppResult<String> {
    Ok(format!(
        "whsec_{}",
        hex::encode(super::access::random_bytes(32)?)
    ))
}
