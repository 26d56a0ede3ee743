//! `fota device import`: registers a fleet from a file of ids (`crate::id_file` reads it) in
//! batches of the edge's limit, and hands out the secrets issued as an `id,secret` CSV, written
//! as each batch lands so that a batch failing later loses none of them. Ids registered already
//! are skipped by the server (`already_provisioned`), so rerunning a stopped import is safe.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fota_shared::api::ota::{Protocol, ProvisionSpec, Provisioned, ProvisionedDevice};
use serde::Serialize;

use super::output::Output;
use super::{api_exit_code, CliError, EXIT_USAGE};
use crate::api::{ApiClient, ApiError};
use crate::id_file::{read_ids, Cell, IdList};
use crate::image_file::expand_home;
use crate::strings;

/// Most ids one registration call may name (the edge's own limit).
pub const BATCH: usize = 1000;
/// Times a batch answered with 503 is sent again before the import stops.
const RETRIES: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ImportArgs {
    /// A CSV file (its first column; a first line that holds no device id, such as `imei,model`,
    /// is a header) or one id per line (blank lines and `#` comments skipped); `-` reads stdin.
    pub file: PathBuf,
    /// The API the devices speak. Default luat: registered Luat ids, which rollouts trust and
    /// which may sign their checks; json provisions JSON (module-OTA) devices.
    #[arg(long, value_enum, default_value = "luat")]
    pub protocol: Protocol,
    /// Register the valid ids and skip the invalid ones (default: report them, send nothing).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Write the `id,secret` CSV to this new file (created with mode 0600; never overwritten)
    /// instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What an import did: `--json` prints it whole (with the secrets, unless `--out` took them).
#[derive(Debug, Default, Serialize)]
pub struct ImportResult {
    pub protocol: Protocol,
    /// Distinct valid ids the file lists.
    pub ids: usize,
    /// Ids this import registered, each issued a secret.
    pub registered: Vec<String>,
    /// The secrets issued, shown this once; empty when `--out` holds them (`secrets_file`).
    pub devices: Vec<ProvisionedDevice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_file: Option<String>,
    /// Ids registered before: skipped, their secret kept.
    pub already_provisioned: Vec<String>,
    /// Ids listed again after their first line.
    pub duplicates: usize,
    /// Invalid ids skipped (`--skip-invalid`).
    pub invalid: Vec<Cell>,
    /// Batches sent and answered.
    pub batches: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedBatch>,
}

/// The batch an import stopped at.
#[derive(Debug, Serialize)]
pub struct FailedBatch {
    /// 1-based.
    pub batch: usize,
    pub first_id: String,
    pub last_id: String,
    pub error: String,
}

/// Runs `fota device import` for `project`.
pub async fn run(
    args: ImportArgs,
    api: &ApiClient,
    project: &str,
    out: Output,
) -> Result<(), CliError> {
    let list = read_list(&args.file)?;
    check_list(&list, &args)?;
    let mut secrets = Secrets::open(args.out.as_deref(), out.json)?;
    let mut result = ImportResult {
        protocol: args.protocol,
        ids: list.ids.len(),
        duplicates: list.duplicates,
        invalid: list.invalid,
        secrets_file: args.out.as_ref().map(|p| p.display().to_string()),
        ..ImportResult::default()
    };
    let batch_count = list.ids.len().div_ceil(BATCH);
    eprintln!(
        "{}",
        strings::import_start(list.ids.len(), batch_count, args.protocol.as_str())
    );
    let progress = Progress::new(list.ids.len(), batch_count);
    let sent = send(
        api,
        project,
        (&list.ids, batch_count),
        &mut secrets,
        &mut result,
        &progress,
    )
    .await;
    progress.finish();
    summarize(&result, args.protocol);
    if out.json {
        out.print(&result, String::new)?;
    }
    sent
}

/// Sends the ids batch by batch, writing each batch's secrets before the next goes. Stops at
/// the first batch that fails, saying what landed before it.
async fn send(
    api: &ApiClient,
    project: &str,
    (ids, batch_count): (&[String], usize),
    secrets: &mut Secrets,
    result: &mut ImportResult,
    progress: &Progress,
) -> Result<(), CliError> {
    let protocol = result.protocol.as_str();
    let mut sent = 0;
    for batch in ids.chunks(BATCH) {
        let spec = ProvisionSpec {
            devices: batch.to_vec(),
            rekey: false,
            protocol: result.protocol,
        };
        let number = result.batches + 1;
        let answer = match provision(api, project, &spec, number, progress).await {
            Ok(answer) => answer,
            Err(err) => {
                result.failed = Some(FailedBatch {
                    batch: number,
                    first_id: batch[0].clone(),
                    last_id: batch[batch.len() - 1].clone(),
                    error: err.to_string(),
                });
                return Err(CliError::Stopped {
                    message: strings::import_stopped(
                        (number, batch_count),
                        result.registered.len(),
                        protocol,
                        &err.to_string(),
                    ),
                    code: api_exit_code(&err),
                });
            }
        };
        result.batches += 1;
        sent += batch.len();
        progress.batch_done(
            number,
            (answer.devices.len(), answer.already_provisioned.len()),
            sent,
        );
        let written = secrets.write(&answer.devices);
        result.add(answer, secrets.keeps_in_result());
        written.map_err(|err| CliError::Stopped {
            message: strings::secrets_lost(
                number,
                (&batch[0], &batch[batch.len() - 1]),
                &err,
                protocol,
            ),
            code: EXIT_USAGE,
        })?;
    }
    Ok(())
}

/// One batch, sent again after a 503 ("retry later": the edge, or `wrangler dev` restarting
/// its worker, took nothing in), up to `RETRIES` times with a doubling pause. Registering is
/// idempotent without `rekey`, so a batch sent twice issues each secret once.
async fn provision(
    api: &ApiClient,
    project: &str,
    spec: &ProvisionSpec,
    batch: usize,
    progress: &Progress,
) -> Result<Provisioned, ApiError> {
    let mut pause = Duration::from_secs(1);
    for _ in 0..RETRIES {
        match api.provision_devices(project, spec).await {
            Err(err @ ApiError::Status { status: 503, .. }) => {
                progress.retrying(batch, pause.as_secs(), &err.to_string());
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            answer => return answer,
        }
    }
    api.provision_devices(project, spec).await
}

impl ImportResult {
    fn add(&mut self, answer: Provisioned, keep_secrets: bool) {
        self.registered
            .extend(answer.devices.iter().map(|d| d.id.clone()));
        if keep_secrets {
            self.devices.extend(answer.devices);
        }
        self.already_provisioned.extend(answer.already_provisioned);
    }
}

/// The file's bytes; `-` is stdin.
fn read_list(file: &Path) -> Result<IdList, CliError> {
    let bytes = if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map(|_| bytes)
            .map_err(|err| CliError::Usage(format!("cannot read stdin: {err}")))?
    } else {
        let path = expand_home(&file.to_string_lossy());
        std::fs::read(&path)
            .map_err(|err| CliError::Usage(format!("cannot read {}: {err}", path.display())))?
    };
    Ok(read_ids(&bytes))
}

/// Says on stderr what the file held besides ids; refuses a file with invalid ids (unless
/// `--skip-invalid`) or none at all, before anything is sent.
fn check_list(list: &IdList, args: &ImportArgs) -> Result<(), CliError> {
    if let Some(header) = &list.header {
        eprintln!("{}", strings::header_skipped(header));
    }
    for invalid in list.invalid.iter().take(strings::INVALID_SHOWN) {
        eprintln!("{}", strings::invalid_id(invalid));
    }
    if list.invalid.len() > strings::INVALID_SHOWN {
        eprintln!(
            "{}",
            strings::more_invalid(list.invalid.len() - strings::INVALID_SHOWN)
        );
    }
    if !list.invalid.is_empty() && !args.skip_invalid {
        return Err(CliError::Usage(strings::invalid_refused(
            list.invalid.len(),
        )));
    }
    if list.ids.is_empty() {
        return Err(CliError::Usage(strings::no_ids(
            &args.file.display().to_string(),
        )));
    }
    Ok(())
}

/// The summary on stderr, so that stdout stays the CSV (or the JSON).
fn summarize(result: &ImportResult, protocol: Protocol) {
    eprintln!(
        "{}",
        strings::import_done(
            result.registered.len(),
            result.already_provisioned.len(),
            result.batches
        )
    );
    if !result.already_provisioned.is_empty() {
        eprintln!(
            "{}",
            strings::already_registered(result.already_provisioned.len(), protocol.as_str())
        );
    }
    if result.duplicates > 0 {
        eprintln!("{}", strings::duplicates(result.duplicates));
    }
    if !result.invalid.is_empty() {
        eprintln!("{}", strings::invalid_skipped(result.invalid.len()));
    }
    if let Some(path) = &result.secrets_file {
        eprintln!(
            "{}",
            strings::secrets_written(path, result.registered.len())
        );
    }
    if !result.registered.is_empty() {
        eprintln!("{}", strings::SECRETS_SHOWN_ONCE);
    }
}

/// Where the secrets go as batches land.
enum Secrets {
    /// `id,secret` lines; the header before the first secret.
    Csv {
        writer: Box<csv::Writer<Box<dyn Write>>>,
        header: bool,
    },
    /// Kept in the result for `--json`.
    Json,
}

impl Secrets {
    /// `--out`'s new file (refused when it exists, before anything is sent), else stdout.
    fn open(out: Option<&Path>, json: bool) -> Result<Secrets, CliError> {
        let sink: Box<dyn Write> = match out {
            Some(path) => Box::new(create_private(path)?),
            None if json => return Ok(Secrets::Json),
            None => Box::new(std::io::stdout()),
        };
        Ok(Secrets::Csv {
            writer: Box::new(csv::Writer::from_writer(sink)),
            header: false,
        })
    }

    /// Whether the result carries the secrets (`--json` without `--out`).
    fn keeps_in_result(&self) -> bool {
        matches!(self, Secrets::Json)
    }

    /// Writes and flushes a batch's secrets: once this returns they are out of the process.
    fn write(&mut self, devices: &[ProvisionedDevice]) -> Result<(), String> {
        let Secrets::Csv { writer, header } = self else {
            return Ok(());
        };
        let mut write = || -> csv::Result<()> {
            if !std::mem::replace(header, true) {
                writer.write_record(["id", "secret"])?;
            }
            for device in devices {
                writer.write_record([&device.id, &device.secret])?;
            }
            writer.flush()?;
            Ok(())
        };
        write().map_err(|err| format!("cannot write the secrets: {err}"))
    }
}

/// Creates `path` for secrets: a new file, readable by its owner only.
fn create_private(path: &Path) -> Result<std::fs::File, CliError> {
    let path: PathBuf = expand_home(&path.to_string_lossy());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path).map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => {
            CliError::Usage(strings::out_exists(&path.display().to_string()))
        }
        _ => CliError::Usage(format!("cannot create {}: {err}", path.display())),
    })
}

/// The progress of the batches on stderr: a bar on a terminal, else a line per batch.
enum Progress {
    Bar(indicatif::ProgressBar),
    Lines { ids: usize, batches: usize },
}

impl Progress {
    fn new(ids: usize, batches: usize) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines { ids, batches };
        }
        let bar = indicatif::ProgressBar::new(ids as u64);
        // The rate and what is left are the import's average, set per batch: indicatif's own
        // estimate decays between answers that come seconds apart.
        let style =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ids · {elapsed} {msg}")
                .expect("a valid progress template");
        bar.set_style(style);
        // A batch takes seconds: the elapsed time moves meanwhile.
        bar.enable_steady_tick(Duration::from_millis(500));
        Progress::Bar(bar)
    }

    /// Batch `batch` was answered: `issued` ids registered, `kept` registered already; `sent`
    /// ids were sent so far.
    fn batch_done(&self, batch: usize, (issued, kept): (usize, usize), sent: usize) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(sent as u64);
                let left = bar.length().unwrap_or(0).saturating_sub(sent as u64);
                let rate = sent as f64 / bar.elapsed().as_secs_f64().max(0.001);
                bar.set_message(strings::batch_pace(
                    batch,
                    rate,
                    left as f64 / rate.max(0.001),
                ));
            }
            Progress::Lines { ids, batches } => {
                eprintln!(
                    "{}",
                    strings::batch_done((batch, *batches), issued, kept, (sent, *ids))
                );
            }
        }
    }

    /// A batch sent again: the bar's message until the next batch, else a line.
    fn retrying(&self, batch: usize, secs: u64, reason: &str) {
        match self {
            Progress::Bar(bar) => bar.set_message(strings::batch_retry_short(batch)),
            Progress::Lines { .. } => eprintln!("{}", strings::batch_retry(batch, secs, reason)),
        }
    }

    /// Leaves the bar where it stopped, so the operator sees how far the import got.
    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests;
