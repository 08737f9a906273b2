//! Stage 2b, tenant: whose tokens verify the request. With a static list, the layer's own;
//! with [tenants](crate::tenants), those of the tenant the request's URL names, from the cache
//! or (on a miss) from the store, before the body is read; or, when the tenant is chosen from a
//! signed parameter, once the body is read.

use super::head::{Head, SignedMethod, TenantState};
use super::respond::Refusal;
use super::settings::{Settings, Tokens};
use super::upgrade::RequestKind;
use crate::rejection::Rejection;
use crate::request_info::RequestHead;
use crate::signature::{SignatureVersion, values_of};
use crate::tenants::{PendingLookup, Resolved, TenantCache};

/// The log line's explanation of a V2 request on a route whose tenant a signed parameter names.
const V2_PARAMETER: &str = "a V2 signature on a route whose tenant is chosen from a signed \
     parameter: V2 signs neither the body nor the query, so the parameter is not signed";

/// Where a request's tokens stand once its head is checked.
pub(crate) enum Resolution {
    /// Known now (the static list, or a cache hit: in the head), or refused.
    Ready(Result<(), Refusal>),
    /// The store is being asked.
    Pending(Pending),
}

/// A lookup a request waits for.
pub(crate) struct Pending {
    pub(crate) tenant: Box<str>,
    pub(crate) lookup: PendingLookup,
}

/// Resolves the tokens of the request whose checked head is `head` (a hit puts the tenant in
/// it). The head is borrowed, not moved: on the static path this stage costs one branch.
pub(crate) fn resolve(
    settings: &Settings,
    head: &mut Head,
    request: &RequestHead<'_>,
) -> Resolution {
    let Tokens::Tenants(cache) = &settings.tokens else {
        return Resolution::Ready(Ok(()));
    };
    // A webhook's tenant named by a signed parameter is chosen once the body is read.
    if cache.signed_parameter().is_some() && head.kind == RequestKind::Webhook {
        if head.version == SignatureVersion::V2 {
            let refusal = Refusal::explained(Rejection::SignatureVersionNotAccepted, V2_PARAMETER);
            return Resolution::Ready(Err(refusal));
        }
        head.choose_tenant_after_body();
        return Resolution::Ready(Ok(()));
    }
    let looked_up = {
        let target = head.tenant_request(request);
        match cache.tenant_of(&target) {
            Some(name) if name.len() <= TenantCache::MAX_TENANT_NAME_LEN => {
                match cache.cached(&name) {
                    Some(resolved) => Ok(state_of(resolved, &name)),
                    None => Err(name.into_owned().into_boxed_str()),
                }
            }
            _ => Ok(Ok(TenantState::Unknown(unknown(None)))),
        }
    };
    match looked_up {
        Ok(settled) => Resolution::Ready(settled.map(|state| head.tenant = state)),
        Err(tenant) => Resolution::Pending(Pending {
            lookup: cache.lookup(&tenant),
            tenant,
        }),
    }
}

/// Chooses the tenant of a request whose head left it to the body: the one value of the signed
/// parameter (the query of a GET, the form body of a POST), from the cache or (on a miss) the
/// store. A parameter missing, repeated, empty, not UTF-8 or too long names no tenant: the
/// request is refused once verified, as an unknown tenant is.
pub(crate) fn after_body(
    settings: &Settings,
    head: &mut Head,
    request: &RequestHead<'_>,
    body: &[u8],
) -> Resolution {
    let Tokens::Tenants(cache) = &settings.tokens else {
        return Resolution::Ready(Ok(()));
    };
    let Some(parameter) = cache.signed_parameter() else {
        return Resolution::Ready(Ok(()));
    };
    let signed = match head.method {
        SignedMethod::Get => request
            .original_uri()
            .query()
            .unwrap_or_default()
            .as_bytes(),
        SignedMethod::Post => body,
    };
    let values = values_of(signed, parameter.as_bytes());
    let tenant = match values.as_slice() {
        [one] => std::str::from_utf8(one)
            .ok()
            .filter(|name| !name.is_empty() && name.len() <= TenantCache::MAX_TENANT_NAME_LEN),
        _ => None,
    };
    let Some(tenant) = tenant else {
        let why = format!(
            "the signed parameter {parameter:?} appears {} times (once is needed), or its value \
             is empty, not UTF-8 or longer than {} bytes",
            values.len(),
            TenantCache::MAX_TENANT_NAME_LEN
        );
        head.tenant = TenantState::Unknown(why);
        return Resolution::Ready(Ok(()));
    };
    match cache.cached(tenant) {
        Some(resolved) => {
            Resolution::Ready(state_of(resolved, tenant).map(|state| head.tenant = state))
        }
        None => Resolution::Pending(Pending {
            lookup: cache.lookup(tenant),
            tenant: tenant.into(),
        }),
    }
}

/// Puts the tenant a lookup found in the head, or refuses.
pub(crate) fn after_lookup(
    head: &mut Head,
    pending: &Pending,
    resolved: Resolved,
) -> Result<(), Refusal> {
    head.tenant = state_of(resolved, &pending.tenant)?;
    Ok(())
}

/// What the cache's or the store's answer means for the request: whose tokens verify it, or a
/// refusal now (store unavailable: 503, so Plivo retries; never fail-open). An unknown tenant
/// is not refused yet: its body is read and the verify stage refuses it, as it refuses a
/// forgery, so that a sender cannot tell a known tenant from an unknown one (by a body over
/// the limit, a slow body, or the time taken).
pub(crate) fn state_of(resolved: Resolved, tenant: &str) -> Result<TenantState, Refusal> {
    match resolved {
        Resolved::Known(known) => Ok(TenantState::Known(known)),
        Resolved::Unknown => Ok(TenantState::Unknown(unknown(Some(tenant)))),
        Resolved::Unavailable(error) => Err(Refusal::explained(
            Rejection::TenantStoreUnavailable,
            format!("tenant {tenant:?}: {error}"),
        )),
    }
}

/// Why a tenant is unknown, for the log line.
fn unknown(tenant: Option<&str>) -> String {
    match tenant {
        Some(tenant) => format!("no tenant {tenant:?} in the token store"),
        None => format!(
            "the request names no tenant (by the token source's rule), or one longer than \
             {} bytes",
            TenantCache::MAX_TENANT_NAME_LEN
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::replay::StoreError;
    use crate::signature::{AuthTokens, Verifier};
    use crate::tenants::Tenant;

    fn tenant() -> Arc<Tenant> {
        Arc::new(Tenant {
            name: "acme".into(),
            verifier: Verifier::new(AuthTokens::new(["t"], None::<&str>).unwrap()),
        })
    }

    #[test]
    fn a_known_tenant_is_its_own() {
        let known = tenant();
        let settled = state_of(Resolved::Known(known.clone()), "acme").unwrap();
        assert!(Arc::ptr_eq(settled.known_ref().unwrap(), &known));
    }

    #[test]
    fn unknown_is_403_and_names_the_tenant_in_the_log_only() {
        let TenantState::Unknown(why) = state_of(Resolved::Unknown, "acme").unwrap() else {
            panic!("an unknown tenant is refused by the verify stage, after its body");
        };
        assert_eq!(
            Rejection::UnknownTenant.status(),
            http::StatusCode::FORBIDDEN
        );
        assert!(why.contains("\"acme\""));
    }

    #[test]
    fn a_store_error_is_503_never_a_pass() {
        let error = Arc::new(StoreError::new("database is locked"));
        let refusal = state_of(Resolved::Unavailable(error), "acme").unwrap_err();
        assert_eq!(refusal.rejection, Rejection::TenantStoreUnavailable);
        assert_eq!(
            refusal.rejection.status(),
            http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(refusal.detail.unwrap().contains("database is locked"));
    }
}
