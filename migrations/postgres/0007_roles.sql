-- Scoped API tokens: each token has a role, and may expire.
--   viewer   reads everything but secrets
--   operator viewer + trigger, events, cancel, retry, mark notifications read
--   editor   operator + workflows and email templates
--   admin    everything: plugins, tokens (and secrets)
-- Tokens made before roles existed were all-powerful: they stay admin.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE api_tokens ADD COLUMN "expiresAt" BIGINT;   -- unix ms; NULL = never
ALTER TABLE api_tokens ADD COLUMN "lastUsedAt" BIGINT;  -- unix ms, written at most once a minute
