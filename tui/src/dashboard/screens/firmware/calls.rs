//! The Firmware tab's own calls (loading the project's images; an upload, with its hash and
//! progress told as it goes; deleting an image): each run by the shell with the API client, and
//! answered with what it asked.

use fota_shared::api::catalog::{Firmware, UploadReceipt};
use fota_shared::api::query::UploadDetails;

use crate::api::ApiClient;
use crate::dashboard::message::Progress;
use crate::dashboard::remote::{Failure, Outcome};
use crate::dashboard::shell::failure;
use crate::image_file::{expand_home, hash_file};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareCall {
    /// The project's images.
    Load { project: String },
    Upload {
        project: String,
        path: String,
        firmware_name: String,
        version: String,
        details: UploadDetails,
    },
    Delete {
        project: String,
        firmware_name: String,
        version: String,
        /// The delta's source version; `None`: the version's full image.
        source_version: Option<String>,
    },
}

/// The answers to [`FirmwareCall`]s, and how an upload goes before its answer.
#[derive(Debug)]
pub enum FirmwareAnswer {
    Loaded(Outcome<Vec<Firmware>>),
    /// The file is read: its digest and size, before the upload starts.
    Hashed {
        sha256: String,
        size: u64,
    },
    /// Bytes of the upload sent so far.
    Progress {
        sent: u64,
    },
    Uploaded(Outcome<UploadReceipt>),
    Deleted {
        firmware_name: String,
        version: String,
        result: Outcome<()>,
    },
}

impl FirmwareCall {
    /// The shell's part: one call with the API client; an upload tells its progress.
    pub async fn run(self, api: &ApiClient, progress: &Progress) -> FirmwareAnswer {
        match self {
            FirmwareCall::Load { project } => FirmwareAnswer::Loaded(
                api.firmware_list(&project)
                    .await
                    .map(|list| list.firmware)
                    .map_err(failure),
            ),
            FirmwareCall::Upload {
                project,
                path,
                firmware_name,
                version,
                details,
            } => FirmwareAnswer::Uploaded(
                upload(
                    api,
                    &project,
                    &path,
                    (&firmware_name, &version, &details),
                    progress,
                )
                .await,
            ),
            FirmwareCall::Delete {
                project,
                firmware_name,
                version,
                source_version,
            } => FirmwareAnswer::Deleted {
                result: api
                    .delete_firmware(
                        &project,
                        &firmware_name,
                        &version,
                        source_version.as_deref(),
                    )
                    .await
                    .map_err(failure),
                firmware_name,
                version,
            },
        }
    }
}

impl FirmwareAnswer {
    /// Whether the call reached the server, for the link state; `None` for the progress of an
    /// upload, which says nothing of the server yet.
    pub fn reached(&self) -> Option<Outcome<()>> {
        let failure = match self {
            FirmwareAnswer::Hashed { .. } | FirmwareAnswer::Progress { .. } => return None,
            FirmwareAnswer::Loaded(result) => result.as_ref().err(),
            FirmwareAnswer::Uploaded(result) => result.as_ref().err(),
            FirmwareAnswer::Deleted { result, .. } => result.as_ref().err(),
        };
        Some(failure.map_or(Ok(()), |failure| Err(failure.clone())))
    }
}

async fn upload(
    api: &ApiClient,
    project: &str,
    path: &str,
    (firmware_name, version, details): (&str, &str, &UploadDetails),
    progress: &Progress,
) -> Result<UploadReceipt, Failure> {
    let file = expand_home(path);
    let unreadable =
        |err: std::io::Error| Failure::local(format!("cannot read {}: {err}", file.display()));
    // One pass for the sha256 and size, a chunk at a time; the upload reads the file again.
    let hashed = hash_file(&file).await.map_err(unreadable)?;
    let opened = tokio::fs::File::open(&file).await.map_err(unreadable)?;
    progress.tell(FirmwareAnswer::Hashed {
        sha256: hashed.sha256.clone(),
        size: hashed.size,
    });
    let sending = progress.clone();
    api.upload_firmware(
        project,
        (firmware_name, version, details),
        (opened, &hashed),
        move |sent| sending.tell(FirmwareAnswer::Progress { sent }),
    )
    .await
    .map_err(failure)
}
