-- A snapshot page sends the conflicts of its rows: find them by row, not by scanning.
CREATE INDEX conflicts_row ON conflicts (workspace_id, entity, row_id);
