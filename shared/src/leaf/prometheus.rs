//! The Prometheus text exposition format (version 0.0.4): metric families written as `# HELP`
//! and `# TYPE` lines followed by their samples, label values and help texts escaped as the
//! format requires. It knows nothing of what is measured; `api::metrics` says that.

/// The `Content-Type` of an answer in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a family's samples are: a gauge may go down, a counter only up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// One sample: its labels in the order written, and its value (every figure here is a whole
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: i64,
}

/// One metric family: its samples all carry `name`. A family without samples is written with its
/// `HELP` and `TYPE` lines alone, which the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: Kind::Gauge,
            samples: Vec::new(),
        }
    }

    /// Adds a sample with `labels`.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: i64) -> Family {
        self.push(labels, value);
        self
    }

    pub fn push(&mut self, labels: &[(&'static str, &str)], value: i64) {
        self.samples.push(Sample {
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            value,
        });
    }
}

/// A label value as the format writes it between double quotes: backslash, double quote and
/// line feed escaped (`\\`, `\"`, `\n`); every other character as it is.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A help text as the format writes it: backslash and line feed escaped.
pub fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The families in the text format, in the order given, each line ending in a line feed.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} {}\n",
            family.name,
            escape_help(family.help),
            family.name,
            family.kind.as_str()
        ));
        for sample in &family.samples {
            out.push_str(family.name);
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                    .collect();
                out.push('{');
                out.push_str(&labels.join(","));
                out.push('}');
            }
            out.push_str(&format!(" {}\n", sample.value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_escape(value: &str, want: &str) {
        assert_eq!(escape_label_value(value), want, "{value:?}");
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        check_escape("", "");
        check_escape("1.0.2", "1.0.2");
        check_escape(r"C:\fw", r"C:\\fw");
        check_escape(r#"say "hi""#, r#"say \"hi\""#);
        check_escape("two\nlines", r"two\nlines");
        check_escape("\\n", r"\\n");
        check_escape("tab\tand é", "tab\tand é");
        check_escape("{a=\"b\",c}", r#"{a=\"b\",c}"#);
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        assert_eq!(
            escape_help("a \"quoted\" \\ b\nc"),
            "a \"quoted\" \\\\ b\\nc"
        );
    }

    #[track_caller]
    fn check(families: &[Family], want: &str) {
        assert_eq!(render(families), want);
    }

    #[test]
    fn renders_families_with_help_type_and_samples() {
        check(&[], "");
        check(
            &[Family::gauge("fota_devices_total", "Devices.").with(&[], 12)],
            "# HELP fota_devices_total Devices.\n# TYPE fota_devices_total gauge\nfota_devices_total 12\n",
        );
        check(
            &[Family::gauge("fota_devices", "Per version.")
                .with(&[("firmware", "app"), ("version", "1.0")], 3)
                .with(&[("firmware", "a\"b"), ("version", "")], 0)],
            "# HELP fota_devices Per version.\n# TYPE fota_devices gauge\n\
             fota_devices{firmware=\"app\",version=\"1.0\"} 3\n\
             fota_devices{firmware=\"a\\\"b\",version=\"\"} 0\n",
        );
        check(
            &[
                Family::gauge("fota_rollout_stage", "Stage.").with(&[("target", "2.0")], -1),
                Family {
                    kind: Kind::Counter,
                    ..Family::gauge("fota_empty_total", "Line one\nline two.")
                },
            ],
            "# HELP fota_rollout_stage Stage.\n# TYPE fota_rollout_stage gauge\n\
             fota_rollout_stage{target=\"2.0\"} -1\n\
             # HELP fota_empty_total Line one\\nline two.\n# TYPE fota_empty_total counter\n",
        );
    }
}
