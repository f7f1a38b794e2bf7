//! The synced entities: the only tables and columns the generic write path
//! (and later sync) may touch. Adding an entity means adding its table in a
//! migration and one entry here; no new sync code.

#[derive(Debug, PartialEq, Eq)]
pub struct EntityDef {
    /// Name on the wire (`Change::entity`).
    pub name: &'static str,
    pub table: &'static str,
    /// Synced columns, `deleted_at` (the tombstone) included.
    pub fields: &'static [&'static str],
}

impl EntityDef {
    pub fn has_field(&self, field: &str) -> bool {
        self.fields.contains(&field)
    }
}

pub static COMPANY: EntityDef = EntityDef {
    name: "company",
    table: "companies",
    fields: &[
        "name",
        "domain",
        "industry",
        "size",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "created_at",
        "deleted_at",
    ],
};

pub static CONTACT: EntityDef = EntityDef {
    name: "contact",
    table: "contacts",
    fields: &[
        "first_name",
        "last_name",
        "display_name",
        "title",
        "company_id",
        "lifecycle_stage",
        "owner",
        "source",
        "notes",
        "created_at",
        "deleted_at",
        "stay_in_touch_days",
        "birthday",
        "website",
        "photo",
    ],
};

pub static CONTACT_EMAIL: EntityDef = EntityDef {
    name: "contact_email",
    table: "contact_emails",
    fields: &["contact_id", "kind", "address", "position", "deleted_at"],
};

pub static CONTACT_PHONE: EntityDef = EntityDef {
    name: "contact_phone",
    table: "contact_phones",
    fields: &["contact_id", "kind", "number", "position", "deleted_at"],
};

pub static CONTACT_ADDRESS: EntityDef = EntityDef {
    name: "contact_address",
    table: "contact_addresses",
    fields: &[
        "contact_id",
        "kind",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "position",
        "deleted_at",
    ],
};

pub static TAG: EntityDef = EntityDef {
    name: "tag",
    table: "tags",
    fields: &["name", "color", "deleted_at"],
};

pub static CONTACT_TAG: EntityDef = EntityDef {
    name: "contact_tag",
    table: "contact_tags",
    fields: &["contact_id", "tag_id", "deleted_at"],
};

pub static COMPANY_TAG: EntityDef = EntityDef {
    name: "company_tag",
    table: "company_tags",
    fields: &["company_id", "tag_id", "deleted_at"],
};

pub static DEAL_TAG: EntityDef = EntityDef {
    name: "deal_tag",
    table: "deal_tags",
    fields: &["deal_id", "tag_id", "deleted_at"],
};

pub static CUSTOM_FIELD: EntityDef = EntityDef {
    name: "custom_field",
    table: "custom_fields",
    fields: &[
        "entity",
        "key",
        "label",
        "field_type",
        "options",
        "position",
        "created_at",
        "deleted_at",
    ],
};

pub static CUSTOM_VALUE: EntityDef = EntityDef {
    name: "custom_value",
    table: "custom_values",
    fields: &["entity", "row_id", "field_id", "value", "deleted_at"],
};

pub static SAVED_VIEW: EntityDef = EntityDef {
    name: "saved_view",
    table: "saved_views",
    fields: &[
        "name",
        "entity",
        "filter",
        "sort",
        "created_at",
        "deleted_at",
    ],
};

pub static REMINDER: EntityDef = EntityDef {
    name: "reminder",
    table: "reminders",
    fields: &[
        "title",
        "notes",
        "due_at",
        "tz",
        "contact_id",
        "deal_id",
        "ticket_id",
        "assignee",
        "rrule",
        "starts_at",
        "snoozed_until",
        "done_at",
        "created_at",
        "deleted_at",
    ],
};

pub static REMINDER_NOTIFICATION: EntityDef = EntityDef {
    name: "reminder_notification",
    table: "reminder_notifications",
    fields: &[
        "reminder_id",
        "occurrence_at",
        "recipient",
        "kind",
        "notified_at",
        "device_id",
        "deleted_at",
    ],
};

pub static ACTIVITY: EntityDef = EntityDef {
    name: "activity",
    table: "activities",
    fields: &[
        "kind",
        "contact_id",
        "company_id",
        "deal_id",
        "occurred_at",
        "direction",
        "duration_s",
        "outcome",
        "subject",
        "body",
        "location",
        "created_by",
        "created_at",
        "deleted_at",
    ],
};

pub static TICKET: EntityDef = EntityDef {
    name: "ticket",
    table: "tickets",
    fields: &[
        "subject",
        "description",
        "status",
        "priority",
        "contact_id",
        "company_id",
        "assignee",
        "due_at",
        "created_by",
        "created_at",
        "closed_at",
        "deleted_at",
    ],
};

pub static TICKET_COMMENT: EntityDef = EntityDef {
    name: "ticket_comment",
    table: "ticket_comments",
    fields: &["ticket_id", "author", "body", "created_at", "deleted_at"],
};

pub static PIPELINE: EntityDef = EntityDef {
    name: "pipeline",
    table: "pipelines",
    fields: &["name", "position", "created_at", "deleted_at"],
};

pub static PIPELINE_STAGE: EntityDef = EntityDef {
    name: "pipeline_stage",
    table: "pipeline_stages",
    fields: &[
        "pipeline_id",
        "name",
        "position",
        "probability",
        "kind",
        "rot_days",
        "deleted_at",
    ],
};

pub static DEAL: EntityDef = EntityDef {
    name: "deal",
    table: "deals",
    fields: &[
        "title",
        "contact_id",
        "company_id",
        "pipeline_id",
        "stage_id",
        "amount",
        "currency",
        "expected_close",
        "owner",
        "status",
        "close_reason",
        "closed_at",
        "stage_entered_at",
        "notes",
        "created_at",
        "deleted_at",
    ],
};

pub static DEAL_LINE_ITEM: EntityDef = EntityDef {
    name: "deal_line_item",
    table: "deal_line_items",
    fields: &[
        "deal_id",
        "name",
        "quantity",
        "unit_price",
        "position",
        "deleted_at",
    ],
};

pub static DEAL_STAGE_CHANGE: EntityDef = EntityDef {
    name: "deal_stage_change",
    table: "deal_stage_changes",
    fields: &[
        "deal_id",
        "from_stage_id",
        "to_stage_id",
        "changed_at",
        "changed_by",
        "deleted_at",
    ],
};

pub static EXCHANGE_RATE: EntityDef = EntityDef {
    name: "exchange_rate",
    table: "exchange_rates",
    fields: &["currency", "base", "rate", "updated_at", "deleted_at"],
};

pub static WORKSPACE_SETTING: EntityDef = EntityDef {
    name: "workspace_setting",
    table: "workspace_settings",
    fields: &["key", "value", "deleted_at"],
};

pub static IMPORT: EntityDef = EntityDef {
    name: "import",
    table: "imports",
    fields: &[
        "file_name",
        "format",
        "created_by",
        "created_at",
        "mapping",
        "counts",
        "status",
        "reverted_at",
        "reverted_by",
        "deleted_at",
    ],
};

pub static IMPORT_BATCH: EntityDef = EntityDef {
    name: "import_batch",
    table: "import_batches",
    fields: &["import_id", "seq", "created", "updated", "deleted_at"],
};

pub static IMPORT_MAPPING: EntityDef = EntityDef {
    name: "import_mapping",
    table: "import_mappings",
    fields: &["name", "mapping", "created_at", "deleted_at"],
};

/// A merge of two contacts or companies (hub_core::merge, docs/merge.md).
pub static MERGE: EntityDef = EntityDef {
    name: "merge",
    table: "merges",
    fields: &[
        "kind",
        "survivor_id",
        "loser_id",
        "survivor_name",
        "loser_name",
        "choices",
        "writes",
        "loser_values",
        "merged_by",
        "merged_at",
        "undone_by",
        "undone_at",
        "deleted_at",
    ],
};

/// One identifier of a person (user id, anonymous id, email, phone, external id)
/// and the contact it resolves to (hub_core::identity, migration 0018).
pub static IDENTITY: EntityDef = EntityDef {
    name: "identity",
    table: "identities",
    fields: &["contact_id", "kind", "value", "created_at", "deleted_at"],
};

/// A rule-based segment of contacts (hub_core::segments, migration 0019).
pub static SEGMENT: EntityDef = EntityDef {
    name: "segment",
    table: "segments",
    fields: &[
        "name",
        "rule",
        "tag_id",
        "triggers",
        "created_at",
        "deleted_at",
    ],
};

/// A consent decision (hub_core::consent): append-only, never edited.
pub static CONSENT_RECORD: EntityDef = EntityDef {
    name: "consent_record",
    table: "consent_records",
    fields: &[
        "contact_id",
        "purpose",
        "status",
        "source",
        "decided_at",
        "recorded_by",
        "evidence",
        "created_at",
        "deleted_at",
    ],
};

/// An erased contact (hub_core::privacy): never edited, never deleted.
pub static ERASURE: EntityDef = EntityDef {
    name: "erasure",
    table: "erasures",
    fields: &[
        "contact_id",
        "erased_at",
        "erased_by",
        "rows",
        "suppress",
        "deleted_at",
    ],
};

/// An export of a segment to an ad network or email tool (hub_core::audiences):
/// never edited.
pub static AUDIENCE_EXPORT: EntityDef = EntityDef {
    name: "audience_export",
    table: "audience_exports",
    fields: &[
        "segment_id",
        "segment_name",
        "destination",
        "purpose",
        "exported_by",
        "exported_at",
        "exported",
        "left_out",
        "files",
        "deleted_at",
    ],
};

pub static ALL: &[&EntityDef] = &[
    &COMPANY,
    &CONTACT,
    &CONTACT_EMAIL,
    &CONTACT_PHONE,
    &CONTACT_ADDRESS,
    &TAG,
    &CONTACT_TAG,
    &COMPANY_TAG,
    &DEAL_TAG,
    &CUSTOM_FIELD,
    &CUSTOM_VALUE,
    &SAVED_VIEW,
    &ACTIVITY,
    &TICKET,
    &TICKET_COMMENT,
    &REMINDER,
    &REMINDER_NOTIFICATION,
    &PIPELINE,
    &PIPELINE_STAGE,
    &DEAL,
    &DEAL_LINE_ITEM,
    &DEAL_STAGE_CHANGE,
    &EXCHANGE_RATE,
    &WORKSPACE_SETTING,
    &IMPORT,
    &IMPORT_BATCH,
    &IMPORT_MAPPING,
    &MERGE,
    &IDENTITY,
    &SEGMENT,
    &CONSENT_RECORD,
    &ERASURE,
    &AUDIENCE_EXPORT,
];

/// Look an entity up by its wire name.
pub fn by_name(name: &str) -> Option<&'static EntityDef> {
    ALL.iter().copied().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_entity_has_a_tombstone() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.has_field("deleted_at"), "{} lacks deleted_at", a.name);
            for b in &ALL[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.table, b.table);
            }
            assert_eq!(by_name(a.name), Some(*a));
        }
        assert_eq!(by_name("nope"), None);
    }
}
