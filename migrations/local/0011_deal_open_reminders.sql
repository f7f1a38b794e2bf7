-- The Today view's stale deals at scale (crates/hub-core/src/today.rs): "no
-- next activity" (no open reminder linked to the deal) was a subquery per
-- deal, ~1 µs each, so counting my stale deals among 37k open ones took
-- ~40 ms. Here each deal keeps how many open reminders are linked to it, so
-- the count is a few index ranges and the list walks one index.
--
-- `open_reminders` is local bookkeeping derived from `reminders`, not a
-- synced field (it is not in the deal's EntityDef): triggers keep it equal to
-- the number of live, not-done reminders with the deal's id, whichever way a
-- row arrives (a local write, a pulled change, a snapshot row, in any order).
ALTER TABLE deals ADD COLUMN open_reminders INTEGER NOT NULL DEFAULT 0;

UPDATE deals SET open_reminders = (
    SELECT count(*) FROM reminders r
     WHERE r.deal_id = deals.id AND r.deleted_at IS NULL AND r.done_at IS NULL);

CREATE TRIGGER reminders_deal_count_insert AFTER INSERT ON reminders
WHEN NEW.deal_id IS NOT NULL
BEGIN
    UPDATE deals SET open_reminders = (
        SELECT count(*) FROM reminders r
         WHERE r.deal_id = NEW.deal_id AND r.deleted_at IS NULL AND r.done_at IS NULL)
     WHERE id = NEW.deal_id;
END;

CREATE TRIGGER reminders_deal_count_update
AFTER UPDATE OF deal_id, deleted_at, done_at ON reminders
WHEN OLD.deal_id IS NOT NULL OR NEW.deal_id IS NOT NULL
BEGIN
    UPDATE deals SET open_reminders = (
        SELECT count(*) FROM reminders r
         WHERE r.deal_id = deals.id AND r.deleted_at IS NULL AND r.done_at IS NULL)
     WHERE id IN (OLD.deal_id, NEW.deal_id);
END;

CREATE TRIGGER reminders_deal_count_delete AFTER DELETE ON reminders
WHEN OLD.deal_id IS NOT NULL
BEGIN
    UPDATE deals SET open_reminders = (
        SELECT count(*) FROM reminders r
         WHERE r.deal_id = OLD.deal_id AND r.deleted_at IS NULL AND r.done_at IS NULL)
     WHERE id = OLD.deal_id;
END;

-- A deal that arrives after its reminders (sync applies rows entity by entity).
CREATE TRIGGER deals_open_reminders_insert AFTER INSERT ON deals
BEGIN
    UPDATE deals SET open_reminders = (
        SELECT count(*) FROM reminders r
         WHERE r.deal_id = NEW.id AND r.deleted_at IS NULL AND r.done_at IS NULL)
     WHERE rk = NEW.rk;
END;

-- My open deals: longest in their stage first with what staleness needs (the
-- list walks it without reading the table); per stage and entry time (the
-- rotting count); per stage without an open reminder (the rest of the count).
-- status and deleted_at close each index so SQLite reads no table row (it
-- does not count a partial index's WHERE as covering).
DROP INDEX deals_owner_open;
CREATE INDEX deals_owner_open ON deals (owner, stage_entered_at, stage_id, open_reminders, status, deleted_at)
    WHERE deleted_at IS NULL AND status = 'open';
CREATE INDEX deals_owner_stage ON deals (owner, stage_id, stage_entered_at, status, deleted_at)
    WHERE deleted_at IS NULL AND status = 'open';
CREATE INDEX deals_owner_idle ON deals (owner, open_reminders, stage_id, stage_entered_at, status, deleted_at)
    WHERE deleted_at IS NULL AND status = 'open';

-- The tickets module matches the assignee without regard to case.
CREATE INDEX tickets_assignee_nocase ON tickets (assignee COLLATE NOCASE, status)
    WHERE deleted_at IS NULL;
