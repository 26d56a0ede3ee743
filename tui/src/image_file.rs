//! A firmware image on the operator's disk: where `~/…` points, and the sha256 the server checks
//! the uploaded body against. Shared by `fota firmware upload` and the dashboard's upload form.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// Bytes read at a time when hashing or sending an image from disk: memory stays at this (and
/// the connection's buffers), whatever the image's size.
pub const READ_CHUNK: usize = 256 * 1024;

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

/// An image on disk, hashed in one pass without holding it: what the upload states before it
/// sends the file again in a second pass (the server refuses a body whose sha256 differs, so a
/// file changed between the passes is refused, never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Reads `path` once, chunk by chunk, for its size and sha256.
pub async fn hash_file(path: &Path) -> std::io::Result<Hashed> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Hashed {
        path: path.to_path_buf(),
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_hashes_as_its_bytes_do_across_chunk_boundaries() {
        let dir = std::env::temp_dir().join(format!("fota-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [
            0,
            1,
            READ_CHUNK - 1,
            READ_CHUNK,
            READ_CHUNK + 1,
            3 * READ_CHUNK + 7,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.join(format!("img-{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let hashed = hash_file(&path).await.unwrap();
            assert_eq!(
                (hashed.size, hashed.sha256.as_str()),
                (len as u64, sha256_hex(&bytes).as_str()),
                "{len} bytes"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
