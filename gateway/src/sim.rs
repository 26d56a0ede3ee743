//! A simulated device and a lossy relay, for the tests and the benchmark.
//!
//! The device behaves like the guide's sample client: one datagram out, wait for its answer, send
//! it again after a timeout, give up after a number of tries; stray answers (duplicates, a late
//! copy of an earlier package) are ignored. The relay sits between device and bridge and drops,
//! duplicates and delays datagrams in both directions from a seeded generator, so a run repeats.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;

use crate::protocol::PACKAGE_SIZE;

/// xorshift64*: small, seeded, good enough to decide a datagram's fate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
}

/// What the relay does to each datagram, independently in each direction.
#[derive(Debug, Clone, Copy)]
pub struct Loss {
    pub drop: f64,
    pub duplicate: f64,
    /// Held back for a few milliseconds, so later datagrams overtake it.
    pub reorder: f64,
}

/// What the relay did, for the test's report.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayCounts {
    pub forwarded: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

/// Starts a relay on 127.0.0.1 in front of `target`; each device source gets its own upstream
/// socket, so the bridge sees one source per device as it would in the field.
pub async fn start_relay(
    target: SocketAddr,
    loss: Loss,
    seed: u64,
) -> std::io::Result<(SocketAddr, Arc<Mutex<RelayCounts>>)> {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let addr = front.local_addr()?;
    let rng = Arc::new(Mutex::new(Rng::new(seed)));
    let counts = Arc::new(Mutex::new(RelayCounts::default()));
    let (rng2, counts2) = (rng.clone(), counts.clone());
    tokio::spawn(async move {
        let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        let mut buf = vec![0u8; 65536];
        while let Ok((len, device)) = front.recv_from(&mut buf).await {
            let upstream = match upstreams.get(&device) {
                Some(socket) => socket.clone(),
                None => {
                    let Ok(socket) = UdpSocket::bind("127.0.0.1:0").await else {
                        continue;
                    };
                    let socket = Arc::new(socket);
                    upstreams.insert(device, socket.clone());
                    // Answers from the bridge back to this device, through the same faults.
                    let (front, socket2, rng, counts) =
                        (front.clone(), socket.clone(), rng2.clone(), counts2.clone());
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        while let Ok((len, _)) = socket2.recv_from(&mut buf).await {
                            forward(&front, device, buf[..len].to_vec(), loss, &rng, &counts);
                        }
                    });
                    socket
                }
            };
            forward(
                &upstream,
                target,
                buf[..len].to_vec(),
                loss,
                &rng2,
                &counts2,
            );
        }
    });
    Ok((addr, counts))
}

fn forward(
    socket: &Arc<UdpSocket>,
    to: SocketAddr,
    datagram: Vec<u8>,
    loss: Loss,
    rng: &Mutex<Rng>,
    counts: &Mutex<RelayCounts>,
) {
    // A held-back datagram waits 5 to 300 ms: often past the device's timeout, so it arrives
    // after the device's resend and its answer, as a stale copy among later packages. A
    // duplicate's second copy follows by up to 50 ms, so copies interleave with other traffic.
    let (dropped, copies, delay_ms, copy_delay_ms) = {
        let mut rng = rng.lock().expect("rng");
        let dropped = rng.chance(loss.drop);
        let copies = if rng.chance(loss.duplicate) { 2 } else { 1 };
        let delay_ms = if rng.chance(loss.reorder) {
            5 + rng.next_u64() % 296
        } else {
            0
        };
        (dropped, copies, delay_ms, rng.next_u64() % 51)
    };
    {
        let mut c = counts.lock().expect("counts");
        if dropped {
            c.dropped += 1;
            return;
        }
        c.forwarded += 1;
        c.duplicated += u64::from(copies == 2);
        c.reordered += u64::from(delay_ms > 0);
    }
    let socket = socket.clone();
    tokio::spawn(async move {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let _ = socket.send_to(&datagram, to).await;
        if copies == 2 {
            tokio::time::sleep(Duration::from_millis(copy_delay_ms)).await;
            let _ = socket.send_to(&datagram, to).await;
        }
    });
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no answer to {0:?} after every try")]
    NoAnswer(String),
    #[error("unexpected answer {0:?}")]
    Unexpected(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A device speaking the protocol to `server`, retrying like the sample client.
pub struct Device {
    socket: UdpSocket,
    pub timeout: Duration,
    pub tries: u32,
    /// Datagrams sent again after a timeout.
    pub resends: u64,
}

/// A finished download.
#[derive(Debug, Clone)]
pub struct Download {
    pub upgrade_id: u64,
    pub package_count: u64,
    pub last_package_size: u64,
    pub image: Vec<u8>,
    pub sha256: String,
}

impl Device {
    pub async fn connect(
        server: SocketAddr,
        timeout: Duration,
        tries: u32,
    ) -> std::io::Result<Device> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        socket.connect(server).await?;
        Ok(Device {
            socket,
            timeout,
            tries,
            resends: 0,
        })
    }

    /// The device's own address and port: the source its sessions are bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends `datagram` until an answer `accept` takes arrives; other datagrams are ignored.
    pub async fn ask(
        &mut self,
        datagram: &[u8],
        accept: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, SimError> {
        let mut buf = vec![0u8; 2048];
        for attempt in 0..self.tries {
            if attempt > 0 {
                self.resends += 1;
            }
            self.socket.send(datagram).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                    Ok(Ok(len)) if accept(&buf[..len]) => return Ok(buf[..len].to_vec()),
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => break,
                }
            }
        }
        Err(SimError::NoAnswer(
            String::from_utf8_lossy(datagram).into_owned(),
        ))
    }

    /// Sends a start line and returns the text answer.
    pub async fn start(
        &mut self,
        imei: &str,
        project_name: &str,
        version: &str,
    ) -> Result<String, SimError> {
        let line = format!("{imei},{project_name},{version}");
        let answer = self.ask(line.as_bytes(), is_text_answer).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    /// Package `n` of `upgrade_id`, expecting `size` bytes of image.
    pub async fn get(&mut self, n: u64, upgrade_id: u64, size: u64) -> Result<Vec<u8>, SimError> {
        let request = format!("Get{n},{upgrade_id}");
        let answer = self
            .ask(request.as_bytes(), |d| {
                d.len() as u64 == 2 + size && u64::from(u16::from_be_bytes([d[0], d[1]])) == n
            })
            .await?;
        Ok(answer[2..].to_vec())
    }

    /// The whole exchange: start line, then every package in order.
    pub async fn download(
        &mut self,
        imei: &str,
        project_name: &str,
        version: &str,
    ) -> Result<Download, SimError> {
        let answer = self.start(imei, project_name, version).await?;
        let (upgrade_id, package_count, last_package_size) =
            parse_luaupdate(&answer).ok_or(SimError::Unexpected(answer))?;
        let image = self
            .download_from(upgrade_id, package_count, last_package_size)
            .await?;
        let sha256 = hex::encode(Sha256::digest(&image));
        Ok(Download {
            upgrade_id,
            package_count,
            last_package_size,
            image,
            sha256,
        })
    }

    /// Every package of `upgrade_id` in order, as [`Device::download`] asks for them after its
    /// start line's `LUAUPDATE,<upgrade_id>,<package_count>,<last_package_size>`.
    pub async fn download_from(
        &mut self,
        upgrade_id: u64,
        package_count: u64,
        last_package_size: u64,
    ) -> Result<Vec<u8>, SimError> {
        let mut image = Vec::new();
        for n in 1..=package_count {
            let size = if n == package_count && last_package_size != 0 {
                last_package_size
            } else {
                PACKAGE_SIZE
            };
            image.extend(self.get(n, upgrade_id, size).await?);
        }
        Ok(image)
    }
}

/// An answer to a start line (or an error text), never a package: all printable ASCII and not
/// started by a small big-endian package number.
pub fn is_text_answer(datagram: &[u8]) -> bool {
    !datagram.is_empty() && datagram.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// `LUAUPDATE,<id>,<count>,<last>`.
pub fn parse_luaupdate(text: &str) -> Option<(u64, u64, u64)> {
    let mut fields = text.strip_prefix("LUAUPDATE,")?.split(',');
    let mut next = || fields.next()?.parse().ok();
    Some((next()?, next()?, next()?))
}
