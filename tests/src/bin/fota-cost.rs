//! What a device check costs in billed Cloudflare operations, and what that makes the monthly
//! bill at ten million devices (`bench/cost.sh`, part of `make bench`).
//!
//! The bench drives thousands of distinct devices through the rounds of a device's life, each on
//! a fresh isolate (`wrangler dev` restarted on the same state): first sight, up to date within
//! and past the `last_seen` window, held back by a staged rollout (twice), offered the image, and
//! reporting the target. After each round this binary reads the isolate's counters of billed
//! storage operations (`/healthz` with `EXPOSE_METRICS=true`), so every figure of the bill is a
//! measured count per check times a published price.
//!
//! usage: fota-cost round PORT NAME PROJECT FIRMWARE VERSION COUNT CLIENTS PREFIX
//!          every device checks once; prints one JSON line (answers, rate, isolate counters)
//!        fota-cost results ROUNDS.jsonl SEEN_GRANULARITY_S WRANGLER_TOML
//!          gathers the round lines, the model's inputs and the configured default granularity
//!          into one results file (JSON, on stdout)
//!        fota-cost report RESULTS.json
//!          the per-round table, the rate ratios and the monthly bills; the last line reads
//!          `10M devices hourly: $N/month (floor $F)`
//!        fota-cost doc RESULTS.json
//!          docs/scale.md as markdown, every number from the results file or the price table

use fota_tests::Server;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Prices, limits and the model's inputs (data, not code).

/// Everything counted per check or per isolate, billed or not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Meter {
    Requests,
    CpuMs,
    KvReads,
    KvWrites,
    KvLists,
    KvDeletes,
    D1Queries,
    D1RowsRead,
    D1RowsWritten,
    DoRequests,
    DoRowsRead,
    DoRowsWritten,
    R2ClassA,
    R2ClassB,
    CacheHits,
    CacheMisses,
}

const METERS: usize = 16;
/// Counts by meter (`usage[meter as usize]`).
type Usage = [f64; METERS];

/// Where each counted meter is read in the isolate counters: the total, and the part of it the
/// isolate did on a timer (background) rather than for a check.
const COUNTERS: [(Meter, &str, Option<&str>); 14] = [
    (Meter::KvReads, "kv.reads", Some("background.kv_reads")),
    (Meter::KvWrites, "kv.writes", None),
    (Meter::KvLists, "kv.lists", None),
    (Meter::KvDeletes, "kv.deletes", None),
    (
        Meter::D1Queries,
        "d1.queries",
        Some("background.d1_queries"),
    ),
    (Meter::D1RowsRead, "d1.rows_read", None),
    (
        Meter::D1RowsWritten,
        "d1.rows_written",
        Some("background.d1_rows_written"),
    ),
    (Meter::DoRequests, "durable_objects.requests", None),
    (Meter::DoRowsRead, "durable_objects.rows_read", None),
    (Meter::DoRowsWritten, "durable_objects.rows_written", None),
    (Meter::R2ClassA, "r2.class_a", None),
    (Meter::R2ClassB, "r2.class_b", None),
    (Meter::CacheHits, "cache.hits", None),
    (Meter::CacheMisses, "cache.misses", None),
];

/// One billed line: what a month includes and the price of each million beyond (USD).
struct Price {
    meter: Meter,
    product: &'static str,
    included_m: f64,
    usd_per_m: f64,
}

/// The Workers Paid plan's monthly minimum (USD).
const PLAN_USD: f64 = 5.0;
const MONTH_DAYS: f64 = 30.0;
const DAY_S: f64 = 86_400.0;

/// Cloudflare's published list (Workers Paid, USD), as in the cost note this bench regenerates.
const PRICES: [Price; 13] = [
    price(Meter::Requests, "Workers requests", 10.0, 0.30),
    price(Meter::CpuMs, "Workers CPU time (ms)", 30.0, 0.02),
    price(Meter::KvReads, "KV reads", 10.0, 0.50),
    price(Meter::KvWrites, "KV writes", 1.0, 5.00),
    price(Meter::KvLists, "KV lists", 1.0, 5.00),
    price(Meter::KvDeletes, "KV deletes", 1.0, 5.00),
    price(Meter::D1RowsRead, "D1 rows read", 25_000.0, 0.001),
    price(Meter::D1RowsWritten, "D1 rows written", 50.0, 1.00),
    price(Meter::DoRequests, "Durable Objects requests", 1.0, 0.15),
    price(
        Meter::DoRowsRead,
        "Durable Objects SQLite rows read",
        25_000.0,
        0.001,
    ),
    price(
        Meter::DoRowsWritten,
        "Durable Objects SQLite rows written",
        50.0,
        1.00,
    ),
    price(Meter::R2ClassA, "R2 class A (put, list)", 1.0, 4.50),
    price(Meter::R2ClassB, "R2 class B (get, head)", 10.0, 0.36),
];

const fn price(meter: Meter, product: &'static str, included_m: f64, usd_per_m: f64) -> Price {
    Price {
        meter,
        product,
        included_m,
        usd_per_m,
    }
}

/// Published limits the busiest rates are set against.
const D1_QUERIES_PER_S: f64 = 1_000.0;
const DO_REQUESTS_PER_S: f64 = 1_000.0;

/// The model's inputs, written into the results file (the report and the doc read them there).
fn inputs() -> Value {
    json!({
        "fleet": 10_000_000,
        "polls": [
            { "seconds": 3600, "label": "hourly", "goal_usd": 3500 },
            { "seconds": 14400, "label": "4-hourly", "goal_usd": 1100 },
        ],
        "upgrades_per_day": 0.01,
        "busy_isolates": 1000,
        "cpu_ms_per_check": 1.0,
        "crossing_ratio_goal": 0.8,
        "held_back_ratio_goal": 0.95,
    })
}

/// The rounds in the order the bench runs them: name, label, the answers each may hear.
const ROUNDS: [(&str, &str, &[&str]); 7] = [
    ("first_sight", "first sight", &["404/60"]),
    ("within", "up to date, within the window", &["404/60"]),
    ("crossing", "up to date, window passed", &["404/60"]),
    ("held_first", "held back, first pass", &["404/61", "200"]),
    ("held_again", "held back, again", &["404/61", "200"]),
    ("offered", "offered", &["200"]),
    ("reporting", "reporting the target", &["404/60"]),
];

/// The "Bounds of each table" section of docs/scale.md: `docs/bounds.md` (measured on the
/// 1M-device fixture by `bench/fleet.sh`), its own title dropped and its headings one level down.
fn bounds_text() -> String {
    let path = fota_tests::repo_root().join("docs/bounds.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): it holds each table's bound",
            path.display()
        )
    });
    text.lines()
        .skip_while(|l| l.starts_with("# ") || l.is_empty())
        .map(|l| {
            if l.starts_with('#') {
                format!("#{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["round", rest @ ..] if rest.len() == 8 => run_round(rest),
        ["register", port, project, count, prefix] => {
            let token = std::env::var("FOTA_TOKEN").expect("FOTA_TOKEN: the edge's admin token");
            let ids = ids(count.parse().expect("COUNT"), prefix);
            Server::attach(port.parse().expect("PORT")).register_luat_as(&token, project, &ids);
            eprintln!("registered {} devices in {project}", ids.len());
        }
        ["results", rounds, g, toml] => print_results(rounds, g, toml),
        ["report", file] => print!("{}", report(&Model::load(file))),
        ["doc", file] => print!("{}", doc(&Model::load(file))),
        _ => {
            eprintln!(
                "usage: fota-cost round PORT NAME PROJECT FIRMWARE VERSION COUNT CLIENTS PREFIX\n\
                 \x20      fota-cost register PORT PROJECT COUNT PREFIX   (FOTA_TOKEN: admin token)\n\
                 \x20      fota-cost results ROUNDS.jsonl SEEN_GRANULARITY_S WRANGLER_TOML\n\
                 \x20      fota-cost report RESULTS.json\n\
                 \x20      fota-cost doc RESULTS.json"
            );
            std::process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A round: every device checks once, then the isolate's counters once background work settled.

fn run_round(args: &[&str]) {
    let port: u16 = args[0].parse().expect("PORT");
    let (name, project, firmware, version) = (args[1], args[2], args[3], args[4]);
    let count: u32 = args[5].parse().expect("COUNT");
    let clients: usize = args[6].parse().expect("CLIENTS");
    let server = Server::attach(port);
    let ids = ids(count, args[7]);
    let started_ms = now_ms();
    let clock = Instant::now();
    let answers = fota_tests::at_once(&ids, clients, |id| {
        server.luat_answer(project, firmware, version, id)
    });
    let seconds = clock.elapsed().as_secs_f64();
    let ended_ms = now_ms();
    let settle = Instant::now();
    let (isolate, settled) = settled_metrics(&server);
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for a in answers {
        *tally.entry(a).or_insert(0) += 1;
    }
    eprintln!(
        "round {name}: {count} checks in {seconds:.1} s ({:.0}/s), answers {tally:?}",
        count as f64 / seconds
    );
    let line = json!({
        "name": name, "version": version, "checks": count, "clients": clients,
        "seconds": seconds, "started_unix_ms": started_ms, "ended_unix_ms": ended_ms,
        "answers": tally, "settle_seconds": settle.elapsed().as_secs_f64(),
        "settled": settled, "isolate": isolate,
    });
    println!("{line}");
}

/// `count` 15-digit ids starting with `prefix`.
fn ids(count: u32, prefix: &str) -> Vec<String> {
    (0..count)
        .map(|i| format!("{prefix}{i:0width$}", width = 15 - prefix.len()))
        .collect()
}

/// How long the counters must stay still to count as settled: longer than the registry's wait
/// for more news to join a batch (5 s for `last_seen` refreshes, `edge/src/registry.rs`), which
/// starts after the last answer and before the write.
const QUIET: Duration = Duration::from_secs(8);
/// The longest wait for them to settle once the edge answers.
const SETTLE_MAX: Duration = Duration::from_secs(30);

/// The isolate's counters once they stopped changing for [`QUIET`] (at most [`SETTLE_MAX`]), and
/// whether they did: background work (registry batches, coordinator calls) runs on after the
/// answers. While the edge does not answer at all, it is asked again for up to a minute.
fn settled_metrics(server: &Server) -> (Value, bool) {
    let start = Instant::now();
    let mut last: Option<Value> = None;
    let mut quiet_since = Instant::now();
    loop {
        match (isolate_metrics(server), &last) {
            (None, _) if start.elapsed() >= Duration::from_secs(60) => {
                return (last.unwrap_or(Value::Null), false)
            }
            (None, _) => {}
            (Some(now), Some(before)) if &now == before => {
                if quiet_since.elapsed() >= QUIET {
                    return (now, true);
                }
            }
            (Some(now), _) => {
                last = Some(now);
                quiet_since = Instant::now();
            }
        }
        if last.is_some() && start.elapsed() >= SETTLE_MAX {
            return (last.unwrap_or(Value::Null), false);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `/healthz`'s `isolate` object (`null` if the edge does not expose it); `None` when the edge
/// did not answer within 5 s.
fn isolate_metrics(server: &Server) -> Option<Value> {
    let req = format!(
        "GET /healthz HTTP/1.1\r\nConnection: close\r\nHost: {}\r\n\r\n",
        server.host()
    );
    let resp = server
        .try_request_within(req.as_bytes(), Duration::from_secs(5))
        .ok()?;
    let body: Value = serde_json::from_slice(&resp.body).ok()?;
    Some(body["isolate"].clone())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The results file.

fn print_results(rounds_file: &str, granularity: &str, wrangler_toml: &str) {
    let text = std::fs::read_to_string(rounds_file).expect("rounds file");
    let rounds: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a round line is JSON"))
        .collect();
    let g: f64 = granularity.parse().expect("SEEN_GRANULARITY_S");
    let toml = std::fs::read_to_string(wrangler_toml).expect("wrangler.toml");
    let g_default = toml_var(&toml, "SEEN_GRANULARITY_S")
        .and_then(|v| v.parse::<f64>().ok())
        .expect("wrangler.toml [vars] sets SEEN_GRANULARITY_S");
    let find = |name: &str| rounds.iter().find(|r| r["name"] == name);
    let (first, within, crossing) = (find("first_sight"), find("within"), find("crossing"));
    let window = match (first, within, crossing) {
        (Some(f), Some(w), Some(c)) => window_gaps(f, w, c, g),
        _ => Value::Null,
    };
    let results = json!({
        "generated_unix_ms": now_ms(),
        "bench": {
            "devices": rounds.first().map(|r| r["checks"].clone()),
            "clients": rounds.first().map(|r| r["clients"].clone()),
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "seen_granularity_s": g,
            "window": window,
        },
        "config": { "seen_granularity_s_default": g_default },
        "inputs": inputs(),
        "rounds": rounds,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&results).expect("results serialise")
    );
}

/// The largest gap between a device's first sight and its check in the "within" round, and the
/// smallest between first sight and its check in the "crossing" round (both from the rounds'
/// start and end times; each round takes the devices in the same order at a steady rate).
fn window_gaps(first: &Value, within: &Value, crossing: &Value, g: f64) -> Value {
    let secs = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0) / 1000.0;
    let start = |r: &Value| secs(r, "started_unix_ms");
    let length = |r: &Value| secs(r, "ended_unix_ms") - start(r);
    let within_gap = start(within) - start(first) + (length(within) - length(first)).max(0.0);
    let crossing_gap = start(crossing) - start(first) + (length(crossing) - length(first)).min(0.0);
    json!({
        "within_max_gap_s": within_gap,
        "within_ok": within_gap < g,
        "crossing_min_gap_s": crossing_gap,
        "crossing_ok": crossing_gap >= g,
    })
}

/// A `[vars]` value of wrangler.toml (`NAME = "value"`), unquoted.
fn toml_var(toml: &str, name: &str) -> Option<String> {
    let mut in_vars = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_vars = line == "[vars]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if in_vars && key.trim() == name {
            return Some(value.trim().trim_matches('"').to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The model over a results file.

/// A number at a dotted path of `v`; a missing field counts 0 (older edges expose fewer).
fn num(v: &Value, path: &str) -> f64 {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// One measured round.
struct Round<'a> {
    name: &'a str,
    label: &'static str,
    expected: &'static [&'static str],
    checks: f64,
    seconds: f64,
    answers: Vec<(String, u64)>,
    isolate: &'a Value,
    /// The counters stopped changing before they were read.
    settled: bool,
}

impl Round<'_> {
    fn rate(&self) -> f64 {
        self.checks / self.seconds.max(1e-9)
    }

    /// A check's own work, per check (the background part taken out), `cpu_ms` CPU per check.
    fn per_check(&self, cpu_ms: f64) -> Usage {
        let mut u = [0.0; METERS];
        u[Meter::Requests as usize] = 1.0;
        u[Meter::CpuMs as usize] = cpu_ms;
        for (meter, total, background) in COUNTERS {
            let own = num(self.isolate, total) - background.map_or(0.0, |b| num(self.isolate, b));
            u[meter as usize] = own.max(0.0) / self.checks.max(1.0);
        }
        u
    }

    /// The round's background work, in counts.
    fn background(&self) -> Usage {
        let mut u = [0.0; METERS];
        for (meter, _, background) in COUNTERS {
            if let Some(b) = background {
                u[meter as usize] = num(self.isolate, b);
            }
        }
        u
    }

    /// Distinct Durable Objects called, and the busiest one's name and share of the calls.
    fn objects(&self) -> (usize, Option<(String, f64)>) {
        let Some(map) = self.isolate["durable_objects"]["by_object"].as_object() else {
            return (0, None);
        };
        let total: f64 = map.values().filter_map(Value::as_f64).sum();
        let busiest = map
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|n| (k.clone(), n)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|_| total > 0.0)
            .map(|(k, n)| (k, n / total));
        (map.len(), busiest)
    }

    fn unexpected(&self) -> u64 {
        self.answers
            .iter()
            .filter(|(a, _)| !self.expected.contains(&a.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Why the round's counts may be short, if they may.
    fn caveat(&self) -> Option<&'static str> {
        if !self.isolate.is_object() {
            Some("no isolate counters (the edge did not answer /healthz with them)")
        } else if !self.settled {
            Some("the counters were still changing when read")
        } else {
            None
        }
    }

    fn answers_text(&self) -> String {
        let parts: Vec<String> = self
            .answers
            .iter()
            .map(|(a, n)| format!("{a} x{n}"))
            .collect();
        parts.join(", ")
    }
}

/// One poll interval's monthly bill.
struct Bill {
    poll_s: f64,
    label: String,
    goal_usd: f64,
    /// The share of checks that find `last_seen` older than the default granularity.
    crossing_share: f64,
    checks: f64,
    /// Per meter: the month's usage and its cost.
    lines: Vec<(&'static Price, f64, f64)>,
    total: f64,
    floor: f64,
}

/// The results file with the model's inputs read out.
struct Model {
    results: Value,
    fleet: f64,
    upgrades_per_day: f64,
    busy_isolates: f64,
    cpu_ms: f64,
    g_default: f64,
}

impl Model {
    fn load(file: &str) -> Model {
        let text = std::fs::read_to_string(file).expect("results file");
        let results: Value = serde_json::from_str(&text).expect("results file is JSON");
        let i = &results["inputs"];
        Model {
            fleet: num(i, "fleet"),
            upgrades_per_day: num(i, "upgrades_per_day"),
            busy_isolates: num(i, "busy_isolates"),
            cpu_ms: num(i, "cpu_ms_per_check"),
            g_default: num(&results, "config.seen_granularity_s_default"),
            results,
        }
    }

    fn rounds(&self) -> Vec<Round<'_>> {
        ROUNDS
            .iter()
            .filter_map(|(name, label, expected)| {
                let r = self.results["rounds"]
                    .as_array()?
                    .iter()
                    .find(|r| r["name"] == *name)?;
                Some(Round {
                    name,
                    label,
                    expected,
                    checks: num(r, "checks"),
                    seconds: num(r, "seconds"),
                    answers: answers(r),
                    isolate: &r["isolate"],
                    settled: r["settled"].as_bool() == Some(true),
                })
            })
            .collect()
    }

    fn round(&self, name: &str) -> Round<'_> {
        self.rounds()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("the results file has no round {name}"))
    }

    fn polls(&self) -> Vec<(f64, String, f64)> {
        self.results["inputs"]["polls"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let label = p["label"].as_str().unwrap_or("?").to_string();
                        (num(p, "seconds"), label, num(p, "goal_usd"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Background counts per isolate-second: all rounds' background over all rounds' seconds.
    fn background_rate(&self) -> Usage {
        let rounds = self.rounds();
        let seconds: f64 = rounds.iter().map(|r| r.seconds).sum();
        let mut u = [0.0; METERS];
        for r in &rounds {
            for (m, n) in r.background().iter().enumerate() {
                u[m] += n / seconds.max(1e-9);
            }
        }
        u
    }

    /// A steady-state check at this poll interval: within the window or crossing it, mixed.
    fn steady(&self, poll_s: f64) -> (Usage, f64) {
        let f = (poll_s / self.g_default.max(1.0)).min(1.0);
        let within = self.round("within").per_check(self.cpu_ms);
        let crossing = self.round("crossing").per_check(self.cpu_ms);
        (mix(&within, 1.0 - f, &crossing, f), f)
    }

    fn upgrades_per_month(&self) -> f64 {
        self.fleet * self.upgrades_per_day * MONTH_DAYS
    }

    fn checks_per_month(&self, poll_s: f64) -> f64 {
        self.fleet * MONTH_DAYS * DAY_S / poll_s
    }

    /// A month's usage: steady checks, each upgrade's offered and reporting checks, and the busy
    /// isolates' background work.
    fn monthly_usage(&self, poll_s: f64) -> Usage {
        let (steady, _) = self.steady(poll_s);
        let offered = self.round("offered").per_check(self.cpu_ms);
        let reporting = self.round("reporting").per_check(self.cpu_ms);
        let upgrade = mix(&offered, 1.0, &reporting, 1.0);
        let isolate_s = self.busy_isolates * MONTH_DAYS * DAY_S;
        let usage = mix(
            &steady,
            self.checks_per_month(poll_s),
            &upgrade,
            self.upgrades_per_month(),
        );
        mix(&usage, 1.0, &self.background_rate(), isolate_s)
    }

    fn bill(&self, poll_s: f64, label: &str, goal_usd: f64) -> Bill {
        let usage = self.monthly_usage(poll_s);
        let lines = priced(&usage);
        let checks = self.checks_per_month(poll_s);
        Bill {
            poll_s,
            label: label.to_string(),
            goal_usd,
            crossing_share: self.steady(poll_s).1,
            checks,
            total: PLAN_USD + lines.iter().map(|l| l.2).sum::<f64>(),
            floor: PLAN_USD + beyond(checks, 10.0, 0.30),
            lines,
        }
    }

    fn bills(&self) -> Vec<Bill> {
        self.polls()
            .iter()
            .map(|(s, label, goal)| self.bill(*s, label, *goal))
            .collect()
    }

    /// Binding the whole fleet once (first sight), priced on top of a month at the first poll
    /// interval (its allowances are spent by then): the difference it makes to that bill.
    fn binding_once(&self) -> f64 {
        let poll = self.polls().first().map_or(3600.0, |p| p.0);
        let month = self.monthly_usage(poll);
        let first = self.round("first_sight").per_check(self.cpu_ms);
        let cost = |u: &Usage| priced(u).iter().map(|l| l.2).sum::<f64>();
        cost(&mix(&month, 1.0, &first, self.fleet)) - cost(&month)
    }

    /// D1 queries per second at this poll interval: (per check x checks/s, background).
    fn d1_rate(&self, per_check: &Usage, poll_s: f64) -> (f64, f64) {
        let checks = self.fleet / poll_s;
        let background = self.background_rate()[Meter::D1Queries as usize] * self.busy_isolates;
        (per_check[Meter::D1Queries as usize] * checks, background)
    }

    fn ratio(&self, a: &str, b: &str) -> f64 {
        self.round(a).rate() / self.round(b).rate().max(1e-9)
    }
}

fn answers(r: &Value) -> Vec<(String, u64)> {
    r["answers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// `a x ka + b x kb`, meter by meter.
fn mix(a: &Usage, ka: f64, b: &Usage, kb: f64) -> Usage {
    let mut u = [0.0; METERS];
    for m in 0..METERS {
        u[m] = a[m] * ka + b[m] * kb;
    }
    u
}

/// Millions beyond `included_m`, at `usd_per_m`.
fn beyond(count: f64, included_m: f64, usd_per_m: f64) -> f64 {
    (count / 1e6 - included_m).max(0.0) * usd_per_m
}

/// Each billed meter's usage and cost for a month of `usage` (the plan minimum not included).
fn priced(usage: &Usage) -> Vec<(&'static Price, f64, f64)> {
    PRICES
        .iter()
        .map(|p| {
            let n = usage[p.meter as usize];
            (p, n, beyond(n, p.included_m, p.usd_per_m))
        })
        .collect()
}

/// A round's Durable Object load if the whole fleet checked like it at `poll_s`.
struct ObjectLoad {
    /// Requests per second across all objects.
    per_s: f64,
    objects: usize,
    /// The busiest object, its share of the calls, and its requests per second.
    busiest: Option<(String, f64, f64)>,
}

impl Model {
    fn object_load(&self, round: &Round, poll_s: f64) -> ObjectLoad {
        let per_s = round.per_check(self.cpu_ms)[Meter::DoRequests as usize] * self.fleet / poll_s;
        let (objects, busiest) = round.objects();
        ObjectLoad {
            per_s,
            objects,
            busiest: busiest.map(|(name, share)| (name, share, per_s * share)),
        }
    }

    /// The round whose busiest object would be busiest at `poll_s`, with its load. First sight
    /// is left out: new devices arrive at the rate `NEW_DEVICES_PER_MINUTE` lets them, not at
    /// the poll rate of the whole fleet.
    fn busiest_object(&self, poll_s: f64) -> Option<(Round<'_>, ObjectLoad)> {
        self.rounds()
            .into_iter()
            .filter(|r| r.name != "first_sight")
            .map(|r| {
                let load = self.object_load(&r, poll_s);
                (r, load)
            })
            .filter(|(_, l)| l.busiest.is_some())
            .max_by(|a, b| busiest_rate(&a.1).total_cmp(&busiest_rate(&b.1)))
    }

    fn fleet_label(&self) -> String {
        if self.fleet >= 1e6 && self.fleet % 1e6 == 0.0 {
            format!("{}M", self.fleet / 1e6)
        } else {
            group(self.fleet)
        }
    }

    fn first_poll(&self) -> f64 {
        self.polls().first().map_or(3600.0, |p| p.0)
    }
}

fn busiest_rate(load: &ObjectLoad) -> f64 {
    load.busiest.as_ref().map_or(0.0, |b| b.2)
}

// ---------------------------------------------------------------------------------------------
// Formatting.

/// A whole number with thousands separators.
fn group(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// Dollars: cents below $10, whole dollars with separators above.
fn usd(x: f64) -> String {
    if x.abs() < 10.0 {
        format!("${x:.2}")
    } else {
        format!("${}", group(x))
    }
}

/// Millions, one decimal.
fn mega(x: f64) -> String {
    format!(
        "{}.{} M",
        group((x / 1e6).trunc()),
        ((x / 1e5).round() as i64 % 10).abs()
    )
}

/// A count per check.
fn per(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:.4}")
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn date(ms: f64) -> String {
    fota_shared::leaf::time::rfc3339(ms as i64)[..10].to_string()
}

fn hours(s: f64) -> String {
    let h = s / 3600.0;
    if h.fract() == 0.0 {
        format!("{h:.0} h")
    } else {
        format!("{h:.2} h")
    }
}

// ---------------------------------------------------------------------------------------------
// The report (stdout of bench/cost.sh).

fn report(m: &Model) -> String {
    let mut out = String::new();
    report_rounds(m, &mut out);
    report_ratios(m, &mut out);
    for bill in m.bills() {
        report_bill(m, &bill, &mut out);
    }
    let _ = writeln!(
        out,
        "binding {} devices once (first sight, one-time, not in the monthly bills): {}",
        m.fleet_label(),
        usd(m.binding_once())
    );
    report_limits(m, &mut out);
    let bills = m.bills();
    let goals: Vec<String> = bills
        .iter()
        .map(|b| format!("{} <= {}", b.label, usd(b.goal_usd)))
        .collect();
    let _ = writeln!(out, "goals: {}", goals.join(", "));
    // The first poll interval (hourly) last: its line is the bench's last line.
    for b in bills.iter().rev() {
        let _ = writeln!(
            out,
            "{} devices {}: ${:.0}/month (floor ${:.0})",
            m.fleet_label(),
            b.label,
            b.total.round(),
            b.floor.round()
        );
    }
    out
}

fn report_rounds(m: &Model, out: &mut String) {
    let bench = &m.results["bench"];
    let _ = writeln!(
        out,
        "cost: {} distinct devices, {} clients, a fresh isolate per round, SEEN_GRANULARITY_S {} on the bench ({} in wrangler.toml)",
        group(num(bench, "devices")),
        num(bench, "clients"),
        num(bench, "seen_granularity_s"),
        m.g_default
    );
    for r in m.rounds() {
        let _ = writeln!(
            out,
            "{:<31} {:>6} checks {:>7.1}/s  {}",
            r.label,
            r.checks,
            r.rate(),
            r.answers_text()
        );
        if r.unexpected() > 0 {
            let _ = writeln!(out, "  WARNING: {} unexpected answers", r.unexpected());
        }
        if let Some(why) = r.caveat() {
            let _ = writeln!(out, "  WARNING: {why}");
        }
    }
    let _ = writeln!(
        out,
        "per check (own work)            KV r    KV w    D1 q    D1 rr   D1 rw   DO req  DO rw   R2 A    R2 B    cache hit/miss   busiest DO"
    );
    for r in m.rounds() {
        let u = r.per_check(m.cpu_ms);
        let cols: Vec<String> = [
            Meter::KvReads,
            Meter::KvWrites,
            Meter::D1Queries,
            Meter::D1RowsRead,
            Meter::D1RowsWritten,
            Meter::DoRequests,
            Meter::DoRowsWritten,
            Meter::R2ClassA,
            Meter::R2ClassB,
        ]
        .iter()
        .map(|k| format!("{:<7}", per(u[*k as usize])))
        .collect();
        let cache = format!(
            "{}/{}",
            per(u[Meter::CacheHits as usize]),
            per(u[Meter::CacheMisses as usize])
        );
        let (objects, busiest) = r.objects();
        let busiest = busiest.map_or("-".to_string(), |(n, s)| {
            format!("{n} {} of {objects}", percent(s))
        });
        let _ = writeln!(
            out,
            "{:<31} {} {cache:<16} {busiest}",
            r.label,
            cols.join(" ")
        );
    }
    report_background(m, out);
}

fn report_background(m: &Model, out: &mut String) {
    let bg = m.background_rate();
    let _ = writeln!(
        out,
        "background per isolate-second: D1 queries {:.4}, D1 rows written {:.4}, KV reads {:.4}",
        bg[Meter::D1Queries as usize],
        bg[Meter::D1RowsWritten as usize],
        bg[Meter::KvReads as usize]
    );
    let window = &m.results["bench"]["window"];
    for (key, ok, what) in [
        (
            "within_max_gap_s",
            "within_ok",
            "longest first sight -> within-window check",
        ),
        (
            "crossing_min_gap_s",
            "crossing_ok",
            "shortest first sight -> window-passed check",
        ),
    ] {
        let flag = if window[ok].as_bool() == Some(true) {
            "ok"
        } else {
            "WARNING: not"
        };
        let _ = writeln!(
            out,
            "{what}: {:.0} s ({flag} as intended against {} s)",
            num(window, key),
            num(&m.results, "bench.seen_granularity_s")
        );
    }
}

fn report_ratios(m: &Model, out: &mut String) {
    let i = &m.results["inputs"];
    let _ = writeln!(
        out,
        "ratio window passed / within the window: {:.2} (goal >= {})",
        m.ratio("crossing", "within"),
        num(i, "crossing_ratio_goal")
    );
    let _ = writeln!(
        out,
        "ratio held back again / up to date (fresh isolates): {:.2} (goal >= {}); held back first pass / up to date: {:.2}",
        m.ratio("held_again", "within"),
        num(i, "held_back_ratio_goal"),
        m.ratio("held_first", "within")
    );
    let _ = writeln!(
        out,
        "inputs: {} devices; {} of them upgrade per day ({} a month); {} busy isolates; {} CPU-ms per check (assumed); 30-day month",
        group(m.fleet),
        percent(m.upgrades_per_day),
        group(m.upgrades_per_month()),
        group(m.busy_isolates),
        m.cpu_ms
    );
}

fn report_bill(m: &Model, b: &Bill, out: &mut String) {
    let _ = writeln!(
        out,
        "bill at {} polls ({} checks a month, {} of them past the {} s window):",
        hours(b.poll_s),
        mega(b.checks),
        percent(b.crossing_share),
        m.g_default
    );
    let _ = writeln!(
        out,
        "  {:<36} {:>16}  {}",
        "Workers plan",
        "",
        usd(PLAN_USD)
    );
    for (p, n, cost) in &b.lines {
        if *n > 0.0 {
            let _ = writeln!(out, "  {:<36} {:>16}  {}", p.product, mega(*n), usd(*cost));
        }
    }
    let _ = writeln!(
        out,
        "  total {} (floor {}: requests only; goal <= {})",
        usd(b.total),
        usd(b.floor),
        usd(b.goal_usd)
    );
}

fn report_limits(m: &Model, out: &mut String) {
    let poll = m.first_poll();
    let (steady, _) = m.steady(poll);
    let (checks, background) = m.d1_rate(&steady, poll);
    let _ = writeln!(
        out,
        "busiest D1 rate at {} polls: {} checks/s x {} queries + {} background = {:.0} queries/s (limit ~{} per database)",
        hours(poll),
        group(m.fleet / poll),
        per(steady[Meter::D1Queries as usize]),
        group(background),
        checks + background,
        group(D1_QUERIES_PER_S)
    );
    match m.busiest_object(poll) {
        Some((r, load)) => {
            let (name, share, rate) = load.busiest.unwrap_or_default();
            let _ = writeln!(
                out,
                "busiest Durable Object at {} polls ({}): {:.0} requests/s over {} objects ({:.0} each if even); {name} takes {} = {:.0}/s (limit ~{})",
                hours(poll),
                r.label,
                load.per_s,
                load.objects,
                load.per_s / load.objects.max(1) as f64,
                percent(share),
                rate,
                group(DO_REQUESTS_PER_S)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "busiest Durable Object: no Durable Object calls counted"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// docs/scale.md

fn doc(m: &Model) -> String {
    let mut out = String::new();
    let bench = &m.results["bench"];
    let _ = writeln!(
        out,
        "# Cost and limits at {} devices\n\n\
         What one Cloudflare account spends on fota-edge's device checks, and which platform limit \
         its busiest parts meet, for **{} devices**. Generated by `bench/cost.sh` \
         (`fota-cost doc target/cost-results.json`) from its run of {}: {} distinct devices, {} \
         at a time on a new connection each, through the rounds below, each on a fresh isolate \
         (`wrangler dev` restarted on the same state, {} cores). Every number here is a count \
         measured in that run, an input stated below, or a price or limit from the first table: \
         change an input or the code and rerun `make bench` to redo it.\n",
        group(m.fleet),
        group(m.fleet),
        date(num(&m.results, "generated_unix_ms")),
        group(num(bench, "devices")),
        num(bench, "clients"),
        num(bench, "cores"),
    );
    doc_prices(&mut out);
    doc_inputs(m, &mut out);
    doc_rounds(m, &mut out);
    doc_bills(m, &mut out);
    doc_limits(m, &mut out);
    let _ = writeln!(out, "## Bounds of each table\n\n{}", bounds_text());
    out
}

fn doc_prices(out: &mut String) {
    let _ = writeln!(
        out,
        "## Prices and limits used\n\n\
         Cloudflare's published list, as the previous version of this note read it from the \
         developers.cloudflare.com pricing and limits pages of Workers, KV, D1, R2 and Durable \
         Objects (KV lists and deletes: the KV pricing page prices them as writes). Workers Paid \
         plan, USD, one month = {MONTH_DAYS:.0} days.\n\n\
         | Product | Included per month | Price beyond |\n|---|---|---|\n\
         | Workers plan | | {} / month minimum |",
        usd(PLAN_USD)
    );
    for p in &PRICES {
        let included = if p.included_m >= 1000.0 {
            format!("{} B", group(p.included_m / 1000.0))
        } else {
            format!("{} M", group(p.included_m))
        };
        let price = if p.usd_per_m < 0.01 {
            format!("${} / M", p.usd_per_m)
        } else {
            format!("${:.2} / M", p.usd_per_m)
        };
        let _ = writeln!(out, "| {} | {included} | {price} |", p.product);
    }
    let _ = writeln!(
        out,
        "\nLimits: a D1 database runs its queries one at a time, about **{} queries/s** when each \
         takes 1 ms (D1's FAQ); a Durable Object is single-threaded, with a soft limit of about \
         **{} requests/s**. Not priced here: Durable Object duration, storage of D1, R2 and KV \
         (none of them grows with checks).\n",
        group(D1_QUERIES_PER_S),
        group(DO_REQUESTS_PER_S)
    );
}

fn doc_inputs(m: &Model, out: &mut String) {
    let polls: Vec<String> = m
        .polls()
        .iter()
        .map(|(s, _, goal)| format!("{} (goal: at most {} / month)", hours(*s), usd(*goal)))
        .collect();
    let i = &m.results["inputs"];
    let _ = writeln!(
        out,
        "## Inputs\n\n| Input | Value |\n|---|---|\n\
         | Devices | {} |\n| Poll interval | {} |\n\
         | Upgrades | {} of the devices per day: {} a month |\n\
         | Busy isolates | {} (~330 locations, a few isolates each; unknowable in advance) |\n\
         | CPU per check | {} ms (assumed: `wrangler dev` does not measure billed CPU) |\n\
         | `SEEN_GRANULARITY_S` | {} s (`wrangler.toml`); the bench ran its window rounds with {} s so it could wait the window out, the release's rounds with the default |\n\
         | Goals for the rates | window passed / within the window at least {}; held back / up to date at least {} |\n",
        group(m.fleet),
        polls.join(", "),
        percent(m.upgrades_per_day),
        group(m.upgrades_per_month()),
        group(m.busy_isolates),
        m.cpu_ms,
        group(m.g_default),
        group(num(&m.results, "bench.seen_granularity_s")),
        num(i, "crossing_ratio_goal"),
        num(i, "held_back_ratio_goal"),
    );
}

fn doc_rounds(m: &Model, out: &mut String) {
    let _ = writeln!(
        out,
        "## Measured: one check, by round\n\n\
         Each round: every device checks once on a fresh isolate; after the last answer the \
         bench waits until the isolate's counters stop changing, then reads them. Counts are per \
         check and a check's own work (the isolate's timer-driven work is shown apart below).\n\n\
         | Round | Checks | Checks/s | Answers | KV reads | KV writes | D1 queries | D1 rows read | D1 rows written | DO requests | DO rows written | R2 class A | R2 class B | Cache hits / misses | Busiest DO (share of calls) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in m.rounds() {
        let u = r.per_check(m.cpu_ms);
        let c = |k: Meter| per(u[k as usize]);
        let (objects, busiest) = r.objects();
        let busiest = busiest.map_or("none".to_string(), |(n, s)| {
            format!("`{n}` ({} of {objects})", percent(s))
        });
        let label = match r.caveat() {
            Some(why) => format!("{} ({why})", r.label),
            None => r.label.to_string(),
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {busiest} |",
            group(r.checks),
            r.rate(),
            r.answers_text(),
            c(Meter::KvReads),
            c(Meter::KvWrites),
            c(Meter::D1Queries),
            c(Meter::D1RowsRead),
            c(Meter::D1RowsWritten),
            c(Meter::DoRequests),
            c(Meter::DoRowsWritten),
            c(Meter::R2ClassA),
            c(Meter::R2ClassB),
            c(Meter::CacheHits),
            c(Meter::CacheMisses),
        );
    }
    doc_background(m, out);
}

fn doc_background(m: &Model, out: &mut String) {
    let bg = m.background_rate();
    let window = &m.results["bench"]["window"];
    let i = &m.results["inputs"];
    let _ = writeln!(
        out,
        "\nThe isolate's own work (activity flushes, periodic refreshes), per isolate-second of the \
         rounds: {} D1 queries, {} D1 rows written, {} KV reads.\n\n\
         The window: the longest gap between a device's first sight and its within-window check \
         was {:.0} s, the shortest to its window-passed check {:.0} s, against the bench's \
         `SEEN_GRANULARITY_S` of {} s.\n\n\
         Rates, fresh isolate against fresh isolate: window passed / within the window \
         **{:.2}** (goal at least {}); held back (again) / up to date **{:.2}** (goal at least \
         {}); held back on the rollout's first pass / up to date {:.2}.\n",
        per(bg[Meter::D1Queries as usize]),
        per(bg[Meter::D1RowsWritten as usize]),
        per(bg[Meter::KvReads as usize]),
        num(window, "within_max_gap_s"),
        num(window, "crossing_min_gap_s"),
        group(num(&m.results, "bench.seen_granularity_s")),
        m.ratio("crossing", "within"),
        num(i, "crossing_ratio_goal"),
        m.ratio("held_again", "within"),
        num(i, "held_back_ratio_goal"),
        m.ratio("held_first", "within"),
    );
}

fn doc_bills(m: &Model, out: &mut String) {
    let bills = m.bills();
    let _ = writeln!(
        out,
        "## The monthly bill\n\n\
         A steady check costs the within-window check x (1 - f) plus the window-passed check x f, \
         f = min(1, poll interval / {} s), the default `SEEN_GRANULARITY_S`. Each upgrade adds one \
         offered check and one reporting check; the busy isolates add their own work for the \
         whole month. The floor is the requests alone (plan minimum included): no design serves \
         a check for less.\n",
        group(m.g_default)
    );
    let mut head = "| Line |".to_string();
    let mut rule = "|---|".to_string();
    for b in &bills {
        let _ = write!(head, " {} polls: per month | cost |", hours(b.poll_s));
        rule.push_str("---|---|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    let row = |name: &str, f: &dyn Fn(&Bill) -> (String, String)| {
        let cells: String = bills
            .iter()
            .map(|b| {
                let (usage, cost) = f(b);
                format!(" {usage} | {cost} |")
            })
            .collect();
        format!("| {name} |{cells}")
    };
    let none = String::new;
    let mut lines = vec![row("Workers plan", &|_| (none(), usd(PLAN_USD)))];
    for (k, p) in PRICES.iter().enumerate() {
        lines.push(row(p.product, &|b| (mega(b.lines[k].1), usd(b.lines[k].2))));
    }
    lines.push(row("**Total**", &|b| {
        (none(), format!("**{}**", usd(b.total)))
    }));
    lines.push(row("Floor (requests only)", &|b| {
        (mega(b.checks), usd(b.floor))
    }));
    lines.push(row("Goal", &|b| {
        (none(), format!("at most {}", usd(b.goal_usd)))
    }));
    lines.push(row("Checks past the window (f)", &|b| {
        (percent(b.crossing_share), none())
    }));
    let _ = writeln!(out, "{}", lines.join("\n"));
    let _ = writeln!(
        out,
        "\nBinding the {} devices once (their first sight, a one-time cost, not in the monthly \
         bills): {} on top of a month at {} polls.\n",
        group(m.fleet),
        usd(m.binding_once()),
        hours(m.first_poll())
    );
}

fn doc_limits(m: &Model, out: &mut String) {
    let poll = m.first_poll();
    let (steady, _) = m.steady(poll);
    let (checks, background) = m.d1_rate(&steady, poll);
    let _ = writeln!(
        out,
        "## The busiest rates against the limits\n\n\
         At {} polls the fleet makes {} checks/s on average. D1: {} queries per steady check x \
         {} checks/s + {} background = **{:.0} queries/s** against about {} per database.\n\n\
         D1 and the Durable Objects if the whole fleet checked as in each round, at the same \
         rate (a release opened to every device at once is the offered round; first sight is \
         bounded by `NEW_DEVICES_PER_MINUTE` instead):\n\n\
         | Round | D1 queries/s | DO requests/s | Objects called | Busiest object | Its share | Its requests/s (limit ~{}) |\n\
         |---|---|---|---|---|---|---|",
        hours(poll),
        group(m.fleet / poll),
        per(steady[Meter::D1Queries as usize]),
        group(m.fleet / poll),
        group(background),
        checks + background,
        group(D1_QUERIES_PER_S),
        group(DO_REQUESTS_PER_S),
    );
    for r in m.rounds() {
        let (d1, bg) = m.d1_rate(&r.per_check(m.cpu_ms), poll);
        let load = m.object_load(&r, poll);
        let (name, share, rate) = match &load.busiest {
            Some((n, s, rate)) => (format!("`{n}`"), percent(*s), group(*rate)),
            None => ("none".to_string(), "-".to_string(), "0".to_string()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {name} | {share} | {rate} |",
            r.label,
            group(d1 + bg),
            group(load.per_s),
            load.objects
        );
    }
    let _ = writeln!(out);
}
