-- Logged activities, support tickets with comments, and stay-in-touch
-- (docs/architecture.md, "Activities, tickets and the timeline").
-- Synced tables: the columns every synced table has (0001_store.sql) plus
-- their fields, listed in crates/hub-core/src/entities.rs.
--
-- Times are RFC 3339 UTC text with milliseconds (`2026-11-29T19:01:03.123Z`),
-- one format everywhere, so text order is time order and the timeline can
-- page by (time, id) on an index.

-- A call, email, meeting or note, linked to a contact, a company and/or a
-- deal (at least one; ids of rows in contacts, companies, deals).
CREATE TABLE activities (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT,       -- call | email | meeting | note
    contact_id  TEXT,
    company_id  TEXT,
    deal_id     TEXT,
    occurred_at TEXT,       -- when it happened (a meeting: when it starts)
    direction   TEXT,       -- inbound | outbound (calls and emails)
    duration_s  INTEGER,    -- calls and meetings
    outcome     TEXT,       -- calls: connected | no_answer | left_voicemail | busy | wrong_number
    subject     TEXT,
    body        TEXT,
    location    TEXT,       -- meetings
    created_by  TEXT,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
-- The timelines page newest first by (occurred_at, id) per linked record.
CREATE INDEX activities_contact_time ON activities (contact_id, occurred_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX activities_company_time ON activities (company_id, occurred_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX activities_deal_time ON activities (deal_id, occurred_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE tickets (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    subject     TEXT,
    description TEXT,
    status      TEXT,       -- open | pending | resolved | closed
    priority    TEXT,       -- low | normal | high | urgent
    contact_id  TEXT,
    company_id  TEXT,
    assignee    TEXT,
    due_at      TEXT,
    created_by  TEXT,
    created_at  TEXT,
    closed_at   TEXT,       -- set when it becomes resolved or closed, cleared on reopening
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX tickets_status ON tickets (status, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX tickets_assignee ON tickets (assignee, status) WHERE deleted_at IS NULL;
CREATE INDEX tickets_contact ON tickets (contact_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX tickets_company ON tickets (company_id, created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE ticket_comments (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    ticket_id   TEXT,
    author      TEXT,
    body        TEXT,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

-- Stay in touch every N days (NULL: off). A synced contact field.
ALTER TABLE contacts ADD COLUMN stay_in_touch_days INTEGER;
CREATE INDEX contacts_stay_in_touch ON contacts (stay_in_touch_days)
    WHERE stay_in_touch_days IS NOT NULL AND deleted_at IS NULL;
