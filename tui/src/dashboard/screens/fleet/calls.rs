//! The Fleet tab's own call, the project's activity per hour, run by the shell with the API
//! client. The fleet summary it shows is loaded app-wide (`Command::LoadFleet`), as its plans
//! feed the Rollouts tab's statuses too.

use fota_shared::api::fleet::ActivityHour;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::Outcome;
use crate::dashboard::shell::failure;

/// Checks and deliveries per hour over the last `hours` hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadActivity {
    pub project: String,
    pub hours: u32,
}

/// The answer to [`LoadActivity`]: the project's checks and deliveries per hour, oldest first.
#[derive(Debug)]
pub struct ActivityLoaded(pub Outcome<Vec<ActivityHour>>);

/// The tab's command and answer, by the registry's names.
pub type FleetCommand = LoadActivity;
pub type FleetAnswer = ActivityLoaded;

impl LoadActivity {
    /// The shell's part: one call with the API client.
    pub async fn run(self, api: &ApiClient, _progress: &Progress) -> ActivityLoaded {
        ActivityLoaded(
            api.activity(&self.project, self.hours)
                .await
                .map(|activity| activity.hours)
                .map_err(failure),
        )
    }
}

impl ActivityLoaded {
    /// Whether the call reached the server, for the link state.
    pub fn reached(&self) -> Option<Outcome<()>> {
        Some(self.0.as_ref().map(|_| ()).map_err(Clone::clone))
    }
}
