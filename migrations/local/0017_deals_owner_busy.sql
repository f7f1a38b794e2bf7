-- The Today view counts my stale deals as the idle ones (no open reminder)
-- plus, per rotting stage, the rotting ones that do have a reminder: one
-- range of this index per stage instead of two ranges to subtract. The
-- filtered columns are in it too, so the count reads no table rows.
CREATE INDEX deals_owner_busy ON deals (owner, stage_id, stage_entered_at, open_reminders, status, deleted_at)
    WHERE deleted_at IS NULL AND status = 'open' AND open_reminders > 0;
-- Its predecessor, which counted every rotting deal of a stage, is unused.
DROP INDEX deals_owner_stage;
