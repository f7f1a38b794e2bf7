-- The Today view (hub_core::today): every section is an index range, not a
-- pass over the table.

-- My open reminders by when they ring next (snoozed-until, else due): the
-- overdue and due-today ranges and their counts. Queries must spell the
-- expression exactly like this.
CREATE INDEX reminders_mine_next
    ON reminders (assignee, coalesce(snoozed_until, due_at))
    WHERE deleted_at IS NULL AND done_at IS NULL;

-- "Has a next activity": an open reminder linked to the deal, answered from
-- the index alone.
CREATE INDEX reminders_deal_open ON reminders (deal_id)
    WHERE deleted_at IS NULL AND done_at IS NULL AND deal_id IS NOT NULL;

-- My open deals, longest in their stage first: the stale-deal list.
CREATE INDEX deals_owner_open ON deals (owner, stage_entered_at)
    WHERE deleted_at IS NULL AND status = 'open';
