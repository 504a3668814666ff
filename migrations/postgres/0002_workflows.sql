-- Workflows, runs and run logs. The seed's tables and columns keep their names
-- (camelCase, as in the original schema); the engine's columns sit beside them.
-- Times are unix milliseconds.
--
-- JSON is kept as text: the host writes and returns it verbatim and never
-- queries inside it (so TEXT, not jsonb, which would reorder keys and drop
-- duplicates).

-- status: DRAFT | ACTIVE | PAUSED | ARCHIVED
CREATE TABLE workflows (
    id              TEXT   PRIMARY KEY NOT NULL,
    name            TEXT   NOT NULL,
    description     TEXT,
    "trigger"       TEXT   NOT NULL,          -- JSON { type, config }
    steps           TEXT   NOT NULL,          -- JSON list of steps
    status          TEXT   NOT NULL DEFAULT 'DRAFT',
    "createdAt"     BIGINT NOT NULL,
    "updatedAt"     BIGINT NOT NULL,
    -- engine
    version         BIGINT NOT NULL DEFAULT 1, -- bumped by every edit
    "eventType"     TEXT,                      -- trigger.config.event of event triggers
    "resolvedTypes" TEXT,                      -- JSON { stepType: "name@version" } fixed at activation
    "cronNextAt"    BIGINT                     -- next cron fire of an ACTIVE cron workflow
);
CREATE INDEX workflows_event ON workflows ("eventType", status);
CREATE INDEX workflows_cron ON workflows ("cronNextAt") WHERE "cronNextAt" IS NOT NULL;

-- status:
--   PENDING    created, no step attempted yet
--   RUNNING    a step is being attempted, or is next
--   WAITING    sleeping until wakeAt (a `wait` step, or a retry backoff)
--   COMPLETED  reached the end
--   FAILED     a step failed for good with no onError; can be retried
--   CANCELLED  cancelled through the API
CREATE TABLE workflow_runs (
    id            TEXT   PRIMARY KEY NOT NULL,
    "workflowId"  TEXT   NOT NULL REFERENCES workflows (id),
    status        TEXT   NOT NULL,
    context       TEXT   NOT NULL,            -- JSON { event, steps, vars }
    "currentStep" TEXT,
    "startedAt"   BIGINT NOT NULL,
    "finishedAt"  BIGINT,
    error         TEXT,
    -- engine
    definition    TEXT   NOT NULL,            -- JSON snapshot: trigger, steps, resolved types
    position      TEXT   NOT NULL,            -- JSON cursor (attempt, parallel branches)
    "wakeAt"      BIGINT,                     -- when a WAITING run is due
    "leaseOwner"  TEXT,                       -- host that is executing the run
    "leaseUntil"  BIGINT,                     -- the lease expires then
    "updatedAt"   BIGINT NOT NULL
);
CREATE INDEX workflow_runs_due ON workflow_runs (status, "wakeAt");
CREATE INDEX workflow_runs_workflow ON workflow_runs ("workflowId", status, "startedAt");
CREATE INDEX workflow_runs_status ON workflow_runs (status, "startedAt");
CREATE INDEX workflow_runs_started ON workflow_runs ("startedAt");

-- One row per step attempt (and per run-level event such as cancel).
CREATE TABLE workflow_run_logs (
    id                TEXT   PRIMARY KEY NOT NULL,
    "runId"           TEXT   NOT NULL REFERENCES workflow_runs (id),
    step              TEXT   NOT NULL,
    action            TEXT   NOT NULL,        -- completed | branched | slept | retrying | failed | caught | cancelled | retried
    result            TEXT   NOT NULL,        -- JSON: output or error, usage, log lines
    "createdAt"       BIGINT NOT NULL,
    -- engine
    seq               BIGINT NOT NULL,        -- order within the run
    attempt           BIGINT NOT NULL DEFAULT 0,
    fuel              BIGINT NOT NULL DEFAULT 0,
    "durationUs"      BIGINT NOT NULL DEFAULT 0,
    "peakMemoryBytes" BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX workflow_run_logs_run ON workflow_run_logs ("runId", seq);

-- API tokens; only the sha256 of a token is stored.
CREATE TABLE api_tokens (
    id          TEXT   PRIMARY KEY NOT NULL,
    name        TEXT   NOT NULL,
    "tokenHash" TEXT   NOT NULL UNIQUE,
    "createdAt" BIGINT NOT NULL
);
