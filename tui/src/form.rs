//! Input forms (upload, plan) as plain data: fields, focus, key handling, and the conversion of a
//! filled form into the request it stands for.

use fota_shared::api::{Delivery, Plan, PlanSpec};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::text;

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
    pub label: &'static str,
    pub hint: &'static str,
    pub value: FieldValue,
}

impl Field {
    fn text(label: &'static str, hint: &'static str, value: impl Into<String>) -> Field {
        Field {
            label,
            hint,
            value: FieldValue::Text(value.into()),
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
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Edited,
    Submit,
    Cancel,
}

const DELIVERIES: &[&str] = &["stream", "redirect"];

impl Form {
    pub fn upload(firmware_name: &str) -> Form {
        Form {
            purpose: FormPurpose::Upload,
            fields: vec![
                Field::text(text::FIELD_PATH, "", ""),
                Field::text(text::FIELD_FIRMWARE_NAME, "", firmware_name),
                Field::text(text::FIELD_VERSION, "", ""),
            ],
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn new_plan(firmware_name: &str) -> Form {
        let mut fields = vec![Field::text(text::FIELD_FIRMWARE_NAME, "", firmware_name)];
        fields.extend(plan_fields(&PlanSpec {
            target_version: String::new(),
            from_versions: vec![],
            devices: vec![],
            imei_ranges: vec![],
            delivery: Delivery::Stream,
            allow_downgrade: false,
            rollout: None,
            job_timeout_s: None,
        }));
        Form {
            purpose: FormPurpose::Plan {
                firmware_name: None,
            },
            fields,
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn edit_plan(plan: &Plan) -> Form {
        Form {
            purpose: FormPurpose::Plan {
                firmware_name: Some(plan.firmware_name.clone()),
            },
            fields: plan_fields(&plan.spec),
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn title(&self) -> String {
        match &self.purpose {
            FormPurpose::Upload => text::UPLOAD_FORM_TITLE.to_string(),
            FormPurpose::Plan {
                firmware_name: None,
            } => text::PLAN_FORM_NEW.to_string(),
            FormPurpose::Plan {
                firmware_name: Some(name),
            } => format!("{}{name} ", text::PLAN_FORM_EDIT),
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> FormKey {
        if key.code == KeyCode::Esc {
            return FormKey::Cancel;
        }
        if self.saving {
            return FormKey::Edited;
        }
        let count = self.fields.len();
        match key.code {
            KeyCode::Enter => return FormKey::Submit,
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % count,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + count - 1) % count,
            _ => self.edit_focused(key),
        }
        FormKey::Edited
    }

    fn edit_focused(&mut self, key: KeyEvent) {
        let Some(field) = self.fields.get_mut(self.focus) else {
            return;
        };
        match (&mut field.value, key.code) {
            (FieldValue::Text(value), KeyCode::Char('u'))
                if key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                value.clear()
            }
            (FieldValue::Text(value), KeyCode::Char(c)) => value.push(c),
            (FieldValue::Text(value), KeyCode::Backspace) => {
                value.pop();
            }
            (FieldValue::Toggle(on), KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right) => {
                *on = !*on
            }
            (FieldValue::Choice { options, selected }, KeyCode::Char(' ') | KeyCode::Right) => {
                *selected = (*selected + 1) % options.len()
            }
            (FieldValue::Choice { options, selected }, KeyCode::Left) => {
                *selected = (*selected + options.len() - 1) % options.len()
            }
            _ => return,
        }
        self.error = None;
    }

    fn field(&self, label: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| &f.value)
    }

    fn text(&self, label: &str) -> &str {
        match self.field(label) {
            Some(FieldValue::Text(value)) => value.trim(),
            _ => "",
        }
    }

    fn required(&self, label: &str) -> Result<String, String> {
        match self.text(label) {
            "" => Err(text::required(label)),
            value => Ok(value.to_string()),
        }
    }

    /// `(path, firmware_name, version)` of an upload form.
    pub fn upload_request(&self) -> Result<(String, String, String), String> {
        Ok((
            self.required(text::FIELD_PATH)?,
            self.required(text::FIELD_FIRMWARE_NAME)?,
            self.required(text::FIELD_VERSION)?,
        ))
    }

    /// `(firmware_name, spec)` of a plan form.
    pub fn plan_request(&self) -> Result<(String, PlanSpec), String> {
        let firmware_name = match &self.purpose {
            FormPurpose::Plan {
                firmware_name: Some(name),
            } => name.clone(),
            _ => self.required(text::FIELD_FIRMWARE_NAME)?,
        };
        let imei_ranges = split_list(self.text(text::FIELD_IMEI_RANGES))
            .iter()
            .map(|r| parse_imei_range(r))
            .collect::<Result<_, _>>()?;
        let delivery = match self.field(text::FIELD_DELIVERY) {
            Some(FieldValue::Choice { selected: 1, .. }) => Delivery::Redirect,
            _ => Delivery::Stream,
        };
        let allow_downgrade = matches!(
            self.field(text::FIELD_DOWNGRADE),
            Some(FieldValue::Toggle(true))
        );
        let spec = PlanSpec {
            target_version: self.required(text::FIELD_TARGET)?,
            from_versions: split_list(self.text(text::FIELD_FROM)),
            devices: split_list(self.text(text::FIELD_DEVICES)),
            imei_ranges,
            delivery,
            allow_downgrade,
        };
        Ok((firmware_name, spec))
    }
}

fn plan_fields(spec: &PlanSpec) -> Vec<Field> {
    let ranges: Vec<String> = spec
        .imei_ranges
        .iter()
        .map(|[lo, hi]| format!("{lo}-{hi}"))
        .collect();
    vec![
        Field::text(text::FIELD_TARGET, "", spec.target_version.clone()),
        Field::text(
            text::FIELD_FROM,
            text::LIST_HINT,
            spec.from_versions.join(", "),
        ),
        Field::text(
            text::FIELD_DEVICES,
            text::LIST_HINT,
            spec.devices.join(", "),
        ),
        Field::text(text::FIELD_IMEI_RANGES, text::RANGE_HINT, ranges.join(", ")),
        Field {
            label: text::FIELD_DELIVERY,
            hint: "",
            value: FieldValue::Choice {
                options: DELIVERIES,
                selected: usize::from(spec.delivery == Delivery::Redirect),
            },
        },
        Field {
            label: text::FIELD_DOWNGRADE,
            hint: "",
            value: FieldValue::Toggle(spec.allow_downgrade),
        },
    ]
}

/// `"a, b,,c "` → `["a", "b", "c"]`; whitespace also separates.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `860000000000000-860000000000999` → `["860000000000000", "860000000000999"]`.
pub fn parse_imei_range(text: &str) -> Result<[String; 2], String> {
    match text.trim().split_once('-') {
        Some((lo, hi)) if !lo.trim().is_empty() && !hi.trim().is_empty() => {
            Ok([lo.trim().to_string(), hi.trim().to_string()])
        }
        _ => Err(text::bad_range(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_text(form: &mut Form, text: &str) {
        for c in text.chars() {
            form.key(key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn a_filled_plan_form_becomes_a_plan_spec() {
        let mut form = Form::new_plan("");
        type_text(&mut form, "app");
        form.key(key(KeyCode::Tab));
        type_text(&mut form, "1.2.0");
        form.key(key(KeyCode::Tab));
        type_text(&mut form, "1.0, 1.1");
        form.key(key(KeyCode::Tab));
        type_text(&mut form, "dev-1 dev-2");
        form.key(key(KeyCode::Tab));
        type_text(&mut form, "860-869");
        form.key(key(KeyCode::Tab));
        form.key(key(KeyCode::Char(' ')));
        form.key(key(KeyCode::Tab));
        form.key(key(KeyCode::Char(' ')));
        assert_eq!(form.key(key(KeyCode::Enter)), FormKey::Submit);
        let (name, spec) = form.plan_request().unwrap();
        assert_eq!(name, "app");
        assert_eq!(
            spec,
            PlanSpec {
                target_version: "1.2.0".into(),
                from_versions: vec!["1.0".into(), "1.1".into()],
                devices: vec!["dev-1".into(), "dev-2".into()],
                imei_ranges: vec![["860".into(), "869".into()]],
                delivery: Delivery::Redirect,
                allow_downgrade: true,
                rollout: None,
                job_timeout_s: None,
            }
        );
    }

    #[test]
    fn focus_wraps_both_ways() {
        let mut form = Form::upload("");
        form.key(key(KeyCode::BackTab));
        assert_eq!(form.focus, 2);
        form.key(key(KeyCode::Down));
        assert_eq!(form.focus, 0);
    }

    #[test]
    fn missing_target_is_refused() {
        let form = Form::new_plan("app");
        assert_eq!(
            form.plan_request().unwrap_err(),
            "Target version is required."
        );
    }

    #[test]
    fn bad_range_is_refused() {
        assert!(parse_imei_range("860").is_err());
        assert!(parse_imei_range("-1").is_err());
        assert_eq!(
            parse_imei_range(" 1 - 2 ").unwrap(),
            ["1".to_string(), "2".to_string()]
        );
    }

    #[test]
    fn edit_form_round_trips_the_spec() {
        let spec = PlanSpec {
            target_version: "2".into(),
            from_versions: vec!["1".into()],
            devices: vec![],
            imei_ranges: vec![["1".into(), "5".into()]],
            delivery: Delivery::Redirect,
            allow_downgrade: false,
            rollout: None,
            job_timeout_s: None,
        };
        let plan = Plan {
            project_key: "demo".into(),
            firmware_name: "app".into(),
            spec: spec.clone(),
            image: fota_shared::api::ImageRef {
                sha256: "a".into(),
                md5: "b".into(),
                size: 1,
            },
            updated_at: "t".into(),
        };
        assert_eq!(
            Form::edit_plan(&plan).plan_request().unwrap(),
            ("app".to_string(), spec)
        );
    }
}
