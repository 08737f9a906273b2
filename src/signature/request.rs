//! What a signature is checked against, besides its headers.

use super::url::SignedUrl;

/// The request a signature covers: the URL Plivo called and, for a POST, the body and its
/// `Content-Type`. Plivo signs only GET and POST requests: for a GET its parameters are in the
/// query; for a POST, in a form body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignedRequest<'a> {
    url: SignedUrl<'a>,
    post: Option<Post<'a>>,
}

/// A POST's body and `Content-Type`.
#[derive(Clone, Copy, Debug)]
struct Post<'a> {
    content_type: Option<&'a [u8]>,
    body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// A GET to `url` (its parameters are in the query).
    pub(crate) fn get(url: SignedUrl<'a>) -> Self {
        Self { url, post: None }
    }

    /// A POST to `url` with this body and `Content-Type` header (if any). Under V3 a body that
    /// is not empty must be `application/x-www-form-urlencoded`, the only body V3 signs.
    pub(crate) fn post(url: SignedUrl<'a>, content_type: Option<&'a [u8]>, body: &'a [u8]) -> Self {
        Self {
            url,
            post: Some(Post { content_type, body }),
        }
    }

    /// The URL Plivo called.
    pub(crate) fn url(&self) -> &SignedUrl<'a> {
        &self.url
    }

    /// The body V3 signs: a POST's form body, `None` for a GET or an empty POST, `Err` for a
    /// body V3 cannot cover (a non-form POST body), so that a captured signed URL cannot carry a
    /// body of anyone's choice.
    pub(crate) fn v3_form_body(&self) -> Result<Option<&'a [u8]>, ()> {
        match self.post {
            None => Ok(None),
            Some(Post { body: &[], .. }) => Ok(None),
            Some(Post { content_type, body }) if content_type.is_some_and(is_form_content_type) => {
                Ok(Some(body))
            }
            Some(_) => Err(()),
        }
    }
}

/// Whether a `Content-Type` value is `application/x-www-form-urlencoded` (any case, parameters
/// such as `charset` allowed).
pub(crate) fn is_form_content_type(value: &[u8]) -> bool {
    let essence = value
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_content_type_variants() {
        assert!(is_form_content_type(b"application/x-www-form-urlencoded"));
        assert!(is_form_content_type(
            b"Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        ));
        assert!(!is_form_content_type(b"application/json"));
        assert!(!is_form_content_type(b"multipart/form-data; boundary=x"));
    }

    #[test]
    fn the_body_v3_signs() {
        let url = SignedUrl::parse("https://h/a").unwrap();
        let form = Some(&b"application/x-www-form-urlencoded"[..]);
        assert_eq!(SignedRequest::get(url).v3_form_body(), Ok(None));
        assert_eq!(SignedRequest::post(url, form, b"").v3_form_body(), Ok(None));
        assert_eq!(SignedRequest::post(url, None, b"").v3_form_body(), Ok(None));
        assert_eq!(
            SignedRequest::post(url, form, b"a=1").v3_form_body(),
            Ok(Some(&b"a=1"[..]))
        );
        assert_eq!(
            SignedRequest::post(url, None, b"a=1").v3_form_body(),
            Err(())
        );
        let json = Some(&b"application/json"[..]);
        assert_eq!(
            SignedRequest::post(url, json, b"{}").v3_form_body(),
            Err(())
        );
    }
}
