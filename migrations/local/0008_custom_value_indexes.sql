-- Custom field filters answered from the index alone (docs/fields.md):
-- the row id is in the index, and the partial-index condition matches what
-- every filter asks (a set, live value), so no table row is read per match.
-- Measured with crates/hub-core/benches/filters.rs on 100k contacts.
DROP INDEX custom_values_field;
DROP INDEX custom_values_number;
CREATE INDEX custom_values_field ON custom_values (field_id, value COLLATE NOCASE, row_id)
    WHERE value IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX custom_values_number ON custom_values (field_id, num_key, row_id)
    WHERE num_key IS NOT NULL AND deleted_at IS NULL;
