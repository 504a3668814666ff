//! The `secrets` and `settings` tables. Values arrive and leave sealed:
//! this module never sees a plaintext.

use sqlx::FromRow;

use super::Pool;

/// A stored secret, sealed.
#[derive(Debug, Clone, FromRow)]
pub struct SecretRow {
    /// Name.
    pub name: String,
    /// Nonce and ciphertext.
    pub sealed: Vec<u8>,
    /// JSON array of host names.
    #[sqlx(rename = "allowedHosts")]
    pub allowed_hosts: String,
    /// Created, unix ms.
    #[sqlx(rename = "createdAt")]
    pub created_at: i64,
    /// Last set, unix ms.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: i64,
}

/// The settings key of the secret key's fingerprint.
pub const FINGERPRINT: &str = "secretKeyFingerprint";

/// A setting's value.
pub async fn setting(pool: &Pool, key: &str) -> sqlx::Result<Option<String>> {
    on_pool!(pool, |p| {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(p).await
    })
}

/// Stores `fingerprint` unless one is stored; returns the one that is.
pub async fn claim_fingerprint(pool: &Pool, fingerprint: &str) -> sqlx::Result<String> {
    on_pool!(pool, |p| {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(FINGERPRINT)
            .bind(fingerprint)
            .execute(p)
            .await?;
        Ok(setting(pool, FINGERPRINT).await?.unwrap_or_default())
    })
}

/// Inserts or replaces a secret, only while the stored fingerprint is still
/// `fingerprint` (a host left running with an old key after a rotation cannot
/// write a value no other host can open). Returns whether it was written.
pub async fn put(pool: &Pool, row: &SecretRow, fingerprint: &str) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query(
        "INSERT INTO secrets (name, sealed, \"allowedHosts\", \"createdAt\", \"updatedAt\") \
         SELECT $1, $2, $3, $4, $4 WHERE (SELECT value FROM settings WHERE key = $5) = $6 \
         ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, \"allowedHosts\" = excluded.\"allowedHosts\", \
         \"updatedAt\" = excluded.\"updatedAt\"",
    )
    .bind(&row.name)
    .bind(&row.sealed)
    .bind(&row.allowed_hosts)
    .bind(row.updated_at)
    .bind(FINGERPRINT)
    .bind(fingerprint)
    .execute(p)
    .await?;
        Ok(done.rows_affected() > 0)
    })
}

/// One secret.
pub async fn get(pool: &Pool, name: &str) -> sqlx::Result<Option<SecretRow>> {
    on_pool!(pool, |p| {
        sqlx::query_as("SELECT * FROM secrets WHERE name = $1").bind(name).fetch_optional(p).await
    })
}

/// Every secret, by name.
pub async fn list(pool: &Pool) -> sqlx::Result<Vec<SecretRow>> {
    on_pool!(pool, |p| { sqlx::query_as("SELECT * FROM secrets ORDER BY name").fetch_all(p).await })
}

/// Names of the stored secrets.
pub async fn names(pool: &Pool) -> sqlx::Result<Vec<String>> {
    on_pool!(pool, |p| { sqlx::query_scalar("SELECT name FROM secrets ORDER BY name").fetch_all(p).await })
}

/// Removes a secret; returns whether it existed.
pub async fn delete(pool: &Pool, name: &str) -> sqlx::Result<bool> {
    on_pool!(pool, |p| {
        let done = sqlx::query("DELETE FROM secrets WHERE name = $1").bind(name).execute(p).await?;
        Ok(done.rows_affected() > 0)
    })
}

/// Replaces every sealed value and the fingerprint in one transaction, if
/// the stored fingerprint is still `old`: a key rotation. The fingerprint is
/// moved first, so the transaction holds the write lock before it reads the
/// rows and no secret set meanwhile escapes the rotation. Returns how many
/// secrets were resealed, or `None` when the fingerprint was not `old`.
pub async fn reseal_all(
    pool: &Pool,
    old: &str,
    new: &str,
    mut reseal: impl FnMut(&SecretRow) -> Result<Vec<u8>, String>,
) -> anyhow::Result<Option<usize>> {
    let mut tx = pool.begin().await?;
    let count = on_tx!(&mut tx, |c| {
        let moved = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
            .bind(new)
            .bind(FINGERPRINT)
            .bind(old)
            .execute(&mut *c)
            .await?;
        if moved.rows_affected() == 0 {
            return Ok(None);
        }
        let rows: Vec<SecretRow> = sqlx::query_as("SELECT * FROM secrets").fetch_all(&mut *c).await?;
        for row in &rows {
            let sealed = reseal(row).map_err(|e| anyhow::anyhow!("secret `{}`: {e}", row.name))?;
            sqlx::query("UPDATE secrets SET sealed = $1 WHERE name = $2")
                .bind(sealed)
                .bind(&row.name)
                .execute(&mut *c)
                .await?;
        }
        rows.len()
    });
    tx.commit().await?;
    Ok(Some(count))
}
