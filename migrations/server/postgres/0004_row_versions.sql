-- One document per row instead of one row per field: a snapshot page reads 1,000 rows,
-- not ~10,000 field rows, and sends each stored document as is (docs/sync.md).
-- `state` is hub_protocol::RowVersions as JSON: {"fields":{f:value},"clocks":{f:hlc},
-- "bases":{f:hlc}} (bases omitted when empty).

CREATE TABLE row_versions (
    workspace_id TEXT NOT NULL,
    entity       TEXT NOT NULL,
    row_id       TEXT NOT NULL,
    state        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, entity, row_id)
);

INSERT INTO row_versions (workspace_id, entity, row_id, state)
SELECT workspace_id, entity, row_id,
       json_build_object(
           'fields', json_object_agg(field, value::json),
           'clocks', json_object_agg(field, clock),
           'bases', coalesce(json_object_agg(field, base) FILTER (WHERE base IS NOT NULL),
                             '{}'::json)
       )::text
FROM field_versions
GROUP BY workspace_id, entity, row_id;

DROP TABLE field_versions;
