//! `fota activity`: the project's checks and deliveries per hour.

use fota_shared::api::fleet::ActivityHour;

use super::output::{table, Output};
use super::{project_key, CliError};
use crate::api::ApiClient;
use crate::config::Connection;

/// Runs `fota activity`.
pub async fn run(
    hours: u32,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    let activity = api.activity(&project, hours).await?;
    out.print(&activity, || activity_table(&activity.hours))
}

/// `fota activity`: one row an hour, as the server sent them.
pub(super) fn activity_table(hours: &[ActivityHour]) -> String {
    let rows: Vec<Vec<String>> = hours
        .iter()
        .map(|h| vec![h.at.clone(), h.checks.to_string(), h.deliveries.to_string()])
        .collect();
    table(&["hour", "checks", "deliveries"], &rows)
}
