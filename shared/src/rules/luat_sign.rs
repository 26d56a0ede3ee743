//! Signed LuatOS checks: a device that holds its secret (registered with `"protocol": "luat"`)
//! appends `ts=<unix seconds>&sig=<hex>` to its upgrade check, where
//! `sig = hex(HMAC-SHA256(secret, id "\n" project_key "\n" firmware_name "\n" version "\n" ts))`,
//! keyed with the secret's text exactly as shown (its 64 hex characters as ASCII, as the signed
//! device API keys it), each field exactly as the device sent it.
//!
//! The check carries no nonce: a captured signed check can be replayed for [`WINDOW_S`] seconds,
//! and gets the same answer the device got (README's threat model).

use crate::rules::device_auth::{device_secret, hmac_sha256, MasterKey};
use crate::rules::luat::UpgradeCheck;
use hmac::Mac;

/// How far a signature's `ts` may be from the edge's clock, either way.
pub const WINDOW_S: i64 = 300;

/// The `ts` and `sig` a check carried, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub ts: String,
    pub sig: String,
}

/// What a check's signature proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The check carried no signature.
    Unsigned,
    /// A signature that verifies with the id's secret, within the window.
    Valid,
    /// A signature that does not verify (stale, wrong, malformed, or the id has no secret).
    Invalid,
}

/// The text the device signs.
pub fn message(check: &UpgradeCheck, ts: &str) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        check.device_id, check.project_key, check.firmware_name, check.version_text, ts
    )
}

/// The `sig` a device with `secret` sends for `check` at `ts` (lowercase hex).
pub fn sign(secret: &str, check: &UpgradeCheck, ts: &str) -> String {
    hex::encode(
        hmac_sha256(secret.as_bytes(), message(check, ts).as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// Checks the check's signature against one secret at `now_s` (unix seconds). The comparison is
/// constant-time (`Mac::verify_slice`); `ts` must be plain decimal digits.
pub fn verify(secret: &str, check: &UpgradeCheck, now_s: i64) -> Proof {
    let Some(signature) = &check.signature else {
        return Proof::Unsigned;
    };
    let fresh = signature.ts.len() <= 12
        && !signature.ts.is_empty()
        && signature.ts.bytes().all(|b| b.is_ascii_digit())
        && signature
            .ts
            .parse::<i64>()
            .is_ok_and(|ts| (ts - now_s).abs() <= WINDOW_S);
    let Ok(sig) = hex::decode(&signature.sig) else {
        return Proof::Invalid;
    };
    let ok = hmac_sha256(secret.as_bytes(), message(check, &signature.ts).as_bytes())
        .verify_slice(&sig)
        .is_ok();
    if fresh && ok {
        Proof::Valid
    } else {
        Proof::Invalid
    }
}

/// The secret a registered Luat device holds: which master key version and key generation D1
/// recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuatKey {
    /// 0: not recorded; every master key is tried, newest first.
    pub master_version: u32,
    pub generation: i64,
}

/// Verifies a signed check of a registered device against the secret `key` names.
pub fn verify_registered(
    masters: &[MasterKey],
    key: LuatKey,
    check: &UpgradeCheck,
    now_s: i64,
) -> Proof {
    if check.signature.is_none() {
        return Proof::Unsigned;
    }
    let mut ordered: Vec<&MasterKey> = masters.iter().collect();
    ordered.sort_by_key(|m| std::cmp::Reverse(m.version));
    let named: Vec<&MasterKey> = ordered
        .iter()
        .copied()
        .filter(|m| key.master_version == 0 || m.version == key.master_version)
        .collect();
    let verified = named.into_iter().any(|m| {
        let secret = device_secret(m, &check.project_key, &check.device_id, key.generation);
        verify(&secret, check, now_s) == Proof::Valid
    });
    if verified {
        Proof::Valid
    } else {
        Proof::Invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::luat::parse_check;

    const SECRET: &str = "5f2b7e7a5c0d4e3f9a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef";
    const NOW: i64 = 1_764_633_600;

    fn check(extra: &str) -> UpgradeCheck {
        check_at("1.0.3", extra)
    }

    fn check_at(version: &str, extra: &str) -> UpgradeCheck {
        parse_check(&format!(
            "imei=862419074072389&project_key=K1&firmware_name=p_LuatOS-SoC_Air780E&version={version}{extra}"
        ))
        .unwrap()
    }

    fn signed(ts: i64) -> UpgradeCheck {
        let plain = check("");
        let sig = sign(SECRET, &plain, &ts.to_string());
        check(&format!("&ts={ts}&sig={sig}"))
    }

    #[test]
    fn the_message_is_the_fields_as_sent_joined_by_newlines() {
        assert_eq!(
            message(&check(""), "1764633600"),
            "862419074072389\nK1\np_LuatOS-SoC_Air780E\n1.0.3\n1764633600"
        );
    }

    #[test]
    fn signatures_verify_within_the_window_only() {
        let cases: &[(&str, UpgradeCheck, i64, Proof)] = &[
            ("no signature", check(""), NOW, Proof::Unsigned),
            ("fresh", signed(NOW), NOW, Proof::Valid),
            ("300 s early", signed(NOW - 300), NOW, Proof::Valid),
            ("300 s ahead", signed(NOW + 300), NOW, Proof::Valid),
            ("301 s old", signed(NOW - 301), NOW, Proof::Invalid),
            ("301 s ahead", signed(NOW + 301), NOW, Proof::Invalid),
        ];
        for (what, c, now, want) in cases {
            assert_eq!(verify(SECRET, c, *now), *want, "{what}");
        }
    }

    #[test]
    fn any_changed_field_or_secret_fails() {
        let good = signed(NOW);
        let sig = good.signature.clone().unwrap().sig;
        let cases = [
            (
                "other version",
                check_at("1.0.4", &format!("&ts={NOW}&sig={sig}")),
            ),
            ("other ts", check(&format!("&ts={}&sig={sig}", NOW + 1))),
            (
                "uppercase hex is the same bytes",
                check(&format!("&ts={NOW}&sig={}", sig.to_uppercase())),
            ),
            ("short", check(&format!("&ts={NOW}&sig={}", &sig[..62]))),
            ("not hex", check(&format!("&ts={NOW}&sig=zz"))),
            ("signed ts", check(&format!("&ts=+{NOW}&sig={sig}"))),
        ];
        let want = [
            Proof::Invalid,
            Proof::Invalid,
            Proof::Valid,
            Proof::Invalid,
            Proof::Invalid,
            Proof::Invalid,
        ];
        for ((what, c), want) in cases.into_iter().zip(want) {
            assert_eq!(verify(SECRET, &c, NOW), want, "{what}");
        }
        assert_eq!(
            verify(&SECRET.replace('5', "6"), &good, NOW),
            Proof::Invalid
        );
    }

    #[test]
    fn a_registered_device_verifies_with_its_derived_secret() {
        let master = MasterKey {
            version: 2,
            key: vec![7; 32],
        };
        let old = MasterKey {
            version: 1,
            key: vec![1; 32],
        };
        let key = LuatKey {
            master_version: 2,
            generation: 3,
        };
        let secret = device_secret(&master, "K1", "862419074072389", 3);
        let plain = check("");
        let sig = sign(&secret, &plain, &NOW.to_string());
        let c = check(&format!("&sig={sig}&ts={NOW}"));
        let masters = [old.clone(), master.clone()];
        assert_eq!(verify_registered(&masters, key, &c, NOW), Proof::Valid);
        let unrecorded = LuatKey {
            master_version: 0,
            ..key
        };
        assert_eq!(
            verify_registered(&masters, unrecorded, &c, NOW),
            Proof::Valid
        );
        let older_generation = LuatKey {
            generation: 2,
            ..key
        };
        assert_eq!(
            verify_registered(&masters, older_generation, &c, NOW),
            Proof::Invalid
        );
        assert_eq!(verify_registered(&[old], key, &c, NOW), Proof::Invalid);
        assert_eq!(
            verify_registered(&masters, key, &plain, NOW),
            Proof::Unsigned
        );
    }
}
