-- Kanban column totals kept by triggers (docs/deals.md#the-kanban-board).
--
-- SQLite never treats a generated column as covered by an index, so the sums
-- over `amount_units`/`amount_micro` (0003) read every deal row: about 40 ms
-- for 50,000 deals. This table holds, per stage and currency, the live deal
-- count and the exact integer sums of the amounts' whole units and
-- millionths; the board reads a few rows of it instead of every deal.
-- It is local bookkeeping, not a synced entity: the triggers below keep it
-- right for every write of `deals`, local (the write path) or remote (sync).

CREATE TABLE deal_stage_totals (
    stage_id     TEXT NOT NULL,
    currency     TEXT NOT NULL,          -- '' for deals without a currency
    deals        INTEGER NOT NULL,       -- live deals
    with_amount  INTEGER NOT NULL,       -- live deals with an amount
    amount_units INTEGER NOT NULL,
    amount_micro INTEGER NOT NULL,
    PRIMARY KEY (stage_id, currency)
) STRICT, WITHOUT ROWID;

INSERT INTO deal_stage_totals (stage_id, currency, deals, with_amount, amount_units, amount_micro)
SELECT stage_id, coalesce(currency, ''), count(*), count(amount),
       coalesce(sum(amount_units), 0), coalesce(sum(amount_micro), 0)
  FROM deals
 WHERE deleted_at IS NULL AND stage_id IS NOT NULL
 GROUP BY stage_id, coalesce(currency, '');

CREATE TRIGGER deal_totals_insert AFTER INSERT ON deals
WHEN NEW.deleted_at IS NULL AND NEW.stage_id IS NOT NULL
BEGIN
    INSERT INTO deal_stage_totals (stage_id, currency, deals, with_amount, amount_units, amount_micro)
    VALUES (NEW.stage_id, coalesce(NEW.currency, ''), 1, NEW.amount IS NOT NULL,
            coalesce(NEW.amount_units, 0), coalesce(NEW.amount_micro, 0))
    ON CONFLICT (stage_id, currency) DO UPDATE SET
        deals = deals + 1,
        with_amount = with_amount + excluded.with_amount,
        amount_units = amount_units + excluded.amount_units,
        amount_micro = amount_micro + excluded.amount_micro;
END;

CREATE TRIGGER deal_totals_update_old AFTER UPDATE OF stage_id, currency, amount, deleted_at ON deals
WHEN OLD.deleted_at IS NULL AND OLD.stage_id IS NOT NULL
BEGIN
    UPDATE deal_stage_totals SET
        deals = deals - 1,
        with_amount = with_amount - (OLD.amount IS NOT NULL),
        amount_units = amount_units - coalesce(OLD.amount_units, 0),
        amount_micro = amount_micro - coalesce(OLD.amount_micro, 0)
     WHERE stage_id = OLD.stage_id AND currency = coalesce(OLD.currency, '');
END;

CREATE TRIGGER deal_totals_update_new AFTER UPDATE OF stage_id, currency, amount, deleted_at ON deals
WHEN NEW.deleted_at IS NULL AND NEW.stage_id IS NOT NULL
BEGIN
    INSERT INTO deal_stage_totals (stage_id, currency, deals, with_amount, amount_units, amount_micro)
    VALUES (NEW.stage_id, coalesce(NEW.currency, ''), 1, NEW.amount IS NOT NULL,
            coalesce(NEW.amount_units, 0), coalesce(NEW.amount_micro, 0))
    ON CONFLICT (stage_id, currency) DO UPDATE SET
        deals = deals + 1,
        with_amount = with_amount + excluded.with_amount,
        amount_units = amount_units + excluded.amount_units,
        amount_micro = amount_micro + excluded.amount_micro;
END;

CREATE TRIGGER deal_totals_delete AFTER DELETE ON deals
WHEN OLD.deleted_at IS NULL AND OLD.stage_id IS NOT NULL
BEGIN
    UPDATE deal_stage_totals SET
        deals = deals - 1,
        with_amount = with_amount - (OLD.amount IS NOT NULL),
        amount_units = amount_units - coalesce(OLD.amount_units, 0),
        amount_micro = amount_micro - coalesce(OLD.amount_micro, 0)
     WHERE stage_id = OLD.stage_id AND currency = coalesce(OLD.currency, '');
END;

-- The totals index of 0003 is no longer read; deals by pipeline (deal counts,
-- the forecast's filter) and a column's rotting deals are.
DROP INDEX deals_totals;
CREATE INDEX deals_pipeline ON deals (pipeline_id) WHERE deleted_at IS NULL;
CREATE INDEX deals_rotting ON deals (stage_id, stage_entered_at)
    WHERE deleted_at IS NULL AND status = 'open';
