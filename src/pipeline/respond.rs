//! Stage 6, respond: what a refused request gets. Every response the layer itself writes is
//! rendered here, and the enforce-or-report decision is made here, once.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use super::settings::Settings;
use crate::rejection::Rejection;

/// A refusal, and what its log line adds to the reason.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) rejection: Rejection,
    /// Why, when the reason alone does not say (how to enable V2, which client was refused).
    pub(crate) detail: Option<String>,
}

impl Refusal {
    /// A refusal whose log line says why.
    pub(crate) fn explained(rejection: Rejection, detail: impl Into<String>) -> Self {
        Self {
            rejection,
            detail: Some(detail.into()),
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            detail: None,
        }
    }
}

/// What becomes of a refused request.
pub(crate) enum Disposition {
    /// It gets this response.
    Answer(Response<Full<Bytes>>),
    /// Report-only mode: it goes on to the inner service, with the rejection in its extensions.
    HandOn,
}

/// Whether a rejection is answered or only reported: in report-only mode, only the body
/// limit, the body timeout and a broken body are enforced (they protect the server, and a body
/// not read whole cannot be handed on).
pub(crate) fn enforces(report_only: bool, rejection: Rejection) -> bool {
    !report_only
        || matches!(
            rejection,
            Rejection::BodyTooLarge | Rejection::BodyReadFailed | Rejection::BodyTimeout
        )
}

/// The disposition of a refused request whose head is `request_headers`.
pub(crate) fn dispose(
    settings: &Settings,
    rejection: Rejection,
    request_headers: &HeaderMap,
) -> Disposition {
    if !enforces(settings.report_only, rejection) {
        return Disposition::HandOn;
    }
    Disposition::Answer(render(settings, rejection, request_headers))
}

/// The rejection response: the configured responder's, else a gRPC status for gRPC requests (a
/// plain HTTP error confuses gRPC clients), else the default. The rejection is put in the
/// response's extensions whatever the responder returns.
pub(crate) fn render(
    settings: &Settings,
    rejection: Rejection,
    request_headers: &HeaderMap,
) -> Response<Full<Bytes>> {
    let grpc = request_headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"));
    let mut response = match &settings.responder {
        Some(responder) => responder(rejection),
        None if grpc => rejection.grpc_response(),
        None => rejection.default_response(),
    };
    response.extensions_mut().insert(rejection);
    response
}

impl Rejection {
    /// The default response: the status, `text/plain`, a body that depends on the status
    /// alone (`forbidden`, `payload too large`, `bad request`, `request timeout` or
    /// `service unavailable`, and a newline), and the rejection itself in the extensions.
    ///
    /// Every 403 looks the same on the wire, whatever the reason: a forger trying variants of
    /// a captured request cannot tell "the signature did not match" from "it matched but was a
    /// replay". The reason is in the log, the metrics and the extension.
    ///
    /// ```
    /// use http_body_util::BodyExt;
    /// use tower_plivo::Rejection;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let replayed = Rejection::Replayed.default_response();
    /// assert_eq!(replayed.status(), 403);
    /// assert_eq!(replayed.extensions().get::<Rejection>(), Some(&Rejection::Replayed));
    /// let mismatch = Rejection::SignatureMismatch.default_response();
    /// let body = |response: http::Response<http_body_util::Full<bytes::Bytes>>| async {
    ///     response.into_body().collect().await.unwrap().to_bytes()
    /// };
    /// assert_eq!(body(replayed).await, "forbidden\n");
    /// assert_eq!(body(mismatch).await, "forbidden\n");
    /// # });
    /// ```
    pub fn default_response(self) -> Response<Full<Bytes>> {
        let status = self.status();
        let body = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload too large\n",
            StatusCode::BAD_REQUEST => "bad request\n",
            StatusCode::SERVICE_UNAVAILABLE => "service unavailable\n",
            StatusCode::REQUEST_TIMEOUT => "request timeout\n",
            _ => "forbidden\n",
        };
        let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response.extensions_mut().insert(self);
        response
    }

    /// The response for a gRPC request: HTTP 200 with a `grpc-status` (`PERMISSION_DENIED`,
    /// or `RESOURCE_EXHAUSTED`, `INVALID_ARGUMENT`, `DEADLINE_EXCEEDED`, `UNAVAILABLE` for the
    /// body and store failures) and a `grpc-message` that depends on the status alone (as the
    /// default body does), so gRPC clients see a status instead of a protocol error. Used when
    /// the layer guards a path that receives gRPC.
    ///
    /// ```
    /// let response = tower_plivo::Rejection::Replayed.grpc_response();
    /// assert_eq!(response.status(), 200);
    /// assert_eq!(response.headers()["grpc-status"], "7");
    /// assert_eq!(response.headers()["grpc-message"], "permission denied");
    /// ```
    pub fn grpc_response(self) -> Response<Full<Bytes>> {
        let (status, message) = match self {
            Rejection::BodyTooLarge => ("8", "resource exhausted"),
            Rejection::BodyReadFailed => ("3", "invalid argument"),
            Rejection::BodyTimeout => ("4", "deadline exceeded"),
            Rejection::ReplayStoreUnavailable => ("14", "unavailable"),
            _ => ("7", "permission denied"),
        };
        let mut response = Response::new(Full::new(Bytes::new()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from_static(status));
        headers.insert("grpc-message", HeaderValue::from_static(message));
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_only_enforces_only_what_protects_the_server() {
        for rejection in [
            Rejection::BodyTooLarge,
            Rejection::BodyReadFailed,
            Rejection::BodyTimeout,
        ] {
            assert!(enforces(true, rejection), "{rejection}");
        }
        for rejection in [
            Rejection::SignatureMismatch,
            Rejection::Replayed,
            Rejection::ReplayStoreUnavailable,
            Rejection::SourceNotAllowed,
        ] {
            assert!(!enforces(true, rejection), "{rejection}");
            assert!(enforces(false, rejection), "{rejection}");
        }
    }
}
