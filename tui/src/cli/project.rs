//! `fota project`: projects: list, show, create or update.

use clap::Subcommand;
use fota_shared::api::catalog::{Project, ProjectSpec};
use fota_shared::model::project::DevicePolicy;

use super::output::{fields, table, Output};
use super::{project_key, CliError};
use crate::api::ApiClient;
use crate::config::Connection;

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
        /// Which device ids the project serves: open (any id binds on its first check),
        /// registered (registered ids only; others get code 72), signed (every Luat check signed,
        /// code 73 otherwise).
        #[arg(long, value_enum)]
        device_policy: Option<DevicePolicy>,
        /// Image bytes one device may be sent per UTC day (code 74 past it until the next
        /// day); 0 removes the budget.
        #[arg(long)]
        daily_bytes_per_device: Option<u64>,
    },
}

/// Runs one `fota project` verb.
pub async fn run(
    verb: ProjectVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    match verb {
        ProjectVerb::List => {
            let list = api.projects().await?;
            out.print(&list, || projects_table(&list.projects))
        }
        ProjectVerb::Show { key } => {
            let key = match key {
                Some(key) => key,
                None => project_key(api, connection).await?,
            };
            let project = api.project(&key).await?;
            out.print(&project, || project_fields(&project))
        }
        ProjectVerb::Set {
            key,
            name,
            ban_after,
            device_policy,
            daily_bytes_per_device,
        } => {
            let spec = ProjectSpec {
                name,
                ban_after,
                device_policy,
                daily_bytes_per_device,
            };
            let project = api.put_project(&key, &spec).await?;
            out.print(&project, || project_fields(&project))
        }
    }
}

fn projects_table(projects: &[Project]) -> String {
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|p| {
            vec![
                p.key.clone(),
                p.name.clone(),
                p.ban_after.to_string(),
                p.device_policy.as_str().to_string(),
                p.updated_at.clone(),
            ]
        })
        .collect();
    table(
        &["key", "name", "ban_after", "device_policy", "updated_at"],
        &rows,
    )
}

fn project_fields(p: &Project) -> String {
    fields(&[
        ("key", p.key.clone()),
        ("name", p.name.clone()),
        ("ban_after", p.ban_after.to_string()),
        ("device_policy", p.device_policy.as_str().to_string()),
        (
            "daily_bytes_per_device",
            p.daily_bytes_per_device
                .map_or_else(|| "none".to_string(), |b| b.to_string()),
        ),
        ("created_at", p.created_at.clone()),
        ("updated_at", p.updated_at.clone()),
    ])
}
