//! `fota login --profile NAME --url URL`: stores a token for a profile in the config file. The
//! token comes from `FOTA_TOKEN` or stdin (read without echo when stdin is a terminal) and goes
//! only into the file, which is written mode 0600; it is never printed or logged.

use std::io::{BufRead, IsTerminal, Write};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal;

use super::CliError;
use crate::config::{self, Profile, DEFAULT_PROFILE};
use crate::strings;

/// Stores `url` and the token for profile `profile` (default `local`); `project`, when given,
/// becomes the profile's project. Returns the message for the operator.
pub fn run(
    profile: Option<String>,
    url: String,
    project: Option<String>,
) -> Result<String, CliError> {
    let name = profile.unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let token = match std::env::var("FOTA_TOKEN").ok().filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => read_token()?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(CliError::Usage(strings::LOGIN_NO_TOKEN.into()));
    }
    let path =
        config::config_path().ok_or_else(|| CliError::Usage(strings::NO_CONFIG_DIR.into()))?;
    config::save_profile(
        &path,
        &name,
        Profile {
            url: Some(url.clone()),
            token: Some(token),
            project,
        },
    )?;
    Ok(strings::logged_in(&name, &url, &path.display().to_string()))
}

/// One line from stdin; on a terminal, typed in raw mode so the token is not echoed.
fn read_token() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|err| CliError::Usage(format!("cannot read the token from stdin: {err}")))?;
        return Ok(line);
    }
    eprint!("{}", strings::TOKEN_PROMPT);
    std::io::stderr().flush().ok();
    terminal::enable_raw_mode()
        .map_err(|err| CliError::Usage(format!("cannot read the terminal: {err}")))?;
    let typed = read_hidden();
    // Restore the terminal before anything else happens, even when reading failed.
    terminal::disable_raw_mode().ok();
    eprintln!();
    typed.map_err(|err| CliError::Usage(format!("cannot read the terminal: {err}")))
}

/// Keys until Enter; Backspace edits, Ctrl-C or Esc gives up. Nothing is drawn.
fn read_hidden() -> std::io::Result<String> {
    let mut token = String::new();
    loop {
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        match key.code {
            KeyCode::Enter => return Ok(token),
            KeyCode::Esc => return Ok(String::new()),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Ok(String::new())
            }
            KeyCode::Backspace => {
                token.pop();
            }
            KeyCode::Char(c) => token.push(c),
            _ => {}
        }
    }
}
