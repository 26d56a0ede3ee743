//! `fota token`: API tokens: create (the secret shown once), list, revoke.

use clap::Subcommand;
use fota_shared::api::access::{TokenInfo, TokenSpec};
use fota_shared::api::routes::Role;

use super::output::{table, Output};
use super::CliError;
use crate::api::ApiClient;

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum TokenVerb {
    /// Create a token; its secret is printed once, never again.
    Create {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
    },
    List,
    /// Revoke a token: requests with it are refused from now on.
    Revoke {
        name: String,
    },
}

/// Runs one `fota token` verb.
pub async fn run(verb: TokenVerb, api: &ApiClient, out: Output) -> Result<(), CliError> {
    match verb {
        TokenVerb::Create { name, role } => {
            let created = api.create_token(&TokenSpec { name, role }).await?;
            out.print(&created, || {
                format!(
                    "created token {} ({})\nsecret, shown this once: keep it now\n{}\n",
                    created.name,
                    created.role.as_str(),
                    created.token
                )
            })
        }
        TokenVerb::List => {
            let list = api.tokens().await?;
            out.print(&list, || tokens_table(&list.tokens))
        }
        TokenVerb::Revoke { name } => {
            api.revoke_token(&name).await?;
            out.done(format!("Revoked token {name}."))
        }
    }
}

fn tokens_table(tokens: &[TokenInfo]) -> String {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.role.as_str().to_string(),
                t.created_at.clone(),
                t.created_by.clone(),
                t.revoked_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["name", "role", "created_at", "created_by", "revoked_at"],
        &rows,
    )
}
