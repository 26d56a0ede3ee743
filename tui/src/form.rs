//! Input forms (upload, plan) as plain data: fields, focus, key handling, and the conversion of a
//! filled form into the request it stands for.

use fota_shared::api::{
    Delivery, ImageKind, Plan, PlanSpec, Ratio, RolloutSpec, DEFAULT_MAX_FAILURE_PPM,
    DEFAULT_MIN_SAMPLE, DEFAULT_VERIFY_TIMEOUT_S,
};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::UploadDetails;
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

    fn toggle(label: &'static str, on: bool) -> Field {
        Field {
            label,
            hint: "",
            value: FieldValue::Toggle(on),
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
/// Upload kinds, the default first.
const KINDS: &[&str] = &["full", "script", "delta"];

impl Form {
    pub fn upload(firmware_name: &str) -> Form {
        Form {
            purpose: FormPurpose::Upload,
            fields: vec![
                Field::text(text::FIELD_PATH, "", ""),
                Field::text(text::FIELD_FIRMWARE_NAME, "", firmware_name),
                Field::text(text::FIELD_VERSION, "", ""),
                Field::text(text::FIELD_MODULE, text::MODULE_HINT, ""),
                Field {
                    label: text::FIELD_KIND,
                    hint: "",
                    value: FieldValue::Choice {
                        options: KINDS,
                        selected: 0,
                    },
                },
                Field::text(text::FIELD_SOURCE_VERSION, text::SOURCE_HINT, ""),
                Field::text(text::FIELD_NOTES, "", ""),
            ],
            focus: 0,
            error: None,
            saving: false,
        }
    }

    pub fn new_plan(firmware_name: &str) -> Form {
        let mut fields = vec![Field::text(text::FIELD_FIRMWARE_NAME, "", firmware_name)];
        fields.extend(plan_fields(&PlanSpec::default()));
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

    fn optional(&self, label: &str) -> Option<String> {
        Some(self.text(label).to_string()).filter(|v| !v.is_empty())
    }

    fn choice(&self, label: &str) -> Option<&'static str> {
        match self.field(label) {
            Some(FieldValue::Choice { options, selected }) => options.get(*selected).copied(),
            _ => None,
        }
    }

    fn toggled(&self, label: &str) -> bool {
        matches!(self.field(label), Some(FieldValue::Toggle(true)))
    }

    /// `(path, firmware_name, version, details)` of an upload form.
    pub fn upload_request(&self) -> Result<(String, String, String, UploadDetails), String> {
        let path = self.required(text::FIELD_PATH)?;
        let firmware_name = self.required(text::FIELD_FIRMWARE_NAME)?;
        let version = self.required(text::FIELD_VERSION)?;
        let kind = self
            .choice(text::FIELD_KIND)
            .and_then(ImageKind::parse)
            .unwrap_or_default();
        let source_version = self.optional(text::FIELD_SOURCE_VERSION);
        match (kind, &source_version) {
            (ImageKind::Delta, None) => return Err(text::DELTA_NEEDS_SOURCE.to_string()),
            (ImageKind::Delta, Some(_)) | (_, None) => {}
            (_, Some(_)) => return Err(text::SOURCE_ONLY_FOR_DELTA.to_string()),
        }
        let details = UploadDetails {
            module: self.optional(text::FIELD_MODULE),
            kind,
            source_version,
            notes: self.optional(text::FIELD_NOTES),
        };
        Ok((path, firmware_name, version, details))
    }

    /// The `rollout` of a plan form: `None` when no stages are given (and nothing else is).
    fn rollout_request(&self) -> Result<Option<RolloutSpec>, String> {
        let stages_text = self.text(text::FIELD_STAGES);
        let rest = [
            text::FIELD_VERIFY_DEVICES,
            text::FIELD_VERIFY_TIMEOUT,
            text::FIELD_MAX_FAILURE,
            text::FIELD_MIN_SAMPLE,
            text::FIELD_MAX_PER_MINUTE,
            text::FIELD_WINDOW,
            text::FIELD_SOAK,
        ];
        if stages_text.is_empty() {
            let set = rest.iter().any(|label| !self.text(label).is_empty())
                || self.toggled(text::FIELD_AUTO_ADVANCE);
            return if set {
                Err(text::NEEDS_STAGES.to_string())
            } else {
                Ok(None)
            };
        }
        let number = |label: &str, default: u64| -> Result<u64, String> {
            match self.text(label) {
                "" => Ok(default),
                t => t.parse().map_err(|_| text::bad_number(label, t)),
            }
        };
        let duration = |label: &str, default: u64| -> Result<u64, String> {
            match self.text(label) {
                "" => Ok(default),
                t => parse_duration(t).ok_or_else(|| text::bad_duration(label, t)),
            }
        };
        let max_per_minute = match self.text(text::FIELD_MAX_PER_MINUTE) {
            "" => None,
            t => Some(
                t.parse::<u32>()
                    .map_err(|_| text::bad_number(text::FIELD_MAX_PER_MINUTE, t))?,
            )
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| text::must_be_positive(text::FIELD_MAX_PER_MINUTE))?,
        };
        Ok(Some(RolloutSpec {
            verify_devices: split_list(self.text(text::FIELD_VERIFY_DEVICES)),
            verify_timeout_s: duration(text::FIELD_VERIFY_TIMEOUT, DEFAULT_VERIFY_TIMEOUT_S)?,
            stages: parse_stages(stages_text)?,
            max_failure_ratio: match self.text(text::FIELD_MAX_FAILURE) {
                "" => Ratio::from_ppm(DEFAULT_MAX_FAILURE_PPM),
                t => parse_ratio(t)?,
            },
            min_sample: u32::try_from(number(
                text::FIELD_MIN_SAMPLE,
                u64::from(DEFAULT_MIN_SAMPLE),
            )?)
            .map_err(|_| {
                text::bad_number(text::FIELD_MIN_SAMPLE, self.text(text::FIELD_MIN_SAMPLE))
            })?,
            max_per_minute,
            window_utc: match self.text(text::FIELD_WINDOW) {
                "" => None,
                t => Some(parse_window(t)?),
            },
            auto_advance: self.toggled(text::FIELD_AUTO_ADVANCE),
            soak_s: duration(text::FIELD_SOAK, 0)?,
        }))
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
        let allow_downgrade = self.toggled(text::FIELD_DOWNGRADE);
        let target_version = self.required(text::FIELD_TARGET)?;
        let rollout = self.rollout_request()?;
        let job_timeout_s = match self.text(text::FIELD_JOB_TIMEOUT) {
            "" => None,
            t => Some(
                parse_duration(t)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| text::bad_duration(text::FIELD_JOB_TIMEOUT, t))?,
            ),
        };
        let spec = PlanSpec {
            target_version,
            from_versions: split_list(self.text(text::FIELD_FROM)),
            devices: split_list(self.text(text::FIELD_DEVICES)),
            imei_ranges,
            delivery,
            allow_downgrade,
            rollout,
            job_timeout_s,
            needs_confirm: self.toggled(text::FIELD_NEEDS_CONFIRM),
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
    let mut fields = vec![
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
        Field::toggle(text::FIELD_DOWNGRADE, spec.allow_downgrade),
        Field::text(
            text::FIELD_JOB_TIMEOUT,
            text::DURATION_HINT,
            spec.job_timeout_s.map(format_duration).unwrap_or_default(),
        ),
        Field {
            hint: text::NEEDS_CONFIRM_HINT,
            ..Field::toggle(text::FIELD_NEEDS_CONFIRM, spec.needs_confirm)
        },
    ];
    let rollout = spec.rollout.as_ref();
    let shown = |f: &dyn Fn(&RolloutSpec) -> String| rollout.map(f).unwrap_or_default();
    fields.extend([
        Field::text(
            text::FIELD_STAGES,
            text::STAGES_HINT,
            shown(&|r| join(&r.stages)),
        ),
        Field::text(
            text::FIELD_VERIFY_DEVICES,
            text::LIST_HINT,
            shown(&|r| r.verify_devices.join(", ")),
        ),
        Field::text(
            text::FIELD_VERIFY_TIMEOUT,
            text::VERIFY_TIMEOUT_HINT,
            shown(&|r| format_duration(r.verify_timeout_s)),
        ),
        Field::text(
            text::FIELD_MAX_FAILURE,
            text::RATIO_HINT,
            shown(&|r| format_ratio(r.max_failure_ratio)),
        ),
        Field::text(
            text::FIELD_MIN_SAMPLE,
            text::MIN_SAMPLE_HINT,
            shown(&|r| r.min_sample.to_string()),
        ),
        Field::text(
            text::FIELD_MAX_PER_MINUTE,
            text::RATE_HINT,
            shown(&|r| r.max_per_minute.map(|n| n.to_string()).unwrap_or_default()),
        ),
        Field::text(
            text::FIELD_WINDOW,
            text::WINDOW_HINT,
            shown(&|r| {
                r.window_utc
                    .as_ref()
                    .map(|[from, to]| format!("{from}-{to}"))
                    .unwrap_or_default()
            }),
        ),
        Field::toggle(
            text::FIELD_AUTO_ADVANCE,
            rollout.is_some_and(|r| r.auto_advance),
        ),
        Field::text(
            text::FIELD_SOAK,
            text::DURATION_HINT,
            shown(&|r| match r.soak_s {
                0 => String::new(),
                s => format_duration(s),
            }),
        ),
    ]);
    fields
}

fn join(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `1,10, 50 100%` → `[1, 10, 50, 100]`: percentages 1-100, strictly increasing.
pub fn parse_stages(text: &str) -> Result<Vec<u32>, String> {
    let stages = split_list(text)
        .iter()
        .map(|s| s.trim_end_matches('%').parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| text::bad_stages(text))?;
    let in_range = stages.iter().all(|s| (1..=100).contains(s));
    let increasing = stages.windows(2).all(|pair| pair[0] < pair[1]);
    if stages.is_empty() || !in_range || !increasing {
        return Err(text::bad_stages(text));
    }
    Ok(stages)
}

/// `0.2` or `20%` → 200 000 ppm; 0 to 1 inclusive.
pub fn parse_ratio(text: &str) -> Result<Ratio, String> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(percent) => (percent.trim(), 10_000.0),
        None => (t, Ratio::PPM_PER_ONE as f64),
    };
    let value: f64 = number.parse().map_err(|_| text::bad_ratio(text))?;
    let ppm = (value * scale).round();
    if !(0.0..=Ratio::PPM_PER_ONE as f64).contains(&ppm) {
        return Err(text::bad_ratio(text));
    }
    Ok(Ratio::from_ppm(ppm as i64))
}

pub fn format_ratio(ratio: Ratio) -> String {
    ratio.as_f64().to_string()
}

/// `01:00-05:00` → `["01:00", "05:00"]`, each `HH:MM` within a day.
pub fn parse_window(text: &str) -> Result<[String; 2], String> {
    let hhmm = |t: &str| {
        let (h, m) = t.split_once(':')?;
        let ok = h.len() == 2
            && m.len() == 2
            && h.parse::<u32>().ok()? < 24
            && m.parse::<u32>().ok()? < 60;
        ok.then(|| t.to_string())
    };
    let (from, to) = text
        .trim()
        .split_once('-')
        .ok_or_else(|| text::bad_window(text))?;
    match (hhmm(from.trim()), hhmm(to.trim())) {
        (Some(from), Some(to)) => Ok([from, to]),
        _ => Err(text::bad_window(text)),
    }
}

/// Seconds, plain or with a unit: `90`, `30s`, `15m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().last()? {
        (i, 's') => (&t[..i], 1),
        (i, 'm') => (&t[..i], 60),
        (i, 'h') => (&t[..i], 3600),
        (i, 'd') => (&t[..i], 86_400),
        _ => (t, 1),
    };
    number.trim().parse::<u64>().ok()?.checked_mul(unit)
}

/// The largest whole unit: 3600 → `1h`, 90 → `90s`.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
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
                needs_confirm: false,
            }
        );
    }

    #[test]
    fn needs_confirm_is_a_toggle_of_the_plan_form() {
        let mut form = Form::new_plan("app");
        set(&mut form, text::FIELD_TARGET, "2");
        assert!(!form.plan_request().unwrap().1.needs_confirm);
        form.focus = form
            .fields
            .iter()
            .position(|f| f.label == text::FIELD_NEEDS_CONFIRM)
            .unwrap();
        form.key(key(KeyCode::Char(' ')));
        assert!(form.plan_request().unwrap().1.needs_confirm);
    }

    #[test]
    fn focus_wraps_both_ways() {
        let mut form = Form::upload("");
        form.key(key(KeyCode::BackTab));
        assert_eq!(form.focus, 6);
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

    /// Firmware `app`'s plan in project `demo` with `spec`.
    fn app_plan(spec: &PlanSpec) -> Plan {
        Plan {
            project_key: "demo".into(),
            firmware_name: "app".into(),
            spec: spec.clone(),
            image: fota_shared::api::ImageRef {
                sha256: "a".into(),
                md5: "b".into(),
                size: 1,
                module: "default".into(),
            },
            updated_at: "t".into(),
        }
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
            needs_confirm: false,
        };
        let plan = app_plan(&spec);
        assert_eq!(
            Form::edit_plan(&plan).plan_request().unwrap(),
            ("app".to_string(), spec)
        );
    }

    #[test]
    fn stages_parse_as_increasing_percentages() {
        assert_eq!(parse_stages("1,10,50,100").unwrap(), [1, 10, 50, 100]);
        assert_eq!(parse_stages(" 1, 10 50% 100 ").unwrap(), [1, 10, 50, 100]);
        for bad in ["", "0,10", "10,101", "10,10", "50,10", "ten", "1;2"] {
            assert!(parse_stages(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn windows_ratios_and_durations_parse() {
        assert_eq!(
            parse_window("01:00-05:00").unwrap(),
            ["01:00".to_string(), "05:00".to_string()]
        );
        assert_eq!(
            parse_window(" 22:30 - 04:00 ").unwrap(),
            ["22:30".to_string(), "04:00".to_string()]
        );
        for bad in [
            "1:00-05:00",
            "01:00",
            "24:00-01:00",
            "01:60-02:00",
            "01:00-",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ratio("0.2").unwrap().ppm(), 200_000);
        assert_eq!(parse_ratio("25%").unwrap().ppm(), 250_000);
        assert_eq!(parse_ratio("1").unwrap().ppm(), 1_000_000);
        for bad in ["1.5", "-0.1", "120%", "x"] {
            assert!(parse_ratio(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1w"), None);
        for secs in [0, 45, 600, 3600, 5400, 86_400] {
            assert_eq!(parse_duration(&format_duration(secs)), Some(secs));
        }
    }

    fn set(form: &mut Form, label: &str, value: &str) {
        let field = form.fields.iter_mut().find(|f| f.label == label).unwrap();
        field.value = FieldValue::Text(value.into());
    }

    #[test]
    fn rollout_fields_without_stages_are_refused() {
        let mut form = Form::new_plan("app");
        set(&mut form, text::FIELD_TARGET, "2");
        assert_eq!(form.plan_request().unwrap().1.rollout, None);
        set(&mut form, text::FIELD_MIN_SAMPLE, "5");
        assert_eq!(form.plan_request().unwrap_err(), text::NEEDS_STAGES);
        set(&mut form, text::FIELD_STAGES, "50,100");
        set(&mut form, text::FIELD_MAX_PER_MINUTE, "0");
        assert_eq!(
            form.plan_request().unwrap_err(),
            "Max per minute must be above 0."
        );
        set(&mut form, text::FIELD_MAX_PER_MINUTE, "12");
        set(&mut form, text::FIELD_VERIFY_DEVICES, "dev-1, dev-2");
        let rollout = form.plan_request().unwrap().1.rollout.unwrap();
        assert_eq!(rollout.stages, [50, 100]);
        assert_eq!(rollout.min_sample, 5);
        assert_eq!(rollout.max_per_minute, Some(12));
        assert_eq!(rollout.verify_devices, ["dev-1", "dev-2"]);
        assert_eq!(rollout.verify_timeout_s, DEFAULT_VERIFY_TIMEOUT_S);
    }

    #[test]
    fn edit_form_round_trips_a_staged_rollout() {
        let spec = PlanSpec {
            target_version: "2".into(),
            from_versions: vec![],
            devices: vec!["a".into()],
            imei_ranges: vec![],
            delivery: Delivery::Stream,
            allow_downgrade: false,
            rollout: Some(RolloutSpec {
                verify_devices: vec!["a".into()],
                verify_timeout_s: 5400,
                stages: vec![1, 10, 100],
                max_failure_ratio: Ratio::from_ppm(50_000),
                min_sample: 3,
                max_per_minute: Some(30),
                window_utc: Some(["23:00".into(), "02:00".into()]),
                auto_advance: true,
                soak_s: 600,
            }),
            needs_confirm: true,
            job_timeout_s: Some(3600),
        };
        let plan = app_plan(&spec);
        assert_eq!(Form::edit_plan(&plan).plan_request().unwrap().1, spec);
    }

    #[test]
    fn an_upload_form_carries_module_kind_source_and_notes() {
        let mut form = Form::upload("app");
        set(&mut form, text::FIELD_PATH, "fw.bin");
        set(&mut form, text::FIELD_VERSION, "1.2.0");
        let (_, _, _, details) = form.upload_request().unwrap();
        assert_eq!(details, UploadDetails::default());
        // Kind is a choice: full, script, delta.
        form.focus = 4;
        form.key(key(KeyCode::Left));
        assert_eq!(form.upload_request().unwrap_err(), text::DELTA_NEEDS_SOURCE);
        set(&mut form, text::FIELD_SOURCE_VERSION, "1.1.0");
        set(&mut form, text::FIELD_MODULE, "modem");
        set(&mut form, text::FIELD_NOTES, "APN fix");
        let (_, _, _, details) = form.upload_request().unwrap();
        assert_eq!(
            details,
            UploadDetails {
                module: Some("modem".into()),
                kind: ImageKind::Delta,
                source_version: Some("1.1.0".into()),
                notes: Some("APN fix".into()),
            }
        );
        form.key(key(KeyCode::Right));
        assert_eq!(
            form.upload_request().unwrap_err(),
            text::SOURCE_ONLY_FOR_DELTA
        );
    }
}
