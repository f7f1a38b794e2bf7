-- Contact details that vCards carry and CSV exports often have: a birthday,
-- a website, a photo and postal addresses (crates/hub-core/src/contact_details.rs).
--
-- birthday: ISO 8601 date, `1985-04-12`, or `--04-12` when the year is
--           unknown (vCard 4.0 truncated dates, Apple's omitted year).
-- website:  one URL.
-- photo:    `data:image/jpeg;base64,...` (at most 512 KB decoded) or an
--           http(s) link; synced like any field.
ALTER TABLE contacts ADD COLUMN birthday TEXT;
ALTER TABLE contacts ADD COLUMN website TEXT;
ALTER TABLE contacts ADD COLUMN photo TEXT;

-- Typed postal addresses, like contact_emails / contact_phones.
CREATE TABLE contact_addresses (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    kind        TEXT,
    street      TEXT,
    city        TEXT,
    region      TEXT,
    postal_code TEXT,
    country     TEXT,
    position    INTEGER,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX contact_addresses_contact ON contact_addresses (contact_id);
