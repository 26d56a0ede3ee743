//! `fota plan`: rollout plans: set (with the rollout flags), show, list, delete, status, the rollout controls and check-now.

use clap::Subcommand;
use fota_shared::api::plans::RolloutStatus;
use fota_shared::api::preview::PlanPreview;
use fota_shared::model::plan::{Delivery, Package, Plan, PlanSpec};
use fota_shared::model::rollout::{
    Ratio, RolloutAction, RolloutCounts, RolloutSpec, DEFAULT_MAX_FAILURE_PPM, DEFAULT_MIN_SAMPLE,
    DEFAULT_VERIFY_TIMEOUT_S,
};

use super::output::{fields, table, Output};
use super::{project_key, CliError};
use crate::api::{ApiClient, CheckNowTarget};
use crate::config::Connection;
use crate::format;
use crate::input::{parse_duration, parse_imei_range, parse_ratio, parse_stages, parse_window};
use crate::strings;

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum PlanVerb {
    /// Create or replace the plan of a firmware.
    Set {
        firmware_name: String,
        #[command(flatten)]
        body: Box<PlanBody>,
    },
    /// What a plan would do, before it is saved: per version of the fleet the package it
    /// gets (or why none), per stage the devices and bytes. Changes nothing.
    Preview {
        firmware_name: String,
        #[command(flatten)]
        body: Box<PlanBody>,
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

/// A plan's body, as `plan set` and `plan preview` take it.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct PlanBody {
    #[arg(long)]
    pub target: String,
    /// Only devices on this version are offered the target (repeatable).
    #[arg(long = "from")]
    pub from_versions: Vec<String>,
    /// A device id of the device set (repeatable).
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// An inclusive id range LO-HI of the device set (repeatable).
    #[arg(long = "imei-range", value_parser = parse_imei_range)]
    pub imei_ranges: Vec<[String; 2]>,
    #[arg(long, value_enum, default_value_t = Delivery::Stream)]
    pub delivery: Delivery,
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Time from an offer to the device reporting the target before its job fails.
    #[arg(long, value_parser = parse_duration_arg)]
    pub job_timeout: Option<u64>,
    /// Module OTA: hold each device's job until the owner confirms it (`device confirm`).
    #[arg(long)]
    pub needs_confirm: bool,
    /// How many devices the plan is expected to reach: sizes its rollout's coordination.
    #[arg(long)]
    pub expected_devices: Option<u64>,
    /// Serve the target's full image only, never a delta (by default a device gets the
    /// delta built for its version when there is one).
    #[arg(long)]
    pub no_deltas: bool,
    #[command(flatten)]
    pub rollout: Box<RolloutArgs>,
}

impl PlanBody {
    pub fn spec(self) -> Result<PlanSpec, CliError> {
        Ok(PlanSpec {
            target_version: self.target,
            from_versions: self.from_versions,
            devices: self.devices,
            imei_ranges: self.imei_ranges,
            delivery: self.delivery,
            allow_downgrade: self.allow_downgrade,
            rollout: self.rollout.spec()?,
            job_timeout_s: self.job_timeout,
            needs_confirm: self.needs_confirm,
            expected_devices: self.expected_devices,
            deltas: self.no_deltas.then_some(false),
        })
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

pub(super) fn parse_duration_arg(text: &str) -> Result<u64, String> {
    parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 90, 30s, 15m, 2h or 1d"))
}

/// Runs one `fota plan` verb.
pub async fn run(
    verb: PlanVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    match verb {
        PlanVerb::Set {
            firmware_name,
            body,
        } => {
            let plan = api
                .put_plan(&project, &firmware_name, &body.spec()?)
                .await?;
            out.print(&plan, || plan_fields(&plan))
        }
        PlanVerb::Preview {
            firmware_name,
            body,
        } => {
            let preview = api
                .preview_plan(&project, &firmware_name, &body.spec()?)
                .await?;
            out.print(&preview, || preview_text(&preview))
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
            out.done(strings::deleted_plan(&firmware_name))
        }
        PlanVerb::Status { firmware_name } => {
            let status = api.plan_status(&project, &firmware_name).await?;
            out.print(&status, || status_fields(&firmware_name, &status))
        }
        PlanVerb::Pause { firmware_name } => {
            control(api, &project, &firmware_name, RolloutAction::Pause, out).await
        }
        PlanVerb::Resume { firmware_name } => {
            control(api, &project, &firmware_name, RolloutAction::Resume, out).await
        }
        PlanVerb::Advance { firmware_name } => {
            control(api, &project, &firmware_name, RolloutAction::Advance, out).await
        }
        PlanVerb::Cancel { firmware_name } => {
            control(api, &project, &firmware_name, RolloutAction::Cancel, out).await
        }
        PlanVerb::CheckNow { firmware_name } => {
            let result = api.check_now_plan(&project, &firmware_name).await?;
            let target = CheckNowTarget::Plan(firmware_name);
            out.print(&result, || {
                format!("{}\n", strings::checked_now(&target, &result))
            })
        }
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
            strings::controlled(action, firmware_name, &status),
            status_fields(firmware_name, &status)
        )
    })
}

fn plans_table(plans: &[Plan]) -> String {
    let rows: Vec<Vec<String>> = plans
        .iter()
        .map(|p| {
            vec![
                p.firmware_name.clone(),
                p.spec.target_version.clone(),
                format::delivery_name(p.spec.delivery).to_string(),
                format::device_set(p.spec.devices.len(), p.spec.imei_ranges.len()),
                format::from_versions(&p.spec.from_versions, ","),
                format::yes_no(p.spec.allow_downgrade).to_string(),
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
        (
            "delivery",
            format::delivery_name(p.spec.delivery).to_string(),
        ),
        (
            "downgrade",
            format::yes_no(p.spec.allow_downgrade).to_string(),
        ),
        (
            "job_timeout",
            p.spec
                .job_timeout_s
                .map(format::format_duration)
                .unwrap_or_default(),
        ),
        ("rollout", format::rollout_summary(p.spec.rollout.as_ref())),
        (
            "needs_confirm",
            format::yes_no(p.spec.needs_confirm).to_string(),
        ),
        ("deltas", format::yes_no(p.spec.uses_deltas()).to_string()),
        ("module", p.image.module.clone()),
        ("updated_at", p.updated_at.clone()),
    ]) + "\n"
        + &packages_table(&p.packages())
}

/// A plan's packages: the full image, then deltas by source version.
pub(super) fn packages_table(packages: &[Package]) -> String {
    let rows: Vec<Vec<String>> = packages
        .iter()
        .map(|k| {
            vec![
                k.kind.as_str().to_string(),
                k.source_version.clone().unwrap_or_else(|| "any".into()),
                k.image.size.to_string(),
                k.image.sha256.clone(),
            ]
        })
        .collect();
    table(&["package", "from", "size", "sha256"], &rows)
}

/// `plan preview`: the totals, each package with what it would be sent, each version's answer,
/// who gets nothing and why, and each stage.
pub(super) fn preview_text(p: &PlanPreview) -> String {
    let none = &p.none;
    let mut out = fields(&[
        ("target", p.target_version.clone()),
        ("devices", p.devices.to_string()),
        ("bytes", format!("{} ({})", p.bytes, format::bytes(p.bytes))),
        (
            "none",
            format!(
                "up to date {} · not a source {} · wrong source {} · unknown version {} · not in device set {} · banned {}",
                none.up_to_date,
                none.not_a_source,
                none.wrong_source,
                none.unknown_version,
                none.not_in_device_set,
                none.banned
            ),
        ),
    ]);
    let packages: Vec<Vec<String>> = p
        .packages
        .iter()
        .map(|k| {
            vec![
                k.kind.as_str().to_string(),
                k.source_version.clone().unwrap_or_else(|| "any".into()),
                k.size.to_string(),
                format::short_hash(&k.sha256).to_string(),
                k.devices.to_string(),
                k.bytes.to_string(),
            ]
        })
        .collect();
    out += "\n";
    out += &table(
        &["package", "from", "size", "sha256", "devices", "bytes"],
        &packages,
    );
    let versions: Vec<Vec<String>> = p
        .versions
        .iter()
        .map(|v| {
            let gets = match (&v.sha256, v.kind, v.none) {
                (Some(sha), Some(kind), _) => {
                    format!("{} {}", kind.as_str(), format::short_hash(sha))
                }
                (_, _, Some(none)) => strings::no_package(none).to_string(),
                _ => String::new(),
            };
            vec![
                v.version.clone().unwrap_or_else(|| "?".into()),
                v.devices.to_string(),
                v.banned.to_string(),
                gets,
            ]
        })
        .collect();
    out += "\n";
    out += &table(&["version", "devices", "banned", "gets"], &versions);
    let stages: Vec<Vec<String>> = p
        .stages
        .iter()
        .map(|s| {
            vec![
                format!("{}%", s.percent),
                s.devices.to_string(),
                s.bytes.to_string(),
            ]
        })
        .collect();
    out += "\n";
    out += &table(&["stage", "devices", "bytes"], &stages);
    out
}

fn counts_cells(c: &RolloutCounts) -> Vec<String> {
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

pub(super) fn status_fields(firmware_name: &str, s: &RolloutStatus) -> String {
    let mut out = fields(&status_pairs(firmware_name, s))
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
            &stage_rows(s),
        );
    // Each package of the target and the devices it was delivered to.
    if !s.packages.is_empty() {
        out += "\n";
        out += &served_packages_table(s);
    }
    out
}

/// The rollout's state, trust and totals, one field a line.
fn status_pairs(firmware_name: &str, s: &RolloutStatus) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("plan", firmware_name.to_string()),
        ("state", s.state.as_str().to_string()),
        ("stage", format::stage(s)),
        ("percent", format!("{}%", s.percent)),
    ];
    if let Some(reason) = &s.paused_reason {
        pairs.push(("paused_reason", reason.clone()));
    }
    if let Some(reason) = &s.failed_reason {
        pairs.push(("failed_reason", reason.clone()));
    }
    // Which devices the gates and totals count, and how many were counted apart.
    if let Some(trust) = &s.trust {
        pairs.push((strings::TRUST_LABEL, strings::trust_summary(trust)));
        pairs.push(("trust_basis", trust.basis.clone()));
    }
    pairs.push(("started_at", s.started_at.clone()));
    pairs.push(("stage_started_at", s.stage_started_at.clone()));
    pairs.push(("totals", format::counts(&s.totals)));
    let unproven = format::reported_without_delivery(s);
    if unproven > 0 {
        pairs.push((
            "reported_without_delivery",
            format!("{unproven} ({})", strings::REPORTED_WITHOUT_DELIVERY),
        ));
    }
    pairs
}

/// The counts of verification, each stage (the current one marked), the unverified ids and
/// the totals, a row each.
fn stage_rows(s: &RolloutStatus) -> Vec<Vec<String>> {
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
    // Ids first seen after the rollout started: counted apart, never in the totals.
    if s.unverified.eligible > 0 {
        rows.push(
            [
                vec!["unverified".to_string(), "-".to_string()],
                counts_cells(&s.unverified),
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
    rows
}

/// The target's packages and how many devices each was served to.
fn served_packages_table(s: &RolloutStatus) -> String {
    let packages: Vec<Vec<String>> = s
        .packages
        .iter()
        .map(|k| {
            vec![
                k.kind.as_str().to_string(),
                k.source_version.clone().unwrap_or_else(|| "any".into()),
                k.size.to_string(),
                k.sha256.clone(),
                k.served.to_string(),
            ]
        })
        .collect();
    table(&["package", "from", "size", "sha256", "served"], &packages)
}
