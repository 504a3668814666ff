-- Installed plugins: the component bytes live here so every host sharing the
-- database can load them; built-ins ship inside the binary and are not stored.
CREATE TABLE plugins (
    name           TEXT   NOT NULL,
    version        TEXT   NOT NULL,
    description    TEXT   NOT NULL,
    "configSchema" TEXT   NOT NULL,   -- JSON Schema of the step config
    requested      TEXT   NOT NULL,   -- JSON list: capabilities the plugin asks for
    granted        TEXT   NOT NULL,   -- JSON list: capabilities granted at install
    limits         TEXT   NOT NULL,   -- JSON limit overrides
    sha256         TEXT   NOT NULL,
    size           BIGINT NOT NULL,
    component      BYTEA  NOT NULL,
    "installedAt"  BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
