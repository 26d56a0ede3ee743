//! `fota device`: the device registry: list, show, summary, unban, forget, move, confirm, check-now, provision, import (`device_import`), de-provision, jobs.

use clap::Subcommand;
use fota_shared::api::fleet::{Device, DeviceEvent, DeviceList, FleetSummary};
use fota_shared::api::ota::Protocol;
use fota_shared::api::ota::{
    ConfirmResult, ConfirmSpec, JobInfo, ProvisionSpec, Provisioned, ProvisionedDevice,
};
use fota_shared::model::job::JobPhase;
use fota_shared::model::rollout::DevicePhase;
use serde::Serialize;

use super::device_import::{self, ImportArgs};
use super::output::{fields, table, Output};
use super::{project_key, CliError};
use crate::api::{ApiClient, ApiError, CheckNowTarget};
use crate::config::Connection;
use crate::format;
use crate::strings;
use fota_shared::api::query::DeviceQuery;

/// Devices per request for `device list --all`.
const ALL_PAGE: u32 = 500;

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum DeviceVerb {
    List {
        /// Only devices reporting this version.
        #[arg(long)]
        version: Option<String>,
        /// Only banned devices.
        #[arg(long)]
        banned: bool,
        /// Only devices whose rollout job is in this state.
        #[arg(long, value_enum)]
        state: Option<DevicePhase>,
        /// Only devices seen at or after this RFC 3339 time.
        #[arg(long)]
        seen_since: Option<String>,
        /// Only devices that reached the project's daily data budget today (UTC): code 74.
        #[arg(long)]
        over_budget: bool,
        /// Devices per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Follow the cursor through every page.
        #[arg(long)]
        all: bool,
    },
    Show {
        id: String,
    },
    /// The whole project in numbers, counted by the server: devices per firmware and version,
    /// per rollout job state, banned, and seen within the last hour, day and week.
    Summary,
    Unban {
        id: String,
    },
    /// Cancel a device's upgrade: its open module job is cancelled and it is offered nothing
    /// more (a Luat device hears code 61) from that plan, or every plan that reaches it, until
    /// `uncancel`.
    Cancel {
        id: String,
        /// Only this plan (by firmware name).
        #[arg(long = "firmware")]
        firmware_name: Option<String>,
    },
    /// Let a cancelled device be offered its upgrade again.
    Uncancel {
        id: String,
        /// Only this plan (by firmware name).
        #[arg(long = "firmware")]
        firmware_name: Option<String>,
    },
    /// Forget a device: unbind it and drop its registry row and history (its next check binds
    /// it again as a new device).
    Forget {
        id: String,
    },
    /// Move a device to another project, with its history.
    Move {
        id: String,
        /// The project it moves to.
        #[arg(long)]
        to: String,
    },
    /// Confirm held module-OTA jobs: each device is offered its image at its next check.
    Confirm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Tell a connected device to check now.
    CheckNow {
        id: String,
    },
    /// Provision JSON (module-OTA) devices; prints each new secret, shown this once only. Ids
    /// provisioned already keep their secret (none printed) unless `--rekey`.
    Provision {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Issue new secrets to ids provisioned already; their old secrets stop working at once.
        #[arg(long)]
        rekey: bool,
        /// The API the devices speak: json (the signed device API) or luat (registered Luat
        /// ids, which may sign their checks and which rollouts trust).
        #[arg(long, value_enum, default_value = "json")]
        protocol: Protocol,
    },
    /// Register a fleet from a file of ids (CSV or one per line; 100,000 ids in batches of
    /// 1,000). Prints the secrets issued as `id,secret` CSV (shown this once only); ids
    /// registered already are skipped and keep their secret, so a stopped import can be rerun.
    Import(ImportArgs),
    /// De-provision a JSON device: its signed requests are refused from now on.
    Deprovision {
        id: String,
    },
    /// Module-OTA jobs: held for confirmation or in progress.
    Jobs {
        #[arg(long, value_enum)]
        phase: Option<JobPhase>,
    },
}

/// Runs one `fota device` verb.
pub async fn run(
    verb: DeviceVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    let project = project.as_str();
    match verb {
        DeviceVerb::List {
            version,
            banned,
            state,
            seen_since,
            over_budget,
            limit,
            all,
        } => {
            let query = DeviceQuery {
                limit: limit.or(all.then_some(ALL_PAGE)),
                version,
                banned: banned.then_some(true),
                state,
                seen_since,
                over_budget: over_budget.then_some(true),
                ..DeviceQuery::default()
            };
            list(api, project, query, all, out).await
        }
        DeviceVerb::Show { id } => show(api, project, &id, out).await,
        DeviceVerb::Summary => {
            let summary = api.summary(project).await?;
            out.print(&summary, || summary_text(&summary))
        }
        DeviceVerb::Jobs { phase } => {
            let list = api.jobs(project, phase).await?;
            out.print(&list, || jobs_table(&list.jobs))
        }
        DeviceVerb::Unban { id } => {
            let device = api.unban_device(project, &id).await?;
            out.print(&device, || device_fields(&device))
        }
        DeviceVerb::Cancel { id, firmware_name } => {
            cancel(api, project, &id, firmware_name.as_deref(), true, out).await
        }
        DeviceVerb::Uncancel { id, firmware_name } => {
            cancel(api, project, &id, firmware_name.as_deref(), false, out).await
        }
        DeviceVerb::Forget { id } => forget(api, project, id, out).await,
        DeviceVerb::Move { id, to } => {
            let device = api.move_device(project, &id, &to).await?;
            out.print(&device, || device_fields(&device))
        }
        DeviceVerb::Confirm { ids } => confirm(api, project, ids, out).await,
        DeviceVerb::CheckNow { id } => check_now(api, project, id, out).await,
        DeviceVerb::Provision {
            ids,
            rekey,
            protocol,
        } => {
            let spec = ProvisionSpec {
                devices: ids,
                rekey,
                protocol,
            };
            provision(api, project, &spec, out).await
        }
        DeviceVerb::Import(args) => device_import::run(args, api, project, out).await,
        DeviceVerb::Deprovision { id } => deprovision(api, project, id, out).await,
    }
}

/// `device forget`: the device is unbound, its row and history dropped.
async fn forget(api: &ApiClient, project: &str, id: String, out: Output) -> Result<(), CliError> {
    api.forget_device(project, &id).await?;
    let done = serde_json::json!({ "forgotten": id });
    out.print(&done, || format!("forgot device {id}\n"))
}

/// `device check-now`: whether the device's push channel reached it.
async fn check_now(
    api: &ApiClient,
    project: &str,
    id: String,
    out: Output,
) -> Result<(), CliError> {
    let result = api.check_now_device(project, &id).await?;
    let target = CheckNowTarget::Device(id);
    out.print(&result, || {
        format!("{}\n", strings::checked_now(&target, &result))
    })
}

/// `device deprovision`: the device's signed requests are refused from now on.
async fn deprovision(
    api: &ApiClient,
    project: &str,
    id: String,
    out: Output,
) -> Result<(), CliError> {
    api.deprovision_device(project, &id).await?;
    let done = serde_json::json!({ "deprovisioned": id });
    out.print(&done, || strings::deprovisioned(&id))
}

/// `device show`: the device's fields, then its history.
async fn show(api: &ApiClient, project: &str, id: &str, out: Output) -> Result<(), CliError> {
    let (device, history) = tokio::join!(api.device(project, id), api.device_history(project, id));
    let shown = DeviceWithHistory {
        device: device?,
        history: history?.events,
    };
    out.print(&shown, || {
        device_fields(&shown.device) + "\n" + &history_table(&shown.history)
    })
}

/// `device list`: one page, or every page with `--all`.
async fn list(
    api: &ApiClient,
    project: &str,
    query: DeviceQuery,
    all: bool,
    out: Output,
) -> Result<(), CliError> {
    let list = if all {
        all_devices(api, project, query).await?
    } else {
        api.devices(project, &query).await?
    };
    if !out.json && list.next_cursor.is_some() {
        eprintln!("(more devices follow: use --all or a larger --limit)");
    }
    out.print(&list, || devices_table(&list.devices))
}

/// `device provision`: the secrets issued, with the warning that they show this once.
async fn provision(
    api: &ApiClient,
    project: &str,
    spec: &ProvisionSpec,
    out: Output,
) -> Result<(), CliError> {
    let provisioned = api.provision_devices(project, spec).await?;
    if !provisioned.devices.is_empty() {
        // On stderr, so it shows even when stdout goes to a file or to `jq`.
        eprintln!("{}", strings::SECRETS_SHOWN_ONCE);
    }
    out.print(&provisioned, || provisioned_lines(&provisioned))
}

async fn all_devices(
    api: &ApiClient,
    project: &str,
    mut query: DeviceQuery,
) -> Result<DeviceList, ApiError> {
    let mut devices = Vec::new();
    loop {
        let page = api.devices(project, &query).await?;
        devices.extend(page.devices);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => {
                return Ok(DeviceList {
                    devices,
                    next_cursor: None,
                })
            }
        }
    }
}

/// `device confirm`: one device through its own route (so a missing job exits 3, a job that is
/// not held 4), several in one call that lists what it skipped and exits 4 when it skipped any.
async fn confirm(
    api: &ApiClient,
    project: &str,
    ids: Vec<String>,
    out: Output,
) -> Result<(), CliError> {
    let result = match ids.as_slice() {
        [one] => api.confirm_device(project, one).await?,
        _ => {
            api.confirm_devices(project, &ConfirmSpec { devices: ids })
                .await?
        }
    };
    out.print(&result, || confirm_lines(&result))?;
    if result.skipped.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(strings::skipped(
            result.skipped.len(),
            result.confirmed.len() + result.skipped.len(),
        )))
    }
}

/// `device show`: the device's fields with its history alongside.
#[derive(Debug, Serialize)]
struct DeviceWithHistory {
    #[serde(flatten)]
    device: Device,
    history: Vec<DeviceEvent>,
}

fn devices_table(devices: &[Device]) -> String {
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.firmware_name.clone().unwrap_or_default(),
                d.version.clone().unwrap_or_default(),
                d.last_seen.clone(),
                d.deliveries.to_string(),
                if d.banned {
                    "banned".to_string()
                } else {
                    String::new()
                },
                d.state.map(|s| s.as_str().to_string()).unwrap_or_default(),
                d.cause.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "id",
            "firmware",
            "version",
            "last_seen",
            "deliveries",
            "banned",
            "state",
            "cause",
        ],
        &rows,
    )
}

fn device_fields(d: &Device) -> String {
    fields(&[
        ("id", d.id.clone()),
        ("firmware", d.firmware_name.clone().unwrap_or_default()),
        ("version", d.version.clone().unwrap_or_default()),
        ("first_seen", d.first_seen.clone()),
        ("last_seen", d.last_seen.clone()),
        ("deliveries", d.deliveries.to_string()),
        ("banned", format::yes_no(d.banned).to_string()),
        (
            "state",
            d.state.map(|s| s.as_str().to_string()).unwrap_or_default(),
        ),
        ("cause", d.cause.clone().unwrap_or_default()),
    ])
}

fn history_table(events: &[DeviceEvent]) -> String {
    if events.is_empty() {
        return "history: none\n".to_string();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.kind.clone(),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["at", "event", "detail"], &rows)
}

pub(super) fn confirm_lines(result: &ConfirmResult) -> String {
    let mut out = String::new();
    for id in &result.confirmed {
        out += &format!("confirmed  {id}\n");
    }
    for skipped in &result.skipped {
        out += &format!("skipped    {}: {}\n", skipped.id, skipped.reason);
    }
    out
}

/// The secrets issued, then the ids that kept theirs.
pub(super) fn provisioned_lines(provisioned: &Provisioned) -> String {
    let mut out = String::new();
    if !provisioned.devices.is_empty() {
        out += &secrets_table(&provisioned.devices);
    }
    if !provisioned.already_provisioned.is_empty() {
        out += &strings::already_provisioned(&provisioned.already_provisioned);
    }
    out
}

pub(super) fn secrets_table(devices: &[ProvisionedDevice]) -> String {
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| vec![d.id.clone(), d.secret.clone()])
        .collect();
    table(&["id", "secret"], &rows)
}

pub(super) fn jobs_table(jobs: &[JobInfo]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.device_id.clone(),
                j.job.module.clone(),
                j.job.firmware_name.clone(),
                j.job.target_version.clone(),
                j.job.phase.as_str().to_string(),
                j.job.created_at.clone(),
                j.job.offered_at.clone().unwrap_or_default(),
                j.job.last_step.map(|s| s.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "device",
            "module",
            "firmware",
            "target",
            "phase",
            "created_at",
            "offered_at",
            "step",
        ],
        &rows,
    )
}

/// `device summary`: the totals as fields, then devices per firmware and version and per job
/// state as tables (most devices first, as the server orders them).
pub(super) fn summary_text(s: &FleetSummary) -> String {
    let totals = fields(&[
        ("devices", s.total.to_string()),
        ("banned", s.banned.to_string()),
        ("seen 1h", s.seen.hour.to_string()),
        ("seen 24h", s.seen.day.to_string()),
        ("seen 7d", s.seen.week.to_string()),
        ("computed_at", s.computed_at.clone()),
    ]);
    let versions: Vec<Vec<String>> = s
        .versions
        .iter()
        .map(|v| {
            vec![
                v.firmware_name.clone().unwrap_or_default(),
                v.version.clone().unwrap_or_default(),
                v.devices.to_string(),
            ]
        })
        .collect();
    let states: Vec<Vec<String>> = s
        .states
        .iter()
        .map(|st| vec![st.state.as_str().to_string(), st.devices.to_string()])
        .collect();
    format!(
        "{totals}\n{}\n{}",
        table(&["firmware", "version", "devices"], &versions),
        table(&["state", "devices"], &states)
    )
}

/// `fota device cancel|uncancel`: what changed, or that nothing did.
async fn cancel(
    api: &ApiClient,
    project: &str,
    id: &str,
    firmware_name: Option<&str>,
    cancel: bool,
    out: Output,
) -> Result<(), CliError> {
    let result = api
        .cancel_device(project, id, firmware_name, cancel)
        .await?;
    out.print(&result, || strings::cancelled(&result))
}
