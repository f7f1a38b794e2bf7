-- Tags on companies and deals, custom fields and saved views (docs/fields.md).
--
-- Every table here is a synced entity (hub_core::entities), written only
-- through the write path. Ids are UUID v5 derived from what makes a row
-- unique, so two devices that create "the same" row offline converge on
-- one row instead of duplicates.

-- Tag links, like contact_tags: id = v5(kind/row/tag). No foreign key, so a
-- link can arrive by sync before the row it tags.
CREATE TABLE company_tags (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    company_id  TEXT,
    tag_id      TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX company_tags_company ON company_tags (company_id);
CREATE INDEX company_tags_tag ON company_tags (tag_id);

CREATE TABLE deal_tags (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    deal_id     TEXT,
    tag_id      TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX deal_tags_deal ON deal_tags (deal_id);
CREATE INDEX deal_tags_tag ON deal_tags (tag_id);

-- A custom field's definition: id = v5(entity/key). Deleting one is a
-- tombstone; its values stay and come back when it is restored.
CREATE TABLE custom_fields (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    entity      TEXT,           -- contact, company, deal, ticket
    key         TEXT,           -- snake_case, unique per entity
    label       TEXT,
    field_type  TEXT,           -- text, number, date, select, multi_select, checkbox
    options     TEXT,           -- JSON array of option labels (select types)
    position    INTEGER,
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX custom_fields_entity ON custom_fields (entity, position);

-- One value of one custom field on one record: id = v5(field/row), so two
-- devices editing different fields of a contact touch different rows, and
-- two editing the same field merge on one row (the later write wins, the
-- other is kept as a conflict). `value` is canonical text: a number's
-- plain Decimal ("1234.5"), a date "YYYY-MM-DD", a select's option, a multi
-- select's JSON array, a checkbox "true"/"false". NULL: cleared.
CREATE TABLE custom_values (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    entity      TEXT,
    row_id      TEXT,
    field_id    TEXT,
    value       TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}',
    -- Local, not synced: a text key whose order is the numeric order of a
    -- plain decimal `value`, so number filters and sorts compare exactly in
    -- SQL (no float). Non-negative: 'p', the integer digit count (3 digits),
    -- the digits. Negative: 'n', 999 - the digit count, every digit d
    -- replaced by 9 - d, and '~' (sorts after '.' and the digits, so -12 >
    -- -12.5). Mirrored by hub_core::custom_fields::number_key.
    num_key     TEXT GENERATED ALWAYS AS (
        CASE
        WHEN value GLOB '[0-9]*' AND value NOT GLOB '*[^0-9.]*'
            THEN 'p' || printf('%03d', instr(value || '.', '.') - 1) || value
        WHEN value GLOB '-[0-9]*' AND substr(value, 2) NOT GLOB '*[^0-9.]*'
            THEN 'n' || printf('%03d', 999 - (instr(value || '.', '.') - 2)) ||
                 replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
                 replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
                     substr(value, 2),
                 '0', 'j'), '1', 'i'), '2', 'h'), '3', 'g'), '4', 'f'),
                 '5', 'e'), '6', 'd'), '7', 'c'), '8', 'b'), '9', 'a'),
                 'a', '0'), 'b', '1'), 'c', '2'), 'd', '3'), 'e', '4'),
                 'f', '5'), 'g', '6'), 'h', '7'), 'i', '8'), 'j', '9') || '~'
        END) VIRTUAL
);
-- A record's values; a filter's "rows where field F has value V" (text
-- equality ignores case); number comparisons.
CREATE INDEX custom_values_row ON custom_values (row_id, field_id);
CREATE INDEX custom_values_field ON custom_values (field_id, value COLLATE NOCASE)
    WHERE value IS NOT NULL;
CREATE INDEX custom_values_number ON custom_values (field_id, num_key)
    WHERE num_key IS NOT NULL;

-- A saved view: a filtered, sorted list by name; id = v5(lower-cased name),
-- so saving "Hot leads" on two devices keeps one view (the later save wins).
CREATE TABLE saved_views (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    entity      TEXT,           -- contacts, deals, tickets
    filter      TEXT,           -- JSON: hub_core::filters::Filter
    sort        TEXT,           -- JSON: hub_core::filters::Sort, or NULL
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);
