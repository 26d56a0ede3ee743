//! A fake edge in the test process, for the tests that need the bridge's own behaviour (sessions,
//! the cache's bound) rather than the edge's decisions: it answers every Luat check for a known
//! `firmware_name` with the redirect the real edge gives (`302` to `/images/<sha256>`), an unknown
//! one with `404 {"code":26}`, and serves the images, counting checks and downloads.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use fota_tests::sha256_hex;

#[derive(Default)]
struct State {
    /// Images by firmware_name.
    images: HashMap<String, Vec<u8>>,
    checks: u64,
    /// Downloads by sha256.
    fetches: HashMap<String, u64>,
}

pub struct FakeEdge {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeEdge {
    /// Starts on a free loopback port (a thread per connection, for the test process's life),
    /// offering each `(firmware_name, image)`.
    pub fn start(images: &[(&str, &[u8])]) -> FakeEdge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake edge binds");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("fake edge address")
        );
        let state = Arc::new(Mutex::new(State {
            images: images
                .iter()
                .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
                .collect(),
            ..State::default()
        }));
        let (serving, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, base) = (serving.clone(), base.clone());
                std::thread::spawn(move || serve(stream, &state, &base));
            }
        });
        FakeEdge { url, state }
    }

    /// Checks answered so far.
    pub fn checks(&self) -> u64 {
        self.state.lock().unwrap().checks
    }

    /// Times `image` was downloaded.
    pub fn fetches(&self, image: &[u8]) -> u64 {
        let sha = sha256_hex(image);
        self.state
            .lock()
            .unwrap()
            .fetches
            .get(&sha)
            .copied()
            .unwrap_or(0)
    }
}

/// One request per connection (`Connection: close`), as much as the bridge's client needs.
fn serve(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/");
    let (status, headers, body) = answer(state, base, target);
    let mut response = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let _ = stream.write_all(&response);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn answer(state: &Mutex<State>, base: &str, target: &str) -> (&'static str, String, Vec<u8>) {
    let mut state = state.lock().unwrap();
    if let Some(query) = target.strip_prefix("/api/site/firmware_upgrade?") {
        state.checks += 1;
        let firmware = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("firmware_name="))
            .unwrap_or("");
        return match state.images.get(firmware) {
            Some(image) => (
                "302 Found",
                format!("Location: {base}/images/{}\r\n", sha256_hex(image)),
                Vec::new(),
            ),
            None => ("404 Not Found", String::new(), br#"{"code":26}"#.to_vec()),
        };
    }
    if let Some(sha) = target.strip_prefix("/images/") {
        let image = state
            .images
            .values()
            .find(|image| sha256_hex(image) == sha)
            .cloned();
        if let Some(image) = image {
            *state.fetches.entry(sha.to_string()).or_default() += 1;
            return ("200 OK", String::new(), image);
        }
    }
    ("404 Not Found", String::new(), br#"{"code":0}"#.to_vec())
}
