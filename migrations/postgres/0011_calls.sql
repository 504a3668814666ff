-- Child runs (`call-workflow`): the run and the wait (its step) a child run
-- reports its end to, and how deep it is in a chain of calls.
ALTER TABLE workflow_runs ADD COLUMN "parentRunId" TEXT;
ALTER TABLE workflow_runs ADD COLUMN "parentStep" TEXT;
ALTER TABLE workflow_runs ADD COLUMN "callDepth" BIGINT NOT NULL DEFAULT 0;
CREATE INDEX workflow_runs_parent ON workflow_runs ("parentRunId") WHERE "parentRunId" IS NOT NULL;
