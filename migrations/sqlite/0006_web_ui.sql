-- The web UI: node positions kept with a workflow, browser sessions, and a
-- change feed of runs for the live views.

-- JSON the editor keeps with a workflow (node positions). Stored as given;
-- the engine never reads it.
ALTER TABLE workflows ADD COLUMN layout TEXT;

-- A browser session: a cookie given for a token at POST /api/session. Only
-- hashes are kept; a session ends at `expiresAt`, at sign-out, or when the
-- token it came from is no longer accepted.
CREATE TABLE sessions (
    hash      TEXT    PRIMARY KEY,  -- sha256 of the cookie value, hex
    tokenHash TEXT    NOT NULL,     -- sha256 of the token it was given for
    createdAt INTEGER NOT NULL,     -- unix ms
    expiresAt INTEGER NOT NULL      -- unix ms
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expiresAt);

-- The change feed (GET /api/workflow-runs/stream). Every write that moves a
-- run (created, claimed, a step recorded, cancelled, retried) gives it the
-- next number of `run_change_counter`, in the same transaction as the write,
-- so a client that resumes from the last number it saw misses nothing. One
-- row per run: the feed needs no pruning, and a deleted run leaves it.
CREATE TABLE run_change_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO run_change_counter (id, seq) VALUES (1, 0);

CREATE TABLE run_changes (
    runId TEXT    PRIMARY KEY,
    seq   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX run_changes_seq ON run_changes (seq);

CREATE TRIGGER workflow_runs_change_insert AFTER INSERT ON workflow_runs
BEGIN
    UPDATE run_change_counter SET seq = seq + 1 WHERE id = 1;
    INSERT INTO run_changes (runId, seq) VALUES (NEW.id, (SELECT seq FROM run_change_counter WHERE id = 1))
        ON CONFLICT (runId) DO UPDATE SET seq = excluded.seq;
END;

-- Lease renewals and hand-backs write only lease columns, so they are not
-- changes a viewer sees.
CREATE TRIGGER workflow_runs_change_update
AFTER UPDATE OF status, context, currentStep, position, error, wakeAt, finishedAt ON workflow_runs
BEGIN
    UPDATE run_change_counter SET seq = seq + 1 WHERE id = 1;
    INSERT INTO run_changes (runId, seq) VALUES (NEW.id, (SELECT seq FROM run_change_counter WHERE id = 1))
        ON CONFLICT (runId) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER workflow_runs_change_delete AFTER DELETE ON workflow_runs
BEGIN
    DELETE FROM run_changes WHERE runId = OLD.id;
END;

-- The dashboard's "last run" of each workflow.
CREATE INDEX workflow_runs_workflow_started ON workflow_runs (workflowId, startedAt);
