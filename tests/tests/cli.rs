//! The `fota` CLI end to end against a real `wrangler dev`: upload firmware and set a plan with
//! the CLI, drive LuatOS `libfota2` device checks over raw HTTP, read the counts back with
//! `fota plan status --json`; the exit codes scripts branch on; the module-OTA verbs; and
//! registering a fleet from a file (`fota device import`) with the trust line it brings.
//!
//! The binary is built once per test process (`cargo build -p fota-tui --bin fota`) and run with
//! `FOTA_URL`, `FOTA_TOKEN` and `FOTA_PROJECT`, with `HOME` and the working directory in a fresh
//! temporary directory so that no operator config or `.dev.vars` is read.

use fota_shared::api::catalog::{Project, UploadReceipt};
use fota_shared::api::fleet::{DeviceList, FleetSummary};
use fota_shared::api::ota::{CheckNowResult, ConfirmResult, JobList, Provisioned, SigningKeyList};
use fota_shared::api::plans::RolloutStatus;
use fota_shared::leaf::time::parse_rfc3339;
use fota_shared::model::plan::Plan;
use fota_tests::{fota_bin, fota_command, image, scratch, sha256_hex, temp_state_dir, Server};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const FW: &str = "cli_LuatOS-SoC_Air780E";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

// The exit codes `fota` documents (tui/src/cli.rs).
const EXIT_OK: i32 = 0;
const EXIT_USAGE: i32 = 2;
const EXIT_NOT_FOUND: i32 = 3;
const EXIT_REFUSED: i32 = 4;
const EXIT_UNREACHABLE: i32 = 5;

/// The server of this test binary, started once (never dropped: serve.sh stops it when the test
/// process exits).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&temp_state_dir("cli")))
}

/// One `fota` invocation's environment: where it connects, as whom, for which project.
struct Fota {
    url: String,
    project: String,
    home: PathBuf,
}

impl Fota {
    fn new(url: String, project: &str) -> Fota {
        Fota {
            url,
            project: project.to_string(),
            home: scratch(project),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        fota_command(&self.url, &self.project, &self.home)
            .args(args)
            .output()
            .expect("fota runs")
    }

    /// Runs and asserts the exit code; returns stdout.
    #[track_caller]
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "fota {}\nstdout: {}\nstderr: {}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs with `--json` and expects success; returns stdout (see `parse!`).
    #[track_caller]
    fn json(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.push("--json");
        self.expect(EXIT_OK, &all)
    }
}

/// Parses `fota --json` output as the type the binding names (a macro, as this crate does not
/// depend on serde itself).
macro_rules! parse {
    ($stdout:expr) => {{
        let stdout: String = $stdout;
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not the expected JSON ({e}):\n{stdout}"))
    }};
}

impl Drop for Fota {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One LuatOS `libfota2` check, byte for byte as the device sends it.
fn luatos_check(
    server: &Server,
    project: &str,
    imei: &str,
    version: &str,
) -> fota_tests::RawResponse {
    let request = format!(
        "GET /api/site/firmware_upgrade?imei={imei}&project_key={project}&firmware_name={FW}&version={version} HTTP/1.1\r\nConnection: Close\r\nHost: {}\r\n\r\n",
        server.host()
    );
    server.request(request.as_bytes())
}

fn imei(row: u32) -> String {
    format!("86900{row:010}")
}

#[test]
fn upload_plan_and_read_the_counts_back_with_the_cli() {
    let server = server();
    let project = "cli-e2e";
    let fota = Fota::new(format!("http://{}", server.host()), project);

    let created: Project =
        parse!(fota.json(&["project", "set", project, "--name", "CLI end to end"]));
    assert_eq!(
        (created.key.as_str(), created.name.as_str()),
        (project, "CLI end to end")
    );

    let img = image(4242, 48 * 1024);
    let file = fota.home.join("air780e-1.0.1.bin");
    std::fs::write(&file, &img).expect("image file");
    let file = file.to_string_lossy().into_owned();
    let receipt: UploadReceipt = parse!(fota.json(&[
        "firmware",
        "upload",
        &file,
        "--name",
        FW,
        "--version",
        TARGET
    ]));
    assert_eq!(receipt.sha256, sha256_hex(&img));
    assert_eq!(receipt.size, img.len() as u64);

    // The registered fleet checked in before the release (no plan yet: nothing to offer), so
    // the rollout counts its devices as trusted, in `totals`.
    let ids: Vec<String> = (0..5).map(imei).collect();
    // A registered fleet that checked in before the release: the rollout trusts it.
    server.register_luat(project, &ids);
    server.bind_fleet(project, FW, FROM, &ids);

    let plan: Plan = parse!(fota.json(&["plan", "set", FW, "--target", TARGET]));
    assert_eq!(plan.spec.target_version, TARGET);
    assert_eq!(plan.image.sha256, receipt.sha256);
    // The human form of the same plan.
    let shown = fota.expect(EXIT_OK, &["plan", "show", FW]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("target ") && l.ends_with(&format!(" {TARGET}"))),
        "{shown}"
    );

    // Five devices on the old version check and get the image; three come back on the target.
    for id in &ids {
        luatos_check(server, project, id, FROM).expect_image(200, &img);
    }
    for id in &ids[..3] {
        luatos_check(server, project, id, TARGET).expect_refusal(404, 60);
    }

    // Successes are recorded in the background: poll until the counts arrive.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status: RolloutStatus = parse!(fota.json(&["plan", "status", FW]));
        if (status.totals.offered, status.totals.succeeded) == (5, 3) || Instant::now() >= deadline
        {
            break status;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let totals = status.totals;
    assert_eq!(
        (
            totals.offered,
            totals.succeeded,
            totals.pending,
            totals.failed,
            totals.banned
        ),
        (5, 3, 2, 0, 0),
        "{status:?}"
    );
    assert!(totals.eligible >= 5, "{status:?}");
    // The raw JSON keeps the API's field names, for scripts using jq.
    let raw: serde_json::Value = parse!(fota.json(&["plan", "status", FW]));
    assert_eq!(raw["totals"]["offered"], 5, "{raw}");
    assert_eq!(raw["totals"]["succeeded"], 3, "{raw}");

    // `device list --json` is the API's DeviceList: the five devices, on the versions they reported.
    let list: DeviceList = parse!(fota.json(&["device", "list"]));
    let mut seen: Vec<(String, Option<String>)> = list
        .devices
        .iter()
        .map(|d| (d.id.clone(), d.version.clone()))
        .collect();
    seen.sort();
    let want: Vec<(String, Option<String>)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.clone(),
                Some(if i < 3 { TARGET } else { FROM }.to_string()),
            )
        })
        .collect();
    assert_eq!(seen, want);
    let table = fota.expect(EXIT_OK, &["device", "list"]);
    assert!(table.starts_with("id "), "{table}");
    assert_eq!(
        table.lines().count(),
        6,
        "a header and five devices:\n{table}"
    );

    // `device summary` counts the same five devices in one request, however large the fleet.
    let summary: FleetSummary = parse!(fota.json(&["device", "summary"]));
    let versions: Vec<(Option<&str>, u64)> = summary
        .versions
        .iter()
        .map(|v| (v.version.as_deref(), v.devices))
        .collect();
    assert_eq!(
        (summary.total, versions),
        (5, vec![(Some(TARGET), 3), (Some(FROM), 2)]),
        "{summary:?}"
    );
    let text = fota.expect(EXIT_OK, &["device", "summary"]);
    assert!(text.starts_with("devices      5\n"), "{text}");

    // `fota metrics` prints what a Prometheus scraper reads: the same devices, the same rollout.
    let metrics = fota.expect(EXIT_OK, &["metrics"]);
    assert!(
        metrics.lines().any(|l| l == "fota_devices_total 5"),
        "{metrics}"
    );
    let succeeded = format!(
        "fota_rollout_devices{{firmware=\"{FW}\",target=\"{TARGET}\",outcome=\"succeeded\"}} 3"
    );
    assert!(metrics.lines().any(|l| l == succeeded), "{metrics}");
    fota.expect(EXIT_USAGE, &["metrics", "--silent-after", "60"]);
}

#[test]
fn exit_codes_tell_scripts_what_went_wrong() {
    let server = server();
    let project = "cli-exit";
    let fota = Fota::new(format!("http://{}", server.host()), project);
    fota.expect(
        EXIT_OK,
        &["project", "set", project, "--name", "exit codes"],
    );

    // 404: no such plan.
    let out = fota.run(&["plan", "status", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_NOT_FOUND),
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).starts_with("fota: 404 "),
        "{}",
        text(&out.stderr)
    );
    // 4xx other than 404: a wrong token is refused.
    let out = Command::new(fota_bin())
        .args(["plan", "list"])
        .env("FOTA_URL", &fota.url)
        .env("FOTA_TOKEN", "not-the-token")
        .env("FOTA_PROJECT", project)
        .env("HOME", &fota.home)
        .current_dir(&fota.home)
        .output()
        .expect("fota runs");
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "stderr: {}",
        text(&out.stderr)
    );
    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let unreachable = Fota::new(format!("http://127.0.0.1:{closed}"), project);
    let out = unreachable.run(&["plan", "list"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_UNREACHABLE),
        "stderr: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("cannot reach"),
        "{}",
        text(&out.stderr)
    );
    // Bad usage, found before anything is sent.
    for args in [
        &["plan", "set", FW][..],
        &["firmware", "zap"],
        &["device", "list", "--limit", "x"],
        &["plan", "set", FW, "--target", "1", "--soak", "1h"],
    ] {
        fota.expect(EXIT_USAGE, args);
    }
}

#[test]
fn module_ota_verbs_reach_their_routes() {
    let server = server();
    let project = "cli-module";
    let fota = Fota::new(format!("http://{}", server.host()), project);
    fota.expect(
        EXIT_OK,
        &["project", "set", project, "--name", "module OTA"],
    );

    // Provisioning prints each secret once, and says so on stderr.
    let out = fota.run(&["device", "provision", "cli-dev-1", "cli-dev-2", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_OK),
        "stderr: {}",
        text(&out.stderr)
    );
    let provisioned: Provisioned = parse!(text(&out.stdout));
    let ids: Vec<&str> = provisioned.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["cli-dev-1", "cli-dev-2"]);
    assert!(provisioned.devices.iter().all(|d| !d.secret.is_empty()));
    assert!(
        text(&out.stderr).contains("shown this once"),
        "{}",
        text(&out.stderr)
    );
    let table = fota.expect(EXIT_OK, &["device", "provision", "cli-dev-3"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(lines[0], ["id", "secret"]);
    assert_eq!(lines[1][0], "cli-dev-3");
    // Again: no secret, unless --rekey; then de-provisioning.
    let again = fota.expect(EXIT_OK, &["device", "provision", "cli-dev-3"]);
    assert!(
        again.starts_with("already provisioned") && again.contains("cli-dev-3"),
        "{again}"
    );
    let rekeyed: Provisioned = parse!(fota.json(&["device", "provision", "cli-dev-3", "--rekey"]));
    assert_eq!(rekeyed.devices.len(), 1);
    assert_ne!(rekeyed.devices[0].secret, lines[1][1]);
    let gone = fota.expect(EXIT_OK, &["device", "deprovision", "cli-dev-3"]);
    assert!(gone.contains("deprovisioned device cli-dev-3"), "{gone}");

    // No jobs yet: one device's confirmation is a 404, several are skipped (exit 4).
    let jobs: JobList = parse!(fota.json(&["device", "jobs"]));
    assert_eq!(jobs.jobs, vec![]);
    let held: JobList = parse!(fota.json(&["device", "jobs", "--phase", "awaiting_confirmation"]));
    assert_eq!(held.jobs, vec![]);
    fota.expect(EXIT_NOT_FOUND, &["device", "confirm", "cli-dev-1"]);
    let out = fota.run(&["device", "confirm", "cli-dev-1", "cli-dev-2", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_REFUSED),
        "stderr: {}",
        text(&out.stderr)
    );
    let result: ConfirmResult = parse!(text(&out.stdout));
    assert_eq!(result.confirmed, Vec::<String>::new());
    assert_eq!(result.skipped.len(), 2, "{result:?}");

    // Check-now: nobody holds a connection, so nobody is reached.
    let reached: CheckNowResult = parse!(fota.json(&["device", "check-now", "cli-dev-1"]));
    assert_eq!((reached.devices, reached.reached), (1, 0));
    let line = fota.expect(EXIT_OK, &["device", "check-now", "cli-dev-1"]);
    assert_eq!(line, "Check-now device cli-dev-1: reached 0 of 1 device.\n");
    fota.expect(EXIT_NOT_FOUND, &["plan", "check-now", "no-such-plan"]);

    // Signing keys: one active key, then a rotation keeps the old one trusted for the overlap.
    let keys: SigningKeyList = parse!(fota.json(&["keys", "list"]));
    assert_eq!(keys.keys.len(), 1, "{keys:?}");
    assert_eq!(keys.active, keys.keys[0].id);
    let rotated: SigningKeyList = parse!(fota.json(&["keys", "rotate", "--overlap", "1h"]));
    assert_eq!(rotated.keys.len(), 2, "{rotated:?}");
    assert_ne!(rotated.active, keys.active);
    let old = rotated
        .keys
        .iter()
        .find(|k| k.id == keys.active)
        .expect("the old key is still listed");
    let ms = |t: &str| parse_rfc3339(t).expect("an RFC 3339 time");
    let retire = ms(old.retire_after.as_deref().expect("the old key retires"));
    let new = rotated
        .keys
        .iter()
        .find(|k| k.id == rotated.active)
        .expect("the active key is listed");
    assert!(
        (retire - ms(&new.created_at) - 3_600_000).abs() < 60_000,
        "{rotated:?}"
    );
    let table = fota.expect(EXIT_OK, &["keys", "list"]);
    let active: Vec<&str> = table
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(1) == Some("active"))
        .collect();
    assert_eq!(active.len(), 1, "{table}");
    assert!(
        active[0].starts_with(&format!("{} ", rotated.active)),
        "{table}"
    );
}

/// Reads `fota --json` output of `device import` (its own shape, not an API type).
fn import_result(stdout: String) -> serde_json::Value {
    parse!(stdout)
}

#[test]
fn device_import_registers_a_fleet_in_batches_and_plan_status_says_what_it_trusts() {
    // A server of its own: a batch of 1,000 ids keeps the local edge busy for seconds, and
    // wrangler dev answers some requests that come in during or right after such a batch with
    // 503 ("your worker restarted mid-request"). `device import` sends its batch again; the
    // other tests' calls would fail.
    let server = &Server::start(&temp_state_dir("cli-import"));
    let project = "cli-import";
    let fota = Fota::new(format!("http://{}", server.host()), project);
    fota.expect(EXIT_OK, &["project", "set", project, "--name", "import"]);

    // 2,500 IMEIs as a spreadsheet exports them: a header, quoted and bare cells, one listed twice.
    let ids: Vec<String> = (0..2500).map(|i| format!("86901{i:010}")).collect();
    let mut csv = String::from("IMEI,model\r\n");
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            csv += &format!("\"{id}\",\"Air780E, rev B\"\r\n");
        } else {
            csv += &format!("{id},Air780E\r\n");
        }
    }
    csv += &format!("{}\r\n", ids[7]);
    let file = fota.home.join("imeis.csv");
    std::fs::write(&file, &csv).expect("id file");
    let file = file.to_string_lossy().into_owned();

    // Three batches; stderr is not a terminal, so a line per batch instead of a bar.
    let started = Instant::now();
    let out = fota.run(&["device", "import", &file, "--protocol", "luat"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(EXIT_OK), "stderr: {stderr}");
    eprintln!("imported 2,500 ids in {:?}", started.elapsed());
    for line in [
        "line 1 read as a header and skipped (first cell \"IMEI\")",
        "registering 2500 ids as luat devices in 3 batches",
        "batch 1/3: 1000 registered, 0 already registered (1000/2500 ids)",
        "batch 3/3: 500 registered, 0 already registered (2500/2500 ids)",
        "registered 2500 ids in 3 batches; 0 already registered, skipped",
        "1 id listed more than once, registered once",
        "shown this once",
    ] {
        assert!(stderr.contains(line), "{line:?} not in:\n{stderr}");
    }
    // The secrets are the output: an `id,secret` CSV, one row per id.
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("id,secret"));
    let mut secrets: Vec<(String, String)> = lines
        .map(|l| {
            let (id, secret) = l.split_once(',').expect("id,secret");
            (id.to_string(), secret.to_string())
        })
        .collect();
    secrets.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(
        secrets.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        want
    );
    assert!(secrets.iter().all(|(_, secret)| secret.len() >= 32));

    // Again: every id is registered already, skipped and reported; no secret is issued.
    let out = fota.run(&["device", "import", &file, "--json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_OK), "stderr: {stderr}");
    let again = import_result(text(&out.stdout));
    assert_eq!(again["registered"], serde_json::json!([]), "{again}");
    assert_eq!(again["devices"], serde_json::json!([]));
    assert_eq!(
        again["already_provisioned"].as_array().map(Vec::len),
        Some(2500)
    );
    assert_eq!(
        (again["batches"].as_u64(), again["duplicates"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(
        stderr.contains("2500 ids registered already: secret kept, none shown"),
        "{stderr}"
    );
    assert!(!stderr.contains("shown this once"), "{stderr}");

    // A file with an invalid id sends nothing (exit 2) unless --skip-invalid; --out writes the
    // CSV to a new file of mode 0600 and never overwrites one.
    let small = fota.home.join("more.txt");
    std::fs::write(
        &small,
        format!("# two more\n{}\n869020000000001\nnot/an/imei\n", ids[0]),
    )
    .expect("id file");
    let small = small.to_string_lossy().into_owned();
    let refused = fota.run(&["device", "import", &small]);
    assert_eq!(refused.status.code(), Some(EXIT_USAGE));
    assert!(
        text(&refused.stderr).contains("line 4: \"not/an/imei\" is not a device id"),
        "{}",
        text(&refused.stderr)
    );
    let secrets_file = fota.home.join("secrets.csv");
    let secrets_path = secrets_file.to_string_lossy().into_owned();
    let args = [
        "device",
        "import",
        &small,
        "--skip-invalid",
        "--out",
        &secrets_path,
    ];
    assert_eq!(
        fota.expect(EXIT_OK, &args),
        "",
        "the secrets went to the file"
    );
    let written = std::fs::read_to_string(&secrets_file).expect("secrets file");
    let rows: Vec<&str> = written.lines().collect();
    assert_eq!(rows.len(), 2, "{written}");
    assert!(rows[1].starts_with("869020000000001,"), "{written}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    fota.expect(EXIT_USAGE, &args);
    assert_eq!(
        std::fs::read_to_string(&secrets_file).expect("kept"),
        written
    );

    // A plan: three registered devices and one id nobody registered check on the old version.
    let img = image(4343, 16 * 1024);
    let image_file = fota.home.join("fw.bin");
    std::fs::write(&image_file, &img).expect("image file");
    let image_file = image_file.to_string_lossy().into_owned();
    fota.expect(
        EXIT_OK,
        &[
            "firmware",
            "upload",
            &image_file,
            "--name",
            FW,
            "--version",
            TARGET,
        ],
    );
    fota.expect(EXIT_OK, &["plan", "set", FW, "--target", TARGET]);
    for id in &ids[..3] {
        luatos_check(server, project, id, FROM).expect_image(200, &img);
    }
    luatos_check(server, project, "869030000000001", FROM).expect_status(200);

    // `plan status` says the basis: the policy, how many devices it trusts, the unverified apart.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let status: RolloutStatus = parse!(fota.json(&["plan", "status", FW]));
        let counted = status.trust.as_ref().map(|t| (t.trusted, t.unverified));
        if counted == Some((3, 1)) || Instant::now() >= deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let trust = status.trust.clone().expect("the edge says its trust basis");
    assert_eq!((trust.trusted, trust.unverified), (3, 1), "{status:?}");
    let shown = fota.expect(EXIT_OK, &["plan", "status", FW]);
    assert!(
        shown.contains(
            "trust             open policy · trusts 3 devices · 1 unverified, counted apart\n"
        ),
        "{shown}"
    );
    assert!(
        shown.lines().any(|l| l.starts_with("trust_basis ")),
        "{shown}"
    );
    // The policy the project is set to is the one the status names.
    fota.expect(
        EXIT_OK,
        &[
            "project",
            "set",
            project,
            "--name",
            "import",
            "--device-policy",
            "registered",
        ],
    );
    let shown = fota.expect(EXIT_OK, &["plan", "status", FW]);
    assert!(
        shown.contains("trust             registered policy · trusts 3 devices"),
        "{shown}"
    );
}
