//! Device request authentication for the module-OTA endpoints: every JSON device request is signed
//! with the device's secret, and the edge checks the signature, the clock window and replays.
//!
//! # Wire format
//! Two headers:
//! - `X-Fota-Timestamp`: the signing time in **milliseconds** since the Unix epoch, decimal, no
//!   sign, no leading zero (`1795306646000`). Milliseconds, like every time in this crate; a device
//!   with a seconds clock appends `000`.
//! - `X-Fota-Signature`: lowercase hex HMAC-SHA256 (64 characters; upper case is accepted) of the
//!   canonical request, keyed with the device secret.
//!
//! The canonical request is four lines joined by `\n`, no trailing newline ([`canonical_request`]):
//! ```text
//! POST
//! /ota/device/inform/pk1/dev1
//! 1795306646000
//! <lowercase hex sha256 of the body bytes; e3b0c442...b855 for an empty body>
//! ```
//! The method is as sent (upper case); the path is the request target exactly as sent, with `?` and
//! the query when there is one, neither decoded nor re-encoded. The path names the product and
//! device, so signing it binds the request to the device's identity.
//!
//! # The window and replays
//! A timestamp more than [`WINDOW_MS`] (5 minutes) before or after the edge's clock is refused.
//! Inside the window a signature is accepted once: the edge remembers each accepted signature under
//! [`Authorized::replay_key`] until [`Authorized::replay_until_ms`], when its timestamp leaves the
//! window and the window check refuses it anyway. The edge writes the key only after [`verify`]
//! succeeded, so forged requests cannot fill its store. Honest requests differ because each body
//! carries a fresh `id`; two body-less requests to one path in one millisecond would collide, and
//! the second is refused as a replay (the device retries with a new timestamp).
//!
//! # Device secrets: derived, never stored, shown once
//! HMAC verification needs the secret itself on the server, so a hash cannot be stored. Rather than
//! keeping every device's secret encrypted (a per-device read and an encryption key to manage), the
//! secret is derived from a master key the Worker holds as a secret binding and the device's
//! **key generation**, a number D1 keeps per device ([`device_secret`]):
//! `device_secret = hex(HMAC-SHA256(master, "fota-device-secret\n" + product_key + "\n" + device_name + "\n" + generation))`.
//! A leak of the databases leaks no secret. The product key is part of the input so that one
//! device name in two products gets two secrets.
//!
//! The generation is what makes a secret revocable and shows it once: the edge gives a secret out
//! only when it issues a new generation (first provisioning, a re-key, provisioning again after a
//! de-provision), so no later call can read it again, and the previous generation's secret stops
//! verifying as soon as D1 holds the new one. The edge issues generation
//! `max(now_ms, previous + 1)`: it only grows for one device, and it differs from any generation an
//! id held before it was forgotten and provisioned afresh. Generation `0` is a device provisioned
//! before generations existed; its secret is the older rule without the last line
//! (`... + device_name`), so those devices keep working until they are re-keyed.
//!
//! Rotation is by master key version: the Worker holds `1:<hex>,2:<hex>` ([`parse_master_keys`]);
//! new generations are derived from the highest version, and each device verifies only under the
//! version D1 recorded when its generation was issued ([`DeviceKey`], [`verify_device`]). Removing a
//! version retires every secret derived from it; re-key those devices first. A device from before
//! versions were recorded (`master_version` unknown) is tried under every listed version, newest
//! first, and the edge records the one that matched.
//!
//! The HMAC key is the secret's **display form as ASCII** (its 64 hex characters), as device SDKs
//! take string secrets, not the 32 bytes the hex spells.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const TIMESTAMP_HEADER: &str = "X-Fota-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Fota-Signature";
/// How far a request's timestamp may lie from the edge's clock, either way: 5 minutes.
pub const WINDOW_MS: i64 = 5 * 60 * 1000;
/// The shortest master key accepted: 32 bytes (64 hex characters).
pub const MIN_MASTER_KEY_BYTES: usize = 32;
const SECRET_LABEL: &str = "fota-device-secret";

/// Why a device request was not authenticated. Every variant is answered with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("X-Fota-Timestamp is not milliseconds since the epoch")]
    BadTimestamp,
    #[error("X-Fota-Signature is not 64 hex characters")]
    BadSignatureFormat,
    #[error("timestamp is more than 5 minutes in the past")]
    StaleTimestamp,
    #[error("timestamp is more than 5 minutes in the future")]
    FutureTimestamp,
    /// A wrong secret or any changed byte of method, path, timestamp or body: indistinguishable.
    #[error("signature does not match")]
    BadSignature,
    /// Returned by the edge when [`Authorized::replay_key`] is already remembered.
    #[error("signature was already used")]
    Replayed,
}

impl AuthError {
    /// Stable machine code for the answer's `message` and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingHeader(_) => "auth_missing_header",
            AuthError::BadTimestamp => "auth_bad_timestamp",
            AuthError::BadSignatureFormat => "auth_bad_signature_format",
            AuthError::StaleTimestamp => "auth_stale_timestamp",
            AuthError::FutureTimestamp => "auth_future_timestamp",
            AuthError::BadSignature => "auth_bad_signature",
            AuthError::Replayed => "auth_replayed",
        }
    }

    pub fn status(&self) -> u16 {
        401
    }
}

/// One device request as the edge received it: the headers are `None` when absent.
#[derive(Debug, Clone, Copy)]
pub struct DeviceRequest<'a> {
    pub method: &'a str,
    /// The request target as sent: path, and `?query` when present.
    pub path: &'a str,
    pub body: &'a [u8],
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A request that passed [`verify`]: what the edge must remember to refuse its replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// `sig:<lowercase hex signature>`: the same for the same signature however its hex was cased.
    pub replay_key: String,
    /// Keep the key at least until this instant (inclusive); later the timestamp is stale anyway.
    pub replay_until_ms: i64,
    /// The master key version whose secret matched ([`verify_device`]); 0 from [`verify`].
    pub master_version: u32,
}

impl Authorized {
    /// Seconds to keep the replay key from `now_ms`, rounded up, for a store with second TTLs.
    /// Cloudflare KV refuses TTLs under 60 s, so clamp there when storing in KV.
    pub fn replay_ttl_s(&self, now_ms: i64) -> u64 {
        let ms = (self.replay_until_ms - now_ms + 1).max(0) as u64;
        ms.div_ceil(1000)
    }
}

/// Lowercase hex SHA-256 of a request body.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The string a device signs: `METHOD\nPATH\nTIMESTAMP_MS\nBODY_SHA256_HEX`.
pub fn canonical_request(method: &str, path: &str, timestamp_ms: i64, body: &[u8]) -> String {
    format!(
        "{method}\n{path}\n{timestamp_ms}\n{}",
        body_sha256_hex(body)
    )
}

/// HMAC-SHA256 of `message`, ready to `finalize` or `verify_slice` (constant time).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The `X-Fota-Signature` value a device sends: lowercase hex HMAC-SHA256 of [`canonical_request`].
pub fn sign(secret: &str, method: &str, path: &str, timestamp_ms: i64, body: &[u8]) -> String {
    let canonical = canonical_request(method, path, timestamp_ms, body);
    hex::encode(
        hmac_sha256(secret.as_bytes(), canonical.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// Parses a signed time in milliseconds (`X-Fota-Timestamp`, a download URL's `expires`): 1 to 16
/// digits without a leading zero, so the text is exactly the number's decimal form and signs the
/// same on both sides.
pub(crate) fn parse_signed_ms(text: &str) -> Option<i64> {
    let digits = text.len() <= 16 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// Checks headers, window and signature against one secret.
pub fn verify(
    secret: &str,
    request: &DeviceRequest<'_>,
    now_ms: i64,
) -> Result<Authorized, AuthError> {
    verify_any(std::iter::once((0, secret.to_string())), request, now_ms)
}

/// The secret a device holds, as D1 records it: the master key version and generation it was
/// derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceKey {
    /// `None` for a device provisioned before versions were recorded: every listed version is
    /// tried, and the edge records the one that matches.
    pub master_version: Option<u32>,
    pub generation: i64,
}

/// Checks a request of `device_name` in `product_key` against the one secret `key` names: its
/// master key version (none matches when that version is no longer listed) and generation.
/// [`Authorized::master_version`] says which version matched.
pub fn verify_device(
    masters: &[MasterKey],
    product_key: &str,
    device_name: &str,
    key: DeviceKey,
    request: &DeviceRequest<'_>,
    now_ms: i64,
) -> Result<Authorized, AuthError> {
    let mut ordered: Vec<&MasterKey> = masters
        .iter()
        .filter(|m| key.master_version.is_none_or(|v| v == m.version))
        .collect();
    ordered.sort_by_key(|m| std::cmp::Reverse(m.version));
    let secrets = ordered.into_iter().map(|m| {
        (
            m.version,
            device_secret(m, product_key, device_name, key.generation),
        )
    });
    verify_any(secrets, request, now_ms)
}

fn verify_any(
    secrets: impl Iterator<Item = (u32, String)>,
    request: &DeviceRequest<'_>,
    now_ms: i64,
) -> Result<Authorized, AuthError> {
    let timestamp = request
        .timestamp
        .ok_or(AuthError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = request
        .signature
        .ok_or(AuthError::MissingHeader(SIGNATURE_HEADER))?;
    let timestamp_ms = parse_signed_ms(timestamp).ok_or(AuthError::BadTimestamp)?;
    let signature = match hex::decode(signature) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        _ => return Err(AuthError::BadSignatureFormat),
    };
    if timestamp_ms < now_ms.saturating_sub(WINDOW_MS) {
        return Err(AuthError::StaleTimestamp);
    }
    if timestamp_ms > now_ms.saturating_add(WINDOW_MS) {
        return Err(AuthError::FutureTimestamp);
    }
    let canonical = canonical_request(request.method, request.path, timestamp_ms, request.body);
    for (version, secret) in secrets {
        // `verify_slice` compares in constant time: no byte of the expected MAC leaks by timing.
        if hmac_sha256(secret.as_bytes(), canonical.as_bytes())
            .verify_slice(&signature)
            .is_ok()
        {
            return Ok(Authorized {
                replay_key: format!("sig:{}", hex::encode(&signature)),
                replay_until_ms: timestamp_ms + WINDOW_MS,
                master_version: version,
            });
        }
    }
    Err(AuthError::BadSignature)
}

/// The display form of a 32-byte secret: 64 lowercase hex characters, also the HMAC key's bytes.
/// A 32-byte key for another purpose, derived from a master key and a label that names the
/// purpose (`fota-download-url`, `fota-notice-key\n{project}\n{key_id}`): one Worker secret
/// serves every derived key, and no derived key reveals another or the master.
pub fn derive_key(master: &MasterKey, label: &str) -> [u8; 32] {
    hmac_sha256(&master.key, label.as_bytes())
        .finalize()
        .into_bytes()
        .into()
}

pub fn secret_from_bytes(bytes: &[u8; 32]) -> String {
    hex::encode(bytes)
}

/// One version of the master key device secrets are derived from.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub version: u32,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for MasterKey {
    // Never print key material into a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Why the master key secret could not be read. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    #[error("no master key is listed")]
    Empty,
    #[error("entry {0} is not <version>:<hex key> with a version of at least 1")]
    BadEntry(usize),
    #[error("the key of version {0} is not hex of at least 32 bytes")]
    BadKey(u32),
    #[error("version {0} is listed twice")]
    DuplicateVersion(u32),
}

/// Parses the Worker secret `1:<hex>,2:<hex>` (spaces around entries are ignored), newest first.
pub fn parse_master_keys(text: &str) -> Result<Vec<MasterKey>, MasterKeyError> {
    let mut keys = Vec::new();
    for (i, entry) in text
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let (version, key) = entry.split_once(':').ok_or(MasterKeyError::BadEntry(i))?;
        let version: u32 = version
            .trim()
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or(MasterKeyError::BadEntry(i))?;
        let key = hex::decode(key.trim())
            .ok()
            .filter(|k| k.len() >= MIN_MASTER_KEY_BYTES)
            .ok_or(MasterKeyError::BadKey(version))?;
        if keys.iter().any(|k: &MasterKey| k.version == version) {
            return Err(MasterKeyError::DuplicateVersion(version));
        }
        keys.push(MasterKey { version, key });
    }
    if keys.is_empty() {
        return Err(MasterKeyError::Empty);
    }
    keys.sort_by_key(|m| std::cmp::Reverse(m.version));
    Ok(keys)
}

/// The master key new devices are provisioned from: the highest version.
pub fn issuing_master(masters: &[MasterKey]) -> Option<&MasterKey> {
    masters.iter().max_by_key(|m| m.version)
}

/// A device's secret under one master key version and generation (display form; see the module
/// doc). Generation 0 is the rule from before generations existed.
pub fn device_secret(
    master: &MasterKey,
    product_key: &str,
    device_name: &str,
    generation: i64,
) -> String {
    let input = match generation {
        0 => format!("{SECRET_LABEL}\n{product_key}\n{device_name}"),
        g => format!("{SECRET_LABEL}\n{product_key}\n{device_name}\n{g}"),
    };
    secret_from_bytes(
        &hmac_sha256(&master.key, input.as_bytes())
            .finalize()
            .into_bytes()
            .into(),
    )
}

#[cfg(test)]
mod derive_tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_label_and_master() {
        let m1 = MasterKey {
            version: 1,
            key: vec![1; 32],
        };
        let m2 = MasterKey {
            version: 2,
            key: vec![2; 32],
        };
        let a = derive_key(&m1, "fota-download-url");
        assert_eq!(a, derive_key(&m1, "fota-download-url"));
        assert_ne!(a, derive_key(&m1, "fota-notice-key\nP\n1"));
        assert_ne!(a, derive_key(&m2, "fota-download-url"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_795_306_646_000;
    const PATH: &str = "/ota/device/inform/pk1/dev1";
    const BODY: &[u8] = br#"{"id":"123","params":{"version":"1.0.1","module":"MCU"}}"#;

    #[test]
    fn canonical_string_exact_bytes() {
        assert_eq!(
            canonical_request("POST", PATH, NOW, BODY),
            format!("POST\n{PATH}\n1795306646000\n{}", body_sha256_hex(BODY))
        );
        assert_eq!(
            canonical_request("GET", "/ota/device/upgrade/pk1/dev1?id=7", 0, b""),
            "GET\n/ota/device/upgrade/pk1/dev1?id=7\n0\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_canonical_string() {
        // RFC 4231 test case 2 pins the HMAC itself: key "Jefe".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = sign(SECRET, "POST", PATH, NOW, BODY);
        let mut mac = HmacSha256::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(canonical_request("POST", PATH, NOW, BODY).as_bytes());
        assert_eq!(sig, hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sig.len(), 64);
    }

    struct Case {
        name: &'static str,
        secret: &'static str,
        method: &'static str,
        path: &'static str,
        body: &'static [u8],
        timestamp: Option<String>,
        signature: Option<String>,
        now: i64,
    }

    /// A request signed honestly at `signed_at`, checked at `now`.
    fn signed(name: &'static str, signed_at: i64, now: i64) -> Case {
        Case {
            name,
            secret: SECRET,
            method: "POST",
            path: PATH,
            body: BODY,
            timestamp: Some(signed_at.to_string()),
            signature: Some(sign(SECRET, "POST", PATH, signed_at, BODY)),
            now,
        }
    }

    #[track_caller]
    fn check(case: Case, expect: Result<(), AuthError>) {
        let request = DeviceRequest {
            method: case.method,
            path: case.path,
            body: case.body,
            timestamp: case.timestamp.as_deref(),
            signature: case.signature.as_deref(),
        };
        assert_eq!(
            verify(case.secret, &request, case.now).map(|_| ()),
            expect,
            "{}",
            case.name
        );
    }

    #[test]
    fn verification_table() {
        use AuthError::*;
        check(signed("honest", NOW, NOW), Ok(()));
        check(
            Case {
                method: "PUT",
                ..signed("tampered method", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                path: "/ota/device/inform/pk1/dev2",
                ..signed("tampered path", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                body: br#"{"id":"124","params":{"version":"1.0.1","module":"MCU"}}"#,
                ..signed("tampered body", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                body: b"",
                ..signed("body dropped", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                timestamp: Some((NOW + 1).to_string()),
                ..signed("tampered timestamp", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                secret: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee",
                ..signed("wrong secret", NOW, NOW)
            },
            Err(BadSignature),
        );
        check(
            Case {
                signature: Some(sign(SECRET, "POST", PATH, NOW, BODY).to_uppercase()),
                ..signed("upper-case hex", NOW, NOW)
            },
            Ok(()),
        );
        // Window edges: exactly 5 minutes either way is inside; one millisecond more is not.
        check(signed("oldest accepted", NOW - WINDOW_MS, NOW), Ok(()));
        check(
            signed("one ms too old", NOW - WINDOW_MS - 1, NOW),
            Err(StaleTimestamp),
        );
        check(signed("newest accepted", NOW + WINDOW_MS, NOW), Ok(()));
        check(
            signed("one ms too new", NOW + WINDOW_MS + 1, NOW),
            Err(FutureTimestamp),
        );
        check(
            signed("seconds, not ms", NOW / 1000, NOW),
            Err(StaleTimestamp),
        );
        // Headers.
        check(
            Case {
                timestamp: None,
                ..signed("no timestamp", NOW, NOW)
            },
            Err(MissingHeader(TIMESTAMP_HEADER)),
        );
        check(
            Case {
                signature: None,
                ..signed("no signature", NOW, NOW)
            },
            Err(MissingHeader(SIGNATURE_HEADER)),
        );
        for bad in [
            "",
            "abc",
            "-1",
            "+1795306646000",
            "01795306646000",
            "1795306646000.0",
            " 1795306646000",
            "99999999999999999",
        ] {
            check(
                Case {
                    timestamp: Some(bad.into()),
                    ..signed("bad timestamp", NOW, NOW)
                },
                Err(BadTimestamp),
            );
        }
        let sig = sign(SECRET, "POST", PATH, NOW, BODY);
        for bad in [
            String::new(),
            sig[..62].to_string(),
            format!("{sig}00"),
            format!("zz{}", &sig[2..]),
        ] {
            check(
                Case {
                    signature: Some(bad),
                    ..signed("bad signature format", NOW, NOW)
                },
                Err(BadSignatureFormat),
            );
        }
    }

    #[test]
    fn replay_key_is_stable_and_lives_until_the_timestamp_leaves_the_window() {
        let sig = sign(SECRET, "POST", PATH, NOW, BODY);
        let upper = sig.to_uppercase();
        let verify_with = |signature: &str, signed_at: i64, now: i64| {
            let timestamp = signed_at.to_string();
            let request = DeviceRequest {
                method: "POST",
                path: PATH,
                body: BODY,
                timestamp: Some(&timestamp),
                signature: Some(signature),
            };
            verify(SECRET, &request, now).unwrap()
        };
        let first = verify_with(&sig, NOW, NOW);
        assert_eq!(first.replay_key, format!("sig:{sig}"));
        assert_eq!(
            verify_with(&upper, NOW, NOW + 1000).replay_key,
            first.replay_key,
            "hex case must not dodge the replay check"
        );
        assert_eq!(first.replay_until_ms, NOW + WINDOW_MS);
        assert_eq!(first.replay_ttl_s(NOW), 301);
        assert_eq!(first.replay_ttl_s(NOW + WINDOW_MS), 1);
        assert_eq!(first.replay_ttl_s(NOW + WINDOW_MS + 1), 0);
        let other = sign(SECRET, "POST", PATH, NOW + 1, BODY);
        assert_ne!(
            verify_with(&other, NOW + 1, NOW).replay_key,
            first.replay_key
        );
        assert_eq!(AuthError::Replayed.code(), "auth_replayed");
    }

    #[test]
    fn derived_secrets_and_master_rotation() {
        let masters =
            parse_master_keys(&format!("1:{},  2:{}", "11".repeat(32), "22".repeat(32))).unwrap();
        assert_eq!(
            masters.iter().map(|m| m.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(issuing_master(&masters).unwrap().version, 2);
        let (v1, v2) = (&masters[1], &masters[0]);
        let s1 = device_secret(v1, "pk1", "dev1", 7);
        assert_eq!(s1.len(), 64);
        assert_eq!(
            s1,
            device_secret(v1, "pk1", "dev1", 7),
            "derivation is deterministic"
        );
        for (name, other) in [
            (
                "another master version",
                device_secret(v2, "pk1", "dev1", 7),
            ),
            ("another product", device_secret(v1, "pk2", "dev1", 7)),
            ("another device", device_secret(v1, "pk1", "dev2", 7)),
            ("another generation", device_secret(v1, "pk1", "dev1", 8)),
            (
                "the rule before generations",
                device_secret(v1, "pk1", "dev1", 0),
            ),
        ] {
            assert_ne!(s1, other, "{name}");
        }
        // Generation 0 is exactly the older rule, so devices provisioned before keep their secret.
        let mut mac = HmacSha256::new_from_slice(&v1.key).unwrap();
        mac.update(b"fota-device-secret\npk1\ndev1");
        assert_eq!(
            device_secret(v1, "pk1", "dev1", 0),
            hex::encode(mac.finalize().into_bytes())
        );
        let mut mac = HmacSha256::new_from_slice(&v1.key).unwrap();
        mac.update(b"fota-device-secret\npk1\ndev1\n7");
        assert_eq!(s1, hex::encode(mac.finalize().into_bytes()));
        assert!(
            !format!("{v1:?}").contains("1111"),
            "Debug never shows key material"
        );
    }

    /// Which recorded key a request signed under (master version, generation) verifies against.
    #[test]
    fn a_device_verifies_only_under_its_recorded_version_and_generation() {
        let both =
            parse_master_keys(&format!("1:{},2:{}", "11".repeat(32), "22".repeat(32))).unwrap();
        let only_v2 = parse_master_keys(&format!("2:{}", "22".repeat(32))).unwrap();
        let master = |v: u32| both.iter().find(|m| m.version == v).unwrap();
        let key = |master_version: Option<u32>, generation: i64| DeviceKey {
            master_version,
            generation,
        };
        #[track_caller]
        fn check(
            masters: &[MasterKey],
            signed_with: String,
            recorded: DeviceKey,
            device: &str,
            expect: Result<u32, AuthError>,
        ) {
            let sig = sign(&signed_with, "POST", PATH, NOW, BODY);
            let request = DeviceRequest {
                method: "POST",
                path: PATH,
                body: BODY,
                timestamp: Some("1795306646000"),
                signature: Some(&sig),
            };
            let got = verify_device(masters, "pk1", device, recorded, &request, NOW)
                .map(|a| a.master_version);
            assert_eq!(got, expect, "recorded {recorded:?}");
        }
        use AuthError::BadSignature;
        // (masters listed, secret the device signs with, what D1 records, device named, verdict)
        check(
            &both,
            device_secret(master(1), "pk1", "dev1", 5),
            key(Some(1), 5),
            "dev1",
            Ok(1),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 5),
            key(Some(2), 5),
            "dev1",
            Ok(2),
        );
        check(
            &both,
            device_secret(master(1), "pk1", "dev1", 5),
            key(Some(2), 5),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 5),
            key(Some(1), 5),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 5),
            key(Some(2), 6),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 6),
            key(Some(2), 5),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 5),
            key(Some(2), 5),
            "dev2",
            Err(BadSignature),
        );
        check(
            &only_v2,
            device_secret(master(1), "pk1", "dev1", 5),
            key(Some(1), 5),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 5),
            key(Some(3), 5),
            "dev1",
            Err(BadSignature),
        );
        // Not recorded (provisioned before versions were): every listed version, newest first.
        check(
            &both,
            device_secret(master(1), "pk1", "dev1", 0),
            key(None, 0),
            "dev1",
            Ok(1),
        );
        check(
            &both,
            device_secret(master(2), "pk1", "dev1", 0),
            key(None, 0),
            "dev1",
            Ok(2),
        );
        check(
            &only_v2,
            device_secret(master(1), "pk1", "dev1", 0),
            key(None, 0),
            "dev1",
            Err(BadSignature),
        );
        check(
            &both,
            device_secret(master(1), "pk1", "dev1", 0),
            key(None, 5),
            "dev1",
            Err(BadSignature),
        );
    }

    #[test]
    fn master_key_text_errors() {
        use MasterKeyError::*;
        let key = "ab".repeat(32);
        for (text, expect) in [
            ("", Empty),
            (" , ", Empty),
            ("abc", BadEntry(0)),
            (&format!("0:{key}"), BadEntry(0)),
            (&format!("x:{key}"), BadEntry(0)),
            ("1:abcd", BadKey(1)),
            (&format!("1:{key}z"), BadKey(1)),
            (&format!("1:{key},1:{key}"), DuplicateVersion(1)),
        ] {
            assert_eq!(parse_master_keys(text), Err(expect), "{text:?}");
        }
    }

    #[test]
    fn secret_display_form() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xAB;
        bytes[31] = 0x01;
        assert_eq!(secret_from_bytes(&bytes), format!("ab{}01", "0".repeat(60)));
    }
}
