//! `fota firmware`: firmware images: upload (sha256 first, progress on a terminal), list, show, delete.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use fota_shared::api::catalog::Firmware;
use fota_shared::model::plan::ImageKind;

use super::output::{fields, table, Output};
use super::{project_key, CliError};
use crate::api::ApiClient;
use crate::config::Connection;
use crate::format;
use crate::image_file::{expand_home, hash_file};
use crate::strings;
use fota_shared::api::query::UploadDetails;

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum FirmwareVerb {
    /// Upload an image; its sha256 is computed first and sent along.
    Upload {
        file: PathBuf,
        /// Firmware name the image belongs to.
        #[arg(long)]
        name: String,
        /// Version of the image.
        #[arg(long)]
        version: String,
        /// The module the image is for (default: the whole device).
        #[arg(long)]
        module: Option<String>,
        #[arg(long, value_enum, default_value_t = ImageKind::Full)]
        kind: ImageKind,
        /// For a delta: the version it applies to.
        #[arg(long, required_if_eq("kind", "delta"))]
        source_version: Option<String>,
        /// Free text shown with the image.
        #[arg(long)]
        notes: Option<String>,
    },
    List,
    Show {
        firmware_name: String,
        version: String,
        /// The delta for this source version (default: the version's full image).
        #[arg(long)]
        source_version: Option<String>,
    },
    Delete {
        firmware_name: String,
        version: String,
        /// The delta for this source version (default: the version's full image).
        #[arg(long)]
        source_version: Option<String>,
    },
}

/// Runs one `fota firmware` verb.
pub async fn run(
    verb: FirmwareVerb,
    api: &ApiClient,
    connection: &Connection,
    out: Output,
) -> Result<(), CliError> {
    let project = project_key(api, connection).await?;
    match verb {
        FirmwareVerb::Upload {
            file,
            name,
            version,
            module,
            kind,
            source_version,
            notes,
        } => {
            let details = UploadDetails {
                module,
                kind,
                source_version,
                notes,
            };
            upload(api, &project, &file, (&name, &version, &details), out).await
        }
        FirmwareVerb::List => {
            let list = api.firmware_list(&project).await?;
            out.print(&list, || firmware_table(&list.firmware))
        }
        FirmwareVerb::Show {
            firmware_name,
            version,
            source_version,
        } => {
            let image = api
                .firmware(
                    &project,
                    &firmware_name,
                    &version,
                    source_version.as_deref(),
                )
                .await?;
            out.print(&image, || firmware_fields(&image))
        }
        FirmwareVerb::Delete {
            firmware_name,
            version,
            source_version,
        } => {
            api.delete_firmware(
                &project,
                &firmware_name,
                &version,
                source_version.as_deref(),
            )
            .await?;
            out.done(strings::deleted_firmware(&firmware_name, &version))
        }
    }
}

async fn upload(
    api: &ApiClient,
    project: &str,
    file: &std::path::Path,
    (name, version, details): (&str, &str, &UploadDetails),
    out: Output,
) -> Result<(), CliError> {
    let path = expand_home(&file.to_string_lossy());
    let unreadable =
        |err: std::io::Error| CliError::Usage(format!("cannot read {}: {err}", path.display()));
    let hashed = hash_file(&path).await.map_err(unreadable)?;
    let opened = tokio::fs::File::open(&path).await.map_err(unreadable)?;
    eprintln!(
        "sha256 {}  {} ({})",
        hashed.sha256,
        path.display(),
        format::bytes(hashed.size)
    );
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(hashed.size);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .expect("a valid progress template");
        bar.set_style(style);
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = bar.clone();
    let result = api
        .upload_firmware(
            project,
            (name, version, details),
            (opened, &hashed),
            move |sent| progress.set_position(sent),
        )
        .await;
    bar.finish_and_clear();
    let receipt = result?;
    out.print(&receipt, || {
        format!(
            "uploaded {name} {version}\nsize    {}\nsha256  {}\nmd5     {}\n",
            receipt.size, receipt.sha256, receipt.md5
        )
    })
}

fn firmware_table(images: &[Firmware]) -> String {
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|f| {
            vec![
                f.firmware_name.clone(),
                f.version.clone(),
                f.module.clone(),
                format::kind_text(f),
                f.size.to_string(),
                format::short_hash(&f.sha256).to_string(),
                f.md5.clone(),
                f.uploaded_at.clone(),
                f.notes.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "firmware",
            "version",
            "module",
            "kind",
            "size",
            "sha256",
            "md5",
            "uploaded_at",
            "notes",
        ],
        &rows,
    )
}

fn firmware_fields(f: &Firmware) -> String {
    fields(&[
        ("firmware", f.firmware_name.clone()),
        ("version", f.version.clone()),
        ("size", f.size.to_string()),
        ("sha256", f.sha256.clone()),
        ("md5", f.md5.clone()),
        ("module", f.module.clone()),
        ("kind", f.kind.as_str().to_string()),
        (
            "source_version",
            f.source_version.clone().unwrap_or_default(),
        ),
        ("notes", f.notes.clone().unwrap_or_default()),
        ("uploader", f.uploader.clone().unwrap_or_default()),
        ("uploaded_at", f.uploaded_at.clone()),
    ])
}
