//! Request bodies read with a ceiling: a body past its limit is refused with 413 as soon as it
//! passes it, never buffered whole first.

use crate::error::{AppError, AppResult};
use futures_util::StreamExt;
use worker::Request;

/// Reads a body, refusing it with 413 as soon as it passes `limit` bytes.
pub async fn read_capped(req: &mut Request, limit: u64) -> AppResult<Vec<u8>> {
    if let Some(len) = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<u64>().ok())
    {
        if len > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
    }
    let mut body = Vec::new();
    let mut stream = match req.stream() {
        Ok(s) => s,
        // No body at all.
        Err(_) => return Ok(body),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
