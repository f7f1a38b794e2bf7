-- Campaign touches and attribution (issue 7, docs/campaigns.md).
--
-- A touch is an event that names a campaign: its `context.campaign` object
-- (Segment's spec: name, source, medium, term, content) or, field by field
-- where the object has no value, the UTM parameters (utm_campaign, utm_source,
-- utm_medium, utm_term, utm_content) of its page URL (`context.page.url`, else
-- `properties.url`). An event is a touch when it has a campaign name, a source
-- or a medium. The campaign name follows the same rule as `event_campaigns` of
-- 0019 (which segments read), with full percent-decoding on top.
--
-- `campaign_touches` is local bookkeeping (not synced), one row per touch,
-- kept by the triggers below whichever way an event arrives (import, the
-- server's stream, any order) and however its contact changes (identities
-- resolved later, merges, purges), so the campaign report reads one small,
-- indexed table instead of parsing a million JSON bodies.
--
-- Parsing happens here, in SQL, as the event is stored. URL values are
-- query-string encoded: '+' is a space and %XX a byte. SQLite has no
-- percent-decoder, so a value with a '%' is stored as it was in the URL and
-- its bit is set in `encoded` (1 campaign, 2 source, 4 medium, 8 term,
-- 16 content); hub_core::campaigns decodes those few rows (UTF-8) before it
-- reads the table. Values from `context.campaign` are already plain text.
CREATE TABLE campaign_touches (
    event_rk     INTEGER PRIMARY KEY,   -- events.rk
    contact_rk   INTEGER,               -- events.contact_rk (NULL: anonymous)
    anonymous_id TEXT,                  -- events.anonymous_id while contact_rk is NULL, else NULL
    at_ms        INTEGER NOT NULL,      -- the event's timestamp
    campaign     TEXT,
    source       TEXT,
    medium       TEXT,
    term         TEXT,
    content      TEXT,
    encoded      INTEGER NOT NULL DEFAULT 0
);
-- A contact's first and last touch; a deal's touches before a time.
CREATE INDEX campaign_touches_contact ON campaign_touches (contact_rk, at_ms, event_rk)
    WHERE contact_rk IS NOT NULL;
-- The report, from the index alone and in its order: per campaign, each
-- visitor's touches side by side (a contact's, or an anonymous id's: hence
-- anonymous_id only while there is no contact), the time range a filter. A
-- scan of it beats a range scan on time plus sorting even for a month of a
-- year's touches (docs/campaigns.md, Performance).
CREATE INDEX campaign_touches_key ON campaign_touches
    (campaign, source, medium, contact_rk, anonymous_id, at_ms);
CREATE INDEX campaign_touches_encoded ON campaign_touches (event_rk) WHERE encoded <> 0;

-- The parse, as one view read by the triggers. A trigger cannot hold a WITH
-- clause, and SQLite flattens nested views by copying each column's
-- expression wherever it is used, so a step-by-step chain of views would
-- evaluate the first steps (the JSON reads) dozens of times per event.
-- Instead every intermediate value is bound once, as the single row of
-- `json_each(json_array(value))` (a "let"), and later steps read its `value`:
--   o  the `context.campaign` object (JSON text), when it is an object;
--   u  the page URL: `context.page.url`, else `properties.url`;
--   f  the URL without its fragment;
--   q  its query string with a leading '&' (so every parameter starts with '&');
--   r  the five UTM values as a JSON array: from the parameter's '=' up to
--      the next '&', trimmed, empty = absent, still encoded.
-- Then each field is the object's value (text or number), else the URL's
-- ('+' read as a space when there is no '%' to decode; with one, kept raw and
-- its bit set in `encoded`). Only events naming a campaign, a source or a
-- medium are touches.
CREATE VIEW campaign_event_touches AS
SELECT rk, contact_rk, CASE WHEN contact_rk IS NULL THEN anonymous_id END AS anonymous_id, at_ms,
       coalesce(o_campaign, CASE WHEN instr(u_campaign, '%') > 0 THEN u_campaign
                                 ELSE nullif(trim(replace(u_campaign, '+', ' ')), '') END) AS campaign,
       coalesce(o_source, CASE WHEN instr(u_source, '%') > 0 THEN u_source
                               ELSE nullif(trim(replace(u_source, '+', ' ')), '') END) AS source,
       coalesce(o_medium, CASE WHEN instr(u_medium, '%') > 0 THEN u_medium
                               ELSE nullif(trim(replace(u_medium, '+', ' ')), '') END) AS medium,
       coalesce(o_term, CASE WHEN instr(u_term, '%') > 0 THEN u_term
                             ELSE nullif(trim(replace(u_term, '+', ' ')), '') END) AS term,
       coalesce(o_content, CASE WHEN instr(u_content, '%') > 0 THEN u_content
                                ELSE nullif(trim(replace(u_content, '+', ' ')), '') END) AS content,
       (CASE WHEN o_campaign IS NULL AND instr(u_campaign, '%') > 0 THEN 1 ELSE 0 END)
     | (CASE WHEN o_source IS NULL AND instr(u_source, '%') > 0 THEN 2 ELSE 0 END)
     | (CASE WHEN o_medium IS NULL AND instr(u_medium, '%') > 0 THEN 4 ELSE 0 END)
     | (CASE WHEN o_term IS NULL AND instr(u_term, '%') > 0 THEN 8 ELSE 0 END)
     | (CASE WHEN o_content IS NULL AND instr(u_content, '%') > 0 THEN 16 ELSE 0 END) AS encoded
  FROM (
    SELECT e.rk, e.contact_rk, e.anonymous_id, e.at_ms,
           CASE WHEN json_type(o.value, '$.name') IN ('text', 'integer', 'real')
                THEN nullif(trim(json_extract(o.value, '$.name')), '') END AS o_campaign,
           CASE WHEN json_type(o.value, '$.source') IN ('text', 'integer', 'real')
                THEN nullif(trim(json_extract(o.value, '$.source')), '') END AS o_source,
           CASE WHEN json_type(o.value, '$.medium') IN ('text', 'integer', 'real')
                THEN nullif(trim(json_extract(o.value, '$.medium')), '') END AS o_medium,
           CASE WHEN json_type(o.value, '$.term') IN ('text', 'integer', 'real')
                THEN nullif(trim(json_extract(o.value, '$.term')), '') END AS o_term,
           CASE WHEN json_type(o.value, '$.content') IN ('text', 'integer', 'real')
                THEN nullif(trim(json_extract(o.value, '$.content')), '') END AS o_content,
           json_extract(r.value, '$[0]') AS u_campaign,
           json_extract(r.value, '$[1]') AS u_source,
           json_extract(r.value, '$[2]') AS u_medium,
           json_extract(r.value, '$[3]') AS u_term,
           json_extract(r.value, '$[4]') AS u_content
      FROM events e,
           json_each(json_array(CASE WHEN json_type(e.body, '$.context.campaign') = 'object'
                                     THEN json_extract(e.body, '$.context.campaign') END)) AS o,
           json_each(json_array(CASE WHEN json_type(e.body, '$.context.page.url') = 'text'
                                     THEN json_extract(e.body, '$.context.page.url')
                                     WHEN json_type(e.body, '$.properties.url') = 'text'
                                     THEN json_extract(e.body, '$.properties.url') END)) AS u,
           json_each(json_array(CASE WHEN instr(u.value, '#') > 0
                                     THEN substr(u.value, 1, instr(u.value, '#') - 1)
                                     ELSE u.value END)) AS f,
           json_each(json_array(CASE WHEN instr(f.value, '?') > 0
                                     THEN '&' || substr(f.value, instr(f.value, '?') + 1) END)) AS q,
           json_each(json_array(json_array(
               CASE WHEN instr(q.value, '&utm_campaign=') > 0 THEN
                   nullif(trim(substr(substr(q.value, instr(q.value, '&utm_campaign=') + 14), 1,
                       instr(substr(q.value, instr(q.value, '&utm_campaign=') + 14) || '&', '&') - 1)), '')
               END,
               CASE WHEN instr(q.value, '&utm_source=') > 0 THEN
                   nullif(trim(substr(substr(q.value, instr(q.value, '&utm_source=') + 12), 1,
                       instr(substr(q.value, instr(q.value, '&utm_source=') + 12) || '&', '&') - 1)), '')
               END,
               CASE WHEN instr(q.value, '&utm_medium=') > 0 THEN
                   nullif(trim(substr(substr(q.value, instr(q.value, '&utm_medium=') + 12), 1,
                       instr(substr(q.value, instr(q.value, '&utm_medium=') + 12) || '&', '&') - 1)), '')
               END,
               CASE WHEN instr(q.value, '&utm_term=') > 0 THEN
                   nullif(trim(substr(substr(q.value, instr(q.value, '&utm_term=') + 10), 1,
                       instr(substr(q.value, instr(q.value, '&utm_term=') + 10) || '&', '&') - 1)), '')
               END,
               CASE WHEN instr(q.value, '&utm_content=') > 0 THEN
                   nullif(trim(substr(substr(q.value, instr(q.value, '&utm_content=') + 13), 1,
                       instr(substr(q.value, instr(q.value, '&utm_content=') + 13) || '&', '&') - 1)), '')
               END
           ))) AS r
     WHERE instr(e.body, 'utm_') > 0 OR instr(e.body, 'campaign') > 0)
 WHERE coalesce(o_campaign, o_source, o_medium,
                nullif(trim(replace(u_campaign, '+', ' ')), ''),
                nullif(trim(replace(u_source, '+', ' ')), ''),
                nullif(trim(replace(u_medium, '+', ' ')), '')) IS NOT NULL;

-- Events stored before this migration.
INSERT INTO campaign_touches (event_rk, contact_rk, anonymous_id, at_ms, campaign, source, medium,
                              term, content, encoded)
SELECT rk, contact_rk, anonymous_id, at_ms, campaign, source, medium, term, content, encoded
  FROM campaign_event_touches;

CREATE TRIGGER campaign_touches_event_insert AFTER INSERT ON events
WHEN instr(NEW.body, 'utm_') > 0 OR instr(NEW.body, 'campaign') > 0
BEGIN
    INSERT OR REPLACE INTO campaign_touches (event_rk, contact_rk, anonymous_id, at_ms, campaign,
                                             source, medium, term, content, encoded)
    SELECT rk, contact_rk, anonymous_id, at_ms, campaign, source, medium, term, content, encoded
      FROM campaign_event_touches WHERE rk = NEW.rk;
END;

-- Identities resolved later, a merge, a purge: the touch follows its event.
CREATE TRIGGER campaign_touches_event_resolved AFTER UPDATE OF contact_rk ON events
WHEN OLD.contact_rk IS NOT NEW.contact_rk
BEGIN
    UPDATE campaign_touches
       SET contact_rk = NEW.contact_rk,
           anonymous_id = CASE WHEN NEW.contact_rk IS NULL THEN NEW.anonymous_id END
     WHERE event_rk = NEW.rk;
END;

CREATE TRIGGER campaign_touches_event_delete AFTER DELETE ON events
BEGIN
    DELETE FROM campaign_touches WHERE event_rk = OLD.rk;
END;
