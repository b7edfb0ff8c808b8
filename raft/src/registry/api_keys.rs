//! API keys: hashing, storage and the key commands' checks.
//!
//! A key is stored by hash only. Revoking keeps the row (with its
//! revocation time) so a revoked key can be told apart from an unknown one;
//! names are unique among a tenant's live keys. The registry never holds
//! fewer than one live admin key once it has had one: the write that would
//! take the last one away is refused.

use rusqlite::{Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};

use super::error::RegistryError;
use super::model::{ApiKey, KeyUse, Principal, Role};
use super::names::validate_key_name;
use super::store::{from_db, to_db};

/// Lowercase hex sha256 of an API key.
///
/// Keys are 256-bit random secrets, so a fast unsalted hash is the right tool:
/// there is nothing to brute-force, and lookups by hash stay a single index probe.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `s` looks like a [`hash_api_key`] output: 64 lowercase hex chars.
pub(crate) fn is_key_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A key to store, once its tenant is known to exist (or is created with it).
pub(crate) struct NewKey<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    /// `None`: named after its id (commands of earlier versions).
    pub name: Option<&'a str>,
    pub hash: &'a str,
    pub role: Role,
    pub at_ms: u64,
}

impl NewKey<'_> {
    fn name(&self) -> &str {
        self.name.unwrap_or(self.id)
    }
}

/// Checks that `key` could be stored (nothing written). Order of checks:
/// hash shape, name rule (a given name only), id or hash taken, name taken.
/// The caller has checked (or is creating) the tenant.
pub(crate) fn check_new(conn: &Connection, key: &NewKey<'_>) -> Result<(), RegistryError> {
    if !is_key_hash(key.hash) {
        return Err(RegistryError::ApiKeyHashInvalid {
            key_id: key.id.to_owned(),
        });
    }
    if let Some(name) = key.name {
        validate_key_name(name)?;
    }
    let taken: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1 OR key_hash = ?2)")?
        .query_row([key.id, key.hash], |r| r.get(0))?;
    if taken {
        return Err(RegistryError::ApiKeyExists {
            key_id: key.id.to_owned(),
        });
    }
    if by_name(conn, key.tenant_id, key.name())?.is_some() {
        return Err(RegistryError::ApiKeyNameTaken {
            tenant_id: key.tenant_id.to_owned(),
            name: key.name().to_owned(),
        });
    }
    Ok(())
}

/// Inserts a key checked by [`check_new`].
pub(crate) fn insert(conn: &Connection, key: &NewKey<'_>) -> Result<(), RegistryError> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, key_hash, role, created_at_ms, name) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        key.id,
        key.tenant_id,
        key.hash,
        key.role.as_str(),
        to_db(key.at_ms),
        key.name(),
    ))?;
    Ok(())
}

/// Revokes a live key at `at_ms`. Order of checks: live key exists, not
/// the last live admin key.
pub(crate) fn revoke(conn: &Connection, key_id: &str, at_ms: u64) -> Result<(), RegistryError> {
    let key = by_id(conn, key_id)?
        .filter(|k| k.revoked_at_ms.is_none())
        .ok_or_else(|| RegistryError::ApiKeyNotFound {
            key_id: key_id.to_owned(),
        })?;
    if key.role == Role::Admin && live_admins(conn, None)? <= 1 {
        return Err(RegistryError::ApiKeyLastAdmin { key_id: key.id });
    }
    conn.prepare_cached("UPDATE api_keys SET revoked_at_ms = ?2 WHERE id = ?1")?
        .execute((key_id, to_db(at_ms)))?;
    Ok(())
}

/// Moves each reported key's last-use time forward (never back); unknown
/// keys are skipped. Returns how many keys changed.
pub(crate) fn touch(conn: &Connection, uses: &[KeyUse]) -> Result<u64, RegistryError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE api_keys SET last_used_at_ms = ?2 WHERE id = ?1 \
         AND (last_used_at_ms IS NULL OR last_used_at_ms < ?2)",
    )?;
    let mut updated = 0u64;
    for u in uses {
        // A u64 time above i64::MAX would compare as negative; clamp it.
        let at = i64::try_from(u.at_ms).unwrap_or(i64::MAX);
        updated += stmt.execute((&u.key_id, at))? as u64;
    }
    Ok(updated)
}

/// Live admin keys, of every tenant or of every tenant but `except`.
pub(crate) fn live_admins(conn: &Connection, except: Option<&str>) -> Result<u64, RegistryError> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at_ms IS NULL \
         AND tenant_id IS NOT ?1",
        )?
        .query_row([except], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Deletes every key (live or revoked) of a tenant; returns how many.
pub(crate) fn delete_tenant_keys(conn: &Connection, tenant_id: &str) -> Result<u64, RegistryError> {
    let n = conn
        .prepare_cached("DELETE FROM api_keys WHERE tenant_id = ?1")?
        .execute([tenant_id])?;
    Ok(n as u64)
}

const COLS: &str = "id, tenant_id, name, role, created_at_ms, last_used_at_ms, revoked_at_ms";

/// A key row, its role still as text (decoded by [`decode`]).
fn row(r: &Row<'_>) -> rusqlite::Result<(ApiKey, String)> {
    let key = ApiKey {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        role: Role::Tenant,
        created_at_ms: from_db(r.get(4)?),
        last_used_at_ms: r.get::<_, Option<i64>>(5)?.map(from_db),
        revoked_at_ms: r.get::<_, Option<i64>>(6)?.map(from_db),
    };
    Ok((key, r.get(3)?))
}

fn decode((key, role): (ApiKey, String)) -> Result<ApiKey, RegistryError> {
    let role = role
        .parse()
        .map_err(|e| RegistryError::Codec(format!("api key {}: stored role: {e}", key.id)))?;
    Ok(ApiKey { role, ..key })
}

fn one(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Option<ApiKey>, RegistryError> {
    let sql = format!("SELECT {COLS} FROM api_keys WHERE {filter}");
    conn.prepare_cached(&sql)?
        .query_row(params, row)
        .optional()?
        .map(decode)
        .transpose()
}

/// One key by id, live or revoked.
pub(crate) fn by_id(conn: &Connection, key_id: &str) -> Result<Option<ApiKey>, RegistryError> {
    one(conn, "id = ?1", [key_id])
}

/// One key by the hash of its secret, live or revoked.
pub(crate) fn by_hash(conn: &Connection, key_hash: &str) -> Result<Option<ApiKey>, RegistryError> {
    one(conn, "key_hash = ?1", [key_hash])
}

/// The tenant's live key with this name.
pub(crate) fn by_name(
    conn: &Connection,
    tenant_id: &str,
    name: &str,
) -> Result<Option<ApiKey>, RegistryError> {
    one(
        conn,
        "tenant_id = ?1 AND name = ?2 AND revoked_at_ms IS NULL",
        [tenant_id, name],
    )
}

/// Live keys of one tenant or of all, by creation time then id.
pub(crate) fn list(
    conn: &Connection,
    tenant_id: Option<&str>,
) -> Result<Vec<ApiKey>, RegistryError> {
    let sql = format!(
        "SELECT {COLS} FROM api_keys WHERE revoked_at_ms IS NULL \
         AND (?1 IS NULL OR tenant_id = ?1) ORDER BY created_at_ms, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([tenant_id], row)?;
    rows.map(|r| r.map_err(RegistryError::from).and_then(decode))
        .collect()
}

/// The principal a live key authenticates as.
pub(crate) fn principal_for_hash(
    conn: &Connection,
    key_hash: &str,
) -> Result<Option<Principal>, RegistryError> {
    Ok(by_hash(conn, key_hash)?
        .filter(|k| k.revoked_at_ms.is_none())
        .map(|k| k.principal()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_sha256_test_vector() {
        assert_eq!(
            hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_key_hash(&hash_api_key("")));
    }

    #[test]
    fn key_hash_shape_is_checked() {
        let good = hash_api_key("k");
        assert!(is_key_hash(&good));
        assert!(!is_key_hash(&good.to_uppercase()));
        assert!(!is_key_hash(&good[1..]));
        assert!(!is_key_hash(&format!("{good}0")));
        assert!(!is_key_hash(&"g".repeat(64)));
        assert!(!is_key_hash("nx_plaintext_key"));
    }
}
