-- hub-server on PostgreSQL: workspaces, their users and their devices.
-- The sync tables (changes, conflicts, the sequence counter) arrive in later migrations;
-- never edit this file once released, add 0002_… instead.

CREATE TABLE workspaces (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) > 0),
    -- Per-workspace key for website/app event collection. Not a secret: it ships in
    -- browser snippets, so it is stored as is (it can only append events).
    write_key   TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Stored trimmed and lower-cased by the server; the index below is the guard.
    email         TEXT NOT NULL,
    -- argon2id PHC string; NULL until the user sets a password with the setup secret.
    password_hash TEXT,
    -- SHA-256 (base64url) of the one-time password-setup secret, and when it expires.
    password_setup_hash       TEXT UNIQUE,
    password_setup_expires_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX users_workspace_email ON users (workspace_id, lower(email));
CREATE INDEX users_email ON users (lower(email));

CREATE TABLE devices (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- SHA-256 (base64url) of the device token; the token itself is never stored.
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

CREATE INDEX devices_workspace ON devices (workspace_id, created_at);
