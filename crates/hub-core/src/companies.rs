//! Companies: the organisations contacts work for.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{now_rfc3339, Fields, WriteTx};
use crate::entities::COMPANY;
use crate::error::{Error, FieldError, Result};
use crate::store::Store;

/// Head-count buckets, as most CRMs offer them.
pub const SIZES: [&str; 7] = [
    "1-10",
    "11-50",
    "51-200",
    "201-500",
    "501-1000",
    "1001-5000",
    "5001+",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub size: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub contact_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CompanyInput {
    pub name: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CompanyQuery {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub offset: u32,
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    100
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CompanyPage {
    pub total: u32,
    pub items: Vec<Company>,
}

/// A form field as stored: trimmed, and None when left blank.
pub(crate) fn text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `https://www.Example.com/about` -> `example.com`.
pub fn normalise_domain(input: &str) -> Result<String, String> {
    let mut d = input.trim().to_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = d.strip_prefix(prefix) {
            d = rest.to_owned();
        }
    }
    d = d.split(['/', '?', '#']).next().unwrap_or("").to_owned();
    if let Some(rest) = d.strip_prefix("www.") {
        d = rest.to_owned();
    }
    let labels_ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if d.contains('.') && labels_ok && d.len() <= 253 {
        Ok(d)
    } else {
        Err(format!(
            "\"{}\" is not a web domain such as example.com",
            input.trim()
        ))
    }
}

fn validate(input: &CompanyInput) -> Result<Fields> {
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "A company needs a name"));
    } else if name.chars().count() > 200 {
        errors.push(FieldError::new("name", "Names are at most 200 characters"));
    }
    let domain = match text(&input.domain).map(|d| normalise_domain(&d)) {
        Some(Ok(d)) => Some(d),
        Some(Err(message)) => {
            errors.push(FieldError::new("domain", message));
            None
        }
        None => None,
    };
    let size = text(&input.size);
    if let Some(s) = &size {
        if !SIZES.contains(&s.as_str()) {
            errors.push(FieldError::new(
                "size",
                format!("Size must be one of {}", SIZES.join(", ")),
            ));
        }
    }
    let country = text(&input.country).map(|c| if c.len() == 2 { c.to_uppercase() } else { c });
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(vec![
        ("name", json!(name)),
        ("domain", json!(domain)),
        ("industry", json!(text(&input.industry))),
        ("size", json!(size)),
        ("street", json!(text(&input.street))),
        ("city", json!(text(&input.city))),
        ("region", json!(text(&input.region))),
        ("postal_code", json!(text(&input.postal_code))),
        ("country", json!(country)),
    ])
}

pub async fn create(store: &Store, input: CompanyInput) -> Result<Company> {
    let mut fields = validate(&input)?;
    fields.push(("created_at", json!(now_rfc3339())));
    let id = Uuid::now_v7();
    let mut tx = store.write().await?;
    tx.insert(&COMPANY, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Create many companies in one transaction (imports, demo data).
pub async fn create_many(store: &Store, inputs: Vec<CompanyInput>) -> Result<Vec<Uuid>> {
    let now = now_rfc3339();
    let mut rows = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let mut fields = validate(input)?;
        fields.push(("created_at", json!(now)));
        rows.push((Uuid::now_v7(), fields));
    }
    let ids = rows.iter().map(|(id, _)| *id).collect();
    let mut tx = store.write().await?;
    tx.insert_many(&COMPANY, rows).await?;
    tx.commit().await?;
    Ok(ids)
}

pub async fn update(store: &Store, id: Uuid, input: CompanyInput) -> Result<Company> {
    let fields = validate(&input)?;
    let mut tx = store.write().await?;
    ensure_live(&mut tx, id).await?;
    tx.update(&COMPANY, id, fields).await?;
    tx.commit().await?;
    get(store, id).await
}

pub async fn delete(store: &Store, id: Uuid) -> Result<()> {
    let mut tx = store.write().await?;
    ensure_live(&mut tx, id).await?;
    tx.delete(&COMPANY, id).await?;
    tx.commit().await
}

async fn ensure_live(tx: &mut WriteTx, id: Uuid) -> Result<()> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM companies WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    live.map(|_| ())
        .ok_or_else(|| Error::not_found("company", id))
}

/// The live company with this name (any case), created when there is none.
pub(crate) async fn find_or_create_by_name(tx: &mut WriteTx, name: &str) -> Result<Uuid> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM companies WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL ORDER BY rk LIMIT 1",
    )
    .bind(name)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(id) = found.and_then(|id| Uuid::parse_str(&id).ok()) {
        return Ok(id);
    }
    let id = Uuid::now_v7();
    let mut fields = validate(&CompanyInput {
        name: name.to_owned(),
        ..Default::default()
    })?;
    fields.push(("created_at", json!(now_rfc3339())));
    tx.insert(&COMPANY, id, fields).await?;
    Ok(id)
}

const SELECT: &str = "SELECT co.id, co.name, co.domain, co.industry, co.size, co.street, co.city, co.region,
        co.postal_code, co.country,
        (SELECT count(*) FROM contacts c WHERE c.company_id = co.id AND c.deleted_at IS NULL) AS contact_count,
        co.created_at, co.updated_ms
   FROM companies co";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: Option<String>,
    domain: Option<String>,
    industry: Option<String>,
    size: Option<String>,
    street: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    contact_count: i64,
    created_at: Option<String>,
    updated_ms: i64,
}

impl Row {
    fn into_company(self) -> Company {
        let created_at = parse_time(self.created_at.as_deref());
        Company {
            id: Uuid::parse_str(&self.id).unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            domain: self.domain,
            industry: self.industry,
            size: self.size,
            street: self.street,
            city: self.city,
            region: self.region,
            postal_code: self.postal_code,
            country: self.country,
            contact_count: self.contact_count as u32,
            created_at,
            updated_at: DateTime::from_timestamp_millis(self.updated_ms).unwrap_or(created_at),
        }
    }
}

pub(crate) fn parse_time(text: Option<&str>) -> DateTime<Utc> {
    text.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub async fn get(store: &Store, id: Uuid) -> Result<Company> {
    sqlx::query_as::<_, Row>(&format!(
        "{SELECT} WHERE co.id = ? AND co.deleted_at IS NULL"
    ))
    .bind(id.to_string())
    .fetch_optional(store.pool())
    .await?
    .map(Row::into_company)
    .ok_or_else(|| Error::not_found("company", id))
}

/// Live companies by name; `search` matches the start of the name or domain.
pub async fn list(store: &Store, query: &CompanyQuery) -> Result<CompanyPage> {
    let pattern = text(&query.search).map(|s| {
        format!(
            "{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filter = "co.deleted_at IS NULL AND (?1 IS NULL OR co.name LIKE ?1 ESCAPE '\\' OR co.domain LIKE ?1 ESCAPE '\\')";
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM companies co WHERE {filter}"))
            .bind(&pattern)
            .fetch_one(store.pool())
            .await?;
    let items = sqlx::query_as::<_, Row>(&format!(
        "{SELECT} WHERE {filter} ORDER BY co.name COLLATE NOCASE, co.id LIMIT ?2 OFFSET ?3"
    ))
    .bind(&pattern)
    .bind(query.limit.min(1000) as i64)
    .bind(query.offset as i64)
    .fetch_all(store.pool())
    .await?
    .into_iter()
    .map(Row::into_company)
    .collect();
    Ok(CompanyPage {
        total: total as u32,
        items,
    })
}

/// Look up a live company by exact id or, failing that, by name.
pub async fn find(store: &Store, id_or_name: &str) -> Result<Company> {
    if let Ok(id) = Uuid::parse_str(id_or_name) {
        return get(store, id).await;
    }
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM companies WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL ORDER BY rk LIMIT 1",
    )
    .bind(id_or_name.trim())
    .fetch_optional(store.pool())
    .await?;
    match id.and_then(|id| Uuid::parse_str(&id).ok()) {
        Some(id) => get(store, id).await,
        None => Err(Error::not_found("company", id_or_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_from_what_people_paste() {
        assert_eq!(
            normalise_domain("https://www.Example.com/about?x=1").unwrap(),
            "example.com"
        );
        assert_eq!(
            normalise_domain("shop.example.co.uk").unwrap(),
            "shop.example.co.uk"
        );
        assert!(normalise_domain("not a domain").is_err());
        assert!(normalise_domain("localhost").is_err());
    }
}
