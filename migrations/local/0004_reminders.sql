-- Reminders (tasks with a due time) and the record that a reminder's
-- occurrence was notified to a user (docs/reminders.md).
--
-- Times are RFC 3339 UTC text in one fixed shape, `YYYY-MM-DDTHH:MM:SS.sssZ`
-- (chrono's SecondsFormat::Millis with Z), so text order is time order and
-- `due_at <= ?` works in SQL.

CREATE TABLE reminders (
    rk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    title         TEXT,
    notes         TEXT,
    -- The open occurrence: when the reminder is (next) due, UTC.
    due_at        TEXT,
    -- IANA zone the reminder lives in: recurrence is computed in it, so a
    -- 09:00 reminder stays at 09:00 local time across DST.
    tz            TEXT,
    contact_id    TEXT,
    deal_id       TEXT,
    ticket_id     TEXT,
    -- Whose reminder it is: hub_core::users::current of its creator unless given.
    assignee      TEXT,
    -- RFC 5545 RRULE subset (FREQ, INTERVAL, BYDAY, UNTIL, COUNT); NULL: one-off.
    rrule         TEXT,
    -- The series' first occurrence (DTSTART): recurrence is always computed
    -- from it, so a clamped month-end never drifts and COUNT is exact.
    starts_at     TEXT,
    -- Snoozed: notify (again) at this time instead of due_at.
    snoozed_until TEXT,
    -- Completed (a one-off, or a series with no occurrence left).
    done_at       TEXT,
    created_at    TEXT,
    deleted_at    TEXT,
    updated_ms    INTEGER NOT NULL DEFAULT 0,
    clocks        TEXT NOT NULL DEFAULT '{}'
);
-- Open reminders by due time: the Today view, the scheduler.
CREATE INDEX reminders_open_due ON reminders (due_at) WHERE deleted_at IS NULL AND done_at IS NULL;
CREATE INDEX reminders_contact ON reminders (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX reminders_deal ON reminders (deal_id) WHERE deal_id IS NOT NULL;
CREATE INDEX reminders_ticket ON reminders (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX reminders_assignee ON reminders (assignee, due_at) WHERE deleted_at IS NULL;

-- One row per (reminder, occurrence time, user) that was notified, on any of
-- the user's devices. The id is a UUID v5 of those three, so two devices that
-- notify the same occurrence offline write the same row, and a device that
-- has synced the row does not notify again.
CREATE TABLE reminder_notifications (
    rk            INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    reminder_id   TEXT,
    -- The occurrence notified: the reminder's due_at, or snoozed_until.
    occurrence_at TEXT,
    recipient     TEXT,
    -- 'due' (its own notification) or 'missed' (part of a start/wake summary).
    kind          TEXT,
    notified_at   TEXT,
    device_id     TEXT,
    deleted_at    TEXT,
    updated_ms    INTEGER NOT NULL DEFAULT 0,
    clocks        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX reminder_notifications_reminder ON reminder_notifications (reminder_id);
