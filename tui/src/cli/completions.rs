//! `fota completions bash|zsh|fish|…`: the shell's completion script for every noun, verb and
//! flag, generated from the same clap definition that parses them.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Writes `shell`'s completion script for `fota` to `out`.
pub fn completions(shell: Shell, out: &mut impl Write) {
    clap_complete::generate(shell, &mut Cli::command(), "fota", out);
}
