//! A real SQLite file of tenants, in the `multi_tenant` example's schema, for the tests that
//! drive it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// `tenants(name, auth_tokens, main_auth_tokens)` in a fresh file under the system temp
/// directory, removed on drop.
pub struct TenantsDb {
    path: PathBuf,
}

impl TenantsDb {
    pub fn new() -> TenantsDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tower-plivo-tenants-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE tenants (name TEXT PRIMARY KEY, auth_tokens TEXT NOT NULL, \
                 main_auth_tokens TEXT)",
            )
            .unwrap();
        TenantsDb { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Adds or replaces the row of `name`.
    pub fn put(&self, name: &str, auth_tokens: &str, main_auth_tokens: Option<&str>) {
        Connection::open(&self.path)
            .unwrap()
            .execute(
                "INSERT OR REPLACE INTO tenants (name, auth_tokens, main_auth_tokens) VALUES (?1, ?2, ?3)",
                (name, auth_tokens, main_auth_tokens),
            )
            .unwrap();
    }

    /// Moves the file away (the store cannot answer) until [`restore`](Self::restore).
    pub fn take_away(&self) {
        std::fs::rename(&self.path, self.away()).unwrap();
    }

    pub fn restore(&self) {
        std::fs::rename(self.away(), &self.path).unwrap();
    }

    fn away(&self) -> PathBuf {
        self.path.with_extension("away")
    }
}

impl Drop for TenantsDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(self.away());
    }
}
