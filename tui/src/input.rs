//! Operator input read as plan and rollout values: durations, ratios, UTC windows, stage lists,
//! comma lists and id ranges. Shared by the CLI's flags and the dashboard's forms, so both accept
//! exactly the same spellings.

use crate::strings;
use fota_shared::model::rollout::Ratio;
use fota_shared::rules::rollout::{check_stages, UtcWindow};

/// `1,10, 50 100%` → `[1, 10, 50, 100]`: percentages 1-100, strictly increasing.
pub fn parse_stages(text: &str) -> Result<Vec<u32>, String> {
    let stages = split_list(text)
        .iter()
        .map(|s| s.trim_end_matches('%').parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| strings::bad_stages(text))?;
    check_stages(&stages).map_err(|_| strings::bad_stages(text))?;
    Ok(stages)
}

/// `0.2` or `20%` → 200 000 ppm; 0 to 1 inclusive.
pub fn parse_ratio(text: &str) -> Result<Ratio, String> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(percent) => (percent.trim(), 10_000.0),
        None => (t, Ratio::PPM_PER_ONE as f64),
    };
    let value: f64 = number.parse().map_err(|_| strings::bad_ratio(text))?;
    let ppm = (value * scale).round();
    if !(0.0..=Ratio::PPM_PER_ONE as f64).contains(&ppm) {
        return Err(strings::bad_ratio(text));
    }
    Ok(Ratio::from_ppm(ppm as i64))
}

/// `01:00-05:00` → `["01:00", "05:00"]`, each `HH:MM` within a day (the server's own check).
pub fn parse_window(text: &str) -> Result<[String; 2], String> {
    let (from, to) = text
        .trim()
        .split_once('-')
        .ok_or_else(|| strings::bad_window(text))?;
    let window = [from.trim().to_string(), to.trim().to_string()];
    UtcWindow::parse(&window).map_err(|_| strings::bad_window(text))?;
    Ok(window)
}

/// Seconds, plain or with a unit: `90`, `30s`, `15m`, `2h`, `1d`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().last()? {
        (i, 's') => (&t[..i], 1),
        (i, 'm') => (&t[..i], 60),
        (i, 'h') => (&t[..i], 3600),
        (i, 'd') => (&t[..i], 86_400),
        _ => (t, 1),
    };
    number.trim().parse::<u64>().ok()?.checked_mul(unit)
}

/// `"a, b,,c "` → `["a", "b", "c"]`; whitespace also separates.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `860000000000000-860000000000999` → `["860000000000000", "860000000000999"]`.
pub fn parse_imei_range(text: &str) -> Result<[String; 2], String> {
    match text.trim().split_once('-') {
        Some((lo, hi)) if !lo.trim().is_empty() && !hi.trim().is_empty() => {
            Ok([lo.trim().to_string(), hi.trim().to_string()])
        }
        _ => Err(strings::bad_range(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::format_duration;

    #[test]
    fn bad_range_is_refused() {
        assert!(parse_imei_range("860").is_err());
        assert!(parse_imei_range("-1").is_err());
        assert_eq!(
            parse_imei_range(" 1 - 2 ").unwrap(),
            ["1".to_string(), "2".to_string()]
        );
    }

    #[test]
    fn stages_parse_as_increasing_percentages() {
        assert_eq!(parse_stages("1,10,50,100").unwrap(), [1, 10, 50, 100]);
        assert_eq!(parse_stages(" 1, 10 50% 100 ").unwrap(), [1, 10, 50, 100]);
        for bad in ["", "0,10", "10,101", "10,10", "50,10", "ten", "1;2"] {
            assert!(parse_stages(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn windows_ratios_and_durations_parse() {
        assert_eq!(
            parse_window("01:00-05:00").unwrap(),
            ["01:00".to_string(), "05:00".to_string()]
        );
        assert_eq!(
            parse_window(" 22:30 - 04:00 ").unwrap(),
            ["22:30".to_string(), "04:00".to_string()]
        );
        for bad in [
            "1:00-05:00",
            "01:00",
            "24:00-01:00",
            "01:60-02:00",
            "01:00-",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ratio("0.2").unwrap().ppm(), 200_000);
        assert_eq!(parse_ratio("25%").unwrap().ppm(), 250_000);
        assert_eq!(parse_ratio("1").unwrap().ppm(), 1_000_000);
        for bad in ["1.5", "-0.1", "120%", "x"] {
            assert!(parse_ratio(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1w"), None);
        for secs in [0, 45, 600, 3600, 5400, 86_400] {
            assert_eq!(parse_duration(&format_duration(secs)), Some(secs));
        }
    }
}
