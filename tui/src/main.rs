//! The `fota` binary: parses arguments, then runs one command or the full-screen app.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use fota_tui::api::ApiClient;
use fota_tui::cli::{self, Cli, Noun};
use fota_tui::config::{self, Connection};
use fota_tui::dashboard::{event, runner, shell, App};

fn main() -> ExitCode {
    let args = Cli::parse();
    // These two need no server and no resolved profile (login may create it).
    match args.command {
        Some(Noun::Completions { shell }) => {
            cli::completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Noun::Login { url }) => {
            return match cli::login::run(args.profile, url, args.project) {
                Ok(message) => {
                    eprintln!("fota: {message}");
                    ExitCode::from(cli::EXIT_OK)
                }
                Err(err) => {
                    eprintln!("fota: {err}");
                    ExitCode::from(err.exit_code())
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("fota: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let connection = match config::load(args.profile.clone(), args.project.clone()) {
        Ok(connection) => connection,
        Err(err) => {
            eprintln!("fota: {err}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    match args.command {
        Some(noun) => match runtime.block_on(cli::run(noun, args.json, &connection)) {
            Ok(()) => ExitCode::from(cli::EXIT_OK),
            Err(err) => {
                eprintln!("fota: {err}");
                ExitCode::from(err.exit_code())
            }
        },
        None => match runtime.block_on(interactive(connection)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("fota: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Runs the dashboard. `ratatui::init` installs a panic hook that restores the terminal before
/// the panic message prints; `restore` below covers the normal and the error exits.
async fn interactive(connection: Connection) -> anyhow::Result<()> {
    let (action_tx, mut actions) = tokio::sync::mpsc::unbounded_channel();
    let (command_tx, commands) = tokio::sync::mpsc::unbounded_channel();
    shell::spawn(
        ApiClient::new(&connection.url, connection.token.clone()),
        commands,
        action_tx.clone(),
    );
    event::spawn_ticks(action_tx.clone());
    event::spawn_input(action_tx);

    let mut app = App::new(connection.url.clone(), connection.project.clone());
    let mut terminal = ratatui::init();
    let result = runner::run(&mut terminal, &mut app, &mut actions, &command_tx).await;
    ratatui::restore();
    result.context("drawing the terminal")
}
