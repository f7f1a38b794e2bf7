-- Stay in touch at scale (crates/hub-core/src/stay_in_touch.rs): the Today
-- view asks "whose next follow-up is due?" over every contact. Computing each
-- contact's last interaction at query time read ~30k index ranges per call
-- (200-370 ms at 100k contacts); here it is kept on the contact, so the due
-- list is one range of an index on the follow-up time itself.
--
-- `last_interaction_at` is local bookkeeping derived from `activities`, not a
-- synced field (it is not in the contact's EntityDef): triggers keep it equal
-- to the latest `occurred_at` of the contact's live calls, emails and
-- meetings, whichever way a row arrives (a local write, a pulled change, a
-- snapshot row, in any order).
ALTER TABLE contacts ADD COLUMN last_interaction_at TEXT;

UPDATE contacts SET last_interaction_at = (
    SELECT a.occurred_at FROM activities a
     WHERE a.contact_id = contacts.id AND a.deleted_at IS NULL AND a.kind <> 'note'
     ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1);

-- The next follow-up as a Julian day number: last interaction (else creation)
-- plus N days. Queries must spell the expression exactly like this.
CREATE INDEX contacts_next_follow_up
    ON contacts (julianday(coalesce(last_interaction_at, created_at)) + stay_in_touch_days)
    WHERE stay_in_touch_days IS NOT NULL AND deleted_at IS NULL;

CREATE TRIGGER activities_last_interaction_insert AFTER INSERT ON activities
WHEN NEW.contact_id IS NOT NULL
BEGIN
    UPDATE contacts SET last_interaction_at = (
        SELECT a.occurred_at FROM activities a
         WHERE a.contact_id = NEW.contact_id AND a.deleted_at IS NULL AND a.kind <> 'note'
         ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1)
     WHERE id = NEW.contact_id;
END;

CREATE TRIGGER activities_last_interaction_update
AFTER UPDATE OF contact_id, kind, occurred_at, deleted_at ON activities
BEGIN
    UPDATE contacts SET last_interaction_at = (
        SELECT a.occurred_at FROM activities a
         WHERE a.contact_id = contacts.id AND a.deleted_at IS NULL AND a.kind <> 'note'
         ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1)
     WHERE id IN (OLD.contact_id, NEW.contact_id);
END;

-- A contact that arrives after its activities (sync applies rows entity by entity).
CREATE TRIGGER contacts_last_interaction_insert AFTER INSERT ON contacts
BEGIN
    UPDATE contacts SET last_interaction_at = (
        SELECT a.occurred_at FROM activities a
         WHERE a.contact_id = NEW.id AND a.deleted_at IS NULL AND a.kind <> 'note'
         ORDER BY a.occurred_at DESC, a.id DESC LIMIT 1)
     WHERE rk = NEW.rk;
END;
