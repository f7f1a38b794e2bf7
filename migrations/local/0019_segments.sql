-- Segments (issue 6, docs/segments.md): rule-based lists of contacts that update
-- live and tag their members.
--
-- `segments` is a synced entity (EntityDef `segment`): the rule and the entry
-- triggers are JSON texts, `tag_id` the segment tag ("segment: NAME", a synced tag
-- with a derived id). Membership and the enter/exit history are derived locally:
-- every device computes them from the same data (hub_core::segments::refresh).
CREATE TABLE segments (
    rk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT,
    rule        TEXT,                  -- JSON rule tree (docs/segments.md)
    tag_id      TEXT,
    triggers    TEXT,                  -- JSON entry triggers, or NULL
    created_at  TEXT,
    deleted_at  TEXT,
    updated_ms  INTEGER NOT NULL DEFAULT 0,
    clocks      TEXT NOT NULL DEFAULT '{}'
);

-- Local: the contacts in each segment now.
CREATE TABLE segment_members (
    segment_rk  INTEGER NOT NULL,
    contact_rk  INTEGER NOT NULL,
    entered_ms  INTEGER NOT NULL,
    PRIMARY KEY (segment_rk, contact_rk)
) WITHOUT ROWID;
CREATE INDEX segment_members_contact ON segment_members (contact_rk);

-- Local: every entry and exit, for the timeline and `hub segment show`.
CREATE TABLE segment_history (
    rk          INTEGER PRIMARY KEY,
    segment_id  TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,         -- 'entered' | 'exited'
    at          TEXT NOT NULL,         -- RFC 3339 UTC, the refresh's clock
    at_ms       INTEGER NOT NULL
);
CREATE INDEX segment_history_contact ON segment_history (contact_id, at, rk);
CREATE INDEX segment_history_segment ON segment_history (segment_id, at_ms);

-- Local: what each segment was last computed from. `rule` is the rule text of
-- the last full computation (a different text now = recompute in full);
-- `checked_ms` the clock of the last refresh (time-based conditions re-check
-- the contacts whose events crossed the window's edge since).
CREATE TABLE segment_state (
    segment_rk  INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    checked_ms  INTEGER NOT NULL
);

-- Local: contacts to re-evaluate, filled by the triggers below whichever way
-- a row arrives (a local write, a sync pull, a snapshot, an event import).
-- Only while some live segment exists: creating the first one computes all.
CREATE TABLE segment_queue (
    contact_rk  INTEGER PRIMARY KEY
);

-- Local: each contact's first event that names a campaign (context.campaign.name,
-- else utm_campaign in context.page.url or properties.url), kept by triggers.
CREATE TABLE contact_first_touch (
    contact_rk  INTEGER PRIMARY KEY,
    event_rk    INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    campaign    TEXT NOT NULL
);

-- Behavioural conditions read events by name and time, and by time alone.
CREATE INDEX events_name_time ON events (name, at_ms, contact_rk) WHERE contact_rk IS NOT NULL;
CREATE INDEX events_time ON events (at_ms, contact_rk) WHERE contact_rk IS NOT NULL;

-- The campaign of an event (see contact_first_touch): views, so the triggers
-- and hub_core::segments read one definition. Step by step: the campaign name
-- and the page URL; the URL from its utm_campaign parameter on; that up to
-- the next parameter or fragment, '+' and '%20' read as spaces.
CREATE VIEW event_campaign_sources AS
SELECT e.rk, e.contact_rk, e.at_ms,
       nullif(trim(json_extract(e.body, '$.context.campaign.name')), '') AS named,
       coalesce(json_extract(e.body, '$.context.page.url'),
                json_extract(e.body, '$.properties.url')) AS url
  FROM events e
 WHERE instr(e.body, 'campaign') > 0;

CREATE VIEW event_campaign_params AS
SELECT rk, contact_rk, at_ms, named,
       CASE WHEN instr(url, '?utm_campaign=') > 0 THEN substr(url, instr(url, '?utm_campaign=') + 14)
            WHEN instr(url, '&utm_campaign=') > 0 THEN substr(url, instr(url, '&utm_campaign=') + 14)
       END AS tail
  FROM event_campaign_sources;

CREATE VIEW event_campaign_values AS
SELECT rk, contact_rk, at_ms, named,
       CASE WHEN instr(tail, '#') > 0 THEN substr(tail, 1, instr(tail, '#') - 1) ELSE tail END AS tail
  FROM event_campaign_params;

CREATE VIEW event_campaigns AS
SELECT rk, contact_rk, at_ms,
       coalesce(named, nullif(trim(replace(replace(
           substr(tail, 1, CASE WHEN instr(tail, '&') > 0 THEN instr(tail, '&') - 1 ELSE length(tail) END),
           '+', ' '), '%20', ' ')), '')) AS campaign
  FROM event_campaign_values
 WHERE coalesce(named, nullif(trim(replace(replace(
           substr(tail, 1, CASE WHEN instr(tail, '&') > 0 THEN instr(tail, '&') - 1 ELSE length(tail) END),
           '+', ' '), '%20', ' ')), '')) IS NOT NULL;

-- Events stored before this migration.
INSERT INTO contact_first_touch (contact_rk, event_rk, at_ms, campaign)
SELECT contact_rk, rk, at_ms, campaign FROM (
    SELECT v.*, row_number() OVER (PARTITION BY v.contact_rk ORDER BY v.at_ms, v.rk) AS n
      FROM event_campaigns v WHERE v.contact_rk IS NOT NULL)
 WHERE n = 1;

CREATE TRIGGER segments_first_touch_resolved AFTER UPDATE OF contact_rk ON events
WHEN instr(NEW.body, 'campaign') > 0
BEGIN
    -- The event left a contact whose first touch it was: that contact's next one.
    DELETE FROM contact_first_touch WHERE contact_rk = OLD.contact_rk AND event_rk = OLD.rk;
    INSERT OR REPLACE INTO contact_first_touch (contact_rk, event_rk, at_ms, campaign)
    SELECT v.contact_rk, v.rk, v.at_ms, v.campaign FROM event_campaigns v
     WHERE v.contact_rk = OLD.contact_rk
       AND NOT EXISTS (SELECT 1 FROM contact_first_touch f WHERE f.contact_rk = OLD.contact_rk)
     ORDER BY v.at_ms, v.rk LIMIT 1;
    -- The event joined a contact: its first touch if it is earlier.
    INSERT OR REPLACE INTO contact_first_touch (contact_rk, event_rk, at_ms, campaign)
    SELECT v.contact_rk, v.rk, v.at_ms, v.campaign FROM event_campaigns v
     WHERE v.rk = NEW.rk AND v.contact_rk IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM contact_first_touch f
                        WHERE f.contact_rk = v.contact_rk
                          AND (f.at_ms < v.at_ms OR (f.at_ms = v.at_ms AND f.event_rk < v.rk)));
END;

CREATE TRIGGER segments_first_touch_insert AFTER INSERT ON events
WHEN NEW.contact_rk IS NOT NULL AND instr(NEW.body, 'campaign') > 0
BEGIN
    INSERT OR REPLACE INTO contact_first_touch (contact_rk, event_rk, at_ms, campaign)
    SELECT v.contact_rk, v.rk, v.at_ms, v.campaign FROM event_campaigns v
     WHERE v.rk = NEW.rk
       AND NOT EXISTS (SELECT 1 FROM contact_first_touch f
                        WHERE f.contact_rk = v.contact_rk
                          AND (f.at_ms < v.at_ms OR (f.at_ms = v.at_ms AND f.event_rk < v.rk)));
END;

CREATE TRIGGER segments_first_touch_delete AFTER DELETE ON events
WHEN OLD.contact_rk IS NOT NULL
BEGIN
    DELETE FROM contact_first_touch WHERE contact_rk = OLD.contact_rk AND event_rk = OLD.rk;
    INSERT OR REPLACE INTO contact_first_touch (contact_rk, event_rk, at_ms, campaign)
    SELECT v.contact_rk, v.rk, v.at_ms, v.campaign FROM event_campaigns v
     WHERE v.contact_rk = OLD.contact_rk
       AND NOT EXISTS (SELECT 1 FROM contact_first_touch f WHERE f.contact_rk = OLD.contact_rk)
     ORDER BY v.at_ms, v.rk LIMIT 1;
END;

-- ---- the re-evaluation queue ------------------------------------------------
-- Each trigger queues the contacts whose rule inputs a row change may touch.

CREATE TRIGGER segments_queue_contact_insert AFTER INSERT ON contacts
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) VALUES (NEW.rk);
END;

CREATE TRIGGER segments_queue_contact_update AFTER UPDATE OF
    first_name, last_name, display_name, title, company_id, lifecycle_stage, owner, source,
    created_at, deleted_at ON contacts
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) VALUES (NEW.rk);
END;

CREATE TRIGGER segments_queue_email_insert AFTER INSERT ON contact_emails
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.contact_id;
END;

CREATE TRIGGER segments_queue_email_update AFTER UPDATE OF contact_id, address, deleted_at ON contact_emails
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.contact_id, NEW.contact_id);
END;

CREATE TRIGGER segments_queue_phone_insert AFTER INSERT ON contact_phones
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.contact_id;
END;

CREATE TRIGGER segments_queue_phone_update AFTER UPDATE OF contact_id, number, deleted_at ON contact_phones
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.contact_id, NEW.contact_id);
END;

-- A company that arrives after its contacts (sync applies tables in any order) or changes.
CREATE TRIGGER segments_queue_company_insert AFTER INSERT ON companies
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE company_id = NEW.id;
END;

CREATE TRIGGER segments_queue_company_update AFTER UPDATE OF
    name, domain, industry, size, city, region, country, created_at, deleted_at ON companies
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE company_id = NEW.id;
END;

CREATE TRIGGER segments_queue_contact_tag_insert AFTER INSERT ON contact_tags
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.contact_id;
END;

CREATE TRIGGER segments_queue_contact_tag_update AFTER UPDATE OF contact_id, tag_id, deleted_at ON contact_tags
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.contact_id, NEW.contact_id);
END;

-- A tag deleted or revived (its links stay): every contact that has a link to it.
CREATE TRIGGER segments_queue_tag_insert AFTER INSERT ON tags
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM contact_tags l JOIN contacts c ON c.id = l.contact_id WHERE l.tag_id = NEW.id;
END;

CREATE TRIGGER segments_queue_tag_update AFTER UPDATE OF deleted_at ON tags
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM contact_tags l JOIN contacts c ON c.id = l.contact_id WHERE l.tag_id = NEW.id;
END;

CREATE TRIGGER segments_queue_deal_insert AFTER INSERT ON deals
WHEN NEW.contact_id IS NOT NULL AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.contact_id;
END;

CREATE TRIGGER segments_queue_deal_update AFTER UPDATE OF
    contact_id, pipeline_id, stage_id, amount, currency, status, deleted_at ON deals
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.contact_id, NEW.contact_id);
END;

-- Deal conditions name stages and pipelines: a rename or delete moves deals in or out.
CREATE TRIGGER segments_queue_stage_change AFTER UPDATE OF name, pipeline_id, deleted_at ON pipeline_stages
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.stage_id = NEW.id;
END;

CREATE TRIGGER segments_queue_stage_insert AFTER INSERT ON pipeline_stages
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.stage_id = NEW.id;
END;

CREATE TRIGGER segments_queue_pipeline_change AFTER UPDATE OF name, deleted_at ON pipelines
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.pipeline_id = NEW.id;
END;

-- Won amounts in the base currency: a rate or the base currency changes them all.
CREATE TRIGGER segments_queue_rate_insert AFTER INSERT ON exchange_rates
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.status = 'won';
END;

CREATE TRIGGER segments_queue_rate_update AFTER UPDATE OF currency, base, rate, deleted_at ON exchange_rates
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.status = 'won';
END;

CREATE TRIGGER segments_queue_setting_insert AFTER INSERT ON workspace_settings
WHEN NEW.key = 'base_currency' AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.status = 'won';
END;

CREATE TRIGGER segments_queue_setting_update AFTER UPDATE OF value, deleted_at ON workspace_settings
WHEN NEW.key = 'base_currency' AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT c.rk FROM deals d JOIN contacts c ON c.id = d.contact_id WHERE d.status = 'won';
END;

CREATE TRIGGER segments_queue_custom_value_insert AFTER INSERT ON custom_values
WHEN NEW.entity = 'contact' AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) SELECT rk FROM contacts WHERE id = NEW.row_id;
END;

CREATE TRIGGER segments_queue_custom_value_update AFTER UPDATE OF entity, row_id, field_id, value, deleted_at ON custom_values
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT rk FROM contacts WHERE id IN (OLD.row_id, NEW.row_id)
       AND (OLD.entity = 'contact' OR NEW.entity = 'contact');
END;

-- Events: when one is stored for a known contact, moves to another, or is removed.
CREATE TRIGGER segments_queue_event_insert AFTER INSERT ON events
WHEN NEW.contact_rk IS NOT NULL AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) VALUES (NEW.contact_rk);
END;

CREATE TRIGGER segments_queue_event_resolved AFTER UPDATE OF contact_rk ON events
WHEN EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk)
    SELECT NEW.contact_rk WHERE NEW.contact_rk IS NOT NULL
    UNION SELECT OLD.contact_rk WHERE OLD.contact_rk IS NOT NULL;
END;

CREATE TRIGGER segments_queue_event_delete AFTER DELETE ON events
WHEN OLD.contact_rk IS NOT NULL AND EXISTS (SELECT 1 FROM segments WHERE deleted_at IS NULL)
BEGIN
    INSERT OR IGNORE INTO segment_queue (contact_rk) VALUES (OLD.contact_rk);
END;

-- A contact removed for good (demo purge): it leaves every segment.
CREATE TRIGGER segments_contact_purged AFTER DELETE ON contacts
BEGIN
    DELETE FROM segment_members WHERE contact_rk = OLD.rk;
    DELETE FROM contact_first_touch WHERE contact_rk = OLD.rk;
    DELETE FROM segment_queue WHERE contact_rk = OLD.rk;
END;
