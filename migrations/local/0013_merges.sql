-- Merges of duplicate contacts and companies (hub_core::merge, docs/merge.md).
--
-- One synced row per merge: which record survived and which was merged away,
-- what the merge wrote (every row write with its values before and after, so
-- `hub merge undo` restores exactly), the loser's field values as the merging
-- user saw them (a later, different value was written by a device that had
-- not seen the merge: it is carried to the survivor), who and when.
CREATE TABLE merges (
    rk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    kind          TEXT,           -- contact, company
    survivor_id   TEXT,
    loser_id      TEXT,
    survivor_name TEXT,           -- names at merge time, for the history list
    loser_name    TEXT,
    choices       TEXT,           -- JSON {field: "keep" | "other"} of the fields that differed
    writes        TEXT,           -- JSON [{entity, id, created, before: {..}, after: {..}}]
    loser_values  TEXT,           -- JSON {field: value} of the loser at merge time
    merged_by     TEXT,
    merged_at     TEXT,
    undone_by     TEXT,
    undone_at     TEXT,
    deleted_at    TEXT,
    updated_ms    INTEGER NOT NULL DEFAULT 0,
    clocks        TEXT NOT NULL DEFAULT '{}',
    -- Local, not synced: 1 once this device has repointed what it holds of
    -- the loser (a merge made here, or one pulled and followed up). A merge
    -- that arrives by pull or snapshot starts at 0.
    followed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX merges_loser ON merges (loser_id);
CREATE INDEX merges_survivor ON merges (survivor_id);
CREATE INDEX merges_time ON merges (merged_at DESC);
CREATE INDEX merges_unfollowed ON merges (followed) WHERE followed = 0;
