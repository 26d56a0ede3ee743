//! The integration-test harness: starts `wrangler dev` (the production runtime, workerd, with KV,
//! R2 and D1 on disk) on a free loopback port and speaks raw HTTP/1.1 to it, byte for byte as
//! each device client does, so header case, `Content-Length` and framing are checked as sent.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The admin token test servers run with (the edge refuses one shorter than 32 characters).
pub const TOKEN: &str = "test-admin-token-0123456789abcdef";
/// The module-OTA master key test servers run with (`DEVICE_MASTER_KEYS`), version 1.
pub const MASTER_KEYS: &str = "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// The upload limit test servers run with, small so the 413 test stays cheap.
pub const TEST_MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// No test server lives longer than this, whatever happens to the test process.
const MAX_SERVER_SECONDS: u32 = 1800;

/// Now, in ms since the epoch (the edge's clock on this machine).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh, empty directory under target/ for one server's KV, R2 and D1 state.
pub fn temp_state_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = repo_root()
        .join("target")
        .join("it-state")
        .join(format!("{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("state dir");
    dir
}

/// One running `wrangler dev`.
pub struct Server {
    pub port: u16,
    pub state: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts `scripts/serve.sh` on a free port with `state` as its storage, and waits until
    /// `/healthz` answers (at most 120 s).
    pub fn start(state: &Path) -> Server {
        Server::start_with(state, &[])
    }

    /// The same with extra Worker vars (`NAME`, `value`), e.g. `EXPOSE_METRICS` or a small
    /// `HISTORY_KEEP`; they come after the defaults below, so they override them.
    pub fn start_with(state: &Path, vars: &[(&str, &str)]) -> Server {
        let root = repo_root();
        let shim = root.join("edge/build/worker/shim.mjs");
        assert!(
            shim.exists(),
            "{} is missing: run `make build` (or `make test`) first",
            shim.display()
        );
        let port = free_port();
        let inspector = free_port();
        let log = std::fs::File::create(state.join("wrangler.log")).expect("log file");
        let child = Command::new(root.join("scripts/serve.sh"))
            .arg(port.to_string())
            .arg(state)
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--var", &format!("ADMIN_TOKEN:{TOKEN}")])
            .args(["--var", &format!("MAX_IMAGE_BYTES:{TEST_MAX_IMAGE_BYTES}")])
            .args(["--var", &format!("DEVICE_MASTER_KEYS:{MASTER_KEYS}")])
            // Image answers then say which copy served them and how many R2 reads the image cost.
            .args(["--var", "DEBUG_COUNTERS:1"])
            // Ban tests download a target six times in a row; the window has its own test.
            .args(["--var", "DELIVERY_WINDOW_S:0"])
            // The burst test binds 2,000 new ids in well under a minute; the cap has its own test.
            .args(["--var", "NEW_DEVICES_PER_MINUTE:1000000"])
            // Image tests fetch `/images/` directly; signed redirects have their own test.
            .args(["--var", "PUBLIC_IMAGES:true"])
            .args(
                vars.iter()
                    .flat_map(|(k, v)| ["--var".to_string(), format!("{k}:{v}")]),
            )
            // `GET /__scheduled` runs the cron handler, which wrangler dev never fires by itself.
            .arg("--test-scheduled")
            .env("MAX_SECONDS", MAX_SERVER_SECONDS.to_string())
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("scripts/serve.sh starts");
        let mut server = Server {
            port,
            state: state.to_path_buf(),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(resp) = server.try_request(
                format!(
                    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            ) {
                if resp.status == 200 {
                    return server;
                }
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "wrangler dev exited ({status}); see {}",
                    state.join("wrangler.log").display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "wrangler dev did not answer within 120 s; see {}",
                state.join("wrangler.log").display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the server (serve.sh stops wrangler and workerd on SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            // workerd may hold the port a moment longer.
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs the scheduled (cron) handler once, as Cloudflare does every minute, and waits for it.
    pub fn run_scheduled(&self) {
        let resp = self.request(
            format!(
                "GET /__scheduled?cron=*+*+*+*+* HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.host()
            )
            .as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "/__scheduled: {}",
            String::from_utf8_lossy(&resp.body)
        );
    }

    /// Runs SQL on this server's local D1 directly (`wrangler d1 execute --local`), for seeding
    /// what the API cannot write (old timestamps) and reading tables it does not show. Returns
    /// the rows of the last statement.
    pub fn d1(&self, sql: &str) -> Vec<serde_json::Value> {
        // `wrangler d1 execute` opens the database beside the running workerd; once in a while
        // it fails with an internal error right after the server wrote. A read is safe to try
        // again; a write is not (it may have landed), so it fails at once.
        let read_only = sql.trim_start().to_ascii_uppercase().starts_with("SELECT");
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_d1(sql) {
                Ok(rows) => return rows,
                Err(e) if read_only && attempt < 3 => {
                    eprintln!("d1 read failed (attempt {attempt}), again: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn try_d1(&self, sql: &str) -> Result<Vec<serde_json::Value>, String> {
        let root = repo_root();
        let out = Command::new(root.join("node_modules/.bin/wrangler"))
            .args(["d1", "execute", "DB", "--local", "--json", "--persist-to"])
            .arg(&self.state)
            .args(["--command", sql])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("CI", "true")
            .env("WRANGLER_LOG_PATH", self.state.join("logs"))
            .current_dir(&root)
            .stdin(Stdio::null())
            .output()
            .expect("wrangler d1 execute runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "wrangler d1 execute failed: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let results: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("d1 execute output is not JSON ({e}): {text}"))?;
        Ok(results
            .as_array()
            .and_then(|r| r.last())
            .and_then(|r| r["results"].as_array())
            .cloned()
            .unwrap_or_default())
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Writes one key of this server's local KV directly (`wrangler kv key put --local`), as
    /// another isolate's write lands in it, past this isolate's memory.
    pub fn kv_put(&self, key: &str, value: &str) {
        let root = repo_root();
        let out = Command::new(root.join("node_modules/.bin/wrangler"))
            .args([
                "kv",
                "key",
                "put",
                key,
                value,
                "--binding",
                "FOTA_KV",
                "--local",
            ])
            .arg("--persist-to")
            .arg(&self.state)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("CI", "true")
            .env("WRANGLER_LOG_PATH", self.state.join("logs"))
            .current_dir(&root)
            .stdin(Stdio::null())
            .output()
            .expect("wrangler kv key put runs");
        assert!(
            out.status.success(),
            "wrangler kv key put failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends `bytes` as they are and reads one response.
    pub fn request(&self, bytes: &[u8]) -> RawResponse {
        self.try_request(bytes).unwrap_or_else(|e| {
            panic!(
                "request to {} failed: {e}\n{}",
                self.host(),
                String::from_utf8_lossy(bytes)
            )
        })
    }

    /// A server this process did not start (a bench's), on `port`.
    pub fn attach(port: u16) -> Server {
        Server {
            port,
            state: PathBuf::new(),
            child: None,
        }
    }

    /// One Luat check of `firmware` by `id` running `version`, on its own TCP connection as a
    /// device makes it; the answer as `200`, `status/code` or `error: <kind>` (the benches tally
    /// these).
    pub fn luat_answer(&self, project: &str, firmware: &str, version: &str, id: &str) -> String {
        let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={firmware}&version={version}");
        let req = format!(
            "GET {url} HTTP/1.1\r\nConnection: Close\r\nHost: {}\r\n\r\n",
            self.host()
        );
        match self.try_request(req.as_bytes()) {
            Ok(resp) if resp.status == 200 => "200".to_string(),
            Ok(resp) => {
                let code = serde_json::from_slice::<serde_json::Value>(&resp.body)
                    .map(|v| v["code"].to_string())
                    .unwrap_or_else(|_| "?".to_string());
                format!("{}/{code}", resp.status)
            }
            Err(e) => format!("error: {:?}", e.kind()),
        }
    }

    pub fn try_request(&self, bytes: &[u8]) -> std::io::Result<RawResponse> {
        self.try_request_within(bytes, Duration::from_secs(60))
    }

    /// `try_request`, giving up when a read or write waits longer than `timeout`.
    pub fn try_request_within(
        &self,
        bytes: &[u8],
        timeout: Duration,
    ) -> std::io::Result<RawResponse> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(bytes)?;
        RawResponse::read(&mut stream)
    }

    /// An admin API call with the test token (or `token`), `Connection: close`.
    pub fn admin_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> RawResponse {
        // MF-Disable-Pretty-Error: miniflare then passes an uncaught exception's stack through as
        // the 500 body instead of rendering its error page (which hides it when the request had a body).
        let mut head = format!(
            "{method} /admin/v1{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\nMF-Disable-Pretty-Error: 1\r\n",
            self.host(),
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.request(&bytes)
    }

    pub fn admin(&self, method: &str, path: &str, body: &[u8]) -> RawResponse {
        self.admin_as(Some(TOKEN), method, path, body, &[])
    }

    /// Creates a project, uploads `image` as `firmware`/`version` and plans it with `plan` (a
    /// JSON object to which `target_version` is added). Panics on any refusal.
    pub fn setup(
        &self,
        project: &str,
        ban_after: Option<u32>,
        firmware: &str,
        version: &str,
        image: &[u8],
        plan: serde_json::Value,
    ) {
        self.setup_known(project, ban_after, firmware, version, image, plan, &[], "")
    }

    /// `setup` for a fleet the operator registered and that checked in before the release, as a
    /// real one has: each of `known` is registered as a Luat device (so the rollout trusts it),
    /// then makes one Luat check (running `from`) after the project exists and before the plan
    /// does. Ids that are not registered are counted apart (`unverified`) and move no gate.
    #[allow(clippy::too_many_arguments)]
    pub fn setup_known(
        &self,
        project: &str,
        ban_after: Option<u32>,
        firmware: &str,
        version: &str,
        image: &[u8],
        plan: serde_json::Value,
        known: &[String],
        from: &str,
    ) {
        let mut spec = serde_json::json!({ "name": format!("project {project}") });
        if let Some(b) = ban_after {
            spec["ban_after"] = b.into();
        }
        self.admin(
            "PUT",
            &format!("/projects/{project}"),
            spec.to_string().as_bytes(),
        )
        .expect_status(200);
        self.register_luat(project, known);
        self.bind_fleet(project, firmware, from, known);
        self.admin(
            "PUT",
            &format!("/projects/{project}/firmware/{firmware}/{version}"),
            image,
        )
        .expect_one_of(&[200, 201]);
        let mut plan = plan;
        plan["target_version"] = version.into();
        self.admin(
            "PUT",
            &format!("/projects/{project}/plans/{firmware}"),
            plan.to_string().as_bytes(),
        )
        .expect_status(200);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server shared by the tests of one test binary. It is never dropped; serve.sh stops it
/// when the test process exits.
pub fn shared_server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(&temp_state_dir("shared")))
}

impl Server {
    /// Registers `ids` as Luat devices of `project` (1,000 per call), so rollouts trust them.
    pub fn register_luat(&self, project: &str, ids: &[String]) {
        self.register_luat_as(TOKEN, project, ids)
    }

    /// `register_luat` with an admin token of the caller's (a bench's edge).
    pub fn register_luat_as(&self, token: &str, project: &str, ids: &[String]) {
        for chunk in ids.chunks(1000) {
            let body = serde_json::json!({ "devices": chunk, "protocol": "luat" });
            self.admin_as(
                Some(token),
                "POST",
                &format!("/projects/{project}/devices"),
                body.to_string().as_bytes(),
                &[],
            )
            .expect_one_of(&[200, 201]);
        }
    }

    /// Binds each of `ids` to `project` with one Luat check (8 at a time); a first check's
    /// binding is in D1 before its answer.
    pub fn bind_fleet(&self, project: &str, firmware: &str, version: &str, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        at_once(ids, 8, |id| {
            let target = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={firmware}&version={version}");
            let resp = self.request(
                format!(
                    "GET {target} HTTP/1.1\r\nConnection: close\r\nHost: {}\r\n\r\n",
                    self.host()
                )
                .as_bytes(),
            );
            assert!(resp.status < 500, "binding {id}: status {}", resp.status);
        });
    }
}

/// Runs `work` for every item, `clients` at a time (client `w` takes items `w`, `w + clients`, ...,
/// as devices checking at once do), and returns the results in `items` order. A panic in any
/// client is raised again here.
pub fn at_once<T: Sync, R: Send>(
    items: &[T],
    clients: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let work = &work;
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients.max(1))
            .map(|w| {
                scope.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(w)
                        .step_by(clients.max(1))
                        .map(|(i, item)| (i, work(item)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            for (i, r) in worker
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
            {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// One HTTP response as it came off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header names exactly as sent (case preserved) with their values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl RawResponse {
    fn read(stream: &mut TcpStream) -> std::io::Result<RawResponse> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before headers",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        let mut body = buf[head_end + 4..].to_vec();
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let chunked =
            find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        match find("content-length").and_then(|l| l.parse::<usize>().ok()) {
            Some(len) if !chunked => {
                while body.len() < len {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            }
            _ if status == 204 || status == 304 => {}
            _ => loop {
                // No length: read to the end (the tests only do this with Connection: close).
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            },
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            chunked,
        })
    }

    /// A header by its exact, case-sensitive name, as `update.lua` matches them.
    pub fn header_exact(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header by name, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    #[track_caller]
    pub fn expect_one_of(&self, statuses: &[u16]) -> &Self {
        assert!(
            statuses.contains(&self.status),
            "status {} not in {statuses:?}; body: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts a device-facing refusal: the status, `{"code":N,...}`, and a fixed-length body.
    #[track_caller]
    pub fn expect_refusal(&self, status: u16, code: u64) -> &Self {
        self.expect_status(status);
        assert_eq!(
            self.json()["code"],
            code,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.header_exact("Content-Length").is_some(),
            "refusal without Content-Length: {:?}",
            self.headers
        );
        self
    }

    /// Asserts that the body is exactly `image`, framed by a `Content-Length` (never chunked).
    #[track_caller]
    pub fn expect_image(&self, status: u16, image: &[u8]) -> &Self {
        self.expect_status(status);
        assert!(!self.chunked, "image sent chunked: {:?}", self.headers);
        assert_eq!(
            self.header_exact("Content-Length"),
            Some(image.len().to_string().as_str()),
            "headers: {:?}",
            self.headers
        );
        assert!(
            self.body == image,
            "body differs from the image ({} vs {} bytes)",
            self.body.len(),
            image.len()
        );
        self
    }
}

/// Deterministic test image bytes: `len` bytes from `seed`.
pub fn image(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

/// `target/debug/fota`, built on first use. Cargo gives one test binary no path to another
/// package's binary, so the test builds it; the build is a no-op when it is up to date.
pub fn fota_bin() -> &'static Path {
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

/// A fresh empty directory outside the repository, so no `.dev.vars` above it is found.
pub fn scratch(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("fota-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `fota` with its connection in the environment (`FOTA_URL`, `FOTA_TOKEN`, `FOTA_PROJECT`)
/// and `home` as its home and working directory, so no operator config is read.
pub fn fota_command(url: &str, project: &str, home: &Path) -> Command {
    let mut command = Command::new(fota_bin());
    command
        .env("FOTA_URL", url)
        .env("FOTA_TOKEN", TOKEN)
        .env("FOTA_PROJECT", project)
        .env("HOME", home)
        .env_remove("FOTA_PROFILE")
        .env_remove("XDG_CONFIG_HOME")
        .current_dir(home);
    command
}
