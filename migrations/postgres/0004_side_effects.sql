-- Email templates, rendered with minijinja by the `email` capability.
CREATE TABLE email_templates (
    slug        TEXT   NOT NULL PRIMARY KEY,
    subject     TEXT   NOT NULL,   -- template of the subject line
    text        TEXT,              -- template of the plain-text body
    html        TEXT,              -- template of the HTML body (auto-escaped)
    "createdAt" BIGINT NOT NULL,   -- unix ms
    "updatedAt" BIGINT NOT NULL
);

-- In-app notifications created by the `notify` capability.
CREATE TABLE notifications (
    id           TEXT   NOT NULL PRIMARY KEY,
    title        TEXT   NOT NULL,
    body         TEXT,
    level        TEXT   NOT NULL,  -- info, success, warning, error
    link         TEXT,
    data         TEXT,             -- JSON
    "workflowId" TEXT,
    "runId"      TEXT,
    "stepId"     TEXT,
    "createdAt"  BIGINT NOT NULL,  -- unix ms
    "readAt"     BIGINT            -- unix ms; NULL while unread
);
CREATE INDEX notifications_by_time ON notifications ("createdAt" DESC, id DESC);
CREATE INDEX notifications_unread ON notifications ("createdAt" DESC) WHERE "readAt" IS NULL;
