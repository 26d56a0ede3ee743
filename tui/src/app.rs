//! The terminal app's state and its pure `update`: every key press, tick and API result arrives as
//! an `Action`; `update` changes the state and returns the `Command`s (network work) for the shell.
//! Nothing here does I/O or reads a clock, so every flow is tested by feeding actions.

use std::collections::BTreeMap;

use fota_shared::api::{
    ActivityHour, AuditEntry, AuditPage, CheckNowResult, ConfirmResult, Device, DeviceEvent,
    DeviceHistory, DeviceList, DevicePhase, Firmware, JobInfo, JobPhase, Plan, Project,
    RolloutAction, RolloutStatus, UploadReceipt,
};
use fota_shared::module_job::ActiveJob;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::{AuditQuery, DeviceQuery, UploadDetails};
use crate::config::FALLBACK_PROJECT;
use crate::fleet::{self, FleetSnapshot, FleetSummary};
use crate::form::{Form, FormKey, FormPurpose};
use crate::text;

/// The shell sends `Action::Tick` this often.
pub const TICKS_PER_SECOND: u32 = 4;
/// The visible tab is reloaded this often while the server answers.
pub const REFRESH_TICKS: u32 = 5 * TICKS_PER_SECOND;
/// Rollout counts are reloaded this often while the Rollouts tab is open.
pub const STATUS_REFRESH_TICKS: u32 = 2 * TICKS_PER_SECOND;
/// Audit entries fetched per page on the Audit tab.
pub const AUDIT_PAGE: u32 = 100;
/// Devices fetched per page on the Devices tab.
pub const DEVICE_PAGE: u32 = 100;
/// The next page is fetched when the selection comes this close to the last loaded row, so
/// scrolling does not stop at a page boundary.
pub const PREFETCH_ROWS: usize = 20;
/// Hours of checks and deliveries the Fleet tab's sparklines cover.
pub const ACTIVITY_HOURS: u32 = 24;
/// Rows moved by PgUp/PgDn.
const PAGE_JUMP: usize = 10;
/// Seconds between retries while the server is unreachable, one step per failed attempt.
const BACKOFF_SECS: [u32; 6] = [1, 2, 4, 8, 15, 30];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Fleet,
    Devices,
    Firmware,
    Rollouts,
    Audit,
}

impl Tab {
    /// Tab order; later tabs (tokens) are added here and in `title`.
    pub const ALL: [Tab; 5] = [
        Tab::Fleet,
        Tab::Devices,
        Tab::Firmware,
        Tab::Rollouts,
        Tab::Audit,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Fleet => text::TAB_FLEET,
            Tab::Devices => text::TAB_DEVICES,
            Tab::Firmware => text::TAB_FIRMWARE,
            Tab::Rollouts => text::TAB_ROLLOUTS,
            Tab::Audit => text::TAB_AUDIT,
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    fn step(self, by: isize) -> Tab {
        let count = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + by).rem_euclid(count) as usize]
    }
}

/// A failed call as the app sees it: the client error's text (which carries the API's message),
/// and whether it means the server is out of reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub connection: bool,
}

pub type Outcome<T> = Result<T, Failure>;

#[derive(Debug)]
pub enum Action {
    Started,
    Key(KeyEvent),
    Tick,
    /// The terminal changed size; nothing to update, the next frame redraws.
    Resize,
    ProjectsLoaded(Outcome<Vec<Project>>),
    FleetLoaded(Outcome<FleetSnapshot>),
    /// The project's checks and deliveries per hour, oldest first.
    ActivityLoaded(Outcome<Vec<ActivityHour>>),
    DevicesLoaded {
        generation: u64,
        cursor: Option<String>,
        result: Outcome<DeviceList>,
    },
    FirmwareLoaded(Outcome<Vec<Firmware>>),
    PlansLoaded(Outcome<Vec<Plan>>),
    UploadHashed {
        sha256: String,
        size: u64,
    },
    UploadProgress {
        sent: u64,
    },
    UploadFinished(Outcome<UploadReceipt>),
    FirmwareDeleted {
        firmware_name: String,
        version: String,
        result: Outcome<()>,
    },
    PlanSaved {
        firmware_name: String,
        result: Outcome<Plan>,
    },
    PlanDeleted {
        firmware_name: String,
        result: Outcome<()>,
    },
    DeviceUnbanned {
        id: String,
        result: Outcome<Device>,
    },
    PlanStatusLoaded {
        firmware_name: String,
        result: Outcome<RolloutStatus>,
    },
    RolloutControlled {
        firmware_name: String,
        action: RolloutAction,
        result: Outcome<RolloutStatus>,
    },
    HistoryLoaded {
        id: String,
        result: Outcome<DeviceHistory>,
    },
    AuditLoaded {
        generation: u64,
        cursor: Option<String>,
        result: Outcome<AuditPage>,
    },
    JobsLoaded(Outcome<Vec<JobInfo>>),
    JobsConfirmed {
        ids: Vec<String>,
        result: Outcome<ConfirmResult>,
    },
    CheckedNow {
        target: CheckNowTarget,
        result: Outcome<CheckNowResult>,
    },
}

/// What a check-now push goes to: one device, or every device of a plan's device set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckNowTarget {
    Device(String),
    Plan(String),
}

/// Network work for the shell. Each carries everything it needs, so the shell keeps no state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    LoadProjects,
    LoadFleet {
        project: String,
    },
    /// Checks and deliveries per hour over the last `hours` hours.
    LoadActivity {
        project: String,
        hours: u32,
    },
    LoadDevices {
        project: String,
        generation: u64,
        query: DeviceQuery,
    },
    LoadFirmware {
        project: String,
    },
    LoadPlans {
        project: String,
    },
    UploadFirmware {
        project: String,
        path: String,
        firmware_name: String,
        version: String,
        details: UploadDetails,
    },
    DeleteFirmware {
        project: String,
        firmware_name: String,
        version: String,
    },
    PutPlan {
        project: String,
        firmware_name: String,
        spec: fota_shared::api::PlanSpec,
    },
    DeletePlan {
        project: String,
        firmware_name: String,
    },
    UnbanDevice {
        project: String,
        id: String,
    },
    LoadPlanStatus {
        project: String,
        firmware_name: String,
    },
    ControlRollout {
        project: String,
        firmware_name: String,
        action: RolloutAction,
    },
    LoadHistory {
        project: String,
        id: String,
    },
    LoadAudit {
        generation: u64,
        query: AuditQuery,
    },
    /// Every module-OTA job of the project, held or in progress.
    LoadJobs {
        project: String,
    },
    /// Confirms held jobs: one device through its own route, several in one call.
    ConfirmJobs {
        project: String,
        ids: Vec<String>,
    },
    CheckNow {
        project: String,
        target: CheckNowTarget,
    },
}

/// Data fetched from the API with its loading and error state. Old data stays while a refresh
/// runs or fails, so the screen does not flash empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote<T> {
    pub data: Option<T>,
    pub loading: bool,
    pub error: Option<String>,
}

impl<T> Default for Remote<T> {
    fn default() -> Self {
        Remote {
            data: None,
            loading: false,
            error: None,
        }
    }
}

impl<T> Remote<T> {
    /// Marks a load as started; false when one is already running (no second request then).
    fn begin(&mut self) -> bool {
        !std::mem::replace(&mut self.loading, true)
    }

    fn settle(&mut self, what: &str, result: Outcome<T>) {
        self.loading = false;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(failure) => {
                self.error = Some(text::failed(&text::loading_failed(what), &failure.message))
            }
        }
    }
}

/// Whether the server answers; drives the status bar and the retry backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Online,
    /// `retry_in` ticks until the next attempt; `None` while that attempt runs.
    Offline {
        attempt: u32,
        retry_in: Option<u32>,
        reason: String,
    },
}

/// The Devices tab: a window of the registry grown page by page through the cursor API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicesView {
    pub rows: Vec<Device>,
    pub next_cursor: Option<String>,
    pub selected: usize,
    pub filter: String,
    /// Keys go to the filter text.
    pub filtering: bool,
    /// Bumped when the filter changes, so answers to older filters are dropped.
    pub generation: u64,
    /// The rows belong to an older filter and the next first page replaces them.
    pub stale: bool,
    pub loaded: bool,
    pub loading: bool,
    pub loading_more: bool,
    pub error: Option<String>,
    /// Only devices whose rollout job is in this state; `s` cycles through them.
    pub state: Option<DevicePhase>,
    /// The selected device's history, fetched when the selection lands on it.
    pub history: HistoryView,
    /// The project's module-OTA jobs, reloaded with the list: the detail pane shows the selected
    /// device's, and `c`/`C` confirm the held ones.
    pub jobs: Remote<Vec<JobInfo>>,
}

/// One device's history in the Devices tab's detail pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryView {
    pub id: Option<String>,
    pub events: Remote<Vec<DeviceEvent>>,
    /// The selection moved here; the next tick fetches, so scrolling does not send a request
    /// for every device it passes.
    pub due: bool,
}

/// The state filter's cycle: all, then each phase in the order a job goes through them.
const STATE_CYCLE: [Option<DevicePhase>; 6] = [
    None,
    Some(DevicePhase::Idle),
    Some(DevicePhase::Offered),
    Some(DevicePhase::Succeeded),
    Some(DevicePhase::Failed),
    Some(DevicePhase::Banned),
];

impl DevicesView {
    pub fn selected_device(&self) -> Option<&Device> {
        self.rows.get(self.selected)
    }

    /// The device's module-OTA job, when the jobs list is loaded and has one.
    pub fn job_of(&self, id: &str) -> Option<&ActiveJob> {
        self.jobs
            .data
            .as_ref()?
            .iter()
            .find(|j| j.device_id == id)
            .map(|j| &j.job)
    }

    /// Whether the device's job waits for the owner's confirmation.
    pub fn is_held(&self, id: &str) -> bool {
        self.job_of(id)
            .is_some_and(|job| job.phase == JobPhase::AwaitingConfirmation)
    }

    /// The listed devices (the loaded rows under the current filters) whose jobs are held.
    pub fn held_rows(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|d| self.is_held(&d.id))
            .map(|d| d.id.clone())
            .collect()
    }

    fn query(&self, cursor: Option<String>) -> DeviceQuery {
        DeviceQuery {
            limit: Some(DEVICE_PAGE),
            cursor,
            q: Some(self.filter.trim().to_string()).filter(|q| !q.is_empty()),
            state: self.state.map(|s| s.as_str().to_string()),
            ..DeviceQuery::default()
        }
    }
}

/// One plan's rollout as the Rollouts and Fleet tabs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutView {
    pub status: Remote<RolloutStatus>,
    /// Why the last pause/resume/advance/cancel was refused, shown next to the rollout.
    pub control_error: Option<String>,
}

/// The Audit tab: newest entries first, grown page by page through the cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditView {
    pub rows: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
    /// Index into `visible()`.
    pub selected: usize,
    /// `actor:NAME project:KEY since:TIME` go to the server (which matches them exactly);
    /// `action:TEXT` and other words are matched locally, as parts of the action or of any of
    /// actor, action, project and target.
    pub filter: String,
    pub filtering: bool,
    /// Bumped when the server-side part of the filter changes.
    pub generation: u64,
    pub stale: bool,
    pub loaded: bool,
    pub loading: bool,
    pub loading_more: bool,
    pub error: Option<String>,
}

/// The audit filter split into what the server filters and the words matched locally, in
/// lower case; `action:TEXT` stays a word with its prefix, matched against the action only.
/// (The server matches `action` exactly, against the full route pattern, which nobody types.)
pub fn parse_audit_filter(filter: &str) -> (AuditQuery, Vec<String>) {
    let mut query = AuditQuery::default();
    let mut words = Vec::new();
    for word in filter.split_whitespace() {
        let slot = match word.split_once(':') {
            Some(("actor", v)) => Some((&mut query.actor, v)),
            Some(("project", v)) => Some((&mut query.project, v)),
            Some(("since", v)) => Some((&mut query.since, v)),
            Some(("action", "")) => continue,
            _ => None,
        };
        match slot {
            Some((slot, value)) if !value.is_empty() => *slot = Some(value.to_string()),
            // `actor:` with nothing after it yet filters nothing.
            Some(_) => {}
            None => words.push(word.to_lowercase()),
        }
    }
    (query, words)
}

impl AuditView {
    fn query(&self, cursor: Option<String>) -> AuditQuery {
        AuditQuery {
            cursor,
            limit: Some(AUDIT_PAGE),
            ..parse_audit_filter(&self.filter).0
        }
    }

    /// The loaded entries that match the local words of the filter.
    pub fn visible(&self) -> Vec<&AuditEntry> {
        let (_, words) = parse_audit_filter(&self.filter);
        self.rows
            .iter()
            .filter(|entry| {
                let haystack = format!(
                    "{} {} {} {}",
                    entry.actor,
                    entry.action,
                    entry.project_key.as_deref().unwrap_or(""),
                    entry.target
                )
                .to_lowercase();
                let action = entry.action.to_lowercase();
                words.iter().all(|w| match w.strip_prefix("action:") {
                    Some(part) => action.contains(part),
                    None => haystack.contains(w.as_str()),
                })
            })
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&AuditEntry> {
        self.visible().get(self.selected).copied()
    }
}

/// The paging state the Devices and Audit lists share, borrowed field by field so the rows stay
/// free to change: one window of rows grown page by page under a filter generation.
struct Paging<'a> {
    generation: &'a mut u64,
    stale: &'a mut bool,
    loaded: &'a mut bool,
    loading: &'a mut bool,
    loading_more: &'a mut bool,
    error: &'a mut Option<String>,
    next_cursor: &'a Option<String>,
}

/// Gives each paged list view its `paging()`; both name their paging fields alike.
macro_rules! paged_views {
    ($($view:ty),+) => {$(
        impl $view {
            fn paging(&mut self) -> Paging<'_> {
                Paging {
                    generation: &mut self.generation,
                    stale: &mut self.stale,
                    loaded: &mut self.loaded,
                    loading: &mut self.loading,
                    loading_more: &mut self.loading_more,
                    error: &mut self.error,
                    next_cursor: &self.next_cursor,
                }
            }
        }
    )+};
}

paged_views!(DevicesView, AuditView);

impl Paging<'_> {
    /// Marks a first-page load as started; false while any load of the list runs.
    fn begin(self) -> bool {
        if *self.loading || *self.loading_more {
            return false;
        }
        *self.loading = true;
        true
    }

    /// The filter changed: what is loaded and loading belongs to the old one.
    fn restart(self) {
        *self.generation += 1;
        *self.stale = true;
        *self.loading = false;
        *self.loading_more = false;
    }

    /// Marks the next page's load as started and returns its cursor, when the selection is
    /// `near_end`, there is a next page and nothing else loads.
    fn begin_more(self, near_end: bool) -> Option<String> {
        if *self.loading || *self.loading_more || *self.stale || !near_end {
            return None;
        }
        let cursor = self.next_cursor.clone()?;
        *self.loading_more = true;
        Some(cursor)
    }

    /// Ends the load a page answers and records its failure. Returns the page to merge, or
    /// `None` when it failed or answers an older filter `generation`.
    fn settle<T>(
        self,
        generation: u64,
        first_page: bool,
        what: &str,
        result: Outcome<T>,
    ) -> Option<T> {
        if generation != *self.generation {
            return None;
        }
        if first_page {
            *self.loading = false;
        } else {
            *self.loading_more = false;
        }
        match result {
            Ok(page) => {
                *self.error = None;
                *self.loaded = true;
                Some(page)
            }
            Err(failure) => {
                *self.error = Some(text::failed(&text::loading_failed(what), &failure.message));
                None
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    /// Asks before `command` runs; `busy` is the status shown while it does.
    Confirm {
        prompt: String,
        command: Box<Command>,
        busy: String,
    },
    Form(Form),
}

/// The upload in progress (or just finished) on the Firmware tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub path: String,
    pub firmware_name: String,
    pub version: String,
    pub details: UploadDetails,
    /// Known once the file is read and hashed, before sending starts.
    pub sha256: Option<String>,
    pub total: u64,
    pub sent: u64,
    pub outcome: Option<Result<UploadReceipt, String>>,
}

impl Upload {
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Busy,
    Error,
}

/// The last message of the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub url: String,
    /// `None` until the project list says which one to show.
    pub project: Option<String>,
    pub tab: Tab,
    pub link: Link,
    pub projects: Remote<Vec<Project>>,
    pub fleet: Remote<FleetSummary>,
    /// The Fleet tab's sparklines: checks and deliveries per hour, oldest first.
    pub activity: Remote<Vec<ActivityHour>>,
    pub devices: DevicesView,
    pub firmware: Remote<Vec<Firmware>>,
    pub firmware_selected: usize,
    pub plans: Remote<Vec<Plan>>,
    pub plan_selected: usize,
    /// Rollout status by firmware name, for the Rollouts and Fleet tabs.
    pub rollouts: BTreeMap<String, RolloutView>,
    pub audit: AuditView,
    pub modal: Option<Modal>,
    pub upload: Option<Upload>,
    pub status: Option<Status>,
    /// Ticks since start; drives the spinner.
    pub ticks: u64,
    ticks_since_refresh: u32,
    ticks_since_status: u32,
    pub should_quit: bool,
}

impl App {
    pub fn new(url: impl Into<String>, project: Option<String>) -> App {
        App {
            url: url.into(),
            project,
            tab: Tab::Fleet,
            link: Link::Connecting,
            projects: Remote::default(),
            fleet: Remote::default(),
            activity: Remote::default(),
            devices: DevicesView::default(),
            firmware: Remote::default(),
            firmware_selected: 0,
            plans: Remote::default(),
            plan_selected: 0,
            rollouts: BTreeMap::new(),
            audit: AuditView::default(),
            modal: None,
            upload: None,
            status: None,
            ticks: 0,
            ticks_since_refresh: 0,
            ticks_since_status: 0,
            should_quit: false,
        }
    }

    pub fn selected_firmware(&self) -> Option<&Firmware> {
        self.firmware.data.as_ref()?.get(self.firmware_selected)
    }

    pub fn selected_plan(&self) -> Option<&Plan> {
        self.plans.data.as_ref()?.get(self.plan_selected)
    }

    pub fn rollout_status(&self, firmware_name: &str) -> Option<&RolloutStatus> {
        self.rollouts.get(firmware_name)?.status.data.as_ref()
    }

    /// Starts a status load for each named plan that is not loading one already.
    fn load_statuses<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> Vec<Command> {
        let Some(project) = self.project.clone() else {
            return vec![];
        };
        names
            .into_iter()
            .filter_map(|name| {
                let view = self.rollouts.entry(name.to_string()).or_default();
                view.status.begin().then(|| Command::LoadPlanStatus {
                    project: project.clone(),
                    firmware_name: name.to_string(),
                })
            })
            .collect()
    }

    /// Status loads for the plans the app knows of, from the Rollouts list or the fleet summary.
    fn refresh_statuses(&mut self) -> Vec<Command> {
        let names: Vec<String> = match (&self.plans.data, &self.fleet.data) {
            (Some(plans), _) => plans.iter().map(|p| p.firmware_name.clone()).collect(),
            (None, Some(fleet)) => fleet
                .plans
                .iter()
                .map(|p| p.firmware_name.clone())
                .collect(),
            (None, None) => vec![],
        };
        self.load_statuses(names.iter().map(String::as_str))
    }

    /// Notes that the selected device's history is wanted when the selection moved to another
    /// device; the next tick fetches it. With `now`, fetches at once, also for the device still
    /// selected (a refresh).
    fn sync_history(&mut self, now: bool) -> Option<Command> {
        let view = &mut self.devices;
        let id = view.selected_device()?.id.clone();
        if view.history.id.as_deref() != Some(id.as_str()) {
            view.history = HistoryView {
                id: Some(id),
                events: Remote::default(),
                due: true,
            };
        }
        if now {
            self.fetch_history()
        } else {
            None
        }
    }

    fn fetch_history(&mut self) -> Option<Command> {
        let project = self.project.clone()?;
        let history = &mut self.devices.history;
        let id = history.id.clone()?;
        history.due = false;
        history
            .events
            .begin()
            .then_some(Command::LoadHistory { project, id })
    }

    fn set_status(&mut self, kind: StatusKind, text: String) {
        self.status = Some(Status { text, kind });
    }

    /// Records whether a call reached the server. Only the first failure of a round starts a new
    /// backoff step, so several requests failing together count as one attempt.
    fn observe<T>(&mut self, result: &Outcome<T>) {
        match result {
            Err(failure) if failure.connection => {
                let attempt = match &self.link {
                    Link::Offline {
                        retry_in: Some(_), ..
                    } => return,
                    Link::Offline { attempt, .. } => attempt + 1,
                    _ => 1,
                };
                let step = BACKOFF_SECS[(attempt as usize - 1).min(BACKOFF_SECS.len() - 1)];
                self.link = Link::Offline {
                    attempt,
                    retry_in: Some(step * TICKS_PER_SECOND),
                    reason: failure.message.clone(),
                };
            }
            _ => self.link = Link::Online,
        }
    }

    /// The commands that (re)load what the visible tab shows.
    fn load_visible(&mut self) -> Vec<Command> {
        let Some(project) = self.project.clone() else {
            return if self.projects.begin() {
                vec![Command::LoadProjects]
            } else {
                vec![]
            };
        };
        match self.tab {
            Tab::Fleet => {
                let mut commands: Vec<Command> = self
                    .fleet
                    .begin()
                    .then(|| Command::LoadFleet {
                        project: project.clone(),
                    })
                    .into_iter()
                    .collect();
                commands.extend(self.activity.begin().then_some(Command::LoadActivity {
                    project,
                    hours: ACTIVITY_HOURS,
                }));
                commands.extend(self.refresh_statuses());
                commands
            }
            Tab::Devices => {
                let mut commands: Vec<Command> =
                    self.refresh_devices(&project).into_iter().collect();
                commands.extend(self.refresh_jobs());
                commands.extend(self.sync_history(true));
                commands
            }
            Tab::Firmware => self
                .firmware
                .begin()
                .then_some(Command::LoadFirmware { project })
                .into_iter()
                .collect(),
            Tab::Rollouts => {
                self.ticks_since_status = 0;
                let mut commands: Vec<Command> = self
                    .plans
                    .begin()
                    .then_some(Command::LoadPlans { project })
                    .into_iter()
                    .collect();
                commands.extend(self.refresh_statuses());
                commands
            }
            Tab::Audit => self.refresh_audit().into_iter().collect(),
        }
    }

    fn refresh_jobs(&mut self) -> Option<Command> {
        let project = self.project.clone()?;
        self.devices
            .jobs
            .begin()
            .then_some(Command::LoadJobs { project })
    }

    fn refresh_audit(&mut self) -> Option<Command> {
        let view = &mut self.audit;
        view.paging().begin().then(|| Command::LoadAudit {
            generation: view.generation,
            query: view.query(None),
        })
    }

    /// The audit filter changed. A change of the server-side part starts over from the first
    /// page; a change of the local words only re-filters what is loaded.
    fn refilter_audit(&mut self, before: AuditQuery) -> Vec<Command> {
        let view = &mut self.audit;
        view.selected = 0;
        if parse_audit_filter(&view.filter).0 == before {
            return self.prefetch_audit().into_iter().collect();
        }
        view.paging().restart();
        self.refresh_audit().into_iter().collect()
    }

    /// Asks for the next audit page when the selection nears the end of what is loaded.
    fn prefetch_audit(&mut self) -> Option<Command> {
        let view = &mut self.audit;
        let near_end = view.selected + PREFETCH_ROWS >= view.visible().len();
        let cursor = view.paging().begin_more(near_end)?;
        Some(Command::LoadAudit {
            generation: view.generation,
            query: view.query(Some(cursor)),
        })
    }

    fn refresh_devices(&mut self, project: &str) -> Option<Command> {
        let view = &mut self.devices;
        view.paging().begin().then(|| Command::LoadDevices {
            project: project.to_string(),
            generation: view.generation,
            query: view.query(None),
        })
    }

    /// The filter changed: start over from the first page under a new generation.
    fn refilter_devices(&mut self) -> Vec<Command> {
        self.devices.paging().restart();
        match self.project.clone() {
            Some(project) => self.refresh_devices(&project).into_iter().collect(),
            None => vec![],
        }
    }

    fn prefetch_devices(&mut self) -> Option<Command> {
        let project = self.project.clone()?;
        let view = &mut self.devices;
        let near_end = view.selected + PREFETCH_ROWS >= view.rows.len();
        let cursor = view.paging().begin_more(near_end)?;
        Some(Command::LoadDevices {
            project,
            generation: view.generation,
            query: view.query(Some(cursor)),
        })
    }
}

/// Applies one action; returns the network work it calls for.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Started => app.load_visible(),
        Action::Resize => vec![],
        Action::Key(key) => on_key(app, key),
        Action::Tick => on_tick(app),
        Action::ProjectsLoaded(result) => {
            app.observe(&result);
            app.projects.settle(text::WHAT_PROJECTS, result);
            if app.project.is_some() {
                return vec![];
            }
            match app.projects.data.as_deref() {
                Some([only]) => app.project = Some(only.key.clone()),
                Some(_) => app.project = Some(FALLBACK_PROJECT.to_string()),
                None => return vec![],
            }
            app.load_visible()
        }
        Action::FleetLoaded(result) => {
            app.observe(&result);
            app.fleet.settle(
                text::WHAT_FLEET,
                result.map(|snapshot| fleet::summarize(&snapshot)),
            );
            let names: Vec<String> = app
                .fleet
                .data
                .iter()
                .flat_map(|summary| summary.plans.iter().map(|p| p.firmware_name.clone()))
                .collect();
            app.load_statuses(names.iter().map(String::as_str))
        }
        Action::ActivityLoaded(result) => {
            app.observe(&result);
            app.activity.settle(text::WHAT_ACTIVITY, result);
            vec![]
        }
        Action::DevicesLoaded {
            generation,
            cursor,
            result,
        } => on_devices_loaded(app, generation, cursor, result),
        Action::FirmwareLoaded(result) => {
            app.observe(&result);
            app.firmware.settle(text::WHAT_FIRMWARE, result);
            app.firmware_selected = clamp(
                app.firmware_selected,
                app.firmware.data.as_ref().map_or(0, Vec::len),
            );
            vec![]
        }
        Action::PlansLoaded(result) => {
            app.observe(&result);
            app.plans.settle(text::WHAT_PLANS, result);
            app.plan_selected = clamp(
                app.plan_selected,
                app.plans.data.as_ref().map_or(0, Vec::len),
            );
            let names: Vec<String> = app
                .plans
                .data
                .iter()
                .flatten()
                .map(|p| p.firmware_name.clone())
                .collect();
            // A deleted plan's rollout is gone with it.
            app.rollouts.retain(|name, _| names.contains(name));
            app.load_statuses(names.iter().map(String::as_str))
        }
        Action::PlanStatusLoaded {
            firmware_name,
            result,
        } => {
            app.observe(&result);
            let view = app.rollouts.entry(firmware_name).or_default();
            view.status.settle(text::WHAT_ROLLOUT, result);
            vec![]
        }
        Action::RolloutControlled {
            firmware_name,
            action,
            result,
        } => {
            app.observe(&result);
            let view = app.rollouts.entry(firmware_name.clone()).or_default();
            match result {
                Ok(status) => {
                    let message = text::controlled(action, &firmware_name, &status);
                    view.status.data = Some(status);
                    view.status.error = None;
                    view.control_error = None;
                    app.set_status(StatusKind::Info, message);
                }
                Err(failure) => {
                    // In place, next to the rollout it concerns, the plan need not be named.
                    view.control_error =
                        Some(text::failed(text::control_gerund(action), &failure.message));
                    let what = text::controlling(action, &firmware_name);
                    app.set_status(StatusKind::Error, text::failed(&what, &failure.message));
                }
            }
            vec![]
        }
        Action::HistoryLoaded { id, result } => {
            app.observe(&result);
            let history = &mut app.devices.history;
            if history.id.as_deref() == Some(id.as_str()) {
                history
                    .events
                    .settle(text::WHAT_HISTORY, result.map(|h| h.events));
            }
            vec![]
        }
        Action::AuditLoaded {
            generation,
            cursor,
            result,
        } => on_audit_loaded(app, generation, cursor, result),
        Action::UploadHashed { sha256, size } => {
            if let Some(upload) = &mut app.upload {
                upload.sha256 = Some(sha256);
                upload.total = size;
            }
            vec![]
        }
        Action::UploadProgress { sent } => {
            if let Some(upload) = &mut app.upload {
                upload.sent = sent;
            }
            vec![]
        }
        Action::UploadFinished(result) => {
            app.observe(&result);
            let Some(upload) = &mut app.upload else {
                return vec![];
            };
            match result {
                Ok(receipt) => {
                    let message =
                        text::uploaded(&upload.firmware_name, &upload.version, &receipt.sha256);
                    upload.sent = receipt.size;
                    upload.outcome = Some(Ok(receipt));
                    app.set_status(StatusKind::Info, message);
                    reload(app, Tab::Firmware)
                }
                Err(failure) => {
                    let what = text::uploading(&upload.firmware_name, &upload.version);
                    let message = text::failed(&what, &failure.message);
                    upload.outcome = Some(Err(message.clone()));
                    app.set_status(StatusKind::Error, message);
                    vec![]
                }
            }
        }
        Action::FirmwareDeleted {
            firmware_name,
            version,
            result,
        } => {
            let done = text::deleted_firmware(&firmware_name, &version);
            let what = text::deleting_firmware(&firmware_name, &version);
            after_change(app, result, done, &what, Tab::Firmware)
        }
        Action::PlanSaved {
            firmware_name,
            result,
        } => {
            app.observe(&result);
            match result {
                Ok(plan) => {
                    if matches!(&app.modal, Some(Modal::Form(form)) if matches!(form.purpose, FormPurpose::Plan { .. }))
                    {
                        app.modal = None;
                    }
                    app.set_status(
                        StatusKind::Info,
                        text::saved_plan(&plan.firmware_name, &plan.spec.target_version),
                    );
                    reload(app, Tab::Rollouts)
                }
                Err(failure) => {
                    let message =
                        text::failed(&text::saving_plan(&firmware_name), &failure.message);
                    match &mut app.modal {
                        Some(Modal::Form(form))
                            if matches!(form.purpose, FormPurpose::Plan { .. }) =>
                        {
                            form.saving = false;
                            form.error = Some(message);
                            app.status = None;
                        }
                        _ => app.set_status(StatusKind::Error, message),
                    }
                    vec![]
                }
            }
        }
        Action::PlanDeleted {
            firmware_name,
            result,
        } => {
            let done = text::deleted_plan(&firmware_name);
            let what = text::deleting_plan(&firmware_name);
            after_change(app, result, done, &what, Tab::Rollouts)
        }
        Action::JobsLoaded(result) => {
            app.observe(&result);
            app.devices.jobs.settle(text::WHAT_JOBS, result);
            vec![]
        }
        Action::JobsConfirmed { ids, result } => {
            app.observe(&result);
            match result {
                Ok(outcome) => {
                    app.set_status(StatusKind::Info, text::confirmed(&outcome));
                    app.refresh_jobs().into_iter().collect()
                }
                Err(failure) => {
                    app.set_status(
                        StatusKind::Error,
                        text::failed(&text::confirming(&ids), &failure.message),
                    );
                    // A refusal often means the job moved on: show where it stands now.
                    app.refresh_jobs().into_iter().collect()
                }
            }
        }
        Action::CheckedNow { target, result } => {
            app.observe(&result);
            match result {
                Ok(outcome) => {
                    app.set_status(StatusKind::Info, text::checked_now(&target, &outcome))
                }
                Err(failure) => app.set_status(
                    StatusKind::Error,
                    text::failed(&text::checking_now(&target), &failure.message),
                ),
            }
            vec![]
        }
        Action::DeviceUnbanned { id, result } => {
            app.observe(&result);
            match result {
                Ok(device) => {
                    if let Some(row) = app.devices.rows.iter_mut().find(|d| d.id == device.id) {
                        *row = device;
                    }
                    app.set_status(StatusKind::Info, text::unbanned(&id));
                }
                Err(failure) => app.set_status(
                    StatusKind::Error,
                    text::failed(&text::unbanning(&id), &failure.message),
                ),
            }
            vec![]
        }
    }
}

/// The end of a delete: a status line, and a reload of the list it changed.
fn after_change(
    app: &mut App,
    result: Outcome<()>,
    done: String,
    what: &str,
    tab: Tab,
) -> Vec<Command> {
    app.observe(&result);
    match result {
        Ok(()) => {
            app.set_status(StatusKind::Info, done);
            reload(app, tab)
        }
        Err(failure) => {
            app.set_status(StatusKind::Error, text::failed(what, &failure.message));
            vec![]
        }
    }
}

fn reload(app: &mut App, tab: Tab) -> Vec<Command> {
    let Some(project) = app.project.clone() else {
        return vec![];
    };
    match tab {
        Tab::Firmware if app.firmware.begin() => vec![Command::LoadFirmware { project }],
        Tab::Rollouts if app.plans.begin() => vec![Command::LoadPlans { project }],
        _ => vec![],
    }
}

fn on_tick(app: &mut App) -> Vec<Command> {
    let mut commands = on_tick_refresh(app);
    if app.link == Link::Online && app.tab == Tab::Devices && app.devices.history.due {
        commands.extend(app.fetch_history());
    }
    commands
}

fn on_tick_refresh(app: &mut App) -> Vec<Command> {
    app.ticks += 1;
    app.ticks_since_refresh += 1;
    match &mut app.link {
        Link::Offline {
            retry_in: Some(ticks),
            ..
        } => {
            *ticks = ticks.saturating_sub(1);
            if *ticks > 0 {
                return vec![];
            }
            if let Link::Offline { retry_in, .. } = &mut app.link {
                *retry_in = None;
            }
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        Link::Offline { retry_in: None, .. } | Link::Connecting => vec![],
        Link::Online if app.ticks_since_refresh >= REFRESH_TICKS => {
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        Link::Online if app.tab == Tab::Rollouts => {
            // The counts move while a rollout runs: reload them more often than the plans.
            app.ticks_since_status += 1;
            if app.ticks_since_status < STATUS_REFRESH_TICKS {
                return vec![];
            }
            app.ticks_since_status = 0;
            app.refresh_statuses()
        }
        Link::Online => vec![],
    }
}

fn on_devices_loaded(
    app: &mut App,
    generation: u64,
    cursor: Option<String>,
    result: Outcome<DeviceList>,
) -> Vec<Command> {
    app.observe(&result);
    let view = &mut app.devices;
    let first_page = cursor.is_none();
    let Some(list) = view
        .paging()
        .settle(generation, first_page, text::WHAT_DEVICES, result)
    else {
        return vec![];
    };
    if first_page && (view.stale || view.rows.len() <= DEVICE_PAGE as usize) {
        // A new filter starts at the top; a refresh of the same filter keeps the selected device.
        let keep = if view.stale {
            None
        } else {
            view.selected_device().map(|d| d.id.clone())
        };
        view.rows = list.devices;
        view.next_cursor = list.next_cursor;
        view.stale = false;
        view.selected = keep
            .and_then(|id| view.rows.iter().position(|d| d.id == id))
            .unwrap_or(0);
    } else if first_page {
        // Several pages are loaded: refresh the first page's devices in place, keep the window.
        for device in list.devices {
            if let Some(row) = view.rows.iter_mut().find(|d| d.id == device.id) {
                *row = device;
            }
        }
    } else {
        for device in list.devices {
            if !view.rows.iter().any(|d| d.id == device.id) {
                view.rows.push(device);
            }
        }
        view.next_cursor = list.next_cursor;
    }
    view.selected = clamp(view.selected, view.rows.len());
    let mut commands: Vec<Command> = app.prefetch_devices().into_iter().collect();
    if app.tab == Tab::Devices {
        commands.extend(app.sync_history(false));
    }
    commands
}

fn on_audit_loaded(
    app: &mut App,
    generation: u64,
    cursor: Option<String>,
    result: Outcome<AuditPage>,
) -> Vec<Command> {
    app.observe(&result);
    let view = &mut app.audit;
    let first_page = cursor.is_none();
    let Some(page) = view
        .paging()
        .settle(generation, first_page, text::WHAT_AUDIT, result)
    else {
        return vec![];
    };
    let keep = if view.stale {
        None
    } else {
        view.selected_entry().map(|e| e.id)
    };
    if first_page && (view.stale || view.rows.len() <= AUDIT_PAGE as usize) {
        view.rows = page.entries;
        view.next_cursor = page.next_cursor;
        view.stale = false;
    } else if first_page {
        // Several pages are loaded: put what is new on top, keep the window and its cursor.
        let newest = view.rows.first().map_or(0, |e| e.id);
        let mut fresh: Vec<AuditEntry> =
            page.entries.into_iter().filter(|e| e.id > newest).collect();
        fresh.append(&mut view.rows);
        view.rows = fresh;
    } else {
        let oldest = view.rows.last().map_or(u64::MAX, |e| e.id);
        view.rows
            .extend(page.entries.into_iter().filter(|e| e.id < oldest));
        view.next_cursor = page.next_cursor;
    }
    let (position, len) = {
        let visible = view.visible();
        let position = keep.and_then(|id| visible.iter().position(|e| e.id == id));
        (position, visible.len())
    };
    let fallback = if keep.is_none() { 0 } else { view.selected };
    view.selected = clamp(position.unwrap_or(fallback), len);
    app.prefetch_audit().into_iter().collect()
}

fn clamp(index: usize, len: usize) -> usize {
    index.min(len.saturating_sub(1))
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.should_quit = true;
        return vec![];
    }
    if app.modal.is_some() {
        return on_modal_key(app, key);
    }
    if app.devices.filtering {
        return on_filter_key(app, key);
    }
    if app.audit.filtering {
        return on_audit_filter_key(app, key);
    }
    match key.code {
        KeyCode::Char('q') => {
            app.should_quit = true;
            vec![]
        }
        KeyCode::Char('?') => {
            app.modal = Some(Modal::Help);
            vec![]
        }
        KeyCode::Tab | KeyCode::Char('l') | KeyCode::Right => switch_tab(app, app.tab.step(1)),
        KeyCode::BackTab | KeyCode::Char('h') | KeyCode::Left => switch_tab(app, app.tab.step(-1)),
        KeyCode::Char(c @ '1'..='9') => match Tab::ALL.get(c as usize - '1' as usize) {
            Some(&tab) => switch_tab(app, tab),
            None => vec![],
        },
        KeyCode::Char('r') => {
            app.ticks_since_refresh = 0;
            app.load_visible()
        }
        KeyCode::Down | KeyCode::Char('j') => move_selection(app, |i, _| i.saturating_add(1)),
        KeyCode::Up | KeyCode::Char('k') => move_selection(app, |i, _| i.saturating_sub(1)),
        KeyCode::PageDown => move_selection(app, |i, _| i.saturating_add(PAGE_JUMP)),
        KeyCode::PageUp => move_selection(app, |i, _| i.saturating_sub(PAGE_JUMP)),
        KeyCode::Home | KeyCode::Char('g') => move_selection(app, |_, _| 0),
        KeyCode::End | KeyCode::Char('G') => move_selection(app, |_, len| len.saturating_sub(1)),
        _ => on_tab_key(app, key),
    }
}

fn switch_tab(app: &mut App, tab: Tab) -> Vec<Command> {
    if app.tab == tab {
        return vec![];
    }
    app.tab = tab;
    app.ticks_since_refresh = 0;
    app.load_visible()
}

fn move_selection(app: &mut App, to: impl Fn(usize, usize) -> usize) -> Vec<Command> {
    let (selected, len) = match app.tab {
        Tab::Fleet => return vec![],
        Tab::Devices => (&mut app.devices.selected, app.devices.rows.len()),
        Tab::Firmware => (
            &mut app.firmware_selected,
            app.firmware.data.as_ref().map_or(0, Vec::len),
        ),
        Tab::Rollouts => (
            &mut app.plan_selected,
            app.plans.data.as_ref().map_or(0, Vec::len),
        ),
        Tab::Audit => {
            let len = app.audit.visible().len();
            (&mut app.audit.selected, len)
        }
    };
    *selected = clamp(to(*selected, len), len);
    match app.tab {
        Tab::Devices => {
            let mut commands: Vec<Command> = app.prefetch_devices().into_iter().collect();
            commands.extend(app.sync_history(false));
            commands
        }
        Tab::Audit => app.prefetch_audit().into_iter().collect(),
        _ => vec![],
    }
}

/// Asks before a rollout control; the server decides whether the transition is allowed.
fn confirm_control(app: &mut App, project: String, action: RolloutAction) {
    let Some(plan) = app.selected_plan() else {
        return;
    };
    let firmware_name = plan.firmware_name.clone();
    let prompt = text::confirm_control(
        action,
        &firmware_name,
        &plan.spec.target_version,
        app.rollout_status(&firmware_name),
    );
    if let Some(view) = app.rollouts.get_mut(&firmware_name) {
        view.control_error = None;
    }
    app.modal = Some(Modal::Confirm {
        prompt,
        busy: text::controlling(action, &firmware_name),
        command: Box::new(Command::ControlRollout {
            project,
            firmware_name,
            action,
        }),
    });
}

/// `c` on Devices: asks before confirming the selected device's held job. Without a loaded jobs
/// list the server decides; with one, a device with nothing held is told so at once.
fn confirm_selected(app: &mut App, project: String) {
    let Some(device) = app.devices.selected_device() else {
        return;
    };
    let id = device.id.clone();
    let known = app.devices.jobs.data.is_some();
    match app.devices.job_of(&id) {
        Some(job) if job.phase == JobPhase::AwaitingConfirmation => {
            let prompt = text::confirm_job(&id, job);
            let ids = vec![id];
            app.modal = Some(Modal::Confirm {
                prompt,
                busy: text::confirming(&ids),
                command: Box::new(Command::ConfirmJobs { project, ids }),
            });
        }
        Some(job) => {
            let message = text::job_not_held(&id, job);
            app.set_status(StatusKind::Info, message);
        }
        None if known => app.set_status(StatusKind::Info, text::no_held_job(&id)),
        None => {
            let ids = vec![id.clone()];
            app.modal = Some(Modal::Confirm {
                prompt: text::confirm_unknown_job(&id),
                busy: text::confirming(&ids),
                command: Box::new(Command::ConfirmJobs { project, ids }),
            });
        }
    }
}

/// `C` on Devices: asks before confirming the held jobs of every listed device.
fn confirm_listed(app: &mut App, project: String) {
    let ids = app.devices.held_rows();
    if ids.is_empty() {
        app.set_status(StatusKind::Info, text::NO_HELD_JOBS.to_string());
        return;
    }
    app.modal = Some(Modal::Confirm {
        prompt: text::confirm_jobs(&ids),
        busy: text::confirming(&ids),
        command: Box::new(Command::ConfirmJobs { project, ids }),
    });
}

fn on_tab_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(project) = app.project.clone() else {
        return vec![];
    };
    match (app.tab, key.code) {
        (Tab::Devices, KeyCode::Char('/')) => {
            app.devices.filtering = true;
            vec![]
        }
        (Tab::Devices, KeyCode::Esc) if !app.devices.filter.is_empty() => {
            app.devices.filter.clear();
            app.refilter_devices()
        }
        (Tab::Devices, KeyCode::Char('s')) => {
            let at = STATE_CYCLE
                .iter()
                .position(|s| *s == app.devices.state)
                .unwrap_or(0);
            app.devices.state = STATE_CYCLE[(at + 1) % STATE_CYCLE.len()];
            app.refilter_devices()
        }
        (Tab::Devices, KeyCode::Char('c')) => {
            confirm_selected(app, project);
            vec![]
        }
        (Tab::Devices, KeyCode::Char('C')) => {
            confirm_listed(app, project);
            vec![]
        }
        (Tab::Devices, KeyCode::Char('n')) => {
            let Some(device) = app.devices.selected_device() else {
                return vec![];
            };
            let target = CheckNowTarget::Device(device.id.clone());
            app.set_status(
                StatusKind::Busy,
                format!("{}…", text::checking_now(&target)),
            );
            vec![Command::CheckNow { project, target }]
        }
        (Tab::Rollouts, KeyCode::Char('N')) => {
            if let Some(plan) = app.selected_plan() {
                let target = CheckNowTarget::Plan(plan.firmware_name.clone());
                app.modal = Some(Modal::Confirm {
                    prompt: text::confirm_check_now_plan(&plan.firmware_name),
                    busy: text::checking_now(&target),
                    command: Box::new(Command::CheckNow { project, target }),
                });
            }
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('p')) => {
            confirm_control(app, project, RolloutAction::Pause);
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('u')) => {
            confirm_control(app, project, RolloutAction::Resume);
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('a')) => {
            confirm_control(app, project, RolloutAction::Advance);
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('c')) => {
            confirm_control(app, project, RolloutAction::Cancel);
            vec![]
        }
        (Tab::Audit, KeyCode::Char('/')) => {
            app.audit.filtering = true;
            vec![]
        }
        (Tab::Audit, KeyCode::Esc) if !app.audit.filter.is_empty() => {
            let before = parse_audit_filter(&app.audit.filter).0;
            app.audit.filter.clear();
            app.refilter_audit(before)
        }
        (Tab::Devices, KeyCode::Char('u')) => {
            match app.devices.selected_device() {
                Some(device) if device.banned => {
                    let id = device.id.clone();
                    app.modal = Some(Modal::Confirm {
                        prompt: text::confirm_unban(&id),
                        busy: text::unbanning(&id),
                        command: Box::new(Command::UnbanDevice { project, id }),
                    });
                }
                Some(device) => {
                    app.set_status(StatusKind::Info, text::device_is_not_banned(&device.id))
                }
                None => {}
            }
            vec![]
        }
        (Tab::Firmware, KeyCode::Char('u')) => {
            if app.upload.as_ref().is_some_and(Upload::running) {
                app.set_status(StatusKind::Info, text::UPLOAD_BUSY.to_string());
            } else {
                let name = app
                    .selected_firmware()
                    .map_or("", |f| f.firmware_name.as_str());
                app.modal = Some(Modal::Form(Form::upload(name)));
            }
            vec![]
        }
        (Tab::Firmware, KeyCode::Char('d')) => {
            if let Some(image) = app.selected_firmware() {
                let (firmware_name, version) = (image.firmware_name.clone(), image.version.clone());
                app.modal = Some(Modal::Confirm {
                    prompt: text::confirm_delete_firmware(&firmware_name, &version),
                    busy: text::deleting_firmware(&firmware_name, &version),
                    command: Box::new(Command::DeleteFirmware {
                        project,
                        firmware_name,
                        version,
                    }),
                });
            }
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('n')) => {
            let name = app.selected_plan().map_or("", |p| p.firmware_name.as_str());
            app.modal = Some(Modal::Form(Form::new_plan(name)));
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('e') | KeyCode::Enter) => {
            if let Some(plan) = app.selected_plan() {
                app.modal = Some(Modal::Form(Form::edit_plan(plan)));
            }
            vec![]
        }
        (Tab::Rollouts, KeyCode::Char('d')) => {
            if let Some(plan) = app.selected_plan() {
                let firmware_name = plan.firmware_name.clone();
                app.modal = Some(Modal::Confirm {
                    prompt: text::confirm_delete_plan(&firmware_name),
                    busy: text::deleting_plan(&firmware_name),
                    command: Box::new(Command::DeletePlan {
                        project,
                        firmware_name,
                    }),
                });
            }
            vec![]
        }
        _ => vec![],
    }
}

/// Applies a key to a list's filter text: Enter and Esc end filtering (Esc also clears the
/// text), Backspace and characters edit it. Returns whether the text changed.
fn edit_filter(filtering: &mut bool, filter: &mut String, key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Enter => {
            *filtering = false;
            false
        }
        KeyCode::Esc => {
            *filtering = false;
            if filter.is_empty() {
                return false;
            }
            filter.clear();
            true
        }
        KeyCode::Backspace => filter.pop().is_some(),
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            filter.push(c);
            true
        }
        _ => false,
    }
}

fn on_filter_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let view = &mut app.devices;
    if !edit_filter(&mut view.filtering, &mut view.filter, key) {
        return vec![];
    }
    app.refilter_devices()
}

fn on_audit_filter_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let before = parse_audit_filter(&app.audit.filter).0;
    let view = &mut app.audit;
    if !edit_filter(&mut view.filtering, &mut view.filter, key) {
        return vec![];
    }
    app.refilter_audit(before)
}

fn on_modal_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(modal) = app.modal.take() else {
        return vec![];
    };
    match modal {
        Modal::Help => {
            // Any of the keys that could have opened or would close it.
            if !matches!(
                key.code,
                KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter
            ) {
                app.modal = Some(Modal::Help);
            }
            vec![]
        }
        Modal::Confirm {
            prompt,
            command,
            busy,
        } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                app.set_status(StatusKind::Busy, format!("{busy}…"));
                vec![*command]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => vec![],
            _ => {
                app.modal = Some(Modal::Confirm {
                    prompt,
                    command,
                    busy,
                });
                vec![]
            }
        },
        Modal::Form(mut form) => match form.key(key) {
            FormKey::Cancel => vec![],
            FormKey::Edited => {
                app.modal = Some(Modal::Form(form));
                vec![]
            }
            FormKey::Submit => submit(app, form),
        },
    }
}

fn submit(app: &mut App, mut form: Form) -> Vec<Command> {
    let Some(project) = app.project.clone() else {
        app.modal = Some(Modal::Form(form));
        return vec![];
    };
    match &form.purpose {
        FormPurpose::Upload => match form.upload_request() {
            Ok((path, firmware_name, version, details)) => {
                app.upload = Some(Upload {
                    path: path.clone(),
                    firmware_name: firmware_name.clone(),
                    version: version.clone(),
                    details: details.clone(),
                    sha256: None,
                    total: 0,
                    sent: 0,
                    outcome: None,
                });
                vec![Command::UploadFirmware {
                    project,
                    path,
                    firmware_name,
                    version,
                    details,
                }]
            }
            Err(error) => {
                form.error = Some(error);
                app.modal = Some(Modal::Form(form));
                vec![]
            }
        },
        FormPurpose::Plan { .. } => match form.plan_request() {
            Ok((firmware_name, spec)) => {
                form.saving = true;
                form.error = None;
                app.set_status(
                    StatusKind::Busy,
                    format!("{}…", text::saving_plan(&firmware_name)),
                );
                app.modal = Some(Modal::Form(form));
                vec![Command::PutPlan {
                    project,
                    firmware_name,
                    spec,
                }]
            }
            Err(error) => {
                form.error = Some(error);
                app.modal = Some(Modal::Form(form));
                vec![]
            }
        },
    }
}

#[cfg(test)]
mod tests;
