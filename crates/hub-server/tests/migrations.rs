//! Migration `0004_row_versions` on data written before it: the per-field rows of
//! `field_versions` become one `RowVersions` document per row, with every value, clock
//! and base, on both backends. The older migrations are applied by hand (raw SQL files),
//! then rows are written the way the 0003 server wrote them, then 0004 runs.

mod common;

use std::collections::BTreeMap;

use hub_protocol::{DeviceId, Hlc, RowVersions};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use uuid::Uuid;

use common::pg::{Availability, TestPostgres};

const BEFORE: [&str; 3] = [
    "0001_accounts.sql",
    "0002_sync.sql",
    "0003_conflicts_by_row.sql",
];
const MIGRATION: &str = "0004_row_versions.sql";

fn sql(backend: &str, file: &str) -> String {
    let path = format!(
        "{}/../../migrations/server/{backend}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn clock(ms: u64, device: u128) -> Hlc {
    Hlc {
        ms,
        counter: 0,
        device: DeviceId(Uuid::from_u128(device)),
    }
}

/// (entity, row, field, value, clock, base) as the 0003 server stored them.
type FieldRow = (&'static str, Uuid, &'static str, Value, Hlc, Option<Hlc>);

fn field_rows() -> Vec<FieldRow> {
    let (ada, acme) = (Uuid::from_u128(1), Uuid::from_u128(2));
    vec![
        (
            "contact",
            ada,
            "display_name",
            json!("Ada"),
            clock(10, 7),
            None,
        ),
        (
            "contact",
            ada,
            "title",
            json!("Chair \"of\" board"),
            clock(20, 8),
            Some(clock(10, 7)),
        ),
        (
            "contact",
            ada,
            "deleted_at",
            Value::Null,
            clock(10, 7),
            None,
        ),
        ("contact", ada, "score", json!(12.5), clock(10, 7), None),
        ("company", acme, "name", json!("Acme"), clock(30, 7), None),
        (
            "company",
            acme,
            "tags",
            json!(["a", {"b": true}]),
            clock(31, 9),
            Some(clock(30, 7)),
        ),
    ]
}

fn expected() -> BTreeMap<(String, Uuid), RowVersions> {
    let mut rows: BTreeMap<(String, Uuid), RowVersions> = BTreeMap::new();
    for (entity, row, field, value, clock, base) in field_rows() {
        rows.entry((entity.to_owned(), row))
            .or_default()
            .set(field, hub_protocol::Version { value, clock, base });
    }
    rows
}

fn parse(rows: Vec<(String, String, String)>) -> BTreeMap<(String, Uuid), RowVersions> {
    rows.into_iter()
        .map(|(entity, row, state)| {
            let state: RowVersions = serde_json::from_str(&state).expect("a RowVersions document");
            ((entity, Uuid::parse_str(&row).unwrap()), state)
        })
        .collect()
}

const INSERT_FIELD: &str = "INSERT INTO field_versions \
     (workspace_id, entity, row_id, field, value, clock, base) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const READ: &str = "SELECT entity, row_id, state FROM row_versions ORDER BY entity, row_id";

#[tokio::test]
async fn field_rows_become_row_documents_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for file in BEFORE {
        conn.execute(sqlx::raw_sql(&sql("sqlite", file)))
            .await
            .unwrap();
    }
    let ws = Uuid::from_u128(99).hyphenated().to_string();
    sqlx::query("INSERT INTO workspaces (id, name, write_key, created_at) VALUES ($1, 'W', 'k', '2026-01-01T00:00:00Z')")
        .bind(&ws)
        .execute(&mut conn)
        .await
        .unwrap();
    for (entity, row, field, value, clock, base) in field_rows() {
        sqlx::query(INSERT_FIELD)
            .bind(&ws)
            .bind(entity)
            .bind(row.hyphenated().to_string())
            .bind(field)
            .bind(value.to_string())
            .bind(clock.to_string())
            .bind(base.map(|b| b.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.execute(sqlx::raw_sql(&sql("sqlite", MIGRATION)))
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(READ).fetch_all(&mut conn).await.unwrap();
    assert_eq!(parse(rows), expected());
    let gone: Option<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE name = 'field_versions'")
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    assert!(gone.is_none(), "field_versions is dropped");
}

#[tokio::test]
async fn field_rows_become_row_documents_on_postgres() {
    let pg = match TestPostgres::start_or_skip() {
        Availability::Started(pg) => pg,
        Availability::Skipped(why) => {
            eprintln!("SKIPPED the PostgreSQL half (HUB_TEST_SKIP_POSTGRES=1): {why}");
            return;
        }
    };
    let url = pg.fresh_database("hub_migrate_0004").await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for file in BEFORE {
        conn.execute(sqlx::raw_sql(&sql("postgres", file)))
            .await
            .unwrap();
    }
    let ws = Uuid::from_u128(99);
    sqlx::query(
        "INSERT INTO workspaces (id, name, write_key, created_at) VALUES ($1, 'W', 'k', now())",
    )
    .bind(ws)
    .execute(&mut conn)
    .await
    .unwrap();
    for (entity, row, field, value, clock, base) in field_rows() {
        sqlx::query(INSERT_FIELD)
            .bind(ws.hyphenated().to_string())
            .bind(entity)
            .bind(row.hyphenated().to_string())
            .bind(field)
            .bind(value.to_string())
            .bind(clock.to_string())
            .bind(base.map(|b| b.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.execute(sqlx::raw_sql(&sql("postgres", MIGRATION)))
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as(READ).fetch_all(&mut conn).await.unwrap();
    assert_eq!(parse(rows), expected());
    let gone: Option<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE tablename = 'field_versions'")
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    assert!(gone.is_none(), "field_versions is dropped");
}
