//! The admin API's route table: every route with the role it requires. The edge dispatches on
//! it, and `openapi.json` is tested against it, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// What a token may do. Ordered: an operator may do what a viewer may, an admin everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads, rollout controls, unban, confirm, check-now.
    Operator,
    /// Everything, including projects, firmware, plans and tokens.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Which admin route a request matched: what the edge dispatches on (exhaustively, so a route
/// added here without a handler does not compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    OpenApi,
    ListProjects,
    PutProject,
    GetProject,
    ListFirmware,
    UploadFirmware,
    GetFirmware,
    DeleteFirmware,
    ListPlans,
    PutPlan,
    GetPlan,
    DeletePlan,
    RolloutStatus,
    PreviewPlan,
    PauseRollout,
    ResumeRollout,
    CancelRollout,
    AdvanceRollout,
    ListDevices,
    ProvisionDevices,
    GetDevice,
    DeviceHistory,
    UnbanDevice,
    ForgetDevice,
    MoveDevice,
    DeprovisionDevice,
    ConfirmDevice,
    CheckNowDevice,
    ConfirmDevices,
    ListJobs,
    Activity,
    Summary,
    ProjectMetrics,
    CheckNowPlan,
    ListSigningKeys,
    RotateSigningKey,
    ListTokens,
    CreateToken,
    RevokeToken,
    Audit,
    IsolateMetrics,
    Events,
    ListWebhooks,
    PutWebhook,
    DeleteWebhook,
    RotateWebhook,
    WebhookDeliveries,
    Redeliver,
    CancelDevice,
    UncancelDevice,
}

/// One admin route: `pattern` is below `/admin/v1/`, with `{name}` for a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub pattern: &'static str,
    pub role: Role,
    pub summary: &'static str,
}

const fn r(
    id: RouteId,
    method: &'static str,
    pattern: &'static str,
    role: Role,
    summary: &'static str,
) -> Route {
    Route {
        id,
        method,
        pattern,
        role,
        summary,
    }
}

use Role::{Admin, Operator, Viewer};
use RouteId::*;

/// Every admin route. Adding a route means adding it here (with a new [`RouteId`]), to the edge's
/// dispatch, and to `edge/openapi.json`.
pub const ROUTES: &[Route] = &[
    r(OpenApi, "GET", "openapi.json", Viewer, "This document"),
    r(ListProjects, "GET", "projects", Viewer, "List projects"),
    r(
        PutProject,
        "PUT",
        "projects/{key}",
        Admin,
        "Create or rename a project",
    ),
    r(
        GetProject,
        "GET",
        "projects/{key}",
        Viewer,
        "Show a project",
    ),
    r(
        ListFirmware,
        "GET",
        "projects/{key}/firmware",
        Viewer,
        "List firmware images",
    ),
    r(
        UploadFirmware,
        "PUT",
        "projects/{key}/firmware/{firmware_name}/{version}",
        Admin,
        "Upload a firmware image",
    ),
    r(
        GetFirmware,
        "GET",
        "projects/{key}/firmware/{firmware_name}/{version}",
        Viewer,
        "Show a firmware image",
    ),
    r(
        DeleteFirmware,
        "DELETE",
        "projects/{key}/firmware/{firmware_name}/{version}",
        Admin,
        "Delete a firmware image",
    ),
    r(
        ListPlans,
        "GET",
        "projects/{key}/plans",
        Viewer,
        "List plans",
    ),
    r(
        PutPlan,
        "PUT",
        "projects/{key}/plans/{firmware_name}",
        Admin,
        "Create or replace a plan",
    ),
    r(
        GetPlan,
        "GET",
        "projects/{key}/plans/{firmware_name}",
        Viewer,
        "Show a plan",
    ),
    r(
        DeletePlan,
        "DELETE",
        "projects/{key}/plans/{firmware_name}",
        Admin,
        "Delete a plan",
    ),
    r(
        RolloutStatus,
        "GET",
        "projects/{key}/plans/{firmware_name}/status",
        Viewer,
        "Rollout status with counts",
    ),
    r(
        PreviewPlan,
        "POST",
        "projects/{key}/plans/{firmware_name}/preview",
        Operator,
        "Preview a plan: who it would reach, which package, the bytes (changes nothing)",
    ),
    r(
        PauseRollout,
        "POST",
        "projects/{key}/plans/{firmware_name}/pause",
        Operator,
        "Pause the rollout",
    ),
    r(
        ResumeRollout,
        "POST",
        "projects/{key}/plans/{firmware_name}/resume",
        Operator,
        "Resume the rollout",
    ),
    r(
        CancelRollout,
        "POST",
        "projects/{key}/plans/{firmware_name}/cancel",
        Operator,
        "Cancel the rollout",
    ),
    r(
        AdvanceRollout,
        "POST",
        "projects/{key}/plans/{firmware_name}/advance",
        Operator,
        "Advance the rollout a stage",
    ),
    r(
        ListDevices,
        "GET",
        "projects/{key}/devices",
        Viewer,
        "List devices, filtered, paginated",
    ),
    r(
        ProvisionDevices,
        "POST",
        "projects/{key}/devices",
        Admin,
        "Provision or re-key JSON devices (secrets shown once)",
    ),
    r(
        GetDevice,
        "GET",
        "projects/{key}/devices/{device_id}",
        Viewer,
        "Show a device",
    ),
    r(
        DeviceHistory,
        "GET",
        "projects/{key}/devices/{device_id}/history",
        Viewer,
        "A device's history",
    ),
    r(
        UnbanDevice,
        "POST",
        "projects/{key}/devices/{device_id}/unban",
        Operator,
        "Lift a loop-upgrade ban",
    ),
    r(
        ForgetDevice,
        "DELETE",
        "projects/{key}/devices/{device_id}",
        Admin,
        "Forget a device (unbind, drop its row and history)",
    ),
    r(
        MoveDevice,
        "POST",
        "projects/{key}/devices/{device_id}/move",
        Admin,
        "Move a device to another project",
    ),
    r(
        DeprovisionDevice,
        "POST",
        "projects/{key}/devices/{device_id}/deprovision",
        Admin,
        "De-provision a JSON device (its secret stops verifying)",
    ),
    r(
        ConfirmDevice,
        "POST",
        "projects/{key}/devices/{device_id}/confirm",
        Operator,
        "Confirm a device's held job",
    ),
    r(
        CheckNowDevice,
        "POST",
        "projects/{key}/devices/{device_id}/check-now",
        Operator,
        "Tell a connected device to check now",
    ),
    r(
        ConfirmDevices,
        "POST",
        "projects/{key}/confirm",
        Operator,
        "Confirm the held jobs of many devices",
    ),
    r(
        ListJobs,
        "GET",
        "projects/{key}/jobs",
        Viewer,
        "List module-OTA jobs",
    ),
    r(
        Activity,
        "GET",
        "projects/{key}/activity",
        Viewer,
        "Checks and deliveries per hour",
    ),
    r(
        Summary,
        "GET",
        "projects/{key}/summary",
        Viewer,
        "Fleet summary: devices per version, job state, banned, seen",
    ),
    r(
        ProjectMetrics,
        "GET",
        "projects/{key}/metrics",
        Viewer,
        "Prometheus metrics: devices per version, banned, silent, rollouts",
    ),
    r(
        CheckNowPlan,
        "POST",
        "projects/{key}/plans/{firmware_name}/check-now",
        Operator,
        "Tell a plan's connected devices to check now",
    ),
    r(
        ListSigningKeys,
        "GET",
        "projects/{key}/signing-keys",
        Viewer,
        "Notice signing public keys",
    ),
    r(
        RotateSigningKey,
        "POST",
        "projects/{key}/signing-keys/rotate",
        Admin,
        "Rotate the notice signing key",
    ),
    r(ListTokens, "GET", "tokens", Admin, "List tokens"),
    r(
        CreateToken,
        "POST",
        "tokens",
        Admin,
        "Create a token (shown once)",
    ),
    r(
        RevokeToken,
        "DELETE",
        "tokens/{name}",
        Admin,
        "Revoke a token",
    ),
    r(Audit, "GET", "audit", Viewer, "Read the audit log"),
    r(
        Events,
        "GET",
        "projects/{key}/events",
        Viewer,
        "Events after a cursor (long poll with wait, at most 30 s)",
    ),
    r(
        ListWebhooks,
        "GET",
        "projects/{key}/webhooks",
        Admin,
        "List webhooks",
    ),
    r(
        PutWebhook,
        "PUT",
        "projects/{key}/webhooks/{name}",
        Admin,
        "Create or change a webhook (a new one's secret is shown once)",
    ),
    r(
        DeleteWebhook,
        "DELETE",
        "projects/{key}/webhooks/{name}",
        Admin,
        "Delete a webhook",
    ),
    r(
        RotateWebhook,
        "POST",
        "projects/{key}/webhooks/{name}/rotate",
        Admin,
        "Rotate a webhook's secret (shown once)",
    ),
    r(
        WebhookDeliveries,
        "GET",
        "projects/{key}/webhooks/{name}/deliveries",
        Admin,
        "A webhook's latest deliveries",
    ),
    r(
        Redeliver,
        "POST",
        "projects/{key}/webhooks/{name}/deliveries/{delivery_id}/redeliver",
        Admin,
        "Deliver a delivery's event again",
    ),
    r(
        CancelDevice,
        "POST",
        "projects/{key}/devices/{device_id}/cancel",
        Operator,
        "Cancel a device's upgrade (its job, or its part in a plan's rollout)",
    ),
    r(
        UncancelDevice,
        "POST",
        "projects/{key}/devices/{device_id}/uncancel",
        Operator,
        "Let a cancelled device be offered again",
    ),
    r(
        IsolateMetrics,
        "GET",
        "metrics",
        Viewer,
        "Storage operations counted by the answering isolate",
    ),
];

/// The route a [`RouteId`] names.
pub fn route(id: RouteId) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.id == id)
        .expect("every route id is in the table (tested)")
}

/// The absolute path (`/admin/v1/...`) of a route with its parameters filled in pattern order,
/// each percent-encoded as one path segment. A missing parameter leaves an empty segment.
pub fn path(id: RouteId, params: &[&str]) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let mut params = params.iter();
    let mut out = String::from("/admin/v1");
    for part in route(id).pattern.split('/') {
        out.push('/');
        if part.starts_with('{') {
            let value = params.next().copied().unwrap_or_default();
            out.extend(utf8_percent_encode(value, SEGMENT));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The outcome of matching a request against [`ROUTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMatch {
    /// The route and its parameters in pattern order.
    Found(&'static Route, Vec<String>),
    /// The path exists with other methods.
    WrongMethod,
    NotFound,
}

/// Matches already-decoded path segments (below `/admin/v1/`).
pub fn match_route(method: &str, segs: &[&str]) -> RouteMatch {
    let mut path_known = false;
    for route in ROUTES {
        let pattern: Vec<&str> = route.pattern.split('/').collect();
        if pattern.len() != segs.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = pattern.iter().zip(segs).all(|(p, s)| {
            if p.starts_with('{') {
                params.push(s.to_string());
                !s.is_empty()
            } else {
                p == s
            }
        });
        if !fits {
            continue;
        }
        if route.method == method || (method == "HEAD" && route.method == "GET") {
            return RouteMatch::Found(route, params);
        }
        path_known = true;
    }
    if path_known {
        RouteMatch::WrongMethod
    } else {
        RouteMatch::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(method: &str, path: &str, expect: Option<(&str, &[&str])>) {
        let segs: Vec<&str> = path.split('/').collect();
        let got = match match_route(method, &segs) {
            RouteMatch::Found(route, params) => Some((route.pattern, params)),
            RouteMatch::WrongMethod => Some(("<wrong method>", vec![])),
            RouteMatch::NotFound => None,
        };
        let expect =
            expect.map(|(p, params)| (p, params.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
        assert_eq!(got, expect, "{method} {path}");
    }

    #[test]
    fn matches_routes() {
        check("GET", "projects", Some(("projects", &[])));
        check("PUT", "projects/K1", Some(("projects/{key}", &["K1"])));
        check(
            "GET",
            "projects/K1/plans/fw/status",
            Some(("projects/{key}/plans/{firmware_name}/status", &["K1", "fw"])),
        );
        check(
            "POST",
            "projects/K1/devices/86/unban",
            Some(("projects/{key}/devices/{device_id}/unban", &["K1", "86"])),
        );
        check("DELETE", "projects", Some(("<wrong method>", &[])));
        check("GET", "projects/K1/nothing", None);
        check("GET", "projects//firmware", None);
        check("HEAD", "projects", Some(("projects", &[])));
    }

    #[test]
    fn writes_need_more_than_viewer() {
        for route in ROUTES {
            if route.method != "GET" {
                assert!(
                    route.role >= Role::Operator,
                    "{} {} is a write open to viewers",
                    route.method,
                    route.pattern
                );
            }
        }
    }

    #[test]
    fn paths_fill_and_encode_parameters() {
        let table: &[(RouteId, &[&str], &str)] = &[
            (ListProjects, &[], "/admin/v1/projects"),
            (GetProject, &["K1"], "/admin/v1/projects/K1"),
            (
                CancelDevice,
                &["K 1", "a/b"],
                "/admin/v1/projects/K%201/devices/a%2Fb/cancel",
            ),
            (
                Redeliver,
                &["K1", "ops", "7"],
                "/admin/v1/projects/K1/webhooks/ops/deliveries/7/redeliver",
            ),
        ];
        for (id, params, expect) in table {
            assert_eq!(path(*id, params), *expect);
        }
        for r in ROUTES {
            assert_eq!(route(r.id), r);
        }
    }

    #[test]
    fn routes_are_unique() {
        let mut seen: Vec<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.pattern)).collect();
        seen.sort();
        let n = seen.len();
        seen.dedup();
        assert_eq!(seen.len(), n);
        let ids: std::collections::HashSet<RouteId> = ROUTES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), n, "a route id names two routes");
    }
}
