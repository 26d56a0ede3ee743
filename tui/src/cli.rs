//! The scriptable side: `fota <noun> <verb>` parsed with clap, human tables or the API's JSON on
//! stdout, and exit codes scripts can branch on.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use fota_shared::api::{
    ActivityHour, AuditEntry, AuditPage, ConfirmResult, ConfirmSpec, Delivery, Device, DeviceEvent,
    DeviceList, DevicePhase, Firmware, FleetSummary, ImageKind, JobInfo, JobPhase, Plan, PlanSpec,
    Project, ProjectSpec, ProvisionSpec, Provisioned, ProvisionedDevice, Ratio, RolloutAction,
    RolloutSpec,
    RolloutStatus, RotateSpec, SigningKeyList, TokenInfo, TokenSpec, DEFAULT_MAX_FAILURE_PPM,
    DEFAULT_MIN_SAMPLE, DEFAULT_VERIFY_TIMEOUT_S,
};
use fota_shared::routes::Role;
use serde::Serialize;

use crate::api::{ApiClient, ApiError, AuditQuery, DeviceQuery, UploadDetails};
use crate::app::CheckNowTarget;
use crate::config::{ConfigError, Connection, FALLBACK_PROJECT};
use crate::form::{
    format_duration, parse_duration, parse_imei_range, parse_ratio, parse_stages, parse_window,
};
use crate::shell::{expand_home, sha256_hex};
use crate::text;

pub const EXIT_OK: u8 = 0;
/// Also what clap exits with on a usage error.
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_FOUND: u8 = 3;
/// The server answered and refused (any 4xx but 404).
pub const EXIT_REFUSED: u8 = 4;
/// No answer, a 5xx, or an answer that is not the API's.
pub const EXIT_UNREACHABLE: u8 = 5;

/// Devices per request for `device list --all`.
const ALL_PAGE: u32 = 500;
/// Audit entries per request for `audit --all`.
const AUDIT_ALL_PAGE: u32 = 500;

#[derive(Debug, Parser)]
#[command(
    name = "fota",
    version,
    about = "Operate a fota-edge deployment: a dashboard without arguments, scriptable commands with them."
)]
pub struct Cli {
    /// Profile of ~/.config/fota/config.toml (local, staging, prod, …).
    #[arg(long, global = true, env = "FOTA_PROFILE")]
    pub profile: Option<String>,
    /// Project key; default: the server's only project, else `demo`.
    #[arg(long, global = true, env = "FOTA_PROJECT")]
    pub project: Option<String>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Noun>,
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum Noun {
    /// Projects: each has its own firmware, plans and devices.
    Project {
        #[command(subcommand)]
        verb: ProjectVerb,
    },
    /// Firmware images.
    Firmware {
        #[command(subcommand)]
        verb: FirmwareVerb,
    },
    /// Rollout plans, one per firmware name.
    Plan {
        #[command(subcommand)]
        verb: PlanVerb,
    },
    /// The device registry.
    Device {
        #[command(subcommand)]
        verb: DeviceVerb,
    },
    /// API tokens and their roles (admin only).
    Token {
        #[command(subcommand)]
        verb: TokenVerb,
    },
    /// The project's notice signing keys (module OTA): the public keys devices pin.
    Keys {
        #[command(subcommand)]
        verb: KeysVerb,
    },
    /// The audit log of every change, newest first. `--project` filters by project.
    Audit {
        /// Only changes by this token name.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action, e.g. `POST projects/{key}/plans/{firmware_name}/pause`.
        #[arg(long)]
        action: Option<String>,
        /// Only changes at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Entries per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Follow the cursor through every page.
        #[arg(long)]
        all: bool,
    },
    /// The project's device checks and deliveries per hour, oldest first.
    Activity {
        /// How many hours back, the current one included (1 to 720).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
        hours: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(arg: RoleArg) -> Role {
        match arg {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Operator => Role::Operator,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum TokenVerb {
    /// Create a token; its secret is printed once, never again.
    Create {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    List,
    /// Revoke a token: requests with it are refused from now on.
    Revoke {
        name: String,
    },
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum KeysVerb {
    /// The keys devices may trust now: the active one and those in their overlap period.
    List,
    /// Start signing with a new key; the old ones stay trusted for the overlap.
    Rotate {
        /// How long the old keys stay trusted beside the new one (90, 30m, 2h, 7d; default 7d).
        #[arg(long, value_parser = parse_duration_arg)]
        overlap: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobPhaseArg {
    /// Held until the owner confirms it (`device confirm`).
    #[value(alias = "awaiting_confirmation")]
    AwaitingConfirmation,
    /// Offered to the device.
    #[value(alias = "in_progress")]
    InProgress,
}

impl From<JobPhaseArg> for JobPhase {
    fn from(arg: JobPhaseArg) -> JobPhase {
        match arg {
            JobPhaseArg::AwaitingConfirmation => JobPhase::AwaitingConfirmation,
            JobPhaseArg::InProgress => JobPhase::InProgress,
        }
    }
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum ProjectVerb {
    List,
    /// Show one project (default: the current one).
    Show {
        key: Option<String>,
    },
    /// Create or update a project.
    Set {
        key: String,
        #[arg(long)]
        name: String,
        /// Deliveries of one target before a device is banned.
        #[arg(long)]
        ban_after: Option<u32>,
    },
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum FirmwareVerb {
    /// Upload an image; its sha256 is computed first and sent along.
    Upload {
        file: PathBuf,
        /// Firmware name the image belongs to.
        #[arg(long)]
        name: String,
        /// Version of the image.
        #[arg(long)]
        version: String,
        /// The module the image is for (default: the whole device).
        #[arg(long)]
        module: Option<String>,
        #[arg(long, value_enum, default_value_t = KindArg::Full)]
        kind: KindArg,
        /// For a delta: the version it applies to.
        #[arg(long, required_if_eq("kind", "delta"))]
        source_version: Option<String>,
        /// Free text shown with the image.
        #[arg(long)]
        notes: Option<String>,
    },
    List,
    Show {
        firmware_name: String,
        version: String,
    },
    Delete {
        firmware_name: String,
        version: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Full,
    Script,
    Delta,
}

impl From<KindArg> for ImageKind {
    fn from(arg: KindArg) -> ImageKind {
        match arg {
            KindArg::Full => ImageKind::Full,
            KindArg::Script => ImageKind::Script,
            KindArg::Delta => ImageKind::Delta,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Idle,
    Offered,
    Succeeded,
    Failed,
    Banned,
}

impl From<StateArg> for DevicePhase {
    fn from(arg: StateArg) -> DevicePhase {
        match arg {
            StateArg::Idle => DevicePhase::Idle,
            StateArg::Offered => DevicePhase::Offered,
            StateArg::Succeeded => DevicePhase::Succeeded,
            StateArg::Failed => DevicePhase::Failed,
            StateArg::Banned => DevicePhase::Banned,
        }
    }
}

/// One `--stages` value; an alias so clap takes it as one value, not a repeated flag.
pub type StageList = Vec<u32>;

/// `plan set`'s rollout flags; `--stages` makes a staged rollout, the others refine it.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct RolloutArgs {
    /// Cumulative percentages of the eligible devices, e.g. 1,10,50,100.
    #[arg(long, value_parser = parse_stages)]
    pub stages: Option<StageList>,
    /// A test device offered the image before any stage (repeatable).
    #[arg(long = "verify-device")]
    pub verify_devices: Vec<String>,
    /// How long the test devices have to report the target (90, 30m, 2h, 1d; default 1d).
    #[arg(long, value_parser = parse_duration_arg)]
    pub verify_timeout: Option<u64>,
    /// Failed share of a stage's outcomes that pauses the rollout (0.2 or 20%; default 0.2).
    #[arg(long, value_parser = parse_ratio)]
    pub max_failure_ratio: Option<Ratio>,
    /// Outcomes a stage needs before its failure ratio is judged (default 10).
    #[arg(long)]
    pub min_sample: Option<u32>,
    /// Most first offers per minute across the fleet.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_minute: Option<u32>,
    /// Offer only within this UTC window, HH:MM-HH:MM.
    #[arg(long, value_parser = parse_window)]
    pub window: Option<[String; 2]>,
    /// Move to the next stage by itself once a stage is settled, healthy and soaked.
    #[arg(long)]
    pub auto_advance: bool,
    /// How long a stage runs before it may auto-advance (90, 30m, 2h, 1d).
    #[arg(long, value_parser = parse_duration_arg)]
    pub soak: Option<u64>,
}

fn parse_duration_arg(text: &str) -> Result<u64, String> {
    parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 90, 30s, 15m, 2h or 1d"))
}

impl RolloutArgs {
    /// The plan's `rollout`: `None` without `--stages`, which the other flags need.
    pub fn spec(self) -> Result<Option<RolloutSpec>, CliError> {
        let Some(stages) = self.stages else {
            let refining = self != RolloutArgs::default();
            return if refining {
                Err(CliError::Usage(
                    "the rollout flags need --stages (e.g. --stages 1,10,50,100)".into(),
                ))
            } else {
                Ok(None)
            };
        };
        Ok(Some(RolloutSpec {
            verify_devices: self.verify_devices,
            verify_timeout_s: self.verify_timeout.unwrap_or(DEFAULT_VERIFY_TIMEOUT_S),
            stages,
            max_failure_ratio: self
                .max_failure_ratio
                .unwrap_or(Ratio::from_ppm(DEFAULT_MAX_FAILURE_PPM)),
            min_sample: self.min_sample.unwrap_or(DEFAULT_MIN_SAMPLE),
            max_per_minute: self.max_per_minute,
            window_utc: self.window,
            auto_advance: self.auto_advance,
            soak_s: self.soak.unwrap_or(0),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryArg {
    Stream,
    Redirect,
}

impl From<DeliveryArg> for Delivery {
    fn from(arg: DeliveryArg) -> Delivery {
        match arg {
            DeliveryArg::Stream => Delivery::Stream,
            DeliveryArg::Redirect => Delivery::Redirect,
        }
    }
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum PlanVerb {
    /// Create or replace the plan of a firmware.
    Set {
        firmware_name: String,
        #[arg(long)]
        target: String,
        /// Only devices on this version are offered the target (repeatable).
        #[arg(long = "from")]
        from_versions: Vec<String>,
        /// A device id of the device set (repeatable).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// An inclusive id range LO-HI of the device set (repeatable).
        #[arg(long = "imei-range", value_parser = parse_imei_range)]
        imei_ranges: Vec<[String; 2]>,
        #[arg(long, value_enum, default_value_t = DeliveryArg::Stream)]
        delivery: DeliveryArg,
        #[arg(long)]
        allow_downgrade: bool,
        /// Time from an offer to the device reporting the target before its job fails.
        #[arg(long, value_parser = parse_duration_arg)]
        job_timeout: Option<u64>,
        /// Module OTA: hold each device's job until the owner confirms it (`device confirm`).
        #[arg(long)]
        needs_confirm: bool,
        #[command(flatten)]
        rollout: Box<RolloutArgs>,
    },
    Show {
        firmware_name: String,
    },
    List,
    Delete {
        firmware_name: String,
    },
    /// The rollout's state, stage and counts.
    Status {
        firmware_name: String,
    },
    /// Stop new offers; devices already offered may finish.
    Pause {
        firmware_name: String,
    },
    /// Offer again after a pause.
    Resume {
        firmware_name: String,
    },
    /// Move to the next stage now.
    Advance {
        firmware_name: String,
    },
    /// Stop the rollout for good.
    Cancel {
        firmware_name: String,
    },
    /// Tell every connected device of the plan's device set to check now.
    CheckNow {
        firmware_name: String,
    },
}

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
        state: Option<StateArg>,
        /// Only devices seen at or after this RFC 3339 time.
        #[arg(long)]
        seen_since: Option<String>,
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
    },
    /// De-provision a JSON device: its signed requests are refused from now on.
    Deprovision {
        id: String,
    },
    /// Module-OTA jobs: held for confirmation or in progress.
    Jobs {
        #[arg(long, value_enum)]
        phase: Option<JobPhaseArg>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    /// The call succeeded for some items and the server refused the others (already printed).
    #[error("{0}")]
    Partial(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => EXIT_USAGE,
            CliError::Partial(_) => EXIT_REFUSED,
            CliError::Api(err) => api_exit_code(err),
        }
    }
}

pub fn api_exit_code(err: &ApiError) -> u8 {
    match err {
        ApiError::Status { status: 404, .. } => EXIT_NOT_FOUND,
        ApiError::Status { status, .. } if *status < 500 => EXIT_REFUSED,
        ApiError::Status { .. } | ApiError::Unreachable { .. } | ApiError::Decode { .. } => {
            EXIT_UNREACHABLE
        }
    }
}

/// Runs one noun-verb command, printing its result to stdout.
pub async fn run(noun: Noun, json: bool, connection: &Connection) -> Result<(), CliError> {
    let api = ApiClient::new(&connection.url, connection.token.clone());
    let out = Output { json };
    match noun {
        Noun::Project { verb } => match verb {
            ProjectVerb::List => {
                let list = api.projects().await?;
                out.print(&list, || projects_table(&list.projects))
            }
            ProjectVerb::Show { key } => {
                let key = match key {
                    Some(key) => key,
                    None => project_key(&api, connection).await?,
                };
                let project = api.project(&key).await?;
                out.print(&project, || project_fields(&project))
            }
            ProjectVerb::Set {
                key,
                name,
                ban_after,
            } => {
                let project = api
                    .put_project(&key, &ProjectSpec { name, ban_after })
                    .await?;
                out.print(&project, || project_fields(&project))
            }
        },
        Noun::Firmware { verb } => {
            let project = project_key(&api, connection).await?;
            match verb {
                FirmwareVerb::Upload {
                    file,
                    name,
                    version,
                    module,
                    kind,
                    source_version,
                    notes,
                } => {
                    let details = UploadDetails {
                        module,
                        kind: kind.into(),
                        source_version,
                        notes,
                    };
                    upload(&api, &project, &file, (&name, &version, &details), out).await
                }
                FirmwareVerb::List => {
                    let list = api.firmware_list(&project).await?;
                    out.print(&list, || firmware_table(&list.firmware))
                }
                FirmwareVerb::Show {
                    firmware_name,
                    version,
                } => {
                    let image = api.firmware(&project, &firmware_name, &version).await?;
                    out.print(&image, || firmware_fields(&image))
                }
                FirmwareVerb::Delete {
                    firmware_name,
                    version,
                } => {
                    api.delete_firmware(&project, &firmware_name, &version)
                        .await?;
                    out.done(text::deleted_firmware(&firmware_name, &version))
                }
            }
        }
        Noun::Plan { verb } => {
            let project = project_key(&api, connection).await?;
            match verb {
                PlanVerb::Set {
                    firmware_name,
                    target,
                    from_versions,
                    devices,
                    imei_ranges,
                    delivery,
                    allow_downgrade,
                    job_timeout,
                    needs_confirm,
                    rollout,
                } => {
                    let spec = PlanSpec {
                        target_version: target,
                        from_versions,
                        devices,
                        imei_ranges,
                        delivery: delivery.into(),
                        allow_downgrade,
                        rollout: rollout.spec()?,
                        job_timeout_s: job_timeout,
                        needs_confirm,
                    };
                    let plan = api.put_plan(&project, &firmware_name, &spec).await?;
                    out.print(&plan, || plan_fields(&plan))
                }
                PlanVerb::Show { firmware_name } => {
                    let plan = api.plan(&project, &firmware_name).await?;
                    out.print(&plan, || plan_fields(&plan))
                }
                PlanVerb::List => {
                    let list = api.plans(&project).await?;
                    out.print(&list, || plans_table(&list.plans))
                }
                PlanVerb::Delete { firmware_name } => {
                    api.delete_plan(&project, &firmware_name).await?;
                    out.done(text::deleted_plan(&firmware_name))
                }
                PlanVerb::Status { firmware_name } => {
                    let status = api.plan_status(&project, &firmware_name).await?;
                    out.print(&status, || status_fields(&firmware_name, &status))
                }
                PlanVerb::Pause { firmware_name } => {
                    control(&api, &project, &firmware_name, RolloutAction::Pause, out).await
                }
                PlanVerb::Resume { firmware_name } => {
                    control(&api, &project, &firmware_name, RolloutAction::Resume, out).await
                }
                PlanVerb::Advance { firmware_name } => {
                    control(&api, &project, &firmware_name, RolloutAction::Advance, out).await
                }
                PlanVerb::Cancel { firmware_name } => {
                    control(&api, &project, &firmware_name, RolloutAction::Cancel, out).await
                }
                PlanVerb::CheckNow { firmware_name } => {
                    let result = api.check_now_plan(&project, &firmware_name).await?;
                    let target = CheckNowTarget::Plan(firmware_name);
                    out.print(&result, || {
                        format!("{}\n", text::checked_now(&target, &result))
                    })
                }
            }
        }
        Noun::Device { verb } => {
            let project = project_key(&api, connection).await?;
            match verb {
                DeviceVerb::List {
                    version,
                    banned,
                    state,
                    seen_since,
                    limit,
                    all,
                } => {
                    let query = DeviceQuery {
                        limit: limit.or(all.then_some(ALL_PAGE)),
                        version,
                        banned: banned.then_some(true),
                        state: state.map(|s| DevicePhase::from(s).as_str().to_string()),
                        seen_since,
                        ..DeviceQuery::default()
                    };
                    let list = if all {
                        all_devices(&api, &project, query).await?
                    } else {
                        api.devices(&project, &query).await?
                    };
                    if !json && list.next_cursor.is_some() {
                        eprintln!("(more devices follow: use --all or a larger --limit)");
                    }
                    out.print(&list, || devices_table(&list.devices))
                }
                DeviceVerb::Show { id } => {
                    let (device, history) =
                        tokio::join!(api.device(&project, &id), api.device_history(&project, &id));
                    let shown = DeviceWithHistory {
                        device: device?,
                        history: history?.events,
                    };
                    out.print(&shown, || {
                        device_fields(&shown.device) + "\n" + &history_table(&shown.history)
                    })
                }
                DeviceVerb::Summary => {
                    let summary = api.summary(&project).await?;
                    out.print(&summary, || summary_text(&summary))
                }
                DeviceVerb::Unban { id } => {
                    let device = api.unban_device(&project, &id).await?;
                    out.print(&device, || device_fields(&device))
                }
                DeviceVerb::Forget { id } => {
                    api.forget_device(&project, &id).await?;
                    let done = serde_json::json!({ "forgotten": id });
                    out.print(&done, || format!("forgot device {id}\n"))
                }
                DeviceVerb::Move { id, to } => {
                    let device = api.move_device(&project, &id, &to).await?;
                    out.print(&device, || device_fields(&device))
                }
                DeviceVerb::Confirm { ids } => confirm(&api, &project, ids, out).await,
                DeviceVerb::CheckNow { id } => {
                    let result = api.check_now_device(&project, &id).await?;
                    let target = CheckNowTarget::Device(id);
                    out.print(&result, || {
                        format!("{}\n", text::checked_now(&target, &result))
                    })
                }
                DeviceVerb::Provision { ids, rekey } => {
                    let provisioned = api
                        .provision_devices(&project, &ProvisionSpec { devices: ids, rekey })
                        .await?;
                    if !provisioned.devices.is_empty() {
                        // On stderr, so it shows even when stdout goes to a file or to `jq`.
                        eprintln!("{}", text::SECRETS_SHOWN_ONCE);
                    }
                    out.print(&provisioned, || provisioned_lines(&provisioned))
                }
                DeviceVerb::Deprovision { id } => {
                    api.deprovision_device(&project, &id).await?;
                    let done = serde_json::json!({ "deprovisioned": id });
                    out.print(&done, || text::deprovisioned(&id))
                }
                DeviceVerb::Jobs { phase } => {
                    let list = api.jobs(&project, phase.map(JobPhase::from)).await?;
                    out.print(&list, || jobs_table(&list.jobs))
                }
            }
        }
        Noun::Keys { verb } => {
            let project = project_key(&api, connection).await?;
            match verb {
                KeysVerb::List => {
                    let list = api.signing_keys(&project).await?;
                    out.print(&list, || keys_table(&list))
                }
                KeysVerb::Rotate { overlap } => {
                    let spec = RotateSpec { overlap_s: overlap };
                    let list = api.rotate_signing_key(&project, &spec).await?;
                    out.print(&list, || {
                        format!("{}\n{}", text::rotated(&list.active), keys_table(&list))
                    })
                }
            }
        }
        Noun::Token { verb } => match verb {
            TokenVerb::Create { name, role } => {
                let created = api
                    .create_token(&TokenSpec {
                        name,
                        role: role.into(),
                    })
                    .await?;
                out.print(&created, || {
                    format!(
                        "created token {} ({})\nsecret, shown this once: keep it now\n{}\n",
                        created.name,
                        created.role.as_str(),
                        created.token
                    )
                })
            }
            TokenVerb::List => {
                let list = api.tokens().await?;
                out.print(&list, || tokens_table(&list.tokens))
            }
            TokenVerb::Revoke { name } => {
                api.revoke_token(&name).await?;
                out.done(format!("Revoked token {name}."))
            }
        },
        Noun::Audit {
            actor,
            action,
            since,
            limit,
            all,
        } => {
            let query = AuditQuery {
                project: connection.project.clone(),
                actor,
                action,
                since,
                cursor: None,
                limit: limit.or(all.then_some(AUDIT_ALL_PAGE)),
            };
            let page = if all {
                all_audit(&api, query).await?
            } else {
                api.audit(&query).await?
            };
            if !json && page.next_cursor.is_some() {
                eprintln!("(older entries follow: use --all or a larger --limit)");
            }
            out.print(&page, || audit_table(&page.entries))
        }
        Noun::Activity { hours } => {
            let project = project_key(&api, connection).await?;
            let activity = api.activity(&project, hours).await?;
            out.print(&activity, || activity_table(&activity.hours))
        }
    }
}

/// `fota activity`: one row an hour, as the server sent them.
fn activity_table(hours: &[ActivityHour]) -> String {
    let rows: Vec<Vec<String>> = hours
        .iter()
        .map(|h| vec![h.at.clone(), h.checks.to_string(), h.deliveries.to_string()])
        .collect();
    table(&["hour", "checks", "deliveries"], &rows)
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
        Err(CliError::Partial(text::skipped(
            result.skipped.len(),
            result.confirmed.len() + result.skipped.len(),
        )))
    }
}

async fn control(
    api: &ApiClient,
    project: &str,
    firmware_name: &str,
    action: RolloutAction,
    out: Output,
) -> Result<(), CliError> {
    let status = api.control_rollout(project, firmware_name, action).await?;
    out.print(&status, || {
        format!(
            "{}\n{}",
            text::controlled(action, firmware_name, &status),
            status_fields(firmware_name, &status)
        )
    })
}

/// `device show`: the device's fields with its history alongside.
#[derive(Debug, Serialize)]
struct DeviceWithHistory {
    #[serde(flatten)]
    device: Device,
    history: Vec<DeviceEvent>,
}

async fn all_audit(api: &ApiClient, mut query: AuditQuery) -> Result<AuditPage, ApiError> {
    let mut entries = Vec::new();
    loop {
        let page = api.audit(&query).await?;
        entries.extend(page.entries);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => {
                return Ok(AuditPage {
                    entries,
                    next_cursor: None,
                })
            }
        }
    }
}

/// The project named by flag, env or profile; else the server's only project; else `demo`.
async fn project_key(api: &ApiClient, connection: &Connection) -> Result<String, CliError> {
    if let Some(project) = &connection.project {
        return Ok(project.clone());
    }
    let list = api.projects().await?;
    Ok(match list.projects.as_slice() {
        [only] => only.key.clone(),
        _ => FALLBACK_PROJECT.to_string(),
    })
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

async fn upload(
    api: &ApiClient,
    project: &str,
    file: &std::path::Path,
    (name, version, details): (&str, &str, &UploadDetails),
    out: Output,
) -> Result<(), CliError> {
    let path = expand_home(&file.to_string_lossy());
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|err| CliError::Usage(format!("cannot read {}: {err}", path.display())))?;
    let sha256 = sha256_hex(&bytes);
    eprintln!(
        "sha256 {sha256}  {} ({})",
        path.display(),
        text::bytes(bytes.len() as u64)
    );
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(bytes.len() as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("a valid progress template");
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = bar.clone();
    let result = api
        .upload_firmware(
            project,
            name,
            version,
            details,
            bytes,
            &sha256,
            move |sent| progress.set_position(sent),
        )
        .await;
    bar.finish_and_clear();
    let receipt = result?;
    out.print(&receipt, || {
        format!(
            "uploaded {name} {version}\nsize    {}\nsha256  {}\nmd5     {}\n",
            receipt.size, receipt.sha256, receipt.md5
        )
    })
}

/// Where a command's result goes: the API's JSON, or a text for people.
#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    fn print<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string_pretty(value).expect("API types serialize");
            write_stdout(&format!("{text}\n"));
        } else {
            write_stdout(&human());
        }
        Ok(())
    }

    /// A call that answers 204: nothing for `--json` (the API sent no body), a line for people.
    fn done(self, message: String) -> Result<(), CliError> {
        if !self.json {
            write_stdout(&format!("{message}\n"));
        }
        Ok(())
    }
}

/// Left-aligned columns two spaces apart, a header line first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| format!("{key:<width$}  {value}\n"))
        .collect()
}

fn projects_table(projects: &[Project]) -> String {
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|p| {
            vec![
                p.key.clone(),
                p.name.clone(),
                p.ban_after.to_string(),
                p.updated_at.clone(),
            ]
        })
        .collect();
    table(&["key", "name", "ban_after", "updated_at"], &rows)
}

fn project_fields(p: &Project) -> String {
    fields(&[
        ("key", p.key.clone()),
        ("name", p.name.clone()),
        ("ban_after", p.ban_after.to_string()),
        ("created_at", p.created_at.clone()),
        ("updated_at", p.updated_at.clone()),
    ])
}

fn firmware_table(images: &[Firmware]) -> String {
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|f| {
            vec![
                f.firmware_name.clone(),
                f.version.clone(),
                f.module.clone(),
                kind_text(f),
                f.size.to_string(),
                text::short_hash(&f.sha256).to_string(),
                f.md5.clone(),
                f.uploaded_at.clone(),
                f.notes.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "firmware",
            "version",
            "module",
            "kind",
            "size",
            "sha256",
            "md5",
            "uploaded_at",
            "notes",
        ],
        &rows,
    )
}

fn firmware_fields(f: &Firmware) -> String {
    fields(&[
        ("firmware", f.firmware_name.clone()),
        ("version", f.version.clone()),
        ("size", f.size.to_string()),
        ("sha256", f.sha256.clone()),
        ("md5", f.md5.clone()),
        ("module", f.module.clone()),
        ("kind", f.kind.as_str().to_string()),
        (
            "source_version",
            f.source_version.clone().unwrap_or_default(),
        ),
        ("notes", f.notes.clone().unwrap_or_default()),
        ("uploader", f.uploader.clone().unwrap_or_default()),
        ("uploaded_at", f.uploaded_at.clone()),
    ])
}

/// `full`, `script`, or `delta←1.1.0` with the version a delta applies to.
pub fn kind_text(f: &Firmware) -> String {
    match (f.kind, &f.source_version) {
        (ImageKind::Delta, Some(source)) => format!("delta←{source}"),
        (kind, _) => kind.as_str().to_string(),
    }
}

fn delivery_name(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Stream => "stream",
        Delivery::Redirect => "redirect",
    }
}

fn plans_table(plans: &[Plan]) -> String {
    let rows: Vec<Vec<String>> = plans
        .iter()
        .map(|p| {
            vec![
                p.firmware_name.clone(),
                p.spec.target_version.clone(),
                delivery_name(p.spec.delivery).to_string(),
                text::device_set(p.spec.devices.len(), p.spec.imei_ranges.len()),
                if p.spec.from_versions.is_empty() {
                    text::ANY_VERSION.to_string()
                } else {
                    p.spec.from_versions.join(",")
                },
                text::yes_no(p.spec.allow_downgrade).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "firmware",
            "target",
            "delivery",
            "devices",
            "from",
            "downgrade",
        ],
        &rows,
    )
}

fn plan_fields(p: &Plan) -> String {
    let ranges: Vec<String> = p
        .spec
        .imei_ranges
        .iter()
        .map(|[lo, hi]| format!("{lo}-{hi}"))
        .collect();
    fields(&[
        ("firmware", p.firmware_name.clone()),
        ("target", p.spec.target_version.clone()),
        ("from", p.spec.from_versions.join(",")),
        ("devices", p.spec.devices.join(",")),
        ("imei_ranges", ranges.join(",")),
        ("delivery", delivery_name(p.spec.delivery).to_string()),
        (
            "downgrade",
            text::yes_no(p.spec.allow_downgrade).to_string(),
        ),
        (
            "job_timeout",
            p.spec
                .job_timeout_s
                .map(format_duration)
                .unwrap_or_default(),
        ),
        ("rollout", text::rollout_summary(p.spec.rollout.as_ref())),
        (
            "needs_confirm",
            text::yes_no(p.spec.needs_confirm).to_string(),
        ),
        ("module", p.image.module.clone()),
        ("sha256", p.image.sha256.clone()),
        ("md5", p.image.md5.clone()),
        ("size", p.image.size.to_string()),
        ("updated_at", p.updated_at.clone()),
    ])
}

fn counts_cells(c: &fota_shared::api::RolloutCounts) -> Vec<String> {
    [
        c.eligible,
        c.offered,
        c.succeeded,
        c.failed,
        c.banned,
        c.pending,
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

fn status_fields(firmware_name: &str, s: &RolloutStatus) -> String {
    let mut pairs = vec![
        ("plan", firmware_name.to_string()),
        ("state", s.state.as_str().to_string()),
        ("stage", text::stage(s)),
        ("percent", format!("{}%", s.percent)),
    ];
    if let Some(reason) = &s.paused_reason {
        pairs.push(("paused_reason", reason.clone()));
    }
    if let Some(reason) = &s.failed_reason {
        pairs.push(("failed_reason", reason.clone()));
    }
    pairs.push(("started_at", s.started_at.clone()));
    pairs.push(("stage_started_at", s.stage_started_at.clone()));
    pairs.push(("totals", text::counts(&s.totals)));
    let mut rows = vec![[
        vec!["verify".to_string(), "-".to_string()],
        counts_cells(&s.verification),
    ]
    .concat()];
    for (i, stage) in s.stages.iter().enumerate() {
        let marker = if i as i32 == s.stage { "▸" } else { "" };
        rows.push(
            [
                vec![format!("{marker}{}", i + 1), format!("{}%", stage.percent)],
                counts_cells(&stage.counts),
            ]
            .concat(),
        );
    }
    rows.push(
        [
            vec!["total".to_string(), String::new()],
            counts_cells(&s.totals),
        ]
        .concat(),
    );
    fields(&pairs)
        + "\n"
        + &table(
            &[
                "stage",
                "percent",
                "eligible",
                "offered",
                "succeeded",
                "failed",
                "banned",
                "pending",
            ],
            &rows,
        )
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

fn tokens_table(tokens: &[TokenInfo]) -> String {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.role.as_str().to_string(),
                t.created_at.clone(),
                t.created_by.clone(),
                t.revoked_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["name", "role", "created_at", "created_by", "revoked_at"],
        &rows,
    )
}

fn audit_table(entries: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.project_key.clone().unwrap_or_default(),
                e.target.clone(),
            ]
        })
        .collect();
    table(&["id", "at", "actor", "action", "project", "target"], &rows)
}

fn confirm_lines(result: &ConfirmResult) -> String {
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
fn provisioned_lines(provisioned: &Provisioned) -> String {
    let mut out = String::new();
    if !provisioned.devices.is_empty() {
        out += &secrets_table(&provisioned.devices);
    }
    if !provisioned.already_provisioned.is_empty() {
        out += &text::already_provisioned(&provisioned.already_provisioned);
    }
    out
}

fn secrets_table(devices: &[ProvisionedDevice]) -> String {
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| vec![d.id.clone(), d.secret.clone()])
        .collect();
    table(&["id", "secret"], &rows)
}

/// Milliseconds since the epoch as RFC 3339, empty for none.
fn ms_time(ms: Option<i64>) -> String {
    ms.map(fota_shared::time::rfc3339).unwrap_or_default()
}

fn jobs_table(jobs: &[JobInfo]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.device_id.clone(),
                j.job.module.clone(),
                j.job.firmware_name.clone(),
                j.job.target_version.clone(),
                j.job.phase.as_str().to_string(),
                ms_time(Some(j.job.created_ms)),
                ms_time(j.job.offered_ms),
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

fn keys_table(list: &SigningKeyList) -> String {
    let rows: Vec<Vec<String>> = list
        .keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                if k.id == list.active {
                    "active".to_string()
                } else {
                    String::new()
                },
                ms_time(Some(k.created_ms)),
                ms_time(k.retire_after_ms),
                k.public_key_hex.clone(),
            ]
        })
        .collect();
    table(
        &["id", "active", "created_at", "retire_after", "public_key"],
        &rows,
    )
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
                d.state.clone().unwrap_or_default(),
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
        ("banned", text::yes_no(d.banned).to_string()),
        ("state", d.state.clone().unwrap_or_default()),
        ("cause", d.cause.clone().unwrap_or_default()),
    ])
}

/// `device summary`: the totals as fields, then devices per firmware and version and per job
/// state as tables (most devices first, as the server orders them).
fn summary_text(s: &FleetSummary) -> String {
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
        .map(|st| vec![st.state.clone(), st.devices.to_string()])
        .collect();
    format!(
        "{totals}\n{}\n{}",
        table(&["firmware", "version", "devices"], &versions),
        table(&["state", "devices"], &states)
    )
}

/// Writes to stdout; a reader that went away (`fota device list | head`) ends the output
/// quietly instead of panicking, as command-line tools do.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("fota").chain(args.split_whitespace()))
    }

    #[track_caller]
    fn check(args: &str, expected: Noun) {
        assert_eq!(parse(args).unwrap().command, Some(expected), "{args}");
    }

    #[test]
    fn nouns_and_verbs_parse() {
        check(
            "project list",
            Noun::Project {
                verb: ProjectVerb::List,
            },
        );
        check(
            "project show",
            Noun::Project {
                verb: ProjectVerb::Show { key: None },
            },
        );
        check(
            "project set demo --name Demo --ban-after 3",
            Noun::Project {
                verb: ProjectVerb::Set {
                    key: "demo".into(),
                    name: "Demo".into(),
                    ban_after: Some(3),
                },
            },
        );
        check(
            "firmware upload fw.bin --name app --version 1.2.3",
            Noun::Firmware {
                verb: FirmwareVerb::Upload {
                    file: "fw.bin".into(),
                    name: "app".into(),
                    version: "1.2.3".into(),
                    module: None,
                    kind: KindArg::Full,
                    source_version: None,
                    notes: None,
                },
            },
        );
        check(
            "firmware delete app 1.2.3",
            Noun::Firmware {
                verb: FirmwareVerb::Delete {
                    firmware_name: "app".into(),
                    version: "1.2.3".into(),
                },
            },
        );
        check(
            "plan set app --target 2 --from 1 --from 1.1 --device a --imei-range 1-9 --delivery redirect --allow-downgrade",
            Noun::Plan {
                verb: PlanVerb::Set {
                    firmware_name: "app".into(),
                    target: "2".into(),
                    from_versions: vec!["1".into(), "1.1".into()],
                    devices: vec!["a".into()],
                    imei_ranges: vec![["1".into(), "9".into()]],
                    delivery: DeliveryArg::Redirect,
                    allow_downgrade: true,
                    job_timeout: None,
                    needs_confirm: false,
                    rollout: Box::default(),
                },
            },
        );
        check(
            "device list --version 1.0 --banned --limit 5 --all",
            Noun::Device {
                verb: DeviceVerb::List {
                    version: Some("1.0".into()),
                    banned: true,
                    state: None,
                    seen_since: None,
                    limit: Some(5),
                    all: true,
                },
            },
        );
        check(
            "device unban 8600",
            Noun::Device {
                verb: DeviceVerb::Unban { id: "8600".into() },
            },
        );
        check(
            "device forget 8600",
            Noun::Device {
                verb: DeviceVerb::Forget { id: "8600".into() },
            },
        );
        check(
            "device move 8600 --to other",
            Noun::Device {
                verb: DeviceVerb::Move { id: "8600".into(), to: "other".into() },
            },
        );
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse("plan list --json --project p1").unwrap();
        assert!(cli.json);
        assert_eq!(cli.project.as_deref(), Some("p1"));
        let cli = parse("--profile prod device show x").unwrap();
        assert_eq!(cli.profile.as_deref(), Some("prod"));
    }

    #[test]
    fn no_subcommand_means_the_dashboard() {
        assert_eq!(parse("").unwrap().command, None);
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            "plan set app",
            "plan set app --target 2 --imei-range 5",
            "device list --limit x",
            "firmware zap",
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
        }
    }

    #[test]
    fn api_errors_map_to_exit_codes() {
        let status = |status: u16| ApiError::Status {
            status,
            code: "x".into(),
            message: "m".into(),
        };
        let cases = [
            (status(404), EXIT_NOT_FOUND),
            (status(400), EXIT_REFUSED),
            (status(401), EXIT_REFUSED),
            (status(409), EXIT_REFUSED),
            (status(413), EXIT_REFUSED),
            (status(500), EXIT_UNREACHABLE),
            (status(503), EXIT_UNREACHABLE),
            (
                ApiError::Unreachable {
                    url: "u".into(),
                    reason: "refused".into(),
                },
                EXIT_UNREACHABLE,
            ),
            (
                ApiError::Decode {
                    url: "u".into(),
                    reason: "eof".into(),
                },
                EXIT_UNREACHABLE,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(CliError::Api(err).exit_code(), code);
        }
        assert_eq!(CliError::Usage("bad file".into()).exit_code(), EXIT_USAGE);
    }

    #[test]
    fn tables_align_columns() {
        let out = table(
            &["id", "version"],
            &[
                vec!["a-long-id".into(), "1".into()],
                vec!["b".into(), "2.0".into()],
            ],
        );
        assert_eq!(out, "id         version\na-long-id  1\nb          2.0\n");
    }

    #[test]
    fn rollout_flags_parse_into_a_rollout() {
        let cli = parse(
            "plan set app --target 2 --stages 1,10,50,100 --verify-device a --verify-device b \
             --max-failure-ratio 0.1 --min-sample 5 --max-per-minute 30 --window 01:00-05:00 \
             --auto-advance --soak 1h --job-timeout 30m",
        )
        .unwrap();
        let Some(Noun::Plan {
            verb:
                PlanVerb::Set {
                    rollout,
                    job_timeout,
                    ..
                },
        }) = cli.command
        else {
            panic!("plan set expected")
        };
        assert_eq!(job_timeout, Some(1800));
        let spec = rollout.spec().unwrap().unwrap();
        assert_eq!(
            spec,
            RolloutSpec {
                verify_devices: vec!["a".into(), "b".into()],
                verify_timeout_s: DEFAULT_VERIFY_TIMEOUT_S,
                stages: vec![1, 10, 50, 100],
                max_failure_ratio: Ratio::from_ppm(100_000),
                min_sample: 5,
                max_per_minute: Some(30),
                window_utc: Some(["01:00".into(), "05:00".into()]),
                auto_advance: true,
                soak_s: 3600,
            }
        );
        // Without --stages there is no rollout, and its other flags are a usage error.
        assert_eq!(RolloutArgs::default().spec().unwrap(), None);
        let refining = RolloutArgs {
            soak: Some(60),
            ..RolloutArgs::default()
        };
        assert_eq!(refining.spec().unwrap_err().exit_code(), EXIT_USAGE);
    }

    #[test]
    fn new_nouns_and_verbs_parse() {
        for (verb, expected) in [
            (
                "status",
                PlanVerb::Status {
                    firmware_name: "app".into(),
                },
            ),
            (
                "pause",
                PlanVerb::Pause {
                    firmware_name: "app".into(),
                },
            ),
            (
                "resume",
                PlanVerb::Resume {
                    firmware_name: "app".into(),
                },
            ),
            (
                "advance",
                PlanVerb::Advance {
                    firmware_name: "app".into(),
                },
            ),
            (
                "cancel",
                PlanVerb::Cancel {
                    firmware_name: "app".into(),
                },
            ),
        ] {
            check(&format!("plan {verb} app"), Noun::Plan { verb: expected });
        }
        check(
            "device list --state failed --seen-since 2026-11-01T00:00:00Z",
            Noun::Device {
                verb: DeviceVerb::List {
                    version: None,
                    banned: false,
                    state: Some(StateArg::Failed),
                    seen_since: Some("2026-11-01T00:00:00Z".into()),
                    limit: None,
                    all: false,
                },
            },
        );
        check(
            "firmware upload d.bin --name app --version 1.2 --module modem --kind delta --source-version 1.1 --notes fix",
            Noun::Firmware {
                verb: FirmwareVerb::Upload {
                    file: "d.bin".into(),
                    name: "app".into(),
                    version: "1.2".into(),
                    module: Some("modem".into()),
                    kind: KindArg::Delta,
                    source_version: Some("1.1".into()),
                    notes: Some("fix".into()),
                },
            },
        );
        check(
            "token create ci --role operator",
            Noun::Token {
                verb: TokenVerb::Create {
                    name: "ci".into(),
                    role: RoleArg::Operator,
                },
            },
        );
        check(
            "token list",
            Noun::Token {
                verb: TokenVerb::List,
            },
        );
        check(
            "token revoke ci",
            Noun::Token {
                verb: TokenVerb::Revoke { name: "ci".into() },
            },
        );
        check(
            "audit --actor ci --action x --since 2026-11-01T00:00:00Z --limit 20 --all",
            Noun::Audit {
                actor: Some("ci".into()),
                action: Some("x".into()),
                since: Some("2026-11-01T00:00:00Z".into()),
                limit: Some(20),
                all: true,
            },
        );
        check(
            "audit",
            Noun::Audit {
                actor: None,
                action: None,
                since: None,
                limit: None,
                all: false,
            },
        );
    }

    #[test]
    fn activity_parses_with_its_hours() {
        check("activity", Noun::Activity { hours: 24 });
        check("activity --hours 72", Noun::Activity { hours: 72 });
        check("activity --hours 720", Noun::Activity { hours: 720 });
        let cli = parse("activity --hours 1 --json --project pk1").unwrap();
        assert_eq!(cli.command, Some(Noun::Activity { hours: 1 }));
        assert!(cli.json);
        assert_eq!(cli.project.as_deref(), Some("pk1"));
        for args in [
            "activity --hours 0",
            "activity --hours 721",
            "activity --hours day",
            "activity 24",
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
        }
    }

    #[test]
    fn activity_reads_as_a_table_of_hours() {
        let hours = crate::fixtures::activity();
        let out = activity_table(&hours[22..]);
        assert_eq!(
            out,
            "hour                  checks  deliveries\n\
             2026-11-21T23:00:00Z  15      0\n\
             2026-11-22T00:00:00Z  13      1\n"
        );
    }

    #[test]
    fn the_fleet_summary_reads_as_totals_and_two_tables() {
        check(
            "device summary",
            Noun::Device {
                verb: DeviceVerb::Summary,
            },
        );
        let out = summary_text(&crate::fixtures::fleet_summary());
        assert_eq!(
            out,
            "devices      6\n\
             banned       1\n\
             seen 1h      2\n\
             seen 24h     5\n\
             seen 7d      6\n\
             computed_at  2026-11-22T00:17:30Z\n\
             \n\
             firmware  version  devices\n\
             air780    1.2.0    2\n\
             \x20                  1\n\
             air780    1.0.3    1\n\
             air780    1.1.0    1\n\
             esp32     0.9.1    1\n\
             \n\
             state      devices\n\
             idle       3\n\
             succeeded  2\n\
             banned     1\n"
        );
    }

    #[test]
    fn new_usage_errors_exit_2() {
        for args in [
            "plan set app --target 2 --stages 0,10",
            "plan set app --target 2 --stages 50,10",
            "plan set app --target 2 --stages 10 --window 1-5",
            "plan set app --target 2 --stages 10 --max-failure-ratio 2",
            "plan set app --target 2 --stages 10 --max-per-minute 0",
            "plan set app --target 2 --job-timeout soon",
            "plan pause",
            "device list --state broken",
            "firmware upload d.bin --name app --version 1.2 --kind delta",
            "firmware upload d.bin --name app --version 1.2 --kind zip",
            "token create ci",
            "token create ci --role root",
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
        }
    }

    #[test]
    fn module_ota_verbs_parse() {
        let device = |verb| Noun::Device { verb };
        check(
            "device confirm 86001",
            device(DeviceVerb::Confirm {
                ids: vec!["86001".into()],
            }),
        );
        check(
            "device confirm a b c",
            device(DeviceVerb::Confirm {
                ids: vec!["a".into(), "b".into(), "c".into()],
            }),
        );
        check(
            "device check-now 86001",
            device(DeviceVerb::CheckNow { id: "86001".into() }),
        );
        check(
            "device provision dev-1 dev-2",
            device(DeviceVerb::Provision {
                ids: vec!["dev-1".into(), "dev-2".into()],
                rekey: false,
            }),
        );
        check(
            "device provision dev-1 --rekey",
            device(DeviceVerb::Provision {
                ids: vec!["dev-1".into()],
                rekey: true,
            }),
        );
        check(
            "device deprovision dev-1",
            device(DeviceVerb::Deprovision { id: "dev-1".into() }),
        );
        let cli = parse("device provision dev-1 --json").unwrap();
        assert!(cli.json, "--json after the ids");
        check("device jobs", device(DeviceVerb::Jobs { phase: None }));
        check(
            "device jobs --phase awaiting-confirmation",
            device(DeviceVerb::Jobs {
                phase: Some(JobPhaseArg::AwaitingConfirmation),
            }),
        );
        check(
            "device jobs --phase awaiting_confirmation",
            device(DeviceVerb::Jobs {
                phase: Some(JobPhaseArg::AwaitingConfirmation),
            }),
        );
        check(
            "device jobs --phase in-progress",
            device(DeviceVerb::Jobs {
                phase: Some(JobPhaseArg::InProgress),
            }),
        );
        check(
            "plan check-now app",
            Noun::Plan {
                verb: PlanVerb::CheckNow {
                    firmware_name: "app".into(),
                },
            },
        );
        let Some(Noun::Plan {
            verb: PlanVerb::Set { needs_confirm, .. },
        }) = parse("plan set app --target 2 --needs-confirm")
            .unwrap()
            .command
        else {
            panic!("plan set expected")
        };
        assert!(needs_confirm);
        check(
            "keys list",
            Noun::Keys {
                verb: KeysVerb::List,
            },
        );
        check(
            "keys rotate",
            Noun::Keys {
                verb: KeysVerb::Rotate { overlap: None },
            },
        );
        check(
            "keys rotate --overlap 2d",
            Noun::Keys {
                verb: KeysVerb::Rotate {
                    overlap: Some(172_800),
                },
            },
        );
        check(
            "keys rotate --overlap 600",
            Noun::Keys {
                verb: KeysVerb::Rotate { overlap: Some(600) },
            },
        );
        for args in [
            "device confirm",
            "device provision",
            "device check-now",
            "device check-now a b",
            "device jobs --phase done",
            "plan check-now",
            "keys rotate --overlap soon",
            "keys",
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
        }
    }

    #[test]
    fn module_ota_answers_read_as_tables() {
        let result = ConfirmResult {
            confirmed: vec!["a".into()],
            skipped: vec![fota_shared::api::ConfirmSkipped {
                id: "b".into(),
                reason: "no job".into(),
            }],
        };
        assert_eq!(
            confirm_lines(&result),
            "confirmed  a\nskipped    b: no job\n"
        );
        assert_eq!(
            CliError::Partial(text::skipped(1, 2)).exit_code(),
            EXIT_REFUSED
        );
        let out = secrets_table(&[ProvisionedDevice {
            id: "dev-1".into(),
            secret: "s3cr3t".into(),
        }]);
        assert_eq!(out, "id     secret\ndev-1  s3cr3t\n");
        let out = provisioned_lines(&Provisioned {
            devices: vec![ProvisionedDevice {
                id: "dev-1".into(),
                secret: "s3cr3t".into(),
            }],
            already_provisioned: vec!["dev-2".into()],
        });
        assert_eq!(
            out,
            "id     secret\ndev-1  s3cr3t\nalready provisioned, secret kept (--rekey issues a new one): dev-2\n"
        );
        let out = jobs_table(&crate::fixtures::jobs());
        assert!(
            out.contains("sensor-a7   app      esp32     0.9.2   awaiting_confirmation"),
            "{out}"
        );
        assert!(out.contains("in_progress"), "{out}");
        let keys = SigningKeyList {
            active: "k2".into(),
            keys: vec![
                fota_shared::notice::SigningKey {
                    id: "k1".into(),
                    public_key_hex: "aa".into(),
                    created_ms: 0,
                    retire_after_ms: Some(86_400_000),
                },
                fota_shared::notice::SigningKey {
                    id: "k2".into(),
                    public_key_hex: "bb".into(),
                    created_ms: 3_600_000,
                    retire_after_ms: None,
                },
            ],
        };
        let out = keys_table(&keys);
        assert_eq!(
            out,
            "id  active  created_at            retire_after          public_key\n\
             k1          1970-01-01T00:00:00Z  1970-01-02T00:00:00Z  aa\n\
             k2  active  1970-01-01T01:00:00Z                        bb\n"
        );
    }

    #[test]
    fn rollout_status_reads_as_fields_and_a_stage_table() {
        let status = crate::fixtures::statuses().remove(0).1;
        let out = status_fields("air780", &status);
        assert!(out.contains("state             paused\n"), "{out}");
        assert!(out.contains("stage             paused 2/4\n"), "{out}");
        assert!(
            out.contains("paused_reason     failure ratio 0.25 above 0.2 in stage 2\n"),
            "{out}"
        );
        assert!(
            out.contains("▸2      10%      39        28       18         4       1       5"),
            "{out}"
        );
    }
}
