-- Steps that wait for the outside (`wait-for-event`, `approval`): one row
-- per waiting step, made when it starts waiting and deleted when it goes on.
-- An event finds its waiting runs through `run_waits_event`, an index lookup
-- per event path (`wait_paths` lists the few paths waiting runs look at).
CREATE TABLE run_waits (
    runId TEXT NOT NULL,
    stepId TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT,
    eventPath TEXT NOT NULL DEFAULT '',
    correlationKey TEXT NOT NULL DEFAULT '',
    message TEXT,
    createdAt INTEGER NOT NULL,
    expiresAt INTEGER,
    delivery TEXT,
    deliveredAt INTEGER,
    PRIMARY KEY (runId, stepId)
);
CREATE INDEX run_waits_event ON run_waits (event, eventPath, correlationKey) WHERE deliveredAt IS NULL;
CREATE INDEX run_waits_approvals ON run_waits (createdAt) WHERE kind = 'approval' AND deliveredAt IS NULL;
CREATE TABLE wait_paths (
    event TEXT NOT NULL,
    eventPath TEXT NOT NULL,
    PRIMARY KEY (event, eventPath)
);
-- Concurrency per key: a workflow's `{ limit, key }` (JSON); each run's
-- rendered key and limit, and whether it waits for a slot (1) or holds one.
ALTER TABLE workflows ADD COLUMN concurrency TEXT;
ALTER TABLE workflow_runs ADD COLUMN concurrencyKey TEXT;
ALTER TABLE workflow_runs ADD COLUMN concurrencyLimit BIGINT;
ALTER TABLE workflow_runs ADD COLUMN queued BIGINT NOT NULL DEFAULT 0;
CREATE INDEX workflow_runs_slots ON workflow_runs (workflowId, concurrencyKey, queued, startedAt)
    WHERE concurrencyKey IS NOT NULL AND finishedAt IS NULL;
-- Claimable runs without the queued ones, so that a backlog of queued runs
-- costs the schedulers nothing.
CREATE INDEX workflow_runs_admitted ON workflow_runs (status, leaseUntil) WHERE queued = 0;
