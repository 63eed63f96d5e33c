//! API keys: issued once, stored only as a SHA-256 hash.
//!
//! The keys are 256 random bits, so a fast hash is enough: a slow password hash
//! (argon2, bcrypt) protects guessable secrets, and these are not guessable. A fast hash
//! also keeps key checks off the intake hot path's critical budget.

use crate::db::{self, Database, DbResult, api_keys::ApiKeyRow};
use crate::domain::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix that makes an Upkeep key recognisable in a leaked file or a secret scanner.
const KEY_PREFIX: &str = "upk_";

/// A key as the holder knows it. Printed once at creation, never stored or logged.
pub struct IssuedKey {
    pub id: i64,
    pub secret: String,
}

/// The identity behind a valid key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: i64,
    pub name: String,
    pub role: Role,
    /// The crew a crew key belongs to.
    pub crew_id: Option<i64>,
}

pub fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a key for `name` with `role` and returns its secret.
pub fn issue(db: &Database, name: &str, role: Role) -> DbResult<IssuedKey> {
    issue_for_crew(db, name, role, None)
}

/// Creates a key, bound to `crew_id` for a crew key, and returns its secret.
pub fn issue_for_crew(
    db: &Database,
    name: &str,
    role: Role,
    crew_id: Option<i64>,
) -> DbResult<IssuedKey> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret: String = std::iter::once(KEY_PREFIX.to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let row =
        db.write(|conn| db::api_keys::insert(conn, name, role, &hash_key(&secret), crew_id))?;
    Ok(IssuedKey { id: row.id, secret })
}

/// The caller a presented secret belongs to, or None for an unknown or revoked key.
pub fn authenticate(db: &Database, secret: &str) -> DbResult<Option<Caller>> {
    let Some(row) = db.read(|conn| db::api_keys::find_live_by_hash(conn, &hash_key(secret)))?
    else {
        return Ok(None);
    };
    Ok(Some(caller_from_row(row)))
}

fn caller_from_row(row: ApiKeyRow) -> Caller {
    Caller {
        key_id: row.id,
        name: row.name,
        role: row.role,
        crew_id: row.crew_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    #[test]
    fn an_issued_key_authenticates_until_it_is_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&DatabaseUrl::Sqlite(dir.path().join("k.db")), 1).unwrap();
        let key = issue(&db, "city app", Role::Client).unwrap();
        assert!(key.secret.starts_with("upk_"));
        let caller = authenticate(&db, &key.secret).unwrap().expect("valid");
        assert_eq!(caller.role, Role::Client);
        assert!(authenticate(&db, "upk_wrong").unwrap().is_none());
        let stored = db.read(db::api_keys::list).unwrap();
        assert!(stored.iter().all(|k| !k.key_hash.contains(&key.secret)));
        assert!(db.write(|conn| db::api_keys::revoke(conn, key.id)).unwrap());
        assert!(authenticate(&db, &key.secret).unwrap().is_none());
    }
}
