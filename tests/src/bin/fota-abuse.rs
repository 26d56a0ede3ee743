//! The abuse run of issue 15 against a running edge (`make dev`) and, when it answers, its UDP
//! bridge (`make udp`): each attack as an outsider who knows a project key and some IMEIs would
//! try it, and what the edge then answered and recorded. Prints a line per finding; exits 1 when
//! an attack got what it wanted.
//!
//! usage: fota-abuse PORT [UDP_ADDR]     (the admin token from .dev.vars, or FOTA_TOKEN)

use fota_tests::{image, RawResponse, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

const FW: &str = "abuse_LuatOS-SoC_Air780EHV";
const FW_724: &str = "abuse_Luat_RDA8910";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

struct Run {
    server: Server,
    token: String,
    project: String,
    failures: u32,
}

impl Run {
    fn admin(&self, method: &str, path: &str, body: &[u8]) -> RawResponse {
        self.server
            .admin_as(Some(&self.token), method, path, body, &[])
    }

    fn check(&self, fw: &str, id: &str, version: &str, extra: &str) -> RawResponse {
        let p = &self.project;
        let req = format!(
            "GET /api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={fw}&version={version}{extra} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.server.host()
        );
        self.server.request(req.as_bytes())
    }

    /// A check whose answer is read up to its headers and dropped: an offer without a download.
    fn check_headers_only(&self, id: &str, version: &str) -> String {
        let p = &self.project;
        let mut s = TcpStream::connect(self.server.host()).expect("connect");
        let req = format!(
            "GET /api/site/firmware_upgrade?imei={id}&project_key={p}&firmware_name={FW}&version={version} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.server.host()
        );
        s.write_all(req.as_bytes()).expect("write");
        let mut head = [0u8; 64];
        let n = s.read(&mut head).unwrap_or(0);
        String::from_utf8_lossy(&head[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    fn status(&self, fw: &str) -> Value {
        self.admin(
            "GET",
            &format!("/projects/{}/plans/{fw}/status", self.project),
            b"",
        )
        .json()
    }

    fn device(&self, id: &str) -> Value {
        self.admin(
            "GET",
            &format!("/projects/{}/devices/{id}", self.project),
            b"",
        )
        .json()
    }

    fn finding(&mut self, attack: &str, got: String, held: bool) {
        println!("{} {attack}: {got}", if held { "held " } else { "BROKEN" });
        if !held {
            self.failures += 1;
        }
    }
}

fn answer(r: &RawResponse) -> String {
    match r.status {
        200 | 206 | 302 => r.status.to_string(),
        s => format!(
            "{s}/{}",
            serde_json::from_slice::<Value>(&r.body).map_or("?".into(), |v| v["code"].to_string())
        ),
    }
}

fn setup(run: &Run, registered: &[String], bound: &[String]) {
    let p = &run.project;
    run.admin("PUT", &format!("/projects/{p}"), br#"{"name":"abuse run"}"#)
        .expect_status(200);
    // 1.5 MB: past what the socket buffers take in at once, so an answer read only to its
    // headers is an abandoned download. (An image small enough to fit in those buffers is
    // delivered as far as the edge can tell; README's threat model lists that residual risk.)
    let img = image(4242, 1_500_000);
    for fw in [FW, FW_724] {
        run.admin(
            "PUT",
            &format!("/projects/{p}/firmware/{fw}/{TARGET}"),
            &img,
        )
        .expect_one_of(&[200, 201]);
    }
    run.server.register_luat_as(&run.token, p, registered);
    for id in bound {
        run.check(FW, id, FROM, "");
    }
    let plan = json!({ "target_version": TARGET, "rollout": { "stages": [100] } });
    for fw in [FW, FW_724] {
        run.admin(
            "PUT",
            &format!("/projects/{p}/plans/{fw}"),
            plan.to_string().as_bytes(),
        )
        .expect_status(200);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(port) = args.first().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: fota-abuse PORT [UDP_ADDR]");
        std::process::exit(2);
    };
    let token = std::env::var("FOTA_TOKEN").ok().unwrap_or_else(|| {
        std::fs::read_to_string(".dev.vars")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("ADMIN_TOKEN=").map(str::to_string))
            .expect("FOTA_TOKEN or ADMIN_TOKEN in .dev.vars")
    });
    let stamp = fota_tests::now_ms() % 1_000_000;
    let mut run = Run {
        server: Server::attach(port),
        token,
        project: format!("abuse-{stamp}"),
        failures: 0,
    };
    let ids = |base: u64, n: u64| -> Vec<String> {
        (0..n)
            .map(|i| format!("{}", 866_000_000_000_000 + stamp as u64 * 1000 + base + i))
            .collect()
    };
    let victims = ids(0, 3);
    let made_up = ids(100, 50);
    setup(&run, &victims, &made_up);

    // 1. Forged success: an offer without a download, then a check at the target.
    let offered = run.check_headers_only(&victims[0], FROM);
    let report = answer(&run.check(FW, &victims[0], TARGET, ""));
    std::thread::sleep(Duration::from_secs(2));
    let s = run.status(FW);
    run.finding(
        "forged success (headers of the image only, then version=target)",
        format!(
            "offer {offered:?}, report {report}; totals.succeeded {}, reported_without_delivery {}",
            s["totals"]["succeeded"], s["totals"]["reported_without_delivery"]
        ),
        s["totals"]["succeeded"] == 0,
    );

    // 2. Ids made up and bound before the rollout: served, counted apart, moving no gate.
    let served = made_up
        .iter()
        .filter(|id| run.check(FW, id, FROM, "").status == 200)
        .count();
    let s = run.status(FW);
    run.finding(
        "50 made-up ids bound before the rollout",
        format!(
            "{served} served; unverified.offered {}, totals.offered {}, trust {}",
            s["unverified"]["offered"], s["totals"]["offered"], s["trust"]
        ),
        s["totals"]["offered"].as_u64().unwrap_or(99) <= 1,
    );

    // 3. Redirects without fetching: seven 302s for a registered device.
    let answers: Vec<String> = (0..7)
        .map(|_| {
            answer(&run.check(
                FW_724,
                &victims[1],
                FROM,
                "&core_version=V2.4.4&dfota=1&need_oss_url=1",
            ))
        })
        .collect();
    let d = run.device(&victims[1]);
    run.finding(
        "seven 302s without fetching the image",
        format!(
            "answers {answers:?}; device banned {}, deliveries {}",
            d["banned"], d["deliveries"]
        ),
        d["banned"] == false,
    );

    // 4. Stale owner: the operator moves a device away; its old project's key no longer serves it.
    let other = format!("{}-b", run.project);
    run.admin(
        "PUT",
        &format!("/projects/{other}"),
        br#"{"name":"abuse run b"}"#,
    );
    let moved = run
        .admin(
            "POST",
            &format!("/projects/{}/devices/{}/move", run.project, victims[2]),
            json!({ "project": other }).to_string().as_bytes(),
        )
        .status;
    let after = answer(&run.check(FW, &victims[2], FROM, ""));
    run.finding(
        "a moved device checked with its old project's key",
        format!("move {moved}, then {after} (other isolates: within 60 s, OWNER_MEMORY_S)"),
        after == "403/25",
    );

    // 5. UDP session theft: another socket asks for a session's packages.
    if let Some(udp) = args.get(1) {
        udp_theft(&mut run, udp);
    }
    println!("abuse run: {} broken", run.failures);
    std::process::exit(i32::from(run.failures > 0));
}

fn udp_theft(run: &mut Run, addr: &str) {
    let device = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let thief = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for s in [&device, &thief] {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
    }
    let mut buf = [0u8; 2048];
    device
        .send_to(b"862419074072389,fotademo,2018.1.3", addr)
        .expect("send");
    let Ok(n) = device.recv(&mut buf) else {
        run.finding("UDP session theft", format!("no answer from {addr}"), true);
        return;
    };
    let start = String::from_utf8_lossy(&buf[..n]).to_string();
    let Some(id) = start.split(',').nth(1) else {
        run.finding(
            "UDP session theft",
            format!("start answered {start:?}"),
            true,
        );
        return;
    };
    thief
        .send_to(format!("Get1,{id}").as_bytes(), addr)
        .expect("send");
    let stolen = thief
        .recv(&mut buf)
        .map(|n| String::from_utf8_lossy(&buf[..n.min(16)]).to_string())
        .unwrap_or_else(|e| format!("nothing ({e})"));
    device
        .send_to(format!("Get1,{id}").as_bytes(), addr)
        .expect("send");
    let own = device.recv(&mut buf).map_or(0, |n| n);
    run.finding(
        "UDP session theft (Get1,<id> from another port)",
        format!("start {start:?}; the thief got {stolen:?}; the device got {own} bytes"),
        stolen == "error all",
    );
}
