//! The scriptable side: `fota <noun> <verb>` parsed with clap, human tables or the API's JSON on
//! stdout, and exit codes scripts can branch on.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use fota_shared::api::{
    Delivery, Device, DeviceList, Firmware, Plan, PlanSpec, Project, ProjectSpec,
};
use serde::Serialize;

use crate::api::{ApiClient, ApiError, DeviceQuery};
use crate::config::{ConfigError, Connection, FALLBACK_PROJECT};
use crate::form::parse_imei_range;
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
    },
    Show {
        firmware_name: String,
    },
    List,
    Delete {
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
    Unban {
        id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => EXIT_USAGE,
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
                } => upload(&api, &project, &file, &name, &version, out).await,
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
                } => {
                    let spec = PlanSpec {
                        target_version: target,
                        from_versions,
                        devices,
                        imei_ranges,
                        delivery: delivery.into(),
                        allow_downgrade,
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
            }
        }
        Noun::Device { verb } => {
            let project = project_key(&api, connection).await?;
            match verb {
                DeviceVerb::List {
                    version,
                    banned,
                    limit,
                    all,
                } => {
                    let query = DeviceQuery {
                        limit: limit.or(all.then_some(ALL_PAGE)),
                        version,
                        banned: banned.then_some(true),
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
                    let device = api.device(&project, &id).await?;
                    out.print(&device, || device_fields(&device))
                }
                DeviceVerb::Unban { id } => {
                    let device = api.unban_device(&project, &id).await?;
                    out.print(&device, || device_fields(&device))
                }
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
    name: &str,
    version: &str,
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
        .upload_firmware(project, name, version, bytes, &sha256, move |sent| {
            progress.set_position(sent)
        })
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
            println!(
                "{}",
                serde_json::to_string_pretty(value).expect("API types serialize")
            );
        } else {
            print!("{}", human());
        }
        Ok(())
    }

    /// A call that answers 204: nothing for `--json` (the API sent no body), a line for people.
    fn done(self, message: String) -> Result<(), CliError> {
        if !self.json {
            println!("{message}");
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
                f.size.to_string(),
                text::short_hash(&f.sha256).to_string(),
                f.md5.clone(),
                f.uploaded_at.clone(),
            ]
        })
        .collect();
    table(
        &[
            "firmware",
            "version",
            "size",
            "sha256",
            "md5",
            "uploaded_at",
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
        ("uploaded_at", f.uploaded_at.clone()),
    ])
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
        ("sha256", p.image.sha256.clone()),
        ("md5", p.image.md5.clone()),
        ("size", p.image.size.to_string()),
        ("updated_at", p.updated_at.clone()),
    ])
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
    ])
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
                },
            },
        );
        check(
            "device list --version 1.0 --banned --limit 5 --all",
            Noun::Device {
                verb: DeviceVerb::List {
                    version: Some("1.0".into()),
                    banned: true,
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
}
