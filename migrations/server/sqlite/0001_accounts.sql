-- hub-server on SQLite: workspaces, their users and their devices.
-- The sync tables (changes, conflicts, the sequence counter) arrive in later migrations;
-- never edit this file once released, add 0002_… instead.
--
-- Ids are UUID text; times are RFC 3339 UTC text (sqlx's chrono encoding).

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) > 0),
    -- Per-workspace key for website/app event collection. Not a secret: it ships in
    -- browser snippets, so it is stored as is (it can only append events).
    write_key   TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Stored trimmed and lower-cased by the server; the index below is the guard.
    email         TEXT NOT NULL,
    -- argon2id PHC string; NULL until the user sets a password with the setup secret.
    password_hash TEXT,
    -- SHA-256 (base64url) of the one-time password-setup secret, and when it expires.
    password_setup_hash       TEXT UNIQUE,
    password_setup_expires_at TEXT,
    created_at    TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_workspace_email ON users (workspace_id, lower(email));
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE devices (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- SHA-256 (base64url) of the device token; the token itself is never stored.
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT,
    revoked_at    TEXT
) STRICT;

CREATE INDEX devices_workspace ON devices (workspace_id, created_at);
