//! An actix-web server that verifies Plivo's webhooks with the core alone ([`PlivoGuard`]): no
//! tower, the same policy as the layer (replay protection on and V3 only by default, the URL
//! policy, the doctor). actix-web 4 has its own `http` types, so the glue converts the head; it
//! is the function `plivo` between the two markers below, and `tests/it/actix.rs` runs it over
//! TCP (and counts its lines: at most 15).
//!
//! ```text
//! PLIVO_AUTH_TOKEN=... PLIVO_PUBLIC_URL=https://hooks.example.com cargo run --example actix
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `PLIVO_AUTH_TOKEN` | the account's auth token (required) |
//! | `PLIVO_PUBLIC_URL` | `scheme://host[:port]` Plivo calls, with the path prefix a proxy strips if any (required) |
//! | `BIND` | the listen address (default `127.0.0.1:3000`) |
//!
//! `POST /answer` answers Plivo's call with a `<Speak>`; every other path and any refusal gets
//! the refusal's status (403, or 413 for a body over the limit, 503 when a store is down).

use actix_web::http::StatusCode;
use actix_web::web::{self, Payload};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use tower_plivo::guard::{Accepted, Refused};
use tower_plivo::{PlivoGuard, RequestHead, UrlPolicy};

// glue: begin
/// Plivo's request verified, or the status to answer.
pub async fn plivo(req: &HttpRequest, body: Payload, guard: &PlivoGuard) -> Result<Accepted, u16> {
    let mut head = http::Request::get(req.uri().to_string()).method(req.method().as_str());
    for (name, value) in req.headers() {
        head = head.header(name.as_str(), value.as_bytes());
    }
    let head = head.body(()).map_err(|_| 400u16)?;
    let request = RequestHead::from(&head).with_peer(req.peer_addr());
    let status = |refused: Refused| refused.into_response().status().as_u16();
    let checked = guard.check_head(request).await.map_err(status)?;
    let body = body.to_bytes_limited(checked.body_limit()).await;
    let body = body.map_err(|_| 413u16)?.map_err(|_| 400u16)?;
    let accepted = guard.check_body(checked, request, body).await;
    accepted.map_err(status)
}
// glue: end

/// The application's handler: Plivo's request verified (the answer names the version and
/// nonce that verified), or the refusal's status.
pub async fn answer(req: HttpRequest, body: Payload, guard: web::Data<PlivoGuard>) -> HttpResponse {
    match plivo(&req, body, &guard).await {
        Ok(accepted) => {
            // The status the handler answers with: a 5xx would release the replay key, so
            // Plivo's retry is accepted.
            let verified = accepted.finish(http::StatusCode::OK);
            let (version, nonce) = (verified.version().as_str(), verified.nonce());
            HttpResponse::Ok()
                .content_type("application/xml")
                .body(format!(
                    "<Response><Speak>verified {version} {nonce}</Speak></Response>"
                ))
        }
        Err(status) => {
            HttpResponse::new(StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN))
        }
    }
}

/// The guard from the environment.
fn guard_from_env() -> Result<PlivoGuard, String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let guard = PlivoGuard::builder()
        .auth_token(var("PLIVO_AUTH_TOKEN")?)
        .url_policy(UrlPolicy::public_base(&var("PLIVO_PUBLIC_URL")?).map_err(|e| e.to_string())?)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(guard)
}

#[allow(dead_code)] // `tests/it/actix.rs` uses the handler, not `main`
fn main() -> std::io::Result<()> {
    let guard = match guard_from_env() {
        Ok(guard) => web::Data::new(guard),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(2);
        }
    };
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    println!("listening on http://{bind}");
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(guard.clone())
                .route("/answer", web::post().to(answer))
        })
        .bind(bind)?
        .run(),
    )
}
