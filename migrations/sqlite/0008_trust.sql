-- Trust boundaries: secrets sealed under a key kept outside the database,
-- per-workflow inbound webhook URLs, and an audit log.

-- A secret's value is sealed with XChaCha20-Poly1305: `sealed` is the 24-byte
-- nonce followed by the ciphertext and tag, with the name as associated data
-- (a row copied under another name does not open). Values are never read
-- back through the API.
CREATE TABLE secrets (
    name         TEXT    PRIMARY KEY,
    sealed       BLOB    NOT NULL,
    allowedHosts TEXT    NOT NULL DEFAULT '[]',  -- JSON array of host names
    createdAt    INTEGER NOT NULL,               -- unix ms
    updatedAt    INTEGER NOT NULL                -- unix ms
) WITHOUT ROWID;

-- Host-wide settings kept in the database. `secretKeyFingerprint` names the
-- key secrets are sealed under: a host started with another key refuses to
-- start.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The unguessable id of a workflow's inbound webhook URL, `/hooks/<hookId>`.
-- Made when a workflow with a webhook trigger is saved; kept across edits.
CREATE TABLE workflow_hooks (
    workflowId TEXT PRIMARY KEY REFERENCES workflows (id) ON DELETE CASCADE,
    hookId     TEXT NOT NULL UNIQUE
) WITHOUT ROWID;

-- Who did what: token or session name and role, the action, its target.
-- Append-only; pruned by age.
CREATE TABLE audit_log (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,  -- unix ms
    actor  TEXT    NOT NULL,  -- the token's name
    role   TEXT    NOT NULL,  -- the token's role
    action TEXT    NOT NULL,  -- e.g. `secret.set`, `workflow.activated`
    target TEXT    NOT NULL,  -- what it acted on: an id or a name
    detail TEXT               -- JSON, never a secret value
);
CREATE INDEX audit_log_at ON audit_log (at);
