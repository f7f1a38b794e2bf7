-- Behavioural events and the identity graph (issue 6, docs/events.md "On the device").
--
-- `events` is local and append-only, not a synced entity: events reach a device
-- through the server's event stream (hub_core::sync::events) or `hub events import`,
-- never as field changes. `contact_rk` (the contact the event belongs to, contacts.rk;
-- NULL while anonymous or unresolved) is kept by the triggers below from the synced
-- `identities` rows, so it is right however an identity or an event arrives: a local
-- write, a pull, a snapshot, in any order.
CREATE TABLE events (
    rk           INTEGER PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,          -- identify | track | page | screen | group | alias
    user_id      TEXT,
    anonymous_id TEXT,
    name         TEXT,                   -- track: the event name; page/screen: the name if given
    path         TEXT,                   -- hub_protocol::Event::page_path
    at_ms        INTEGER NOT NULL,       -- timestamp, unix ms
    received_ms  INTEGER NOT NULL,
    body         TEXT NOT NULL,          -- the event verbatim (JSON)
    contact_rk   INTEGER,
    seq          INTEGER                 -- server stream seq; NULL = loaded here, not uploaded yet
);
CREATE INDEX events_contact_time ON events (contact_rk, at_ms);
CREATE INDEX events_user ON events (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_anonymous ON events (anonymous_id) WHERE anonymous_id IS NOT NULL;
CREATE INDEX events_unsent ON events (rk) WHERE seq IS NULL;

-- One identifier of a person, pointing at the contact it resolves to. Synced.
-- kind: user_id | anonymous_id | email | phone | external:<type>; value as the
-- identifier was seen (emails lower-cased, phones E.164). The id is derived
-- (UUIDv5 of "<kind>:<value>", hub_core::identity) so every device that sees the
-- identifier writes the same row.
CREATE TABLE identities (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    contact_id  TEXT,
    kind        TEXT,
    value       TEXT,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX identities_value ON identities (kind, value);
CREATE INDEX identities_contact ON identities (contact_id);

-- Two identified profiles an event would have joined (different user ids): never
-- merged automatically. Local: every device derives the same warnings from the same
-- events. `hub identity warnings`, `hub contact show`.
CREATE TABLE identity_warnings (
    rk               INTEGER PRIMARY KEY,
    message_id       TEXT NOT NULL,      -- the event that would have joined them
    contact_id       TEXT NOT NULL,      -- the profile the event belongs to
    other_contact_id TEXT NOT NULL,      -- the identified profile it also matched
    identity         TEXT NOT NULL,      -- "<kind>:<value>" that matched the other one
    reason           TEXT NOT NULL,
    at_ms            INTEGER NOT NULL,
    UNIQUE (message_id, contact_id, other_contact_id)
);
CREATE INDEX identity_warnings_contact ON identity_warnings (contact_id);
CREATE INDEX identity_warnings_other ON identity_warnings (other_contact_id);

-- The contact an event resolves to: its user id's identity, else its anonymous id's.
-- (Written out in each trigger: SQLite has no stored functions.)
CREATE TRIGGER events_resolve_on_insert AFTER INSERT ON events
WHEN NEW.user_id IS NOT NULL OR NEW.anonymous_id IS NOT NULL
BEGIN
    UPDATE events SET contact_rk = COALESCE(
        (SELECT c.rk FROM identities i JOIN contacts c ON c.id = i.contact_id
          WHERE i.kind = 'user_id' AND i.value = NEW.user_id AND i.deleted_at IS NULL
          ORDER BY i.rk LIMIT 1),
        (SELECT c.rk FROM identities i JOIN contacts c ON c.id = i.contact_id
          WHERE i.kind = 'anonymous_id' AND i.value = NEW.anonymous_id AND i.deleted_at IS NULL
          ORDER BY i.rk LIMIT 1))
    WHERE rk = NEW.rk;
END;

-- Re-resolve the events carrying a user id / anonymous id (only those whose contact changes).
CREATE VIEW events_resolution AS
SELECT e.rk AS rk, COALESCE(
        (SELECT c.rk FROM identities i JOIN contacts c ON c.id = i.contact_id
          WHERE i.kind = 'user_id' AND i.value = e.user_id AND i.deleted_at IS NULL
          ORDER BY i.rk LIMIT 1),
        (SELECT c.rk FROM identities i JOIN contacts c ON c.id = i.contact_id
          WHERE i.kind = 'anonymous_id' AND i.value = e.anonymous_id AND i.deleted_at IS NULL
          ORDER BY i.rk LIMIT 1)) AS contact_rk
FROM events e;

CREATE TRIGGER identities_events_insert AFTER INSERT ON identities
WHEN NEW.kind IN ('user_id', 'anonymous_id')
BEGIN
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE NEW.kind = 'user_id' AND user_id = NEW.value
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE NEW.kind = 'anonymous_id' AND anonymous_id = NEW.value
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
END;

CREATE TRIGGER identities_events_update AFTER UPDATE OF contact_id, kind, value, deleted_at ON identities
BEGIN
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE ((OLD.kind = 'user_id' AND user_id = OLD.value)
        OR (NEW.kind = 'user_id' AND user_id = NEW.value))
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE ((OLD.kind = 'anonymous_id' AND anonymous_id = OLD.value)
        OR (NEW.kind = 'anonymous_id' AND anonymous_id = NEW.value))
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
END;

CREATE TRIGGER identities_events_delete AFTER DELETE ON identities
WHEN OLD.kind IN ('user_id', 'anonymous_id')
BEGIN
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE ((OLD.kind = 'user_id' AND user_id = OLD.value)
        OR (OLD.kind = 'anonymous_id' AND anonymous_id = OLD.value))
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
END;

-- An identity may arrive before its contact (sync applies tables in any order).
CREATE TRIGGER contacts_events_insert AFTER INSERT ON contacts
BEGIN
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE user_id IN (SELECT value FROM identities
                       WHERE contact_id = NEW.id AND kind = 'user_id' AND deleted_at IS NULL)
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE anonymous_id IN (SELECT value FROM identities
                            WHERE contact_id = NEW.id AND kind = 'anonymous_id' AND deleted_at IS NULL)
      AND contact_rk IS NOT (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk);
END;

-- A contact removed for good (demo data purge): its events are anonymous again
-- unless another identity claims them.
CREATE TRIGGER contacts_events_delete AFTER DELETE ON contacts
BEGIN
    UPDATE events SET contact_rk = (SELECT r.contact_rk FROM events_resolution r WHERE r.rk = events.rk)
    WHERE contact_rk = OLD.rk;
END;
