//! The Firmware tab: the project's images, the upload form and the running upload's progress,
//! and deleting an image.

mod calls;

use fota_shared::api::catalog::{Firmware, UploadReceipt};
use fota_shared::model::plan::ImageKind;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Row, Widget};

pub use calls::{FirmwareAnswer, FirmwareCall};

use super::{Around, Screen};
use crate::dashboard::app::App;
use crate::dashboard::keymap::{bind, Act, Group, Key, Scope};
use crate::dashboard::message::{Command, Modal, Reaction, StatusKind};
use crate::dashboard::remote::{clamp, Outcome, Remote};
use crate::dashboard::tab::Tab;
use crate::dashboard::widgets::form::{Field, FieldId, Form, FormPurpose};
use crate::dashboard::widgets::{
    field, framed, remote_area, render_table, ACCENT, ERROR, ONLINE, PENDING,
};
use crate::format;
use crate::strings;
use fota_shared::api::query::UploadDetails;

/// The upload form's fields.
#[allow(non_upper_case_globals)]
impl FieldId {
    pub const Path: FieldId = FieldId::labelled(strings::FIELD_PATH);
    pub const Version: FieldId = FieldId::labelled(strings::FIELD_VERSION);
    pub const Module: FieldId = FieldId::labelled(strings::FIELD_MODULE);
    pub const Kind: FieldId = FieldId::labelled(strings::FIELD_KIND);
    pub const SourceVersion: FieldId = FieldId::labelled(strings::FIELD_SOURCE_VERSION);
    pub const Notes: FieldId = FieldId::labelled(strings::FIELD_NOTES);
}

/// The tab's title.
pub const TITLE: &str = strings::TAB_FIRMWARE;
/// Where the tab's own bindings apply: while it is shown.
const HERE: Scope = Scope::Tab(Tab::Firmware);
/// The tab's own bindings (its help group).
pub const KEYS: Group = Group {
    title: TITLE,
    bindings: &[
        bind("u", "upload a file", &[(HERE, Key::Char('u'), Act::Upload)]),
        bind(
            "d",
            "delete the selected image",
            &[(HERE, Key::Char('d'), Act::Delete)],
        ),
    ],
};

/// Upload kinds, the default first.
const KINDS: &[&str] = &["full", "script", "delta"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmwareScreen {
    pub images: Remote<Vec<Firmware>>,
    pub selected: usize,
    /// The upload in progress, or the one just finished.
    pub upload: Option<Upload>,
}

/// The upload in progress (or just finished).
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

/// The upload form, the firmware name filled in from the selected image.
pub fn upload_form(firmware_name: &str) -> Form {
    Form::new(
        FormPurpose::Upload,
        vec![
            Field::text(FieldId::Path, "", ""),
            Field::text(FieldId::FirmwareName, "", firmware_name),
            Field::text(FieldId::Version, "", ""),
            Field::text(FieldId::Module, strings::MODULE_HINT, ""),
            Field::choice(FieldId::Kind, KINDS, 0),
            Field::text(FieldId::SourceVersion, strings::SOURCE_HINT, ""),
            Field::text(FieldId::Notes, "", ""),
        ],
    )
}

/// `(path, firmware_name, version, details)` of an upload form.
pub fn upload_request(form: &Form) -> Result<(String, String, String, UploadDetails), String> {
    let path = form.required(FieldId::Path)?;
    let firmware_name = form.required(FieldId::FirmwareName)?;
    let version = form.required(FieldId::Version)?;
    let kind = form
        .choice(FieldId::Kind)
        .and_then(ImageKind::parse)
        .unwrap_or_default();
    let source_version = form.optional(FieldId::SourceVersion);
    match (kind, &source_version) {
        (ImageKind::Delta, None) => return Err(strings::DELTA_NEEDS_SOURCE.to_string()),
        (ImageKind::Delta, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(strings::SOURCE_ONLY_FOR_DELTA.to_string()),
    }
    let details = UploadDetails {
        module: form.optional(FieldId::Module),
        kind,
        source_version,
        notes: form.optional(FieldId::Notes),
    };
    Ok((path, firmware_name, version, details))
}

impl FirmwareScreen {
    pub fn selected_image(&self) -> Option<&Firmware> {
        self.images.data.as_ref()?.get(self.selected)
    }

    /// A submitted upload form: the upload starts, or the form comes back with its error.
    fn start_upload(&mut self, mut form: Form, project: &str) -> Result<Command, Form> {
        match upload_request(&form) {
            Ok((path, firmware_name, version, details)) => {
                self.upload = Some(Upload {
                    path: path.clone(),
                    firmware_name: firmware_name.clone(),
                    version: version.clone(),
                    details: details.clone(),
                    sha256: None,
                    total: 0,
                    sent: 0,
                    outcome: None,
                });
                Ok(FirmwareCall::Upload {
                    project: project.to_string(),
                    path,
                    firmware_name,
                    version,
                    details,
                }
                .into())
            }
            Err(error) => {
                form.error = Some(error);
                Err(form)
            }
        }
    }

    fn on_loaded(&mut self, result: Outcome<Vec<Firmware>>) {
        self.images.settle(strings::WHAT_FIRMWARE, result);
        self.selected = clamp(self.selected, self.images.data.as_ref().map_or(0, Vec::len));
    }

    /// The answer to one of the tab's own calls, or news of the upload that runs.
    pub fn on_answer(&mut self, answer: FirmwareAnswer, around: Around<'_>) -> Reaction {
        let project = around.project;
        match answer {
            FirmwareAnswer::Loaded(result) => {
                self.on_loaded(result);
                Reaction::none()
            }
            FirmwareAnswer::Hashed { sha256, size } => {
                self.on_hashed(sha256, size);
                Reaction::none()
            }
            FirmwareAnswer::Progress { sent } => {
                self.on_progress(sent);
                Reaction::none()
            }
            FirmwareAnswer::Uploaded(result) => self.on_finished(result, project),
            FirmwareAnswer::Deleted {
                firmware_name,
                version,
                result,
            } => self.on_deleted(&firmware_name, &version, result, project),
        }
    }

    fn on_hashed(&mut self, sha256: String, size: u64) {
        if let Some(upload) = &mut self.upload {
            upload.sha256 = Some(sha256);
            upload.total = size;
        }
    }

    fn on_progress(&mut self, sent: u64) {
        if let Some(upload) = &mut self.upload {
            upload.sent = sent;
        }
    }

    /// The upload ended; a stored image reloads the list.
    fn on_finished(&mut self, result: Outcome<UploadReceipt>, project: Option<&str>) -> Reaction {
        let Some(upload) = &mut self.upload else {
            return Reaction::none();
        };
        match result {
            Ok(receipt) => {
                let message =
                    strings::uploaded(&upload.firmware_name, &upload.version, &receipt.sha256);
                upload.sent = receipt.size;
                upload.outcome = Some(Ok(receipt));
                let reload = project.map(|p| self.refresh(p)).unwrap_or_default();
                Reaction::commands(reload).with_status(StatusKind::Info, message)
            }
            Err(failure) => {
                let what = strings::uploading(&upload.firmware_name, &upload.version);
                let message = strings::failed(&what, &failure.message);
                upload.outcome = Some(Err(message.clone()));
                Reaction::status(StatusKind::Error, message)
            }
        }
    }

    fn on_deleted(
        &mut self,
        firmware_name: &str,
        version: &str,
        result: Outcome<()>,
        project: Option<&str>,
    ) -> Reaction {
        match result {
            Ok(()) => {
                let reload = project.map(|p| self.refresh(p)).unwrap_or_default();
                Reaction::commands(reload).with_status(
                    StatusKind::Info,
                    strings::deleted_firmware(firmware_name, version),
                )
            }
            Err(failure) => Reaction::status(
                StatusKind::Error,
                strings::failed(
                    &strings::deleting_firmware(firmware_name, version),
                    &failure.message,
                ),
            ),
        }
    }
}

impl Screen for FirmwareScreen {
    fn refresh(&mut self, project: &str) -> Vec<Command> {
        self.images
            .begin()
            .then(|| {
                Command::from(FirmwareCall::Load {
                    project: project.to_string(),
                })
            })
            .into_iter()
            .collect()
    }

    fn move_selection(
        &mut self,
        to: &dyn Fn(usize, usize) -> usize,
        _project: &str,
    ) -> Vec<Command> {
        let len = self.images.data.as_ref().map_or(0, Vec::len);
        self.selected = clamp(to(self.selected, len), len);
        vec![]
    }

    fn on_act(&mut self, act: Act, project: &str) -> Reaction {
        match act {
            Act::Upload if self.upload.as_ref().is_some_and(Upload::running) => {
                Reaction::status(StatusKind::Info, strings::UPLOAD_BUSY.to_string())
            }
            Act::Upload => {
                let name = self
                    .selected_image()
                    .map_or("", |f| f.firmware_name.as_str());
                Reaction::modal(Modal::Form(upload_form(name)))
            }
            Act::Delete => match self.selected_image() {
                Some(image) => {
                    let (firmware_name, version) =
                        (image.firmware_name.clone(), image.version.clone());
                    Reaction::modal(Modal::confirm(
                        strings::confirm_delete_firmware(&firmware_name, &version),
                        strings::deleting_firmware(&firmware_name, &version),
                        FirmwareCall::Delete {
                            project: project.to_string(),
                            firmware_name,
                            version,
                            source_version: image.source_version.clone(),
                        }
                        .into(),
                    ))
                }
                None => Reaction::none(),
            },
            _ => Reaction::none(),
        }
    }

    fn submit(&mut self, form: Form, project: &str) -> (Option<Form>, Reaction) {
        match self.start_upload(form, project) {
            Ok(command) => (None, Reaction::commands([command])),
            Err(form) => (Some(form), Reaction::none()),
        }
    }

    /// An upload that runs keeps its panel: it finishes in the project it started in.
    fn start_over(&mut self) {
        let upload = self.upload.take();
        *self = FirmwareScreen {
            upload,
            ..FirmwareScreen::default()
        };
    }

    fn draw(&self, app: &App, area: Rect, buf: &mut Buffer) {
        render(self, app.ticks, area, buf);
    }
}

fn render(screen: &FirmwareScreen, ticks: u64, area: Rect, buf: &mut Buffer) {
    let upload_height = if screen.upload.is_some() { 6 } else { 0 };
    let [list_area, upload_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(upload_height)]).areas(area);
    let block = Block::bordered()
        .title(strings::FIRMWARE_TITLE)
        .title_bottom(Line::from(" u upload  d delete ").dim());
    let inner = framed(block, list_area, buf);
    if let Some(inner) = remote_area(ticks, &screen.images, strings::WHAT_FIRMWARE, inner, buf) {
        let images = screen.images.data.as_deref().unwrap_or_default();
        if images.is_empty() {
            Line::from(strings::FIRMWARE_NONE).dim().render(inner, buf);
        } else {
            let widths = [
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Min(8),
            ];
            let rows = images.iter().map(|image| {
                Row::new([
                    image.firmware_name.clone(),
                    image.version.clone(),
                    image.module.clone(),
                    format::kind_text(image),
                    format::bytes(image.size),
                    format::short_hash(&image.sha256).to_string(),
                    format::timestamp(&image.uploaded_at)
                        .chars()
                        .take(16)
                        .collect(),
                    image.notes.clone().unwrap_or_default(),
                ])
            });
            render_table(
                rows,
                widths,
                &[
                    "firmware", "version", "module", "kind", "size", "sha256", "uploaded", "notes",
                ],
                screen.selected,
                inner,
                buf,
            );
        }
    }
    if let Some(upload) = &screen.upload {
        render_upload(upload, upload_area, buf);
    }
}

fn render_upload(upload: &Upload, area: Rect, buf: &mut Buffer) {
    let inner = framed(Block::bordered().title(strings::UPLOAD_TITLE), area, buf);
    let [what, digest, bar, outcome] = Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    Line::from(format!(
        "{} ← {}",
        strings::uploading(&upload.firmware_name, &upload.version),
        upload.path
    ))
    .render(what, buf);
    match &upload.sha256 {
        Some(sha256) => field("sha256", sha256.as_str()).render(digest, buf),
        None => {
            field("sha256", Span::from(strings::UPLOAD_HASHING).fg(PENDING)).render(digest, buf)
        }
    }
    let ratio = if upload.total == 0 {
        0.0
    } else {
        (upload.sent as f64 / upload.total as f64).min(1.0)
    };
    Gauge::default()
        .ratio(ratio)
        .label(format!(
            "{} / {}",
            format::bytes(upload.sent),
            format::bytes(upload.total)
        ))
        .gauge_style(Style::new().fg(ACCENT).bg(Color::DarkGray))
        .use_unicode(true)
        .render(bar, buf);
    match &upload.outcome {
        Some(Ok(receipt)) => field(
            "stored",
            format!("{} · md5 {}", format::bytes(receipt.size), receipt.md5),
        )
        .fg(ONLINE)
        .render(outcome, buf),
        Some(Err(error)) => Line::from(error.as_str()).fg(ERROR).render(outcome, buf),
        None => {}
    }
}
#[cfg(test)]
mod tests;
