//! Raw HTTP/1.1 over TCP, for what a client library would not send: a body written in pieces
//! with pauses (so the server reads it in several frames), or a request abandoned midway.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `pieces` in order on a fresh connection, pausing `pause` between them, and returns
/// the status and the body of the response (the request must ask for `connection: close`).
/// Writing stops early if the server has already answered and closed.
pub async fn in_pieces(addr: SocketAddr, pieces: &[&[u8]], pause: Duration) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        if stream.write_all(piece).await.is_err() || stream.flush().await.is_err() {
            break;
        }
    }
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server must answer")
        .unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head")
        + 4;
    let status = std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap();
    (status, response[end..].to_vec())
}

/// Sends `request` and closes the connection after `after`, without reading the answer.
pub async fn abandoned(addr: SocketAddr, request: &[u8], after: Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    tokio::time::sleep(after).await;
    drop(stream);
}

/// A POST head for `target` with these headers and a `Content-Length` of `length` (`None`:
/// `Transfer-Encoding: chunked`).
pub fn post_head(
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    length: Option<usize>,
) -> Vec<u8> {
    let mut head = format!("POST {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match length {
        Some(length) => head.push_str(&format!("content-length: {length}\r\n\r\n")),
        None => head.push_str("transfer-encoding: chunked\r\n\r\n"),
    }
    head.into_bytes()
}

/// `data` as one chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    chunk
}
