//! The Devices tab: the registry grown page by page under a text and a rollout-state filter, the
//! selected device's fields, module job and history, and the operator's actions on one device
//! (unban, confirm a held job, check now, forget, move to another project, cancel or uncancel
//! its upgrade). Those changes, asked and answered, are in `changes`; drawing is in `view`.

mod calls;
mod changes;
mod keys;
mod view;

use fota_shared::api::fleet::{Device, DeviceEvent, DeviceList};
use fota_shared::api::ota::{Job, JobInfo};
use fota_shared::model::job::JobPhase;
use fota_shared::model::rollout::DevicePhase;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

pub use calls::{DeviceAnswer, DeviceCall};
pub use keys::{KEYS, TITLE};
use view::render;

use super::{Around, Ctx, Screen};
use crate::api::CheckNowTarget;
use crate::dashboard::app::App;
use crate::dashboard::keymap::{self, Act, Scope};
use crate::dashboard::message::{Command, Modal, Reaction, StatusKind};
use crate::dashboard::remote::{clamp, Outcome, Remote};
use crate::dashboard::widgets::paged::Paged;
use crate::dashboard::widgets::picker::{PickPurpose, Picker};
use crate::strings;
use fota_shared::api::query::DeviceQuery;

/// Devices fetched per page.
pub const DEVICE_PAGE: u32 = 100;
/// The next page is fetched when the selection comes this close to the last loaded row, so
/// scrolling does not stop at a page boundary.
pub const PREFETCH_ROWS: usize = 20;

/// The state filter's cycle: all, then each phase in the order a job goes through them.
const STATE_CYCLE: [Option<DevicePhase>; 6] = [
    None,
    Some(DevicePhase::Idle),
    Some(DevicePhase::Offered),
    Some(DevicePhase::Succeeded),
    Some(DevicePhase::Failed),
    Some(DevicePhase::Banned),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicesScreen {
    /// A window of the registry grown page by page through the cursor API.
    pub list: Paged<Device>,
    /// Only devices whose rollout job is in this state; `s` cycles through them.
    pub state: Option<DevicePhase>,
    /// The selected device's history, fetched when the selection lands on it.
    pub history: HistoryView,
    /// The project's module-OTA jobs, reloaded with the list: the detail pane shows the selected
    /// device's, and `c`/`C` confirm the held ones.
    pub jobs: Remote<Vec<JobInfo>>,
}

/// One device's history in the detail pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryView {
    pub id: Option<String>,
    pub events: Remote<Vec<DeviceEvent>>,
    /// The selection moved here; the next tick fetches, so scrolling does not send a request
    /// for every device it passes.
    pub due: bool,
}

impl DevicesScreen {
    pub fn selected_device(&self) -> Option<&Device> {
        self.list.rows.get(self.list.selected)
    }

    /// The device's module-OTA job, when the jobs list is loaded and has one.
    pub fn job_of(&self, id: &str) -> Option<&Job> {
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
        self.list
            .rows
            .iter()
            .filter(|d| self.is_held(&d.id))
            .map(|d| d.id.clone())
            .collect()
    }

    fn query(&self, cursor: Option<String>) -> DeviceQuery {
        DeviceQuery {
            limit: Some(DEVICE_PAGE),
            cursor,
            q: Some(self.list.filter.trim().to_string()).filter(|q| !q.is_empty()),
            state: self.state,
            ..DeviceQuery::default()
        }
    }

    fn first_page(&mut self, project: &str) -> Option<Command> {
        self.list.begin().then(|| {
            DeviceCall::LoadPage {
                project: project.to_string(),
                generation: self.list.generation,
                query: self.query(None),
            }
            .into()
        })
    }

    fn refresh_jobs(&mut self, project: &str) -> Option<Command> {
        self.jobs.begin().then(|| {
            DeviceCall::LoadJobs {
                project: project.to_string(),
            }
            .into()
        })
    }

    /// The filter changed: start over from the first page under a new generation.
    fn refilter(&mut self, project: &str) -> Vec<Command> {
        self.list.restart();
        self.first_page(project).into_iter().collect()
    }

    fn prefetch(&mut self, project: &str) -> Option<Command> {
        let near_end = self.list.selected + PREFETCH_ROWS >= self.list.rows.len();
        let cursor = self.list.begin_more(near_end)?;
        Some(
            DeviceCall::LoadPage {
                project: project.to_string(),
                generation: self.list.generation,
                query: self.query(Some(cursor)),
            }
            .into(),
        )
    }

    /// Notes that the selected device's history is wanted when the selection moved to another
    /// device; the next tick fetches it. With `now`, fetches at once, also for the device still
    /// selected (a refresh).
    fn sync_history(&mut self, project: &str, now: bool) -> Option<Command> {
        let id = self.selected_device()?.id.clone();
        if self.history.id.as_deref() != Some(id.as_str()) {
            self.history = HistoryView {
                id: Some(id),
                events: Remote::default(),
                due: true,
            };
        }
        if now {
            self.fetch_history(project)
        } else {
            None
        }
    }

    /// Fetches the history the selection asked for.
    fn fetch_history(&mut self, project: &str) -> Option<Command> {
        let history = &mut self.history;
        let id = history.id.clone()?;
        history.due = false;
        history.events.begin().then(|| {
            DeviceCall::LoadHistory {
                project: project.to_string(),
                id,
            }
            .into()
        })
    }

    /// A page of devices arrived. `visible`: the tab is open, so the selected device's history
    /// is wanted.
    pub(super) fn on_page(
        &mut self,
        generation: u64,
        cursor: Option<String>,
        result: Outcome<DeviceList>,
        project: Option<&str>,
        visible: bool,
    ) -> Vec<Command> {
        let first_page = cursor.is_none();
        let view = &mut self.list;
        let Some(list) = view.settle(generation, first_page, strings::WHAT_DEVICES, result) else {
            return vec![];
        };
        if first_page && (view.stale || view.rows.len() <= DEVICE_PAGE as usize) {
            // A new filter starts at the top; a refresh of the same filter keeps the selected
            // device.
            let keep = if view.stale {
                None
            } else {
                view.rows.get(view.selected).map(|d| d.id.clone())
            };
            view.rows = list.devices;
            view.next_cursor = list.next_cursor;
            view.stale = false;
            view.selected = keep
                .and_then(|id| view.rows.iter().position(|d| d.id == id))
                .unwrap_or(0);
        } else if first_page {
            // Several pages are loaded: refresh the first page's devices in place, keep the
            // window.
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
        let Some(project) = project else {
            return vec![];
        };
        let mut commands: Vec<Command> = self.prefetch(project).into_iter().collect();
        if visible {
            commands.extend(self.sync_history(project, false));
        }
        commands
    }

    pub(super) fn on_history(&mut self, id: &str, result: Outcome<Vec<DeviceEvent>>) {
        if self.history.id.as_deref() == Some(id) {
            self.history.events.settle(strings::WHAT_HISTORY, result);
        }
    }

    pub(super) fn on_jobs(&mut self, result: Outcome<Vec<JobInfo>>) {
        self.jobs.settle(strings::WHAT_JOBS, result);
    }

    /// The answer to one of the tab's own calls.
    pub fn on_answer(&mut self, answer: DeviceAnswer, around: Around<'_>) -> Reaction {
        let project = around.project;
        match answer {
            DeviceAnswer::PageLoaded {
                generation,
                cursor,
                result,
            } => {
                Reaction::commands(self.on_page(generation, cursor, result, project, around.shown))
            }
            DeviceAnswer::HistoryLoaded { id, result } => {
                self.on_history(&id, result.map(|h| h.events));
                Reaction::none()
            }
            DeviceAnswer::JobsLoaded(result) => {
                self.on_jobs(result);
                Reaction::none()
            }
            DeviceAnswer::JobsConfirmed { ids, result } => self.on_confirmed(&ids, result, project),
            DeviceAnswer::Unbanned { id, result } => self.on_unbanned(&id, result),
            DeviceAnswer::Forgotten { id, result } => self.on_forgotten(&id, result, project),
            DeviceAnswer::Moved { id, to, result } => self.on_moved(&id, &to, result, project),
            DeviceAnswer::Cancelled { id, cancel, result } => {
                self.on_cancelled(&id, cancel, result, project)
            }
        }
    }
}

impl Screen for DevicesScreen {
    /// The commands that (re)load what the tab shows: the first page, the jobs, the history.
    fn refresh(&mut self, project: &str) -> Vec<Command> {
        let mut commands: Vec<Command> = self.first_page(project).into_iter().collect();
        commands.extend(self.refresh_jobs(project));
        commands.extend(self.sync_history(project, true));
        commands
    }

    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        project: &str,
    ) -> Vec<Command> {
        let len = self.list.rows.len();
        self.list.selected = clamp(to(self.list.selected, len), len);
        let mut commands: Vec<Command> = self.prefetch(project).into_iter().collect();
        commands.extend(self.sync_history(project, false));
        commands
    }

    /// A key while the filter is typed.
    fn on_filter_key(&mut self, key: KeyEvent, project: &str) -> Vec<Command> {
        let act = keymap::lookup(Scope::Filter, &key);
        if !self.list.edit_filter(act, key) {
            return vec![];
        }
        self.refilter(project)
    }

    /// The tab's own keys, as the keymap names them.
    fn on_act(&mut self, act: Act, project: &str) -> Reaction {
        let project = project.to_string();
        match act {
            Act::StartFilter => {
                self.list.filtering = true;
                Reaction::none()
            }
            Act::ClearFilter if !self.list.filter.is_empty() => {
                self.list.filter.clear();
                Reaction::commands(self.refilter(&project))
            }
            Act::CycleState => {
                let at = STATE_CYCLE
                    .iter()
                    .position(|s| *s == self.state)
                    .unwrap_or(0);
                self.state = STATE_CYCLE[(at + 1) % STATE_CYCLE.len()];
                Reaction::commands(self.refilter(&project))
            }
            Act::ConfirmJob => self.confirm_selected(project),
            Act::CancelUpgrade => self.confirm_cancel(project, true),
            Act::Uncancel => self.confirm_cancel(project, false),
            Act::ConfirmListed => self.confirm_listed(project),
            Act::CheckNow => {
                let Some(device) = self.selected_device() else {
                    return Reaction::none();
                };
                let target = CheckNowTarget::Device(device.id.clone());
                let busy = format!("{}…", strings::checking_now(&target));
                Reaction::commands([Command::CheckNow { project, target }])
                    .with_status(StatusKind::Busy, busy)
            }
            Act::Unban => self.confirm_unban(project),
            Act::Forget => self.confirm_forget(project),
            // The project list comes from the app, which fills the picker it opens.
            Act::Move => match self.selected_device() {
                Some(device) => {
                    Reaction::modal(Modal::Pick(Picker::new(PickPurpose::MoveDevice {
                        id: device.id.clone(),
                    })))
                }
                None => Reaction::none(),
            },
            _ => Reaction::none(),
        }
    }

    /// Fetches the history the selection asked for, while the tab is shown and the server
    /// answers.
    fn on_tick(&mut self, ctx: Ctx<'_>) -> Vec<Command> {
        match ctx.project {
            Some(project) if ctx.online && ctx.visible && self.history.due => {
                self.fetch_history(project).into_iter().collect()
            }
            _ => vec![],
        }
    }

    fn filtering(&self) -> bool {
        self.list.filtering
    }

    /// The project to move the selected device to was picked: asks before it moves.
    fn on_pick(&mut self, purpose: PickPurpose, key: &str, project: &str) -> Reaction {
        match purpose {
            PickPurpose::MoveDevice { id } => {
                Reaction::modal(changes::confirm_move(project, &id, key))
            }
            PickPurpose::SwitchProject => Reaction::none(),
        }
    }

    fn start_over(&mut self) {
        *self = DevicesScreen::default();
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

#[cfg(test)]
mod tests;
