-- A person's ticket queue (the tickets list filtered by assignee, and the
-- Today view's "my tickets") is sorted by status, priority, due date and age:
-- with those columns in the index, ordering a few thousand tickets reads no
-- table rows (8 ms -> under 1 ms for 1,667 tickets at 100k contacts).
DROP INDEX tickets_assignee_nocase;
CREATE INDEX tickets_queue ON tickets (assignee COLLATE NOCASE, status, priority, due_at, created_at, id, deleted_at)
    WHERE deleted_at IS NULL;
