//! The device messages of Aliyun/HaaS-style module OTA: the version report and the progress report
//! (MQTT topics in the original, HTTP bodies at the edge), parsed into checked values, and the rule
//! that says which progress reports are worth storing.
//!
//! - Report: `{"id":"123","params":{"version":"1.0.1","module":"MCU"}}`, sent after every boot.
//! - Progress: `{"id":"123","params":{"step":"45","desc":"...","module":"MCU"}}`.
//!
//! `id` is a decimal string 0..=4294967295 and is echoed back as sent. `module` absent, `null` or
//! empty means [`DEFAULT_MODULE`] (the whole device). Unknown fields are ignored: devices add their own.

use crate::leaf::ids::valid_name;
use crate::leaf::version::{Version, VersionError};
use crate::model::plan::DEFAULT_MODULE;
use serde_json::{Map, Value};

/// Largest request body the edge should read for a report or progress message.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest module name: the same rule as a firmware upload's `module`.
pub const MAX_MODULE_LEN: usize = 64;
/// `desc` is kept to this many characters (not bytes).
pub const MAX_DESC_CHARS: usize = 128;
/// At most one stored progress report per device in this interval (whatever module it names: a
/// limit per module name would pass to anyone rotating names), final steps excepted.
pub const PROGRESS_INTERVAL_MS: i64 = 3_000;

/// Why a device message was refused; answered with 400 and the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("body is not a JSON object")]
    NotJsonObject,
    #[error("id is missing")]
    MissingId,
    #[error("id must be a decimal string between 0 and 4294967295")]
    BadId,
    #[error("params is missing or not an object")]
    MissingParams,
    #[error("params.{0} is missing")]
    MissingField(&'static str),
    #[error("params.version is not a dotted number: {0}")]
    BadVersion(VersionError),
    #[error("params.module must be 1-64 printable ASCII characters without / \\ or \"")]
    BadModule,
    #[error("params.step must be 1..100 or -1..-4, as a string or an integer")]
    BadStep,
}

impl MessageError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::NotJsonObject => "invalid_json",
            MessageError::MissingId | MessageError::BadId => "invalid_id",
            MessageError::MissingParams | MessageError::MissingField(_) => "missing_field",
            MessageError::BadVersion(_) => "invalid_version",
            MessageError::BadModule => "invalid_module",
            MessageError::BadStep => "invalid_step",
        }
    }

    pub fn status(&self) -> u16 {
        400
    }
}

/// Is this an acceptable module name? The firmware upload's rule, so every uploadable module can
/// be reported and the other way round.
pub fn valid_module(name: &str) -> bool {
    valid_name(name) && name.len() <= MAX_MODULE_LEN
}

/// A parsed version report.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionReport {
    pub id: String,
    pub module: String,
    pub version: Version,
    /// As sent, for the registry.
    pub version_text: String,
}

/// How a device's upgrade failed, by its negative step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeFailure {
    /// -1
    Upgrade,
    /// -2
    Download,
    /// -3
    Verify,
    /// -4
    Flash,
}

impl UpgradeFailure {
    /// The job's failure cause, stable text for the device row and history.
    pub fn cause(self) -> &'static str {
        match self {
            UpgradeFailure::Upgrade => "device reported step -1: upgrade failed",
            UpgradeFailure::Download => "device reported step -2: download failed",
            UpgradeFailure::Verify => "device reported step -3: verification failed",
            UpgradeFailure::Flash => "device reported step -4: flashing failed",
        }
    }
}

/// A progress step: a percentage, or how the upgrade failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// 1..=100.
    Percent(u8),
    Failed(UpgradeFailure),
}

impl Step {
    /// From the wire value: 1..=100 or -1..=-4; anything else is not a step.
    pub fn from_value(value: i64) -> Option<Step> {
        Some(match value {
            1..=100 => Step::Percent(value as u8),
            -1 => Step::Failed(UpgradeFailure::Upgrade),
            -2 => Step::Failed(UpgradeFailure::Download),
            -3 => Step::Failed(UpgradeFailure::Verify),
            -4 => Step::Failed(UpgradeFailure::Flash),
            _ => return None,
        })
    }

    pub fn value(self) -> i8 {
        match self {
            Step::Percent(p) => p as i8,
            Step::Failed(UpgradeFailure::Upgrade) => -1,
            Step::Failed(UpgradeFailure::Download) => -2,
            Step::Failed(UpgradeFailure::Verify) => -3,
            Step::Failed(UpgradeFailure::Flash) => -4,
        }
    }

    /// 100 and every failure end the device's part: they are always stored.
    pub fn is_final(self) -> bool {
        matches!(self, Step::Percent(100) | Step::Failed(_))
    }
}

/// A parsed progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReport {
    pub id: String,
    pub module: String,
    pub step: Step,
    /// At most [`MAX_DESC_CHARS`] characters, control characters replaced; empty when absent.
    pub desc: String,
}

/// Reads a step sent as a string (`"45"`, `"-2"`) or an integer (`45`, `-2`). Floats, signs other
/// than one leading `-`, spaces and values outside the table are refused.
pub fn parse_step(value: &Value) -> Result<Step, MessageError> {
    let number = match value {
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(MessageError::BadStep);
            }
            text.parse::<i64>().map_err(|_| MessageError::BadStep)?
        }
        Value::Number(n) => n.as_i64().ok_or(MessageError::BadStep)?,
        _ => return Err(MessageError::BadStep),
    };
    Step::from_value(number).ok_or(MessageError::BadStep)
}

/// Keeps the first [`MAX_DESC_CHARS`] characters, with control characters turned into spaces: the
/// text is shown in the operator's terminal, where an escape sequence would drive it.
pub fn clean_desc(text: &str) -> String {
    text.chars()
        .take(MAX_DESC_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Should this progress report be stored? Final steps always are; others when none was stored for
/// the device yet or the last one is [`PROGRESS_INTERVAL_MS`] old. A last time in the
/// future (clocks of two edge locations disagree) does not hold reports back.
pub fn should_store(last_stored_ms: Option<i64>, now_ms: i64, step: Step) -> bool {
    match last_stored_ms {
        _ if step.is_final() => true,
        None => true,
        Some(last) => now_ms < last || now_ms - last >= PROGRESS_INTERVAL_MS,
    }
}

/// The `id` of a body, when readable: for echoing in an error answer to a body that failed to parse.
pub fn message_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .get("id")?
        .as_str()
        .filter(|id| valid_id(id))
        .map(String::from)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 10
        && id.bytes().all(|b| b.is_ascii_digit())
        && id.parse::<u64>().is_ok_and(|n| n <= u64::from(u32::MAX))
}

/// The `id` and `params` of a message, both checked.
fn envelope(body: &[u8]) -> Result<(String, Map<String, Value>), MessageError> {
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else {
        return Err(MessageError::NotJsonObject);
    };
    let id = match root.get("id") {
        None | Some(Value::Null) => return Err(MessageError::MissingId),
        Some(Value::String(id)) if valid_id(id) => id.clone(),
        Some(_) => return Err(MessageError::BadId),
    };
    let Some(Value::Object(params)) = root.remove("params") else {
        return Err(MessageError::MissingParams);
    };
    Ok((id, params))
}

fn module(params: &Map<String, Value>) -> Result<String, MessageError> {
    match params.get("module") {
        None | Some(Value::Null) => Ok(DEFAULT_MODULE.to_string()),
        Some(Value::String(m)) if m.is_empty() => Ok(DEFAULT_MODULE.to_string()),
        Some(Value::String(m)) if valid_module(m) => Ok(m.clone()),
        Some(_) => Err(MessageError::BadModule),
    }
}

/// Parses a version report body.
pub fn parse_report(body: &[u8]) -> Result<VersionReport, MessageError> {
    let (id, params) = envelope(body)?;
    let module = module(&params)?;
    let version_text = match params.get("version") {
        None | Some(Value::Null) => return Err(MessageError::MissingField("version")),
        Some(Value::String(v)) => v.clone(),
        // A number is refused, not read: `1.10` as a JSON number would arrive as 1.1.
        Some(other) => {
            return Err(MessageError::BadVersion(VersionError::NotNumeric(
                other.to_string(),
            )))
        }
    };
    let version = Version::parse(&version_text).map_err(MessageError::BadVersion)?;
    Ok(VersionReport {
        id,
        module,
        version,
        version_text,
    })
}

/// Parses a progress report body. A `desc` that is not a string is kept as its JSON text: it
/// cannot mislead a decision, and the failure it came with is worth more than its type.
pub fn parse_progress(body: &[u8]) -> Result<ProgressReport, MessageError> {
    let (id, params) = envelope(body)?;
    let module = module(&params)?;
    let step = parse_step(
        params
            .get("step")
            .ok_or(MessageError::MissingField("step"))?,
    )?;
    let desc = match params.get("desc") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => clean_desc(text),
        Some(other) => clean_desc(&other.to_string()),
    };
    Ok(ProgressReport {
        id,
        module,
        step,
        desc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check_step(value: Value, expect: Option<i8>) {
        assert_eq!(parse_step(&value).ok().map(Step::value), expect, "{value}");
    }

    #[test]
    fn step_table() {
        for (value, expect) in [
            (json!("45"), Some(45)),
            (json!(45), Some(45)),
            (json!("1"), Some(1)),
            (json!("100"), Some(100)),
            (json!(100), Some(100)),
            (json!("045"), Some(45)),
            (json!("-1"), Some(-1)),
            (json!(-2), Some(-2)),
            (json!("-3"), Some(-3)),
            (json!(-4), Some(-4)),
            (json!("0"), None),
            (json!(0), None),
            (json!("101"), None),
            (json!(101), None),
            (json!("-5"), None),
            (json!(-5), None),
            (json!("-0"), None),
            (json!("+45"), None),
            (json!(" 45"), None),
            (json!("45 "), None),
            (json!("45.0"), None),
            (json!(45.0), None),
            (json!(45.5), None),
            (json!("1e2"), None),
            (json!("--1"), None),
            (json!("-"), None),
            (json!(""), None),
            (json!("abc"), None),
            (json!("0100"), None),
            (json!(true), None),
            (json!(null), None),
            (json!([45]), None),
            (json!({"step": 45}), None),
            (json!(u64::MAX), None),
            (json!(i64::MIN), None),
        ] {
            check_step(value, expect);
        }
    }

    #[test]
    fn final_steps() {
        let finals: Vec<i8> = (-4..=100)
            .filter_map(Step::from_value)
            .filter(|s| s.is_final())
            .map(Step::value)
            .collect();
        assert_eq!(finals, [-4, -3, -2, -1, 100]);
        assert_eq!(
            Step::from_value(-2),
            Some(Step::Failed(UpgradeFailure::Download))
        );
        assert_eq!(
            UpgradeFailure::Verify.cause(),
            "device reported step -3: verification failed"
        );
    }

    #[test]
    fn desc_is_cut_at_128_characters_not_bytes() {
        for (input, expect) in [
            ("short".to_string(), "short".to_string()),
            ("a".repeat(128), "a".repeat(128)),
            ("a".repeat(129), "a".repeat(128)),
            ("升".repeat(200), "升".repeat(128)),
            (
                format!("{}😀😀", "a".repeat(127)),
                format!("{}😀", "a".repeat(127)),
            ),
            (
                "line\nbreak\x1b[2J".to_string(),
                "line break [2J".to_string(),
            ),
            (String::new(), String::new()),
        ] {
            let got = clean_desc(&input);
            assert_eq!(got, expect, "{input:?}");
            assert!(got.chars().count() <= MAX_DESC_CHARS);
        }
        assert_eq!(
            clean_desc(&"升".repeat(200)).len(),
            128 * 3,
            "a multibyte cut keeps whole characters"
        );
    }

    #[test]
    fn throttle_table() {
        let p = |v| Step::from_value(v).unwrap();
        for (last, now, step, expect) in [
            (None, 0, p(1), true),
            (Some(0), 2_999, p(50), false),
            (Some(0), 3_000, p(50), true),
            (Some(0), 3_001, p(99), true),
            (Some(10_000), 10_001, p(100), true),
            (Some(10_000), 10_000, p(-1), true),
            (Some(10_000), 10_001, p(-2), true),
            (Some(10_000), 10_001, p(-3), true),
            (Some(10_000), 10_001, p(-4), true),
            (Some(10_000), 12_999, p(99), false),
            (Some(10_000), 9_000, p(40), true),
        ] {
            assert_eq!(
                should_store(last, now, step),
                expect,
                "{last:?} {now} {step:?}"
            );
        }
    }

    #[track_caller]
    fn check_report(body: &str, expect: Result<(&str, &str, &str), MessageError>) {
        let got = parse_report(body.as_bytes()).map(|r| (r.id, r.module, r.version.to_string()));
        let expect = expect.map(|(i, m, v)| (i.to_string(), m.to_string(), v.to_string()));
        assert_eq!(got, expect, "{body}");
    }

    #[test]
    fn report_table() {
        use MessageError::*;
        check_report(
            r#"{"id":"123","params":{"version":"1.0.1","module":"MCU"}}"#,
            Ok(("123", "MCU", "1.0.1")),
        );
        check_report(
            r#"{"id":"0","params":{"version":"V2.0"}}"#,
            Ok(("0", "default", "2.0")),
        );
        check_report(
            r#"{"id":"4294967295","params":{"version":"1","module":null,"extra":1},"method":"x"}"#,
            Ok(("4294967295", "default", "1")),
        );
        check_report(
            r#"{"id":"7","params":{"version":"1.0.1","module":""}}"#,
            Ok(("7", "default", "1.0.1")),
        );
        check_report(
            r#"{"id":"4294967296","params":{"version":"1"}}"#,
            Err(BadId),
        );
        check_report(r#"{"id":123,"params":{"version":"1"}}"#, Err(BadId));
        check_report(r#"{"id":"-1","params":{"version":"1"}}"#, Err(BadId));
        check_report(r#"{"id":"","params":{"version":"1"}}"#, Err(BadId));
        check_report(r#"{"id":"12a","params":{"version":"1"}}"#, Err(BadId));
        check_report(r#"{"params":{"version":"1"}}"#, Err(MissingId));
        check_report(r#"{"id":"1"}"#, Err(MissingParams));
        check_report(r#"{"id":"1","params":"x"}"#, Err(MissingParams));
        check_report(r#"{"id":"1","params":{}}"#, Err(MissingField("version")));
        check_report(
            r#"{"id":"1","params":{"version":"1.x"}}"#,
            Err(BadVersion(VersionError::NotNumeric("x".into()))),
        );
        check_report(
            r#"{"id":"1","params":{"version":""}}"#,
            Err(BadVersion(VersionError::Empty)),
        );
        check_report(
            r#"{"id":"1","params":{"version":101}}"#,
            Err(BadVersion(VersionError::NotNumeric("101".into()))),
        );
        check_report(
            r#"{"id":"1","params":{"version":"1","module":"a/b"}}"#,
            Err(BadModule),
        );
        check_report(
            r#"{"id":"1","params":{"version":"1","module":"Wi Fi"}}"#,
            Err(BadModule),
        );
        check_report(
            &format!(
                r#"{{"id":"1","params":{{"version":"1","module":"{}"}}}}"#,
                "m".repeat(65)
            ),
            Err(BadModule),
        );
        check_report(
            r#"{"id":"1","params":{"version":"1","module":7}}"#,
            Err(BadModule),
        );
        check_report("[1]", Err(NotJsonObject));
        check_report("not json", Err(NotJsonObject));
        check_report("", Err(NotJsonObject));
    }

    #[test]
    fn progress_parsing() {
        let p = parse_progress(
            br#"{"id":"9","params":{"step":"-2","desc":"http 404","module":"Wi-Fi"}}"#,
        )
        .unwrap();
        assert_eq!(
            (p.id.as_str(), p.module.as_str(), p.step, p.desc.as_str()),
            (
                "9",
                "Wi-Fi",
                Step::Failed(UpgradeFailure::Download),
                "http 404"
            )
        );
        let p = parse_progress(br#"{"id":"9","params":{"step":45}}"#).unwrap();
        assert_eq!(
            (p.module.as_str(), p.step, p.desc.as_str()),
            ("default", Step::Percent(45), "")
        );
        let p = parse_progress(br#"{"id":"9","params":{"step":"100","desc":{"code":5}}}"#).unwrap();
        assert_eq!(p.desc, r#"{"code":5}"#);
        assert_eq!(
            parse_progress(br#"{"id":"9","params":{}}"#),
            Err(MessageError::MissingField("step"))
        );
        assert_eq!(
            parse_progress(br#"{"id":"9","params":{"step":"done"}}"#),
            Err(MessageError::BadStep)
        );
        assert_eq!(
            message_id(br#"{"id":"9","params":{"step":"done"}}"#).as_deref(),
            Some("9")
        );
        assert_eq!(message_id(b"junk"), None);
        assert_eq!(MessageError::BadStep.code(), "invalid_step");
    }
}
