//! `fota events` (the project's events, `--follow` as they come) and `fota webhook`.

use super::output::{table, Output};
use super::{project_key, CliError};
use crate::api::ApiClient;
use crate::config::Connection;
use crate::strings;
use clap::Subcommand;
use fota_shared::api::events::{WebhookSaved, WebhookSpec, MAX_WAIT_S};

/// `fota events`' options.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct EventArgs {
    /// Keep waiting and print events as they arrive (until interrupted, or `--count`).
    #[arg(long)]
    pub follow: bool,
    /// Only events after this id (the feed's cursor). Default: every kept event, or with
    /// `--follow` only those from now on.
    #[arg(long)]
    pub after: Option<u64>,
    /// Stop after printing this many events.
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum WebhookVerb {
    /// Create or change a webhook; a new one's signing secret is printed this once only.
    Add {
        name: String,
        /// The receiver (https; a private address needs ALLOW_PRIVATE_WEBHOOKS=true on the edge).
        #[arg(long)]
        url: String,
        /// Event types or patterns, comma separated: `rollout.*,device.banned`, or `*`.
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
    },
    /// The project's webhooks with their state and what waits for them.
    List,
    /// A webhook's latest deliveries (at most 100), newest first.
    Deliveries {
        name: String,
    },
    /// Deliver a past delivery's event again.
    Redeliver {
        name: String,
        delivery: u64,
    },
    /// Give a webhook a new secret (printed this once only); the old one stops at once.
    Rotate {
        name: String,
    },
    Delete {
        name: String,
    },
}

/// Runs `fota events`: one line an event (`--json`: one JSON object a line).
pub async fn run_events(
    args: EventArgs,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    let mut after = args.after;
    if args.follow && after.is_none() {
        after = Some(api.events(&project, None, 0).await?.latest);
    }
    if args.follow {
        eprintln!(
            "following the events of {project} after #{}",
            after.unwrap_or(0)
        );
    }
    let mut printed = 0u64;
    loop {
        let wait = if args.follow { MAX_WAIT_S - 5 } else { 0 };
        let page = api.events(&project, after, wait).await?;
        for event in &page.events {
            let line = if out.json {
                serde_json::to_string(event).expect("API types serialize")
            } else {
                strings::event_line(event)
            };
            super::output::line(&line);
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                return Ok(());
            }
        }
        after = page.cursor.parse().ok().or(after);
        if page.events.is_empty() && !args.follow {
            return Ok(());
        }
    }
}

/// Runs `fota webhook`.
pub async fn run_webhook(
    verb: WebhookVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    match verb {
        WebhookVerb::Add { name, url, events } => {
            let saved = api
                .put_webhook(&project, &name, &WebhookSpec { url, events })
                .await?;
            out.print(&saved, || saved_text(&saved))
        }
        WebhookVerb::List => {
            let list = api.webhooks(&project).await?;
            out.print(&list, || {
                let rows: Vec<_> = list.webhooks.iter().map(strings::webhook_row).collect();
                table(&["name", "state", "pending", "events", "url"], &rows)
            })
        }
        WebhookVerb::Deliveries { name } => {
            let list = api.webhook_deliveries(&project, &name).await?;
            out.print(&list, || {
                let rows: Vec<_> = list.deliveries.iter().map(strings::delivery_row).collect();
                table(
                    &["id", "at", "event", "attempt", "outcome", "latency"],
                    &rows,
                )
            })
        }
        WebhookVerb::Redeliver { name, delivery } => {
            let again = api.redeliver(&project, &name, delivery).await?;
            out.print(&again, || {
                format!(
                    "event #{} queued for {} again\n",
                    again.event_id, again.webhook
                )
            })
        }
        WebhookVerb::Rotate { name } => {
            let saved = api.rotate_webhook(&project, &name).await?;
            out.print(&saved, || saved_text(&saved))
        }
        WebhookVerb::Delete { name } => {
            api.delete_webhook(&project, &name).await?;
            out.done(format!("deleted webhook {name}"))
        }
    }
}

fn saved_text(saved: &WebhookSaved) -> String {
    let hook = &saved.webhook;
    let mut text = format!(
        "webhook {} ({}) -> {} for {}\n",
        hook.name,
        strings::webhook_state(hook.state),
        hook.url,
        hook.events.join(",")
    );
    if let Some(secret) = &saved.secret {
        text.push_str(&format!(
            "secret (shown once; verify X-Fota-Signature with it): {secret}\n"
        ));
    }
    text
}
