//! The example's token source: tenants and their tokens in an SQLite file,
//! `tenants(name TEXT PRIMARY KEY, auth_tokens TEXT NOT NULL, main_auth_tokens TEXT)`, each
//! tokens column a comma-separated list.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tower_plivo::signature::AuthTokens;
use tower_plivo::tenants::{StoreError, StoreFuture, TenantRequest, TokenSource};

/// Tenants by the first path segment (`/acme/answer` is `acme`'s), tokens from the database.
pub struct SqliteTenants {
    pub path: PathBuf,
}

impl TokenSource for SqliteTenants {
    // The path is in the signed URL: a request signed for one tenant cannot be sent as another's.
    fn tenant<'a>(&self, request: &TenantRequest<'a>) -> Option<Cow<'a, str>> {
        request.path_segment(0).map(Cow::Borrowed)
    }

    fn tokens(&self, tenant: &str) -> StoreFuture<Option<AuthTokens>> {
        // One line per lookup: the cache makes it one per tenant per cache time.
        tracing::info!(tenant, "looking tenant up in the database");
        let path = self.path.clone();
        let tenant = tenant.to_owned();
        // rusqlite blocks: off the async workers.
        StoreFuture::pending(async move {
            tokio::task::spawn_blocking(move || read_tokens(&path, &tenant))
                .await
                .map_err(StoreError::new)?
        })
    }
}

/// The row of `tenant`, as tokens: `None` if there is none.
fn read_tokens(path: &PathBuf, tenant: &str) -> Result<Option<AuthTokens>, StoreError> {
    // Opened per lookup (a lookup happens once per tenant per TTL): a file replaced or restored
    // is seen at once, and a missing one is an error rather than a new empty database.
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::new)?;
    let row: Option<(String, Option<String>)> = db
        .query_row(
            "SELECT auth_tokens, main_auth_tokens FROM tenants WHERE name = ?1",
            [tenant],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(StoreError::new)?;
    let Some((account, main)) = row else {
        return Ok(None);
    };
    let account: Vec<&str> = items(&account).collect();
    if account.is_empty() {
        // The request gets 503 and this reason is logged at ERROR: a misconfigured row is for
        // the operator to fix, not a tenant that does not exist.
        return Err(StoreError::new(format!(
            "the row of tenant {tenant:?} has no usable auth token"
        )));
    }
    let main: Vec<&str> = main.as_deref().map(items).into_iter().flatten().collect();
    AuthTokens::new(account, main)
        .map(Some)
        .map_err(StoreError::new)
}

/// The items of a comma-separated list, trimmed, empty ones left out.
fn items(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Creates the database at `path`, replacing any file there, with one tenant whose only token is
/// `token`: what the example serves when no database of the user's is given.
pub fn create_demo(path: &Path, tenant: &str, token: &str) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(path);
    let db = Connection::open(path)?;
    db.execute_batch(
        "CREATE TABLE tenants (name TEXT PRIMARY KEY, auth_tokens TEXT NOT NULL, \
         main_auth_tokens TEXT)",
    )?;
    db.execute(
        "INSERT INTO tenants (name, auth_tokens) VALUES (?1, ?2)",
        [tenant, token],
    )?;
    Ok(())
}
