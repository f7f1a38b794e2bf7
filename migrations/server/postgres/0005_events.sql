-- hub-server on PostgreSQL: behavioural events collected with the Segment HTTP API (and
-- pushed by devices), the per-workspace event stream devices pull, and the dead letters.
-- See docs/events.md. The SQL that reads and writes them is shared with SQLite
-- (src/storage/events.rs), so ids are TEXT as in the sync tables (workspace_id without a
-- foreign key: workspaces.id is UUID here).

-- Per-workspace event sequence counter, apart from workspaces.sync_seq so that collecting
-- events never waits on a sync push's row lock (nor the other way round). A store of
-- events creates or locks this row first (INSERT … ON CONFLICT DO UPDATE … RETURNING) and
-- sets it at the end of its transaction, so stores of one workspace are serialised and
-- sequence order is commit order: a puller reading `seq > cursor` never skips a late commit.
CREATE TABLE event_seqs (
    workspace_id TEXT PRIMARY KEY,
    seq          BIGINT NOT NULL
);

-- Every accepted event, append-only, in stream order. `body` is the normalised Segment
-- event (JSON text: every field the client sent plus the settled messageId, type,
-- timestamp, receivedAt and merged context); the other columns are copies for indexing.
CREATE TABLE events (
    workspace_id TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    message_id   TEXT NOT NULL,
    type         TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    name         TEXT,
    at_ms        BIGINT NOT NULL,  -- timestamp, unix ms
    received_ms  BIGINT NOT NULL,  -- receivedAt, unix ms
    body         TEXT NOT NULL,
    -- 'collect' (write key) or 'device:<device id>' (POST /v1/events/push).
    source       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, message_id)
);

-- Events that could not be accepted, with why. `raw` is the event as sent (writeKey
-- removed), cut to at most 16 KiB; `raw_bytes` is its full length.
CREATE TABLE dead_letters (
    id           TEXT PRIMARY KEY,  -- UUIDv7: sorts by arrival
    workspace_id TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    code         TEXT NOT NULL,     -- hub_protocol::segment::SegmentError::code
    reason       TEXT NOT NULL,
    raw          TEXT NOT NULL,
    raw_bytes    BIGINT NOT NULL,
    source       TEXT NOT NULL
);

CREATE INDEX dead_letters_workspace ON dead_letters (workspace_id, id);
