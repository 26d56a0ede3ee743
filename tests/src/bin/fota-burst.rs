//! The release burst, for `make bench`: `count` devices make their first check of a plan, `clients` at a time (a new TCP connection per request, as devices do), then the same
//! devices check again running the target (reporting it), and once more (steady state). Prints the rates and their ratio, and every answer
//! that was not the expected one.
//!
//! usage: fota-burst PORT PROJECT FIRMWARE FROM TARGET COUNT CLIENTS IMEI_PREFIX
//!        fota-burst bind PORT PROJECT FIRMWARE FROM COUNT IMEI_PREFIX
//!
//! `bind` registers each device as a Luat device (with the admin token in `FOTA_TOKEN`) and makes
//! its first check before the plan exists, as a registered fleet that checked in before the
//! release has: the rollout then counts them as trusted (in its `totals`).

use fota_tests::Server;
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 7 && args[0] == "bind" {
        let port: u16 = args[1].parse().expect("PORT");
        let count: u32 = args[5].parse().expect("COUNT");
        let ids = ids(count, &args[6]);
        let server = Server::attach(port);
        let token = std::env::var("FOTA_TOKEN").expect("FOTA_TOKEN: the edge's admin token");
        server.register_luat_as(&token, &args[2], &ids);
        server.bind_fleet(&args[2], &args[3], &args[4], &ids);
        println!("registered and bound {count} devices to {}", args[2]);
        return;
    }
    if args.len() != 8 {
        eprintln!("usage: fota-burst PORT PROJECT FIRMWARE FROM TARGET COUNT CLIENTS IMEI_PREFIX");
        std::process::exit(2);
    }
    let port: u16 = args[0].parse().expect("PORT");
    let (project, firmware, from, target) = (&args[1], &args[2], &args[3], &args[4]);
    let count: u32 = args[5].parse().expect("COUNT");
    let clients: usize = args[6].parse().expect("CLIENTS");
    let prefix = &args[7];
    let server = Server::attach(port);
    let ids = ids(count, prefix);

    let (offers, first) = round(&server, project, firmware, from, &ids, clients);
    let (uptodate, second) = round(&server, project, firmware, target, &ids, clients);
    let (steady, third) = round(&server, project, firmware, target, &ids, clients);
    println!("first checks (offers):           {offers:.0} req/s  answers {first:?}");
    println!("first up-to-date checks (report): {uptodate:.0} req/s  answers {second:?}");
    println!("steady-state checks (again):      {steady:.0} req/s  answers {third:?}");
    println!(
        "ratio offers/up-to-date: {:.2} (goal >= 0.3); offers/steady-state: {:.2}",
        offers / uptodate,
        offers / steady
    );
    let served = first.get("200").copied().unwrap_or(0);
    let current = second.get("404/60").copied().unwrap_or(0);
    let still = third.get("404/60").copied().unwrap_or(0);
    if served != count as usize || current != count as usize || still != count as usize {
        eprintln!("fota-burst: expected {count} images then {count} up-to-date answers");
        std::process::exit(1);
    }
}

/// `count` 15-digit ids starting with `prefix`.
fn ids(count: u32, prefix: &str) -> Vec<String> {
    (0..count)
        .map(|i| format!("{prefix}{i:0width$}", width = 15 - prefix.len()))
        .collect()
}

/// Every device asks once; the rate and how many heard each answer.
fn round(
    server: &Server,
    project: &str,
    firmware: &str,
    version: &str,
    ids: &[String],
    clients: usize,
) -> (f64, BTreeMap<String, usize>) {
    let started = Instant::now();
    let answers = fota_tests::at_once(ids, clients, |id| {
        server.luat_answer(project, firmware, version, id)
    });
    let rate = ids.len() as f64 / started.elapsed().as_secs_f64();
    let mut tally = BTreeMap::new();
    for a in answers {
        *tally.entry(a).or_insert(0) += 1;
    }
    (rate, tally)
}
