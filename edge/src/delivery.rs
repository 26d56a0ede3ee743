//! A due Luat device's deliveries, told to its rollout (`fota_shared::rules::delivery`) in three
//! calls: the check's **attempt** (counted, gated, loop-upgrade protected, offered), each
//! **stream** of the image to the device, counted as the runtime takes its bytes and told to the
//! rollout when it ends (every byte out is a delivery), and the device's **report** of the
//! target (a success only after a delivery). A JSON device's module-OTA download is counted the
//! same way, against its project's daily budget only ([`notice_bytes`]).
//!
//! A stream is counted, not assumed: the body goes out through a `FixedLengthStream` (so the
//! runtime still sends `Content-Length`, never chunks) that a pump in `wait_until` feeds from the
//! image's copy. Each write completes when the runtime has taken the chunk for the connection,
//! so the count is what was handed to the network; a device that hangs up stops it (measured and
//! bounded in README's threat model: buffers between the edge and the device hold what it never
//! read).

use crate::error::AppResult;
use crate::rollout::{self, call_device, held_back, unexpected, Answer, Op, Rollout};
use fota_shared::leaf::code::Refusal;
use fota_shared::rules::download_url::{PlanParts, Recipient};
use fota_shared::rules::rollout_state::Provenance;
use std::future::Future;
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, ReadableStreamDefaultReader, WritableStreamDefaultWriter};
use worker::{Context, Env, Response, ResponseBody};

/// Bytes per write when the image is in isolate memory (R2 and the Cache API bring their own).
const CHUNK: usize = 64 * 1024;

/// A due Luat device's download, as the check hands it to the rollout.
pub struct Attempt {
    /// What the rollout may believe of the device at its first sight.
    pub from: Provenance,
    /// The loop-upgrade count's key (`fota_shared::rules::ban::target_key`).
    pub target: String,
    /// A `GET` of the whole image, or the redirect to it: counts the device as eligible and
    /// offered (a `HEAD` or a partial range gets the same answer and changes nothing).
    pub counts: bool,
    /// The project's `daily_bytes_per_device`.
    pub budget: Option<u64>,
    pub now: i64,
}

/// A Luat device an upgrade is due for asks: counted, gated, loop-upgrade protected and offered
/// in one call. `Ok` means send the image (or the redirect to it); nothing is delivered yet.
pub async fn attempt(
    env: &Env,
    r: &Rollout,
    id: &str,
    a: Attempt,
) -> AppResult<Result<(), Refusal>> {
    // Most due checks during a staged rollout come from devices whose stage has not opened:
    // they are answered from the rollout's summary.
    if let Some(refused) = held_back(env, r, id).await? {
        return Ok(Err(refused));
    }
    let op = Op::Attempt {
        device_id: id.into(),
        from: a.from,
        target: a.target,
        counts: a.counts,
        budget: a.budget,
        now: a.now,
    };
    match call_device(env, r, id, op).await? {
        Answer::Done => Ok(Ok(())),
        Answer::Refused(code) => Ok(Err(rollout::refusal(code))),
        other => Err(unexpected(r, other)),
    }
}

/// An ended stream of the image to a device, as the rollout hears of it.
pub struct Handout {
    /// The loop-upgrade count's key (`fota_shared::rules::ban::target_key`).
    pub target: String,
    pub ban_after: u32,
    /// The project's `daily_bytes_per_device`.
    pub budget: Option<u64>,
    /// The package that went out.
    pub sha256: String,
    /// The image's size, the stream's first byte, and how many bytes it handed out.
    pub size: u64,
    pub start: u64,
    pub bytes: u64,
}

/// Tells the device's rollout what a stream handed out (a delivery once every byte went out).
pub async fn handed(env: &Env, r: &Rollout, id: &str, h: Handout) -> AppResult<()> {
    let op = Op::Handed {
        device_id: id.into(),
        target: h.target,
        ban_after: h.ban_after,
        size: h.size,
        start: h.start,
        bytes: h.bytes,
        window_ms: delivery_window_s(env) * 1000,
        budget: h.budget,
        sha256: h.sha256,
        now: crate::store::now(),
    };
    call_device(env, r, id, op).await.map(drop)
}

/// A stream of a URL that a redirect handed to `to.device` ended, having handed out `bytes`
/// from `start` of the image's `size`: told to that rollout while its plan still targets it (a
/// plan that moved on has a new rollout, which never handed this device the URL).
pub async fn handed_to(
    env: &Env,
    to: &Recipient,
    sha256: &str,
    size: u64,
    start: u64,
    bytes: u64,
) -> AppResult<()> {
    let Some(PlanParts {
        project,
        firmware,
        target,
    }) = to.plan_parts()
    else {
        return Ok(());
    };
    let (plan, project) = futures_util::future::join(
        crate::store::plan(env, project, firmware),
        crate::store::project(env, project),
    )
    .await;
    let (Some(plan), Some(project)) = (plan?, project?) else {
        return Ok(());
    };
    let r = Rollout::of(&plan)?;
    if r.plan_id != to.plan {
        return Ok(());
    }
    let handout = Handout {
        target: target.to_string(),
        ban_after: project.ban_after,
        budget: project.daily_bytes_per_device,
        sha256: sha256.to_string(),
        size,
        start,
        bytes,
    };
    handed(env, &r, &to.device, handout).await
}

/// A Luat device reported the rollout's target: a success if the rollout delivered it the image
/// since its last outcome, else recorded as a report without delivery.
pub async fn reached(env: &Env, r: &Rollout, id: &str) -> AppResult<()> {
    let op = Op::Reached {
        device_id: id.into(),
        now: crate::store::now(),
    };
    call_device(env, r, id, op).await.map(drop)
}

/// Deliveries of one target to one device within this many seconds count once
/// (`DELIVERY_WINDOW_S`, default 600).
fn delivery_window_s(env: &Env) -> i64 {
    env.var("DELIVERY_WINDOW_S")
        .ok()
        .and_then(|v| v.to_string().trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
        .unwrap_or(600)
}

/// Sends `resp` (an image answer of `length` bytes, status and headers kept) through a counter:
/// when its stream ends, whole or not, `ended` gets the number of bytes the runtime took (in
/// `wait_until`, so the answer never waits for it).
pub fn counted<F, Fut>(ctx: &Context, resp: Response, length: u64, ended: F) -> AppResult<Response>
where
    F: FnOnce(u64) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let (builder, body) = resp.into_parts();
    let source = match body {
        ResponseBody::Body(bytes) => Source::Bytes(bytes),
        ResponseBody::Stream(stream) => Source::Stream(stream),
        // Nothing to hand out (a `HEAD` is never counted): the answer as it was.
        ResponseBody::Empty => return Ok(builder.empty()),
    };
    let fixed = if length < u64::from(u32::MAX) {
        worker::worker_sys::FixedLengthStream::new(length as u32)
    } else {
        worker::worker_sys::FixedLengthStream::new_big_int(worker::js_sys::BigInt::from(length))
    }
    .map_err(worker::Error::from)?;
    let writer = fixed.writable().get_writer().map_err(worker::Error::from)?;
    ctx.wait_until(async move {
        let bytes = pump(source, writer).await;
        ended(bytes).await;
    });
    Ok(builder.stream(fixed.readable()))
}

/// Where a counted stream's bytes come from.
enum Source {
    /// The image (or its range) from isolate memory.
    Bytes(Vec<u8>),
    /// R2's or the Cache API's body, passed on chunk by chunk without copying it.
    Stream(ReadableStream),
}

/// Feeds `writer` from `source` and returns the bytes it took: each write completes once the
/// runtime has read the chunk, and fails once the device is gone.
async fn pump(source: Source, writer: WritableStreamDefaultWriter) -> u64 {
    let mut taken = 0u64;
    match source {
        Source::Bytes(bytes) => {
            for chunk in bytes.chunks(CHUNK) {
                let array = Uint8Array::from(chunk);
                if JsFuture::from(writer.write_with_chunk(&array))
                    .await
                    .is_err()
                {
                    return taken;
                }
                taken += chunk.len() as u64;
            }
        }
        Source::Stream(stream) => {
            let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
            loop {
                let Ok(read) = JsFuture::from(reader.read()).await else {
                    // The source failed: the device gets a short body, never other bytes. The
                    // promise is awaited: a rejection left alone is logged as uncaught.
                    let _ = JsFuture::from(writer.abort()).await;
                    return taken;
                };
                let done = Reflect::get(&read, &JsValue::from_str("done"))
                    .ok()
                    .and_then(|d| d.as_bool())
                    .unwrap_or(true);
                if done {
                    break;
                }
                let Ok(chunk) = Reflect::get(&read, &JsValue::from_str("value")) else {
                    break;
                };
                let length = chunk
                    .dyn_ref::<Uint8Array>()
                    .map_or(0, |a| u64::from(a.byte_length()));
                if JsFuture::from(writer.write_with_chunk(&chunk))
                    .await
                    .is_err()
                {
                    // The device is gone: stop reading (awaited, so its rejection is handled).
                    let _ = JsFuture::from(reader.cancel()).await;
                    return taken;
                }
                taken += length;
            }
        }
    }
    let _ = JsFuture::from(writer.close()).await;
    taken
}

/// A module-OTA download named for `to` took `bytes`: they count against the device's daily
/// budget, and the download that reaches it leaves a `daily_budget_reached` history entry (the
/// operator's over-budget list reads those).
pub async fn notice_bytes(env: &Env, to: &Recipient, bytes: u64) -> AppResult<()> {
    use fota_shared::rules::budget;
    let Some(project) = to.plan_parts().map(|p| p.project) else {
        return Ok(());
    };
    // Without a budget nothing is counted (the URL names the device so a cancel can refuse it).
    let limit = crate::store::project(env, project)
        .await?
        .and_then(|p| p.daily_bytes_per_device)
        .filter(|b| *b > 0);
    if limit.is_none() {
        return Ok(());
    }
    let now = crate::store::now();
    let today = budget::day_of(now);
    let after = crate::store::jobs::add_ota_sent(env, project, &to.device, today, bytes).await?;
    let before = budget::Sent {
        day: today,
        bytes: after.today(today).saturating_sub(bytes),
    };
    if budget::reached(before, after, today, limit) {
        crate::store::device_event(
            env,
            project,
            &to.device,
            "daily_budget_reached",
            &format!(
                "{} bytes of {} today",
                after.today(today),
                limit.unwrap_or(0)
            ),
        )
        .await?;
    }
    Ok(())
}
