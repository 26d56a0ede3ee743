//! A firmware image on the operator's disk: where `~/…` points, and the sha256 the server checks
//! the uploaded body against. Shared by `fota firmware upload` and the dashboard's upload form.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `~/fw.bin` means the home directory's file, as in a shell.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}
