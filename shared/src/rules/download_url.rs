//! Download URLs that expire: an image path plus `?expires=<ms>&sig=<hex>`, where `sig` is the
//! lowercase hex HMAC-SHA256, keyed with the edge's URL secret, of `<path>\n<expires>`.
//!
//! A URL a redirect hands to one Luat device also names its recipient, the device and the
//! rollout (plan id) that redirected it: `?device=<id>&plan=<plan id>&expires=<ms>&sig=<hex>`,
//! the signature over `<path>\n<expires>\n<device>\n<plan>` (the values percent-decoded), so
//! neither can be changed, added or dropped without breaking it. A complete download of such a
//! URL is a delivery to that device in that rollout.
//!
//! `path` is the URL path as the edge routes it (`/images/<sha256>`), `expires` milliseconds since
//! the Unix epoch, decimal, no leading zero; the URL is good while `now < expires`. Other query
//! parameters are ignored (they cannot widen what the signature grants); `expires`, `sig`,
//! `device` or `plan` given twice, or only one of `device` and `plan`, is refused. A device
//! resuming a download with `Range` after the expiry is refused too, so give URLs at least the
//! plan's `job_timeout_s`.

use crate::rules::device_auth::{hmac_sha256, parse_signed_ms};
use crate::rules::luat::query_pairs;
use hmac::Mac;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Why a download URL was refused (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL carries no single {0} parameter")]
    Missing(&'static str),
    #[error("expires is not milliseconds since the epoch")]
    BadExpires,
    #[error("the URL has expired")]
    Expired,
    #[error("the URL signature does not match")]
    BadSignature,
}

impl UrlError {
    pub fn code(self) -> &'static str {
        match self {
            UrlError::Missing(_) | UrlError::BadExpires => "url_malformed",
            UrlError::Expired => "url_expired",
            UrlError::BadSignature => "url_bad_signature",
        }
    }

    pub fn status(self) -> u16 {
        403
    }
}

/// The device and the rollout a redirect handed a URL to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub device: String,
    /// The rollout's plan id (`project/firmware@target`).
    pub plan: String,
}

/// A recipient's plan id taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanParts<'a> {
    pub project: &'a str,
    pub firmware: &'a str,
    /// `firmware@target`: the loop-upgrade key.
    pub target: &'a str,
}

impl Recipient {
    /// The project, firmware name and `firmware@target` of the plan id; `None` when it is not
    /// `project/firmware@target`.
    pub fn plan_parts(&self) -> Option<PlanParts<'_>> {
        let (project, target) = self.plan.split_once('/')?;
        let (firmware, _) = target.rsplit_once('@')?;
        Some(PlanParts {
            project,
            firmware,
            target,
        })
    }
}

/// Query values are percent-encoded except for what ids and plan ids are made of.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b':')
    .remove(b'/')
    .remove(b'@');

fn url_mac(
    secret: &[u8],
    path: &str,
    expires_ms: i64,
    to: Option<&Recipient>,
) -> hmac::Hmac<sha2::Sha256> {
    let message = match to {
        None => format!("{path}\n{expires_ms}"),
        Some(r) => format!("{path}\n{expires_ms}\n{}\n{}", r.device, r.plan),
    };
    hmac_sha256(secret, message.as_bytes())
}

fn signature(secret: &[u8], path: &str, expires_ms: i64, to: Option<&Recipient>) -> String {
    hex::encode(
        url_mac(secret, path, expires_ms, to)
            .finalize()
            .into_bytes(),
    )
}

/// The query to append after `?`: `expires=<ms>&sig=<hex>`.
pub fn signed_url_query(secret: &[u8], path: &str, expires_ms: i64) -> String {
    format!(
        "expires={expires_ms}&sig={}",
        signature(secret, path, expires_ms, None)
    )
}

/// The query of a URL handed to one device by one rollout's redirect:
/// `device=<id>&plan=<plan id>&expires=<ms>&sig=<hex>`.
pub fn device_url_query(secret: &[u8], path: &str, to: &Recipient, expires_ms: i64) -> String {
    format!(
        "device={}&plan={}&expires={expires_ms}&sig={}",
        utf8_percent_encode(&to.device, VALUE),
        utf8_percent_encode(&to.plan, VALUE),
        signature(secret, path, expires_ms, Some(to))
    )
}

/// Does the query claim a signature (carry `sig`, `device` or `plan`)? Such a URL must verify,
/// even where unsigned downloads are allowed.
pub fn claims_signature(query: &str) -> bool {
    query_pairs(query)
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "sig" | "device" | "plan"))
}

/// Checks a download request's path and query (without its `?`) at `now_ms`: the URL's
/// recipient when it names one.
pub fn verify_signed_url(
    secret: &[u8],
    path: &str,
    query: &str,
    now_ms: i64,
) -> Result<Option<Recipient>, UrlError> {
    let pairs = query_pairs(query);
    let all = |key: &'static str| {
        pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let single = |key: &'static str| {
        let mut values = all(key);
        match (values.next(), values.next()) {
            (Some(value), None) => Ok(value),
            _ => Err(UrlError::Missing(key)),
        }
    };
    let recipient = match (all("device").next(), all("plan").next()) {
        (None, None) => None,
        _ => Some(Recipient {
            device: single("device")?.to_string(),
            plan: single("plan")?.to_string(),
        }),
    };
    let expires_ms = parse_signed_ms(single("expires")?).ok_or(UrlError::BadExpires)?;
    let signature = hex::decode(single("sig")?).map_err(|_| UrlError::BadSignature)?;
    // The signature is checked first, so an old URL's answer says nothing about a forged one.
    url_mac(secret, path, expires_ms, recipient.as_ref())
        .verify_slice(&signature)
        .map_err(|_| UrlError::BadSignature)?;
    if now_ms >= expires_ms {
        return Err(UrlError::Expired);
    }
    Ok(recipient)
}

/// [`verify_signed_url`] against each of several URL keys (one per listed master key version),
/// so URLs handed out before a master key rotation stay good until they expire. A URL whose
/// signature one key matches answers as that key says (good or expired); otherwise the first
/// key's refusal.
pub fn verify_signed_url_any(
    secrets: &[[u8; 32]],
    path: &str,
    query: &str,
    now_ms: i64,
) -> Result<Option<Recipient>, UrlError> {
    let mut first = Err(UrlError::BadSignature);
    for (i, secret) in secrets.iter().enumerate() {
        match verify_signed_url(secret, path, query, now_ms) {
            Err(UrlError::BadSignature) if i > 0 => {}
            Err(UrlError::BadSignature) => first = Err(UrlError::BadSignature),
            verdict => return verdict,
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_ids_come_apart() {
        let parts = |plan: &str| {
            Recipient {
                device: "86".into(),
                plan: plan.into(),
            }
            .plan_parts()
            .map(|p| {
                (
                    p.project.to_string(),
                    p.firmware.to_string(),
                    p.target.to_string(),
                )
            })
        };
        let own = |a: &str, b: &str, c: &str| Some((a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(parts("K1/fw@1.0.1"), own("K1", "fw", "fw@1.0.1"));
        assert_eq!(parts("K1/f@w@1.0.1"), own("K1", "f@w", "f@w@1.0.1"));
        assert_eq!(parts("K1/fw"), None);
        assert_eq!(parts("fw@1.0.1"), None);
    }

    const SECRET: &[u8] = b"url-secret-url-secret-url-secret";
    const PATH: &str = "/images/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const EXPIRES: i64 = 1_795_310_246_000;

    #[test]
    fn query_format() {
        let query = signed_url_query(SECRET, PATH, EXPIRES);
        let (head, sig) = query.split_once("&sig=").unwrap();
        assert_eq!(head, "expires=1795310246000");
        assert_eq!(
            sig,
            hex::encode(
                hmac_sha256(SECRET, format!("{PATH}\n1795310246000").as_bytes())
                    .finalize()
                    .into_bytes()
            )
        );
    }

    #[test]
    fn expiry_edges_and_tampering() {
        use UrlError::*;
        let good = signed_url_query(SECRET, PATH, EXPIRES);
        let sig = good.split_once("&sig=").unwrap().1.to_string();
        let other_path = "/images/0f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for (name, secret, path, query, now, expect) in [
            (
                "fresh",
                SECRET,
                PATH,
                good.clone(),
                EXPIRES - 3_600_000,
                Ok(None),
            ),
            ("last ms", SECRET, PATH, good.clone(), EXPIRES - 1, Ok(None)),
            (
                "at expiry",
                SECRET,
                PATH,
                good.clone(),
                EXPIRES,
                Err(Expired),
            ),
            (
                "after expiry",
                SECRET,
                PATH,
                good.clone(),
                EXPIRES + 1,
                Err(Expired),
            ),
            (
                "extra parameter",
                SECRET,
                PATH,
                format!("{good}&x=1"),
                0,
                Ok(None),
            ),
            (
                "order swapped",
                SECRET,
                PATH,
                format!("sig={sig}&expires={EXPIRES}"),
                0,
                Ok(None),
            ),
            (
                "upper-case sig",
                SECRET,
                PATH,
                format!("expires={EXPIRES}&sig={}", sig.to_uppercase()),
                0,
                Ok(None),
            ),
            (
                "expiry extended",
                SECRET,
                PATH,
                format!("expires={}&sig={sig}", EXPIRES + 1),
                0,
                Err(BadSignature),
            ),
            (
                "other image",
                SECRET,
                other_path,
                good.clone(),
                0,
                Err(BadSignature),
            ),
            (
                "other secret",
                b"another-secret".as_slice(),
                PATH,
                good.clone(),
                0,
                Err(BadSignature),
            ),
            (
                "sig flipped",
                SECRET,
                PATH,
                format!("expires={EXPIRES}&sig=0{}", &sig[1..]),
                0,
                Err(BadSignature),
            ),
            (
                "sig short",
                SECRET,
                PATH,
                format!("expires={EXPIRES}&sig={}", &sig[..62]),
                0,
                Err(BadSignature),
            ),
            (
                "sig not hex",
                SECRET,
                PATH,
                format!("expires={EXPIRES}&sig=zz"),
                0,
                Err(BadSignature),
            ),
            (
                "no sig",
                SECRET,
                PATH,
                format!("expires={EXPIRES}"),
                0,
                Err(Missing("sig")),
            ),
            (
                "no expires",
                SECRET,
                PATH,
                format!("sig={sig}"),
                0,
                Err(Missing("expires")),
            ),
            (
                "expires twice",
                SECRET,
                PATH,
                format!("{good}&expires={EXPIRES}"),
                0,
                Err(Missing("expires")),
            ),
            (
                "leading zero",
                SECRET,
                PATH,
                format!("expires=0{EXPIRES}&sig={sig}"),
                0,
                Err(BadExpires),
            ),
            (
                "negative",
                SECRET,
                PATH,
                format!("expires=-1&sig={sig}"),
                0,
                Err(BadExpires),
            ),
            (
                "empty query",
                SECRET,
                PATH,
                String::new(),
                0,
                Err(Missing("expires")),
            ),
        ] {
            assert_eq!(
                verify_signed_url(secret, path, &query, now),
                expect,
                "{name}"
            );
        }
    }

    /// A URL handed to one device by one rollout: its recipient comes back verified, and any
    /// change to who it names breaks it.
    #[test]
    fn device_urls_name_their_recipient() {
        use UrlError::*;
        let to = Recipient {
            device: "86:24 19".into(),
            plan: "proj/fw_A@2018.1.10".into(),
        };
        let good = device_url_query(SECRET, PATH, &to, EXPIRES);
        assert_eq!(
            good.split("&expires=").next(),
            Some("device=86:24%2019&plan=proj/fw_A@2018.1.10")
        );
        let sig = good.split_once("&sig=").unwrap().1.to_string();
        let unbound = signed_url_query(SECRET, PATH, EXPIRES);
        let ok = Ok(Some(to.clone()));
        let tail = format!("expires={EXPIRES}&sig={sig}");
        for (name, query, expect) in [
            ("as handed out", good.clone(), ok.clone()),
            (
                "reordered",
                format!(
                    "sig={sig}&plan=proj%2Ffw_A%402018.1.10&expires={EXPIRES}&device=86%3A24%2019"
                ),
                ok.clone(),
            ),
            (
                "another device",
                format!("device=86:24%2018&plan=proj/fw_A@2018.1.10&{tail}"),
                Err(BadSignature),
            ),
            (
                "another plan",
                format!("device=86:24%2019&plan=proj/fw_A@2018.1.11&{tail}"),
                Err(BadSignature),
            ),
            ("both dropped", tail.clone(), Err(BadSignature)),
            (
                "device dropped",
                format!("plan=proj/fw_A@2018.1.10&{tail}"),
                Err(Missing("device")),
            ),
            (
                "device twice",
                format!("{good}&device=x"),
                Err(Missing("device")),
            ),
            ("plan twice", format!("plan=x&{good}"), Err(Missing("plan"))),
            (
                "a recipient added to an unbound URL",
                format!("device=86:24%2019&plan=proj/fw_A@2018.1.10&{unbound}"),
                Err(BadSignature),
            ),
            ("the unbound URL", unbound.clone(), Ok(None)),
        ] {
            assert_eq!(
                verify_signed_url(SECRET, PATH, &query, 0),
                expect,
                "{name}: {query}"
            );
        }
        assert_eq!(
            verify_signed_url(SECRET, PATH, &good, EXPIRES),
            Err(Expired)
        );
        assert!(
            claims_signature(&good) && claims_signature("device=x") && claims_signature("plan=y")
        );
        assert!(!claims_signature("") && !claims_signature("expires=5&v=1"));
    }

    #[test]
    fn any_listed_key_verifies_after_a_rotation() {
        use UrlError::*;
        let (old, new, gone) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let by_old = signed_url_query(&old, PATH, EXPIRES);
        for (name, keys, query, now, expect) in [
            (
                "signed by the newest",
                vec![new, old],
                signed_url_query(&new, PATH, EXPIRES),
                0,
                Ok(None),
            ),
            (
                "signed before the rotation",
                vec![new, old],
                by_old.clone(),
                0,
                Ok(None),
            ),
            (
                "before the rotation, expired",
                vec![new, old],
                by_old.clone(),
                EXPIRES,
                Err(Expired),
            ),
            (
                "its version was dropped",
                vec![new],
                by_old.clone(),
                0,
                Err(BadSignature),
            ),
            (
                "no listed key signed it",
                vec![new, old],
                signed_url_query(&gone, PATH, EXPIRES),
                0,
                Err(BadSignature),
            ),
            (
                "malformed",
                vec![new, old],
                format!("sig=00&expires=0{EXPIRES}"),
                0,
                Err(BadExpires),
            ),
            ("no keys", vec![], by_old.clone(), 0, Err(BadSignature)),
        ] {
            assert_eq!(
                verify_signed_url_any(&keys, PATH, &query, now),
                expect,
                "{name}"
            );
        }
    }
}
