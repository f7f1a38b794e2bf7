-- hub-server on SQLite: behavioural events collected with the Segment HTTP API (and pushed by
-- devices), the per-workspace event stream devices pull, and the dead letters. See
-- docs/events.md. The SQL that reads and writes them is shared with PostgreSQL
-- (src/storage/events.rs).

-- Per-workspace event sequence counter, apart from workspaces.sync_seq so that collecting
-- events never waits on a sync push's lock (nor the other way round). A store of events
-- creates or locks this row first (INSERT … ON CONFLICT DO UPDATE … RETURNING) and sets it at
-- the end of its transaction: sequence order is commit order.
CREATE TABLE event_seqs (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL
) STRICT;

-- Every accepted event, append-only, in stream order. `body` is the normalised Segment
-- event (JSON text: every field the client sent plus the settled messageId, type,
-- timestamp, receivedAt and merged context); the other columns are copies for indexing.
CREATE TABLE events (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    type         TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    name         TEXT,
    at_ms        INTEGER NOT NULL,  -- timestamp, unix ms
    received_ms  INTEGER NOT NULL,  -- receivedAt, unix ms
    body         TEXT NOT NULL,
    -- 'collect' (write key) or 'device:<device id>' (POST /v1/events/push).
    source       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, message_id)
) STRICT;

-- Events that could not be accepted, with why. `raw` is the event as sent (writeKey
-- removed), cut to at most 16 KiB; `raw_bytes` is its full length.
CREATE TABLE dead_letters (
    id           TEXT PRIMARY KEY,  -- UUIDv7: sorts by arrival
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    received_ms  INTEGER NOT NULL,
    code         TEXT NOT NULL,     -- hub_protocol::segment::SegmentError::code
    reason       TEXT NOT NULL,
    raw          TEXT NOT NULL,
    raw_bytes    INTEGER NOT NULL,
    source       TEXT NOT NULL
) STRICT;

CREATE INDEX dead_letters_workspace ON dead_letters (workspace_id, id);
