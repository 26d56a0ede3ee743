//! The admin API v1. Every request is authenticated (see `auth`; failures are rate limited by
//! `auth_limit`), matched against the route table in `fota_shared::api::routes` (which also says the
//! role it needs), dispatched, and, when it is a successful write, appended to the audit log.
//! Every error leaves through `AppError`.
//!
//! No write is acknowledged without its audit entry. A handler whose write is D1 statements
//! batches the entry with them (`Call::audit_stmt`): both commit or neither does. Any other
//! write (KV, R2, a Durable Object) is audited after it is made, and when that entry cannot be
//! written the answer is `503 audit_unavailable`, never a 2xx (the change is logged instead).

mod access;
mod cancel;
mod catalog;
mod events;
mod fleet;
mod ota;
mod plans;
mod prometheus;

use crate::auth::Actor;
use crate::auth_limit::authenticate_limited;
pub use crate::body::read_capped;
use crate::error::{AppError, AppResult};
use crate::store::{self, access::NewAuditEntry};
use fota_shared::api::query::QueryError;
use fota_shared::api::routes::{match_route, Route, RouteId, RouteMatch};
use fota_shared::model::event::EventType;
use fota_shared::model::rollout::RolloutAction;
use fota_shared::rules::luat::percent_decode;
pub(crate) use plans::refresh_packages;
use serde::de::DeserializeOwned;
use serde_json::Value;
use worker::{Env, Request, Response};

/// Largest JSON body (a plan listing 100 000 device ids fits).
pub const MAX_JSON_BYTES: u64 = 8 * 1024 * 1024;

/// One admin request on its way through a handler.
pub struct Call<'a> {
    pub req: Request,
    pub env: &'a Env,
    pub actor: Actor,
    /// The route's parameters, decoded, in pattern order.
    pub params: Vec<String>,
    /// What a write changed, set by its handler for the audit log.
    pub change: Option<Change>,
    route: &'static Route,
    /// The handler batched the audit entry with its write (`audit_stmt`).
    audited: bool,
    /// Events this write is to produce (project, type, data): appended once it is acknowledged.
    told: Vec<(String, EventType, Value)>,
}

/// One audit entry's substance: what was changed, and how it looked before and after.
#[derive(Debug, Default)]
pub struct Change {
    pub project_key: Option<String>,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Call<'_> {
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or_default()
    }

    /// Records the change this write made (kept when the write succeeds).
    pub fn changed<B: serde::Serialize, A: serde::Serialize>(
        &mut self,
        project: Option<&str>,
        target: impl Into<String>,
        before: Option<&B>,
        after: Option<&A>,
    ) {
        self.change = Some(Change {
            project_key: project.map(str::to_string),
            target: target.into(),
            before: before.and_then(|b| serde_json::to_value(b).ok()),
            after: after.and_then(|a| serde_json::to_value(a).ok()),
        });
    }

    /// An event for the project's log, appended when the write is acknowledged (audited, 2xx).
    pub fn tell(&mut self, project: &str, event: EventType, data: Value) {
        self.told.push((project.to_string(), event, data));
    }

    /// This write's audit entry as a D1 statement, for a handler to batch with the statements of
    /// its write (one transaction: the write and its entry commit together). The route appends
    /// no other entry for it.
    pub fn audit_stmt<B: serde::Serialize, A: serde::Serialize>(
        &mut self,
        project: Option<&str>,
        target: impl Into<String>,
        before: Option<&B>,
        after: Option<&A>,
    ) -> AppResult<worker::D1PreparedStatement> {
        self.changed(project, target, before, after);
        let change = self.change.take().unwrap_or_default();
        let stmt =
            store::access::audit_stmt(self.env, audit_entry(&self.actor, self.route, &change))?;
        self.audited = true;
        Ok(stmt)
    }
}

/// Routes `/admin/v1/<rest>`; `rest` holds the raw (still encoded) path segments.
pub async fn route(req: Request, env: &Env, rest: &[&str]) -> AppResult<Response> {
    let actor = authenticate_limited(&req, env).await?;
    let segs: Vec<String> = rest.iter().map(|s| percent_decode(s)).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method();
    let method: &str = method.as_ref();
    let (route, params) = match match_route(method, &segs) {
        RouteMatch::Found(route, params) => (route, params),
        RouteMatch::WrongMethod => return Err(AppError::MethodNotAllowed),
        RouteMatch::NotFound => return Err(AppError::NotFound("route".into())),
    };
    if actor.role < route.role {
        return Err(AppError::Forbidden(route.role.as_str()));
    }
    let path = segs.join("/");
    let mut call = Call {
        req,
        env,
        actor,
        params,
        change: None,
        route,
        audited: false,
        told: Vec::new(),
    };
    let resp = dispatch(route, &mut call).await?;
    if route.method != "GET" && (200..300).contains(&resp.status_code()) && !call.audited {
        let change = call.change.take().unwrap_or_else(|| Change {
            target: path,
            ..Change::default()
        });
        let entry = audit_entry(&call.actor, route, &change);
        if let Err(e) = store::access::append_audit(env, entry).await {
            // Not acknowledged: the change is in the Worker's log instead, and the operator
            // sees that the write's audit entry is missing.
            // Every such line, not once per interval: admin writes are few, and each is the
            // only record of its change.
            e.log();
            worker::console_error!(
                "audit entry not written: {} {} by {} on {}: before {:?}, after {:?}",
                route.method,
                route.pattern,
                call.actor.name,
                change.target,
                change.before.map(|v| v.to_string()),
                change.after.map(|v| v.to_string())
            );
            return Err(AppError::Status {
                status: 503,
                code: "audit_unavailable",
                message: "the change was made but its audit entry could not be written; \
                          it is not acknowledged (see the Worker log), retry"
                    .into(),
            });
        }
    }
    // One append per project (a batch confirm tells one event per device).
    let mut told = std::mem::take(&mut call.told);
    while let Some((project, _, _)) = told.first() {
        let project = project.clone();
        let (same, rest): (Vec<_>, Vec<_>) = told.into_iter().partition(|(p, _, _)| *p == project);
        told = rest;
        let events = same
            .into_iter()
            .map(|(_, event, data)| (event, data))
            .collect();
        crate::events::emit(env, &project, events).await;
    }
    Ok(resp)
}

async fn dispatch(route: &Route, call: &mut Call<'_>) -> AppResult<Response> {
    match route.id {
        RouteId::OpenApi => access::openapi(call).await,
        RouteId::ListProjects => catalog::list_projects(call).await,
        RouteId::PutProject => catalog::put_project(call).await,
        RouteId::GetProject => catalog::get_project(call).await,
        RouteId::ListFirmware => catalog::list_firmware(call).await,
        RouteId::UploadFirmware => catalog::upload(call).await,
        RouteId::GetFirmware => catalog::get_firmware(call).await,
        RouteId::DeleteFirmware => catalog::delete_firmware(call).await,
        RouteId::ListPlans => plans::list(call).await,
        RouteId::PutPlan => plans::put(call).await,
        RouteId::GetPlan => plans::get(call).await,
        RouteId::DeletePlan => plans::delete(call).await,
        RouteId::RolloutStatus => plans::status(call).await,
        RouteId::PreviewPlan => plans::preview(call).await,
        RouteId::PauseRollout => plans::control(call, RolloutAction::Pause).await,
        RouteId::ResumeRollout => plans::control(call, RolloutAction::Resume).await,
        RouteId::CancelRollout => plans::control(call, RolloutAction::Cancel).await,
        RouteId::AdvanceRollout => plans::control(call, RolloutAction::Advance).await,
        RouteId::ListDevices => fleet::list(call).await,
        RouteId::GetDevice => fleet::get(call).await,
        RouteId::DeviceHistory => fleet::history(call).await,
        RouteId::UnbanDevice => fleet::unban(call).await,
        RouteId::ForgetDevice => fleet::forget(call).await,
        RouteId::MoveDevice => fleet::move_device(call).await,
        RouteId::ProvisionDevices => ota::provision(call).await,
        RouteId::DeprovisionDevice => ota::deprovision(call).await,
        RouteId::ConfirmDevice => ota::confirm_device(call).await,
        RouteId::CheckNowDevice => ota::check_now_device(call).await,
        RouteId::ConfirmDevices => ota::confirm_many(call).await,
        RouteId::ListJobs => ota::jobs(call).await,
        RouteId::Activity => fleet::activity(call).await,
        RouteId::Summary => fleet::summary(call).await,
        RouteId::ProjectMetrics => prometheus::metrics(call).await,
        RouteId::CheckNowPlan => ota::check_now_plan(call).await,
        RouteId::ListSigningKeys => ota::signing_keys(call).await,
        RouteId::RotateSigningKey => ota::rotate_key(call).await,
        RouteId::ListTokens => access::list_tokens(call).await,
        RouteId::CreateToken => access::create_token(call).await,
        RouteId::RevokeToken => access::revoke_token(call).await,
        RouteId::Audit => access::audit(call).await,
        RouteId::IsolateMetrics => ok(200, &crate::metrics::snapshot()),
        RouteId::Events => events::feed(call).await,
        RouteId::ListWebhooks => events::list(call).await,
        RouteId::PutWebhook => events::put(call).await,
        RouteId::DeleteWebhook => events::delete(call).await,
        RouteId::RotateWebhook => events::rotate(call).await,
        RouteId::WebhookDeliveries => events::deliveries(call).await,
        RouteId::Redeliver => events::redeliver(call).await,
        RouteId::CancelDevice => cancel::cancel(call, true).await,
        RouteId::UncancelDevice => cancel::cancel(call, false).await,
    }
}

fn audit_entry<'a>(actor: &'a Actor, route: &Route, change: &'a Change) -> NewAuditEntry<'a> {
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    NewAuditEntry {
        actor: &actor.name,
        action: format!("{} {}", route.method, route.pattern),
        project_key: change.project_key.as_deref(),
        target: &change.target,
        before: text(&change.before),
        after: text(&change.after),
    }
}

/// The project a route names, or 404.
pub async fn project(env: &Env, key: &str) -> AppResult<fota_shared::api::catalog::Project> {
    store::project(env, key)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("project {key}")))
}

pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> AppResult<T> {
    let body = read_capped(req, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| AppError::bad("invalid_json", e.to_string()))
}

/// The query string read into one of `fota_shared::api::query`'s structs: `parse` gets the
/// decoded parameters in order and names what it refuses.
pub fn query<T>(
    call: &Call<'_>,
    parse: impl FnOnce(Vec<(String, String)>) -> Result<T, QueryError>,
) -> AppResult<T> {
    let pairs = call
        .req
        .url()?
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(parse(pairs)?)
}

/// Writes a JSON answer.
pub fn ok<T: serde::Serialize>(status: u16, value: &T) -> AppResult<Response> {
    Ok(crate::error::json_response(status, value))
}

/// `204 No Content`.
pub fn no_content() -> AppResult<Response> {
    Ok(Response::empty()?.with_status(204))
}
