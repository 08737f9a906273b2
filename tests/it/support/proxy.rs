//! Real reverse proxies (nginx, HAProxy, Caddy) started by a test in front of an app on
//! 127.0.0.1, from the configuration files a user copies (`deploy/`), and a TLS client for them.
//!
//! Each [`Proxy`] fills in the placeholders of one `deploy/` file (`{{PUBLIC_HOST}}`,
//! `{{LISTEN_PORT}}`, `{{APP_PORT}}`, `{{CERT}}`, `{{KEY}}`, `{{CERT_AND_KEY}}`) with a free
//! port, the app's port and a certificate for [`PUBLIC_HOST`] that a certificate authority made
//! by the test signed (rcgen), runs the proxy binary as the current user with every path it
//! writes in its own temporary directory, waits until it listens, and kills it on drop.
//!
//! The binaries are found on `PATH`, then in `/usr/sbin` (where Debian puts nginx and HAProxy,
//! often not on a user's `PATH`), or at the path in `NGINX`, `HAPROXY` or `CADDY`.
//! `scripts/test-all` installs them. Built with the `real-proxies` feature only.
//!
//! The client speaks TLS with tokio-rustls (the ring provider, as the `redis-tls` feature
//! uses), offering no ALPN, so every proxy answers HTTP/1.1 as it does Plivo: one client for
//! webhooks (hyper's HTTP/1.1 connection) and audio streams (tokio-tungstenite over the same
//! TLS stream), which curl cannot open, with the server name, `Host` and every header exactly
//! as the test writes them.
#![allow(dead_code)] // each test uses a different subset

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::Request as ClientRequest;

use super::websocket::{Refused, handshake_outcome};
use super::{Reply, free_port, request};

/// The host Plivo calls in these tests: the proxy's certificate is for it, and every request
/// names it in `Host` (and the TLS server name), as Plivo's do.
pub const PUBLIC_HOST: &str = "hooks.example.test";

/// A reverse proxy of the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Haproxy,
    Caddy,
}

/// What a `deploy/` file sets up (each proxy has one file for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// TLS ends at the proxy; the app gets every path as Plivo called it.
    TlsTermination,
    /// TLS ends at the proxy, which also strips `/plivo` and names it in `X-Forwarded-Prefix`.
    StripPrefix,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Nginx, Kind::Haproxy, Kind::Caddy];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Haproxy => "haproxy",
            Kind::Caddy => "caddy",
        }
    }

    /// The `deploy/` file of `setup`, relative to the crate's root.
    pub fn file(self, setup: Setup) -> String {
        let stem = match setup {
            Setup::TlsTermination => "tls-termination",
            Setup::StripPrefix => "strip-prefix",
        };
        let extension = match self {
            Kind::Nginx => "conf",
            Kind::Haproxy => "cfg",
            Kind::Caddy => "Caddyfile",
        };
        format!("deploy/{}/{stem}.{extension}", self.name())
    }

    /// The proxy's binary: `$NGINX` (`$HAPROXY`, `$CADDY`), else the name on `PATH`, else
    /// `/usr/sbin/<name>`.
    fn binary(self) -> String {
        let variable = self.name().to_uppercase();
        if let Ok(path) = std::env::var(&variable) {
            return path;
        }
        let on_path = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join(self.name()).is_file())
        });
        let sbin = Path::new("/usr/sbin").join(self.name());
        if !on_path && sbin.is_file() {
            return sbin.to_str().unwrap().to_owned();
        }
        self.name().to_owned()
    }
}

/// A proxy process owned by one test, listening with TLS on `127.0.0.1:port()`, killed (and
/// its directory removed) on drop.
pub struct Proxy {
    kind: Kind,
    child: Child,
    port: u16,
    dir: PathBuf,
    tls: Arc<ClientConfig>,
}

impl Proxy {
    /// `kind` with its `deploy/` file for `setup`, in front of the app at `app`.
    pub fn start(kind: Kind, setup: Setup, app: SocketAddr) -> Proxy {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-plivo-{}-{}-{}",
            kind.name(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = certificates(&dir);
        let mut roots = RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let template =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(kind.file(setup)))
                .unwrap();
        // A port found free may be taken before the proxy binds it: try another.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let config = fill(&template, &dir, port, app.port());
            let mut child = spawn(kind, &dir, &config);
            match wait_until_listening(&mut child, port) {
                Ok(()) => {
                    return Proxy {
                        kind,
                        child,
                        port,
                        dir,
                        tls: Arc::new(tls),
                    };
                }
                Err(()) if attempts < 3 => continue,
                Err(()) => panic!(
                    "{} did not start with {}:\n{}",
                    kind.name(),
                    kind.file(setup),
                    std::fs::read_to_string(dir.join("output.log")).unwrap_or_default()
                ),
            }
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the proxy wrote on stdout and stderr so far (for a failing assertion's message).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }

    /// A TLS connection to the proxy, for [`PUBLIC_HOST`], trusting the test's certificate
    /// authority only.
    pub async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        TlsConnector::from(self.tls.clone())
            .connect(ServerName::try_from(PUBLIC_HOST).unwrap(), tcp)
            .await
            .unwrap()
    }

    /// Sends one HTTP/1.1 request over TLS, with exactly these headers (`Host` among them if
    /// the test wants one: [`https_headers`] adds Plivo's) and body.
    pub async fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        send_over(self.connect().await, method, target, headers, body.into()).await
    }

    /// Opens a WebSocket over TLS with `request` (for `wss://{PUBLIC_HOST}/...`): the client's
    /// end on `101 Switching Protocols`, else the refusal.
    pub async fn open_stream(
        &self,
        request: ClientRequest,
    ) -> Result<WebSocketStream<TlsStream<TcpStream>>, Refused> {
        open_stream_over(self.connect().await, request).await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA, and a certificate for [`PUBLIC_HOST`] it signed, in `dir` as the proxies read them:
/// `cert.pem` (the certificate, then the CA's), `key.pem`, and `cert-and-key.pem` (both, for
/// HAProxy). Returns the CA's certificate.
fn certificates(dir: &Path) -> CertificateDer<'static> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![PUBLIC_HOST.to_owned()]).unwrap();
    let certificate = params.signed_by(&key, &issuer).unwrap();
    let chain = format!("{}{}", certificate.pem(), ca.pem());
    std::fs::write(dir.join("cert.pem"), &chain).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("cert-and-key.pem"),
        format!("{chain}{}", key.serialize_pem()),
    )
    .unwrap();
    ca.der().clone()
}

/// The `deploy/` file with its placeholders filled in.
fn fill(template: &str, dir: &Path, port: u16, app_port: u16) -> String {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let filled = template
        .replace("{{PUBLIC_HOST}}", PUBLIC_HOST)
        .replace("{{LISTEN_PORT}}", &port.to_string())
        .replace("{{APP_PORT}}", &app_port.to_string())
        .replace("{{CERT_AND_KEY}}", &path("cert-and-key.pem"))
        .replace("{{CERT}}", &path("cert.pem"))
        .replace("{{KEY}}", &path("key.pem"));
    assert!(!filled.contains("{{"), "a placeholder is left:\n{filled}");
    filled
}

/// Starts `kind` with `config` (the filled `deploy/` file), as the current user: every file it
/// writes (pid, logs, temporary files, Caddy's storage) is in `dir`, its output in
/// `dir/output.log`.
fn spawn(kind: Kind, dir: &Path, config: &str) -> Child {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let mut command = Command::new(kind.binary());
    match kind {
        Kind::Nginx => {
            // The deploy file is a file of the http { } context (conf.d/): this main file
            // around it keeps nginx in the foreground, in one process (a master's workers
            // would outlive a killed master), and out of /var and /run.
            std::fs::write(dir.join("plivo.conf"), config).unwrap();
            let main = format!(
                "daemon off;\n\
                 master_process off;\n\
                 pid {pid};\n\
                 error_log stderr notice;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n\
                 \x20   access_log off;\n\
                 \x20   client_body_temp_path {dir}/client_body;\n\
                 \x20   proxy_temp_path {dir}/proxy;\n\
                 \x20   fastcgi_temp_path {dir}/fastcgi;\n\
                 \x20   uwsgi_temp_path {dir}/uwsgi;\n\
                 \x20   scgi_temp_path {dir}/scgi;\n\
                 \x20   include {site};\n\
                 }}\n",
                pid = path("nginx.pid"),
                dir = dir.to_str().unwrap(),
                site = path("plivo.conf"),
            );
            std::fs::write(dir.join("nginx.conf"), main).unwrap();
            // -e: the log nginx opens before it reads the configuration.
            command.args(["-p", &path(""), "-c", &path("nginx.conf"), "-e", "stderr"]);
        }
        Kind::Haproxy => {
            std::fs::write(dir.join("haproxy.cfg"), config).unwrap();
            // -db: in the foreground, not as a daemon.
            command.args(["-f", &path("haproxy.cfg"), "-db"]);
        }
        Kind::Caddy => {
            // Global options go first in a Caddyfile, before the deploy file's site: no admin
            // endpoint, no HTTP->HTTPS redirect listener on port 80 (the test gives the
            // certificate, so nothing is automatic), storage in the test's directory, and
            // no HTTP/3 (a UDP port besides the TCP one).
            let caddyfile = format!(
                "{{\n\
                 \tadmin off\n\
                 \tauto_https off\n\
                 \tstorage file_system {storage}\n\
                 \tservers {{\n\
                 \t\tprotocols h1 h2\n\
                 \t}}\n\
                 }}\n\n{config}",
                storage = path("storage"),
            );
            std::fs::write(dir.join("Caddyfile"), caddyfile).unwrap();
            command
                .args([
                    "run",
                    "--config",
                    &path("Caddyfile"),
                    "--adapter",
                    "caddyfile",
                ])
                .env("HOME", dir)
                .env("XDG_CONFIG_HOME", path("config"))
                .env("XDG_DATA_HOME", path("data"));
        }
    }
    let log = std::fs::File::create(dir.join("output.log")).unwrap();
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): install it (scripts/test-all does, with apt-get), set ${} to its path, or leave out the real-proxies feature",
                kind.binary(),
                kind.name().to_uppercase()
            )
        })
}

/// Waits until `port` accepts connections; `Err` if the proxy exited first (a port taken, say).
fn wait_until_listening(child: &mut Child, port: u16) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Plivo's `Host` (the public host, no port) and these headers.
pub fn https_headers<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![("host", PUBLIC_HOST)];
    headers.extend_from_slice(extra);
    headers
}

/// One HTTP/1.1 request on `stream` (any connection: TLS to a proxy, TCP to the app), with
/// exactly these headers, in order.
pub async fn send_over<S>(
    stream: S,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(request(method, target, headers, body))
        .await
        .unwrap();
    Reply::read(response).await
}

/// A TCP connection to `app` from `local` (another loopback address, `127.0.0.2`: a client that
/// is not the trusted proxy at `127.0.0.1`).
pub async fn connect_from(local: IpAddr, app: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    socket.connect(app).await.unwrap()
}

/// Opens a WebSocket with `request` on `stream`: the client's end on `101`, else the refusal
/// (its status and the layer's reason, as the proxy passed them on).
pub async fn open_stream_over<S>(
    stream: S,
    request: ClientRequest,
) -> Result<WebSocketStream<S>, Refused>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake_outcome(tokio_tungstenite::client_async(request, stream).await)
}
