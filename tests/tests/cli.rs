//! The `fota` CLI end to end against a real `wrangler dev`: upload firmware and set a plan with
//! the CLI, drive LuatOS `libfota2` device checks over raw HTTP, read the counts back with
//! `fota plan status --json`; the exit codes scripts branch on; and the module-OTA verbs.
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
use fota_tests::{image, repo_root, sha256_hex, temp_state_dir, Server, TOKEN};
use std::path::{Path, PathBuf};
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

/// `target/debug/fota`, built on first use. Cargo gives one test binary no path to another
/// package's binary, so the test builds it; the build is a no-op when it is up to date.
fn fota_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = repo_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "fota-tui", "--bin", "fota"])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cargo build -p fota-tui --bin fota failed"
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target
            .join("debug")
            .join(format!("fota{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} is missing after the build", bin.display());
        bin
    })
}

/// The server of this test binary, started once (never dropped: serve.sh stops it when the test
/// process exits).
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&temp_state_dir("cli")))
}

/// A fresh empty directory outside the repository, so no `.dev.vars` above it is found.
fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("fota-cli-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
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
        Command::new(fota_bin())
            .args(args)
            .env("FOTA_URL", &self.url)
            .env("FOTA_TOKEN", TOKEN)
            .env("FOTA_PROJECT", &self.project)
            .env("HOME", &self.home)
            .env_remove("FOTA_PROFILE")
            .env_remove("XDG_CONFIG_HOME")
            .current_dir(&self.home)
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

    // The fleet checked in before the release (no plan yet: nothing to offer), so the rollout
    // counts its devices as trusted, in `totals`.
    let ids: Vec<String> = (0..5).map(imei).collect();
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
