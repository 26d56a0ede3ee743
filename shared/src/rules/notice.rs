//! The upgrade notice a module-OTA device downloads its image by: the Ed25519 signature over the
//! notice's identifying fields, the rotation of the signing keys, and the push command that makes a
//! connected device check now.
//!
//! # Signed bytes
//! [`notice_canonical_bytes`] is eight lines of UTF-8 joined by `\n`, no trailing newline:
//! ```text
//! <product_key>
//! <device_name>        (the device the notice is for)
//! <module>
//! <version>            (exactly the notice's `version` text)
//! <size>               (decimal, no leading zeros)
//! <sha256>             (64 lowercase hex characters)
//! <expires>            (the notice's `expires`: milliseconds since the epoch, decimal)
//! <downgrade>          (`true` or `false`, the notice's `downgrade`)
//! ```
//! None of the fields can hold a newline (product keys, device ids, module names and versions are
//! validated before they are stored). The product key is signed too, so that, with one signing key
//! for every product, a notice for another product's image can never pass on this product's
//! devices. The device name binds the notice to one device: a device checks the signature with
//! **its own** name, so a notice captured from another device fails. `expires` bounds how long a
//! captured notice can be replayed to the device: a device refuses a notice at or after its expiry
//! ([`accept_notice`]). `downgrade` says the operator's plan installs an older version than the
//! device reported; a device that refuses notices for versions not newer than its own may accept a
//! signed `downgrade: true` one, and nothing else can make it go back.
//! The URL and md5 are not signed: the URL expires and changes, and the signed sha256 binds the
//! bytes.
//!
//! `sign` is the lowercase hex Ed25519 signature (128 characters); `sign_method` is `Ed25519`.
//!
//! # Keys
//! Private keys are 32-byte seeds the edge holds as secrets (generated outside, e.g.
//! `openssl rand -hex 32`): this crate never draws randomness. [`SigningKey`] is the public side
//! with its validity: the newest key already created and not retired signs ([`active_key`]), and
//! every key not yet retired is published for devices to trust ([`valid_keys`]), including a key
//! created in the future, so devices learn a new key before the first notice it signs.
//! Rotation: add the new key, let devices fetch the key list, and set the old key's
//! `retire_after_ms` to when no device should still hold a notice it signed.

use crate::model::keys::SigningKey;
use ed25519_dalek::{Signature, Signer, SigningKey as Ed25519Secret, VerifyingKey};

pub const SIGN_METHOD: &str = "Ed25519";
pub const HASH_TYPE: &str = "sha256";

/// What a notice signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeSubject<'a> {
    pub product_key: &'a str,
    /// The device the notice is for (`deviceName`).
    pub device_name: &'a str,
    pub module: &'a str,
    pub version: &'a str,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: &'a str,
    /// Milliseconds since the epoch; the notice is refused at and after this instant.
    pub expires_ms: i64,
    /// The plan installs an older version than the device reported.
    pub downgrade: bool,
}

/// Why a key, seed or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("signing seed is not 64 hex characters")]
    BadSeed,
    #[error("public key is not a valid Ed25519 key in 64 hex characters")]
    BadPublicKey,
    #[error("signature is not 128 hex characters")]
    BadSignatureFormat,
    #[error("signature does not match the notice")]
    BadSignature,
    #[error("the notice has expired")]
    Expired,
}

/// The bytes a notice signature covers; the format is in the module doc.
pub fn notice_canonical_bytes(subject: &NoticeSubject<'_>) -> Vec<u8> {
    let NoticeSubject {
        product_key,
        device_name,
        module,
        version,
        size,
        sha256,
        expires_ms,
        downgrade,
    } = subject;
    format!("{product_key}\n{device_name}\n{module}\n{version}\n{size}\n{sha256}\n{expires_ms}\n{downgrade}").into_bytes()
}

/// Reads a 32-byte signing seed from its hex form.
pub fn seed_from_hex(text: &str) -> Result<[u8; 32], NoticeError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(NoticeError::BadSeed)
}

/// The public key of a seed, lowercase hex: what [`SigningKey::public_key_hex`] holds.
pub fn public_key_hex(seed: &[u8; 32]) -> String {
    hex::encode(Ed25519Secret::from_bytes(seed).verifying_key().to_bytes())
}

/// Signs a notice: lowercase hex Ed25519 signature (deterministic, so no randomness is needed).
pub fn sign_notice(seed: &[u8; 32], subject: &NoticeSubject<'_>) -> String {
    hex::encode(
        Ed25519Secret::from_bytes(seed)
            .sign(&notice_canonical_bytes(subject))
            .to_bytes(),
    )
}

/// Checks a notice signature as a device would, with `verify_strict` (no malleable signatures,
/// no weak keys).
pub fn verify_notice(
    public_key_hex: &str,
    subject: &NoticeSubject<'_>,
    signature_hex: &str,
) -> Result<(), NoticeError> {
    let key: [u8; 32] = hex::decode(public_key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(NoticeError::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| NoticeError::BadPublicKey)?;
    let signature: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(NoticeError::BadSignatureFormat)?;
    key.verify_strict(
        &notice_canonical_bytes(subject),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| NoticeError::BadSignature)
}

/// What a device does with a notice before it downloads anything: the signature (with its own
/// product key and device name in `subject`, never ones read from elsewhere), then the expiry at
/// `now_ms`. A forged notice is refused as forged whatever its expiry.
pub fn accept_notice(
    public_key_hex: &str,
    subject: &NoticeSubject<'_>,
    signature_hex: &str,
    now_ms: i64,
) -> Result<(), NoticeError> {
    verify_notice(public_key_hex, subject, signature_hex)?;
    if now_ms >= subject.expires_ms {
        return Err(NoticeError::Expired);
    }
    Ok(())
}

/// Whether a job installs an older version than the one the device reported for the module
/// (numeric order, `crate::leaf::version`); unparsable or unreported versions are not a downgrade.
pub fn is_downgrade(reported: Option<&str>, target: &str) -> bool {
    use crate::leaf::version::Version;
    match (
        reported.and_then(|r| Version::parse(r).ok()),
        Version::parse(target).ok(),
    ) {
        (Some(reported), Some(target)) => target < reported,
        _ => false,
    }
}

fn retired(key: &SigningKey, now_ms: i64) -> bool {
    key.retire_after_ms.is_some_and(|at| now_ms >= at)
}

/// The key that signs now: the newest created (`created_ms`, then `id`, for a tie) not retired.
pub fn active_key(keys: &[SigningKey], now_ms: i64) -> Option<&SigningKey> {
    keys.iter()
        .filter(|k| k.created_ms <= now_ms && !retired(k, now_ms))
        .max_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)))
}

/// The keys devices should trust now: every key whose overlap has not ended, oldest first.
pub fn valid_keys(keys: &[SigningKey], now_ms: i64) -> Vec<&SigningKey> {
    let mut valid: Vec<&SigningKey> = keys.iter().filter(|k| !retired(k, now_ms)).collect();
    valid.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];
    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const EXPIRES: i64 = 1_795_310_246_000;

    fn subject() -> NoticeSubject<'static> {
        NoticeSubject {
            product_key: "pk1",
            device_name: "dev1",
            module: "MCU",
            version: "1.0.1",
            size: 432_945,
            sha256: SHA,
            expires_ms: EXPIRES,
            downgrade: false,
        }
    }

    #[test]
    fn canonical_bytes_exact() {
        assert_eq!(
            notice_canonical_bytes(&subject()),
            format!("pk1\ndev1\nMCU\n1.0.1\n432945\n{SHA}\n1795310246000\nfalse").into_bytes()
        );
        let zero = NoticeSubject {
            size: 0,
            module: "default",
            downgrade: true,
            ..subject()
        };
        assert_eq!(
            notice_canonical_bytes(&zero),
            format!("pk1\ndev1\ndefault\n1.0.1\n0\n{SHA}\n1795310246000\ntrue").into_bytes()
        );
    }

    #[test]
    fn ed25519_matches_rfc_8032() {
        // RFC 8032 section 7.1, test 1: the empty message.
        let seed =
            seed_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap();
        assert_eq!(
            public_key_hex(&seed),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let signature = Ed25519Secret::from_bytes(&seed).sign(b"").to_bytes();
        assert_eq!(
            hex::encode(signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn sign_verify_round_trip_and_every_field_is_covered() {
        let public = public_key_hex(&SEED);
        let sig = sign_notice(&SEED, &subject());
        assert_eq!(sig.len(), 128);
        assert_eq!(sig, sign_notice(&SEED, &subject()), "deterministic");
        assert_eq!(verify_notice(&public, &subject(), &sig), Ok(()));
        let tampered_sha = format!("8{}", &SHA[1..]);
        for (field, changed) in [
            (
                "product_key",
                NoticeSubject {
                    product_key: "pk2",
                    ..subject()
                },
            ),
            (
                "device_name",
                NoticeSubject {
                    device_name: "dev2",
                    ..subject()
                },
            ),
            (
                "expires",
                NoticeSubject {
                    expires_ms: EXPIRES + 1,
                    ..subject()
                },
            ),
            (
                "downgrade",
                NoticeSubject {
                    downgrade: true,
                    ..subject()
                },
            ),
            (
                "module",
                NoticeSubject {
                    module: "MCV",
                    ..subject()
                },
            ),
            (
                "version",
                NoticeSubject {
                    version: "1.0.2",
                    ..subject()
                },
            ),
            (
                "size",
                NoticeSubject {
                    size: 432_946,
                    ..subject()
                },
            ),
            (
                "sha256",
                NoticeSubject {
                    sha256: &tampered_sha,
                    ..subject()
                },
            ),
        ] {
            assert_eq!(
                verify_notice(&public, &changed, &sig),
                Err(NoticeError::BadSignature),
                "{field}"
            );
        }
        let mut flipped = hex::decode(&sig).unwrap();
        flipped[10] ^= 1;
        assert_eq!(
            verify_notice(&public, &subject(), &hex::encode(flipped)),
            Err(NoticeError::BadSignature)
        );
        assert_eq!(
            verify_notice(&public_key_hex(&[8; 32]), &subject(), &sig),
            Err(NoticeError::BadSignature),
            "another key"
        );
        assert_eq!(
            verify_notice(&public, &subject(), &sig[..126]),
            Err(NoticeError::BadSignatureFormat)
        );
        assert_eq!(
            verify_notice("zz", &subject(), &sig),
            Err(NoticeError::BadPublicKey)
        );
        assert_eq!(seed_from_hex("abcd"), Err(NoticeError::BadSeed));
    }

    #[test]
    fn a_device_accepts_a_notice_only_signed_for_it_and_before_its_expiry() {
        let public = public_key_hex(&SEED);
        let sig = sign_notice(&SEED, &subject());
        let other_device = sign_notice(
            &SEED,
            &NoticeSubject {
                device_name: "dev2",
                ..subject()
            },
        );
        use NoticeError::*;
        for (name, signature, subject, now, expect) in [
            ("fresh", &sig, subject(), EXPIRES - 3_600_000, Ok(())),
            ("last ms", &sig, subject(), EXPIRES - 1, Ok(())),
            ("at expiry", &sig, subject(), EXPIRES, Err(Expired)),
            ("after expiry", &sig, subject(), EXPIRES + 1, Err(Expired)),
            (
                "expiry moved later",
                &sig,
                NoticeSubject {
                    expires_ms: EXPIRES + 3_600_000,
                    ..subject()
                },
                EXPIRES,
                Err(BadSignature),
            ),
            (
                "another device's notice",
                &other_device,
                subject(),
                0,
                Err(BadSignature),
            ),
            (
                "forged and expired",
                &other_device,
                subject(),
                EXPIRES + 1,
                Err(BadSignature),
            ),
        ] {
            assert_eq!(
                accept_notice(&public, &subject, signature, now),
                expect,
                "{name}"
            );
        }
    }

    #[test]
    fn downgrade_is_a_target_older_than_the_reported_version() {
        for (reported, target, expect) in [
            (Some("1.2.0"), "1.1.9", true),
            (Some("1.10"), "1.9", true),
            (Some("1.0.0"), "1.0.1", false),
            (Some("1.0"), "1.0.0", false),
            (Some("1.0.1"), "1.0.1", false),
            (None, "1.0.1", false),
            (Some("x"), "1.0.1", false),
        ] {
            assert_eq!(
                is_downgrade(reported, target),
                expect,
                "{reported:?} -> {target}"
            );
        }
    }

    fn key(id: &str, created_ms: i64, retire_after_ms: Option<i64>) -> SigningKey {
        SigningKey {
            id: id.into(),
            public_key_hex: String::new(),
            created_ms,
            retire_after_ms,
        }
    }

    #[test]
    fn rotation_overlap_edges() {
        // `a` signs until `b` exists at 500, and is trusted until it retires at 1000.
        let keys = [key("a", 0, Some(1000)), key("b", 500, None)];
        for (now, active, valid) in [
            (-1, None, "a b"),
            (0, Some("a"), "a b"),
            (499, Some("a"), "a b"),
            (500, Some("b"), "a b"),
            (999, Some("b"), "a b"),
            (1000, Some("b"), "b"),
        ] {
            assert_eq!(
                active_key(&keys, now).map(|k| k.id.as_str()),
                active,
                "active at {now}"
            );
            let ids: Vec<&str> = valid_keys(&keys, now)
                .iter()
                .map(|k| k.id.as_str())
                .collect();
            assert_eq!(ids.join(" "), valid, "valid at {now}");
        }
        let alone = [key("a", 0, Some(1000))];
        assert_eq!(active_key(&alone, 999).map(|k| k.id.as_str()), Some("a"));
        assert_eq!(active_key(&alone, 1000), None, "a retired key never signs");
        let tie = [key("b", 0, None), key("a", 0, None)];
        assert_eq!(
            active_key(&tie, 0).map(|k| k.id.as_str()),
            Some("b"),
            "a tie goes to the greater id"
        );
    }
}
