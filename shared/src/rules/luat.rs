//! Parsing of Luat IoT-platform upgrade checks, for every client variant seen in the field.
//!
//! Real firmware cannot be patched, so this parser is lenient where devices are sloppy (glued
//! query strings, a leading `?`, the literal `nil` instead of an id, unknown extra parameters) and
//! strict only where a wrong guess would hand a device the wrong image.

use crate::leaf::code::Refusal;
use crate::leaf::ids::{valid_device_id, valid_name};
use crate::leaf::version::Version;

/// The paths a Luat device may be configured with. The hosted platform's default comes first.
pub const CHECK_PATHS: [&str; 2] = ["/api/site/firmware_upgrade", "/luat/update"];

/// Which kind of id the device sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Imei,
    Mac,
    Uid,
}

/// The client library that sent the check; it decides whether a redirect can be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// LuatOS `libfota2` / `libfota`: never follows a redirect.
    LuatOs,
    /// Luat `update.lua` on Air724 (sends `core_version`/`dfota`, `Range` on every request).
    UpdateLuaAir724,
    /// Luat `update.lua` on Air800 / ASR1802 (sends `device_key`).
    UpdateLuaAir800,
    /// Anything else speaking the same query (operator scripts, old samples).
    Other,
}

impl Client {
    pub fn follows_redirects(self) -> bool {
        !matches!(self, Client::LuatOs)
    }
}

/// One parsed upgrade check.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeCheck {
    pub device_id: String,
    pub id_kind: IdKind,
    pub project_key: String,
    pub firmware_name: String,
    pub version: Version,
    /// The version exactly as the device sent it, for the registry.
    pub version_text: String,
    pub client: Client,
    /// `need_oss_url=1`: the device asks for a redirect to an external copy of the image.
    pub wants_redirect: bool,
    /// `ts` and `sig` (`crate::rules::luat_sign`), when the check carried either.
    pub signature: Option<crate::rules::luat_sign::Signature>,
}

/// Finds the query of a check request, or `None` when the path is not a check route.
///
/// `path` and `query` are as the URL parser split them (`query` without its `?`). A device whose
/// configured base lacks a trailing `?` glues the parameters onto the path
/// (`/api/site/firmware_upgradeimei=...`); that form is accepted too.
pub fn check_query(path: &str, query: Option<&str>) -> Option<String> {
    for base in CHECK_PATHS {
        let Some(rest) = path.strip_prefix(base) else {
            continue;
        };
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let glued_ok = rest.is_empty() || rest.contains('=') || rest.starts_with("nil");
        if !glued_ok {
            continue;
        }
        let mut joined = rest.to_string();
        if let Some(q) = query {
            if !joined.is_empty() {
                joined.push('&');
            }
            joined.push_str(q);
        }
        return Some(joined);
    }
    None
}

/// Splits a query into `(key, value)` pairs. Bare words (`nil`) get an empty value; values are
/// percent-decoded when that yields UTF-8 and kept as sent otherwise.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split(['&', '?'])
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

/// Percent-decodes `text` when that yields UTF-8; otherwise returns it as sent. A `%` not followed
/// by two hex digits stays as it is, and `+` stays a `+`: devices send ids and versions, never
/// form-encoded spaces.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_string(), |decoded| decoded.into_owned())
}

/// Parses the query of an upgrade check into an [`UpgradeCheck`].
/// The parameters whose value decides the answer; see [`parse_check`].
const DECIDING_PARAMETERS: [&str; 9] = [
    "project_key",
    "firmware_name",
    "version",
    "imei",
    "mac",
    "uid",
    "need_oss_url",
    "ts",
    "sig",
];

/// The longest `version` text accepted: real ones are a few dotted numbers (`2018.1.3`, `V1.2.3`).
pub const MAX_VERSION_LEN: usize = 32;

pub fn parse_check(query: &str) -> Result<UpgradeCheck, Refusal> {
    let pairs = query_pairs(query);
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let present = |key: &str| pairs.iter().any(|(k, _)| k == key);
    // A parameter that decides who the device is or what it gets, given twice with two values, is
    // parameter pollution (a proxy and the edge could read different ones): refuse it. The same
    // value twice is only sloppy, and served.
    for key in DECIDING_PARAMETERS {
        let mut values = pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        if let Some(first) = values.next() {
            if values.any(|v| v != first) {
                return Err(Refusal::Malformed(
                    "a parameter is given twice with different values",
                ));
            }
        }
    }

    let project_key = get("project_key")
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::Malformed("project_key is missing"))?;
    if !valid_name(project_key) {
        return Err(Refusal::Malformed("project_key is not valid"));
    }
    let firmware_name = get("firmware_name")
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::Malformed("firmware_name is missing"))?;
    if !valid_name(firmware_name) {
        return Err(Refusal::Malformed("firmware_name is not valid"));
    }
    let version_text = get("version")
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::Malformed("version is missing"))?;
    if version_text.len() > MAX_VERSION_LEN {
        return Err(Refusal::Malformed("version is too long"));
    }
    let version = Version::parse(version_text)
        .map_err(|_| Refusal::Malformed("version is not a dotted number"))?;

    // The id: `imei`, `mac` (Wi-Fi parts) or `uid`; LuatOS on unknown models sends the bare word `nil`.
    let (id_kind, device_id) = [
        ("imei", IdKind::Imei),
        ("mac", IdKind::Mac),
        ("uid", IdKind::Uid),
    ]
    .into_iter()
    .find_map(|(key, kind)| {
        get(key)
            .filter(|v| !v.is_empty() && *v != "nil")
            .map(|v| (kind, v))
    })
    .ok_or(Refusal::MissingDeviceId)?;
    if !valid_device_id(device_id) {
        return Err(Refusal::Malformed("device id is not valid"));
    }

    let client = if firmware_name.contains("_LuatOS-SoC_") {
        Client::LuatOs
    } else if present("core_version") || present("dfota") {
        Client::UpdateLuaAir724
    } else if present("device_key") {
        Client::UpdateLuaAir800
    } else {
        Client::Other
    };

    Ok(UpgradeCheck {
        device_id: device_id.to_string(),
        id_kind,
        project_key: project_key.to_string(),
        firmware_name: firmware_name.to_string(),
        version,
        version_text: version_text.to_string(),
        client,
        wants_redirect: get("need_oss_url") == Some("1"),
        signature: (present("ts") || present("sig")).then(|| crate::rules::luat_sign::Signature {
            ts: get("ts").unwrap_or_default().to_string(),
            sig: get("sig").unwrap_or_default().to_string(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request line as a device sends it, and what the parser must make of it.
    #[track_caller]
    fn check(
        target: &str,
        expect: Result<(&str, IdKind, &str, &str, &str, Client, bool), Refusal>,
    ) {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let q = check_query(path, query).unwrap_or_else(|| panic!("{target} is a check route"));
        let got = parse_check(&q).map(|c| {
            (
                c.device_id,
                c.id_kind,
                c.project_key,
                c.firmware_name,
                c.version_text,
                c.client,
                c.wants_redirect,
            )
        });
        let expect = expect.map(|(id, kind, key, fw, v, client, redirect)| {
            (
                id.to_string(),
                kind,
                key.to_string(),
                fw.to_string(),
                v.to_string(),
                client,
                redirect,
            )
        });
        assert_eq!(got, expect, "{target}");
    }

    #[test]
    fn parses_every_client_variant() {
        use Client::*;
        use IdKind::*;
        let fw = "fotademo_LuatOS-SoC_Air780EHV";
        // LuatOS libfota2, 2025-02 on.
        check(&format!("/api/site/firmware_upgrade?imei=862419074072389&project_key=K1&firmware_name={fw}&version=2018.1.3"),
            Ok(("862419074072389", Imei, "K1", fw, "2018.1.3", LuatOs, false)));
        // Air8101 Wi-Fi part: mac id.
        check("/api/site/firmware_upgrade?mac=C8C2C68A1B2C&project_key=K1&firmware_name=w_LuatOS-SoC_Air8101&version=1.0.0",
            Ok(("C8C2C68A1B2C", Mac, "K1", "w_LuatOS-SoC_Air8101", "1.0.0", LuatOs, false)));
        // uid builds (2025-01..2026-06).
        check(&format!("/api/site/firmware_upgrade?uid=ABCDEF0123&project_key=K1&firmware_name={fw}&version=1.0.0"),
            Ok(("ABCDEF0123", Uid, "K1", fw, "1.0.0", LuatOs, false)));
        // Base without trailing `?`: parameters glued onto the path.
        check(&format!("/api/site/firmware_upgradeimei=862419074072389&project_key=K1&firmware_name={fw}&version=2018.1.3"),
            Ok(("862419074072389", Imei, "K1", fw, "2018.1.3", LuatOs, false)));
        // 2024-04..2024-11 builds: `??` and an extra `model=`.
        check(&format!("/api/site/firmware_upgrade??imei=862419074072389&project_key=K1&firmware_name={fw}&version=2018.1.3&model=Air780E_A11"),
            Ok(("862419074072389", Imei, "K1", fw, "2018.1.3", LuatOs, false)));
        // LuatOS libfota v1: id last.
        check(&format!("/api/site/firmware_upgrade?project_key=K1&firmware_name={fw}&version=2018.1.3&imei=862419074072389"),
            Ok(("862419074072389", Imei, "K1", fw, "2018.1.3", LuatOs, false)));
        // Air724 update.lua.
        check("/api/site/firmware_upgrade?project_key=K1&imei=866714043075333&firmware_name=demo_Luat_RDA8910&core_version=V2.4.4&dfota=1&version=1.0.0",
            Ok(("866714043075333", Imei, "K1", "demo_Luat_RDA8910", "1.0.0", UpdateLuaAir724, false)));
        check("/api/site/firmware_upgrade?project_key=K1&imei=866714043075333&firmware_name=demo_Luat_RDA8910&core_version=V2.4.4&dfota=1&version=1.0.0&need_oss_url=1",
            Ok(("866714043075333", Imei, "K1", "demo_Luat_RDA8910", "1.0.0", UpdateLuaAir724, true)));
        // Air800 update.lua with device_key, on the old sample path.
        check("/luat/update?project_key=K1&imei=862991234567890&device_key=SN001&firmware_name=demo_Luat_Air800&version=1.2.3",
            Ok(("862991234567890", Imei, "K1", "demo_Luat_Air800", "1.2.3", UpdateLuaAir800, false)));
        // Glued on the old path too.
        check(
            "/luat/updateimei=862991234567890&project_key=K1&firmware_name=x&version=1",
            Ok(("862991234567890", Imei, "K1", "x", "1", Other, false)),
        );
        // Percent-encoded by an operator-written `###` URL.
        check(
            "/luat/update?imei=1&project_key=K%2D1&firmware_name=x&version=1",
            Ok(("1", Imei, "K-1", "x", "1", Other, false)),
        );
        check(
            "/luat/update?imei=1&project_key=K%201&firmware_name=x&version=1",
            Err(Refusal::Malformed("project_key is not valid")),
        );
    }

    #[test]
    fn refuses_what_no_device_can_be_served_for() {
        let fw = "f_LuatOS-SoC_Air780E";
        check(
            &format!(
                "/api/site/firmware_upgrade?nil&project_key=K1&firmware_name={fw}&version=1.0.0"
            ),
            Err(Refusal::MissingDeviceId),
        );
        check(
            &format!(
                "/api/site/firmware_upgradenil&project_key=K1&firmware_name={fw}&version=1.0.0"
            ),
            Err(Refusal::MissingDeviceId),
        );
        check(
            &format!(
                "/api/site/firmware_upgrade?imei=&project_key=K1&firmware_name={fw}&version=1.0.0"
            ),
            Err(Refusal::MissingDeviceId),
        );
        check(
            &format!("/api/site/firmware_upgrade?imei=1&firmware_name={fw}&version=1.0.0"),
            Err(Refusal::Malformed("project_key is missing")),
        );
        check(
            "/api/site/firmware_upgrade?imei=1&project_key=K&version=1.0.0",
            Err(Refusal::Malformed("firmware_name is missing")),
        );
        check(
            &format!("/api/site/firmware_upgrade?imei=1&project_key=K&firmware_name={fw}"),
            Err(Refusal::Malformed("version is missing")),
        );
        check(
            &format!(
                "/api/site/firmware_upgrade?imei=1&project_key=K&firmware_name={fw}&version=1.x"
            ),
            Err(Refusal::Malformed("version is not a dotted number")),
        );
        check(
            &format!(
                "/api/site/firmware_upgrade?imei=a%20b&project_key=K&firmware_name={fw}&version=1"
            ),
            Err(Refusal::Malformed("device id is not valid")),
        );
        check(
            "/api/site/firmware_upgrade",
            Err(Refusal::Malformed("project_key is missing")),
        );
        check(
            "/api/site/firmware_upgrade?%ff%fe=%zz&&&==",
            Err(Refusal::Malformed("project_key is missing")),
        );
        let twice = Err(Refusal::Malformed(
            "a parameter is given twice with different values",
        ));
        check(&format!("/api/site/firmware_upgrade?imei=1&project_key=A&project_key=B&firmware_name={fw}&version=1.0.0"), twice);
        check(&format!("/api/site/firmware_upgrade?imei=1&imei=2&project_key=A&firmware_name={fw}&version=1.0.0"), twice);
        check(&format!("/api/site/firmware_upgrade?imei=1&project_key=A&firmware_name={fw}&version=1.0.0&version=1.0.1"), twice);
        let long = "1.".repeat(20) + "1";
        check(
            &format!(
                "/api/site/firmware_upgrade?imei=1&project_key=A&firmware_name={fw}&version={long}"
            ),
            Err(Refusal::Malformed("version is too long")),
        );
    }

    #[test]
    fn recognises_only_check_paths() {
        assert_eq!(
            check_query("/api/site/firmware_upgrade", Some("a=1")).as_deref(),
            Some("a=1")
        );
        assert_eq!(
            check_query("/api/site/firmware_upgrade/", None).as_deref(),
            Some("")
        );
        assert_eq!(
            check_query("/api/site/firmware_upgradeimei=1", Some("x=2")).as_deref(),
            Some("imei=1&x=2")
        );
        assert_eq!(check_query("/api/site/firmware_upgrades", None), None);
        assert_eq!(check_query("/healthz", None), None);
        assert_eq!(check_query("/luat/update", None).as_deref(), Some(""));
    }

    #[test]
    fn decodes_leniently() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%ff"), "%ff");
        assert_eq!(percent_decode("a+b%2Bc"), "a+b+c");
        assert_eq!(percent_decode("%41%4a%4G%"), "AJ%4G%");
        assert_eq!(percent_decode("%E4%BD%A0"), "\u{4f60}");
    }
}
