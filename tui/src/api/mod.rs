//! The admin API client: one reqwest client, one method per route, typed with `fota_shared::api`;
//! every path comes from shared's route table (`routes::path`, each segment percent-encoded),
//! query strings are `Serialize` structs (`query`), failures one `ApiError` (`error`).

use std::time::Duration;

use fota_shared::api::access::{AuditPage, TokenCreated, TokenList, TokenSpec};
use fota_shared::api::catalog::{
    Firmware, FirmwareList, Project, ProjectList, ProjectSpec, UploadReceipt,
};
use fota_shared::api::fleet::{Activity, Device, DeviceHistory, DeviceList, FleetSummary};
use fota_shared::api::ota::{
    CheckNowResult, ConfirmResult, ConfirmSpec, JobList, ProvisionSpec, Provisioned, RotateSpec,
    SigningKeyList,
};
use fota_shared::api::plans::{PlanList, RolloutStatus};
use fota_shared::api::routes::{path, RouteId};
use fota_shared::model::job::JobPhase;
use fota_shared::model::plan::{Plan, PlanSpec};
use fota_shared::model::rollout::RolloutAction;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

mod error;
mod events;
/// `file`'s bytes as a body stream, [`crate::image_file::READ_CHUNK`] at a time, ending after
/// `size` bytes (a file that grew since it was hashed sends what was hashed; one that shrank ends
/// short and the server refuses it).
fn file_stream(
    file: tokio::fs::File,
    size: u64,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(
        (file, 0u64, progress),
        move |(mut file, sent, progress)| async move {
            if sent >= size {
                return None;
            }
            let want = (size - sent).min(crate::image_file::READ_CHUNK as u64) as usize;
            let mut chunk = vec![0u8; want];
            match file.read(&mut chunk).await {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    let sent = sent + n as u64;
                    progress(sent);
                    Some((Ok(chunk), (file, sent, progress)))
                }
                Err(err) => Some((Err(err), (file, size, progress))),
            }
        },
    )
}

#[cfg(test)]
mod query;

pub use error::{status_error, ApiError};
use fota_shared::api::query::{
    ActivityQuery, AuditQuery, DeviceQuery, JobsQuery, MetricsQuery, UploadDetails,
};

/// Bytes outside RFC 3986's unreserved set are escaped, so a value is always exactly one path
/// segment or query value, whatever it contains (`/`, `?`, `#`, `&`, spaces); `routes::path`
/// escapes path segments with the same set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long a provisioning call may take: its answer holds secrets shown nowhere else.
const PROVISION_TIMEOUT: Duration = Duration::from_secs(600);

/// What a check-now push goes to: one device, or every device of a plan's device set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckNowTarget {
    Device(String),
    Plan(String),
}

/// What the Fleet tab shows: the server's summary of the whole project (one request, whatever
/// the fleet's size) and the plans it measures progress against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetSnapshot {
    pub summary: FleetSummary,
    pub plans: Vec<Plan>,
}

/// `POST …/devices/{id}/move` body: the project the device moves to.
#[derive(Debug, Serialize)]
struct MoveSpec<'a> {
    project: &'a str,
}

/// The admin API of one fota-edge deployment.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

/// Percent-encodes one path segment or query value.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

impl ApiClient {
    pub fn new(base_url: &str, token: Option<String>) -> ApiClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("fota-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with rustls builds");
        ApiClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            token,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn healthz(&self) -> Result<(), ApiError> {
        let url = self.url("/healthz");
        let response = self.send(self.http.get(&url)).await?;
        check(response, &url).await.map(drop)
    }

    pub async fn projects(&self) -> Result<ProjectList, ApiError> {
        self.json(Method::GET, path(RouteId::ListProjects, &[]))
            .await
    }

    pub async fn project(&self, key: &str) -> Result<Project, ApiError> {
        self.json(Method::GET, path(RouteId::GetProject, &[key]))
            .await
    }

    pub async fn put_project(&self, key: &str, spec: &ProjectSpec) -> Result<Project, ApiError> {
        self.json_with_body(Method::PUT, path(RouteId::PutProject, &[key]), spec)
            .await
    }

    pub async fn firmware_list(&self, project: &str) -> Result<FirmwareList, ApiError> {
        self.json(Method::GET, path(RouteId::ListFirmware, &[project]))
            .await
    }

    /// A version's full image, or (`source_version`) its delta for that source.
    pub async fn firmware(
        &self,
        project: &str,
        name: &str,
        version: &str,
        source_version: Option<&str>,
    ) -> Result<Firmware, ApiError> {
        let route = path(RouteId::GetFirmware, &[project, name, version]);
        self.json(Method::GET, with_source(route, source_version))
            .await
    }

    /// Uploads the image `file` (opened from `hashed.path`, hashed by
    /// [`crate::image_file::hash_file`]), read from disk a chunk at a time as the connection takes
    /// it: memory holds a chunk, not the image. The server refuses a body whose sha256 is not
    /// `hashed.sha256` (the file changed since it was hashed); `progress` is called with the bytes
    /// handed to the connection so far.
    pub async fn upload_firmware(
        &self,
        project: &str,
        (name, version, details): (&str, &str, &UploadDetails),
        (file, hashed): (tokio::fs::File, &crate::image_file::Hashed),
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<UploadReceipt, ApiError> {
        let url = self.url(&path(RouteId::UploadFirmware, &[project, name, version]));
        let body = file_stream(file, hashed.size, progress);
        let request = self
            .authorized(self.http.put(&url))
            .query(details)
            .header("X-Content-SHA256", &hashed.sha256)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            // A streamed body has no length of its own; stating it keeps the request un-chunked.
            .header(reqwest::header::CONTENT_LENGTH, hashed.size)
            .timeout(Duration::from_secs(600))
            .body(reqwest::Body::wrap_stream(body));
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    pub async fn delete_firmware(
        &self,
        project: &str,
        name: &str,
        version: &str,
        source_version: Option<&str>,
    ) -> Result<(), ApiError> {
        let route = path(RouteId::DeleteFirmware, &[project, name, version]);
        self.empty(Method::DELETE, with_source(route, source_version))
            .await
    }

    pub async fn plans(&self, project: &str) -> Result<PlanList, ApiError> {
        self.json(Method::GET, path(RouteId::ListPlans, &[project]))
            .await
    }

    pub async fn plan(&self, project: &str, firmware_name: &str) -> Result<Plan, ApiError> {
        self.json(
            Method::GET,
            path(RouteId::GetPlan, &[project, firmware_name]),
        )
        .await
    }

    pub async fn put_plan(
        &self,
        project: &str,
        firmware_name: &str,
        spec: &PlanSpec,
    ) -> Result<Plan, ApiError> {
        let route = path(RouteId::PutPlan, &[project, firmware_name]);
        self.json_with_body(Method::PUT, route, spec).await
    }

    /// What `spec` would do, saved (`POST .../preview`); nothing changes.
    pub async fn preview_plan(
        &self,
        project: &str,
        firmware_name: &str,
        spec: &PlanSpec,
    ) -> Result<fota_shared::api::preview::PlanPreview, ApiError> {
        let route = path(RouteId::PreviewPlan, &[project, firmware_name]);
        self.json_with_body(Method::POST, route, spec).await
    }

    pub async fn delete_plan(&self, project: &str, firmware_name: &str) -> Result<(), ApiError> {
        let route = path(RouteId::DeletePlan, &[project, firmware_name]);
        self.empty(Method::DELETE, route).await
    }

    pub async fn plan_status(
        &self,
        project: &str,
        firmware_name: &str,
    ) -> Result<RolloutStatus, ApiError> {
        let route = path(RouteId::RolloutStatus, &[project, firmware_name]);
        self.json(Method::GET, route).await
    }

    /// Pauses, resumes, cancels or advances a plan's rollout; the answer is its new status.
    pub async fn control_rollout(
        &self,
        project: &str,
        firmware_name: &str,
        action: RolloutAction,
    ) -> Result<RolloutStatus, ApiError> {
        let route = path(rollout_route(action), &[project, firmware_name]);
        self.json(Method::POST, route).await
    }

    pub async fn devices(
        &self,
        project: &str,
        query: &DeviceQuery,
    ) -> Result<DeviceList, ApiError> {
        let url = self.url(&path(RouteId::ListDevices, &[project]));
        let request = self.authorized(self.http.get(&url)).query(query);
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    pub async fn device(&self, project: &str, id: &str) -> Result<Device, ApiError> {
        self.json(Method::GET, path(RouteId::GetDevice, &[project, id]))
            .await
    }

    pub async fn device_history(&self, project: &str, id: &str) -> Result<DeviceHistory, ApiError> {
        self.json(Method::GET, path(RouteId::DeviceHistory, &[project, id]))
            .await
    }

    pub async fn tokens(&self) -> Result<TokenList, ApiError> {
        self.json(Method::GET, path(RouteId::ListTokens, &[])).await
    }

    pub async fn create_token(&self, spec: &TokenSpec) -> Result<TokenCreated, ApiError> {
        self.json_with_body(Method::POST, path(RouteId::CreateToken, &[]), spec)
            .await
    }

    pub async fn revoke_token(&self, name: &str) -> Result<(), ApiError> {
        self.empty(Method::DELETE, path(RouteId::RevokeToken, &[name]))
            .await
    }

    pub async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, ApiError> {
        let url = self.url(&path(RouteId::Audit, &[]));
        let request = self.authorized(self.http.get(&url)).query(query);
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    pub async fn unban_device(&self, project: &str, id: &str) -> Result<Device, ApiError> {
        self.json(Method::POST, path(RouteId::UnbanDevice, &[project, id]))
            .await
    }

    /// Forgets a device: unbinds it and drops its registry row and history.
    pub async fn forget_device(&self, project: &str, id: &str) -> Result<(), ApiError> {
        self.empty(Method::DELETE, path(RouteId::ForgetDevice, &[project, id]))
            .await
    }

    /// Moves a device to another project, with its history.
    pub async fn move_device(&self, project: &str, id: &str, to: &str) -> Result<Device, ApiError> {
        let route = path(RouteId::MoveDevice, &[project, id]);
        self.json_with_body(Method::POST, route, &MoveSpec { project: to })
            .await
    }

    /// De-provisions a JSON device: its signed requests are refused from now on.
    pub async fn deprovision_device(&self, project: &str, id: &str) -> Result<(), ApiError> {
        let route = path(RouteId::DeprovisionDevice, &[project, id]);
        self.empty(Method::POST, route).await
    }

    /// Provisions JSON (module-OTA) devices or registers Luat ones; the answer holds each
    /// one's secret, shown only here. A call naming many ids may take long (the edge keeps every
    /// copy of each binding in step before it answers), and an answer given up on loses the
    /// secrets it carried: this call waits `PROVISION_TIMEOUT`, not the client's 30 s.
    pub async fn provision_devices(
        &self,
        project: &str,
        spec: &ProvisionSpec,
    ) -> Result<Provisioned, ApiError> {
        let url = self.url(&path(RouteId::ProvisionDevices, &[project]));
        let request = self
            .authorized(self.http.post(&url))
            .json(spec)
            .timeout(PROVISION_TIMEOUT);
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    /// Confirms one device's held job: 404 without a job, 409 when it is not held.
    pub async fn confirm_device(&self, project: &str, id: &str) -> Result<ConfirmResult, ApiError> {
        self.json(Method::POST, path(RouteId::ConfirmDevice, &[project, id]))
            .await
    }

    /// Confirms the held jobs of many devices; those without one are listed as skipped.
    pub async fn confirm_devices(
        &self,
        project: &str,
        spec: &ConfirmSpec,
    ) -> Result<ConfirmResult, ApiError> {
        let route = path(RouteId::ConfirmDevices, &[project]);
        self.json_with_body(Method::POST, route, spec).await
    }

    /// Module-OTA jobs, all or those in one phase.
    pub async fn jobs(&self, project: &str, phase: Option<JobPhase>) -> Result<JobList, ApiError> {
        let url = self.url(&path(RouteId::ListJobs, &[project]));
        let request = self
            .authorized(self.http.get(&url))
            .query(&JobsQuery { phase });
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    /// Pushes a check-now to one device, or to every connected device of a plan's device set.
    pub async fn check_now(
        &self,
        project: &str,
        target: &CheckNowTarget,
    ) -> Result<CheckNowResult, ApiError> {
        match target {
            CheckNowTarget::Device(id) => self.check_now_device(project, id).await,
            CheckNowTarget::Plan(name) => self.check_now_plan(project, name).await,
        }
    }

    /// Pushes a check-now to one device over its standing connection.
    pub async fn check_now_device(
        &self,
        project: &str,
        id: &str,
    ) -> Result<CheckNowResult, ApiError> {
        let route = path(RouteId::CheckNowDevice, &[project, id]);
        self.json(Method::POST, route).await
    }

    /// Pushes a check-now to every connected device of a plan's device set.
    pub async fn check_now_plan(
        &self,
        project: &str,
        firmware_name: &str,
    ) -> Result<CheckNowResult, ApiError> {
        let route = path(RouteId::CheckNowPlan, &[project, firmware_name]);
        self.json(Method::POST, route).await
    }

    pub async fn signing_keys(&self, project: &str) -> Result<SigningKeyList, ApiError> {
        self.json(Method::GET, path(RouteId::ListSigningKeys, &[project]))
            .await
    }

    /// Starts a new notice signing key; the old ones stay trusted for the overlap.
    pub async fn rotate_signing_key(
        &self,
        project: &str,
        spec: &RotateSpec,
    ) -> Result<SigningKeyList, ApiError> {
        let route = path(RouteId::RotateSigningKey, &[project]);
        self.json_with_body(Method::POST, route, spec).await
    }

    /// The whole project's fleet in numbers, counted by the server.
    pub async fn summary(&self, project: &str) -> Result<FleetSummary, ApiError> {
        self.json(Method::GET, path(RouteId::Summary, &[project]))
            .await
    }

    /// The summary and the plans, fetched side by side.
    pub async fn fleet_snapshot(&self, project: &str) -> Result<FleetSnapshot, ApiError> {
        let (plans, summary) = tokio::join!(self.plans(project), self.summary(project));
        Ok(FleetSnapshot {
            summary: summary?,
            plans: plans?.plans,
        })
    }

    /// Checks and deliveries per hour over the last `hours` hours (the server takes 1..=720),
    /// oldest first, every hour present.
    pub async fn activity(&self, project: &str, hours: u32) -> Result<Activity, ApiError> {
        let url = self.url(&path(RouteId::Activity, &[project]));
        let request = self
            .authorized(self.http.get(&url))
            .query(&ActivityQuery { hours });
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    /// The project's Prometheus metrics, as the text the server wrote.
    pub async fn metrics(&self, project: &str, silent_after: u32) -> Result<String, ApiError> {
        let url = self.url(&path(RouteId::ProjectMetrics, &[project]));
        let request = self
            .authorized(self.http.get(&url))
            .query(&MetricsQuery { silent_after });
        let response = check(self.send(request).await?, &url).await?;
        response.text().await.map_err(|err| ApiError::Unreachable {
            url: url.clone(),
            reason: root_cause(&err),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// The base URL, not the route, names what is unreachable; it keeps status lines short.
    async fn send(&self, request: RequestBuilder) -> Result<Response, ApiError> {
        request.send().await.map_err(|err| ApiError::Unreachable {
            url: self.base_url.clone(),
            reason: root_cause(&err),
        })
    }

    async fn json<T: DeserializeOwned>(&self, method: Method, path: String) -> Result<T, ApiError> {
        let url = self.url(&path);
        let response = self
            .send(self.authorized(self.http.request(method, &url)))
            .await?;
        decode(check(response, &url).await?, &url).await
    }

    async fn json_with_body<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let url = self.url(&path);
        let request = self.authorized(self.http.request(method, &url)).json(body);
        let response = self.send(request).await?;
        decode(check(response, &url).await?, &url).await
    }

    async fn empty(&self, method: Method, path: String) -> Result<(), ApiError> {
        let url = self.url(&path);
        let response = self
            .send(self.authorized(self.http.request(method, &url)))
            .await?;
        check(response, &url).await.map(drop)
    }
}

/// One package of a version (`route` names the version's full image): `?source_version=`
/// names a delta.
fn with_source(route: String, source: Option<&str>) -> String {
    match source {
        Some(source) => format!("{route}?source_version={}", segment(source)),
        None => route,
    }
}

/// The route of a rollout control.
fn rollout_route(action: RolloutAction) -> RouteId {
    match action {
        RolloutAction::Pause => RouteId::PauseRollout,
        RolloutAction::Resume => RouteId::ResumeRollout,
        RolloutAction::Cancel => RouteId::CancelRollout,
        RolloutAction::Advance => RouteId::AdvanceRollout,
    }
}

/// Turns an error status into `ApiError::Status`, reading the API's error body when there is one.
async fn check(response: Response, url: &str) -> Result<Response, ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.map_err(|err| ApiError::Unreachable {
        url: url.to_string(),
        reason: root_cause(&err),
    })?;
    Err(status_error(status, &text))
}

async fn decode<T: DeserializeOwned>(response: Response, url: &str) -> Result<T, ApiError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|err| ApiError::Unreachable {
            url: url.to_string(),
            reason: root_cause(&err),
        })?;
    serde_json::from_slice(&bytes).map_err(|err| ApiError::Decode {
        url: url.to_string(),
        reason: err.to_string(),
    })
}

/// reqwest's own message ("error sending request") hides the useful part, "Connection refused",
/// in its source chain.
fn root_cause(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if err.is_timeout() {
        "timed out".to_string()
    } else {
        cause.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(
            path(RouteId::GetDevice, &["demo", "a/b c?#"]),
            "/admin/v1/projects/demo/devices/a%2Fb%20c%3F%23"
        );
        assert_eq!(
            path(RouteId::GetFirmware, &["demo", "core_v2", "1.2.3"]),
            "/admin/v1/projects/demo/firmware/core_v2/1.2.3"
        );
        assert_eq!(
            path(RouteId::GetPlan, &["demo", "ü"]),
            "/admin/v1/projects/demo/plans/%C3%BC"
        );
    }

    /// The paths the client built by hand before it took them from the route table.
    #[test]
    fn routes_give_the_paths_the_client_always_sent() {
        let table: &[(String, &str)] = &[
            (path(RouteId::ListProjects, &[]), "/admin/v1/projects"),
            (
                path(RouteId::RevokeToken, &["ci bot"]),
                "/admin/v1/tokens/ci%20bot",
            ),
            (
                path(RouteId::DeviceHistory, &["demo", "86"]),
                "/admin/v1/projects/demo/devices/86/history",
            ),
            (
                path(RouteId::RotateSigningKey, &["demo"]),
                "/admin/v1/projects/demo/signing-keys/rotate",
            ),
            (
                path(rollout_route(RolloutAction::Advance), &["demo", "fw"]),
                "/admin/v1/projects/demo/plans/fw/advance",
            ),
            (
                with_source(
                    path(RouteId::DeleteFirmware, &["demo", "fw", "1.2.0"]),
                    Some("1.1 rc"),
                ),
                "/admin/v1/projects/demo/firmware/fw/1.2.0?source_version=1.1%20rc",
            ),
        ];
        for (got, expect) in table {
            assert_eq!(got, expect);
        }
        for action in [
            RolloutAction::Pause,
            RolloutAction::Resume,
            RolloutAction::Cancel,
            RolloutAction::Advance,
        ] {
            assert!(path(rollout_route(action), &["k", "f"]).ends_with(action.as_str()));
        }
    }
}
