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

-- The change feed (GET /api/workflow-runs/stream): every write that moves a
-- run (created, claimed, a step recorded, cancelled, retried) appends the
-- run's id here in the same transaction, numbered by the rowid, so a client
-- that resumes from the last number it saw misses nothing. An append is one
-- write at the end of one B-tree, so the feed costs little on the hot path;
-- the engine prunes it to the newest 100,000 every 10 s. Lease renewals and hand-backs
-- write only lease columns: they are not changes a viewer sees.
CREATE TABLE run_changes (
    seq   INTEGER PRIMARY KEY,
    runId TEXT    NOT NULL
);

CREATE TRIGGER workflow_runs_change_insert AFTER INSERT ON workflow_runs
BEGIN
    INSERT INTO run_changes (runId) VALUES (NEW.id);
END;

CREATE TRIGGER workflow_runs_change_update
AFTER UPDATE OF status, context, currentStep, position, error, wakeAt, finishedAt ON workflow_runs
BEGIN
    INSERT INTO run_changes (runId) VALUES (NEW.id);
END;

-- The dashboard's "last run" of each workflow.
CREATE INDEX workflow_runs_workflow_started ON workflow_runs (workflowId, startedAt);
