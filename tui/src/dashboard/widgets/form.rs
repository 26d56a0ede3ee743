//! An input form as plain data: fields keyed by `FieldId`, focus, key handling (through the
//! keymap's form scope) and drawing. What a filled form stands for is read by the screen that
//! opened it (`screens::firmware` for uploads, `screens::rollouts` for plans, `screens::project`
//! for the project).

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{popup, ACCENT, ERROR, PENDING};
use crate::dashboard::keymap::{self, Act, Scope};
use crate::strings;

/// A form's field, known by its label (what the operator reads, unique within a form). Each
/// screen names the fields of its own form in an `impl FieldId` of its module (the upload's in
/// `screens::firmware`, the plan's in `screens::rollouts::plan_form`, the project's in
/// `screens::project`), as constants spelled like the variants they stand for; the one field
/// two forms share is named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldId(&'static str);

#[allow(non_upper_case_globals)]
impl FieldId {
    /// The firmware an upload or a plan is for.
    pub const FirmwareName: FieldId = FieldId::labelled(strings::FIELD_FIRMWARE_NAME);

    pub const fn labelled(label: &'static str) -> FieldId {
        FieldId(label)
    }

    pub fn label(self) -> &'static str {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    Toggle(bool),
    Choice {
        options: &'static [&'static str],
        selected: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub id: FieldId,
    pub hint: &'static str,
    pub value: FieldValue,
}

impl Field {
    pub fn text(id: FieldId, hint: &'static str, value: impl Into<String>) -> Field {
        Field {
            id,
            hint,
            value: FieldValue::Text(value.into()),
        }
    }

    pub fn toggle(id: FieldId, hint: &'static str, on: bool) -> Field {
        Field {
            id,
            hint,
            value: FieldValue::Toggle(on),
        }
    }

    pub fn choice(id: FieldId, options: &'static [&'static str], selected: usize) -> Field {
        Field {
            id,
            hint: "",
            value: FieldValue::Choice { options, selected },
        }
    }
}

/// What a form is for, and so what submitting it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormPurpose {
    Upload,
    /// `Some(name)` edits the plan of that firmware; `None` creates one (the name is a field).
    Plan {
        firmware_name: Option<String>,
    },
    /// The project `key`: its name, ban-after and device policy.
    Project {
        key: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub purpose: FormPurpose,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Why the last submit was refused, locally or by the server.
    pub error: Option<String>,
    /// Submitted and waiting for the server; keys other than Esc are ignored meanwhile.
    pub saving: bool,
    /// What submitting the shown values would do, as the server previewed it (the plan form);
    /// any edit drops it, so the next submit previews again.
    pub note: Option<String>,
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Edited,
    Submit,
    Cancel,
}

impl Form {
    pub fn new(purpose: FormPurpose, fields: Vec<Field>) -> Form {
        Form {
            purpose,
            fields,
            focus: 0,
            error: None,
            saving: false,
            note: None,
        }
    }

    pub fn title(&self) -> String {
        match &self.purpose {
            FormPurpose::Upload => strings::UPLOAD_FORM_TITLE.to_string(),
            FormPurpose::Plan {
                firmware_name: None,
            } => strings::PLAN_FORM_NEW.to_string(),
            FormPurpose::Plan {
                firmware_name: Some(name),
            } => format!("{}{name} ", strings::PLAN_FORM_EDIT),
            FormPurpose::Project { key } => strings::project_form_title(key),
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> FormKey {
        let act = keymap::lookup(Scope::Form, &key);
        if act == Some(Act::Dismiss) {
            return FormKey::Cancel;
        }
        if self.saving {
            return FormKey::Edited;
        }
        let count = self.fields.len();
        match act {
            Some(Act::Submit) => return FormKey::Submit,
            Some(Act::NextField) => self.focus = (self.focus + 1) % count,
            Some(Act::PreviousField) => self.focus = (self.focus + count - 1) % count,
            _ => self.edit_focused(act, key),
        }
        FormKey::Edited
    }

    fn edit_focused(&mut self, act: Option<Act>, key: KeyEvent) {
        let Some(field) = self.fields.get_mut(self.focus) else {
            return;
        };
        match (&mut field.value, act, key.code) {
            (FieldValue::Text(value), Some(Act::ClearField), _) => value.clear(),
            // Space is a choice key, but in a text field it is a space.
            (FieldValue::Text(value), None | Some(Act::NextChoice), KeyCode::Char(c)) => {
                value.push(c)
            }
            (FieldValue::Text(value), None, KeyCode::Backspace) => {
                value.pop();
            }
            (FieldValue::Toggle(on), Some(Act::NextChoice | Act::PreviousChoice), _) => *on = !*on,
            (FieldValue::Choice { options, selected }, Some(Act::NextChoice), _) => {
                *selected = (*selected + 1) % options.len()
            }
            (FieldValue::Choice { options, selected }, Some(Act::PreviousChoice), _) => {
                *selected = (*selected + options.len() - 1) % options.len()
            }
            _ => return,
        }
        self.error = None;
        self.note = None;
    }

    pub fn value(&self, id: FieldId) -> Option<&FieldValue> {
        self.fields.iter().find(|f| f.id == id).map(|f| &f.value)
    }

    pub fn set_text(&mut self, id: FieldId, text: &str) {
        if let Some(field) = self.fields.iter_mut().find(|f| f.id == id) {
            field.value = FieldValue::Text(text.into());
        }
    }

    pub fn focus_on(&mut self, id: FieldId) {
        if let Some(at) = self.fields.iter().position(|f| f.id == id) {
            self.focus = at;
        }
    }

    /// The field's text, trimmed; empty when it has none.
    pub fn text(&self, id: FieldId) -> &str {
        match self.value(id) {
            Some(FieldValue::Text(value)) => value.trim(),
            _ => "",
        }
    }

    pub fn required(&self, id: FieldId) -> Result<String, String> {
        match self.text(id) {
            "" => Err(strings::required(id.label())),
            value => Ok(value.to_string()),
        }
    }

    pub fn optional(&self, id: FieldId) -> Option<String> {
        Some(self.text(id).to_string()).filter(|v| !v.is_empty())
    }

    pub fn choice(&self, id: FieldId) -> Option<&'static str> {
        match self.value(id) {
            Some(FieldValue::Choice { options, selected }) => options.get(*selected).copied(),
            _ => None,
        }
    }

    pub fn toggled(&self, id: FieldId) -> bool {
        matches!(self.value(id), Some(FieldValue::Toggle(true)))
    }
}

pub fn render_form(form: &Form, area: Rect, buf: &mut Buffer) {
    // The preview's lines, as they wrap in the popup's 88 columns.
    let note = form.note.as_deref().map_or(0, |n| {
        n.lines()
            .map(|l| l.chars().count().div_ceil(88).max(1))
            .sum::<usize>()
    });
    let height = form.fields.len() as u16 + 6 + note as u16;
    let inner = popup(area, 90, height, form.title(), ACCENT, buf);
    let mut lines: Vec<Line> = form
        .fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let focused = i == form.focus;
            let label_style = if focused {
                Style::new().fg(ACCENT).bold()
            } else {
                Style::new().dim()
            };
            let value = match &field.value {
                FieldValue::Text(value) if focused => format!("{value}▏"),
                FieldValue::Text(value) => value.clone(),
                FieldValue::Toggle(on) => format!("[{}]", if *on { "x" } else { " " }),
                FieldValue::Choice { options, selected } => format!("◀ {} ▶", options[*selected]),
            };
            let marker = if focused { "›" } else { " " };
            Line::from(vec![
                Span::styled(format!("{marker} {:<18}", field.id.label()), label_style),
                Span::from(value),
                Span::from(if field.hint.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", field.hint)
                })
                .dim(),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    if let Some(note) = &form.note {
        lines.extend(note.lines().map(|l| Line::from(l.to_string()).fg(ACCENT)));
    }
    lines.push(match (&form.error, form.saving) {
        (Some(error), _) => Line::from(error.as_str()).fg(ERROR),
        (None, true) => Line::from(strings::SAVING).fg(PENDING),
        (None, false) => Line::from(""),
    });
    lines.push(Line::from(strings::FORM_HINT).dim());
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::KeyModifiers;

    use super::*;

    fn form() -> Form {
        Form::new(
            FormPurpose::Upload,
            vec![
                Field::text(FieldId::Path, "", ""),
                Field::toggle(FieldId::Downgrade, "", false),
                Field::choice(FieldId::Kind, &["full", "script", "delta"], 0),
            ],
        )
    }

    fn press(form: &mut Form, code: KeyCode, modifiers: KeyModifiers) -> FormKey {
        form.key(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn text_fields_take_spaces_and_ctrl_u_clears_them() {
        let mut form = form();
        for c in "a b".chars() {
            press(&mut form, KeyCode::Char(c), KeyModifiers::NONE);
        }
        assert_eq!(form.text(FieldId::Path), "a b");
        press(&mut form, KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(form.text(FieldId::Path), "");
        assert_eq!(
            form.required(FieldId::Path).unwrap_err(),
            "File path is required."
        );
    }

    #[test]
    fn toggles_and_choices_answer_space_and_arrows() {
        let mut form = form();
        press(&mut form, KeyCode::Tab, KeyModifiers::NONE);
        press(&mut form, KeyCode::Char(' '), KeyModifiers::NONE);
        assert!(form.toggled(FieldId::Downgrade));
        press(&mut form, KeyCode::Down, KeyModifiers::NONE);
        press(&mut form, KeyCode::Left, KeyModifiers::NONE);
        assert_eq!(form.choice(FieldId::Kind), Some("delta"));
        assert_eq!(
            press(&mut form, KeyCode::Enter, KeyModifiers::NONE),
            FormKey::Submit
        );
        assert_eq!(
            press(&mut form, KeyCode::Esc, KeyModifiers::NONE),
            FormKey::Cancel
        );
    }

    #[test]
    fn focus_wraps_both_ways() {
        let mut form = form();
        press(&mut form, KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(form.focus, 2);
        press(&mut form, KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(form.focus, 0);
    }
}
