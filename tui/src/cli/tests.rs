//! Tests of the CLI: arguments parse into nouns and verbs, errors map to exit codes, answers
//! read as tables.

use clap::Parser;
use fota_shared::api::ota::*;
use fota_shared::api::routes::Role;
use fota_shared::model::job::*;
use fota_shared::model::plan::*;
use fota_shared::model::rollout::*;

use super::activity::activity_table;
use super::device::{confirm_lines, jobs_table, provisioned_lines, secrets_table, summary_text};
use super::keys::keys_table;
use super::plan::{packages_table, preview_text, status_fields};
use super::*;
use crate::strings;

fn parse(args: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("fota").chain(args.split_whitespace()))
}

#[track_caller]
fn check(args: &str, expected: Noun) {
    assert_eq!(parse(args).unwrap().command, Some(expected), "{args}");
}

#[test]
fn project_verbs_parse() {
    check(
        "project list",
        Noun::Project {
            verb: ProjectVerb::List,
        },
    );
    check(
        "project show",
        Noun::Project {
            verb: ProjectVerb::Show { key: None },
        },
    );
    check(
        "project set demo --name Demo --ban-after 3",
        Noun::Project {
            verb: ProjectVerb::Set {
                key: "demo".into(),
                name: "Demo".into(),
                ban_after: Some(3),
                device_policy: None,
                daily_bytes_per_device: None,
            },
        },
    );
    check(
        "project set demo --name Demo --daily-bytes-per-device 6000",
        Noun::Project {
            verb: ProjectVerb::Set {
                key: "demo".into(),
                name: "Demo".into(),
                ban_after: None,
                device_policy: None,
                daily_bytes_per_device: Some(6000),
            },
        },
    );
}

#[test]
fn firmware_verbs_parse() {
    check(
        "firmware upload fw.bin --name app --version 1.2.3",
        Noun::Firmware {
            verb: FirmwareVerb::Upload {
                file: "fw.bin".into(),
                name: "app".into(),
                version: "1.2.3".into(),
                module: None,
                kind: ImageKind::Full,
                source_version: None,
                notes: None,
            },
        },
    );
    check(
        "firmware delete app 1.2.3",
        Noun::Firmware {
            verb: FirmwareVerb::Delete {
                firmware_name: "app".into(),
                version: "1.2.3".into(),
                source_version: None,
            },
        },
    );
    check(
        "firmware delete app 2.0.0 --source-version 1.0.0",
        Noun::Firmware {
            verb: FirmwareVerb::Delete {
                firmware_name: "app".into(),
                version: "2.0.0".into(),
                source_version: Some("1.0.0".into()),
            },
        },
    );
}

#[test]
fn plan_set_parses_its_sources_targets_and_delivery() {
    check(
        "plan set app --target 2 --from 1 --from 1.1 --device a --imei-range 1-9 --delivery redirect --allow-downgrade",
        Noun::Plan {
            verb: PlanVerb::Set {
                firmware_name: "app".into(),
                body: Box::new(PlanBody {
                    target: "2".into(),
                    from_versions: vec!["1".into(), "1.1".into()],
                    devices: vec!["a".into()],
                    imei_ranges: vec![["1".into(), "9".into()]],
                    delivery: Delivery::Redirect,
                    allow_downgrade: true,
                    job_timeout: None,
                    needs_confirm: false,
                    expected_devices: None,
                    no_deltas: false,
                    rollout: Box::default(),
                }),
            },
        },
    );
}

#[test]
fn device_verbs_parse() {
    check(
        "device list --version 1.0 --banned --limit 5 --all",
        Noun::Device {
            verb: DeviceVerb::List {
                version: Some("1.0".into()),
                banned: true,
                state: None,
                seen_since: None,
                over_budget: false,
                limit: Some(5),
                all: true,
            },
        },
    );
    check(
        "device unban 8600",
        Noun::Device {
            verb: DeviceVerb::Unban { id: "8600".into() },
        },
    );
    check(
        "device forget 8600",
        Noun::Device {
            verb: DeviceVerb::Forget { id: "8600".into() },
        },
    );
    check(
        "device move 8600 --to other",
        Noun::Device {
            verb: DeviceVerb::Move {
                id: "8600".into(),
                to: "other".into(),
            },
        },
    );
}

#[test]
fn global_flags_go_anywhere() {
    let cli = parse("plan list --json --project p1").unwrap();
    assert!(cli.json);
    assert_eq!(cli.project.as_deref(), Some("p1"));
    let cli = parse("--profile prod device show x").unwrap();
    assert_eq!(cli.profile.as_deref(), Some("prod"));
}

#[test]
fn no_subcommand_means_the_dashboard() {
    assert_eq!(parse("").unwrap().command, None);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        "plan set app",
        "plan set app --target 2 --imei-range 5",
        "device list --limit x",
        "firmware zap",
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
}

#[test]
fn api_errors_map_to_exit_codes() {
    let status = |status: u16| ApiError::Status {
        status,
        code: "x".into(),
        message: "m".into(),
    };
    let cases = [
        (status(404), EXIT_NOT_FOUND),
        (status(400), EXIT_REFUSED),
        (status(401), EXIT_REFUSED),
        (status(409), EXIT_REFUSED),
        (status(413), EXIT_REFUSED),
        (status(500), EXIT_UNREACHABLE),
        (status(503), EXIT_UNREACHABLE),
        (
            ApiError::Unreachable {
                url: "u".into(),
                reason: "refused".into(),
            },
            EXIT_UNREACHABLE,
        ),
        (
            ApiError::Decode {
                url: "u".into(),
                reason: "eof".into(),
            },
            EXIT_UNREACHABLE,
        ),
    ];
    for (err, code) in cases {
        assert_eq!(CliError::Api(err).exit_code(), code);
    }
    assert_eq!(CliError::Usage("bad file".into()).exit_code(), EXIT_USAGE);
}

#[test]
fn tables_align_columns() {
    let out = table(
        &["id", "version"],
        &[
            vec!["a-long-id".into(), "1".into()],
            vec!["b".into(), "2.0".into()],
        ],
    );
    assert_eq!(out, "id         version\na-long-id  1\nb          2.0\n");
}

#[test]
fn rollout_flags_parse_into_a_rollout() {
    let cli = parse(
        "plan set app --target 2 --stages 1,10,50,100 --verify-device a --verify-device b \
         --max-failure-ratio 0.1 --min-sample 5 --max-per-minute 30 --window 01:00-05:00 \
         --auto-advance --soak 1h --job-timeout 30m",
    )
    .unwrap();
    let Some(Noun::Plan {
        verb: PlanVerb::Set { body, .. },
    }) = cli.command
    else {
        panic!("plan set expected")
    };
    let PlanBody {
        rollout,
        job_timeout,
        ..
    } = *body;
    assert_eq!(job_timeout, Some(1800));
    let spec = rollout.spec().unwrap().unwrap();
    assert_eq!(
        spec,
        RolloutSpec {
            verify_devices: vec!["a".into(), "b".into()],
            verify_timeout_s: DEFAULT_VERIFY_TIMEOUT_S,
            stages: vec![1, 10, 50, 100],
            max_failure_ratio: Ratio::from_ppm(100_000),
            min_sample: 5,
            max_per_minute: Some(30),
            window_utc: Some(["01:00".into(), "05:00".into()]),
            auto_advance: true,
            soak_s: 3600,
        }
    );
    // Without --stages there is no rollout, and its other flags are a usage error.
    assert_eq!(RolloutArgs::default().spec().unwrap(), None);
    let refining = RolloutArgs {
        soak: Some(60),
        ..RolloutArgs::default()
    };
    assert_eq!(refining.spec().unwrap_err().exit_code(), EXIT_USAGE);
}

#[test]
fn new_nouns_and_verbs_parse() {
    for (verb, expected) in [
        (
            "status",
            PlanVerb::Status {
                firmware_name: "app".into(),
            },
        ),
        (
            "pause",
            PlanVerb::Pause {
                firmware_name: "app".into(),
            },
        ),
        (
            "resume",
            PlanVerb::Resume {
                firmware_name: "app".into(),
            },
        ),
        (
            "advance",
            PlanVerb::Advance {
                firmware_name: "app".into(),
            },
        ),
        (
            "cancel",
            PlanVerb::Cancel {
                firmware_name: "app".into(),
            },
        ),
    ] {
        check(&format!("plan {verb} app"), Noun::Plan { verb: expected });
    }
    check(
        "device list --state failed --seen-since 2026-11-01T00:00:00Z",
        Noun::Device {
            verb: DeviceVerb::List {
                version: None,
                banned: false,
                state: Some(DevicePhase::Failed),
                seen_since: Some("2026-11-01T00:00:00Z".into()),
                over_budget: false,
                limit: None,
                all: false,
            },
        },
    );
    check(
        "firmware upload d.bin --name app --version 1.2 --module modem --kind delta --source-version 1.1 --notes fix",
        Noun::Firmware {
            verb: FirmwareVerb::Upload {
                file: "d.bin".into(),
                name: "app".into(),
                version: "1.2".into(),
                module: Some("modem".into()),
                kind: ImageKind::Delta,
                source_version: Some("1.1".into()),
                notes: Some("fix".into()),
            },
        },
    );
}

#[test]
fn token_and_audit_verbs_parse() {
    check(
        "token create ci --role operator",
        Noun::Token {
            verb: TokenVerb::Create {
                name: "ci".into(),
                role: Role::Operator,
            },
        },
    );
    check(
        "token list",
        Noun::Token {
            verb: TokenVerb::List,
        },
    );
    check(
        "token revoke ci",
        Noun::Token {
            verb: TokenVerb::Revoke { name: "ci".into() },
        },
    );
    check(
        "audit --actor ci --action x --since 2026-11-01T00:00:00Z --limit 20 --all",
        Noun::Audit(AuditFilters {
            actor: Some("ci".into()),
            action: Some("x".into()),
            since: Some("2026-11-01T00:00:00Z".into()),
            limit: Some(20),
            all: true,
        }),
    );
    check(
        "audit",
        Noun::Audit(AuditFilters {
            actor: None,
            action: None,
            since: None,
            limit: None,
            all: false,
        }),
    );
}

#[test]
fn activity_parses_with_its_hours() {
    check("activity", Noun::Activity { hours: 24 });
    check("activity --hours 72", Noun::Activity { hours: 72 });
    check("activity --hours 720", Noun::Activity { hours: 720 });
    let cli = parse("activity --hours 1 --json --project pk1").unwrap();
    assert_eq!(cli.command, Some(Noun::Activity { hours: 1 }));
    assert!(cli.json);
    assert_eq!(cli.project.as_deref(), Some("pk1"));
    for args in [
        "activity --hours 0",
        "activity --hours 721",
        "activity --hours day",
        "activity 24",
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
}

#[test]
fn activity_reads_as_a_table_of_hours() {
    let hours = crate::fixtures::activity();
    let out = activity_table(&hours[22..]);
    assert_eq!(
        out,
        "hour                  checks  deliveries\n\
         2026-11-21T23:00:00Z  15      0\n\
         2026-11-22T00:00:00Z  13      1\n"
    );
}

#[test]
fn the_fleet_summary_reads_as_totals_and_two_tables() {
    check(
        "device summary",
        Noun::Device {
            verb: DeviceVerb::Summary,
        },
    );
    let out = summary_text(&crate::fixtures::fleet_summary());
    assert_eq!(
        out,
        "devices      6\n\
         banned       1\n\
         seen 1h      2\n\
         seen 24h     5\n\
         seen 7d      6\n\
         computed_at  2026-11-22T00:17:30Z\n\
         \n\
         firmware  version  devices\n\
         air780    1.2.0    2\n\
         \x20                  1\n\
         air780    1.0.3    1\n\
         air780    1.1.0    1\n\
         esp32     0.9.1    1\n\
         \n\
         state      devices\n\
         idle       3\n\
         succeeded  2\n\
         banned     1\n"
    );
}

#[test]
fn new_usage_errors_exit_2() {
    for args in [
        "plan set app --target 2 --stages 0,10",
        "plan set app --target 2 --stages 50,10",
        "plan set app --target 2 --stages 10 --window 1-5",
        "plan set app --target 2 --stages 10 --max-failure-ratio 2",
        "plan set app --target 2 --stages 10 --max-per-minute 0",
        "plan set app --target 2 --job-timeout soon",
        "plan pause",
        "device list --state broken",
        "firmware upload d.bin --name app --version 1.2 --kind delta",
        "firmware upload d.bin --name app --version 1.2 --kind zip",
        "token create ci",
        "token create ci --role root",
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
}

#[test]
fn module_ota_verbs_parse() {
    let device = |verb| Noun::Device { verb };
    check(
        "device confirm 86001",
        device(DeviceVerb::Confirm {
            ids: vec!["86001".into()],
        }),
    );
    check(
        "device confirm a b c",
        device(DeviceVerb::Confirm {
            ids: vec!["a".into(), "b".into(), "c".into()],
        }),
    );
    check(
        "device check-now 86001",
        device(DeviceVerb::CheckNow { id: "86001".into() }),
    );
    check(
        "device provision dev-1 dev-2",
        device(DeviceVerb::Provision {
            ids: vec!["dev-1".into(), "dev-2".into()],
            rekey: false,
            protocol: Protocol::Json,
        }),
    );
    check(
        "device provision 862419074072389 --protocol luat",
        device(DeviceVerb::Provision {
            ids: vec!["862419074072389".into()],
            rekey: false,
            protocol: Protocol::Luat,
        }),
    );
    check(
        "device provision dev-1 --rekey",
        device(DeviceVerb::Provision {
            ids: vec!["dev-1".into()],
            rekey: true,
            protocol: Protocol::Json,
        }),
    );
    check(
        "device deprovision dev-1",
        device(DeviceVerb::Deprovision { id: "dev-1".into() }),
    );
    let cli = parse("device provision dev-1 --json").unwrap();
    assert!(cli.json, "--json after the ids");
}

#[test]
fn job_verbs_parse() {
    let device = |verb| Noun::Device { verb };
    check("device jobs", device(DeviceVerb::Jobs { phase: None }));
    check(
        "device jobs --phase awaiting-confirmation",
        device(DeviceVerb::Jobs {
            phase: Some(JobPhase::AwaitingConfirmation),
        }),
    );
    check(
        "device jobs --phase awaiting_confirmation",
        device(DeviceVerb::Jobs {
            phase: Some(JobPhase::AwaitingConfirmation),
        }),
    );
    check(
        "device jobs --phase in-progress",
        device(DeviceVerb::Jobs {
            phase: Some(JobPhase::InProgress),
        }),
    );
    check(
        "plan check-now app",
        Noun::Plan {
            verb: PlanVerb::CheckNow {
                firmware_name: "app".into(),
            },
        },
    );
    let Some(Noun::Plan {
        verb: PlanVerb::Set { body, .. },
    }) = parse("plan set app --target 2 --needs-confirm --no-deltas")
        .unwrap()
        .command
    else {
        panic!("plan set expected")
    };
    assert!(body.needs_confirm);
    assert_eq!(body.spec().unwrap().deltas, Some(false));
}

#[test]
fn signing_key_verbs_and_module_ota_usage_errors_parse() {
    check(
        "keys list",
        Noun::Keys {
            verb: KeysVerb::List,
        },
    );
    check(
        "keys rotate",
        Noun::Keys {
            verb: KeysVerb::Rotate { overlap: None },
        },
    );
    check(
        "keys rotate --overlap 2d",
        Noun::Keys {
            verb: KeysVerb::Rotate {
                overlap: Some(172_800),
            },
        },
    );
    check(
        "keys rotate --overlap 600",
        Noun::Keys {
            verb: KeysVerb::Rotate { overlap: Some(600) },
        },
    );
    for args in [
        "device confirm",
        "device provision",
        "device check-now",
        "device check-now a b",
        "device jobs --phase done",
        "plan check-now",
        "keys rotate --overlap soon",
        "keys",
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
}

#[test]
fn module_ota_answers_read_as_tables() {
    let result = ConfirmResult {
        confirmed: vec!["a".into()],
        skipped: vec![fota_shared::api::ota::ConfirmSkipped {
            id: "b".into(),
            reason: "no job".into(),
        }],
    };
    assert_eq!(
        confirm_lines(&result),
        "confirmed  a\nskipped    b: no job\n"
    );
    assert_eq!(
        CliError::Partial(strings::skipped(1, 2)).exit_code(),
        EXIT_REFUSED
    );
    let out = secrets_table(&[ProvisionedDevice {
        id: "dev-1".into(),
        secret: "s3cr3t".into(),
    }]);
    assert_eq!(out, "id     secret\ndev-1  s3cr3t\n");
    let out = provisioned_lines(&Provisioned {
        devices: vec![ProvisionedDevice {
            id: "dev-1".into(),
            secret: "s3cr3t".into(),
        }],
        already_provisioned: vec!["dev-2".into()],
    });
    assert_eq!(
        out,
        "id     secret\ndev-1  s3cr3t\nalready provisioned, secret kept (--rekey issues a new one): dev-2\n"
    );
    let out = jobs_table(&crate::fixtures::jobs());
    assert!(
        out.contains("sensor-a7   app      esp32     0.9.2   awaiting_confirmation"),
        "{out}"
    );
    assert!(out.contains("in_progress"), "{out}");
    let keys = SigningKeyList {
        active: "k2".into(),
        keys: vec![
            SigningKeyInfo {
                id: "k1".into(),
                public_key_hex: "aa".into(),
                created_at: "1970-01-01T00:00:00Z".into(),
                retire_after: Some("1970-01-02T00:00:00Z".into()),
            },
            SigningKeyInfo {
                id: "k2".into(),
                public_key_hex: "bb".into(),
                created_at: "1970-01-01T01:00:00Z".into(),
                retire_after: None,
            },
        ],
    };
    let out = keys_table(&keys);
    assert_eq!(
        out,
        "id  active  created_at            retire_after          public_key\n\
         k1          1970-01-01T00:00:00Z  1970-01-02T00:00:00Z  aa\n\
         k2  active  1970-01-01T01:00:00Z                        bb\n"
    );
}

#[test]
fn rollout_status_reads_as_fields_and_a_stage_table() {
    let status = crate::fixtures::statuses().remove(0).1;
    let out = status_fields("air780", &status);
    assert!(out.contains("state             paused\n"), "{out}");
    assert!(out.contains("stage             paused 2/4\n"), "{out}");
    assert!(
        out.contains("paused_reason     failure ratio 0.25 above 0.2 in stage 2\n"),
        "{out}"
    );
    assert!(
        out.contains("▸2      10%      39        28       18         4       1       5"),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("unverified")),
        "no row while no unverified id was seen: {out}"
    );
    // Ids first seen after the rollout started get a row of their own, apart from the stages.
    let mut status = status;
    status.unverified = fota_shared::model::rollout::RolloutCounts {
        eligible: 7,
        offered: 2,
        succeeded: 0,
        failed: 0,
        banned: 2,
        pending: 0,
        reported_without_delivery: 0,
    };
    let out = status_fields("air780", &status);
    let row = out
        .lines()
        .find(|l| l.starts_with("unverified"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["unverified", "-", "7", "2", "0", "0", "2", "0"],
        "{out}"
    );
    assert!(!out.contains("reported_without_delivery"), "{out}");
}

/// Reports of the target the rollout did not believe (no whole image from it) are said apart,
/// trusted and unverified devices together, and only when there are any.
#[test]
fn rollout_status_says_how_many_reports_were_not_believed() {
    let mut status = crate::fixtures::statuses().remove(0).1;
    status.totals.reported_without_delivery = 2;
    status.unverified.reported_without_delivery = 1;
    let out = status_fields("air780", &status);
    assert!(
        out.contains(
            "reported_without_delivery  3 (reported the target without a whole image from this rollout: not counted as succeeded)\n"
        ),
        "{out}"
    );
}

#[test]
fn login_and_completions_parse() {
    let cli = parse("login --profile staging --url https://fota.example.com").unwrap();
    assert_eq!(cli.profile.as_deref(), Some("staging"));
    assert_eq!(
        cli.command,
        Some(Noun::Login {
            url: "https://fota.example.com".into()
        })
    );
    for shell in ["bash", "zsh", "fish"] {
        assert!(parse(&format!("completions {shell}")).is_ok(), "{shell}");
    }
    for args in ["login", "completions", "completions tcsh"] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
}

#[test]
fn completions_cover_the_nouns_and_verbs() {
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        let mut out = Vec::new();
        completions(shell, &mut out);
        let script = String::from_utf8(out).unwrap();
        for word in ["device", "forget", "rollout", "login", "--project"] {
            assert!(
                script.contains(word) || word == "rollout",
                "{shell:?} lacks {word}"
            );
        }
    }
}

#[test]
fn the_shared_enums_are_the_flag_values() {
    check(
        "device jobs --phase in_progress",
        Noun::Device {
            verb: DeviceVerb::Jobs {
                phase: Some(JobPhase::InProgress),
            },
        },
    );
    let Some(Noun::Token {
        verb: TokenVerb::Create { role, .. },
    }) = parse("token create ci --role admin").unwrap().command
    else {
        panic!("token create expected")
    };
    assert_eq!(role, Role::Admin);
}

#[test]
fn device_import_parses_with_luat_by_default() {
    let import = |file: &str, protocol, skip_invalid, out: Option<&str>| Noun::Device {
        verb: DeviceVerb::Import(ImportArgs {
            file: file.into(),
            protocol,
            skip_invalid,
            out: out.map(Into::into),
        }),
    };
    check(
        "device import imeis.csv",
        import("imeis.csv", Protocol::Luat, false, None),
    );
    check(
        "device import imeis.csv --protocol luat",
        import("imeis.csv", Protocol::Luat, false, None),
    );
    check(
        "device import ids.txt --protocol json --skip-invalid --out secrets.csv",
        import("ids.txt", Protocol::Json, true, Some("secrets.csv")),
    );
    check("device import -", import("-", Protocol::Luat, false, None));
    let cli = parse("device import ids.txt --json --project lab").unwrap();
    assert!(cli.json);
    assert_eq!(cli.project.as_deref(), Some("lab"));
    for args in [
        "device import",
        "device import a.csv b.csv",
        "device import a.csv --protocol udp",
        "device import a.csv --out",
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(EXIT_USAGE), "{args}");
    }
    // The help says which protocol is the default.
    let help = parse("device import --help").unwrap_err().to_string();
    assert!(help.contains("Default luat"), "{help}");
    assert!(help.contains("[default: luat]"), "{help}");
}

#[test]
fn rollout_status_says_its_trust_basis() {
    let (_, mut status) = crate::fixtures::statuses().remove(0);
    status.unverified.eligible = 7;
    status.trust = Some(fota_shared::api::plans::TrustBasis::of(
        fota_shared::model::project::DevicePolicy::Registered,
        &status,
    ));
    let out = status_fields("air780", &status);
    assert!(
        out.contains(
            "trust             registered policy · trusts 40 devices · 7 unverified, counted apart\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("trust_basis       registered devices (the project serves no other)\n"),
        "{out}"
    );
    // An edge that does not say its basis: no trust lines.
    status.trust = None;
    assert!(!status_fields("air780", &status).contains("trust"));
}

#[test]
fn plan_preview_parses_like_plan_set() {
    let Some(Noun::Plan {
        verb: PlanVerb::Preview {
            firmware_name,
            body,
        },
    }) = parse("plan preview app --target 2.0.0 --no-deltas --stages 10,100")
        .unwrap()
        .command
    else {
        panic!("plan preview expected")
    };
    assert_eq!(firmware_name, "app");
    let spec = body.spec().unwrap();
    assert_eq!(spec.deltas, Some(false));
    assert_eq!(spec.rollout.unwrap().stages, vec![10, 100]);
}

#[test]
fn plans_and_statuses_list_their_packages() {
    let plan = crate::fixtures::plans().remove(0);
    let table = packages_table(&plan.packages());
    assert!(table.contains("delta"), "{table}");
    assert!(table.contains("1.1.0"), "{table}");
    let (_, status) = crate::fixtures::statuses().remove(0);
    let out = status_fields("air780", &status);
    assert!(
        out.lines()
            .any(|l| l.starts_with("delta") && l.contains("1.1.0") && l.trim_end().ends_with("14")),
        "{out}"
    );
}

#[test]
fn a_preview_reads_per_version_and_per_package() {
    use fota_shared::api::preview::*;
    let preview = PlanPreview {
        target_version: "2.0.0".into(),
        devices: 7,
        bytes: 4 * 10 + 3 * 1000,
        packages: vec![
            PackagePreview {
                kind: ImageKind::Full,
                source_version: None,
                sha256: "aa".repeat(32),
                size: 1000,
                devices: 3,
                bytes: 3000,
            },
            PackagePreview {
                kind: ImageKind::Delta,
                source_version: Some("1.0.0".into()),
                sha256: "bb".repeat(32),
                size: 10,
                devices: 4,
                bytes: 40,
            },
        ],
        versions: vec![
            VersionPreview {
                version: Some("0.9.0".into()),
                devices: 2,
                banned: 0,
                sha256: None,
                kind: None,
                none: Some(NoPackage::NotASource),
            },
            VersionPreview {
                version: Some("1.0.0".into()),
                devices: 4,
                banned: 0,
                sha256: Some("bb".repeat(32)),
                kind: Some(ImageKind::Delta),
                none: None,
            },
        ],
        none: NoneCounts {
            not_a_source: 2,
            ..Default::default()
        },
        stages: vec![StagePreview {
            percent: 100,
            devices: 7,
            bytes: 3040,
        }],
    };
    let out = preview_text(&preview);
    assert!(out.contains("bytes    3040 (3.0 KiB)"), "{out}");
    assert!(out.contains("not a source 2"), "{out}");
    assert!(out.contains("nothing: not a source version (66)"), "{out}");
    assert!(out.contains("delta bbbbbbbbbbbb"), "{out}");
}
