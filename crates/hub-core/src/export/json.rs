//! The full JSON export: every synced entity's live rows, all synced fields.
//!
//! Shape (one record per line, so two exports diff line by line):
//!
//! ```text
//! {"format":"customer-hub","version":1,"entities":{
//! "activity":[
//! {"id":"0190…","kind":"call",…},
//! …
//! ],
//! "company":[
//! …
//! ]}}
//! ```
//!
//! - Entities are keyed by their wire name ([`crate::entities::ALL`]), in
//!   name order; every entity is present, an empty one as `[]`.
//! - Rows are ordered by id; each row is `id` then the entity's synced fields
//!   in [`EntityDef::fields`] order, with the values as stored (the values of
//!   the wire: text, integers, null; money as exact decimal text).
//! - **Live records only.** A deleted (tombstoned) row is left out, and so is
//!   a row that belongs to one: the emails, phones, tags, custom values of a
//!   contact in the trash, a deal's line items and stage history, a ticket's
//!   comments, a reminder's notifications, the values of a deleted custom
//!   field, the links of a deleted tag. A user restoring data wants what they
//!   see in the app; the trash is not part of it. `deleted_at` is therefore
//!   not written (it would be null on every row).
//! - No time stamp, device id or clocks: two exports of the same data are
//!   byte-identical, whichever device made them and when. This is what the
//!   import's revert is checked against.
//!
//! Everything is read in one read transaction, so an export made while the
//! app writes is a consistent snapshot. Rows are read in pages of
//! [`PAGE`] by id and streamed to the writer: memory stays flat at any size.

use std::io::Write;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::entities::{self, EntityDef};
use crate::error::{Error, Result};
use crate::store::Store;

/// The `format` member of the export.
pub const FORMAT: &str = "customer-hub";
/// The `version` member; bumped when the shape changes (not when an entity
/// or a field is added).
pub const VERSION: u32 = 1;
/// Rows read per query.
const PAGE: i64 = 2000;

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct JsonSummary {
    /// Live rows written per entity, in name order.
    pub entities: Vec<EntityCount>,
    /// All rows written.
    #[ts(type = "number")]
    pub records: u64,
    /// Bytes written.
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct EntityCount {
    /// The entity's wire name (`contact`, `deal_line_item`, …).
    pub entity: String,
    #[ts(type = "number")]
    pub records: u64,
}

/// A row belongs to another when this column names it: it is exported only
/// while its owner is live.
struct Owner {
    column: &'static str,
    /// The owner's table, or `None` when the owner's kind is in the row's
    /// `entity` column (custom values).
    table: Option<&'static str>,
}

fn owners(entity: &EntityDef) -> &'static [Owner] {
    match entity.name {
        "contact_email" | "contact_phone" | "contact_address" => &[Owner {
            column: "contact_id",
            table: Some("contacts"),
        }],
        "contact_tag" => &[
            Owner {
                column: "contact_id",
                table: Some("contacts"),
            },
            Owner {
                column: "tag_id",
                table: Some("tags"),
            },
        ],
        "company_tag" => &[
            Owner {
                column: "company_id",
                table: Some("companies"),
            },
            Owner {
                column: "tag_id",
                table: Some("tags"),
            },
        ],
        "deal_tag" => &[
            Owner {
                column: "deal_id",
                table: Some("deals"),
            },
            Owner {
                column: "tag_id",
                table: Some("tags"),
            },
        ],
        "custom_value" => &[
            Owner {
                column: "field_id",
                table: Some("custom_fields"),
            },
            Owner {
                column: "row_id",
                table: None,
            },
        ],
        "deal_line_item" | "deal_stage_change" => &[Owner {
            column: "deal_id",
            table: Some("deals"),
        }],
        "ticket_comment" => &[Owner {
            column: "ticket_id",
            table: Some("tickets"),
        }],
        "reminder_notification" => &[Owner {
            column: "reminder_id",
            table: Some("reminders"),
        }],
        "import_batch" => &[Owner {
            column: "import_id",
            table: Some("imports"),
        }],
        "pipeline_stage" => &[Owner {
            column: "pipeline_id",
            table: Some("pipelines"),
        }],
        _ => &[],
    }
}

/// `AND` conditions keeping only rows whose owners are live.
fn owner_sql(entity: &EntityDef) -> String {
    let mut sql = String::new();
    for o in owners(entity) {
        match o.table {
            Some(table) => sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM {table} o WHERE o.id = r.{col} AND o.deleted_at IS NULL)",
                col = o.column
            )),
            None => {
                // Custom values: the record's kind is in `entity`.
                let arms: String = crate::custom_fields::FieldEntity::ALL
                    .iter()
                    .map(|e| {
                        format!(
                            " WHEN '{}' THEN EXISTS (SELECT 1 FROM {} o WHERE o.id = r.{col} AND o.deleted_at IS NULL)",
                            e.as_str(),
                            e.table(),
                            col = o.column
                        )
                    })
                    .collect();
                sql.push_str(&format!(" AND (CASE r.entity{arms} ELSE 0 END)"));
            }
        }
    }
    sql
}

/// The exported fields of an entity: its synced fields but the tombstone.
fn exported_fields(entity: &EntityDef) -> impl Iterator<Item = &'static str> + '_ {
    entity.fields.iter().copied().filter(|f| *f != "deleted_at")
}

/// The entities in export order (by wire name).
fn in_order() -> Vec<&'static EntityDef> {
    let mut all: Vec<&'static EntityDef> = entities::ALL.to_vec();
    all.sort_by_key(|e| e.name);
    all
}

/// Counts bytes on their way to the writer.
struct Counted<'w, W: Write + ?Sized> {
    inner: &'w mut W,
    bytes: u64,
}

impl<W: Write + ?Sized> Counted<'_, W> {
    fn put(&mut self, s: &str) -> std::io::Result<()> {
        self.inner.write_all(s.as_bytes())?;
        self.bytes += s.len() as u64;
        Ok(())
    }
}

/// What to leave out of a JSON export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JsonOptions {
    /// Entities (wire names) not written at all, e.g. `import` and
    /// `import_batch` to compare the data before an import and after its
    /// revert (the import's own record stays, marked reverted).
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Write the full JSON export of `store` to `out` (see the module docs for
/// the shape). The writer is not flushed.
pub async fn json<W: Write + ?Sized>(store: &Store, out: &mut W) -> Result<JsonSummary> {
    json_with(store, &JsonOptions::default(), out).await
}

/// [`json`] without the entities `options` excludes (an unknown name is an
/// error, before anything is written).
pub async fn json_with<W: Write + ?Sized>(
    store: &Store,
    options: &JsonOptions,
    out: &mut W,
) -> Result<JsonSummary> {
    for name in &options.exclude {
        if entities::by_name(name.trim()).is_none() {
            let mut known: Vec<&str> = entities::ALL.iter().map(|e| e.name).collect();
            known.sort();
            return Err(Error::invalid(
                "exclude",
                format!(
                    "\"{}\" is not an entity ({})",
                    name.trim(),
                    known.join(", ")
                ),
            ));
        }
    }
    let excluded = |e: &EntityDef| options.exclude.iter().any(|x| x.trim() == e.name);
    let mut out = Counted {
        inner: out,
        bytes: 0,
    };
    // One snapshot for every table: a deferred transaction that only reads.
    let mut tx = store.pool().begin().await?;
    let mut summary = JsonSummary::default();
    out.put(&format!(
        "{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"entities\":{{"
    ))?;
    for (i, entity) in in_order().into_iter().filter(|e| !excluded(e)).enumerate() {
        if i > 0 {
            out.put(",")?;
        }
        out.put(&format!("\n\"{}\":[", entity.name))?;
        let object = std::iter::once("'id', r.id".to_owned())
            .chain(exported_fields(entity).map(|f| format!("'{f}', r.{f}")))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT r.id, json_object({object}) FROM {table} r
              WHERE r.id > ? AND r.deleted_at IS NULL{owners}
              ORDER BY r.id LIMIT {PAGE}",
            table = entity.table,
            owners = owner_sql(entity),
        );
        let mut after = String::new();
        let mut count = 0u64;
        loop {
            let rows: Vec<(String, String)> = sqlx::query_as(&sql)
                .bind(&after)
                .fetch_all(&mut *tx)
                .await?;
            let full = rows.len() as i64 == PAGE;
            for (id, object) in rows {
                out.put(if count == 0 { "\n" } else { ",\n" })?;
                out.put(&object)?;
                count += 1;
                after = id;
            }
            if !full {
                break;
            }
        }
        out.put(if count == 0 { "]" } else { "\n]" })?;
        summary.entities.push(EntityCount {
            entity: entity.name.to_owned(),
            records: count,
        });
        summary.records += count;
    }
    out.put("}}\n")?;
    tx.rollback().await?;
    summary.bytes = out.bytes;
    Ok(summary)
}

/// The full JSON export as a string (see [`json`]).
pub async fn json_string(store: &Store) -> Result<String> {
    let mut buf = Vec::new();
    json(store, &mut buf).await?;
    // SQLite's json_object and our own text are UTF-8.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companies::{self, CompanyInput};
    use crate::contacts::{self, ContactInput, EmailEntry};
    use crate::custom_fields::{self, FieldEntity, FieldInput, FieldType};
    use serde_json::Value;

    async fn parsed(store: &Store) -> Value {
        serde_json::from_str(&json_string(store).await.unwrap()).unwrap()
    }

    fn rows<'v>(v: &'v Value, entity: &str) -> &'v Vec<Value> {
        v["entities"][entity].as_array().unwrap()
    }

    #[tokio::test]
    async fn every_entity_is_present_and_an_empty_store_exports_empty_lists() {
        let store = Store::open_in_memory().await.unwrap();
        let v = parsed(&store).await;
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["version"], VERSION);
        let names: Vec<&str> = v["entities"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected: Vec<&str> = entities::ALL.iter().map(|e| e.name).collect();
        expected.sort();
        assert_eq!(names, expected);
        // Pipelines come with a default one; everything else is empty.
        for (name, list) in v["entities"].as_object().unwrap() {
            if !name.starts_with("pipeline") && name != "workspace_setting" {
                assert!(list.as_array().unwrap().is_empty(), "{name}");
            }
        }
    }

    #[tokio::test]
    async fn live_rows_with_all_fields_in_id_order_and_byte_identical_twice() {
        let store = Store::open_in_memory().await.unwrap();
        let acme = companies::create(
            &store,
            CompanyInput {
                name: "Acme \"Rockets\", Ltd".into(),
                domain: Some("acme.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        custom_fields::add(
            &store,
            FieldInput {
                entity: FieldEntity::Contact,
                label: "Budget".into(),
                field_type: FieldType::Number,
                options: vec![],
            },
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        for name in ["Zoë Ångström", "Bob", "Cy"] {
            let c = contacts::create(
                &store,
                ContactInput {
                    display_name: Some(name.into()),
                    company_id: Some(acme.id),
                    emails: vec![EmailEntry {
                        kind: "work".into(),
                        address: format!("{}@acme.example", name.len()),
                    }],
                    tags: vec!["VIP".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            custom_fields::set_values(
                &store,
                FieldEntity::Contact,
                c.id,
                &[("budget".into(), "1234.50".into())],
            )
            .await
            .unwrap();
            ids.push(c.id);
        }
        let first = json_string(&store).await.unwrap();
        let second = json_string(&store).await.unwrap();
        assert_eq!(first, second);

        let v: Value = serde_json::from_str(&first).unwrap();
        let contacts = rows(&v, "contact");
        assert_eq!(contacts.len(), 3);
        let listed: Vec<&str> = contacts.iter().map(|c| c["id"].as_str().unwrap()).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        // id, then every synced field but the tombstone, in their order.
        let keys: Vec<&str> = contacts[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["id"];
        expected.extend(exported_fields(&entities::CONTACT));
        expected.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected);
        let zoe = contacts
            .iter()
            .find(|c| c["display_name"] == "Zoë Ångström")
            .unwrap();
        assert_eq!(zoe["company_id"], acme.id.to_string());
        assert_eq!(rows(&v, "company")[0]["name"], "Acme \"Rockets\", Ltd");
        assert_eq!(rows(&v, "contact_email").len(), 3);
        assert_eq!(rows(&v, "contact_tag").len(), 3);
        assert_eq!(rows(&v, "tag").len(), 1);
        let values = rows(&v, "custom_value");
        assert_eq!(values.len(), 3);
        assert!(values.iter().all(|x| x["value"] == "1234.5"), "{values:?}");

        // A contact in the trash leaves with its emails, tags and values.
        contacts::delete(&store, ids[0]).await.unwrap();
        let v = parsed(&store).await;
        assert_eq!(rows(&v, "contact").len(), 2);
        assert_eq!(rows(&v, "contact_email").len(), 2);
        assert_eq!(rows(&v, "contact_tag").len(), 2);
        assert_eq!(rows(&v, "custom_value").len(), 2);
        assert!(rows(&v, "contact")
            .iter()
            .all(|c| c["id"] != ids[0].to_string() && c.get("deleted_at").is_none()));
        // Restored, it is back exactly as before.
        crate::trash::restore(&store, "contact", ids[0])
            .await
            .unwrap();
        assert_eq!(json_string(&store).await.unwrap(), first);

        // A deleted custom field takes its values out of the export.
        custom_fields::delete(&store, FieldEntity::Contact, "budget")
            .await
            .unwrap();
        let v = parsed(&store).await;
        assert!(rows(&v, "custom_field").is_empty());
        assert!(rows(&v, "custom_value").is_empty());
    }

    #[tokio::test]
    async fn excluded_entities_are_left_out_and_unknown_ones_refused() {
        let store = Store::open_in_memory().await.unwrap();
        let mut buf = Vec::new();
        let options = JsonOptions {
            exclude: vec!["contact".into(), " tag ".into()],
        };
        json_with(&store, &options, &mut buf).await.unwrap();
        let v: Value = serde_json::from_slice(&buf).unwrap();
        let entities = v["entities"].as_object().unwrap();
        assert!(!entities.contains_key("contact") && !entities.contains_key("tag"));
        assert!(entities.contains_key("company"));
        let mut buf = Vec::new();
        let options = JsonOptions {
            exclude: vec!["shoes".into()],
        };
        let err = json_with(&store, &options, &mut buf).await.unwrap_err();
        assert_eq!(err.code(), "validation");
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn pages_do_not_lose_or_repeat_rows() {
        let store = Store::open_in_memory().await.unwrap();
        let n = PAGE as usize * 2 + 7;
        contacts::create_many(
            &store,
            (0..n)
                .map(|i| ContactInput {
                    display_name: Some(format!("Person {i}")),
                    ..Default::default()
                })
                .collect(),
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        let summary = json(&store, &mut buf).await.unwrap();
        assert_eq!(summary.bytes, buf.len() as u64);
        let v: Value = serde_json::from_slice(&buf).unwrap();
        let ids: std::collections::BTreeSet<&str> = rows(&v, "contact")
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), n);
        let count = summary
            .entities
            .iter()
            .find(|e| e.entity == "contact")
            .unwrap()
            .records;
        assert_eq!(count, n as u64);
    }
}
