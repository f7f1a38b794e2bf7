-- Audience export members, compact (docs/audiences.md "Removal lists").
--
-- A 100,000-member export wrote ~270 bytes a member: the export's id text in every
-- row, the keys as hex text and an index by contact that no query used. Now the
-- export is its local rk and the keys their raw bytes (SHA-256: 32, MD5: 16), about
-- 110 bytes a member, which is most of an export's write and commit time.
CREATE TABLE audience_export_members_compact (
    export_rk   INTEGER NOT NULL,  -- audience_exports.rk
    contact_id  TEXT NOT NULL,
    email_key   BLOB,
    phone_key   BLOB,
    -- When a removal file listing this member was written (NULL: not yet).
    removal_at  TEXT,
    PRIMARY KEY (export_rk, contact_id)
) WITHOUT ROWID;

INSERT INTO audience_export_members_compact (export_rk, contact_id, email_key, phone_key, removal_at)
SELECT x.rk, m.contact_id, unhex(m.email_key), unhex(m.phone_key), m.removal_at
  FROM audience_export_members m JOIN audience_exports x ON x.id = m.export_id;

DROP TABLE audience_export_members;
ALTER TABLE audience_export_members_compact RENAME TO audience_export_members;
