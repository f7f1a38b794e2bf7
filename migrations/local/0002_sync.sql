-- Sync with the team's hub-server (docs/sync.md).
--
-- The account, cursor and clock offset live in `meta` (keys `sync.*`); the
-- outbox is `change_log` (an entry leaves it when the server acknowledged it).

-- Versions the server kept because the write that replaced them (or that
-- they lost to) had not seen them. They reach every device through pull and
-- snapshot; restoring one is a new edit. `restored_at` is this device's note
-- that it re-applied the lost value (the restore itself syncs as an edit).
CREATE TABLE conflicts (
    id            TEXT PRIMARY KEY,
    entity        TEXT NOT NULL,
    row_id        TEXT NOT NULL,
    field         TEXT NOT NULL,
    lost_value    TEXT NOT NULL,     -- JSON
    lost_clock    TEXT NOT NULL,
    lost_device   TEXT NOT NULL,
    winner_value  TEXT NOT NULL,     -- JSON
    winner_clock  TEXT NOT NULL,
    winner_device TEXT NOT NULL,
    detected_at   TEXT NOT NULL,
    seq           INTEGER NOT NULL,  -- server sequence of the change that found it
    restored_at   TEXT
) STRICT;

CREATE INDEX conflicts_row ON conflicts (entity, row_id);
CREATE INDEX conflicts_detected ON conflicts (detected_at DESC);

-- Changes the server refused (`rejected`): never pushed again, never
-- silently dropped either — kept here with the reason, and counted in
-- `hub sync status`.
CREATE TABLE rejected_changes (
    op_id       TEXT PRIMARY KEY,
    change      TEXT NOT NULL,       -- JSON of the hub_protocol::Change
    reason      TEXT NOT NULL,
    rejected_at TEXT NOT NULL
) STRICT;

-- The outbox is read and cleared by op_id.
CREATE UNIQUE INDEX change_log_op ON change_log (op_id);
