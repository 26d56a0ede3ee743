//! The codes a device may see in a "no upgrade" answer: `{"code":N,"msg":"..."}` with a 4xx status.
//!
//! 25, 26 and 27 are the hosted platform's codes. The others are ours, chosen in the 60s so that
//! none can be mistaken for a platform code; 43 in particular makes `update.lua` retry every
//! 30 s forever, so it is never used.

/// Why a device is not getting an image now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 25: the device id is bound to another project.
    OtherProject,
    /// 26: no project has this key.
    UnknownProject,
    /// 27: the project has no plan for this `firmware_name`.
    UnknownFirmware,
    /// 60: the device already runs the target version (or a newer one, without a downgrade plan).
    UpToDate,
    /// 61: the device is outside the plan's device set.
    NotInDeviceSet,
    /// 62: the device was served the target too often without reporting it; an operator must unban it.
    Banned,
    /// 63: the request is malformed; the text says which part.
    Malformed(&'static str),
    /// 64: no device id (`nil` from models the client library does not know).
    MissingDeviceId,
    /// 66: the device's version is not one of the plan's source versions.
    SourceVersionNotEligible,
    /// 67: the plan is not offering right now (paused, cancelled, outside its window, rate limited).
    NotOfferingNow,
    /// 68: the image is temporarily unavailable; the device should retry later.
    ImageUnavailable,
    /// 69: this device id asked too often this minute (`429`); it should ask again later.
    TooManyChecks,
    /// 70: the id is a provisioned JSON device, which speaks only the signed device API.
    SignedDevice,
    /// 71: the project bound as many new device ids this minute as it may; an id never seen
    /// before should ask again later (nothing was bound).
    RegistrationsSpent,
    /// 72: the project serves registered ids only (`device_policy: registered`), and this id is
    /// not one of them; nothing was recorded for it.
    Unregistered,
    /// 73: the check's signature (`ts` + `sig`) is missing where the project requires one, more
    /// than 300 s off, wrong, or from an id with no secret.
    BadSignature,
    /// 74: the device was sent its project's `daily_bytes_per_device` of image bytes today
    /// (UTC); it is served again tomorrow (`429`).
    DailyBudgetSpent,
}

impl Refusal {
    pub fn code(self) -> u16 {
        match self {
            Refusal::OtherProject => 25,
            Refusal::UnknownProject => 26,
            Refusal::UnknownFirmware => 27,
            Refusal::UpToDate => 60,
            Refusal::NotInDeviceSet => 61,
            Refusal::Banned => 62,
            Refusal::Malformed(_) => 63,
            Refusal::MissingDeviceId => 64,
            Refusal::SourceVersionNotEligible => 66,
            Refusal::NotOfferingNow => 67,
            Refusal::ImageUnavailable => 68,
            Refusal::TooManyChecks => 69,
            Refusal::SignedDevice => 70,
            Refusal::RegistrationsSpent => 71,
            Refusal::Unregistered => 72,
            Refusal::BadSignature => 73,
            Refusal::DailyBudgetSpent => 74,
        }
    }

    /// The HTTP status: always >= 400, since 3xx would read as a redirect to `update.lua`.
    pub fn status(self) -> u16 {
        match self {
            Refusal::OtherProject
            | Refusal::Banned
            | Refusal::SignedDevice
            | Refusal::Unregistered
            | Refusal::BadSignature => 403,
            Refusal::Malformed(_) | Refusal::MissingDeviceId => 400,
            Refusal::ImageUnavailable => 503,
            Refusal::TooManyChecks | Refusal::RegistrationsSpent | Refusal::DailyBudgetSpent => 429,
            _ => 404,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::OtherProject => "no permission: device belongs to another project",
            Refusal::UnknownProject => "invalid project",
            Refusal::UnknownFirmware => "invalid firmware",
            Refusal::UpToDate => "already up to date",
            Refusal::NotInDeviceSet => "device not in this upgrade",
            Refusal::Banned => "banned after repeated upgrades",
            Refusal::Malformed(why) => why,
            Refusal::MissingDeviceId => "device id missing",
            Refusal::SourceVersionNotEligible => "no upgrade from this version",
            Refusal::NotOfferingNow => "no upgrade now",
            Refusal::ImageUnavailable => "image unavailable, retry later",
            Refusal::TooManyChecks => "too many checks, retry later",
            Refusal::SignedDevice => "this device uses the signed device API",
            Refusal::RegistrationsSpent => "too many new devices, retry later",
            Refusal::Unregistered => "device not registered",
            Refusal::BadSignature => "signature missing, stale or wrong",
            Refusal::DailyBudgetSpent => "daily data budget spent, retry tomorrow",
        }
    }

    /// The JSON body, small and fixed in shape.
    pub fn body(self) -> String {
        serde_json::json!({ "code": self.code(), "msg": self.message() }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Refusal; 17] = [
        Refusal::OtherProject,
        Refusal::UnknownProject,
        Refusal::UnknownFirmware,
        Refusal::UpToDate,
        Refusal::NotInDeviceSet,
        Refusal::Banned,
        Refusal::Malformed("x"),
        Refusal::MissingDeviceId,
        Refusal::SourceVersionNotEligible,
        Refusal::NotOfferingNow,
        Refusal::ImageUnavailable,
        Refusal::TooManyChecks,
        Refusal::SignedDevice,
        Refusal::RegistrationsSpent,
        Refusal::Unregistered,
        Refusal::BadSignature,
        Refusal::DailyBudgetSpent,
    ];

    #[test]
    fn never_code_43_never_a_redirect_status() {
        for r in ALL {
            assert_ne!(r.code(), 43);
            assert!(!r.body().contains("\"code\":43"));
            assert!(r.status() >= 400 && r.status() != 500, "{r:?}");
        }
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<u16> = ALL.iter().map(|r| r.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
    }

    #[test]
    fn platform_codes_match_the_hosted_platform() {
        assert_eq!(
            Refusal::OtherProject.body(),
            r#"{"code":25,"msg":"no permission: device belongs to another project"}"#
        );
        assert_eq!(Refusal::UnknownProject.code(), 26);
        assert_eq!(Refusal::UnknownFirmware.code(), 27);
    }
}
