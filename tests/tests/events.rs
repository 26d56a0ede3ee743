//! Operators are told: events, signed webhooks and the live feed against a real `wrangler dev`,
//! with a real HTTP receiver on loopback (the edge runs with `ALLOW_PRIVATE_WEBHOOKS=true` and a
//! short `WEBHOOK_BACKOFF_MS`, so retries take seconds, not minutes). Per-device cancel, as a
//! Luat device and its signed download live it.
//!
//! The receiver records every request as it came (arrival time, headers, body) and answers as
//! told: fail the first N, then succeed. It stops by itself after [`RECEIVER_SECONDS`].

use fota_shared::api::events::{DeliveryList, EventPage, WebhookSaved};
use fota_shared::rules::webhook::verify;
use fota_tests::{fota_command, image, scratch, temp_state_dir, RawResponse, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The first retry's wait: attempts come after 1, 2, 4 times it.
const BACKOFF_MS: u64 = 400;
/// A failing webhook is disabled after this long (the first test's three failures take under 3 s).
const RETRY_FOR_S: &str = "10";
/// A receiver accepts for at most this long.
const RECEIVER_SECONDS: u64 = 120;
const FW: &str = "ev_LuatOS-SoC_Air780E";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    let backoff = BACKOFF_MS.to_string();
    SERVER.get_or_init(|| {
        Server::start_with(
            &temp_state_dir("events"),
            &[
                ("ALLOW_PRIVATE_WEBHOOKS", "true"),
                ("WEBHOOK_BACKOFF_MS", backoff.as_str()),
                ("WEBHOOK_RETRY_FOR_S", RETRY_FOR_S),
            ],
        )
    })
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a delivery's body is JSON")
    }
}

/// A loopback HTTP receiver that fails its first `fail_first` requests with 500.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().unwrap().port();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let record = got.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(RECEIVER_SECONDS);
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let n = record.lock().unwrap().len();
                        let status = if n < fail_first { 500 } else { 200 };
                        if let Some(r) = serve_one(stream, status) {
                            record.lock().unwrap().push(r);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Waits (at most 60 s) until `done` holds for what arrived; returns it.
    fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.got.lock().unwrap().clone();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver never got {what}; it got {:#?}",
                got.iter()
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reads one HTTP request (headers, then `Content-Length` bytes) and answers `status`.
fn serve_one(mut stream: TcpStream, status: u16) -> Option<Received> {
    let at = Instant::now();
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    stream.write_all(reply.as_bytes()).ok()?;
    Some(Received {
        at,
        headers,
        body,
        answered: status,
    })
}

fn parse<T: serde::de::DeserializeOwned>(resp: &RawResponse) -> T {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )
    })
}

fn put_project(server: &Server, project: &str, ban_after: Option<u32>) {
    let mut spec = json!({ "name": format!("project {project}") });
    if let Some(b) = ban_after {
        spec["ban_after"] = b.into();
    }
    server
        .admin(
            "PUT",
            &format!("/projects/{project}"),
            spec.to_string().as_bytes(),
        )
        .expect_status(200);
}

fn add_webhook(server: &Server, project: &str, name: &str, url: &str, events: &[&str]) -> String {
    let body = json!({ "url": url, "events": events }).to_string();
    let resp = server.admin(
        "PUT",
        &format!("/projects/{project}/webhooks/{name}"),
        body.as_bytes(),
    );
    resp.expect_status(201);
    let saved: WebhookSaved = parse(&resp);
    saved.secret.expect("a new webhook's secret is shown once")
}

fn upload(server: &Server, project: &str, version: &str, img: &[u8]) {
    server
        .admin(
            "PUT",
            &format!("/projects/{project}/firmware/{FW}/{version}"),
            img,
        )
        .expect_one_of(&[200, 201]);
}

fn plan(server: &Server, project: &str, plan: Value) {
    let mut plan = plan;
    plan["target_version"] = TARGET.into();
    server
        .admin(
            "PUT",
            &format!("/projects/{project}/plans/{FW}"),
            plan.to_string().as_bytes(),
        )
        .expect_status(200);
}

fn luat_check(server: &Server, project: &str, id: &str, version: &str) -> RawResponse {
    let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}");
    server.request(
        format!(
            "GET {url} HTTP/1.1\r\nConnection: Close\r\nHost: {}\r\n\r\n",
            server.host()
        )
        .as_bytes(),
    )
}

fn events_after(server: &Server, project: &str, after: u64, wait: u32) -> EventPage {
    let resp = server.admin(
        "GET",
        &format!("/projects/{project}/events?after={after}&wait={wait}"),
        b"",
    );
    resp.expect_status(200);
    parse(&resp)
}

fn types(events: &[Received]) -> Vec<String> {
    events
        .iter()
        .map(|r| r.header("X-Fota-Event").unwrap_or("?").to_string())
        .collect()
}

/// A receiver that fails three times then succeeds gets the event on the fourth attempt, each
/// retry after a longer wait than the one before (the backoff doubles), signed each time, and
/// the next event only after it: in order.
#[test]
fn a_failing_receiver_gets_each_event_in_order_after_retries_with_growing_delays() {
    let server = server();
    let p = "ev-retry";
    put_project(server, p, None);
    let receiver = Receiver::start(3);
    let secret = add_webhook(
        server,
        p,
        "ops",
        &receiver.url(),
        &["image.uploaded", "plan.changed"],
    );
    upload(server, p, TARGET, &image(9101, 2000));
    plan(server, p, json!({}));

    let got = receiver.wait_for("two events after three failures", |got| {
        got.iter().filter(|r| r.answered == 200).count() >= 2
    });
    assert_eq!(
        types(&got[..5]),
        [
            "image.uploaded",
            "image.uploaded",
            "image.uploaded",
            "image.uploaded",
            "plan.changed"
        ],
        "the first event is retried until taken, and only then the next"
    );
    let statuses: Vec<u16> = got[..5].iter().map(|r| r.answered).collect();
    assert_eq!(statuses, [500, 500, 500, 200, 200]);
    // Every attempt is signed with the webhook's secret over exactly the body it carries.
    let now_s = fota_tests::now_ms() / 1000;
    for r in &got {
        let sig = r.header("X-Fota-Signature").expect("signed");
        assert!(verify(&secret, sig, &r.body, now_s), "bad signature {sig}");
        assert!(!verify("whsec_other", sig, &r.body, now_s));
        assert!(r.header("X-Fota-Delivery").is_some());
        let event = r.json();
        assert_eq!(event["project_key"], p);
        assert_eq!(event["type"], r.header("X-Fota-Event").unwrap());
    }
    // The same event each time, with the waits growing: each gap is at least the backoff the
    // edge scheduled (base, 2 x base, 4 x base), which doubles.
    let ids: Vec<Value> = got[..4].iter().map(|r| r.json()["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let gaps: Vec<u128> = got[..4]
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    for (i, gap) in gaps.iter().enumerate() {
        let scheduled = u128::from(BACKOFF_MS) << i;
        assert!(
            *gap + 50 >= scheduled,
            "retry {} came after {gap} ms, before its {scheduled} ms backoff (gaps {gaps:?})",
            i + 1
        );
    }

    // The deliveries are readable: newest first, attempts counted, statuses and errors kept.
    let resp = server.admin(
        "GET",
        &format!("/projects/{p}/webhooks/ops/deliveries"),
        b"",
    );
    resp.expect_status(200);
    let list: DeliveryList = parse(&resp);
    let mut oldest_first = list.deliveries.clone();
    oldest_first.reverse();
    let seen: Vec<(u32, Option<u16>, bool)> = oldest_first
        .iter()
        .take(5)
        .map(|d| (d.attempt, d.status, d.ok))
        .collect();
    assert_eq!(
        seen,
        [
            (1, Some(500), false),
            (2, Some(500), false),
            (3, Some(500), false),
            (4, Some(200), true),
            (1, Some(200), true)
        ]
    );
    // Any delivery can be sent again.
    let first = oldest_first[0].id;
    server
        .admin(
            "POST",
            &format!("/projects/{p}/webhooks/ops/deliveries/{first}/redeliver"),
            b"",
        )
        .expect_status(202);
    let got = receiver.wait_for("the redelivery", |got| got.len() >= 6);
    assert_eq!(got[5].json()["id"], ids[0], "the first event again");
}

/// A rollout paused by its gate (a test device that signs nothing was banned) is told at once:
/// `rollout.paused` with the reason reaches the receiver, a waiting long poll of the feed, and
/// `fota events --follow`.
#[test]
fn a_gate_pause_reaches_the_receiver_the_feed_and_the_follower() {
    let server = server();
    let p = "ev-gate";
    put_project(server, p, Some(2));
    let receiver = Receiver::start(0);
    let secret = add_webhook(server, p, "pager", &receiver.url(), &["rollout.*"]);
    upload(server, p, TARGET, &image(9102, 1500));
    let tester = "860000000910201";
    plan(
        server,
        p,
        json!({ "rollout": { "verify_devices": [tester], "stages": [100] } }),
    );
    let latest = events_after(server, p, 0, 0).latest;

    // A follower and a long poll wait before the gate trips.
    let home = scratch("ev-follow");
    let mut follower = fota_command(&format!("http://{}", server.host()), p, &home)
        .args(["events", "--follow", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fota events --follow starts");
    let mut ready = BufReader::new(follower.stderr.take().unwrap());
    let mut line = String::new();
    ready
        .read_line(&mut line)
        .expect("the follower says where it starts");
    assert!(line.contains("following"), "{line}");
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let into = lines.clone();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });

    std::thread::scope(|scope| {
        let poll = scope.spawn(|| {
            let started = Instant::now();
            let page = events_after(server, p, latest, 25);
            (started.elapsed(), page)
        });
        // The test device downloads the target and never reports it: banned at 2 deliveries.
        let mut banned = false;
        for _ in 0..6 {
            let resp = luat_check(server, p, tester, FROM);
            if resp.status == 403 {
                resp.expect_refusal(403, 62);
                banned = true;
                break;
            }
            assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        }
        assert!(banned, "the test device was never banned");
        let (_, page) = poll.join().unwrap();
        assert!(
            !page.events.is_empty(),
            "the long poll came back empty instead of with the events"
        );
        assert!(page.events.iter().all(|e| e.id > latest));
    });

    let got = receiver.wait_for("rollout.paused", |got| {
        types(got).iter().any(|t| t == "rollout.paused")
    });
    let paused = got
        .iter()
        .find(|r| r.header("X-Fota-Event") == Some("rollout.paused"))
        .unwrap();
    let now_s = fota_tests::now_ms() / 1000;
    assert!(verify(
        &secret,
        paused.header("X-Fota-Signature").unwrap(),
        &paused.body,
        now_s
    ));
    let event = paused.json();
    assert_eq!(event["data"]["by"], "gate", "{event}");
    assert_eq!(event["data"]["firmware_name"], FW);
    let reason = event["data"]["reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "no reason in {event}");
    assert!(
        !types(&got).iter().any(|t| t == "device.banned"),
        "the webhook asked for rollout.* only"
    );

    // The feed holds it (and the ban before it), in order.
    let page = events_after(server, p, latest, 0);
    let kinds: Vec<&str> = page.events.iter().map(|e| e.event_type.as_str()).collect();
    let ban = kinds.iter().position(|t| *t == "device.banned");
    let pause = kinds.iter().position(|t| *t == "rollout.paused");
    assert!(ban.is_some() && ban < pause, "{kinds:?}");

    // The follower printed it, one JSON object a line.
    let deadline = Instant::now() + Duration::from_secs(60);
    let printed = loop {
        let seen = lines.lock().unwrap().clone();
        if let Some(l) = seen.iter().find(|l| l.contains("rollout.paused")) {
            break l.clone();
        }
        if Instant::now() > deadline {
            let _ = follower.kill();
            panic!("fota events --follow never printed rollout.paused: {seen:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = follower.kill();
    let _ = follower.wait();
    let printed: Value = serde_json::from_str(&printed).expect("one JSON event a line");
    assert_eq!(printed["data"]["reason"], reason);
}

/// Cancel leaves a Luat device out of the plan (code 61, and the signed URL it was handed is
/// refused), audited and evented; uncancel lets it back in.
#[test]
fn a_cancelled_luat_device_hears_61_until_uncancelled() {
    let server = server();
    let p = "ev-cancel";
    put_project(server, p, None);
    let img = image(9103, 1200);
    upload(server, p, TARGET, &img);
    let id = "860000000910301";
    let other = "860000000910302";
    // Listed, so the rollout trusts them and counts them in its totals.
    plan(
        server,
        p,
        json!({ "devices": [id, other], "rollout": { "stages": [100] } }),
    );
    luat_check(server, p, id, FROM).expect_image(200, &img);
    luat_check(server, p, other, FROM).expect_image(200, &img);

    let totals = || {
        let status = server.admin("GET", &format!("/projects/{p}/plans/{FW}/status"), b"");
        status.expect_status(200);
        let t = &status.json()["totals"];
        (
            t["offered"].as_u64().unwrap(),
            t["pending"].as_u64().unwrap(),
        )
    };
    assert_eq!(totals(), (2, 2));

    let resp = server.admin("POST", &format!("/projects/{p}/devices/{id}/cancel"), b"");
    resp.expect_status(200);
    let result: Value = parse(&resp);
    // Its offered job went back to idle: it can no longer time out into a failure.
    assert_eq!(totals(), (1, 1));
    assert_eq!(result["firmware_names"], json!([FW]), "{result}");
    luat_check(server, p, id, FROM).expect_refusal(404, 61);
    luat_check(server, p, other, FROM).expect_image(200, &img);
    // Cancelling again changes nothing.
    let again: Value = parse(&server.admin(
        "POST",
        &format!("/projects/{p}/devices/{id}/cancel"),
        br#"{"firmware_name":"ev_LuatOS-SoC_Air780E"}"#,
    ));
    assert_eq!(again["firmware_names"], json!([]));
    server
        .admin(
            "POST",
            &format!("/projects/{p}/devices/{id}/cancel"),
            br#"{"firmware_name":"no-such-plan"}"#,
        )
        .expect_status(404);
    server
        .admin(
            "POST",
            &format!("/projects/{p}/devices/86-nobody/cancel"),
            b"",
        )
        .expect_status(404);

    let audit = server.admin("GET", &format!("/audit?project={p}"), b"");
    assert!(
        String::from_utf8_lossy(&audit.body).contains("devices/{device_id}/cancel"),
        "the cancel is audited"
    );
    let page = events_after(server, p, 0, 0);
    let cancelled = page
        .events
        .iter()
        .find(|e| e.event_type.as_str() == "job.cancelled")
        .expect("job.cancelled in the feed");
    assert_eq!(cancelled.data["device_id"], id);

    server
        .admin("POST", &format!("/projects/{p}/devices/{id}/uncancel"), b"")
        .expect_status(200);
    luat_check(server, p, id, FROM).expect_image(200, &img);
    assert_eq!(totals(), (2, 2), "offered again, counted once");
    let page = events_after(server, p, cancelled.id, 0);
    assert!(page
        .events
        .iter()
        .any(|e| e.event_type.as_str() == "job.uncancelled"));
}

/// Webhooks are the admin's: refused bad input with stable codes, never show a secret after it
/// was given, rotate, and delete.
#[test]
fn webhooks_refuse_bad_input_hide_secrets_rotate_and_delete() {
    let server = server();
    let p = "ev-admin";
    put_project(server, p, None);
    let put = |name: &str, body: &str| {
        server.admin(
            "PUT",
            &format!("/projects/{p}/webhooks/{name}"),
            body.as_bytes(),
        )
    };
    put("a", r#"{"url":"ftp://x.example.com","events":["*"]}"#).expect_status(400);
    let bad = put(
        "a",
        r#"{"url":"https://x.example.com","events":["rollout.nope"]}"#,
    );
    bad.expect_status(400);
    assert_eq!(bad.json()["error"]["code"], "invalid_events");
    put("a", r#"{"url":"https://x.example.com","events":[]}"#).expect_status(400);
    put("a", r#"{"url":"https://x.example.com"}"#).expect_status(400);
    let created = put(
        "a",
        r#"{"url":"https://hooks.example.com/a","events":["rollout.*"]}"#,
    );
    created.expect_status(201);
    let secret = created.json()["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let changed = put(
        "a",
        r#"{"url":"https://hooks.example.com/b","events":["*"]}"#,
    );
    changed.expect_status(200);
    assert!(
        changed.json().get("secret").is_none(),
        "a change shows no secret"
    );
    let list = server.admin("GET", &format!("/projects/{p}/webhooks"), b"");
    list.expect_status(200);
    assert!(!String::from_utf8_lossy(&list.body).contains(&secret));
    assert_eq!(
        list.json()["webhooks"][0]["url"],
        "https://hooks.example.com/b"
    );
    let rotated = server.admin("POST", &format!("/projects/{p}/webhooks/a/rotate"), b"");
    rotated.expect_status(200);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    server
        .admin("DELETE", &format!("/projects/{p}/webhooks/a"), b"")
        .expect_status(204);
    server
        .admin("DELETE", &format!("/projects/{p}/webhooks/a"), b"")
        .expect_status(404);
    server
        .admin("GET", &format!("/projects/{p}/webhooks/a/deliveries"), b"")
        .expect_status(404);
    let bad_wait = server.admin("GET", &format!("/projects/{p}/events?wait=31"), b"");
    bad_wait.expect_status(400);
    assert_eq!(bad_wait.json()["error"]["code"], "invalid_wait");
}

/// An operator's controls are told with who moved the rollout; a new rollout starts with its
/// phase, and plan and image changes are told too.
#[test]
fn operator_controls_plan_and_image_changes_are_in_the_feed_in_order() {
    let server = server();
    let p = "ev-controls";
    put_project(server, p, None);
    upload(server, p, TARGET, &image(9104, 900));
    plan(server, p, json!({ "rollout": { "stages": [10, 100] } }));
    for action in ["pause", "resume", "advance"] {
        server
            .admin("POST", &format!("/projects/{p}/plans/{FW}/{action}"), b"")
            .expect_status(200);
    }
    let page = events_after(server, p, 0, 0);
    let seen: Vec<(&str, Option<&str>)> = page
        .events
        .iter()
        .map(|e| (e.event_type.as_str(), e.data["by"].as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("image.uploaded", None),
            ("plan.changed", None),
            ("rollout.running", Some("operator")),
            ("rollout.paused", Some("operator")),
            ("rollout.resumed", Some("operator")),
            ("rollout.stage_advanced", Some("operator")),
        ]
    );
    let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(page.events.iter().all(|e| e.project_key == p));
    assert_eq!(page.events[3].data["actor"], "bootstrap");
    assert_eq!(page.cursor, ids.last().unwrap().to_string());
    assert_eq!(page.latest, *ids.last().unwrap());
    // Nothing after the cursor: a poll without wait answers at once, empty, cursor unchanged.
    let none = events_after(server, p, page.latest, 0);
    assert!(none.events.is_empty());
    assert_eq!(none.cursor, page.cursor);
}

/// A receiver that never takes a delivery: the webhook shows as failing while it is retried,
/// then, past the retry window, is disabled with a `webhook.disabled` event of its own; saving it
/// again enables it and the event it was stuck on is delivered.
#[test]
fn a_webhook_failing_past_its_retry_window_is_disabled_with_an_event() {
    let server = server();
    let p = "ev-disable";
    put_project(server, p, None);
    // Fails far more often than the window allows, then takes everything.
    let receiver = Receiver::start(1_000);
    add_webhook(server, p, "dead", &receiver.url(), &["image.uploaded"]);
    upload(server, p, TARGET, &image(9105, 700));
    receiver.wait_for("a first attempt", |got| got.len() >= 2);
    let list = server.admin("GET", &format!("/projects/{p}/webhooks"), b"");
    assert_eq!(
        list.json()["webhooks"][0]["state"],
        "failing",
        "{}",
        list.json()
    );
    assert!(list.json()["webhooks"][0]["next_attempt_at"].is_string());
    let deadline = Instant::now() + Duration::from_secs(60);
    let disabled = loop {
        let page = events_after(server, p, 0, 5);
        if let Some(e) = page
            .events
            .iter()
            .find(|e| e.event_type.as_str() == "webhook.disabled")
        {
            break e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "never disabled: {:?}",
            page.events
        );
    };
    assert_eq!(disabled.data["webhook"], "dead");
    assert!(disabled.data["attempts"].as_u64().unwrap() >= 3);
    let list = server.admin("GET", &format!("/projects/{p}/webhooks"), b"");
    assert_eq!(list.json()["webhooks"][0]["state"], "disabled");
    // Disabled: nothing more is attempted.
    let attempts = receiver.got.lock().unwrap().len();
    std::thread::sleep(Duration::from_millis(3 * BACKOFF_MS));
    assert_eq!(receiver.got.lock().unwrap().len(), attempts);
    // Saved again, it is enabled.
    let body = json!({ "url": receiver.url(), "events": ["image.uploaded"] }).to_string();
    let saved = server.admin(
        "PUT",
        &format!("/projects/{p}/webhooks/dead"),
        body.as_bytes(),
    );
    saved.expect_status(200);
    assert_eq!(saved.json()["webhook"]["state"], "active");
}

/// A rollout moving by itself is told with `by: rollout`: its test device reports the target,
/// so `verification.passed` and `rollout.running` follow `rollout.verifying`.
#[test]
fn verification_passing_is_told_by_the_rollout_itself() {
    let server = server();
    let p = "ev-verify";
    put_project(server, p, None);
    let img = image(9106, 800);
    upload(server, p, TARGET, &img);
    let tester = "860000000910601";
    plan(
        server,
        p,
        json!({ "rollout": { "verify_devices": [tester], "stages": [50, 100] } }),
    );
    luat_check(server, p, tester, FROM).expect_image(200, &img);
    luat_check(server, p, tester, TARGET).expect_refusal(404, 60);
    let deadline = Instant::now() + Duration::from_secs(30);
    let kinds = loop {
        let page = events_after(server, p, 0, 2);
        let kinds: Vec<(String, Option<String>)> = page
            .events
            .iter()
            .filter(|e| e.event_type.family() != "image" && e.event_type.family() != "plan")
            .map(|e| {
                let by = e.data["by"].as_str().map(str::to_string);
                (e.event_type.as_str().to_string(), by)
            })
            .collect();
        if kinds.len() >= 3 || Instant::now() > deadline {
            break kinds;
        }
    };
    let rollout = Some("rollout".to_string());
    assert_eq!(
        kinds,
        [
            (
                "rollout.verifying".to_string(),
                Some("operator".to_string())
            ),
            ("verification.passed".to_string(), rollout.clone()),
            ("rollout.running".to_string(), rollout),
        ]
    );
}
