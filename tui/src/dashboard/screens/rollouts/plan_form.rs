//! The plan form: its fields filled from a plan's spec, and the `PlanSpec` a filled form stands
//! for, checked field by field with messages that name the field.

use crate::dashboard::widgets::form::{Field, FieldId, FieldValue, Form, FormPurpose};
use crate::format::{format_duration, format_ratio};
use crate::input::{
    parse_duration, parse_imei_range, parse_ratio, parse_stages, parse_window, split_list,
};
use crate::strings;
use fota_shared::model::plan::{Delivery, Plan, PlanSpec};
use fota_shared::model::rollout::{
    Ratio, RolloutSpec, DEFAULT_MAX_FAILURE_PPM, DEFAULT_MIN_SAMPLE, DEFAULT_VERIFY_TIMEOUT_S,
};

/// The plan form's fields.
#[allow(non_upper_case_globals)]
impl FieldId {
    pub const Target: FieldId = FieldId::labelled(strings::FIELD_TARGET);
    pub const From: FieldId = FieldId::labelled(strings::FIELD_FROM);
    pub const Devices: FieldId = FieldId::labelled(strings::FIELD_DEVICES);
    pub const ImeiRanges: FieldId = FieldId::labelled(strings::FIELD_IMEI_RANGES);
    pub const Delivery: FieldId = FieldId::labelled(strings::FIELD_DELIVERY);
    pub const Downgrade: FieldId = FieldId::labelled(strings::FIELD_DOWNGRADE);
    pub const JobTimeout: FieldId = FieldId::labelled(strings::FIELD_JOB_TIMEOUT);
    pub const NeedsConfirm: FieldId = FieldId::labelled(strings::FIELD_NEEDS_CONFIRM);
    pub const Stages: FieldId = FieldId::labelled(strings::FIELD_STAGES);
    pub const VerifyDevices: FieldId = FieldId::labelled(strings::FIELD_VERIFY_DEVICES);
    pub const VerifyTimeout: FieldId = FieldId::labelled(strings::FIELD_VERIFY_TIMEOUT);
    pub const MaxFailure: FieldId = FieldId::labelled(strings::FIELD_MAX_FAILURE);
    pub const MinSample: FieldId = FieldId::labelled(strings::FIELD_MIN_SAMPLE);
    pub const MaxPerMinute: FieldId = FieldId::labelled(strings::FIELD_MAX_PER_MINUTE);
    pub const Window: FieldId = FieldId::labelled(strings::FIELD_WINDOW);
    pub const AutoAdvance: FieldId = FieldId::labelled(strings::FIELD_AUTO_ADVANCE);
    pub const Soak: FieldId = FieldId::labelled(strings::FIELD_SOAK);
}

const DELIVERIES: &[&str] = &["stream", "redirect"];

/// The form for a new plan, the firmware name filled in from the selected plan.
pub fn new_plan(firmware_name: &str) -> Form {
    let mut fields = vec![Field::text(FieldId::FirmwareName, "", firmware_name)];
    fields.extend(plan_fields(&PlanSpec::default()));
    Form::new(
        FormPurpose::Plan {
            firmware_name: None,
        },
        fields,
    )
}

/// The form that edits `plan`, filled with its spec.
pub fn edit_plan(plan: &Plan) -> Form {
    Form::new(
        FormPurpose::Plan {
            firmware_name: Some(plan.firmware_name.clone()),
        },
        plan_fields(&plan.spec),
    )
}

/// The `rollout` of a plan form: `None` when no stages are given (and nothing else is).
fn rollout_request(form: &Form) -> Result<Option<RolloutSpec>, String> {
    let stages_text = form.text(FieldId::Stages);
    let rest = [
        FieldId::VerifyDevices,
        FieldId::VerifyTimeout,
        FieldId::MaxFailure,
        FieldId::MinSample,
        FieldId::MaxPerMinute,
        FieldId::Window,
        FieldId::Soak,
    ];
    if stages_text.is_empty() {
        let set =
            rest.iter().any(|id| !form.text(*id).is_empty()) || form.toggled(FieldId::AutoAdvance);
        return if set {
            Err(strings::NEEDS_STAGES.to_string())
        } else {
            Ok(None)
        };
    }
    let number = |id: FieldId, default: u64| -> Result<u64, String> {
        match form.text(id) {
            "" => Ok(default),
            t => t.parse().map_err(|_| strings::bad_number(id.label(), t)),
        }
    };
    let duration = |id: FieldId, default: u64| -> Result<u64, String> {
        match form.text(id) {
            "" => Ok(default),
            t => parse_duration(t).ok_or_else(|| strings::bad_duration(id.label(), t)),
        }
    };
    let max_per_minute = match form.text(FieldId::MaxPerMinute) {
        "" => None,
        t => Some(
            t.parse::<u32>()
                .map_err(|_| strings::bad_number(FieldId::MaxPerMinute.label(), t))?,
        )
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| strings::must_be_positive(FieldId::MaxPerMinute.label()))?,
    };
    Ok(Some(RolloutSpec {
        verify_devices: split_list(form.text(FieldId::VerifyDevices)),
        verify_timeout_s: duration(FieldId::VerifyTimeout, DEFAULT_VERIFY_TIMEOUT_S)?,
        stages: parse_stages(stages_text)?,
        max_failure_ratio: match form.text(FieldId::MaxFailure) {
            "" => Ratio::from_ppm(DEFAULT_MAX_FAILURE_PPM),
            t => parse_ratio(t)?,
        },
        min_sample: u32::try_from(number(FieldId::MinSample, u64::from(DEFAULT_MIN_SAMPLE))?)
            .map_err(|_| {
                strings::bad_number(FieldId::MinSample.label(), form.text(FieldId::MinSample))
            })?,
        max_per_minute,
        window_utc: match form.text(FieldId::Window) {
            "" => None,
            t => Some(parse_window(t)?),
        },
        auto_advance: form.toggled(FieldId::AutoAdvance),
        soak_s: duration(FieldId::Soak, 0)?,
    }))
}

/// `(firmware_name, spec)` of a plan form.
pub fn plan_request(form: &Form) -> Result<(String, PlanSpec), String> {
    let firmware_name = match &form.purpose {
        FormPurpose::Plan {
            firmware_name: Some(name),
        } => name.clone(),
        _ => form.required(FieldId::FirmwareName)?,
    };
    let imei_ranges = split_list(form.text(FieldId::ImeiRanges))
        .iter()
        .map(|r| parse_imei_range(r))
        .collect::<Result<_, _>>()?;
    let delivery = match form.value(FieldId::Delivery) {
        Some(FieldValue::Choice { selected: 1, .. }) => Delivery::Redirect,
        _ => Delivery::Stream,
    };
    let allow_downgrade = form.toggled(FieldId::Downgrade);
    let target_version = form.required(FieldId::Target)?;
    let rollout = rollout_request(form)?;
    let job_timeout_s = match form.text(FieldId::JobTimeout) {
        "" => None,
        t => Some(
            parse_duration(t)
                .filter(|s| *s > 0)
                .ok_or_else(|| strings::bad_duration(FieldId::JobTimeout.label(), t))?,
        ),
    };
    let spec = PlanSpec {
        target_version,
        from_versions: split_list(form.text(FieldId::From)),
        devices: split_list(form.text(FieldId::Devices)),
        imei_ranges,
        delivery,
        allow_downgrade,
        rollout,
        job_timeout_s,
        needs_confirm: form.toggled(FieldId::NeedsConfirm),
        expected_devices: None,
        deltas: None,
    };
    Ok((firmware_name, spec))
}

/// The plan's fields, filled from `spec`.
fn plan_fields(spec: &PlanSpec) -> Vec<Field> {
    let ranges: Vec<String> = spec
        .imei_ranges
        .iter()
        .map(|[lo, hi]| format!("{lo}-{hi}"))
        .collect();
    let mut fields = vec![
        Field::text(FieldId::Target, "", spec.target_version.clone()),
        Field::text(
            FieldId::From,
            strings::LIST_HINT,
            spec.from_versions.join(", "),
        ),
        Field::text(
            FieldId::Devices,
            strings::LIST_HINT,
            spec.devices.join(", "),
        ),
        Field::text(FieldId::ImeiRanges, strings::RANGE_HINT, ranges.join(", ")),
        Field::choice(
            FieldId::Delivery,
            DELIVERIES,
            usize::from(spec.delivery == Delivery::Redirect),
        ),
        Field::toggle(FieldId::Downgrade, "", spec.allow_downgrade),
        Field::text(
            FieldId::JobTimeout,
            strings::DURATION_HINT,
            spec.job_timeout_s.map(format_duration).unwrap_or_default(),
        ),
        Field::toggle(
            FieldId::NeedsConfirm,
            strings::NEEDS_CONFIRM_HINT,
            spec.needs_confirm,
        ),
    ];
    fields.extend(rollout_fields(spec.rollout.as_ref()));
    fields
}

/// The rollout's fields, empty without a rollout.
fn rollout_fields(rollout: Option<&RolloutSpec>) -> [Field; 9] {
    let shown = |f: &dyn Fn(&RolloutSpec) -> String| rollout.map(f).unwrap_or_default();
    [
        Field::text(
            FieldId::Stages,
            strings::STAGES_HINT,
            shown(&|r| join(&r.stages)),
        ),
        Field::text(
            FieldId::VerifyDevices,
            strings::LIST_HINT,
            shown(&|r| r.verify_devices.join(", ")),
        ),
        Field::text(
            FieldId::VerifyTimeout,
            strings::VERIFY_TIMEOUT_HINT,
            shown(&|r| format_duration(r.verify_timeout_s)),
        ),
        Field::text(
            FieldId::MaxFailure,
            strings::RATIO_HINT,
            shown(&|r| format_ratio(r.max_failure_ratio)),
        ),
        Field::text(
            FieldId::MinSample,
            strings::MIN_SAMPLE_HINT,
            shown(&|r| r.min_sample.to_string()),
        ),
        Field::text(
            FieldId::MaxPerMinute,
            strings::RATE_HINT,
            shown(&|r| r.max_per_minute.map(|n| n.to_string()).unwrap_or_default()),
        ),
        Field::text(
            FieldId::Window,
            strings::WINDOW_HINT,
            shown(&|r| {
                r.window_utc
                    .as_ref()
                    .map(|[from, to]| format!("{from}-{to}"))
                    .unwrap_or_default()
            }),
        ),
        Field::toggle(
            FieldId::AutoAdvance,
            "",
            rollout.is_some_and(|r| r.auto_advance),
        ),
        Field::text(
            FieldId::Soak,
            strings::DURATION_HINT,
            shown(&|r| match r.soak_s {
                0 => String::new(),
                s => format_duration(s),
            }),
        ),
    ]
}

fn join(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
#[cfg(test)]
mod tests;
