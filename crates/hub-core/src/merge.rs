//! Merging two contacts (or two companies) into one, recorded and undoable,
//! and how a merge made on one device reaches what other devices wrote
//! without having seen it. The rules are in docs/merge.md.
//!
//! A merge, in one write transaction (so it syncs like any edit):
//! - writes the chosen values (per field: the kept record's or the other's)
//!   on the survivor; custom fields are fields like the others;
//! - moves every related row to the survivor ([`CONTACT_RELATIONS`],
//!   [`COMPANY_RELATIONS`]): emails and phones (one the survivor already has
//!   is deleted instead of listed twice), tags (the survivor gets the union),
//!   deals, reminders, activities, tickets, and a company's contacts;
//! - deletes the other record (a tombstone: it shows in the trash);
//! - records the merge (`merges`, a synced entity): every row write it made
//!   with the values before and after, found by comparing the rows of both
//!   records before and after, so [`undo`] puts back exactly what it changed.
//!
//! [`follow_up`] runs after each pulled page: a device that edited or linked
//! to the merged-away record without having seen the merge ends up pointing
//! at the survivor with its edit.

use std::collections::{BTreeMap, BTreeSet};

use hub_protocol::{Change, Hlc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::custom_fields::{CustomField, FieldEntity, FieldType};
use crate::duplicates::RecordKind;
use crate::entities::{
    self, EntityDef, ACTIVITY, COMPANY, COMPANY_TAG, CONTACT, CONTACT_ADDRESS, CONTACT_EMAIL,
    CONTACT_PHONE, CONTACT_TAG, CUSTOM_VALUE, DEAL, REMINDER, TICKET,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tags::{self, Taggable};
use crate::users;

/// More row writes than this in one merge would not fit one change in a
/// sync push (4 MB): such a merge is refused with a clear message.
pub const MAX_WRITES: usize = 20_000;

/// How rows of one table follow a merged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The reference is repointed.
    Move,
    /// Repointed unless the survivor already has a live row with the same
    /// value in this column (then the row is deleted instead).
    Unique(&'static str),
    /// Tag links: the survivor gets the tag (its own link, whose id is
    /// derived from survivor and tag), the other's link is deleted.
    Tag(Taggable),
}

/// A table holding references to a merged record.
#[derive(Debug)]
pub struct Relation {
    pub entity: &'static EntityDef,
    pub column: &'static str,
    pub follow: Follow,
    /// What the merge dialog calls these rows.
    pub label: &'static str,
}

/// Every reference to a contact (checked against [`entities::ALL`] by a test:
/// a new entity with a `contact_id` must be listed here).
pub static CONTACT_RELATIONS: &[Relation] = &[
    Relation {
        entity: &CONTACT_EMAIL,
        column: "contact_id",
        follow: Follow::Unique("address"),
        label: "emails",
    },
    Relation {
        entity: &CONTACT_PHONE,
        column: "contact_id",
        follow: Follow::Unique("number"),
        label: "phones",
    },
    Relation {
        entity: &CONTACT_ADDRESS,
        column: "contact_id",
        follow: Follow::Move,
        label: "addresses",
    },
    Relation {
        entity: &CONTACT_TAG,
        column: "contact_id",
        follow: Follow::Tag(Taggable::Contact),
        label: "tags",
    },
    Relation {
        entity: &DEAL,
        column: "contact_id",
        follow: Follow::Move,
        label: "deals",
    },
    Relation {
        entity: &REMINDER,
        column: "contact_id",
        follow: Follow::Move,
        label: "reminders",
    },
    Relation {
        entity: &ACTIVITY,
        column: "contact_id",
        follow: Follow::Move,
        label: "activities",
    },
    Relation {
        entity: &TICKET,
        column: "contact_id",
        follow: Follow::Move,
        label: "tickets",
    },
    // Identifiers (user id, anonymous id, email, ...): their ids are derived from
    // the identifier, so the two contacts never hold the same row.
    Relation {
        entity: &crate::entities::IDENTITY,
        column: "contact_id",
        follow: Follow::Move,
        label: "identities",
    },
    // Consent decisions are the person's, whichever record they were noted on: the
    // survivor carries all of them and the latest per purpose is in force.
    Relation {
        entity: &crate::entities::CONSENT_RECORD,
        column: "contact_id",
        follow: Follow::Move,
        label: "consent decisions",
    },
];

/// Every reference to a company.
pub static COMPANY_RELATIONS: &[Relation] = &[
    Relation {
        entity: &CONTACT,
        column: "company_id",
        follow: Follow::Move,
        label: "contacts",
    },
    Relation {
        entity: &COMPANY_TAG,
        column: "company_id",
        follow: Follow::Tag(Taggable::Company),
        label: "tags",
    },
    Relation {
        entity: &DEAL,
        column: "company_id",
        follow: Follow::Move,
        label: "deals",
    },
    Relation {
        entity: &ACTIVITY,
        column: "company_id",
        follow: Follow::Move,
        label: "activities",
    },
    Relation {
        entity: &TICKET,
        column: "company_id",
        follow: Follow::Move,
        label: "tickets",
    },
];

pub static MERGE: &EntityDef = &entities::MERGE;

/// The fields a user picks per merge, with their labels.
const CONTACT_FIELDS: &[(&str, &str)] = &[
    ("display_name", "Name"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("title", "Title"),
    ("company_id", "Company"),
    ("lifecycle_stage", "Stage"),
    ("owner", "Owner"),
    ("source", "Source"),
    ("notes", "Notes"),
    ("stay_in_touch_days", "Stay in touch (days)"),
    ("birthday", "Birthday"),
    ("website", "Website"),
    ("photo", "Photo"),
];

const COMPANY_FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("domain", "Domain"),
    ("industry", "Industry"),
    ("size", "Size"),
    ("street", "Street"),
    ("city", "City"),
    ("region", "Region"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
];

/// Short names the CLI accepts for `--prefer`.
const ALIASES: &[(&str, &str)] = &[
    ("name", "display_name"),
    ("first", "first_name"),
    ("last", "last_name"),
    ("company", "company_id"),
    ("stage", "lifecycle_stage"),
    ("stay_in_touch", "stay_in_touch_days"),
];

struct Kind {
    kind: RecordKind,
    entity: &'static EntityDef,
    fields: &'static [(&'static str, &'static str)],
    relations: &'static [Relation],
    custom: FieldEntity,
    name_column: &'static str,
}

fn kind_of(kind: RecordKind) -> Kind {
    match kind {
        RecordKind::Contact => Kind {
            kind,
            entity: &CONTACT,
            fields: CONTACT_FIELDS,
            relations: CONTACT_RELATIONS,
            custom: FieldEntity::Contact,
            name_column: "display_name",
        },
        RecordKind::Company => Kind {
            kind,
            entity: &COMPANY,
            fields: COMPANY_FIELDS,
            relations: COMPANY_RELATIONS,
            custom: FieldEntity::Company,
            name_column: "name",
        },
    }
}

fn parse_kind(text: &str) -> Option<RecordKind> {
    match text {
        "contact" => Some(RecordKind::Contact),
        "company" => Some(RecordKind::Company),
        _ => None,
    }
}

/// Whose value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Winner {
    /// The kept record's (the survivor's) value.
    Keep,
    /// The merged-away record's value.
    Other,
}

/// One field as the merge dialog shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldChoice {
    /// `title`, `company_id`, `custom.budget`.
    pub field: String,
    pub label: String,
    /// The values for people (a company's name, not its id); null: empty.
    pub keep: Option<String>,
    pub other: Option<String>,
    /// The default pick: the kept value unless it is empty.
    pub winner: Winner,
    pub differs: bool,
}

/// How many rows of one kind move to the survivor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MoveCount {
    /// `emails`, `deals`, ...
    pub what: String,
    pub count: u32,
}

/// What merging `other` into `keep` would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MergePreview {
    pub kind: RecordKind,
    pub keep_id: Uuid,
    pub other_id: Uuid,
    pub keep_name: String,
    pub other_name: String,
    pub fields: Vec<FieldChoice>,
    /// The other record's rows that move (counted live).
    pub moves: Vec<MoveCount>,
}

/// A merge as the history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MergeRecord {
    pub id: Uuid,
    pub kind: RecordKind,
    pub survivor_id: Uuid,
    pub loser_id: Uuid,
    pub survivor_name: String,
    pub loser_name: String,
    /// The fields that differed and whose value was taken.
    pub choices: BTreeMap<String, Winner>,
    /// Rows of the other record moved, by kind.
    pub moved: Vec<MoveCount>,
    /// Row writes the merge made (what undo puts back).
    pub writes: u32,
    pub merged_by: String,
    pub merged_at: String,
    pub undone_by: Option<String>,
    pub undone_at: Option<String>,
}

/// What an undo did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct UndoReport {
    pub merge: MergeRecord,
    /// Row writes put back.
    pub restored: u32,
    /// `entity id field` of values edited since the merge: left as they are.
    pub kept: Vec<String>,
}

/// One row write of a merge. `before` is empty for a row the merge created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Write {
    entity: String,
    id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    created: bool,
    #[serde(default)]
    before: Map<String, Value>,
    after: Map<String, Value>,
}

// ---------------------------------------------------------------------------
// Reading rows

/// A row's synced values and clocks.
async fn read_row(
    conn: &mut SqliteConnection,
    entity: &EntityDef,
    id: &str,
) -> Result<Option<(Map<String, Value>, Map<String, Value>)>> {
    let pairs: Vec<String> = entity
        .fields
        .iter()
        .map(|f| format!("'{f}', {f}"))
        .collect();
    let row: Option<(String, String)> = sqlx::query_as(&format!(
        "SELECT json_object({}), clocks FROM {} WHERE id = ?",
        pairs.join(", "),
        entity.table
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(values, clocks)| {
        (
            serde_json::from_str(&values).unwrap_or_default(),
            serde_json::from_str(&clocks).unwrap_or_default(),
        )
    }))
}

fn clock_of(clocks: &Map<String, Value>, field: &str) -> Option<Hlc> {
    clocks
        .get(field)
        .or_else(|| clocks.get("*"))
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn uuid_of(text: &str, entity: &'static str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::NotFound {
        entity,
        id: text.to_owned(),
    })
}

/// id, key, label, type, options, position.
type FieldRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
);

/// Live custom fields of one entity.
async fn custom_fields_of(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
) -> Result<Vec<CustomField>> {
    let rows: Vec<FieldRow> = sqlx::query_as(
        "SELECT id, key, label, field_type, options, position FROM custom_fields
              WHERE entity = ? AND deleted_at IS NULL ORDER BY position, key",
    )
    .bind(entity.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, key, label, field_type, options, position)| {
            Some(CustomField {
                id: Uuid::parse_str(&id).ok()?,
                entity,
                label: label.unwrap_or_else(|| key.clone()),
                key,
                field_type: FieldType::parse(&field_type).ok()?,
                options: options
                    .and_then(|o| serde_json::from_str(&o).ok())
                    .unwrap_or_default(),
                position: position.unwrap_or(0),
                deleted: false,
            })
        })
        .collect())
}

/// A record's live custom values: field id -> value text.
async fn custom_values_of(
    conn: &mut SqliteConnection,
    kind: &Kind,
    row: &str,
) -> Result<BTreeMap<String, (String, Option<Hlc>)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT field_id, value, clocks FROM custom_values
          WHERE row_id = ? AND entity = ? AND deleted_at IS NULL AND value IS NOT NULL",
    )
    .bind(row)
    .bind(kind.custom.as_str())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(field, value, clocks)| {
            let clocks: Map<String, Value> = serde_json::from_str(&clocks).unwrap_or_default();
            (field, (value, clock_of(&clocks, "value")))
        })
        .collect())
}

/// The value a person reads for one field.
async fn shown(conn: &mut SqliteConnection, field: &str, value: &Value) -> Result<Option<String>> {
    if is_empty(value) {
        return Ok(None);
    }
    if field == "company_id" {
        let name: Option<Option<String>> =
            sqlx::query_scalar("SELECT name FROM companies WHERE id = ?")
                .bind(value.as_str().unwrap_or_default())
                .fetch_optional(conn)
                .await?;
        return Ok(Some(
            name.flatten().unwrap_or_else(|| "(deleted company)".into()),
        ));
    }
    Ok(Some(match value {
        Value::String(s) if field == "photo" && s.starts_with("data:") => {
            format!("(photo, {} KB)", s.len() * 3 / 4 / 1024)
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }))
}

/// Both records, checked: distinct, existing, live.
async fn load_pair(
    conn: &mut SqliteConnection,
    kind: &Kind,
    keep: Uuid,
    other: Uuid,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let noun = kind.kind.as_str();
    if keep == other {
        return Err(Error::invalid(
            "other",
            format!("a {noun} cannot be merged with itself"),
        ));
    }
    let mut rows = Vec::new();
    for (field, id) in [("keep", keep), ("other", other)] {
        let Some((values, _)) = read_row(conn, kind.entity, &id.to_string()).await? else {
            return Err(Error::NotFound {
                entity: kind.entity.name,
                id: id.to_string(),
            });
        };
        if !values.get("deleted_at").is_none_or(Value::is_null) {
            return Err(Error::invalid(
                field,
                format!("the {noun} {id} is deleted: restore it from the trash first"),
            ));
        }
        rows.push(values);
    }
    let other_row = rows.pop().unwrap_or_default();
    let keep_row = rows.pop().unwrap_or_default();
    Ok((keep_row, other_row))
}

fn name_of(kind: &Kind, row: &Map<String, Value>) -> String {
    row.get(kind.name_column)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The choices for every field, defaults applied, then `prefer` applied.
async fn choices(
    conn: &mut SqliteConnection,
    kind: &Kind,
    keep: (&str, &Map<String, Value>),
    other: (&str, &Map<String, Value>),
    prefer: &[(String, Winner)],
) -> Result<(
    Vec<FieldChoice>,
    Vec<(String, Value, Value)>,
    Vec<CustomField>,
)> {
    let custom = custom_fields_of(conn, kind.custom).await?;
    let keep_custom = custom_values_of(conn, kind, keep.0).await?;
    let other_custom = custom_values_of(conn, kind, other.0).await?;
    // (field, keep value, other value)
    let mut raw: Vec<(String, String, Value, Value)> = kind
        .fields
        .iter()
        .map(|(f, label)| {
            (
                (*f).to_owned(),
                (*label).to_owned(),
                keep.1.get(*f).cloned().unwrap_or(Value::Null),
                other.1.get(*f).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    for f in &custom {
        let id = f.id.to_string();
        let value = |m: &BTreeMap<String, (String, Option<Hlc>)>| {
            m.get(&id).map_or(Value::Null, |(v, _)| json!(v))
        };
        raw.push((
            format!("custom.{}", f.key),
            f.label.clone(),
            value(&keep_custom),
            value(&other_custom),
        ));
    }
    let mut picks: BTreeMap<String, Winner> = BTreeMap::new();
    for (name, winner) in prefer {
        let t = name.trim().to_lowercase();
        let t = ALIASES
            .iter()
            .find(|(a, _)| *a == t)
            .map_or(t.clone(), |(_, f)| (*f).to_owned());
        let field = raw
            .iter()
            .map(|r| r.0.clone())
            .find(|f| *f == t || f.strip_prefix("custom.") == Some(t.as_str()));
        match field {
            Some(f) => {
                picks.insert(f, *winner);
            }
            None => {
                let names: Vec<&str> = raw.iter().map(|r| r.0.as_str()).collect();
                return Err(Error::invalid(
                    "prefer",
                    format!(
                        "a {} has no field \"{}\" (fields: {})",
                        kind.kind.as_str(),
                        name.trim(),
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    let mut out = Vec::new();
    let mut values = Vec::new();
    for (field, label, k, o) in raw {
        let differs = k != o;
        let default = if is_empty(&k) && !is_empty(&o) {
            Winner::Other
        } else {
            Winner::Keep
        };
        let winner = picks.get(&field).copied().unwrap_or(default);
        out.push(FieldChoice {
            keep: shown(conn, &field, &k).await?,
            other: shown(conn, &field, &o).await?,
            field: field.clone(),
            label,
            winner,
            differs,
        });
        if differs && winner == Winner::Other {
            values.push((field, k, o));
        }
    }
    Ok((out, values, custom))
}

async fn move_counts(
    conn: &mut SqliteConnection,
    kind: &Kind,
    other: &str,
) -> Result<Vec<MoveCount>> {
    let mut out = Vec::new();
    for r in kind.relations {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {} WHERE {} = ? AND deleted_at IS NULL",
            r.entity.table, r.column
        ))
        .bind(other)
        .fetch_one(&mut *conn)
        .await?;
        if n > 0 {
            out.push(MoveCount {
                what: r.label.to_owned(),
                count: n as u32,
            });
        }
    }
    Ok(out)
}

/// What merging `other` into `keep` would do: each field's two values and
/// default pick (after `prefer`), and how many rows move. Writes nothing.
pub async fn preview(
    store: &Store,
    kind: RecordKind,
    keep: Uuid,
    other: Uuid,
    prefer: &[(String, Winner)],
) -> Result<MergePreview> {
    let k = kind_of(kind);
    let mut conn = store.pool().acquire().await?;
    let (keep_row, other_row) = load_pair(&mut conn, &k, keep, other).await?;
    let (keep_s, other_s) = (keep.to_string(), other.to_string());
    let (fields, _, _) = choices(
        &mut conn,
        &k,
        (&keep_s, &keep_row),
        (&other_s, &other_row),
        prefer,
    )
    .await?;
    Ok(MergePreview {
        kind,
        keep_id: keep,
        other_id: other,
        keep_name: name_of(&k, &keep_row),
        other_name: name_of(&k, &other_row),
        fields,
        moves: move_counts(&mut conn, &k, &other_s).await?,
    })
}

// ---------------------------------------------------------------------------
// Merge

/// Every row of both records and of their related tables: (entity, id) ->
/// values. Compared before and after a merge, it gives the merge's writes.
async fn snapshot(
    conn: &mut SqliteConnection,
    kind: &Kind,
    ids: &[&str],
) -> Result<BTreeMap<(String, String), Map<String, Value>>> {
    let ids_json = serde_json::to_string(ids).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut sources: Vec<(&EntityDef, String)> = vec![(kind.entity, "id".into())];
    for r in kind.relations {
        sources.push((r.entity, r.column.into()));
    }
    sources.push((&CUSTOM_VALUE, "row_id".into()));
    for (entity, column) in sources {
        let pairs: Vec<String> = entity
            .fields
            .iter()
            .map(|f| format!("'{f}', t.{f}"))
            .collect();
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT t.id, json_object({}) FROM json_each(?) j JOIN {} t ON t.{column} = j.value",
            pairs.join(", "),
            entity.table
        ))
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await?;
        for (id, values) in rows {
            out.insert(
                (entity.name.to_owned(), id),
                serde_json::from_str(&values).unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

fn diff(
    before: &BTreeMap<(String, String), Map<String, Value>>,
    after: &BTreeMap<(String, String), Map<String, Value>>,
) -> Vec<Write> {
    let mut writes = Vec::new();
    for ((entity, id), now) in after {
        match before.get(&(entity.clone(), id.clone())) {
            None => writes.push(Write {
                entity: entity.clone(),
                id: id.clone(),
                created: true,
                before: Map::new(),
                after: now.clone(),
            }),
            Some(was) => {
                let (mut b, mut a) = (Map::new(), Map::new());
                for (field, value) in now {
                    let old = was.get(field).cloned().unwrap_or(Value::Null);
                    if old != *value {
                        b.insert(field.clone(), old);
                        a.insert(field.clone(), value.clone());
                    }
                }
                if !a.is_empty() {
                    writes.push(Write {
                        entity: entity.clone(),
                        id: id.clone(),
                        created: false,
                        before: b,
                        after: a,
                    });
                }
            }
        }
    }
    writes
}

/// Move every live reference to `from` onto `to`, by each relation's rule.
/// Rows already deleted are repointed too (restoring one from the trash
/// then brings it back on the survivor).
async fn move_relations(tx: &mut WriteTx, kind: &Kind, from: &str, to: Uuid) -> Result<()> {
    let to_text = to.to_string();
    for r in kind.relations {
        match r.follow {
            Follow::Move => {
                let ids: Vec<String> = sqlx::query_scalar(&format!(
                    "SELECT id FROM {} WHERE {} = ? ORDER BY rk",
                    r.entity.table, r.column
                ))
                .bind(from)
                .fetch_all(tx.conn())
                .await?;
                for id in ids {
                    tx.update(
                        r.entity,
                        uuid_of(&id, r.entity.name)?,
                        vec![(r.column, json!(to_text))],
                    )
                    .await?;
                }
            }
            Follow::Unique(value_column) => {
                let existing: Vec<(String, Option<i64>)> = sqlx::query_as(&format!(
                    "SELECT {value_column}, position FROM {} WHERE {} = ? AND deleted_at IS NULL",
                    r.entity.table, r.column
                ))
                .bind(&to_text)
                .fetch_all(tx.conn())
                .await?;
                let mut have: BTreeSet<String> =
                    existing.iter().map(|(v, _)| v.to_lowercase()).collect();
                let mut next = existing
                    .iter()
                    .filter_map(|(_, p)| *p)
                    .max()
                    .map_or(0, |p| p + 1);
                let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(&format!(
                    "SELECT id, {value_column}, deleted_at FROM {} WHERE {} = ? ORDER BY position, rk",
                    r.entity.table, r.column
                ))
                .bind(from)
                .fetch_all(tx.conn())
                .await?;
                for (id, value, deleted) in rows {
                    let id = uuid_of(&id, r.entity.name)?;
                    let value = value.unwrap_or_default().to_lowercase();
                    let mut fields: Fields = vec![(r.column, json!(to_text))];
                    if deleted.is_none() {
                        if have.contains(&value) {
                            tx.delete(r.entity, id).await?;
                        } else {
                            have.insert(value);
                            fields.push(("position", json!(next)));
                            next += 1;
                        }
                    }
                    tx.update(r.entity, id, fields).await?;
                }
            }
            Follow::Tag(taggable) => {
                let from_id = uuid_of(from, r.entity.name)?;
                let mut conn_names = tags::names_for(tx.conn(), taggable, from_id).await?;
                if conn_names.is_empty() {
                    continue;
                }
                let mut names = tags::names_for(tx.conn(), taggable, to).await?;
                for n in conn_names.drain(..) {
                    if !names.iter().any(|x| x.to_lowercase() == n.to_lowercase()) {
                        names.push(n);
                    }
                }
                tags::set_for(tx, taggable, to, &names).await?;
                tags::set_for(tx, taggable, from_id, &[]).await?;
            }
        }
    }
    Ok(())
}

/// Merge contact `other` into contact `keep`. `prefer` overrides the default
/// pick (the kept value unless it is empty) per field.
pub async fn merge_contacts(
    store: &Store,
    keep: Uuid,
    other: Uuid,
    prefer: &[(String, Winner)],
) -> Result<MergeRecord> {
    merge(store, RecordKind::Contact, keep, other, prefer).await
}

/// Merge company `other` into company `keep`.
pub async fn merge_companies(
    store: &Store,
    keep: Uuid,
    other: Uuid,
    prefer: &[(String, Winner)],
) -> Result<MergeRecord> {
    merge(store, RecordKind::Company, keep, other, prefer).await
}

/// Merge `other` into `keep` (see the module's overview).
pub async fn merge(
    store: &Store,
    kind: RecordKind,
    keep: Uuid,
    other: Uuid,
    prefer: &[(String, Winner)],
) -> Result<MergeRecord> {
    let k = kind_of(kind);
    let who = users::current(store).await?;
    let mut tx = store.write().await?;
    let (keep_row, other_row) = load_pair(tx.conn(), &k, keep, other).await?;
    let (keep_s, other_s) = (keep.to_string(), other.to_string());
    let (fields, values, custom) = choices(
        tx.conn(),
        &k,
        (&keep_s, &keep_row),
        (&other_s, &other_row),
        prefer,
    )
    .await?;
    let before = snapshot(tx.conn(), &k, &[&keep_s, &other_s]).await?;
    // What the merging user saw of the other record: a later, different
    // value there was written without seeing the merge (see follow_up).
    let mut loser_values = other_row.clone();
    for (field, (value, _)) in custom_values_of(tx.conn(), &k, &other_s).await? {
        loser_values.insert(format!("custom:{field}"), json!(value));
    }

    // The chosen values.
    let mut own: Fields = Vec::new();
    let mut custom_writes: Vec<(CustomField, Option<String>)> = Vec::new();
    for (field, _, value) in values {
        if let Some(key) = field.strip_prefix("custom.") {
            if let Some(f) = custom.iter().find(|f| f.key == key) {
                custom_writes.push((f.clone(), value.as_str().map(str::to_owned)));
            }
        } else if let Some((name, _)) = k.fields.iter().find(|(f, _)| *f == field) {
            own.push((name, value));
        }
    }
    // The record is as old as the older of the two.
    let created = |row: &Map<String, Value>| {
        row.get("created_at")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let (Some(a), Some(b)) = (created(&keep_row), created(&other_row)) {
        if b < a {
            own.push(("created_at", json!(b)));
        }
    }
    tx.update(k.entity, keep, own).await?;
    crate::custom_fields::write_values(&mut tx, k.custom, keep, &custom_writes).await?;
    move_relations(&mut tx, &k, &other_s, keep).await?;
    tx.delete(k.entity, other).await?;

    let after = snapshot(tx.conn(), &k, &[&keep_s, &other_s]).await?;
    let writes = diff(&before, &after);
    if writes.len() > MAX_WRITES {
        return Err(Error::invalid(
            "other",
            format!(
                "merging moves {} rows, more than {MAX_WRITES} in one merge; move some first",
                writes.len()
            ),
        ));
    }
    let chosen: BTreeMap<String, Winner> = fields
        .iter()
        .filter(|c| c.differs)
        .map(|c| (c.field.clone(), c.winner))
        .collect();
    let id = Uuid::now_v7();
    tx.insert(
        MERGE,
        id,
        vec![
            ("kind", json!(kind.as_str())),
            ("survivor_id", json!(keep_s)),
            ("loser_id", json!(other_s)),
            ("survivor_name", json!(name_of(&k, &keep_row))),
            ("loser_name", json!(name_of(&k, &other_row))),
            (
                "choices",
                json!(serde_json::to_string(&chosen).unwrap_or_default()),
            ),
            (
                "writes",
                json!(serde_json::to_string(&writes).unwrap_or_default()),
            ),
            (
                "loser_values",
                json!(Value::Object(loser_values).to_string()),
            ),
            ("merged_by", json!(who)),
            ("merged_at", json!(now_rfc3339())),
        ],
    )
    .await?;
    // This device holds nothing of the other record any more.
    sqlx::query("UPDATE merges SET followed = 1 WHERE id = ?")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    get(store, id).await
}

// ---------------------------------------------------------------------------
// History and undo

#[derive(sqlx::FromRow)]
struct MergeRow {
    id: String,
    kind: Option<String>,
    survivor_id: Option<String>,
    loser_id: Option<String>,
    survivor_name: Option<String>,
    loser_name: Option<String>,
    choices: Option<String>,
    writes: Option<String>,
    merged_by: Option<String>,
    merged_at: Option<String>,
    undone_by: Option<String>,
    undone_at: Option<String>,
}

const MERGE_COLUMNS: &str =
    "id, kind, survivor_id, loser_id, survivor_name, loser_name, choices, writes,
    merged_by, merged_at, undone_by, undone_at";

fn writes_of(row: &MergeRow) -> Vec<Write> {
    row.writes
        .as_deref()
        .and_then(|w| serde_json::from_str(w).ok())
        .unwrap_or_default()
}

fn record(row: MergeRow) -> Option<MergeRecord> {
    let kind = parse_kind(row.kind.as_deref()?)?;
    let k = kind_of(kind);
    let writes = writes_of(&row);
    let loser = row.loser_id.clone().unwrap_or_default();
    let mut moved: Vec<MoveCount> = Vec::new();
    for r in k.relations {
        let n = writes
            .iter()
            .filter(|w| {
                w.entity == r.entity.name
                    && w.before.get(r.column).and_then(Value::as_str) == Some(loser.as_str())
                    && w.before.get("deleted_at").is_none()
                    && w.after.get("deleted_at").is_none()
            })
            .count();
        // Tag links are not moved but re-made on the survivor.
        let n = if matches!(r.follow, Follow::Tag(_)) {
            writes
                .iter()
                .filter(|w| {
                    w.entity == r.entity.name
                        && w.after.get("deleted_at").is_some_and(Value::is_string)
                })
                .count()
        } else {
            n
        };
        if n > 0 {
            moved.push(MoveCount {
                what: r.label.to_owned(),
                count: n as u32,
            });
        }
    }
    Some(MergeRecord {
        id: Uuid::parse_str(&row.id).ok()?,
        kind,
        survivor_id: Uuid::parse_str(row.survivor_id.as_deref()?).ok()?,
        loser_id: Uuid::parse_str(&loser).ok()?,
        survivor_name: row.survivor_name.unwrap_or_default(),
        loser_name: row.loser_name.unwrap_or_default(),
        choices: row
            .choices
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default(),
        moved,
        writes: writes.len() as u32,
        merged_by: row.merged_by.unwrap_or_default(),
        merged_at: row.merged_at.unwrap_or_default(),
        undone_by: row.undone_by,
        undone_at: row.undone_at,
    })
}

async fn row_of(conn: &mut SqliteConnection, id: Uuid) -> Result<MergeRow> {
    sqlx::query_as::<_, MergeRow>(&format!(
        "SELECT {MERGE_COLUMNS} FROM merges WHERE id = ? AND deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound {
        entity: "merge",
        id: id.to_string(),
    })
}

pub async fn get(store: &Store, id: Uuid) -> Result<MergeRecord> {
    let mut conn = store.pool().acquire().await?;
    record(row_of(&mut conn, id).await?).ok_or_else(|| Error::NotFound {
        entity: "merge",
        id: id.to_string(),
    })
}

/// The merge history, newest first.
pub async fn list(store: &Store, limit: u32) -> Result<Vec<MergeRecord>> {
    let rows: Vec<MergeRow> = sqlx::query_as(&format!(
        "SELECT {MERGE_COLUMNS} FROM merges WHERE deleted_at IS NULL
          ORDER BY merged_at DESC, id DESC LIMIT ?"
    ))
    .bind(i64::from(limit.clamp(1, 10_000)))
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(record).collect())
}

/// Undo a merge: every row write it made is put back (the other record
/// returns, the survivor's fields and every moved row are as they were),
/// except values edited since, which are kept and listed. A survivor that
/// was itself merged away since must have that merge undone first.
pub async fn undo(store: &Store, id: Uuid) -> Result<UndoReport> {
    let who = users::current(store).await?;
    let mut tx = store.write().await?;
    let row = row_of(tx.conn(), id).await?;
    if let Some(at) = &row.undone_at {
        return Err(Error::invalid(
            "id",
            format!("merge {id} was already undone at {at}"),
        ));
    }
    let later: Option<String> = sqlx::query_scalar(
        "SELECT id FROM merges WHERE loser_id = ? AND undone_at IS NULL AND deleted_at IS NULL",
    )
    .bind(&row.survivor_id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(later) = later {
        return Err(Error::invalid(
            "id",
            format!("the survivor was merged again since (merge {later}): undo that merge first"),
        ));
    }
    let writes = writes_of(&row);
    let (mut restored, mut kept) = (0u32, Vec::new());
    for w in writes.iter().rev() {
        let Some(entity) = entities::by_name(&w.entity) else {
            continue;
        };
        let row_id = uuid_of(&w.id, entity.name)?;
        let Some((now, _)) = read_row(tx.conn(), entity, &w.id).await? else {
            continue;
        };
        if w.created {
            if now.get("deleted_at").is_none_or(Value::is_null) {
                tx.delete(entity, row_id).await?;
            }
            restored += 1;
            continue;
        }
        let mut fields: Fields = Vec::new();
        for (field, was) in &w.before {
            let Some(name) = entity.fields.iter().copied().find(|f| f == field) else {
                continue;
            };
            let current = now.get(field).cloned().unwrap_or(Value::Null);
            if Some(&current) == w.after.get(field) {
                fields.push((name, was.clone()));
            } else if current != *was {
                kept.push(format!("{} {} {field}", w.entity, w.id));
            }
        }
        if !fields.is_empty() {
            tx.update(entity, row_id, fields).await?;
            restored += 1;
        }
    }
    tx.update(
        MERGE,
        id,
        vec![
            ("undone_at", json!(now_rfc3339())),
            ("undone_by", json!(who)),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(UndoReport {
        merge: get(store, id).await?,
        restored,
        kept,
    })
}

// ---------------------------------------------------------------------------
// After a pull

/// Bring what this device holds in line with the merges it knows, after a
/// pulled page is applied (in the same transaction). For each merge not
/// undone whose merged-away record the page touched (or that this device
/// has not followed yet):
/// - every live reference to the merged-away record is moved to the
///   survivor (a call logged on it offline, an email added to it), by the
///   same rules as the merge;
/// - a field of the merged-away record whose value differs from what the
///   merging user saw was written by a device that had not seen the merge:
///   it is carried to the survivor, unless the survivor's field was edited
///   after the merge and after that write.
///
/// Every device computes the same values from the same rows, and equal
/// values never conflict, so devices converge whichever does it first.
/// Returns how many merges were followed.
pub async fn follow_up<'c>(
    tx: &mut WriteTx,
    changes: impl IntoIterator<Item = &'c Change>,
) -> Result<usize> {
    let mut merges: BTreeSet<String> = BTreeSet::new();
    let mut records: BTreeSet<String> = BTreeSet::new();
    let mut related: BTreeMap<
        &'static str,
        (&'static EntityDef, BTreeSet<&'static str>, Vec<String>),
    > = BTreeMap::new();
    for change in changes {
        let id = change.row_id.to_string();
        match change.entity.as_str() {
            "merge" => {
                merges.insert(id.clone());
            }
            "contact" | "company" => {
                records.insert(id.clone());
            }
            _ => {}
        }
        for r in CONTACT_RELATIONS.iter().chain(COMPANY_RELATIONS) {
            if r.entity.name == change.entity {
                let entry = related
                    .entry(r.entity.name)
                    .or_insert_with(|| (r.entity, BTreeSet::new(), Vec::new()));
                entry.1.insert(r.column);
                entry.2.push(id.clone());
            }
        }
        if change.entity == CUSTOM_VALUE.name {
            let entry = related
                .entry(CUSTOM_VALUE.name)
                .or_insert_with(|| (&CUSTOM_VALUE, BTreeSet::new(), Vec::new()));
            entry.1.insert("row_id");
            entry.2.push(id);
        }
    }
    for (entity, columns, ids) in related.values() {
        let ids = serde_json::to_string(ids).unwrap_or_default();
        for column in columns {
            let refs: Vec<Option<String>> = sqlx::query_scalar(&format!(
                "SELECT DISTINCT t.{column} FROM json_each(?) j JOIN {} t ON t.id = j.value",
                entity.table
            ))
            .bind(&ids)
            .fetch_all(tx.conn())
            .await?;
            records.extend(refs.into_iter().flatten());
        }
    }
    let todo: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, kind, survivor_id, loser_id, coalesce(loser_values, '{}'), clocks FROM merges
          WHERE undone_at IS NULL AND deleted_at IS NULL
            AND (followed = 0 OR id IN (SELECT value FROM json_each(?1))
                 OR loser_id IN (SELECT value FROM json_each(?2)))
          ORDER BY merged_at, id",
    )
    .bind(serde_json::to_string(&merges).unwrap_or_default())
    .bind(serde_json::to_string(&records).unwrap_or_default())
    .fetch_all(tx.conn())
    .await?;
    let mut followed = 0;
    for (id, kind, survivor, loser, loser_values, clocks) in &todo {
        if let Some(kind) = parse_kind(kind) {
            let clocks: Map<String, Value> = serde_json::from_str(clocks).unwrap_or_default();
            let merged_at = clock_of(&clocks, "survivor_id");
            let loser_values: Map<String, Value> =
                serde_json::from_str(loser_values).unwrap_or_default();
            if follow_one(
                tx,
                &kind_of(kind),
                survivor,
                loser,
                &loser_values,
                merged_at,
            )
            .await?
            {
                followed += 1;
            }
        }
        sqlx::query("UPDATE merges SET followed = 1 WHERE id = ?")
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    Ok(followed)
}

/// The record everything of `survivor` ends on: merges chain (A into B,
/// then B into C). `None` on a cycle (two devices merged the pair both ways).
async fn final_survivor(
    conn: &mut SqliteConnection,
    kind: &Kind,
    survivor: &str,
) -> Result<Option<String>> {
    let mut at = survivor.to_owned();
    let mut seen = BTreeSet::new();
    loop {
        if !seen.insert(at.clone()) {
            return Ok(None);
        }
        let next: Option<String> = sqlx::query_scalar(
            "SELECT survivor_id FROM merges WHERE loser_id = ? AND kind = ?
                AND undone_at IS NULL AND deleted_at IS NULL ORDER BY merged_at LIMIT 1",
        )
        .bind(&at)
        .bind(kind.kind.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        match next {
            Some(n) => at = n,
            None => return Ok(Some(at)),
        }
    }
}

async fn follow_one(
    tx: &mut WriteTx,
    kind: &Kind,
    survivor: &str,
    loser: &str,
    loser_values: &Map<String, Value>,
    merged_at: Option<Hlc>,
) -> Result<bool> {
    let Some(target) = final_survivor(tx.conn(), kind, survivor).await? else {
        return Ok(false);
    };
    let Some((loser_now, loser_clocks)) = read_row(tx.conn(), kind.entity, loser).await? else {
        return Ok(false);
    };
    let Some((target_now, target_clocks)) = read_row(tx.conn(), kind.entity, &target).await? else {
        return Ok(false);
    };
    let live = |row: &Map<String, Value>| row.get("deleted_at").is_none_or(Value::is_null);
    // The merged-away record was restored (from the trash), or the survivor
    // deleted: nothing to follow; the trash shows both.
    if live(&loser_now) || !live(&target_now) {
        return Ok(false);
    }
    let target_id = uuid_of(&target, kind.entity.name)?;
    move_relations(tx, kind, loser, target_id).await?;

    // Field edits of the merged-away record made without seeing the merge.
    let carry = |field: &str, now: &Value, loser_clock: Option<Hlc>, target_clock: Option<Hlc>| {
        let seen = loser_values.get(field).unwrap_or(&Value::Null);
        if now == seen {
            return false;
        }
        let edited_after_merge = target_clock > merged_at;
        !(edited_after_merge && target_clock > loser_clock)
    };
    let mut fields: Fields = Vec::new();
    for (field, _) in kind.fields {
        let now = loser_now.get(*field).cloned().unwrap_or(Value::Null);
        if target_now.get(*field) == Some(&now) {
            continue;
        }
        if carry(
            field,
            &now,
            clock_of(&loser_clocks, field),
            clock_of(&target_clocks, field),
        ) {
            fields.push((field, now));
        }
    }
    tx.update(kind.entity, target_id, fields).await?;
    let custom = custom_fields_of(tx.conn(), kind.custom).await?;
    let loser_custom = custom_values_of(tx.conn(), kind, loser).await?;
    let target_custom = custom_values_of(tx.conn(), kind, &target).await?;
    let mut writes = Vec::new();
    for f in custom {
        let key = f.id.to_string();
        let Some((value, clock)) = loser_custom.get(&key) else {
            continue;
        };
        let target_value = target_custom.get(&key);
        if target_value.map(|(v, _)| v) == Some(value) {
            continue;
        }
        if carry(
            &format!("custom:{key}"),
            &json!(value),
            *clock,
            target_value.and_then(|(_, c)| *c),
        ) {
            writes.push((f, Some(value.clone())));
        }
    }
    crate::custom_fields::write_values(tx, kind.custom, target_id, &writes).await?;
    Ok(true)
}

#[cfg(test)]
mod tests;
