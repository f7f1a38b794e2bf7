-- Audience exports (hub_core::audiences, docs/audiences.md).
--
-- One synced row per export of a segment to an ad network or an email tool: who,
-- when, which segment, where to, how many went out and how many were left out and
-- why. Never edited.
CREATE TABLE audience_exports (
    rk           INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    segment_id   TEXT,
    segment_name TEXT,   -- the name at the time of the export
    destination  TEXT,   -- meta | google | csv
    purpose      TEXT,   -- audience | lookalike_seed
    exported_by  TEXT,
    exported_at  TEXT,
    exported     INTEGER,
    left_out     TEXT,   -- JSON {"no_consent": n, "do_not_sell": n, "no_identifier": n}
    files        TEXT,   -- JSON ["audience-1.json", ...]: the file names written
    deleted_at   TEXT,
    updated_ms   INTEGER NOT NULL DEFAULT 0,
    clocks       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audience_exports_at ON audience_exports (exported_at);

-- Local, on the device that wrote the file: who was in each export and the keys the
-- platform knows them by, so a removal file can be made after they are erased or
-- withdraw consent. Only hashes are kept: for ad networks the SHA-256 of the email and
-- phone exactly as sent; for email tools the MD5 of the lower-cased address (the
-- subscriber hash email tools address members by). Erasure deletes rows by contact id
-- from synced tables; these rows stay on purpose (docs/audiences.md "Removal lists").
CREATE TABLE audience_export_members (
    export_id   TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    email_key   TEXT,
    phone_key   TEXT,
    -- When a removal file listing this member was written (NULL: not yet).
    removal_at  TEXT,
    PRIMARY KEY (export_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX audience_export_members_contact ON audience_export_members (contact_id);
