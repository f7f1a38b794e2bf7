-- The identifier hashes (hub_protocol::event::identity_hash of userId, anonymousId and
-- traits' email) of each dead letter, read from the full event before `raw` is cut to
-- 16 KiB: an erasure deletes the dead letters about the person even when the cut text
-- no longer shows who it was (docs/privacy.md). JSON array of hex strings.
ALTER TABLE dead_letters ADD COLUMN identity_hashes TEXT NOT NULL DEFAULT '[]';
