//! Custom fields: fields a business adds to contacts, companies, deals and
//! tickets (text, number, date, single and multi select, checkbox).
//!
//! A definition's id is `v5(entity/key)` and a value's id `v5(field/row)`
//! (docs/fields.md): two devices that add the same field offline write one
//! definition; two that edit different fields of one contact write
//! different rows and both edits stay; two that edit the same field of one
//! contact write one row, merged by the usual per-field rule.
//!
//! Values are stored as canonical text (see the `custom_values` table) and
//! checked against the field's type before anything is written. Deleting a
//! definition is a tombstone: its values stay in the database, hidden, and
//! [`restore`] brings the field back with them.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::WriteTx;
use crate::entities::{CUSTOM_FIELD, CUSTOM_VALUE};
use crate::error::{Error, FieldError, Result};
use crate::store::Store;
use crate::tags::table_exists;

const NAMESPACE: Uuid = Uuid::from_u128(0x3d0c_51a7_92e4_4c4b_8f0e_7b65_21d9_a8c3);
const MAX_LABEL: usize = 100;
const MAX_OPTION: usize = 100;
const MAX_OPTIONS: usize = 200;
const MAX_TEXT: usize = 10_000;

/// The kinds of record that take custom fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum FieldEntity {
    Contact,
    Company,
    Deal,
    Ticket,
}

impl FieldEntity {
    pub const ALL: [FieldEntity; 4] = [
        FieldEntity::Contact,
        FieldEntity::Company,
        FieldEntity::Deal,
        FieldEntity::Ticket,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldEntity::Contact => "contact",
            FieldEntity::Company => "company",
            FieldEntity::Deal => "deal",
            FieldEntity::Ticket => "ticket",
        }
    }

    /// `contact`, `contacts`, `Company`, ...
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_lowercase();
        let t = match t.as_str() {
            "companies" => "company",
            other => other.strip_suffix('s').unwrap_or(other),
        };
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == t)
            .ok_or_else(|| {
                Error::invalid(
                    "entity",
                    format!("\"{text}\" is not one of contact, company, deal, ticket"),
                )
            })
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            FieldEntity::Contact => "contacts",
            FieldEntity::Company => "companies",
            FieldEntity::Deal => "deals",
            FieldEntity::Ticket => "tickets",
        }
    }

    /// Names a custom field may not take: the built-in fields (and what
    /// filters call them), so a filter's field name is never ambiguous.
    pub fn reserved(self) -> &'static [&'static str] {
        match self {
            FieldEntity::Contact => &[
                "id",
                "name",
                "display_name",
                "first_name",
                "last_name",
                "title",
                "company",
                "company_id",
                "stage",
                "lifecycle_stage",
                "owner",
                "source",
                "notes",
                "email",
                "phone",
                "tag",
                "tags",
                "created_at",
                "updated_at",
                "stay_in_touch_days",
            ],
            FieldEntity::Company => &[
                "id",
                "name",
                "domain",
                "industry",
                "size",
                "street",
                "city",
                "region",
                "postal_code",
                "country",
                "tag",
                "tags",
                "created_at",
                "updated_at",
            ],
            FieldEntity::Deal => &[
                "id",
                "title",
                "name",
                "contact",
                "contact_id",
                "company",
                "company_id",
                "pipeline",
                "pipeline_id",
                "stage",
                "stage_id",
                "amount",
                "currency",
                "expected_close",
                "owner",
                "status",
                "close_reason",
                "closed_at",
                "notes",
                "tag",
                "tags",
                "created_at",
                "updated_at",
            ],
            FieldEntity::Ticket => &[
                "id",
                "subject",
                "name",
                "description",
                "status",
                "priority",
                "contact",
                "contact_id",
                "company",
                "company_id",
                "assignee",
                "due_at",
                "created_by",
                "created_at",
                "closed_at",
                "updated_at",
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FieldType {
    Text,
    /// A `rust_decimal::Decimal`, never a float.
    Number,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of the field's options.
    Select,
    /// Any of the field's options.
    MultiSelect,
    Checkbox,
}

impl FieldType {
    pub const ALL: [FieldType; 6] = [
        FieldType::Text,
        FieldType::Number,
        FieldType::Date,
        FieldType::Select,
        FieldType::MultiSelect,
        FieldType::Checkbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Select => "select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Checkbox => "checkbox",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_lowercase().replace('-', "_");
        let t = match t.as_str() {
            "single_select" | "single" => "select",
            "multi" | "multiselect" => "multi_select",
            "bool" | "boolean" => "checkbox",
            "decimal" => "number",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == t)
            .ok_or_else(|| {
                Error::invalid(
                    "type",
                    format!(
                        "\"{text}\" is not a field type (text, number, date, select, multi_select, checkbox)"
                    ),
                )
            })
    }

    pub fn has_options(self) -> bool {
        matches!(self, FieldType::Select | FieldType::MultiSelect)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CustomField {
    pub id: Uuid,
    pub entity: FieldEntity,
    /// snake_case, unique per entity: what the CLI and filters call it.
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub field_type: FieldType,
    /// The choices of a select or multi select; empty otherwise.
    pub options: Vec<String>,
    pub position: i64,
    /// Deleted fields are listed only when asked for; their values are kept.
    pub deleted: bool,
}

/// A new field, as a form or the CLI submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldInput {
    pub entity: FieldEntity,
    pub label: String,
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
}

/// A change to a field's definition. Its type cannot change (the values
/// were checked against it); options can be added, not removed, so no
/// stored value falls outside them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldPatch {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub add_options: Vec<String>,
    #[serde(default)]
    pub position: Option<i64>,
}

/// One custom field's value on one record, typed as JSON: a string (text,
/// date, select, and number as its exact decimal text), an array of strings
/// (multi select) or a boolean (checkbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldValue {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub field_type: FieldType,
    #[ts(type = "string | string[] | boolean")]
    pub value: Value,
}

pub fn field_id(entity: FieldEntity, key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{}/{key}", entity.as_str()).as_bytes())
}

fn value_id(field: Uuid, row: Uuid) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{field}/{row}").as_bytes())
}

/// The key a label gets: lower-case letters and digits, runs of anything
/// else as one `_`. "Annual budget (€)" -> `annual_budget`.
pub fn key_for(label: &str) -> String {
    let mut key = String::new();
    for c in label.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            key.push(c);
        } else if !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_matches('_').to_owned()
}

/// Plain decimal text: no exponent, no trailing zeros, "0" for zero.
pub fn canonical_number(d: Decimal) -> String {
    if d.is_zero() {
        return "0".into();
    }
    d.normalize().to_string()
}

/// A text whose byte order is the numeric order of `d`; the same key SQLite
/// derives in `custom_values.num_key` from the canonical text.
pub fn number_key(d: Decimal) -> String {
    let text = canonical_number(d);
    match text.strip_prefix('-') {
        None => {
            let digits = text.find('.').unwrap_or(text.len());
            format!("p{digits:03}{text}")
        }
        Some(magnitude) => {
            let digits = magnitude.find('.').unwrap_or(magnitude.len());
            let flipped: String = magnitude
                .chars()
                .map(|c| match c.to_digit(10) {
                    Some(d) => char::from_digit(9 - d, 10).unwrap_or(c),
                    None => c,
                })
                .collect();
            format!("n{:03}{flipped}~", 999 - digits)
        }
    }
}

pub fn parse_number(text: &str, field: &str) -> Result<Decimal> {
    let t = text.trim();
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| Error::invalid(field, format!("\"{text}\" is not a number")))
}

pub fn parse_date(text: &str, field: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, format!("\"{text}\" is not a date (YYYY-MM-DD)")))
}

pub fn parse_checkbox(text: &str, field: &str) -> Result<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "checked" => Ok(true),
        "false" | "no" | "n" | "0" | "off" | "unchecked" => Ok(false),
        _ => Err(Error::invalid(
            field,
            format!("\"{text}\" is not yes or no (true/false)"),
        )),
    }
}

/// The option as the field spells it, matched ignoring case.
pub fn parse_option<'f>(f: &'f CustomField, text: &str, field: &str) -> Result<&'f str> {
    let t = text.trim();
    f.options
        .iter()
        .find(|o| o.to_lowercase() == t.to_lowercase())
        .map(String::as_str)
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "\"{t}\" is not an option of {} ({})",
                    f.label,
                    f.options.join(", ")
                ),
            )
        })
}

/// Check `text` against the field's type: the canonical text to store, or
/// `None` for an empty input (clears the value). A multi select takes
/// options separated by commas.
pub fn parse_value(f: &CustomField, text: &str) -> Result<Option<String>> {
    let err_field = f.key.as_str();
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(match f.field_type {
        FieldType::Text => {
            let t = text.trim();
            if t.chars().count() > MAX_TEXT {
                return Err(Error::invalid(
                    err_field,
                    format!("At most {MAX_TEXT} characters"),
                ));
            }
            t.to_owned()
        }
        FieldType::Number => canonical_number(parse_number(text, err_field)?),
        FieldType::Date => parse_date(text, err_field)?.to_string(),
        FieldType::Select => parse_option(f, text, err_field)?.to_owned(),
        FieldType::MultiSelect => {
            let mut chosen = Vec::new();
            for part in text.split(',').filter(|p| !p.trim().is_empty()) {
                let option = parse_option(f, part, err_field)?;
                if !chosen.contains(&option) {
                    chosen.push(option);
                }
            }
            // In the field's order, so equal sets are equal texts.
            let ordered: Vec<&str> = f
                .options
                .iter()
                .map(String::as_str)
                .filter(|o| chosen.contains(o))
                .collect();
            json!(ordered).to_string()
        }
        FieldType::Checkbox => parse_checkbox(text, err_field)?.to_string(),
    }))
}

/// The typed JSON of a stored canonical text. A text that no longer fits
/// the type (a definition replaced by another device's) is shown as is.
pub fn typed_value(field_type: FieldType, stored: &str) -> Value {
    match field_type {
        FieldType::MultiSelect => serde_json::from_str::<Vec<String>>(stored)
            .map(|v| json!(v))
            .unwrap_or_else(|_| json!(stored)),
        FieldType::Checkbox => match stored {
            "true" => json!(true),
            "false" => json!(false),
            other => json!(other),
        },
        _ => json!(stored),
    }
}

/// The text form of a typed value, as `parse_value` takes it.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn clean_options(options: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, o) in options.iter().enumerate() {
        let o = o.trim();
        let field = format!("options[{i}]");
        if o.is_empty() {
            errors.push(FieldError::new(field, "An option needs a name"));
        } else if o.contains(',') {
            errors.push(FieldError::new(
                field,
                format!("\"{o}\": options cannot contain commas (they separate choices)"),
            ));
        } else if o.chars().count() > MAX_OPTION {
            errors.push(FieldError::new(
                field,
                format!("Options are at most {MAX_OPTION} characters"),
            ));
        } else if out.iter().any(|x| x.to_lowercase() == o.to_lowercase()) {
            errors.push(FieldError::new(field, format!("\"{o}\" is listed twice")));
        } else {
            out.push(o.to_owned());
        }
    }
    if out.len() > MAX_OPTIONS {
        errors.push(FieldError::new(
            "options",
            format!("At most {MAX_OPTIONS} options"),
        ));
    }
    out
}

#[derive(sqlx::FromRow)]
struct FieldRow {
    id: String,
    entity: Option<String>,
    key: Option<String>,
    label: Option<String>,
    field_type: Option<String>,
    options: Option<String>,
    position: Option<i64>,
    deleted_at: Option<String>,
}

const FIELD_COLUMNS: &str = "id, entity, key, label, field_type, options, position, deleted_at";

impl FieldRow {
    fn into_field(self) -> Option<CustomField> {
        Some(CustomField {
            id: Uuid::parse_str(&self.id).ok()?,
            entity: FieldEntity::parse(self.entity.as_deref()?).ok()?,
            key: self.key?,
            label: self.label.unwrap_or_default(),
            field_type: FieldType::parse(self.field_type.as_deref()?).ok()?,
            options: self
                .options
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or_default(),
            position: self.position.unwrap_or(0),
            deleted: self.deleted_at.is_some(),
        })
    }
}

async fn by_id(conn: &mut SqliteConnection, id: Uuid) -> Result<Option<CustomField>> {
    let row: Option<FieldRow> = sqlx::query_as(&format!(
        "SELECT {FIELD_COLUMNS} FROM custom_fields WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(FieldRow::into_field))
}

/// The live field of `entity` called `name` (its key, or its label in any case).
pub async fn find_in(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    name: &str,
) -> Result<CustomField> {
    if let Some(f) = by_id(conn, field_id(entity, &key_for(name))).await? {
        if !f.deleted {
            return Ok(f);
        }
    }
    let row: Option<FieldRow> = sqlx::query_as(&format!(
        "SELECT {FIELD_COLUMNS} FROM custom_fields
          WHERE entity = ? AND deleted_at IS NULL AND (key = ? OR label = ? COLLATE NOCASE)
          LIMIT 1"
    ))
    .bind(entity.as_str())
    .bind(name.trim())
    .bind(name.trim())
    .fetch_optional(conn)
    .await?;
    row.and_then(FieldRow::into_field)
        .ok_or_else(|| Error::NotFound {
            entity: "custom field",
            id: format!("{}.{}", entity.as_str(), name.trim()),
        })
}

pub async fn find(store: &Store, entity: FieldEntity, name: &str) -> Result<CustomField> {
    let mut conn = store.pool().acquire().await?;
    find_in(&mut conn, entity, name).await
}

/// Define a new field. The key comes from the label; a live field with that
/// key, or a built-in field's name, is refused; so is the key of a deleted
/// field (restore it instead, and its values come back).
pub async fn add(store: &Store, input: FieldInput) -> Result<CustomField> {
    let mut errors = Vec::new();
    let label = input.label.trim().to_owned();
    let key = key_for(&label);
    if label.is_empty() || key.is_empty() {
        errors.push(FieldError::new(
            "label",
            "A field needs a name with a letter or digit",
        ));
    } else if label.chars().count() > MAX_LABEL {
        errors.push(FieldError::new(
            "label",
            format!("At most {MAX_LABEL} characters"),
        ));
    } else if input.entity.reserved().contains(&key.as_str()) {
        errors.push(FieldError::new(
            "label",
            format!(
                "\"{key}\" is a built-in field of {}s; pick another name",
                input.entity.as_str()
            ),
        ));
    }
    let options = clean_options(&input.options, &mut errors);
    if input.field_type.has_options() && options.is_empty() && input.options.is_empty() {
        errors.push(FieldError::new(
            "options",
            format!(
                "A {} field needs at least one option",
                input.field_type.as_str()
            ),
        ));
    }
    if !input.field_type.has_options() && !input.options.is_empty() {
        errors.push(FieldError::new(
            "options",
            format!("A {} field has no options", input.field_type.as_str()),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let id = field_id(input.entity, &key);
    let mut tx = store.write().await?;
    if let Some(existing) = by_id(tx.conn(), id).await? {
        return Err(Error::invalid(
            "label",
            if existing.deleted {
                format!(
                    "a deleted {} field \"{}\" has this name; restore it to get it back with its values",
                    input.entity.as_str(),
                    existing.label
                )
            } else {
                format!(
                    "the {} field \"{}\" already exists",
                    input.entity.as_str(),
                    existing.label
                )
            },
        ));
    }
    let position: i64 = sqlx::query_scalar(
        "SELECT coalesce(max(position) + 1, 0) FROM custom_fields WHERE entity = ?",
    )
    .bind(input.entity.as_str())
    .fetch_one(tx.conn())
    .await?;
    tx.insert(
        &CUSTOM_FIELD,
        id,
        vec![
            ("entity", json!(input.entity.as_str())),
            ("key", json!(key)),
            ("label", json!(label)),
            ("field_type", json!(input.field_type.as_str())),
            ("options", json!(json!(options).to_string())),
            ("position", json!(position)),
            // No created_at: two devices that add this field offline write
            // the same row, and a per-device time would be a conflict.
        ],
    )
    .await?;
    tx.commit().await?;
    find(store, input.entity, &key).await
}

/// Change a field's label, add options, or move it.
pub async fn update(
    store: &Store,
    entity: FieldEntity,
    name: &str,
    patch: FieldPatch,
) -> Result<CustomField> {
    let mut tx = store.write().await?;
    let field = find_in(tx.conn(), entity, name).await?;
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    if let Some(label) = &patch.label {
        let label = label.trim();
        if label.is_empty() || label.chars().count() > MAX_LABEL {
            errors.push(FieldError::new(
                "label",
                format!("A label has 1 to {MAX_LABEL} characters"),
            ));
        }
        // The key stays: saved views and scripts refer to it.
        fields.push(("label", json!(label)));
    }
    if !patch.add_options.is_empty() {
        if !field.field_type.has_options() {
            errors.push(FieldError::new(
                "options",
                format!("A {} field has no options", field.field_type.as_str()),
            ));
        }
        let mut all = field.options.clone();
        all.extend(patch.add_options.iter().cloned());
        let cleaned = clean_options(&all, &mut errors);
        fields.push(("options", json!(json!(cleaned).to_string())));
    }
    if let Some(position) = patch.position {
        fields.push(("position", json!(position)));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    tx.update(&CUSTOM_FIELD, field.id, fields).await?;
    tx.commit().await?;
    find(store, entity, &field.key).await
}

/// Delete a field: it disappears from forms, lists and filters; its values
/// stay in the database and come back with [`restore`].
pub async fn delete(store: &Store, entity: FieldEntity, name: &str) -> Result<CustomField> {
    let mut tx = store.write().await?;
    let field = find_in(tx.conn(), entity, name).await?;
    tx.delete(&CUSTOM_FIELD, field.id).await?;
    tx.commit().await?;
    Ok(CustomField {
        deleted: true,
        ..field
    })
}

/// Bring a deleted field back, with every value it had.
pub async fn restore(store: &Store, entity: FieldEntity, name: &str) -> Result<CustomField> {
    let mut tx = store.write().await?;
    let mut conn_field = by_id(tx.conn(), field_id(entity, &key_for(name))).await?;
    if conn_field.is_none() {
        let row: Option<FieldRow> = sqlx::query_as(&format!(
            "SELECT {FIELD_COLUMNS} FROM custom_fields
              WHERE entity = ? AND (key = ? OR label = ? COLLATE NOCASE) LIMIT 1"
        ))
        .bind(entity.as_str())
        .bind(name.trim())
        .bind(name.trim())
        .fetch_optional(tx.conn())
        .await?;
        conn_field = row.and_then(FieldRow::into_field);
    }
    let field = conn_field.ok_or_else(|| Error::NotFound {
        entity: "custom field",
        id: format!("{}.{}", entity.as_str(), name.trim()),
    })?;
    if !field.deleted {
        return Err(Error::invalid(
            "name",
            format!("the field \"{}\" is not deleted", field.label),
        ));
    }
    tx.update(&CUSTOM_FIELD, field.id, vec![("deleted_at", Value::Null)])
        .await?;
    tx.commit().await?;
    find(store, entity, &field.key).await
}

/// The fields of one entity (or all), in their order; deleted ones only
/// when asked.
pub async fn list(
    store: &Store,
    entity: Option<FieldEntity>,
    include_deleted: bool,
) -> Result<Vec<CustomField>> {
    let rows: Vec<FieldRow> = sqlx::query_as(&format!(
        "SELECT {FIELD_COLUMNS} FROM custom_fields
          WHERE (?1 IS NULL OR entity = ?1) AND (?2 OR deleted_at IS NULL)
          ORDER BY entity, position, key"
    ))
    .bind(entity.map(FieldEntity::as_str))
    .bind(include_deleted)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(FieldRow::into_field).collect())
}

/// The record must exist and be live.
async fn ensure_record(conn: &mut SqliteConnection, entity: FieldEntity, row: Uuid) -> Result<()> {
    let not_found = || Error::NotFound {
        entity: entity.as_str(),
        id: row.to_string(),
    };
    if !table_exists(conn, entity.table()).await? {
        return Err(not_found());
    }
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {} WHERE id = ? AND deleted_at IS NULL",
        entity.table()
    ))
    .bind(row.to_string())
    .fetch_optional(conn)
    .await?;
    live.map(|_| ()).ok_or_else(not_found)
}

/// Write checked values inside a caller's transaction (a form saves its
/// custom fields with the record). `None` clears.
pub(crate) async fn write_values(
    tx: &mut WriteTx,
    entity: FieldEntity,
    row: Uuid,
    values: &[(CustomField, Option<String>)],
) -> Result<()> {
    for (field, value) in values {
        let id = value_id(field.id, row);
        let existing: Option<Option<String>> =
            sqlx::query_scalar("SELECT deleted_at FROM custom_values WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        match existing {
            None if value.is_none() => {}
            None => {
                tx.insert(
                    &CUSTOM_VALUE,
                    id,
                    vec![
                        ("entity", json!(entity.as_str())),
                        ("row_id", json!(row.to_string())),
                        ("field_id", json!(field.id.to_string())),
                        ("value", json!(value)),
                    ],
                )
                .await?;
            }
            Some(deleted) => {
                let mut fields = vec![("value", json!(value))];
                if deleted.is_some() {
                    fields.push(("deleted_at", Value::Null));
                }
                tx.update(&CUSTOM_VALUE, id, fields).await?;
            }
        }
    }
    Ok(())
}

/// Check `(name, text)` pairs against their fields: all errors at once.
pub async fn check_values(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    values: &[(String, String)],
) -> Result<Vec<(CustomField, Option<String>)>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in values {
        match find_in(conn, entity, name).await {
            Ok(field) => match parse_value(&field, text) {
                Ok(v) => out.push((field, v)),
                Err(e) => errors.extend(e.field_errors().iter().cloned()),
            },
            Err(_) => errors.push(FieldError::new(
                name.trim(),
                format!(
                    "{}s have no custom field \"{}\"",
                    entity.as_str(),
                    name.trim()
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Error::Validation(errors))
    }
}

/// Set custom fields of one record: `(field name, value text)`, an empty
/// text clearing it. Every value is checked first; one bad value and
/// nothing is written. Returns the record's values afterwards.
pub async fn set_values(
    store: &Store,
    entity: FieldEntity,
    row: Uuid,
    values: &[(String, String)],
) -> Result<Vec<FieldValue>> {
    let mut tx = store.write().await?;
    ensure_record(tx.conn(), entity, row).await?;
    let checked = check_values(tx.conn(), entity, values).await?;
    write_values(&mut tx, entity, row, &checked).await?;
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    values_for(&mut conn, entity, row).await
}

/// The set values of one record's live fields, in the fields' order.
pub async fn values_for(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    row: Uuid,
) -> Result<Vec<FieldValue>> {
    let rows: Vec<(String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT f.key, f.label, f.field_type, v.value
           FROM custom_values v JOIN custom_fields f ON f.id = v.field_id
          WHERE v.row_id = ? AND f.entity = ? AND v.value IS NOT NULL
            AND v.deleted_at IS NULL AND f.deleted_at IS NULL
          ORDER BY f.position, f.key",
    )
    .bind(row.to_string())
    .bind(entity.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, label, field_type, value)| {
            let field_type = FieldType::parse(&field_type).ok()?;
            Some(FieldValue {
                key,
                label: label.unwrap_or_default(),
                field_type,
                value: typed_value(field_type, &value),
            })
        })
        .collect())
}

/// [`values_for`] on the store's pool.
pub async fn values(store: &Store, entity: FieldEntity, row: Uuid) -> Result<Vec<FieldValue>> {
    let mut conn = store.pool().acquire().await?;
    values_for(&mut conn, entity, row).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    async fn log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    async fn contact(store: &Store, name: &str) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                display_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    fn input(entity: FieldEntity, label: &str, t: FieldType, options: &[&str]) -> FieldInput {
        FieldInput {
            entity,
            label: label.into(),
            field_type: t,
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn every_type_checks_and_stores_its_values() {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        add(&store, input(c, "Annual budget", FieldType::Number, &[]))
            .await
            .unwrap();
        add(&store, input(c, "Renewal", FieldType::Date, &[]))
            .await
            .unwrap();
        add(
            &store,
            input(c, "Tier", FieldType::Select, &["Gold", "Silver"]),
        )
        .await
        .unwrap();
        add(
            &store,
            input(
                c,
                "Interests",
                FieldType::MultiSelect,
                &["CRM", "Sync", "API"],
            ),
        )
        .await
        .unwrap();
        add(&store, input(c, "Newsletter", FieldType::Checkbox, &[]))
            .await
            .unwrap();
        add(&store, input(c, "Nickname", FieldType::Text, &[]))
            .await
            .unwrap();
        let ada = contact(&store, "Ada").await;

        let values = set_values(
            &store,
            c,
            ada,
            &set(&[
                ("annual_budget", "12500.50"),
                ("Renewal", "2027-01-31"),
                ("tier", "gold"),
                ("interests", "api, crm,API"),
                ("newsletter", "yes"),
                ("nickname", "  Countess "),
            ]),
        )
        .await
        .unwrap();
        let by_key = |k: &str| values.iter().find(|v| v.key == k).unwrap().value.clone();
        assert_eq!(by_key("annual_budget"), json!("12500.5"));
        assert_eq!(by_key("renewal"), json!("2027-01-31"));
        assert_eq!(by_key("tier"), json!("Gold"));
        assert_eq!(by_key("interests"), json!(["CRM", "API"]));
        assert_eq!(by_key("newsletter"), json!(true));
        assert_eq!(by_key("nickname"), json!("Countess"));
        // In definition order.
        assert_eq!(values[0].key, "annual_budget");

        // Bad values: typed errors naming each field, nothing written.
        let before = log_len(&store).await;
        let err = set_values(
            &store,
            c,
            ada,
            &set(&[
                ("annual_budget", "12k"),
                ("renewal", "31/01/2027"),
                ("tier", "Bronze"),
                ("interests", "CRM,Email"),
                ("newsletter", "maybe"),
                ("nope", "x"),
            ]),
        )
        .await
        .unwrap_err();
        let fields: Vec<&str> = err
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "annual_budget",
                "renewal",
                "tier",
                "interests",
                "newsletter",
                "nope"
            ]
        );
        assert!(err
            .to_string()
            .contains("\"Bronze\" is not an option of Tier (Gold, Silver)"));
        // A good value next to a bad one is not written either.
        let err = set_values(&store, c, ada, &set(&[("nickname", "Ada"), ("tier", "x")]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation");
        assert_eq!(log_len(&store).await, before);

        // Clearing.
        let values = set_values(&store, c, ada, &set(&[("tier", "")]))
            .await
            .unwrap();
        assert!(values.iter().all(|v| v.key != "tier"));
        // Unknown record.
        let err = set_values(&store, c, Uuid::now_v7(), &set(&[("tier", "Gold")]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
    }

    #[tokio::test]
    async fn definitions_are_checked() {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        let bad = [
            input(c, "  ", FieldType::Text, &[]),
            input(c, "Email", FieldType::Text, &[]),
            input(c, "Tier", FieldType::Select, &[]),
            input(c, "Tier", FieldType::Select, &["a", "A"]),
            input(c, "Tier", FieldType::Select, &["a,b"]),
            input(c, "Budget", FieldType::Number, &["x"]),
        ];
        for i in bad {
            let err = add(&store, i.clone()).await.unwrap_err();
            assert_eq!(err.code(), "validation", "{i:?}");
        }
        assert_eq!(log_len(&store).await, 0);
        let f = add(
            &store,
            input(c, "Annual Budget (€)", FieldType::Number, &[]),
        )
        .await
        .unwrap();
        assert_eq!((f.key.as_str(), f.position), ("annual_budget", 0));
        assert_eq!(f.id, field_id(c, "annual_budget"));
        let err = add(&store, input(c, "annual budget", FieldType::Text, &[]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        // The same name on another entity is another field.
        let d = add(
            &store,
            input(FieldEntity::Deal, "Annual budget", FieldType::Number, &[]),
        )
        .await
        .unwrap();
        assert_ne!(d.id, f.id);
        assert_eq!(
            FieldType::parse("multi-select").unwrap(),
            FieldType::MultiSelect
        );
        assert_eq!(
            FieldEntity::parse("Companies").unwrap(),
            FieldEntity::Company
        );
        assert!(FieldType::parse("float").is_err());
    }

    #[tokio::test]
    async fn a_deleted_field_hides_its_values_and_restore_brings_them_back() {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        add(&store, input(c, "Tier", FieldType::Select, &["Gold"]))
            .await
            .unwrap();
        let ada = contact(&store, "Ada").await;
        set_values(&store, c, ada, &set(&[("tier", "Gold")]))
            .await
            .unwrap();

        delete(&store, c, "Tier").await.unwrap();
        assert!(values(&store, c, ada).await.unwrap().is_empty());
        assert!(list(&store, Some(c), false).await.unwrap().is_empty());
        assert!(list(&store, Some(c), true).await.unwrap()[0].deleted);
        let err = set_values(&store, c, ada, &set(&[("tier", "Gold")]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation");
        let err = add(&store, input(c, "Tier", FieldType::Text, &[]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("restore"), "{err}");

        let back = restore(&store, c, "tier").await.unwrap();
        assert!(!back.deleted);
        assert_eq!(
            values(&store, c, ada).await.unwrap()[0].value,
            json!("Gold")
        );
        assert_eq!(
            restore(&store, c, "tier").await.unwrap_err().code(),
            "validation"
        );
    }

    #[tokio::test]
    async fn update_renames_adds_options_and_keeps_the_key() {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        add(&store, input(c, "Tier", FieldType::Select, &["Gold"]))
            .await
            .unwrap();
        let f = update(
            &store,
            c,
            "tier",
            FieldPatch {
                label: Some("Customer tier".into()),
                add_options: vec!["Silver".into()],
                position: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (f.key.as_str(), f.label.as_str()),
            ("tier", "Customer tier")
        );
        assert_eq!(f.options, ["Gold", "Silver"]);
        assert_eq!(find(&store, c, "customer TIER").await.unwrap().id, f.id);
        let err = update(
            &store,
            c,
            "tier",
            FieldPatch {
                add_options: vec!["gold".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "validation");
    }

    #[tokio::test]
    async fn values_of_different_fields_are_different_rows_with_derived_ids() {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        let a = add(&store, input(c, "A", FieldType::Text, &[]))
            .await
            .unwrap();
        let b = add(&store, input(c, "B", FieldType::Text, &[]))
            .await
            .unwrap();
        let ada = contact(&store, "Ada").await;
        set_values(&store, c, ada, &set(&[("a", "1"), ("b", "2")]))
            .await
            .unwrap();
        set_values(&store, c, ada, &set(&[("a", "3")]))
            .await
            .unwrap();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, value FROM custom_values ORDER BY value")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                (value_id(b.id, ada).to_string(), "2".to_string()),
                (value_id(a.id, ada).to_string(), "3".to_string())
            ]
        );
        // The edit of A logged only A's value field.
        let last: String =
            sqlx::query_scalar("SELECT fields FROM change_log ORDER BY seq DESC LIMIT 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(last, r#"{"value":"3"}"#);
    }

    /// Apply every change `from` made to `to`: sync without a server.
    async fn deliver(from: &Store, to: &Store) {
        let changes = crate::changes::outbox(from, u32::MAX).await.unwrap();
        let mut tx = to.write().await.unwrap();
        for change in &changes {
            let applied = tx.apply_remote(change).await.unwrap();
            assert!(applied.unknown.is_empty(), "{applied:?}");
        }
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn two_devices_converge_per_field_and_on_one_definition() {
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        assert_ne!(a.device_id(), b.device_id());
        let c = FieldEntity::Contact;
        add(&a, input(c, "Budget", FieldType::Number, &[]))
            .await
            .unwrap();
        add(&a, input(c, "Tier", FieldType::Select, &["Gold", "Silver"]))
            .await
            .unwrap();
        let ada = contact(&a, "Ada").await;
        deliver(&a, &b).await;

        // Offline on both: different fields of one contact, and the same new field.
        set_values(&a, c, ada, &set(&[("budget", "100")]))
            .await
            .unwrap();
        set_values(&b, c, ada, &set(&[("tier", "Silver")]))
            .await
            .unwrap();
        add(&a, input(c, "Region", FieldType::Text, &[]))
            .await
            .unwrap();
        add(&b, input(c, "Region", FieldType::Text, &[]))
            .await
            .unwrap();
        deliver(&a, &b).await;
        deliver(&b, &a).await;
        for store in [&a, &b] {
            let values = values(store, c, ada).await.unwrap();
            let pairs: Vec<(&str, &Value)> =
                values.iter().map(|v| (v.key.as_str(), &v.value)).collect();
            assert_eq!(
                pairs,
                [("budget", &json!("100")), ("tier", &json!("Silver"))]
            );
            let regions: i64 =
                sqlx::query_scalar("SELECT count(*) FROM custom_fields WHERE key = 'region'")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(regions, 1);
        }

        // The same field on both: one row, the later write on both devices.
        set_values(&a, c, ada, &set(&[("budget", "200")]))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        set_values(&b, c, ada, &set(&[("budget", "300")]))
            .await
            .unwrap();
        deliver(&a, &b).await;
        deliver(&b, &a).await;
        let on_a = values(&a, c, ada).await.unwrap();
        let on_b = values(&b, c, ada).await.unwrap();
        assert_eq!(on_a, on_b);
        assert_eq!(on_a[0].value, json!("300"));
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM custom_values")
            .fetch_one(a.pool())
            .await
            .unwrap();
        assert_eq!(rows, 2);
    }

    fn decimal() -> impl Strategy<Value = Decimal> {
        (any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn number_keys_order_like_decimals(a in decimal(), b in decimal()) {
            prop_assert_eq!(a.cmp(&b), number_key(a).cmp(&number_key(b)));
            prop_assert_eq!(
                parse_number(&canonical_number(a), "x").unwrap(), a
            );
        }
    }

    #[tokio::test]
    async fn sqlite_derives_the_same_number_key_as_rust() {
        let store = Store::open_in_memory().await.unwrap();
        let mut runner = proptest::test_runner::TestRunner::default();
        let mut samples: Vec<Decimal> = (0..300)
            .map(|_| decimal().new_tree(&mut runner).unwrap().current())
            .collect();
        samples.extend(
            ["0", "-0.5", "0.5", "-12", "-12.5", "100", "99.999"]
                .map(|s| Decimal::from_str(s).unwrap()),
        );
        for d in samples {
            let key: Option<String> = sqlx::query_scalar(
                "INSERT INTO custom_values (id, value) VALUES (?, ?) RETURNING num_key",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(canonical_number(d))
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!(key.as_deref(), Some(number_key(d).as_str()), "{d}");
        }
        for text in ["2027-01-31", "abc", "[\"x\"]", "true"] {
            let key: Option<String> = sqlx::query_scalar(
                "INSERT INTO custom_values (id, value) VALUES (?, ?) RETURNING num_key",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(text)
            .fetch_one(store.pool())
            .await
            .unwrap();
            assert_eq!(key, None, "{text}");
        }
    }
}
