-- Segments read consent (hub_core::segments, docs/segments.md "Consent"): a decision
-- recorded, synced in or deleted queues its contact for re-evaluation, like the
-- triggers of 0019_segments.sql.
CREATE TRIGGER segments_queue_consent_insert AFTER INSERT ON consent_records
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.contact_id;
END;

CREATE TRIGGER segments_queue_consent_update AFTER UPDATE OF contact_id, purpose, status, decided_at, deleted_at ON consent_records
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.contact_id, NEW.contact_id);
END;
