//! The `lambda` example run as Lambda runs a function: its binary as a child process, its
//! `lambda_runtime` loop polling a Lambda runtime API over TCP (`AWS_LAMBDA_RUNTIME_API`), here
//! a small hyper server on 127.0.0.1 that hands it the events a test invokes it with
//! (`GET /2018-06-01/runtime/invocation/next`, with the headers `lambda_runtime` requires) and
//! takes its answers (`POST /2018-06-01/runtime/invocation/{id}/response`, or `…/error`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

const API: &str = "/2018-06-01/runtime";

/// What the runtime API shares between its connections.
struct Shared {
    /// Invocations not yet handed out: (request id, event).
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    /// The invocations handed out, by request id, each waiting for its answer.
    waiting: Mutex<HashMap<String, oneshot::Sender<Result<serde_json::Value, String>>>>,
}

/// The `lambda` example running against its own local runtime API.
pub struct Function {
    child: Child,
    queue: mpsc::UnboundedSender<(String, Bytes)>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    /// What the function logged so far, read as it comes (so a chatty function never blocks on
    /// a full pipe).
    log: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Function {
    /// Starts a runtime API on a free 127.0.0.1 port and the example against it, with exactly
    /// these variables of the examples' contracts set (`support::examples::command`) and the
    /// ones Lambda sets for every function.
    pub async fn start(env: &[(&str, &str)]) -> Function {
        let (queue, events) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events),
            waiting: Mutex::default(),
        });
        let addr = serve(shared.clone()).await;
        let mut command = super::examples::command("lambda", env);
        command
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "plivo-webhook")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/plivo-webhook")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]0123456789abcdef",
            )
            // One invocation at a time, as a classic Lambda instance runs; no SnapStart.
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .env_remove("AWS_LAMBDA_INITIALIZATION_TYPE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0; 4096];
            while let Ok(read @ 1..) = pipe.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..read]);
            }
        });
        Function {
            child,
            queue,
            shared,
            next_id: AtomicU64::new(1),
            log,
            reader: Some(reader),
        }
    }

    /// Invokes the function with `event` and returns the JSON it answered through the runtime
    /// API, as Lambda hands it to API Gateway or the function URL. Panics, with what the
    /// function logged, if it reports an error, exits, or takes over 30 s.
    pub async fn invoke(&mut self, event: &serde_json::Value) -> serde_json::Value {
        let id = format!(
            "8476a536-e9f4-11e8-9739-{:012}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let (answer, answered) = oneshot::channel();
        self.shared
            .waiting
            .lock()
            .unwrap()
            .insert(id.clone(), answer);
        self.queue
            .send((id, Bytes::from(serde_json::to_vec(event).unwrap())))
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut answered = std::pin::pin!(answered);
        loop {
            tokio::select! {
                answer = &mut answered => match answer.unwrap() {
                    Ok(json) => return json,
                    Err(error) => panic!("the function reported an error: {error}\n{}", self.stop_now()),
                },
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(status) = self.child.try_wait().unwrap() {
                        panic!("the function exited ({status}):\n{}", self.stop_now());
                    }
                    if tokio::time::Instant::now() > deadline {
                        panic!("no answer within 30 s:\n{}", self.stop_now());
                    }
                }
            }
        }
    }

    /// What the function logged on stderr so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Waits (up to 5 s) until the function has logged `needle`: the signature doctor logs
    /// from its own thread, after the answer.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.log().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the function did not log {needle:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the function and returns what it logged on stderr.
    pub fn stop(mut self) -> String {
        self.stop_now()
    }

    fn stop_now(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.log()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the runtime API on a fresh 127.0.0.1 port, in the background.
async fn serve(shared: Arc<Shared>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(answer(&shared, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// One request of the runtime API.
async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if method == Method::GET && path == format!("{API}/invocation/next") {
        // Long polling, as Lambda does: the answer waits for the next invocation.
        let Some((id, event)) = shared.events.lock().await.recv().await else {
            return status(StatusCode::GONE);
        };
        let deadline =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
        return Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:plivo-webhook",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1",
            )
            .body(Full::new(event))
            .unwrap();
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    if method == Method::POST {
        if let Some(rest) = path.strip_prefix(&format!("{API}/invocation/")) {
            let answer = if let Some(id) = rest.strip_suffix("/response") {
                Some((id, serde_json::from_slice(&body).map_err(|e| e.to_string())))
            } else {
                rest.strip_suffix("/error")
                    .map(|id| (id, Err(String::from_utf8_lossy(&body).into_owned())))
            };
            if let Some((id, answer)) = answer {
                if let Some(waiting) = shared.waiting.lock().unwrap().remove(id) {
                    let _ = waiting.send(answer);
                    return status(StatusCode::ACCEPTED);
                }
                return status(StatusCode::BAD_REQUEST);
            }
        }
        if path == format!("{API}/init/error") {
            // The function failed to start: `invoke` sees it exit and shows its stderr.
            return status(StatusCode::ACCEPTED);
        }
    }
    status(StatusCode::NOT_FOUND)
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::default())
        .unwrap()
}
