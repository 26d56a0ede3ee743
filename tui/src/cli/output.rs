//! Where a command's result goes: the API's JSON, or tables and fields for people on stdout.

use serde::Serialize;

use super::CliError;

/// Where a command's result goes: the API's JSON, or a text for people.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn print<T: Serialize>(
        self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string_pretty(value).expect("API types serialize");
            write_stdout(&format!("{text}\n"));
        } else {
            write_stdout(&human());
        }
        Ok(())
    }

    /// A call that answers 204: nothing for `--json` (the API sent no body), a line for people.
    pub fn done(self, message: String) -> Result<(), CliError> {
        if !self.json {
            write_stdout(&format!("{message}\n"));
        }
        Ok(())
    }
}

/// Left-aligned columns two spaces apart, a header line first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| format!("{key:<width$}  {value}\n"))
        .collect()
}

/// One line to stdout at once (a follower's output reaches a pipe line by line).
pub fn line(text: &str) {
    write_stdout(&format!("{text}\n"));
}

/// Writes to stdout; a reader that went away (`fota device list | head`) ends the output
/// quietly instead of panicking, as command-line tools do.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}
