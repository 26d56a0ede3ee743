//! Staged rollouts as a fleet of LuatOS `libfota2` devices lives them: verification by test
//! devices, sticky percentage stages, the health gate pausing on a failing cohort, the operator's
//! controls, the rate limit and UTC window, job timeouts, and the counts the status reports.
//!
//! Expected answers are computed here from the documented rule (a device's bucket is
//! `sha256(plan_id "\0" device_id)` in `0..10000`, `plan_id` = `{project}/{firmware}@{target}`),
//! never read back from the edge, and the status counts are checked against what the devices saw.

use crate::{device_request, eventually, imei, luatos_get};
use fota_shared::api::plans::RolloutStatus;
use fota_shared::model::rollout::{RolloutCounts, RolloutPhase};
use fota_tests::{image, shared_server, RawResponse, Server};
use serde_json::json;
use std::collections::BTreeSet;

const FW: &str = "ro_LuatOS-SoC_Air780EHV";
const FROM: &str = "1.0.0";
const TARGET: &str = "1.0.1";

/// What a device got from one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `200` with exactly the planned image.
    Image,
    /// A refusal: status and `{"code":N}`.
    Refused(u16, u64),
}

const UP_TO_DATE: Answer = Answer::Refused(404, 60);
const OUTSIDE_STAGE: Answer = Answer::Refused(404, 61);
const BANNED: Answer = Answer::Refused(403, 62);
const NOT_NOW: Answer = Answer::Refused(404, 67);

/// The rollout's identity, as documented: one per plan target.
fn plan_id(project: &str) -> String {
    format!("{project}/{FW}@{TARGET}")
}

/// The device's sticky bucket in `0..10000`: the first 8 bytes of
/// `sha256(plan_id "\0" device_id)`, big-endian, modulo 10000.
fn bucket(plan_id: &str, device_id: &str) -> u32 {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(plan_id)
        .chain_update([0u8])
        .chain_update(device_id)
        .finalize();
    (u64::from_be_bytes(digest[..8].try_into().unwrap()) % 10_000) as u32
}

/// Is the device inside a stage of `percent`?
fn in_stage(project: &str, device_id: &str, percent: u32) -> bool {
    bucket(&plan_id(project), device_id) < percent * 100
}

/// One fresh (no `Range`) libfota2 check of `FW` by `id` running `version`.
fn ask(server: &Server, project: &str, id: &str, version: &str) -> RawResponse {
    let url = format!("/api/site/firmware_upgrade?imei={id}&project_key={project}&firmware_name={FW}&version={version}");
    device_request(server, &luatos_get(server, &url))
}

/// What the answer was, after checking it is well formed: the exact image with its
/// `Content-Length`, or a refusal with a fixed-length JSON body.
#[track_caller]
fn answer_of(resp: &RawResponse, img: &[u8]) -> Answer {
    if resp.status == 200 {
        resp.expect_image(200, img);
        return Answer::Image;
    }
    let code = resp.json()["code"].as_u64().unwrap_or_else(|| {
        panic!(
            "refusal without a code: {}",
            String::from_utf8_lossy(&resp.body)
        )
    });
    resp.expect_refusal(resp.status, code);
    Answer::Refused(resp.status, code)
}

#[track_caller]
fn check(server: &Server, project: &str, id: &str, version: &str, img: &[u8]) -> Answer {
    answer_of(&ask(server, project, id, version), img)
}

/// Every device of `ids` checks once, one after the other; the answers in `ids` order.
fn check_all(
    server: &Server,
    project: &str,
    ids: &[String],
    version: &str,
    img: &[u8],
) -> Vec<Answer> {
    ids.iter()
        .map(|id| check(server, project, id, version, img))
        .collect()
}

/// Every device of `ids` checks once, `at_once` of them at the same time, as a real fleet
/// does; the answers in `ids` order.
fn check_all_at_once(
    server: &Server,
    project: &str,
    ids: &[String],
    version: &str,
    img: &[u8],
    at_once: usize,
) -> Vec<Answer> {
    fota_tests::at_once(ids, at_once, |id| check(server, project, id, version, img))
}

fn status(server: &Server, project: &str) -> RolloutStatus {
    let resp = server.admin(
        "GET",
        &format!("/projects/{project}/plans/{FW}/status"),
        b"",
    );
    resp.expect_status(200);
    serde_json::from_value(resp.json()).unwrap_or_else(|e| {
        panic!(
            "status is not a RolloutStatus ({e}): {}",
            String::from_utf8_lossy(&resp.body)
        )
    })
}

fn control(server: &Server, project: &str, action: &str) -> RawResponse {
    server.admin(
        "POST",
        &format!("/projects/{project}/plans/{FW}/{action}"),
        b"",
    )
}

/// An operator's control that must succeed; the status it answers.
#[track_caller]
fn control_ok(server: &Server, project: &str, action: &str) -> RolloutStatus {
    let resp = control(server, project, action);
    resp.expect_status(200);
    serde_json::from_value(resp.json())
        .unwrap_or_else(|e| panic!("{action} did not answer a RolloutStatus ({e})"))
}

/// An operator's control the rollout's phase does not allow: 409 `invalid_transition`.
#[track_caller]
fn control_refused(server: &Server, project: &str, action: &str) {
    let resp = control(server, project, action);
    resp.expect_status(409);
    assert_eq!(
        resp.json()["error"]["code"],
        "invalid_transition",
        "{action}: {}",
        String::from_utf8_lossy(&resp.body)
    );
}

/// Polls the status until `done` holds (success reports are recorded in the background), for
/// at most 5 s; panics with the last status otherwise.
#[track_caller]
fn wait_status(
    server: &Server,
    project: &str,
    what: &str,
    done: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    let mut last = None;
    let reached = eventually(5, || {
        let s = status(server, project);
        let ok = done(&s);
        last = Some(s);
        ok
    });
    assert!(reached, "{what}: not reached within 5 s; status: {last:#?}");
    last.expect("polled at least once")
}

fn counts(
    eligible: u64,
    offered: u64,
    succeeded: u64,
    failed: u64,
    banned: u64,
    pending: u64,
) -> RolloutCounts {
    RolloutCounts {
        eligible,
        offered,
        succeeded,
        failed,
        banned,
        pending,
        reported_without_delivery: 0,
    }
}

fn sum(a: RolloutCounts, b: RolloutCounts) -> RolloutCounts {
    counts(
        a.eligible + b.eligible,
        a.offered + b.offered,
        a.succeeded + b.succeeded,
        a.failed + b.failed,
        a.banned + b.banned,
        a.pending + b.pending,
    )
}

/// `totals` is `verification` plus every stage, and every offer is pending or has one outcome.
#[track_caller]
fn assert_consistent(s: &RolloutStatus) {
    let added = s
        .stages
        .iter()
        .fold(s.verification, |acc, st| sum(acc, st.counts));
    assert_eq!(
        s.totals, added,
        "totals are not verification + stages: {s:#?}"
    );
    for c in std::iter::once(&s.totals)
        .chain(std::iter::once(&s.verification))
        .chain(s.stages.iter().map(|st| &st.counts))
    {
        assert_eq!(
            c.pending + c.succeeded + c.failed + c.banned,
            c.offered,
            "offers without exactly one state: {s:#?}"
        );
    }
}

fn device_record(server: &Server, project: &str, id: &str) -> serde_json::Value {
    server
        .admin("GET", &format!("/projects/{project}/devices/{id}"), b"")
        .expect_status(200)
        .json()
}

/// The ids `GET .../devices?state=` lists.
fn listed_in_state(server: &Server, project: &str, state: &str) -> BTreeSet<String> {
    let list = server
        .admin(
            "GET",
            &format!("/projects/{project}/devices?state={state}&limit=1000"),
            b"",
        )
        .expect_status(200)
        .json();
    assert!(
        list.get("next_cursor").is_none_or(|c| c.is_null()),
        "{list}"
    );
    list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// The scenario: 3 test devices, then 10%, then 100% of 300 devices, with a cohort whose
/// upgrade never takes (it downloads again until banned) tripping the health gate in stage 0.
#[test]
fn a_staged_rollout_verifies_pauses_on_a_failing_cohort_and_completes_with_exact_counts() {
    let server = shared_server();
    let p = "ro-fleet";
    let img = image(7010, 3000);
    let testers: Vec<String> = (0..3).map(|n| imei(701, 9_000 + n)).collect();
    let fleet: Vec<String> = (0..300).map(|n| imei(701, n)).collect();
    // Devices first seen while the rollout is paused: two inside stage 0's share, one outside.
    // They are served by their bucket like the fleet, but the rollout never saw them before it
    // started, so they are counted apart (`unverified`) and move no gate.
    let late_first: Vec<String> = (1_000..)
        .map(|n| imei(701, n))
        .filter(|id| in_stage(p, id, 10))
        .take(2)
        .collect();
    let late_rest = (1_000..)
        .map(|n| imei(701, n))
        .find(|id| !in_stage(p, id, 10))
        .unwrap();
    server.setup_known(
        p,
        Some(2),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "verify_devices": testers, "stages": [10, 100], "min_sample": 10, "max_failure_ratio": 0.2 } }),
        &fleet,
        FROM,
    );
    let cohort0: Vec<&String> = fleet.iter().filter(|id| in_stage(p, id, 10)).collect();
    let cohort1: Vec<&String> = fleet.iter().filter(|id| !in_stage(p, id, 10)).collect();
    let n0 = cohort0.len() as u64;
    assert!(
        (15..=45).contains(&n0),
        "10% of 300 drew {n0} devices: the bucket spread is off"
    );

    // What the devices saw, to compare with the status at the end.
    let mut got_image: BTreeSet<String> = BTreeSet::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    let mut banned: BTreeSet<String> = BTreeSet::new();

    // Verifying: only the test devices get the image.
    let answers = check_all(server, p, &fleet, FROM, &img);
    for (id, a) in fleet.iter().zip(&answers) {
        assert_eq!(*a, OUTSIDE_STAGE, "{id} while verifying");
    }
    for t in &testers {
        assert_eq!(
            check(server, p, t, FROM, &img),
            Answer::Image,
            "test device {t}"
        );
        got_image.insert(t.clone());
    }
    let s = status(server, p);
    assert_eq!(
        (s.state, s.stage, s.percent),
        (RolloutPhase::Verifying, -1, 0),
        "{s:#?}"
    );
    assert_eq!(s.verification, counts(3, 3, 0, 0, 0, 3), "{s:#?}");
    // A device whose stage has not opened is answered from the rollout's summary and costs no
    // write: no cohort counts it until its stage opens and it asks again.
    assert_eq!(
        s.stages[0].counts,
        counts(0, 0, 0, 0, 0, 0),
        "no fleet device is counted before its stage opens: {s:#?}"
    );
    assert_eq!(s.stages[1].counts, counts(0, 0, 0, 0, 0, 0), "{s:#?}");
    assert_consistent(&s);

    // The test devices report the target: the rollout moves to stage 0 by itself.
    for t in &testers {
        assert_eq!(
            check(server, p, t, TARGET, &img),
            UP_TO_DATE,
            "test device {t} reporting the target"
        );
        reported.insert(t.clone());
    }
    let s = wait_status(server, p, "verification passed", |s| {
        s.state == RolloutPhase::Running
    });
    assert_eq!(
        (s.stage, s.percent, s.verification),
        (0, 10, counts(3, 3, 3, 0, 0, 0)),
        "{s:#?}"
    );

    // Stage 0: exactly the devices whose bucket is below 1000 get the image.
    let answers = check_all(server, p, &fleet, FROM, &img);
    for (id, a) in fleet.iter().zip(&answers) {
        let want = if in_stage(p, id, 10) {
            Answer::Image
        } else {
            OUTSIDE_STAGE
        };
        assert_eq!(
            *a,
            want,
            "{id} (bucket {}) in stage 0",
            bucket(&plan_id(p), id)
        );
    }
    got_image.extend(cohort0.iter().map(|id| id.to_string()));
    let s = status(server, p);
    assert_eq!((s.state, s.stage), (RolloutPhase::Running, 0), "{s:#?}");
    assert_eq!(s.stages[0].counts, counts(n0, n0, 0, 0, 0, n0), "{s:#?}");
    assert_eq!(
        s.stages[1].counts,
        counts(0, 0, 0, 0, 0, 0),
        "stage 1 has not opened: its devices are not counted yet: {s:#?}"
    );
    assert_eq!(s.totals.eligible, n0 + 3, "{s:#?}");
    assert_consistent(&s);

    // The failing cohort: three devices whose upgrade never takes download again; the second
    // delivery bans them (ban_after 2), which fails them in the rollout. Three failures in three
    // outcomes is far above 0.2, but below min_sample the gate does not judge.
    for (k, id) in cohort0[..3].iter().enumerate() {
        assert_eq!(
            check(server, p, id, FROM, &img),
            Answer::Image,
            "{id}: second delivery"
        );
        assert_eq!(
            check(server, p, id, FROM, &img),
            BANNED,
            "{id}: third download"
        );
        banned.insert(id.to_string());
        let s = status(server, p);
        assert_eq!(
            (s.state, s.stages[0].counts.banned),
            (RolloutPhase::Running, k as u64 + 1),
            "after {} bans: {s:#?}",
            k + 1
        );
    }
    // Seven successes follow; the one that completes the sample of 10 (3 of 10 failed) trips it.
    for (k, id) in cohort0[3..10].iter().enumerate() {
        assert_eq!(
            check(server, p, id, TARGET, &img),
            UP_TO_DATE,
            "{id} reporting the target"
        );
        reported.insert(id.to_string());
        let s = wait_status(server, p, &format!("success of {id}"), |s| {
            s.stages[0].counts.succeeded == k as u64 + 1
        });
        let outcomes = 3 + k + 1;
        if outcomes < 10 {
            assert_eq!(
                s.state,
                RolloutPhase::Running,
                "paused after only {outcomes} outcomes: {s:#?}"
            );
            assert_eq!(s.paused_reason, None);
        } else {
            assert_eq!(
                s.state,
                RolloutPhase::Paused,
                "3 of {outcomes} failed, above 0.2: {s:#?}"
            );
            let reason = s.paused_reason.clone().unwrap_or_default();
            assert!(
                reason.contains("stage 0 (10%)") && reason.contains("3 of 10 outcomes failed"),
                "paused_reason: {reason:?}"
            );
        }
    }

    // Paused: no new offers. Devices never seen before get 67 inside the stage and 61 outside it,
    // the same answer the stage gives them when the rollout runs.
    for id in &late_first {
        assert_eq!(
            check(server, p, id, FROM, &img),
            NOT_NOW,
            "{id}, in stage 0, first seen while paused"
        );
    }
    assert_eq!(
        check(server, p, &late_rest, FROM, &img),
        OUTSIDE_STAGE,
        "{late_rest}, outside stage 0, first seen while paused"
    );
    for id in cohort1.iter().take(20) {
        assert_eq!(
            check(server, p, id, FROM, &img),
            OUTSIDE_STAGE,
            "{id} outside stage 0 while paused"
        );
    }
    // The banned stay banned; an operator cannot advance a paused rollout.
    assert_eq!(check(server, p, cohort0[0], FROM, &img), BANNED);
    control_refused(server, p, "advance");
    assert_eq!(status(server, p).state, RolloutPhase::Paused);

    // Resumed: stage 0 offers again (to the late devices of its share), and the rest of the
    // stage reports success, which does not pause it again.
    let s = control_ok(server, p, "resume");
    assert_eq!(
        (s.state, s.stage, s.paused_reason.as_deref()),
        (RolloutPhase::Running, 0, None),
        "{s:#?}"
    );
    for id in &late_first {
        assert_eq!(
            check(server, p, id, FROM, &img),
            Answer::Image,
            "{id}, late in stage 0"
        );
        got_image.insert(id.clone());
    }
    let rest0: Vec<String> = cohort0[10..]
        .iter()
        .map(|id| id.to_string())
        .chain(late_first.iter().cloned())
        .collect();
    for (id, a) in rest0.iter().zip(check_all(server, p, &rest0, TARGET, &img)) {
        assert_eq!(a, UP_TO_DATE, "{id} reporting the target");
    }
    reported.extend(rest0.iter().cloned());
    let succeeded0 = n0 - 3;
    let s = wait_status(server, p, "stage 0 settled", |s| {
        s.stages[0].counts.succeeded == succeeded0 && s.unverified.succeeded == 2
    });
    assert_eq!(s.state, RolloutPhase::Running, "{s:#?}");
    assert_eq!(
        s.stages[0].counts,
        counts(n0, n0, succeeded0, 0, 3, 0),
        "{s:#?}"
    );
    assert_eq!(
        s.unverified,
        counts(2, 2, 2, 0, 0, 0),
        "the late devices, apart (the one outside stage 0 not counted yet): {s:#?}"
    );

    // Advance to 100%: every device not yet offered gets the image now.
    let s = control_ok(server, p, "advance");
    assert_eq!(
        (s.state, s.stage, s.percent),
        (RolloutPhase::Running, 1, 100),
        "{s:#?}"
    );
    let mut rest1: Vec<String> = cohort1.iter().map(|id| id.to_string()).collect();
    rest1.push(late_rest.clone());
    for (id, a) in rest1.iter().zip(check_all(server, p, &rest1, FROM, &img)) {
        assert_eq!(a, Answer::Image, "{id} in stage 1 (100%)");
    }
    got_image.extend(rest1.iter().cloned());
    // Stage 0's devices keep their answers: the banned are refused, the upgraded are up to date.
    for id in &cohort0[..3] {
        assert_eq!(check(server, p, id, FROM, &img), BANNED, "{id}");
    }
    assert_eq!(check(server, p, cohort0[5], TARGET, &img), UP_TO_DATE);
    // All but five report the target; those five stay pending.
    let reporters = &rest1[..rest1.len() - 5];
    for (id, a) in reporters
        .iter()
        .zip(check_all(server, p, reporters, TARGET, &img))
    {
        assert_eq!(a, UP_TO_DATE, "{id} reporting the target");
    }
    reported.extend(reporters.iter().cloned());
    let succeeded1 = reporters.len() as u64;
    let s = wait_status(server, p, "stage 1 successes", |s| {
        s.stages[1].counts.succeeded == succeeded1
    });

    // The counts are exactly what the devices saw: the fleet and the test devices in their
    // cohorts and the totals, the three late devices (one of them among the five pending) apart.
    let late: BTreeSet<String> = late_first
        .iter()
        .cloned()
        .chain([late_rest.clone()])
        .collect();
    let n1 = cohort1.len() as u64;
    assert_eq!(s.state, RolloutPhase::Running, "{s:#?}");
    assert_eq!(s.verification, counts(3, 3, 3, 0, 0, 0), "{s:#?}");
    assert_eq!(
        s.stages[0].counts,
        counts(n0, n0, succeeded0, 0, 3, 0),
        "{s:#?}"
    );
    assert_eq!(
        s.stages[1].counts,
        counts(n1, n1, succeeded1, 0, 0, 4),
        "{s:#?}"
    );
    assert_eq!(s.unverified, counts(3, 3, 2, 0, 0, 1), "{s:#?}");
    let trusted = |set: &BTreeSet<String>| set.difference(&late).count() as u64;
    let (offered, succeeded) = (trusted(&got_image), trusted(&reported));
    let outcomes = succeeded + banned.len() as u64;
    assert_eq!(
        s.totals,
        counts(
            offered,
            offered,
            succeeded,
            0,
            banned.len() as u64,
            offered - outcomes
        ),
        "{s:#?}"
    );
    assert_eq!(s.totals.eligible, 300 + 3, "the fleet and the test devices");
    assert_consistent(&s);
    assert_eq!(listed_in_state(server, p, "banned"), banned);
    assert_eq!(
        listed_in_state(server, p, "offered"),
        rest1[rest1.len() - 5..]
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
    );

    // Past the last stage the rollout is completed; there is nothing further to advance to.
    let s = control_ok(server, p, "advance");
    assert_eq!(
        (s.state, s.stage, s.percent),
        (RolloutPhase::Completed, 1, 100),
        "{s:#?}"
    );
    control_refused(server, p, "advance");
}

/// A device keeps its answer while the stage stays, and raising the stage only ever adds devices.
#[test]
fn buckets_are_sticky_and_advancing_never_drops_an_offered_device() {
    let server = shared_server();
    let p = "ro-sticky";
    let img = image(7020, 2500);
    let fleet: Vec<String> = (0..80).map(|n| imei(702, n)).collect();
    server.setup_known(
        p,
        Some(20),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [10, 50, 100] } }),
        &fleet,
        FROM,
    );
    const STAGES: [u32; 3] = [10, 50, 100];
    let mut offered: BTreeSet<String> = BTreeSet::new();
    for (stage, percent) in STAGES.into_iter().enumerate() {
        if stage > 0 {
            let s = control_ok(server, p, "advance");
            assert_eq!(
                (s.state, s.stage, s.percent),
                (RolloutPhase::Running, stage as i32, percent),
                "{s:#?}"
            );
        }
        // Three rounds of checks: each device gets the same answer every time.
        for round in 0..3 {
            for (id, a) in fleet.iter().zip(check_all(server, p, &fleet, FROM, &img)) {
                if offered.contains(id) {
                    assert_eq!(
                        a,
                        Answer::Image,
                        "{id} was offered before and is dropped at {percent}%, round {round}"
                    );
                }
                let want = if in_stage(p, id, percent) {
                    Answer::Image
                } else {
                    OUTSIDE_STAGE
                };
                assert_eq!(
                    a,
                    want,
                    "{id} (bucket {}) at {percent}%, round {round}",
                    bucket(&plan_id(p), id)
                );
                if a == Answer::Image {
                    offered.insert(id.clone());
                }
            }
        }
        // Each stage's counters hold the first offers of its own slice of buckets.
        let s = status(server, p);
        assert_eq!(
            s.totals.offered,
            offered.len() as u64,
            "at {percent}%: {s:#?}"
        );
        let per_stage: Vec<u64> = s.stages.iter().map(|st| st.counts.offered).collect();
        let want: Vec<u64> = (0..STAGES.len())
            .map(|i| {
                let lower = if i == 0 { 0 } else { STAGES[i - 1] };
                let slice = fleet
                    .iter()
                    .filter(|id| in_stage(p, id, STAGES[i]) && !in_stage(p, id, lower))
                    .count() as u64;
                if i <= stage {
                    slice
                } else {
                    0
                }
            })
            .collect();
        assert_eq!(per_stage, want, "offers per stage at {percent}%");
        assert_consistent(&s);
    }
    assert_eq!(offered.len(), fleet.len());
}

/// While paused, a device outside the current stage must not get one code on its first check
/// and another on the next: the answer may come from the edge's memory or from its storage.
#[test]
fn a_paused_rollout_answers_a_device_outside_its_stage_the_same_every_time() {
    let server = shared_server();
    let p = "ro-paused-outside";
    let img = image(7025, 2000);
    server.setup(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [10, 100] } }),
    );
    let outside = (0..)
        .map(|n| imei(702, 500 + n))
        .find(|id| !in_stage(p, id, 10))
        .unwrap();
    let before = check(server, p, &outside, FROM, &img);
    assert_eq!(
        before, OUTSIDE_STAGE,
        "{outside} outside stage 0 while running"
    );
    control_ok(server, p, "pause");
    let first = check(server, p, &outside, FROM, &img);
    let again = check(server, p, &outside, FROM, &img);
    assert_eq!(
        first, again,
        "{outside} while paused: first check {first:?}, the next {again:?}"
    );

    let fresh = (0..)
        .map(|n| imei(702, 600 + n))
        .find(|id| !in_stage(p, id, 10))
        .unwrap();
    let first = check(server, p, &fresh, FROM, &img);
    let again = check(server, p, &fresh, FROM, &img);
    assert_eq!(
        first, again,
        "{fresh}, first seen while paused: first check {first:?}, the next {again:?}"
    );
}

/// A cancelled rollout offers nothing, not even to devices already offered, and is over.
#[test]
fn a_cancelled_rollout_offers_nothing_and_cannot_be_resumed() {
    let server = shared_server();
    let p = "ro-cancel";
    let img = image(7030, 3000);
    let (offered, fresh) = (imei(703, 1), imei(703, 2));
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        std::slice::from_ref(&offered),
        FROM,
    );
    assert_eq!(check(server, p, &offered, FROM, &img), Answer::Image);
    let s = control_ok(server, p, "cancel");
    assert_eq!(s.state, RolloutPhase::Cancelled, "{s:#?}");
    assert_eq!(s.totals, counts(1, 1, 0, 0, 0, 1), "{s:#?}");
    for id in [&offered, &fresh, &offered, &fresh] {
        assert_eq!(
            check(server, p, id, FROM, &img),
            NOT_NOW,
            "{id} after cancel"
        );
    }
    for action in ["resume", "advance", "pause", "cancel"] {
        control_refused(server, p, action);
    }
    let s = status(server, p);
    assert_eq!(s.state, RolloutPhase::Cancelled, "{s:#?}");
    assert_eq!(check(server, p, &fresh, FROM, &img), NOT_NOW);
}

fn clock_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
}

/// `max_per_minute` caps first offers across the fleet in one clock minute, even when devices
/// check at once; devices already offered keep their offer.
#[test]
fn the_rate_limit_caps_first_offers_per_clock_minute() {
    let server = shared_server();
    let img = image(7040, 2000);
    for attempt in 0..3u32 {
        // Start early in a minute, so the 20 checks fit in it; if the minute still turns, retry.
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60;
        if second > 45 {
            std::thread::sleep(std::time::Duration::from_secs(61 - second));
        }
        let p = format!("ro-rate-{attempt}");
        let fleet: Vec<String> = (0..20).map(|n| imei(704, attempt * 100 + n)).collect();
        server.setup_known(
            &p,
            None,
            FW,
            TARGET,
            &img,
            json!({ "rollout": { "stages": [100], "max_per_minute": 5 } }),
            &fleet,
            FROM,
        );
        let minute = clock_minute();
        let answers = check_all(server, &p, &fleet, FROM, &img);
        let served: Vec<&String> = fleet
            .iter()
            .zip(&answers)
            .filter(|(_, a)| **a == Answer::Image)
            .map(|(id, _)| id)
            .collect();
        let refused: Vec<&String> = fleet
            .iter()
            .zip(&answers)
            .filter(|(_, a)| **a == NOT_NOW)
            .map(|(id, _)| id)
            .collect();
        // The offered devices download again; a refused one asks again within the minute.
        let again = check(server, &p, served[0], FROM, &img);
        let refused_again = check(server, &p, refused[0], FROM, &img);
        if clock_minute() != minute {
            eprintln!("the clock minute turned during attempt {attempt}; retrying");
            continue;
        }
        assert_eq!(
            (served.len(), refused.len()),
            (5, 15),
            "answers: {answers:?}"
        );
        assert_eq!(
            again,
            Answer::Image,
            "{} was offered and keeps its offer",
            served[0]
        );
        assert_eq!(
            refused_again, NOT_NOW,
            "{} within the same minute",
            refused[0]
        );
        let s = status(server, &p);
        assert_eq!(s.totals, counts(20, 5, 0, 0, 0, 5), "{s:#?}");
        return;
    }
    panic!("the clock minute turned during every attempt");
}

/// "HH:MM" of the UTC minute of the day `offset` minutes from now.
fn utc_hhmm(offset: i64) -> String {
    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60) as i64;
    let m = (now + offset).rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Outside its `window_utc` a rollout offers nothing to the fleet (test devices are exempt);
/// inside it, due devices are served.
#[test]
fn the_utc_window_holds_offers_outside_it() {
    let server = shared_server();
    let img = image(7050, 2000);
    let (shut, open) = ("ro-window-shut", "ro-window-open");
    let tester = imei(705, 900);
    let shut_fleet: Vec<String> = (0..5).map(|n| imei(705, n)).collect();
    let open_fleet: Vec<String> = (100..105).map(|n| imei(705, n)).collect();
    server.setup_known(
        shut,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100], "verify_devices": [tester], "window_utc": [utc_hhmm(10), utc_hhmm(20)] } }),
        &shut_fleet,
        FROM,
    );
    let open_plan =
        json!({ "rollout": { "stages": [100], "window_utc": [utc_hhmm(-10), utc_hhmm(10)] } });
    server.setup_known(open, None, FW, TARGET, &img, open_plan, &open_fleet, FROM);
    assert_eq!(
        check(server, shut, &tester, FROM, &img),
        Answer::Image,
        "a test device is exempt from the window"
    );
    let s = control_ok(server, shut, "advance");
    assert_eq!((s.state, s.stage), (RolloutPhase::Running, 0), "{s:#?}");
    let fleet = shut_fleet;
    for (id, a) in fleet
        .iter()
        .zip(check_all(server, shut, &fleet, FROM, &img))
    {
        assert_eq!(a, NOT_NOW, "{id} outside the window");
    }
    let s = status(server, shut);
    assert_eq!((s.totals.eligible, s.totals.offered), (6, 1), "{s:#?}");

    let fleet = open_fleet;
    for (id, a) in fleet
        .iter()
        .zip(check_all(server, open, &fleet, FROM, &img))
    {
        assert_eq!(a, Answer::Image, "{id} inside the window");
    }
    assert_eq!(status(server, open).totals, counts(5, 5, 0, 0, 0, 5));
}

/// A Luat test device whose upgrade never takes is banned. Its downloads are unsigned, so anyone
/// knowing its IMEI could have caused that ban: verification pauses with the reason instead of
/// failing for good; the operator unbans the device, it reports the target, and resuming runs
/// the first stage.
#[test]
fn a_banned_test_device_pauses_verification_for_the_operator() {
    let server = shared_server();
    let p = "ro-verify-ban";
    let img = image(7060, 3000);
    let (t1, t2, other) = (imei(706, 1), imei(706, 2), imei(706, 3));
    server.setup_known(
        p,
        Some(2),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100], "verify_devices": [t1, t2] } }),
        std::slice::from_ref(&other),
        FROM,
    );
    assert_eq!(check(server, p, &t1, FROM, &img), Answer::Image);
    assert_eq!(check(server, p, &t2, FROM, &img), Answer::Image);
    assert_eq!(check(server, p, &t2, TARGET, &img), UP_TO_DATE);
    let s = wait_status(server, p, "t2's success", |s| s.verification.succeeded == 1);
    assert_eq!(
        (s.state, s.verification),
        (RolloutPhase::Verifying, counts(2, 2, 1, 0, 0, 1)),
        "{s:#?}"
    );
    // The second delivery reaches ban_after: the device is banned and verification pauses
    // (counted once its bytes have gone out, a moment after the answer).
    assert_eq!(check(server, p, &t1, FROM, &img), Answer::Image);
    let s = wait_status(server, p, "t1's ban", |s| s.verification.banned == 1);
    assert_eq!(
        (s.state, s.stage, s.failed_reason.as_deref()),
        (RolloutPhase::Paused, -1, None),
        "{s:#?}"
    );
    assert_eq!(s.verification, counts(2, 2, 1, 0, 1, 0), "{s:#?}");
    let reason = s.paused_reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&t1) && reason.contains("banned") && reason.contains("unsigned"),
        "paused_reason: {reason:?}"
    );
    assert_eq!(check(server, p, &t1, FROM, &img), BANNED);
    assert_eq!(
        check(server, p, &other, FROM, &img),
        OUTSIDE_STAGE,
        "no stage opens while verification is held"
    );
    // The operator checks the device and lifts the ban; it downloads the image again (the
    // delivery that banned it was spent by the ban), upgrades and reports the target.
    server
        .admin("POST", &format!("/projects/{p}/devices/{t1}/unban"), b"")
        .expect_status(200);
    assert_eq!(check(server, p, &t1, FROM, &img), Answer::Image);
    assert_eq!(check(server, p, &t1, TARGET, &img), UP_TO_DATE);
    let s = wait_status(server, p, "verification passed while paused", |s| {
        s.verification.succeeded == 2
    });
    assert_eq!((s.state, s.stage), (RolloutPhase::Paused, 0), "{s:#?}");
    let s = control_ok(server, p, "resume");
    assert_eq!(
        (s.state, s.stage, s.percent),
        (RolloutPhase::Running, 0, 100),
        "{s:#?}"
    );
    assert_eq!(check(server, p, &other, FROM, &img), Answer::Image);
}

/// An offered device that never reports the target fails when `job_timeout_s` runs out; a status
/// read is enough to notice (it sweeps), and the device's record and history say so.
#[test]
fn an_offered_device_that_never_reports_times_out() {
    let server = shared_server();
    let p = "ro-timeout";
    let img = image(7070, 2000);
    let d = imei(707, 1);
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] }, "job_timeout_s": 1 }),
        std::slice::from_ref(&d),
        FROM,
    );
    assert_eq!(check(server, p, &d, FROM, &img), Answer::Image);
    std::thread::sleep(std::time::Duration::from_millis(2_200));
    let s = status(server, p);
    assert_eq!(s.totals, counts(1, 1, 0, 1, 0, 0), "{s:#?}");
    let record = device_record(server, p, &d);
    assert_eq!(record["state"], "failed", "{record}");
    assert_eq!(
        record["cause"], "no success within job_timeout_s of the offer",
        "{record}"
    );
    let history = server
        .admin("GET", &format!("/projects/{p}/devices/{d}/history"), b"")
        .expect_status(200)
        .json();
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // The rollout's events follow each other; the registry's "version" entry is written by the
    // registry's own deferred batch, so it may land anywhere after the registration.
    let rollout_kinds: Vec<&str> = kinds.iter().copied().filter(|k| *k != "version").collect();
    assert_eq!(
        rollout_kinds,
        ["registered", "offered", "delivery", "failed"],
        "{history}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "version").count(),
        1,
        "{history}"
    );

    // A late report follows no delivery since the timeout (the timeout spent the one before): it
    // is not believed, and the device stays failed.
    assert_eq!(check(server, p, &d, TARGET, &img), UP_TO_DATE);
    let s = wait_status(server, p, "late report", |s| {
        s.totals.reported_without_delivery == 1
    });
    assert_eq!((s.totals.failed, s.totals.succeeded), (1, 0), "{s:#?}");
    assert_eq!(device_record(server, p, &d)["state"], "failed");
    // A new delivery, then the report: a late success, from failed to succeeded. The stream's
    // count reaches the rollout once its last byte is out (`edge/src/delivery.rs`), as a real
    // device's report comes after it has written and booted the image: the report waits for it.
    let delivered = device_record(server, p, &d)["deliveries"].as_u64();
    assert_eq!(check(server, p, &d, FROM, &img), Answer::Image);
    assert!(
        eventually(10, || device_record(server, p, &d)["deliveries"].as_u64()
            != delivered),
        "the new delivery is counted within 10 s"
    );
    assert_eq!(check(server, p, &d, TARGET, &img), UP_TO_DATE);
    let s = wait_status(server, p, "late success", |s| s.totals.succeeded == 1);
    assert_eq!(s.totals, counts(1, 1, 1, 0, 0, 0), "{s:#?}");
    assert_eq!(device_record(server, p, &d)["state"], "succeeded");
}

/// `GET .../devices?state=` lists exactly the devices whose job is in that state.
#[test]
fn the_device_list_filters_by_rollout_state() {
    let server = shared_server();
    let p = "ro-states";
    let img = image(7080, 2000);
    let inside: Vec<String> = (0..)
        .map(|n| imei(708, n))
        .filter(|id| in_stage(p, id, 50))
        .take(8)
        .collect();
    let idle: Vec<String> = (0..)
        .map(|n| imei(708, n))
        .filter(|id| !in_stage(p, id, 50))
        .take(2)
        .collect();
    let fleet: Vec<String> = inside.iter().chain(&idle).cloned().collect();
    server.setup_known(
        p,
        Some(2),
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [50, 100] }, "job_timeout_s": 8 }),
        &fleet,
        FROM,
    );
    let (failing, offered, succeeding, banned) =
        (&inside[0..2], &inside[2..4], &inside[4..6], &inside[6..8]);

    let started = std::time::Instant::now();
    for id in failing.iter().chain(succeeding).chain(banned) {
        assert_eq!(check(server, p, id, FROM, &img), Answer::Image, "{id}");
    }
    for id in banned {
        assert_eq!(
            check(server, p, id, FROM, &img),
            Answer::Image,
            "{id}: the delivery that bans it"
        );
        assert_eq!(check(server, p, id, FROM, &img), BANNED, "{id}");
    }
    for id in succeeding {
        assert_eq!(check(server, p, id, TARGET, &img), UP_TO_DATE, "{id}");
    }
    for id in &idle {
        assert_eq!(check(server, p, id, FROM, &img), OUTSIDE_STAGE, "{id}");
    }
    wait_status(server, p, "successes", |s| s.totals.succeeded == 2);
    // The failing pair was offered first: let its jobs time out, then offer the last pair. (The
    // successes must land within the timeout: a report after it follows no new delivery, so it
    // would not be believed.)
    std::thread::sleep(std::time::Duration::from_millis(8_000).saturating_sub(started.elapsed()));
    let timed_out = eventually(15, || status(server, p).totals.failed == 2);
    assert!(
        timed_out,
        "the failing pair timed out: {:#?}",
        status(server, p)
    );
    for id in offered {
        assert_eq!(check(server, p, id, FROM, &img), Answer::Image, "{id}");
    }
    let s = status(server, p);
    assert_eq!(
        s.totals,
        counts(8, 8, 2, 2, 2, 2),
        "the two devices outside the open stage are not counted: {s:#?}"
    );

    let set = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<String>>();
    assert_eq!(listed_in_state(server, p, "offered"), set(offered));
    assert_eq!(listed_in_state(server, p, "succeeded"), set(succeeding));
    assert_eq!(listed_in_state(server, p, "failed"), set(failing));
    assert_eq!(listed_in_state(server, p, "banned"), set(banned));
    // Devices whose stage has not opened are not counted by the rollout, and are listed idle.
    assert_eq!(listed_in_state(server, p, "idle"), set(&idle));
}

/// Devices check at the same time, as a real fleet does: every first sight, offer and success
/// must be counted once, whatever the interleaving (each is a compare-and-swap on the rollout).
#[test]
fn concurrent_checks_never_lose_a_count() {
    let server = shared_server();
    let p = "ro-concurrent";
    let img = image(7090, 2000);
    let fleet: Vec<String> = (0..40).map(|n| imei(709, n)).collect();
    server.setup_known(
        p,
        None,
        FW,
        TARGET,
        &img,
        json!({ "rollout": { "stages": [100] } }),
        &fleet,
        FROM,
    );
    for (id, a) in fleet
        .iter()
        .zip(check_all_at_once(server, p, &fleet, FROM, &img, 8))
    {
        assert_eq!(a, Answer::Image, "{id}");
    }
    // Every device's own row says offered: the registry and the rollout's counters must agree.
    assert_eq!(listed_in_state(server, p, "offered").len(), 40);
    let s = status(server, p);
    assert_eq!(
        s.totals,
        counts(40, 40, 0, 0, 0, 40),
        "40 devices got the image at once: {s:#?}"
    );

    for (id, a) in fleet
        .iter()
        .zip(check_all_at_once(server, p, &fleet, TARGET, &img, 8))
    {
        assert_eq!(a, UP_TO_DATE, "{id}");
    }
    let all_succeeded = eventually(5, || listed_in_state(server, p, "succeeded").len() == 40);
    assert!(
        all_succeeded,
        "device rows: {} succeeded",
        listed_in_state(server, p, "succeeded").len()
    );
    let s = status(server, p);
    assert_eq!(
        s.totals,
        counts(40, 40, 40, 0, 0, 0),
        "40 devices reported the target at once: {s:#?}"
    );
}
