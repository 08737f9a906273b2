//! Raw HTTP/1.1 over TCP, for what a client library would not send: malformed heads, a body
//! written in pieces with pauses (so the server reads it in several frames), a stream cut off
//! midway, pipelined requests, a request abandoned before its answer.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request written byte for byte.
#[derive(Clone)]
pub struct Raw {
    request_line: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Raw {
    pub fn new(method: &str, target: &str) -> Self {
        Self {
            request_line: format!("{method} {target} HTTP/1.1").into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub fn replace(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.without(name).header(name, value)
    }

    pub fn request_line(mut self, line: &str) -> Self {
        self.request_line = line.as_bytes().to_vec();
        self
    }

    /// The head (ending with the blank line), with `connection: close`.
    pub fn head(&self) -> Vec<u8> {
        let mut out = self.request_line.clone();
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"connection: close\r\n\r\n");
        out
    }

    /// The whole request with a `Content-Length` for `body`.
    pub fn with_body(&self, body: &[u8]) -> Vec<u8> {
        let mut out = self
            .clone()
            .header("content-length", body.len().to_string())
            .head();
        out.extend_from_slice(body);
        out
    }
}

/// What the client does on the connection, in order.
pub enum Step {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Closes the client's write side (the server sees EOF).
    ShutdownWrite,
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The layer's reason, from the header the test server copies it into.
    pub fn reason(&self) -> Option<String> {
        let prefix = format!("{}:", super::REASON);
        self.head.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix(&prefix)
                .map(|v| v.trim().to_owned())
        })
    }
}

/// Parses one response from the front of `buf` if it is complete (`eof`: no more bytes will
/// come), returning it and the bytes it used.
pub fn parse_response(buf: &[u8], eof: bool, head_request: bool) -> Option<(RawReply, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse::<usize>().unwrap());
    let chunked = lower.contains("transfer-encoding: chunked");
    let rest = &buf[end..];
    if head_request {
        return Some((
            RawReply {
                status,
                head,
                body: Vec::new(),
            },
            end,
        ));
    }
    if let Some(length) = length {
        if rest.len() < length {
            return None;
        }
        let body = rest[..length].to_vec();
        return Some((RawReply { status, head, body }, end + length));
    }
    if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16)
                    .ok()?;
            at = line_end + 2;
            if size == 0 {
                let trailer_end = rest[at..].windows(2).position(|w| w == b"\r\n")? + at + 2;
                return Some((RawReply { status, head, body }, end + trailer_end));
            }
            if rest.len() < at + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
    }
    eof.then(|| {
        (
            RawReply {
                status,
                head,
                body: rest.to_vec(),
            },
            buf.len(),
        )
    })
}

/// Runs `steps` on a fresh connection while reading `count` responses (the writer's errors are
/// ignored: the server may answer and close before everything is sent).
pub async fn exchange_many(
    addr: SocketAddr,
    steps: Vec<Step>,
    count: usize,
    head_request: bool,
) -> Vec<RawReply> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        for step in steps {
            let ok = match step {
                Step::Write(bytes) => writer.write_all(&bytes).await.is_ok(),
                Step::Sleep(duration) => {
                    tokio::time::sleep(duration).await;
                    true
                }
                Step::ShutdownWrite => writer.shutdown().await.is_ok(),
            };
            if !ok {
                return;
            }
        }
        // Keep the write side open until the test is done reading.
        std::future::pending::<()>().await;
    });
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = Vec::new();
        let mut replies = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut eof = false;
        while replies.len() < count {
            if let Some((reply, used)) = parse_response(&buf, eof, head_request) {
                replies.push(reply);
                buf.drain(..used);
                continue;
            }
            assert!(!eof, "connection closed mid-response: {buf:?}");
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if eof && buf.is_empty() {
                panic!(
                    "connection closed with {} of {count} responses",
                    replies.len()
                );
            }
        }
        replies
    })
    .await;
    writing.abort();
    read.expect("the server must answer within 20 s")
}

pub async fn exchange(addr: SocketAddr, steps: Vec<Step>) -> RawReply {
    exchange_many(addr, steps, 1, false).await.pop().unwrap()
}

pub async fn send_raw(addr: SocketAddr, bytes: Vec<u8>) -> RawReply {
    exchange(addr, vec![Step::Write(bytes)]).await
}

/// Sends `request` and closes the connection after `after`, without reading the answer.
pub async fn abandoned(addr: SocketAddr, request: &[u8], after: Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    tokio::time::sleep(after).await;
    drop(stream);
}

/// `data` as one chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    chunk
}

/// Writes `head` then each of `pieces`, `pause` apart, and reads the answer.
pub async fn in_pieces(
    addr: SocketAddr,
    head: Vec<u8>,
    pieces: &[&[u8]],
    pause: Duration,
) -> RawReply {
    let mut steps = vec![Step::Write(head)];
    for piece in pieces {
        steps.push(Step::Sleep(pause));
        steps.push(Step::Write(piece.to_vec()));
    }
    exchange(addr, steps).await
}
