//! The scriptable side: `fota <noun> <verb>` parsed with clap, one module per noun (its verbs,
//! their handler and their tables), human tables or the API's JSON on stdout (`output`), and
//! exit codes scripts can branch on. `login` and `completions` work without a server.

mod activity;
mod audit;
mod completions;
mod device;
mod device_import;
mod events;
mod firmware;
mod keys;
pub mod login;
mod output;
mod plan;
mod project;
mod token;

use clap::{Parser, Subcommand};
use fota_shared::api::metrics::{DEFAULT_SILENT_AFTER_S, MAX_SILENT_AFTER_S, MIN_SILENT_AFTER_S};

pub use completions::completions;
pub use device::DeviceVerb;
pub use device_import::ImportArgs;
pub use firmware::FirmwareVerb;
pub use keys::KeysVerb;
pub use output::table;
pub use plan::{PlanBody, PlanVerb, RolloutArgs};
pub use project::ProjectVerb;
pub use token::TokenVerb;

use crate::api::{ApiClient, ApiError};
use crate::config::{ConfigError, Connection, FALLBACK_PROJECT};
use output::Output;

pub const EXIT_OK: u8 = 0;
/// Also what clap exits with on a usage error.
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_NOT_FOUND: u8 = 3;
/// The server answered and refused (any 4xx but 404).
pub const EXIT_REFUSED: u8 = 4;
/// No answer, a 5xx, or an answer that is not the API's.
pub const EXIT_UNREACHABLE: u8 = 5;

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
    Audit(AuditFilters),
    /// The project's device checks and deliveries per hour, oldest first.
    Activity {
        /// How many hours back, the current one included (1 to 720).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
        hours: u32,
    },
    /// The project's Prometheus metrics, as a scraper reads them (text format).
    Metrics {
        /// Seconds without a stored check after which a device counts as silent (3600 to 604800).
        #[arg(long, default_value_t = DEFAULT_SILENT_AFTER_S,
              value_parser = clap::value_parser!(u32).range(MIN_SILENT_AFTER_S as i64..=MAX_SILENT_AFTER_S as i64))]
        silent_after: u32,
    },
    /// Store a token for a profile in the config file (mode 0600). The token is read from
    /// FOTA_TOKEN, else from stdin (typed without echo on a terminal); it is never printed.
    Login {
        /// The deployment's URL.
        #[arg(long)]
        url: String,
    },
    /// The project's events (rollouts moving, bans, changes), oldest first; `--follow` waits
    /// for new ones and prints them as they come.
    Events(events::EventArgs),
    /// Webhooks: signed POSTs of the project's events to a receiver (admin only).
    Webhook {
        #[command(subcommand)]
        verb: events::WebhookVerb,
    },
    /// Print a shell completion script: `fota completions bash > /etc/bash_completion.d/fota`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `fota audit`'s filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct AuditFilters {
    /// Only changes by this token name.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action, e.g. `POST projects/{key}/plans/{firmware_name}/pause`.
    #[arg(long)]
    pub action: Option<String>,
    /// Only changes at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Entries per page.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Follow the cursor through every page.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    /// The call succeeded for some items and the server refused the others (already printed).
    #[error("{0}")]
    Partial(String),
    /// A run of calls stopped at one that failed (what landed before it is out already); `code`
    /// is the exit code of that failure.
    #[error("{message}")]
    Stopped { message: String, code: u8 },
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
            CliError::Stopped { code, .. } => *code,
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

/// The project named by flag, env or profile; else the server's only project; else `demo`.
pub(crate) async fn project_key(
    api: &ApiClient,
    connection: &Connection,
) -> Result<String, CliError> {
    if let Some(project) = &connection.project {
        return Ok(project.clone());
    }
    let list = api.projects().await?;
    Ok(match list.projects.as_slice() {
        [only] => only.key.clone(),
        _ => FALLBACK_PROJECT.to_string(),
    })
}

/// Runs one noun-verb command against the server, printing its result to stdout.
pub async fn run(noun: Noun, json: bool, connection: &Connection) -> Result<(), CliError> {
    let api = ApiClient::new(&connection.url, connection.token.clone());
    let out = Output { json };
    match noun {
        Noun::Project { verb } => project::run(verb, &api, connection, out).await,
        Noun::Firmware { verb } => firmware::run(verb, &api, connection, out).await,
        Noun::Plan { verb } => plan::run(verb, &api, connection, out).await,
        Noun::Device { verb } => device::run(verb, &api, connection, out).await,
        Noun::Token { verb } => token::run(verb, &api, out).await,
        Noun::Keys { verb } => keys::run(verb, &api, connection, out).await,
        Noun::Audit(filters) => audit::run(filters, &api, connection, out).await,
        Noun::Activity { hours } => activity::run(hours, &api, connection, out).await,
        Noun::Events(args) => events::run_events(args, &api, connection, out).await,
        Noun::Webhook { verb } => events::run_webhook(verb, &api, connection, out).await,
        Noun::Metrics { silent_after } => {
            let project = project_key(&api, connection).await?;
            let text = api.metrics(&project, silent_after).await?;
            out.print(&text, || text.clone())
        }
        // Handled by `main` before any connection is resolved.
        Noun::Login { .. } | Noun::Completions { .. } => Err(CliError::Usage(
            "login and completions need no connection".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
