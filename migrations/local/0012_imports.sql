-- Imports (docs/import.md). Synced entities, written only through the write
-- path, so the team sees every import and any device can revert one.

-- One import: who ran it, when, on which file, with which mapping, and what
-- it did. `status`: 'done' or 'reverted'.
CREATE TABLE imports (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    file_name   TEXT,
    format      TEXT,           -- csv, vcard
    created_by  TEXT,
    created_at  TEXT,
    mapping     TEXT,           -- JSON object: column -> target field (null: skipped)
    counts      TEXT,           -- JSON object: created, updated, skipped, errors, ...
    status      TEXT,
    reverted_at TEXT,
    reverted_by TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX imports_created ON imports (created_at);

-- The journal of one import, in pieces of at most a few thousand entries
-- (so no single synced change is huge): rows it created and fields it
-- updated with their previous values, which is what a revert undoes.
--   created: JSON array of [entity, row id]
--   updated: JSON array of {"entity", "id", "before": {field: value}, "after": {field: value}}
CREATE TABLE import_batches (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    import_id   TEXT,
    seq         INTEGER,
    created     TEXT,
    updated     TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX import_batches_import ON import_batches (import_id, seq);

-- Saved column mappings, by name (id = v5 of the lower-cased name, so two
-- devices saving "HubSpot" converge on one row).
CREATE TABLE import_mappings (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    mapping     TEXT,           -- JSON object: column -> target field (null: skip)
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
