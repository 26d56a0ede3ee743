//! The bridge's HTTP side: the edge's Luat check for one device, and the image download.
//!
//! The check asks for the redirect (`need_oss_url=1`), so the edge decides and counts exactly as
//! for an HTTP device while the bridge learns only the image's sha256 from the `Location`
//! (`.../images/<sha256>`), and downloads each image once for all its devices.

use std::time::Duration;

use crate::map::Product;
use crate::protocol::{MAX_PACKAGES, PACKAGE_SIZE};

/// The largest image the protocol can carry (65535 packages of 1022 bytes).
pub const MAX_IMAGE_BYTES: u64 = MAX_PACKAGES * PACKAGE_SIZE;

/// What the edge answered to a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckAnswer {
    /// An upgrade is due: the image is at `location`, named by its sha256.
    Image { sha256: String, location: String },
    /// A refusal with the edge's `{"code":N}`.
    Refused(u16),
}

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("edge unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected answer from the edge: {0}")]
    Unexpected(String),
    #[error("image {0} is larger than the protocol can carry ({MAX_IMAGE_BYTES} bytes)")]
    TooLarge(String),
}

/// One HTTP client for the edge.
#[derive(Debug, Clone)]
pub struct EdgeClient {
    http: reqwest::Client,
    /// The edge's base URL without a trailing `/`.
    base: String,
    /// Sent as a bearer token, and only to the edge's own origin (never to a public image base).
    token: Option<String>,
}

impl EdgeClient {
    pub fn new(base: &str, token: Option<String>) -> Result<EdgeClient, EdgeError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("fota-udp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(EdgeClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(url);
        match &self.token {
            Some(token) if same_origin(&self.base, url) => request.bearer_auth(token),
            _ => request,
        }
    }

    /// The Luat check for `imei` at `version` of `product`. The names are validated by the map
    /// and the start line's pattern, so they go into the query as devices send them.
    pub async fn check(
        &self,
        product: &Product,
        imei: &str,
        version: &str,
    ) -> Result<CheckAnswer, EdgeError> {
        let url = format!(
            "{}/api/site/firmware_upgrade?project_key={}&imei={imei}&firmware_name={}&version={version}&need_oss_url=1",
            self.base, product.project_key, product.firmware_name
        );
        let response = self
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await?;
        read_check_answer(status, location.as_deref(), &body)
    }

    /// Downloads the image at `location`, at most [`MAX_IMAGE_BYTES`].
    pub async fn fetch(&self, sha256: &str, location: &str) -> Result<Vec<u8>, EdgeError> {
        let (response, length) = self.image_response(sha256, location).await?;
        let mut bytes = Vec::with_capacity(length as usize);
        read_capped(response, sha256, |chunk| bytes.extend_from_slice(chunk)).await?;
        Ok(bytes)
    }

    /// Downloads the whole image at `location` (a device's own signed URL), hashing the bytes
    /// and keeping none: the edge counts the device's delivery as they go out. Returns their
    /// sha256.
    pub async fn count_delivery(&self, location: &str) -> Result<String, EdgeError> {
        use sha2::Digest;
        let (response, _) = self.image_response(location, location).await?;
        let mut hasher = sha2::Sha256::new();
        read_capped(response, location, |chunk| hasher.update(chunk)).await?;
        Ok(hex::encode(hasher.finalize()))
    }

    /// A `GET` of the image at `location` that answered 200 and announces at most
    /// [`MAX_IMAGE_BYTES`] (named `what` when it does not), with the length it announces.
    async fn image_response(
        &self,
        what: &str,
        location: &str,
    ) -> Result<(reqwest::Response, u64), EdgeError> {
        let response = self.get(location).send().await?;
        if response.status().as_u16() != 200 {
            return Err(EdgeError::Unexpected(format!(
                "image download answered {}",
                response.status()
            )));
        }
        let length = response.content_length().unwrap_or(0);
        if length > MAX_IMAGE_BYTES {
            return Err(EdgeError::TooLarge(what.to_string()));
        }
        Ok((response, length))
    }
}

/// Reads `response`'s body chunk by chunk into `each`, failing past [`MAX_IMAGE_BYTES`] (named
/// `what`) whatever the length it announced.
async fn read_capped(
    mut response: reqwest::Response,
    what: &str,
    mut each: impl FnMut(&[u8]),
) -> Result<(), EdgeError> {
    let mut total = 0u64;
    while let Some(chunk) = response.chunk().await? {
        total += chunk.len() as u64;
        if total > MAX_IMAGE_BYTES {
            return Err(EdgeError::TooLarge(what.to_string()));
        }
        each(&chunk);
    }
    Ok(())
}

/// Reads a check answer: a 302 to `.../images/<sha256>`, or a 4xx/503 with `{"code":N}`.
pub fn read_check_answer(
    status: u16,
    location: Option<&str>,
    body: &[u8],
) -> Result<CheckAnswer, EdgeError> {
    match status {
        302 => {
            let location =
                location.ok_or_else(|| EdgeError::Unexpected("302 without Location".into()))?;
            let sha256 = sha256_of_location(location).ok_or_else(|| {
                EdgeError::Unexpected(format!("302 to {location}, not to an image"))
            })?;
            Ok(CheckAnswer::Image {
                sha256,
                location: location.to_string(),
            })
        }
        400..=499 | 503 => {
            let code = refusal_code(body)
                .ok_or_else(|| EdgeError::Unexpected(format!("{status} without a refusal code")))?;
            Ok(CheckAnswer::Refused(code))
        }
        // The check asked for a redirect: a streamed image (200/206) or a 5xx is not an answer.
        _ => Err(EdgeError::Unexpected(format!("status {status}"))),
    }
}

/// The sha256 an image URL is named by: the last path segment after `/images/`, 64 hex digits.
pub fn sha256_of_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?;
    let (_, name) = path.rsplit_once("/images/")?;
    (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| name.to_ascii_lowercase())
}

fn refusal_code(body: &[u8]) -> Option<u16> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        code: u16,
    }
    serde_json::from_slice::<Refusal>(body).ok().map(|r| r.code)
}

/// Does `url` point at the same scheme, host and port as `base`?
fn same_origin(base: &str, url: &str) -> bool {
    fn origin(url: &str) -> Option<&str> {
        let after_scheme = url.find("://")? + 3;
        let end = url[after_scheme..]
            .find('/')
            .map_or(url.len(), |i| after_scheme + i);
        Some(&url[..end])
    }
    origin(base).is_some_and(|b| origin(url).is_some_and(|u| u.eq_ignore_ascii_case(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn check_answers() {
        let image = |location: &str| {
            Ok::<_, ()>(CheckAnswer::Image {
                sha256: SHA.into(),
                location: location.into(),
            })
        };
        let table: [(u16, Option<&str>, &str, Result<CheckAnswer, ()>); 11] = [
            (
                302,
                Some(&format!("http://127.0.0.1:8787/images/{SHA}")),
                "",
                image(&format!("http://127.0.0.1:8787/images/{SHA}")),
            ),
            (
                302,
                Some(&format!("https://pub-1.r2.dev/images/{SHA}")),
                "",
                image(&format!("https://pub-1.r2.dev/images/{SHA}")),
            ),
            (
                302,
                Some(&format!("https://x/images/{}?v=1", SHA.to_uppercase())),
                "",
                image(&format!("https://x/images/{}?v=1", SHA.to_uppercase())),
            ),
            (302, Some("http://127.0.0.1:8787/images/abc"), "", Err(())),
            (302, Some("http://127.0.0.1:8787/elsewhere"), "", Err(())),
            (302, None, "", Err(())),
            (
                404,
                None,
                r#"{"code":60,"msg":"already up to date"}"#,
                Ok(CheckAnswer::Refused(60)),
            ),
            (
                403,
                None,
                r#"{"code": 62, "msg":"banned after repeated upgrades"}"#,
                Ok(CheckAnswer::Refused(62)),
            ),
            (
                503,
                None,
                r#"{"code":68,"msg":"image unavailable, retry later"}"#,
                Ok(CheckAnswer::Refused(68)),
            ),
            (404, None, "not json", Err(())),
            (500, None, r#"{"code":60}"#, Err(())),
        ];
        for (status, location, body, expect) in table {
            let got = read_check_answer(status, location, body.as_bytes()).map_err(|_| ());
            assert_eq!(got, expect, "{status} {location:?} {body}");
        }
    }

    #[test]
    fn the_token_goes_only_to_the_edge() {
        let table = [
            (
                "http://127.0.0.1:8787",
                "http://127.0.0.1:8787/images/x",
                true,
            ),
            (
                "http://127.0.0.1:8787/",
                "http://127.0.0.1:8787/api/site/firmware_upgrade?a=1",
                true,
            ),
            (
                "https://fota.example.com",
                "https://FOTA.example.com/images/x",
                true,
            ),
            (
                "http://127.0.0.1:8787",
                "http://127.0.0.1:8788/images/x",
                false,
            ),
            (
                "https://fota.example.com",
                "https://pub-1.r2.dev/images/x",
                false,
            ),
            (
                "https://fota.example.com",
                "http://fota.example.com/images/x",
                false,
            ),
            (
                "https://fota.example.com",
                "https://fota.example.com.evil.net/images/x",
                false,
            ),
        ];
        for (base, url, same) in table {
            assert_eq!(same_origin(base, url), same, "{base} {url}");
        }
    }
}
