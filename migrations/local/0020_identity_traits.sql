-- Which contact fields identity resolution wrote from traits, and from an event of
-- which time (hub_core::identity, docs/events.md "Trait precedence"). Local.
--
-- A trait is written only when the field's current value is not newer than the event:
-- for a value someone else wrote, its clock's wall time is compared with the event's
-- timestamp (a later manual edit wins); for a value resolution wrote itself (its clock
-- is the `hlc` recorded here) the two events' timestamps are compared, so replaying an
-- old file after a newer identify does not undo it.
CREATE TABLE identity_trait_writes (
    row_id  TEXT NOT NULL,      -- the contact (or its tracking address row)
    field   TEXT NOT NULL,
    hlc     TEXT NOT NULL,      -- the field's clock after resolution wrote it
    at_ms   INTEGER NOT NULL,   -- the timestamp of the event whose value it holds
    PRIMARY KEY (row_id, field)
) WITHOUT ROWID;
