-- Consent per purpose (hub_core::consent, docs/consent.md).
--
-- An append-only synced log of decisions: each grant, denial or withdrawal is a row
-- of its own, never edited, so the record of who agreed to what, when and how is kept
-- as proof, and two devices recording decisions offline never collide. The current
-- status of a purpose is its latest decision (decided_at, then id).
CREATE TABLE consent_records (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    purpose     TEXT,   -- email_marketing | advertising | analytics | sale
    status      TEXT,   -- granted | denied | revoked
    source      TEXT,   -- form | import | tracking | manual
    decided_at  TEXT,   -- when the person decided, RFC 3339 UTC
    recorded_by TEXT,   -- the user who recorded it; NULL for tracking
    evidence    TEXT,   -- the event's messageId, the form or import, a note
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX consent_records_latest
    ON consent_records (contact_id, purpose, decided_at DESC, id DESC)
    WHERE deleted_at IS NULL;

-- The status in force per contact and purpose. Filter it by contact_id (and purpose):
-- each row is found through consent_records_latest.
CREATE VIEW consent_current AS
SELECT r.contact_id, r.purpose, r.status, r.source, r.decided_at, r.id
  FROM consent_records r
 WHERE r.deleted_at IS NULL
   AND r.id = (SELECT l.id FROM consent_records l
                WHERE l.contact_id = r.contact_id AND l.purpose = r.purpose
                  AND l.deleted_at IS NULL
                ORDER BY l.decided_at DESC, l.id DESC LIMIT 1);
