-- Retention: how long a workflow's finished runs are kept (a duration such as
-- `30d`; the host's `--retention` when NULL), and indexes for the background
-- deletion of finished runs and read notifications.
ALTER TABLE workflows ADD COLUMN retention TEXT;
-- How long a run may take before it fails (a duration; none when NULL).
ALTER TABLE workflows ADD COLUMN timeout TEXT;
CREATE INDEX workflow_runs_finished ON workflow_runs (finishedAt) WHERE finishedAt IS NOT NULL;
CREATE INDEX notifications_read ON notifications (readAt) WHERE readAt IS NOT NULL;
