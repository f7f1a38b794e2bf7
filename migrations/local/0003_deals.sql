-- Deals, pipelines and the forecast (docs/deals.md).
--
-- Money is rust_decimal::Decimal as TEXT in its plain form ("1234.50"),
-- never a float; a currency is an ISO 4217 code. Times are RFC 3339 UTC
-- text with ms and Z (text order is time order); dates are `YYYY-MM-DD`.

-- A pipeline: the stages a kind of deal goes through. The default "Sales"
-- pipeline and its stages have UUID v5 ids, so two devices that each create
-- it offline end up with one.
CREATE TABLE pipelines (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    position    INTEGER,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE pipeline_stages (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    pipeline_id TEXT,
    name        TEXT,
    position    INTEGER,
    -- Win probability in percent, a Decimal in 0..=100 as TEXT ("12.5").
    probability TEXT,
    -- 'open', 'won' or 'lost'.
    kind        TEXT,
    -- A deal idle in this stage for more days than this is stale; NULL: never.
    rot_days    INTEGER,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE deals (
    rk               INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    title            TEXT,
    contact_id       TEXT,
    company_id       TEXT,
    pipeline_id      TEXT,
    stage_id         TEXT,
    amount           TEXT,          -- Decimal, >= 0, at most the currency's minor digits
    currency         TEXT,          -- ISO 4217
    expected_close   TEXT,          -- YYYY-MM-DD
    owner            TEXT,
    -- 'open', 'won' or 'lost'; a deal in a won/lost stage has that status.
    status           TEXT,
    close_reason     TEXT,
    closed_at        TEXT,
    stage_entered_at TEXT,
    notes            TEXT,
    created_at       TEXT,
    deleted_at       TEXT,
    updated_ms       INTEGER NOT NULL DEFAULT 0,
    clocks           TEXT NOT NULL DEFAULT '{}',
    -- Local, not synced: the amount split into whole units and millionths,
    -- so column totals are exact integer SUMs in SQL (amounts have at most
    -- 6 decimal places and are below 10^15). Derived from `amount` by SQLite.
    amount_units     INTEGER GENERATED ALWAYS AS (CAST(amount AS INTEGER)) VIRTUAL,
    amount_micro     INTEGER GENERATED ALWAYS AS (
        CASE WHEN instr(amount, '.') > 0
             THEN CAST(substr(substr(amount, instr(amount, '.') + 1) || '000000', 1, 6) AS INTEGER)
             ELSE 0 END) VIRTUAL
);
-- The Kanban: a column's page in order, and its totals from the index alone.
CREATE INDEX deals_board ON deals (stage_id, coalesce(expected_close, '9999-12-31'))
    WHERE deleted_at IS NULL;
CREATE INDEX deals_totals ON deals (pipeline_id, stage_id, currency, amount_units, amount_micro, stage_entered_at)
    WHERE deleted_at IS NULL;
CREATE INDEX deals_contact ON deals (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX deals_company ON deals (company_id) WHERE company_id IS NOT NULL;

-- Products on a deal, optional. quantity and unit_price are Decimal TEXT.
CREATE TABLE deal_line_items (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    deal_id     TEXT,
    name        TEXT,
    quantity    TEXT,
    unit_price  TEXT,
    position    INTEGER,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX deal_line_items_deal ON deal_line_items (deal_id, position);

-- Every stage move of a deal (its creation too, from NULL): the timeline's
-- history. Written once, never edited.
CREATE TABLE deal_stage_changes (
    rk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    deal_id       TEXT,
    from_stage_id TEXT,
    to_stage_id   TEXT,
    changed_at    TEXT,
    changed_by    TEXT,
    deleted_at    TEXT,
    updated_ms    INTEGER NOT NULL DEFAULT 0,
    clocks        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX deal_stage_changes_deal ON deal_stage_changes (deal_id, changed_at);

-- User-maintained exchange rates: 1 `currency` = `rate` units of `base`
-- (the base currency when the rate was entered; a rate against another base
-- is not used). The id is a UUID v5 of the currency, so two devices that
-- set a rate offline write the same row and the later edit wins.
CREATE TABLE exchange_rates (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    currency    TEXT,
    base        TEXT,
    rate        TEXT,
    updated_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);

-- Settings the whole team shares (unlike `meta`, which is this device's):
-- the base currency of forecasts is one. The id is a UUID v5 of the key, so
-- a setting is one row on every device; `value` is JSON.
CREATE TABLE workspace_settings (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    key         TEXT,
    value       TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
