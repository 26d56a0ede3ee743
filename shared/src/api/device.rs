//! What JSON (module-OTA) devices read: acknowledgements, the signed upgrade notice and the
//! check-now push command, and the functions that assemble them from the rules' results.

use crate::rules::notice::{sign_notice, NoticeSubject, HASH_TYPE, SIGN_METHOD};
use serde::{Deserialize, Serialize};

// Aliyun/HaaS-style module OTA: the JSON a device reads (the rules are in `crate::rules::module_ota`,
// `crate::rules::module_job`, `crate::rules::notice` and `crate::rules::device_auth`).

/// The answer to a device's report or progress message: `{"id":"123","code":200}`; a progress
/// report throttled away is `429` with `message`. Refusals (bad signature, malformed message, too
/// large) use the admin error shape `{"error":{"code":"auth_replayed","message":"..."}}` with their
/// HTTP status. `id` echoes the request's `id` exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAck {
    pub id: String,
    pub code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The upgrade notice: `GET /ota/device/upgrade/{productKey}/{deviceName}` answers
/// `{"id":"123","code":200,"data":{...}}` when the device has a job in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeNotice {
    pub id: String,
    pub code: u16,
    pub data: NoticeData,
}

/// What the device downloads and how it checks it. The device downloads `url`, checks the bytes
/// against `sha256` (`hash_type`), and before that checks `sign` over the fields listed in
/// [`crate::rules::notice::notice_canonical_bytes`] with the public key `key_id`. `url` and `md5` are not
/// signed: the URL expires and changes, and the signed `sha256` already binds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeData {
    pub module: String,
    pub version: String,
    pub size: u64,
    pub url: String,
    pub md5: String,
    pub sha256: String,
    /// The digest the device must verify the download with: always `sha256`.
    pub hash_type: String,
    /// Milliseconds since the epoch: the device refuses the notice at and after this instant.
    pub expires: i64,
    /// The job installs an older version than the device reported (the plan allows downgrades).
    pub downgrade: bool,
    /// Lowercase hex Ed25519 signature (128 characters).
    pub sign: String,
    /// Always `Ed25519`.
    pub sign_method: String,
    /// The signing key's id, so a device holding two public keys during a rotation tries the right one.
    pub key_id: String,
}

/// The command pushed over a device's standing connection (TCP or MQTT) to make it check now:
/// `{"fota":"true","url":"<check url>"}`. `fota` is the string `"true"`, as devices compare text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushCommand {
    pub fota: String,
    pub url: String,
}

/// The image half of a notice, as the edge resolved it from the plan.
#[derive(Debug, Clone, Copy)]
pub struct NoticeImage<'a> {
    /// A download URL with its expiry ([`crate::rules::download_url`]).
    pub url: &'a str,
    pub md5: &'a str,
}

/// The whole `GET` answer for a device with a job in progress; signs with `seed` under `key_id`.
pub fn build_notice(
    id: &str,
    subject: &NoticeSubject<'_>,
    image: NoticeImage<'_>,
    key_id: &str,
    seed: &[u8; 32],
) -> UpgradeNotice {
    UpgradeNotice {
        id: id.to_string(),
        code: 200,
        data: NoticeData {
            module: subject.module.to_string(),
            version: subject.version.to_string(),
            size: subject.size,
            url: image.url.to_string(),
            md5: image.md5.to_string(),
            sha256: subject.sha256.to_string(),
            hash_type: HASH_TYPE.to_string(),
            expires: subject.expires_ms,
            downgrade: subject.downgrade,
            sign: sign_notice(seed, subject),
            sign_method: SIGN_METHOD.to_string(),
            key_id: key_id.to_string(),
        },
    }
}

/// The command that makes a connected device check now: `{"fota":"true","url":"<check url>"}`.
pub fn push_command(check_url: &str) -> String {
    serde_json::to_string(&PushCommand {
        fota: "true".into(),
        url: check_url.into(),
    })
    .expect("two strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::notice::{public_key_hex, verify_notice};

    const SEED: [u8; 32] = [7; 32];

    fn subject() -> NoticeSubject<'static> {
        let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        NoticeSubject {
            product_key: "pk1",
            device_name: "dev1",
            module: "MCU",
            version: "1.0.1",
            size: 432_945,
            sha256,
            expires_ms: 1_795_310_246_000,
            downgrade: false,
        }
    }

    #[test]
    fn notice_json_shape() {
        let notice = build_notice(
            "123",
            &subject(),
            NoticeImage {
                url: "https://x/i?expires=1&sig=ab",
                md5: "0cc1",
            },
            "k1",
            &SEED,
        );
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(json["code"], 200);
        assert_eq!(json["id"], "123");
        let keys: Vec<&str> = json["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 12);
        for key in [
            "module",
            "version",
            "size",
            "url",
            "md5",
            "sha256",
            "hash_type",
            "expires",
            "downgrade",
            "sign",
            "sign_method",
            "key_id",
        ] {
            assert!(keys.contains(&key), "{key}");
        }
        assert_eq!(
            (
                json["data"]["hash_type"].as_str(),
                json["data"]["sign_method"].as_str()
            ),
            (Some("sha256"), Some("Ed25519"))
        );
        assert_eq!(
            verify_notice(&public_key_hex(&SEED), &subject(), &notice.data.sign),
            Ok(())
        );
    }

    #[test]
    fn push_command_json() {
        assert_eq!(
            push_command("http://h/ota/device/upgrade/pk1/dev1"),
            r#"{"fota":"true","url":"http://h/ota/device/upgrade/pk1/dev1"}"#
        );
        assert_eq!(push_command(r#"a"b"#), r#"{"fota":"true","url":"a\"b"}"#);
    }
}
