//! Tests of dashboard::screens::rollouts::plan_form.

use fota_shared::model::plan::*;
use fota_shared::model::rollout::*;

use super::*;
use crate::fixtures::*;

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
    let mut form = new_plan("");
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
    let (name, spec) = plan_request(&form).unwrap();
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
            expected_devices: None,
            deltas: None,
        }
    );
}

#[test]
fn needs_confirm_is_a_toggle_of_the_plan_form() {
    let mut form = new_plan("app");
    set(&mut form, FieldId::Target, "2");
    assert!(!plan_request(&form).unwrap().1.needs_confirm);
    form.focus = form
        .fields
        .iter()
        .position(|f| f.id == FieldId::NeedsConfirm)
        .unwrap();
    form.key(key(KeyCode::Char(' ')));
    assert!(plan_request(&form).unwrap().1.needs_confirm);
}

#[test]
fn missing_target_is_refused() {
    let form = new_plan("app");
    assert_eq!(
        plan_request(&form).unwrap_err(),
        "Target version is required."
    );
}

/// Firmware `app`'s plan in project `demo` with `spec`.
fn app_plan(spec: &PlanSpec) -> Plan {
    Plan {
        project_key: "demo".into(),
        firmware_name: "app".into(),
        spec: spec.clone(),
        image: fota_shared::model::plan::ImageRef {
            sha256: "a".into(),
            md5: "b".into(),
            size: 1,
            module: "default".into(),
        },
        packages: vec![],
        updated_at: "t".into(),
        shards: 0,
        cancelled: Vec::new(),
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
        expected_devices: None,
        deltas: None,
    };
    let plan = app_plan(&spec);
    assert_eq!(
        plan_request(&edit_plan(&plan)).unwrap(),
        ("app".to_string(), spec)
    );
}

fn set(form: &mut Form, label: FieldId, value: &str) {
    let field = form.fields.iter_mut().find(|f| f.id == label).unwrap();
    field.value = FieldValue::Text(value.into());
}

#[test]
fn rollout_fields_without_stages_are_refused() {
    let mut form = new_plan("app");
    set(&mut form, FieldId::Target, "2");
    assert_eq!(plan_request(&form).unwrap().1.rollout, None);
    set(&mut form, FieldId::MinSample, "5");
    assert_eq!(plan_request(&form).unwrap_err(), strings::NEEDS_STAGES);
    set(&mut form, FieldId::Stages, "50,100");
    set(&mut form, FieldId::MaxPerMinute, "0");
    assert_eq!(
        plan_request(&form).unwrap_err(),
        "Max per minute must be above 0."
    );
    set(&mut form, FieldId::MaxPerMinute, "12");
    set(&mut form, FieldId::VerifyDevices, "dev-1, dev-2");
    let rollout = plan_request(&form).unwrap().1.rollout.unwrap();
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
        expected_devices: None,
        deltas: None,
    };
    let plan = app_plan(&spec);
    assert_eq!(plan_request(&edit_plan(&plan)).unwrap().1, spec);
}
