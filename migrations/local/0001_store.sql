-- The desktop's offline store. Every synced table has:
--   id       TEXT UUID, the row's identity on every device
--   clocks   JSON map field -> HLC text of the last write of that field;
--            "*" is the clock of every field not listed (a row written at once)
--   updated_ms  local bookkeeping (ms of the last applied write), not synced
--   deleted_at  the tombstone: a delete is a synced field write, never a DELETE
-- Synced tables use an INTEGER rowid alias (rk) so FTS rowids stay stable
-- across VACUUM.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The outbox: one entry per change (a write of some fields of one row),
-- i.e. one hub_protocol::Change. `fields` maps each written field to its new
-- value; `base` maps each to the clock the writer had seen (absent for a
-- field that had none). Every field of the change carries the clock `hlc`.
CREATE TABLE change_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id   TEXT NOT NULL,
    entity  TEXT NOT NULL,
    row_id  TEXT NOT NULL,
    hlc     TEXT NOT NULL,
    fields  TEXT NOT NULL,          -- JSON object
    base    TEXT NOT NULL           -- JSON object
) STRICT;

CREATE TABLE companies (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    domain      TEXT,
    industry    TEXT,
    size        TEXT,
    street      TEXT,
    city        TEXT,
    region      TEXT,
    postal_code TEXT,
    country     TEXT,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX companies_name ON companies (name COLLATE NOCASE) WHERE deleted_at IS NULL;
CREATE INDEX companies_domain ON companies (domain) WHERE deleted_at IS NULL;

CREATE TABLE contacts (
    rk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    first_name      TEXT,
    last_name       TEXT,
    display_name    TEXT,
    title           TEXT,
    company_id      TEXT,
    lifecycle_stage TEXT,
    owner           TEXT,
    source          TEXT,
    notes           TEXT,
    created_at      TEXT,
    deleted_at      TEXT,
    updated_ms      INTEGER NOT NULL DEFAULT 0,
    clocks          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contacts_by_name ON contacts (display_name COLLATE NOCASE, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_company ON contacts (company_id);

CREATE TABLE contact_emails (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    kind        TEXT,
    address     TEXT,
    position    INTEGER,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contact_emails_contact ON contact_emails (contact_id);
CREATE INDEX contact_emails_address ON contact_emails (address COLLATE NOCASE);

CREATE TABLE contact_phones (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    kind        TEXT,
    number      TEXT,
    position    INTEGER,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contact_phones_contact ON contact_phones (contact_id);
CREATE INDEX contact_phones_number ON contact_phones (number);

-- Tag ids are derived from the lower-cased name, so two devices that create
-- "VIP" offline end up with one tag.
CREATE TABLE tags (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    color       TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);

-- Link ids are derived from (contact, tag) for the same reason.
CREATE TABLE contact_tags (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    tag_id      TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contact_tags_contact ON contact_tags (contact_id);
CREATE INDEX contact_tags_tag ON contact_tags (tag_id);

-- Search index over live contacts; rowid = contacts.rk. Rebuilt per contact by
-- the write path whenever the contact, its emails/phones or its company change.
CREATE VIRTUAL TABLE contact_search USING fts5 (
    name, emails, phones, company,
    sort_name UNINDEXED,            -- display name, to order hits without a join
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3',
    -- Only "every word is a prefix" queries are asked: no phrases, no
    -- ranking, so positions are not stored and doclists stay small.
    detail = none
);
