//! `fota keys`: the project's notice signing keys: list and rotate.

use clap::Subcommand;
use fota_shared::api::ota::{RotateSpec, SigningKeyList};

use super::output::{table, Output};
use super::plan::parse_duration_arg;
use super::{project_key, CliError};
use crate::api::ApiClient;
use crate::config::Connection;
use crate::strings;

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum KeysVerb {
    /// The keys devices may trust now: the active one and those in their overlap period.
    List,
    /// Start signing with a new key; the old ones stay trusted for the overlap.
    Rotate {
        /// How long the old keys stay trusted beside the new one (90, 30m, 2h, 7d; default 7d).
        #[arg(long, value_parser = parse_duration_arg)]
        overlap: Option<u64>,
    },
}

/// Runs one `fota keys` verb.
pub async fn run(
    verb: KeysVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    match verb {
        KeysVerb::List => {
            let list = api.signing_keys(&project).await?;
            out.print(&list, || keys_table(&list))
        }
        KeysVerb::Rotate { overlap } => {
            let spec = RotateSpec { overlap_s: overlap };
            let list = api.rotate_signing_key(&project, &spec).await?;
            out.print(&list, || {
                format!("{}\n{}", strings::rotated(&list.active), keys_table(&list))
            })
        }
    }
}

pub(super) fn keys_table(list: &SigningKeyList) -> String {
    let rows: Vec<Vec<String>> = list
        .keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                if k.id == list.active {
                    "active".to_string()
                } else {
                    String::new()
                },
                k.created_at.clone(),
                k.retire_after.clone().unwrap_or_default(),
                k.public_key_hex.clone(),
            ]
        })
        .collect();
    table(
        &["id", "active", "created_at", "retire_after", "public_key"],
        &rows,
    )
}
