//! Saved views: a filtered, sorted list of contacts, deals, tickets (or
//! companies) kept by name and synced.
//!
//! A view's id is `v5(lower-cased name)`: saving "Hot leads" on two devices
//! offline writes one row, and the later save wins field by field. Saving
//! under an existing name replaces that view. The filter refers to fields by
//! name (custom fields by key), so it is checked when saved and again when
//! run: a view whose custom field was deleted since says so instead of
//! silently showing everything.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::custom_fields::FieldEntity;
use crate::entities::SAVED_VIEW;
use crate::error::{Error, Result};
use crate::filters::{self, Filter, RecordPage, Sort};
use crate::store::Store;

const NAMESPACE: Uuid = Uuid::from_u128(0x9a41_6e0b_2f7d_4c18_b3e5_0c8f_d1a2_7e64);
const MAX_NAME: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SavedView {
    pub id: Uuid,
    pub name: String,
    pub entity: FieldEntity,
    pub filter: Filter,
    pub sort: Option<Sort>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ViewInput {
    pub name: String,
    pub entity: FieldEntity,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub sort: Option<Sort>,
}

/// A view and one page of its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ViewResult {
    pub view: SavedView,
    pub page: RecordPage,
}

pub fn view_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.trim().to_lowercase().as_bytes())
}

/// `contacts` in the table; the entity's plural is what views list.
fn plural(entity: FieldEntity) -> &'static str {
    match entity {
        FieldEntity::Contact => "contacts",
        FieldEntity::Company => "companies",
        FieldEntity::Deal => "deals",
        FieldEntity::Ticket => "tickets",
    }
}

/// Save a view, replacing the one with this name (any case) if there is
/// one. The filter and sort are checked against the entity's fields first;
/// on an error nothing is written.
pub async fn save(store: &Store, input: ViewInput) -> Result<SavedView> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("A view needs a name of 1 to {MAX_NAME} characters"),
        ));
    }
    filters::check(store, input.entity, &input.filter, input.sort.as_ref()).await?;
    let id = view_id(&name);
    let fields = vec![
        ("name", json!(name)),
        ("entity", json!(plural(input.entity))),
        (
            "filter",
            json!(serde_json::to_string(&input.filter).unwrap_or_default()),
        ),
        (
            "sort",
            match &input.sort {
                Some(s) => json!(serde_json::to_string(s).unwrap_or_default()),
                None => Value::Null,
            },
        ),
    ];
    let mut tx = store.write().await?;
    let exists: Option<Option<String>> =
        sqlx::query_scalar("SELECT deleted_at FROM saved_views WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    match exists {
        // No created_at: a view saved under one name on two devices is one
        // row, and a per-device time would only make a conflict.
        None => tx.insert(&SAVED_VIEW, id, fields).await?,
        Some(deleted) => {
            let mut fields = fields;
            if deleted.is_some() {
                fields.push(("deleted_at", Value::Null));
            }
            tx.update(&SAVED_VIEW, id, fields).await?;
        }
    }
    tx.commit().await?;
    get(store, &name).await
}

type ViewRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn from_row((id, name, entity, filter, sort): ViewRow) -> Option<SavedView> {
    Some(SavedView {
        id: Uuid::parse_str(&id).ok()?,
        name: name.unwrap_or_default(),
        entity: FieldEntity::parse(entity.as_deref()?).ok()?,
        filter: filter
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok())
            .unwrap_or_default(),
        sort: sort.as_deref().and_then(|s| serde_json::from_str(s).ok()),
    })
}

/// Every live view, by name.
pub async fn list(store: &Store) -> Result<Vec<SavedView>> {
    let rows: Vec<ViewRow> = sqlx::query_as(
        "SELECT id, name, entity, filter, sort FROM saved_views
          WHERE deleted_at IS NULL ORDER BY name COLLATE NOCASE",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

/// The live view with this name (any case).
pub async fn get(store: &Store, name: &str) -> Result<SavedView> {
    let row: Option<ViewRow> = sqlx::query_as(
        "SELECT id, name, entity, filter, sort FROM saved_views
          WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(view_id(name).to_string())
    .fetch_optional(store.pool())
    .await?;
    row.and_then(from_row)
        .ok_or_else(|| Error::not_found("view", name.trim()))
}

pub async fn delete(store: &Store, name: &str) -> Result<()> {
    let view = get(store, name).await?;
    let mut tx = store.write().await?;
    tx.delete(&SAVED_VIEW, view.id).await?;
    tx.commit().await
}

/// Run a view: one page of its records, with the total.
pub async fn run(store: &Store, name: &str, offset: u32, limit: u32) -> Result<ViewResult> {
    let view = get(store, name).await?;
    let page = filters::query(
        store,
        view.entity,
        &view.filter,
        view.sort.as_ref(),
        offset,
        limit,
    )
    .await?;
    Ok(ViewResult { view, page })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput, LifecycleStage};
    use crate::custom_fields::{self, FieldInput, FieldType};
    use crate::filters::parse_filter;

    fn input(name: &str, entity: FieldEntity, filter: &[&str], sort: Option<&str>) -> ViewInput {
        ViewInput {
            name: name.into(),
            entity,
            filter: parse_filter(&filter.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
            sort: sort.map(|s| Sort::parse(s).unwrap()),
        }
    }

    async fn log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn save_list_run_replace_and_delete() {
        let store = Store::open_in_memory().await.unwrap();
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
        for (name, stage, budget) in [
            ("Ada", LifecycleStage::Lead, "500"),
            ("Bob", LifecycleStage::Lead, "5000"),
            ("Cy", LifecycleStage::Customer, "9000"),
            ("Dee", LifecycleStage::Lead, "7000.25"),
        ] {
            let id = contacts::create(
                &store,
                ContactInput {
                    display_name: Some(name.into()),
                    lifecycle_stage: stage,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id;
            custom_fields::set_values(
                &store,
                FieldEntity::Contact,
                id,
                &[("budget".into(), budget.into())],
            )
            .await
            .unwrap();
        }
        let saved = save(
            &store,
            input(
                "Hot leads",
                FieldEntity::Contact,
                &["stage=lead", "budget>=1000"],
                Some("-budget"),
            ),
        )
        .await
        .unwrap();
        assert_eq!(saved.id, view_id("HOT LEADS"));
        let result = run(&store, "hot leads", 0, 50).await.unwrap();
        assert_eq!(result.page.total, 2);
        let names: Vec<_> = result.page.items.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(names, ["Dee", "Bob"]);

        // Saving under the same name (other case) replaces it: still one view.
        save(
            &store,
            input("HOT leads", FieldEntity::Contact, &["budget<1000"], None),
        )
        .await
        .unwrap();
        let all = list(&store).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "HOT leads");
        assert_eq!(all[0].filter.conditions[0].to_string(), "budget<1000");
        assert_eq!(all[0].sort, None);
        let result = run(&store, "Hot Leads", 0, 50).await.unwrap();
        assert_eq!(result.page.items[0].label, "Ada");

        // Bad views are refused and write nothing.
        let before = log_len(&store).await;
        for bad in [
            input("x", FieldEntity::Contact, &["budget>lots"], None),
            input("x", FieldEntity::Contact, &["shoe=1"], None),
            input("x", FieldEntity::Contact, &[], Some("shoe")),
            input("  ", FieldEntity::Contact, &[], None),
            input("x", FieldEntity::Ticket, &["tag=vip"], None),
        ] {
            assert_eq!(save(&store, bad).await.unwrap_err().code(), "validation");
        }
        assert_eq!(log_len(&store).await, before);

        // A view whose field was deleted since says so when run.
        custom_fields::delete(&store, FieldEntity::Contact, "budget")
            .await
            .unwrap();
        let err = run(&store, "hot leads", 0, 50).await.unwrap_err();
        assert!(err.to_string().contains("no field \"budget\""), "{err}");

        delete(&store, "hot LEADS").await.unwrap();
        assert!(list(&store).await.unwrap().is_empty());
        assert_eq!(
            run(&store, "hot leads", 0, 1).await.unwrap_err().code(),
            "not_found"
        );
        // Saving it again revives the same row.
        save(&store, input("Hot leads", FieldEntity::Contact, &[], None))
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM saved_views")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }
}
