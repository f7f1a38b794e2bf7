-- hub-server on PostgreSQL: sync (push, pull, snapshot). See docs/sync.md.
-- Ids, clocks (Hlc text form, sorts like the clock) and JSON are TEXT; the SQL is shared
-- with the SQLite backend (src/storage/sync.rs), so ids are TEXT here too (workspace_id
-- without a foreign key: workspaces.id is UUID on PostgreSQL).

-- Per-workspace sequence counter. A push locks this row first (UPDATE … RETURNING) and
-- sets it at the end of its transaction, so pushes of one workspace are serialised in the
-- database and sequence order is commit order.
ALTER TABLE workspaces ADD COLUMN sync_seq BIGINT NOT NULL DEFAULT 0;

-- Every accepted change, in sequence order: the history (ancestry lookups) and the pull feed.
CREATE TABLE changes (
    workspace_id TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    op_id        TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    entity       TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    hlc          TEXT NOT NULL,
    fields       TEXT NOT NULL,  -- JSON {field: value}
    base         TEXT NOT NULL,  -- JSON {field: hlc}
    received_at  TIMESTAMPTZ NOT NULL,
    -- SHA-256 (hex) of the change as received: same op_id, other payload is refused.
    payload_hash TEXT NOT NULL,
    -- JSON per-op result given the first time, answered again on a retry.
    result       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, op_id)
);

CREATE INDEX changes_row ON changes (workspace_id, entity, row_id);

-- The current version of every field.
CREATE TABLE field_versions (
    workspace_id TEXT NOT NULL,
    entity       TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    field        TEXT NOT NULL,
    value        TEXT NOT NULL,  -- JSON
    clock        TEXT NOT NULL,
    base         TEXT,
    PRIMARY KEY (workspace_id, entity, row_id, field)
);

-- Versions that lost without their overwriter having seen them.
CREATE TABLE conflicts (
    workspace_id  TEXT NOT NULL,
    id            TEXT NOT NULL,  -- hub_protocol::conflict_id
    entity        TEXT NOT NULL,
    row_id        TEXT NOT NULL,
    field         TEXT NOT NULL,
    lost_value    TEXT NOT NULL,
    lost_clock    TEXT NOT NULL,
    lost_device   TEXT NOT NULL,
    winner_value  TEXT NOT NULL,
    winner_clock  TEXT NOT NULL,
    winner_device TEXT NOT NULL,
    detected_at   TIMESTAMPTZ NOT NULL,
    seq           BIGINT NOT NULL,  -- the change whose merge detected it
    PRIMARY KEY (workspace_id, id)
);

CREATE INDEX conflicts_seq ON conflicts (workspace_id, seq);
