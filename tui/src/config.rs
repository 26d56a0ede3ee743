//! Where the app connects: `FOTA_URL`/`FOTA_TOKEN`, else a profile of `config.toml` (in
//! `$XDG_CONFIG_HOME/fota/`, else `~/.config/fota/`), which `fota login` writes mode 0600,
//! else the built-in `local` profile that reads the token from the dev server's `.dev.vars`.
//! The `.dev.vars` token is offered only to a loopback URL; sending a token over plain `http://`
//! to another host, and a config file others can read, are warned about on stderr.
//!
//! ```toml
//! [profiles.staging]
//! url = "https://fota-staging.example.com"
//! token = "…"
//! project = "demo"
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_PROFILE: &str = "local";
pub const LOCAL_URL: &str = "http://127.0.0.1:8787";
/// The project used when none is named and the server does not have exactly one.
pub const FALLBACK_PROJECT: &str = "demo";

/// The configuration file, as written by the operator.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Everything the resolution reads, gathered first so that `resolve` itself does no I/O.
#[derive(Debug, Default)]
pub struct Sources {
    pub profile: Option<String>,
    pub env_url: Option<String>,
    pub env_token: Option<String>,
    /// `--project` or `FOTA_PROJECT`.
    pub project: Option<String>,
    pub file: ConfigFile,
    /// `ADMIN_TOKEN` of the nearest `.dev.vars`, if any.
    pub dev_token: Option<String>,
}

/// Where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub profile: String,
    pub url: String,
    pub token: Option<String>,
    /// `None` means: ask the server and take its only project, else `demo`.
    pub project: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid config: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("profile {0:?} is not defined in the config file")]
    UnknownProfile(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Picks url, token and project: the environment wins over the profile, the profile over the
/// built-in `local` defaults.
pub fn resolve(sources: Sources) -> Result<Connection, ConfigError> {
    let name = sources
        .profile
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let profile = match sources.file.profiles.get(&name) {
        Some(profile) => profile.clone(),
        None if name == DEFAULT_PROFILE => Profile::default(),
        None if sources.env_url.is_some() => Profile::default(),
        None => return Err(ConfigError::UnknownProfile(name)),
    };
    let url = sources
        .env_url
        .or(profile.url)
        .unwrap_or_else(|| LOCAL_URL.to_string());
    // The dev server's token is only offered to the local profile on this machine, never sent
    // to a remote URL (not even when `FOTA_URL` points the local profile elsewhere).
    let dev_token = if name == DEFAULT_PROFILE && is_loopback_url(&url) {
        sources.dev_token
    } else {
        None
    };
    let token = sources.env_token.or(profile.token).or(dev_token);
    let project = sources.project.or(profile.project);
    Ok(Connection {
        profile: name,
        url,
        token,
        project,
    })
}

/// Is `url` on this machine: a host in 127.0.0.0/8, `::1` (or `::ffff:127.x.y.z`), or
/// `localhost`? Anything unparsable is not.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// A warning when a token would travel unencrypted: plain `http://` to a host that is not
/// loopback.
pub fn plain_http_warning(url: &str, has_token: bool) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let insecure = has_token && parsed.scheme() == "http" && !is_loopback_url(url);
    insecure.then(|| crate::strings::warn_plain_http(parsed.host_str().unwrap_or_default()))
}

/// A warning when the config file (which may hold tokens) can be read or written by anyone but
/// its owner: any group or other bit of its Unix `mode`.
pub fn config_mode_warning(path: &Path, mode: u32) -> Option<String> {
    (mode & 0o077 != 0)
        .then(|| crate::strings::warn_config_readable(&path.display().to_string(), mode & 0o777))
}

/// Reads the environment, the config file and `.dev.vars`, then resolves; warnings about how
/// the token is kept or sent go to stderr.
pub fn load(profile: Option<String>, project: Option<String>) -> Result<Connection, ConfigError> {
    let env = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
    let mut warnings = Vec::new();
    let file = match config_path() {
        Some(path) if path.exists() => {
            warnings.extend(file_mode(&path).and_then(|mode| config_mode_warning(&path, mode)));
            read_config(&path)?
        }
        _ => ConfigFile::default(),
    };
    let dev_token = std::env::current_dir()
        .ok()
        .and_then(|dir| find_dev_token(&dir));
    let connection = resolve(Sources {
        profile,
        env_url: env("FOTA_URL"),
        env_token: env("FOTA_TOKEN"),
        project,
        file,
        dev_token,
    })?;
    warnings.extend(plain_http_warning(
        &connection.url,
        connection.token.is_some(),
    ));
    for warning in warnings {
        eprintln!("fota: warning: {warning}");
    }
    Ok(connection)
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| meta.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

/// `$XDG_CONFIG_HOME/fota/config.toml` when that variable holds an absolute path (as the XDG
/// spec asks), else `~/.config/fota/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    config_path_from(std::env::var_os("XDG_CONFIG_HOME"), dirs::home_dir())
}

pub fn config_path_from(xdg: Option<std::ffi::OsString>, home: Option<PathBuf>) -> Option<PathBuf> {
    let dir = xdg
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home.map(|home| home.join(".config")))?;
    Some(dir.join("fota").join("config.toml"))
}

/// Sets profile `name` in the config file at `path`, keeping its other profiles (comments are
/// not kept). The file holds tokens: it is written to a temporary file created mode 0600 and
/// renamed over the old one, so it is never readable by others, not even for a moment.
pub fn save_profile(path: &Path, name: &str, profile: Profile) -> Result<(), ConfigError> {
    let write_error = |source| ConfigError::Write {
        path: path.into(),
        source,
    };
    let mut file = if path.exists() {
        read_config(path)?
    } else {
        ConfigFile::default()
    };
    let entry = file.profiles.entry(name.to_string()).or_default();
    entry.url = profile.url;
    entry.token = profile.token;
    if profile.project.is_some() {
        entry.project = profile.project;
    }
    let text = toml::to_string(&file).map_err(|err| write_error(std::io::Error::other(err)))?;
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(write_error)?;
    }
    let temporary = path.with_extension("toml.tmp");
    write_private(&temporary, text.as_bytes()).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Writes `bytes` to a file only its owner may read or write.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = open_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A left-over file keeps its old mode on open: set it before anything is written.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

fn read_config(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.into(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.into(),
        source,
    })
}

/// Looks for `.dev.vars` in `start` and its parents and returns its `ADMIN_TOKEN`.
pub fn find_dev_token(start: &Path) -> Option<String> {
    start
        .ancestors()
        .filter_map(|dir| std::fs::read_to_string(dir.join(".dev.vars")).ok())
        .find_map(|text| dev_vars_token(&text))
}

/// The value of `ADMIN_TOKEN=` in a `.dev.vars` file (dotenv syntax, optional quotes).
pub fn dev_vars_token(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=')?;
        if key.trim() != "ADMIN_TOKEN" {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some(value.to_string()).filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn local_default_uses_dev_vars_token() {
        let conn = resolve(Sources {
            dev_token: Some("dev".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            conn,
            Connection {
                profile: "local".into(),
                url: LOCAL_URL.into(),
                token: Some("dev".into()),
                project: None
            }
        );
    }

    #[test]
    fn environment_wins_over_profile() {
        let conn = resolve(Sources {
            profile: Some("prod".into()),
            env_url: Some("http://env".into()),
            env_token: Some("envtok".into()),
            file: file(
                "[profiles.prod]\nurl = \"https://prod\"\ntoken = \"prodtok\"\nproject = \"p1\"\n",
            ),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(conn.url, "http://env");
        assert_eq!(conn.token.as_deref(), Some("envtok"));
        assert_eq!(conn.project.as_deref(), Some("p1"));
    }

    #[test]
    fn project_flag_wins_over_profile_project() {
        let conn = resolve(Sources {
            profile: Some("staging".into()),
            project: Some("flag".into()),
            file: file("[profiles.staging]\nurl = \"https://s\"\nproject = \"p1\"\n"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(conn.project.as_deref(), Some("flag"));
    }

    #[test]
    fn dev_token_is_never_sent_to_other_profiles() {
        let conn = resolve(Sources {
            profile: Some("prod".into()),
            dev_token: Some("dev".into()),
            file: file("[profiles.prod]\nurl = \"https://prod\"\n"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(conn.token, None);
    }

    #[test]
    fn dev_token_is_offered_only_to_loopback_urls() {
        for (url, offered) in [
            ("http://127.0.0.1:8787", true),
            ("http://localhost:8787", true),
            ("http://remote.example:8787", false),
            ("https://fota.example.com", false),
            ("http://192.168.1.10:8787", false),
        ] {
            let conn = resolve(Sources {
                env_url: Some(url.into()),
                dev_token: Some("dev".into()),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(conn.token.is_some(), offered, "{url}");
        }
        // A local profile in the config file pointing elsewhere does not get it either.
        let conn = resolve(Sources {
            dev_token: Some("dev".into()),
            file: file("[profiles.local]\nurl = \"http://10.0.0.5:8787\"\n"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(conn.token, None);
    }

    #[track_caller]
    fn check_loopback(url: &str, expect: bool) {
        assert_eq!(is_loopback_url(url), expect, "{url}");
    }

    #[test]
    fn loopback_is_127_8_ipv6_one_and_localhost() {
        check_loopback("http://127.0.0.1:8787", true);
        check_loopback("http://127.0.0.1", true);
        check_loopback("http://127.255.3.4:1/x", true);
        check_loopback("http://127.1:8787", true);
        check_loopback("http://[::1]:8787", true);
        check_loopback("http://[::ffff:127.0.0.1]:8787", true);
        check_loopback("http://localhost:8787", true);
        check_loopback("http://LOCALHOST", true);
        check_loopback("http://localhost.:8787", true);
        check_loopback("https://localhost", true);
        check_loopback("http://128.0.0.1", false);
        check_loopback("http://10.0.0.1", false);
        check_loopback("http://0.0.0.0:8787", false);
        check_loopback("http://[::2]", false);
        check_loopback("http://localhost.example.com", false);
        check_loopback("http://127.0.0.1.example.com", false);
        check_loopback("http://user@evil.example#@127.0.0.1", false);
        check_loopback("not a url", false);
        check_loopback("", false);
    }

    #[track_caller]
    fn check_http_warning(url: &str, has_token: bool, warns: bool) {
        assert_eq!(
            plain_http_warning(url, has_token).is_some(),
            warns,
            "{url} token={has_token}"
        );
    }

    #[test]
    fn a_token_over_plain_http_to_another_host_is_warned_about() {
        check_http_warning("http://fota.example.com", true, true);
        check_http_warning("http://192.168.1.10:8787", true, true);
        check_http_warning("http://fota.example.com", false, false);
        check_http_warning("https://fota.example.com", true, false);
        check_http_warning("http://127.0.0.1:8787", true, false);
        check_http_warning("http://localhost:8787", true, false);
        check_http_warning("http://[::1]:8787", true, false);
        let warning = plain_http_warning("http://fota.example.com:8080/x", true).unwrap();
        assert!(warning.contains("fota.example.com"), "{warning}");
    }

    #[track_caller]
    fn check_mode(mode: u32, warns: bool) {
        let path = Path::new("/home/op/.config/fota/config.toml");
        assert_eq!(config_mode_warning(path, mode).is_some(), warns, "{mode:o}");
    }

    #[test]
    fn a_config_file_others_can_read_is_warned_about() {
        check_mode(0o100600, false);
        check_mode(0o100400, false);
        check_mode(0o100700, false);
        check_mode(0o100640, true);
        check_mode(0o100644, true);
        check_mode(0o100604, true);
        check_mode(0o100620, true);
        check_mode(0o100666, true);
        let warning = config_mode_warning(Path::new("/c/config.toml"), 0o100644).unwrap();
        assert!(
            warning.contains("/c/config.toml") && warning.contains("644"),
            "{warning}"
        );
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let err = resolve(Sources {
            profile: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::UnknownProfile(name) if name == "nope"));
    }

    #[test]
    fn dev_vars_lines() {
        assert_eq!(
            dev_vars_token("FOO=1\nADMIN_TOKEN=abc\n"),
            Some("abc".into())
        );
        assert_eq!(
            dev_vars_token("ADMIN_TOKEN = \"q u\"\n"),
            Some("q u".into())
        );
        assert_eq!(dev_vars_token("export ADMIN_TOKEN='x'"), Some("x".into()));
        assert_eq!(dev_vars_token("ADMIN_TOKENS=abc\nADMIN_TOKEN="), None);
    }

    #[test]
    fn the_config_file_follows_xdg_config_home_when_it_is_absolute() {
        let home = Some(PathBuf::from("/home/op"));
        assert_eq!(
            config_path_from(Some("/xdg".into()), home.clone()),
            Some(PathBuf::from("/xdg/fota/config.toml"))
        );
        assert_eq!(
            config_path_from(Some("relative".into()), home.clone()),
            Some(PathBuf::from("/home/op/.config/fota/config.toml"))
        );
        assert_eq!(
            config_path_from(None, home),
            Some(PathBuf::from("/home/op/.config/fota/config.toml"))
        );
        assert_eq!(config_path_from(None, None), None);
    }

    #[cfg(unix)]
    #[test]
    fn login_writes_the_profile_mode_0600_and_keeps_the_others() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("fota-tui-login-{}", std::process::id()));
        let path = root.join("fota").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // An existing file others could read, with a profile of its own.
        std::fs::write(&path, "[profiles.prod]\nurl = \"https://prod\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let profile = Profile {
            url: Some("https://staging".into()),
            token: Some("s3cr3t-token".into()),
            project: Some("demo".into()),
        };
        save_profile(&path, "staging", profile.clone()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(config_mode_warning(&path, mode), None);
        let file = read_config(&path).unwrap();
        assert_eq!(file.profiles["staging"], profile);
        assert_eq!(file.profiles["prod"].url.as_deref(), Some("https://prod"));
        // A new token for the profile keeps its project.
        let again = Profile {
            url: Some("https://staging".into()),
            token: Some("other".into()),
            project: None,
        };
        save_profile(&path, "staging", again).unwrap();
        let file = read_config(&path).unwrap();
        assert_eq!(file.profiles["staging"].token.as_deref(), Some("other"));
        assert_eq!(file.profiles["staging"].project.as_deref(), Some("demo"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_new_config_file_is_created_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("fota-tui-login-new-{}", std::process::id()));
        let path = root.join("a").join("fota").join("config.toml");
        save_profile(&path, "local", Profile::default()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o077, 0, "{dir_mode:o}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn dev_vars_found_in_a_parent_directory() {
        let root = std::env::temp_dir().join(format!("fota-tui-devvars-{}", std::process::id()));
        let nested = root.join("a").join("b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.join(".dev.vars"), "ADMIN_TOKEN=from-parent\n").unwrap();
        assert_eq!(find_dev_token(&nested), Some("from-parent".into()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
