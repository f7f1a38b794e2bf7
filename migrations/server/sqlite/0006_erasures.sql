-- hub-server on SQLite: erasure of a person (docs/privacy.md).
-- When a device's erasure change is merged, the server deletes the person's rows (their
-- versions, their change history, their conflicts) and remembers them here, so that no
-- later push can bring them back: a change to an erased row, or one that links a row to
-- an erased contact, is refused. Shared SQL: src/storage/sync.rs.

CREATE TABLE erased_contacts (
    workspace_id TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    erased_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, contact_id)
);

CREATE TABLE erased_rows (
    workspace_id TEXT NOT NULL,
    entity       TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, entity, row_id)
);

-- SHA-256 of an erased person's identifiers (hub_protocol::event::identity_hash):
-- collected events carrying one are dropped.
CREATE TABLE suppressed_identities (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    hash         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, hash)
);
