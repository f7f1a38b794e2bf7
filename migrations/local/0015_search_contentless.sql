-- The search index keeps no copy of the text it indexes (contentless), which
-- makes building it about a quarter cheaper (a first sync builds it for every
-- contact) and the file smaller. Hits are named from `contacts` by rowid.
-- contentless_delete lets the write path delete a contact's entry by rowid.
DROP TABLE contact_search;
CREATE VIRTUAL TABLE contact_search USING fts5 (
    name, emails, phones, company,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3',
    -- Only "every word is a prefix" queries are asked: no phrases, no
    -- ranking, so positions are not stored and doclists stay small.
    detail = none,
    content = '',
    contentless_delete = 1
);
-- Index the contacts this database already has, as search::rebuild does.
INSERT INTO contact_search (rowid, name, emails, phones, company)
SELECT c.rk,
       concat_ws(' ', c.display_name, c.first_name, c.last_name, c.title),
       (SELECT group_concat(e.address, ' ') FROM contact_emails e
         WHERE e.contact_id = c.id AND e.deleted_at IS NULL),
       (SELECT group_concat(concat_ws(' ', substr(p.number, 2), substr(p.number,
                 CASE WHEN substr(p.number, 2, 1) IN ('1', '7') THEN 3
                      WHEN substr(p.number, 2, 2) IN ('20', '27', '30', '31', '32', '33', '34',
                           '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49', '51',
                           '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64',
                           '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95',
                           '98') THEN 4
                      ELSE 5 END)), ' ')
          FROM contact_phones p WHERE p.contact_id = c.id AND p.deleted_at IS NULL),
       concat_ws(' ', co.name, co.domain)
  FROM contacts c
  LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
 WHERE c.deleted_at IS NULL;
