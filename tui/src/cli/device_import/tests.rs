//! Tests of cli::device_import: the result an import reports, and where its secrets go.

use super::*;

fn device(id: &str) -> ProvisionedDevice {
    ProvisionedDevice {
        id: id.into(),
        secret: format!("s-{id}"),
    }
}

#[test]
fn the_result_gathers_every_batch() {
    let mut result = ImportResult::default();
    result.add(
        Provisioned {
            devices: vec![device("1001"), device("1002")],
            already_provisioned: vec!["1003".into()],
        },
        true,
    );
    result.add(
        Provisioned {
            devices: vec![device("2001")],
            already_provisioned: vec![],
        },
        false,
    );
    assert_eq!(result.registered, ["1001", "1002", "2001"]);
    assert_eq!(
        result.devices,
        [device("1001"), device("1002")],
        "secrets kept only when asked"
    );
    assert_eq!(result.already_provisioned, ["1003"]);
    // `--json`'s shape: the API's names, no `failed` or `secrets_file` unless there is one.
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["protocol"], "json");
    assert_eq!(json["devices"][0]["secret"], "s-1001");
    assert!(json.get("failed").is_none() && json.get("secrets_file").is_none());
}

#[test]
fn out_never_overwrites_and_is_private() {
    let dir = std::env::temp_dir().join(format!("fota-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("secrets.csv");
    let _ = std::fs::remove_file(&path);
    let mut secrets = Secrets::open(Some(&path), false).unwrap();
    assert!(!secrets.keeps_in_result());
    secrets.write(&[device("1001")]).unwrap();
    secrets.write(&[device("1002"), device("1003")]).unwrap();
    secrets.write(&[]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "id,secret\n1001,s-1001\n1002,s-1002\n1003,s-1003\n",
        "one header, every batch's lines, flushed as they come"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let Err(CliError::Usage(message)) = Secrets::open(Some(&path), false) else {
        panic!("an existing file is refused")
    };
    assert!(message.contains("never overwrites"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().lines().count(),
        4,
        "and left as it was"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // `--json` without `--out` keeps them for the result.
    assert!(Secrets::open(None, true).unwrap().keeps_in_result());
}

#[test]
fn a_file_with_invalid_ids_sends_nothing_unless_told() {
    let args = |skip_invalid| ImportArgs {
        file: "ids.csv".into(),
        protocol: Protocol::Luat,
        skip_invalid,
        out: None,
    };
    let list = read_ids(b"imei\n862419074072389\nbad id\n");
    let Err(CliError::Usage(message)) = check_list(&list, &args(false)) else {
        panic!("refused")
    };
    assert_eq!(
        message,
        "1 id not valid (listed above); nothing was sent: fix the file, or pass --skip-invalid to register the others"
    );
    assert!(check_list(&list, &args(true)).is_ok());
    let Err(CliError::Usage(message)) = check_list(&read_ids(b"# none\n"), &args(false)) else {
        panic!("an empty list is refused")
    };
    assert_eq!(message, "ids.csv lists no device id");
}

#[test]
fn a_stopped_import_says_what_landed_and_how_to_go_on() {
    let message = strings::import_stopped((3, 100), 2000, "luat", "409 device_owned_elsewhere: x");
    assert!(
        message.starts_with("import stopped: batch 3 of 100 failed: 409 device_owned_elsewhere: x\n2000 ids registered by the batches before it"),
        "{message}"
    );
    assert!(message.contains("run the same command again"), "{message}");
    assert_eq!(
        CliError::Stopped {
            message,
            code: crate::cli::EXIT_REFUSED
        }
        .exit_code(),
        crate::cli::EXIT_REFUSED
    );
}

#[test]
fn the_bar_says_the_average_pace() {
    assert_eq!(
        strings::batch_pace(3, 27.4, 3570.0),
        "batch 3 · 27 ids/s · about 60 min left"
    );
    assert_eq!(
        strings::batch_pace(99, 31.0, 32.2),
        "batch 99 · 31 ids/s · about 32 s left"
    );
    assert_eq!(
        strings::batch_pace(100, 31.0, 0.0),
        "batch 100 · 31 ids/s · done"
    );
}
