//! Tests of dashboard::screens::firmware.

use fota_shared::api::catalog::*;
use fota_shared::api::query::*;
use fota_shared::model::plan::*;

use super::*;
use crate::fixtures::*;

#[test]
fn deleting_firmware_in_use_shows_the_servers_reason() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    app.firmware.images.loading = false;
    update(&mut app, ch('d'));
    assert!(matches!(&app.modal, Some(Modal::Confirm { .. })));
    let commands = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        commands,
        vec![Command::from(FirmwareCall::Delete {
            project: demo(),
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            source_version: None,
        })]
    );
    update(
        &mut app,
        Action::from(FirmwareAnswer::Deleted {
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            result: Err(refused(409, "in_use", "plan air780 targets this image")),
        }),
    );
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert_eq!(
        status.text,
        "Deleting air780 1.2.0 failed: 409 in_use: plan air780 targets this image"
    );

    update(&mut app, ch('d'));
    update(&mut app, ch('y'));
    let commands = update(
        &mut app,
        Action::from(FirmwareAnswer::Deleted {
            firmware_name: "air780".into(),
            version: "1.2.0".into(),
            result: Ok(()),
        }),
    );
    assert_eq!(
        commands,
        vec![Command::from(FirmwareCall::Load { project: demo() })]
    );
}

#[test]
fn upload_form_checks_fields_then_tracks_hash_and_progress() {
    let mut app = loaded_app();
    update(&mut app, ch('3'));
    app.firmware.images.loading = false;
    update(&mut app, ch('u'));
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("upload form expected")
    };
    assert_eq!(form.purpose, FormPurpose::Upload);
    type_text(&mut app, "/tmp/fw.bin");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![]);
    let Some(Modal::Form(form)) = &app.modal else {
        panic!("form stays open")
    };
    assert_eq!(form.error.as_deref(), Some("Version is required."));

    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Tab));
    type_text(&mut app, "1.3.0");
    let commands = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        commands,
        vec![Command::from(FirmwareCall::Upload {
            project: demo(),
            path: "/tmp/fw.bin".into(),
            firmware_name: "air780".into(),
            version: "1.3.0".into(),
            details: UploadDetails::default(),
        })]
    );
    assert_eq!(app.modal, None);

    update(
        &mut app,
        Action::from(FirmwareAnswer::Hashed {
            sha256: "ab".repeat(32),
            size: 1000,
        }),
    );
    update(
        &mut app,
        Action::from(FirmwareAnswer::Progress { sent: 400 }),
    );
    let upload = app.firmware.upload.clone().unwrap();
    assert_eq!(
        (upload.sent, upload.total, upload.sha256.as_deref()),
        (400, 1000, Some("ab".repeat(32).as_str()))
    );
    // A second upload waits for the first.
    update(&mut app, ch('u'));
    assert_eq!(app.modal, None);
    assert_eq!(app.status.as_ref().unwrap().text, strings::UPLOAD_BUSY);

    let receipt = UploadReceipt {
        sha256: "ab".repeat(32),
        md5: "cd".repeat(16),
        size: 1000,
    };
    let commands = update(
        &mut app,
        Action::from(FirmwareAnswer::Uploaded(Ok(receipt))),
    );
    assert_eq!(
        commands,
        vec![Command::from(FirmwareCall::Load { project: demo() })]
    );
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "Uploaded air780 1.3.0 (sha256 abababababab)"
    );
}

#[test]
fn a_failed_upload_names_the_image_and_the_reason() {
    let mut app = loaded_app();
    app.firmware.upload = Some(Upload {
        path: "fw.bin".into(),
        firmware_name: "air780".into(),
        version: "1.2.0".into(),
        details: UploadDetails::default(),
        sha256: Some("00".repeat(32)),
        total: 10,
        sent: 10,
        outcome: None,
    });
    update(
        &mut app,
        Action::from(FirmwareAnswer::Uploaded(Err(refused(
            409,
            "conflict",
            "different bytes exist for air780 1.2.0",
        )))),
    );
    let upload = app.firmware.upload.as_ref().unwrap();
    assert_eq!(
        upload.outcome,
        Some(Err(
            "Uploading air780 1.2.0 failed: 409 conflict: different bytes exist for air780 1.2.0"
                .into()
        ))
    );
}

#[test]
fn firmware_tab() {
    insta::assert_snapshot!(draw(&on_tab('3')).backend());
}

#[test]
fn firmware_tab_while_uploading() {
    let mut app = on_tab('3');
    app.firmware.upload = Some(Upload {
        path: "build/air780-1.3.0.bin".into(),
        firmware_name: "air780".into(),
        version: "1.3.0".into(),
        details: Default::default(),
        sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()),
        total: 2_000_000,
        sent: 500_000,
        outcome: None,
    });
    insta::assert_snapshot!(draw(&app).backend());
}

#[test]
fn an_error_keeps_old_data_and_names_what_failed() {
    let mut app = on_tab('3');
    update(
        &mut app,
        Action::from(FirmwareAnswer::Loaded(Err(refused(
            401,
            "unauthorized",
            "missing or wrong token",
        )))),
    );
    app.status = Some(Status {
        text: "Deleting air780 1.2.0 failed: 409 in_use: a plan targets it".into(),
        kind: StatusKind::Error,
    });
    let terminal = draw(&app);
    insta::assert_snapshot!(terminal.backend());
    assert_eq!(fg_at(&terminal, "Loading firmware failed"), ERROR);
    assert_eq!(fg_at(&terminal, "Deleting air780"), ERROR);
}

fn form_key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn set(form: &mut Form, label: FieldId, value: &str) {
    let field = form.fields.iter_mut().find(|f| f.id == label).unwrap();
    field.value = FieldValue::Text(value.into());
}

#[test]
fn an_upload_form_carries_module_kind_source_and_notes() {
    let mut form = upload_form("app");
    set(&mut form, FieldId::Path, "fw.bin");
    set(&mut form, FieldId::Version, "1.2.0");
    let (_, _, _, details) = upload_request(&form).unwrap();
    assert_eq!(details, UploadDetails::default());
    // Kind is a choice: full, script, delta.
    form.focus = 4;
    form.key(form_key(KeyCode::Left));
    assert_eq!(
        upload_request(&form).unwrap_err(),
        strings::DELTA_NEEDS_SOURCE
    );
    set(&mut form, FieldId::SourceVersion, "1.1.0");
    set(&mut form, FieldId::Module, "modem");
    set(&mut form, FieldId::Notes, "APN fix");
    let (_, _, _, details) = upload_request(&form).unwrap();
    assert_eq!(
        details,
        UploadDetails {
            module: Some("modem".into()),
            kind: ImageKind::Delta,
            source_version: Some("1.1.0".into()),
            notes: Some("APN fix".into()),
        }
    );
    form.key(form_key(KeyCode::Right));
    assert_eq!(
        upload_request(&form).unwrap_err(),
        strings::SOURCE_ONLY_FOR_DELTA
    );
}
