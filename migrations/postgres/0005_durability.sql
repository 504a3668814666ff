-- Durability: fencing tokens on runs, visible cron errors, workflow limits,
-- and one table of idempotency keys.

-- Incremented by every claim of a run (its creation counts as the first).
-- The driver holding claim N writes only `WHERE "claimCount" = N`, so a host
-- whose lease lapsed and was claimed again elsewhere cannot commit a step.
ALTER TABLE workflow_runs ADD COLUMN "claimCount" BIGINT NOT NULL DEFAULT 1;

-- Why an ACTIVE cron workflow has no next fire time (its expression stopped
-- parsing); NULL when it is armed or not a cron workflow.
ALTER TABLE workflows ADD COLUMN "cronError" TEXT;

-- JSON { "maxSteps": N }: the run-level limits of the workflow's runs.
ALTER TABLE workflows ADD COLUMN limits TEXT;

-- A request that carried an idempotency key, and the runs it started, so a
-- repeat within the window returns them instead of starting new ones.
-- scope: `event` for POST /api/events, `trigger:<workflowId>` for a manual
-- trigger (inbound webhook deliveries will add theirs).
CREATE TABLE idempotency_keys (
    scope       TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    "runIds"    TEXT   NOT NULL,   -- JSON list of run ids, in start order
    "createdAt" BIGINT NOT NULL,   -- unix ms
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys ("createdAt");

-- Claims look for unfinished runs by lease expiry.
CREATE INDEX workflow_runs_lease ON workflow_runs (status, "leaseUntil");
