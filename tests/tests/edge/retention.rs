//! Retention: the scheduled handler purges expired replay rows, history past `HISTORY_DAYS` or
//! beyond `HISTORY_KEEP` per device, old rate-limit windows and old activity, a bounded batch per
//! table family per run, each family on its own. Old rows are seeded straight into the server's
//! local D1, since nothing in the API writes the past.

use fota_tests::{temp_state_dir, Server};

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the purged tables hold: replay rows, history of device A, of device B, history older
/// than 30 days, rate-limit windows, activity hours (one `wrangler d1 execute`).
fn tables(server: &Server) -> [u64; 6] {
    let old = now_ms() - 30 * DAY_MS;
    let rows = server.d1(&format!(
        "SELECT (SELECT COUNT(*) FROM replay) AS a,
                (SELECT COUNT(*) FROM device_events WHERE device_id = 'ret-a') AS b,
                (SELECT COUNT(*) FROM device_events WHERE device_id = 'ret-b') AS c,
                (SELECT COUNT(*) FROM device_events WHERE at < {old}) AS d,
                (SELECT COUNT(*) FROM rollout_rate) AS e,
                (SELECT COUNT(*) FROM activity) AS f"
    ));
    let row = rows.first().unwrap_or_else(|| panic!("no row: {rows:?}"));
    ["a", "b", "c", "d", "e", "f"]
        .map(|k| row[k].as_u64().unwrap_or_else(|| panic!("{k} in {row}")))
}

fn history_of_a(server: &Server) -> Vec<String> {
    server
        .d1("SELECT detail FROM device_events WHERE device_id = 'ret-a' ORDER BY id")
        .iter()
        .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `n` history entries of `device` at `at`, numbered from `first` in `detail`.
fn events(device: &str, at: i64, first: u32, n: u32) -> String {
    format!(
        "INSERT INTO device_events (project_key, device_id, at, kind, detail)
         WITH RECURSIVE c(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM c WHERE i < {last})
         SELECT 'ret', '{device}', {at}, 'check', 'n' || i FROM c;",
        last = first + n - 1
    )
}

#[test]
fn the_scheduled_handler_purges_in_bounded_batches() {
    // A server of its own: the purge is global, and the counts below are exact.
    let server = Server::start_with(
        &temp_state_dir("retention"),
        &[("HISTORY_KEEP", "5"), ("HISTORY_DAYS", "30")],
    );
    let now = now_ms();
    let (minute, hour) = (now / 60_000, now / 3_600_000 * 3_600_000);
    let old = now - 40 * DAY_MS;
    // 2,500 entries past HISTORY_DAYS, one per device (so only their age removes them): more than
    // one run's batch of 2,000. Written first, as history is: the oldest entries have the lowest ids.
    let mut seed = vec![format!(
        "INSERT INTO device_events (project_key, device_id, at, kind, detail)
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2500)
         SELECT 'ret', 'ret-old-' || i, {old}, 'check', 'old' FROM c;"
    )];
    seed.extend([
        // Three signatures past their window, two still inside it.
        format!("INSERT INTO replay (key, until_ms) VALUES ('r1', {e}), ('r2', {e}), ('r3', {e}), ('r4', {l}), ('r5', {l});", e = now - 1_000, l = now + 3_600_000),
        // Device A has 12 recent entries (over the cap of 5), B has 3.
        events("ret-a", now - 60_000, 1, 12),
        events("ret-b", now - 60_000, 1, 3),
        // Rate-limit windows two hours old and current; activity 100 days old and current.
        format!("INSERT INTO rollout_rate (plan_id, minute, count) VALUES ('p1', {o}, 1), ('p2', {o}, 1), ('p3', {o}, 1), ('p1', {minute}, 1), ('p2', {minute}, 1);", o = minute - 120),
        format!("INSERT INTO activity (project_key, hour, checks, deliveries) VALUES ('ret', {o}, 1, 0), ('ret-2', {o}, 1, 0), ('ret', {hour}, 5, 1);", o = hour - 100 * DAY_MS),
    ]);
    server.d1(&seed.join("\n"));
    assert_eq!(tables(&server), [5, 12, 3, 2500, 5, 3]);

    server.run_scheduled();
    assert_eq!(tables(&server), [2, 5, 3, 500, 2, 1], "after the first run");
    // The newest entries are the ones kept.
    assert_eq!(history_of_a(&server), ["n8", "n9", "n10", "n11", "n12"]);

    server.run_scheduled();
    assert_eq!(tables(&server), [2, 5, 3, 0, 2, 1], "after the second run");

    // New history over the cap is found again (past the retention cursor), and a family that
    // fails (its table gone) does not stop the others.
    server.d1(&format!(
        "{} INSERT INTO activity (project_key, hour, checks, deliveries) VALUES ('ret-3', {o}, 1, 0); DROP TABLE rollout_rate;",
        events("ret-a", now - 30_000, 13, 3),
        o = hour - 100 * DAY_MS
    ));
    server.run_scheduled();
    assert_eq!(history_of_a(&server), ["n11", "n12", "n13", "n14", "n15"]);
    let activity = server.d1("SELECT COUNT(*) AS n FROM activity");
    assert_eq!(
        activity.first().map(|r| r["n"].clone()),
        Some(1.into()),
        "old activity left"
    );
    let log = std::fs::read_to_string(server.state.join("wrangler.log")).unwrap_or_default();
    assert!(
        log.contains("retention: purging rollout_rate failed"),
        "no log line for the failing family:\n{log}"
    );
}
