-- Erasure of a contact (hub_core::privacy, docs/privacy.md).
--
-- One synced row per erased contact, id derived from the contact's, never deleted:
-- which rows the erasure removed (`rows`, JSON [[entity, id], ...] as the erasing
-- device knew them; every device also removes what it holds by the contact's id),
-- and SHA-256 hashes of the person's identifiers (`suppress`) so that later events
-- with them are dropped without keeping the identifiers themselves.
CREATE TABLE erasures (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    erased_at   TEXT,
    erased_by   TEXT,
    rows        TEXT,
    suppress    TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}',
    -- Local: 1 once this device has removed what it holds of the contact.
    followed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX erasures_contact ON erasures (contact_id);
CREATE INDEX erasures_unfollowed ON erasures (followed) WHERE followed = 0;

-- Local: every row an erasure removed here. A change to one of them that
-- arrives later (an offline edit pushed before the device learnt of the
-- erasure, a retried page) is dropped, never applied: erased stays erased.
CREATE TABLE erased_rows (
    entity  TEXT NOT NULL,
    row_id  TEXT NOT NULL,
    PRIMARY KEY (entity, row_id)
) WITHOUT ROWID;

-- Local: hashes of erased people's identifiers; events carrying one are not stored.
CREATE TABLE suppressed_identities (
    hash  TEXT PRIMARY KEY
) WITHOUT ROWID;
