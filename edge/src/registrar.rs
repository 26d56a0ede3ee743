//! The registrar: one Durable Object per project that counts the device ids bound to it per
//! clock minute, so registration is bounded (`NEW_DEVICES_PER_MINUTE`, default 1,000). Someone
//! who knows a (public) project key can make up IMEIs; past the cap, a check from an id never
//! seen before answers "try later" (code 71) without binding it. A hot counter belongs in one
//! object, not in a contended D1 row; it is kept in the object's memory (a lost object starts the
//! minute again, which only ever admits more, never refuses a known device).

use fota_shared::rules::rollout::rate_window;
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

const BINDING: &str = "REGISTRAR";
pub const DEFAULT_NEW_DEVICES_PER_MINUTE: u32 = 1_000;

#[durable_object]
pub struct Registrar {
    /// (clock minute, ids bound in it)
    minute: Cell<(i64, u32)>,
}

impl DurableObject for Registrar {
    fn new(_state: State, _env: Env) -> Self {
        Self {
            minute: Cell::new((0, 0)),
        }
    }

    /// `POST /claim?cap=N&now=MS`: `{"granted":bool}`.
    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        let arg = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let (cap, now) = (arg("cap").max(0) as u32, arg("now"));
        let window = rate_window(now);
        let (minute, used) = self.minute.get();
        let used = if minute == window { used } else { 0 };
        let granted = used < cap;
        self.minute.set((window, used + u32::from(granted)));
        Response::from_json(&serde_json::json!({ "granted": granted }))
    }
}

pub fn cap(env: &Env) -> u32 {
    env.var("NEW_DEVICES_PER_MINUTE")
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(DEFAULT_NEW_DEVICES_PER_MINUTE)
}

/// May one more id be bound to `project` this minute? A registrar that cannot answer admits
/// (logged once): the cap protects the registry, it must not stop a fleet.
pub async fn claim(env: &Env, project: &str, now: i64) -> bool {
    #[derive(serde::Deserialize)]
    struct Granted {
        granted: bool,
    }
    let asked = async {
        crate::metrics::durable_object(BINDING, project);
        let stub = env
            .durable_object(BINDING)?
            .id_from_name(project)?
            .get_stub()?;
        let mut resp = stub
            .fetch_with_str(&format!(
                "https://registrar/claim?cap={}&now={now}",
                cap(env)
            ))
            .await?;
        resp.json::<Granted>().await
    };
    match asked.await {
        Ok(g) => g.granted,
        Err(e) => {
            crate::logs::once("registrar unavailable", &e.to_string());
            true
        }
    }
}
