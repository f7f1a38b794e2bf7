//! Manual tags on contacts, companies and deals.
//!
//! A tag's id is derived from its lower-cased name, and a link's id from
//! (kind, row, tag), so devices that tag offline converge on one tag and one
//! link instead of duplicates.
//!
//! That rule holds for every live tag: its id is always `tag_id(name)`.
//! So a rename is not an edit of the name in place: renaming "VIP" to "Key"
//! creates (or revives) the tag with id `tag_id("Key")`, moves every link
//! there and deletes "VIP" — a [`merge`] into a new name. A device that
//! creates "Key" offline meanwhile lands on the same tag, and its links on
//! the same link rows. The one thing a rename cannot reach: a link made on
//! another device, offline, to the old name before it heard of the rename.
//! It syncs onto the deleted "VIP" and is hidden; creating "VIP" again (or
//! merging it) brings it back. A change of case only ("vip" -> "VIP") keeps
//! the id and is a plain edit of the name.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::changes::{Fields, WriteTx};
use crate::entities::{EntityDef, COMPANY_TAG, CONTACT_TAG, DEAL_TAG, TAG};
use crate::error::{Error, FieldError, Result};
use crate::store::Store;

const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8a4d_4f0b_9e57_2d1c_0a93_e6f4);
const MAX_LEN: usize = 50;
const PALETTE: [&str; 8] = [
    "#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
];
/// Names for the palette, accepted wherever a colour is.
const COLOR_NAMES: [&str; 8] = [
    "blue", "green", "amber", "red", "violet", "cyan", "pink", "gray",
];

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Tag {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
    /// Live contacts carrying it.
    pub contact_count: u32,
    pub company_count: u32,
    pub deal_count: u32,
}

/// What can carry a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Taggable {
    Contact,
    Company,
    Deal,
}

impl Taggable {
    pub const ALL: [Taggable; 3] = [Taggable::Contact, Taggable::Company, Taggable::Deal];

    pub fn as_str(self) -> &'static str {
        match self {
            Taggable::Contact => "contact",
            Taggable::Company => "company",
            Taggable::Deal => "deal",
        }
    }

    fn link(self) -> &'static EntityDef {
        match self {
            Taggable::Contact => &CONTACT_TAG,
            Taggable::Company => &COMPANY_TAG,
            Taggable::Deal => &DEAL_TAG,
        }
    }

    /// The link table's column naming the tagged row.
    fn column(self) -> &'static str {
        match self {
            Taggable::Contact => "contact_id",
            Taggable::Company => "company_id",
            Taggable::Deal => "deal_id",
        }
    }

    /// The tagged rows' table.
    fn table(self) -> &'static str {
        match self {
            Taggable::Contact => "contacts",
            Taggable::Company => "companies",
            Taggable::Deal => "deals",
        }
    }
}

pub fn tag_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.trim().to_lowercase().as_bytes())
}

fn link_id(kind: Taggable, row: Uuid, tag: Uuid) -> Uuid {
    match kind {
        // The contact form predates the other kinds: kept so existing links keep their ids.
        Taggable::Contact => Uuid::new_v5(&NAMESPACE, format!("{row}/{tag}").as_bytes()),
        _ => Uuid::new_v5(
            &NAMESPACE,
            format!("{}/{row}/{tag}", kind.as_str()).as_bytes(),
        ),
    }
}

fn link_fields(kind: Taggable, row: Uuid, tag: Uuid) -> Fields {
    vec![
        (kind.column(), json!(row.to_string())),
        ("tag_id", json!(tag.to_string())),
    ]
}

/// Trim, drop empties and case-insensitive repeats; `field` names the input
/// in error messages.
pub fn clean_names(names: &[String], field: &str) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_LEN {
            return Err(FieldError::new(
                field,
                format!("Tag \"{name}\" is longer than {MAX_LEN} characters"),
            ));
        }
        if !out.iter().any(|t| t.to_lowercase() == name.to_lowercase()) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// One tag name, cleaned; empty is an error.
fn clean_name(name: &str, field: &str) -> Result<String> {
    clean_names(&[name.to_owned()], field)
        .map_err(|e| Error::Validation(vec![e]))?
        .pop()
        .ok_or_else(|| Error::invalid(field, "A tag needs a name"))
}

/// `#rgb`, `#rrggbb` (lower-cased) or a palette name (blue, green, amber,
/// red, violet, cyan, pink, gray).
pub fn parse_color(text: &str) -> Result<String> {
    let t = text.trim().to_lowercase();
    if let Some(i) = COLOR_NAMES
        .iter()
        .position(|n| *n == t || (t == "grey" && *n == "gray"))
    {
        return Ok(PALETTE[i].to_owned());
    }
    let hex = t.strip_prefix('#').unwrap_or(&t);
    if (hex.len() == 6 || hex.len() == 3) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(format!("#{hex}"));
    }
    Err(Error::invalid(
        "color",
        format!(
            "\"{text}\" is not a colour: use #rrggbb or one of {}",
            COLOR_NAMES.join(", ")
        ),
    ))
}

/// Make sure a live tag with this name exists; returns its id.
pub(crate) async fn ensure(tx: &mut WriteTx, name: &str) -> Result<Uuid> {
    ensure_with(tx, name, None).await
}

/// [`ensure`], setting the colour when one is given (a new tag without one
/// gets a palette colour picked by its id, the same on every device).
async fn ensure_with(tx: &mut WriteTx, name: &str, color: Option<&str>) -> Result<Uuid> {
    let id = tag_id(name);
    let state: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT name, deleted_at FROM tags WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    match state {
        None => {
            let color = color.unwrap_or(PALETTE[id.as_bytes()[0] as usize % PALETTE.len()]);
            tx.insert(
                &TAG,
                id,
                vec![("name", json!(name)), ("color", json!(color))],
            )
            .await?;
        }
        Some((_, Some(_))) => {
            // Revived: under the name as now typed.
            let mut fields = vec![("deleted_at", Value::Null), ("name", json!(name))];
            if let Some(color) = color {
                fields.push(("color", json!(color)));
            }
            tx.update(&TAG, id, fields).await?;
        }
        Some((_, None)) => {
            if let Some(color) = color {
                tx.update(&TAG, id, vec![("color", json!(color))]).await?;
            }
        }
    }
    Ok(id)
}

/// Make the contact's live tags exactly `names` (already cleaned).
pub(crate) async fn set_for_contact(
    tx: &mut WriteTx,
    contact: Uuid,
    names: &[String],
) -> Result<()> {
    set_for(tx, Taggable::Contact, contact, names).await
}

/// Make a row's live tags exactly `names` (already cleaned).
pub(crate) async fn set_for(
    tx: &mut WriteTx,
    kind: Taggable,
    row: Uuid,
    names: &[String],
) -> Result<()> {
    let mut wanted = Vec::with_capacity(names.len());
    for name in names {
        wanted.push(ensure(tx, name).await?);
    }
    let links = links_of(tx.conn(), kind, row).await?;
    for (link, tag, deleted) in &links {
        let keep = wanted.contains(tag);
        if keep && *deleted {
            tx.update(kind.link(), *link, vec![("deleted_at", Value::Null)])
                .await?;
        } else if !keep && !*deleted {
            tx.delete(kind.link(), *link).await?;
        }
    }
    let new_links: Vec<_> = wanted
        .iter()
        .filter(|w| !links.iter().any(|(_, tag, _)| tag == *w))
        .map(|tag| (link_id(kind, row, *tag), link_fields(kind, row, *tag)))
        .collect();
    tx.insert_many(kind.link(), new_links).await
}

/// Every link row of one tagged row: (link id, tag id, deleted).
async fn links_of(
    conn: &mut SqliteConnection,
    kind: Taggable,
    row: Uuid,
) -> Result<Vec<(Uuid, Uuid, bool)>> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, tag_id, deleted_at FROM {} WHERE {} = ?",
        kind.link().table,
        kind.column()
    ))
    .bind(row.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, tag, deleted)| {
            Some((
                Uuid::parse_str(&id).ok()?,
                Uuid::parse_str(&tag).ok()?,
                deleted.is_some(),
            ))
        })
        .collect())
}

/// Tag new contacts in bulk (no existing links to reconcile).
pub(crate) async fn add_to_new_contacts(
    tx: &mut WriteTx,
    tagged: Vec<(Uuid, Vec<String>)>,
) -> Result<()> {
    let mut tag_ids = HashMap::new();
    let mut rows = Vec::new();
    for (contact, names) in tagged {
        for name in names {
            let key = name.to_lowercase();
            let tag = match tag_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let id = ensure(tx, &name).await?;
                    tag_ids.insert(key, id);
                    id
                }
            };
            rows.push((
                link_id(Taggable::Contact, contact, tag),
                link_fields(Taggable::Contact, contact, tag),
            ));
        }
    }
    tx.insert_many(&CONTACT_TAG, rows).await
}

/// Does this database have the table (deals arrive with their migration)?
pub(crate) async fn table_exists(conn: &mut SqliteConnection, table: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(table)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// The row must exist and be live.
pub(crate) async fn ensure_row_live(
    conn: &mut SqliteConnection,
    kind: Taggable,
    row: Uuid,
) -> Result<()> {
    let not_found = || Error::NotFound {
        entity: kind.as_str(),
        id: row.to_string(),
    };
    if !table_exists(conn, kind.table()).await? {
        return Err(not_found());
    }
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {} WHERE id = ? AND deleted_at IS NULL",
        kind.table()
    ))
    .bind(row.to_string())
    .fetch_optional(conn)
    .await?;
    live.map(|_| ()).ok_or_else(not_found)
}

/// Create a tag (or, when it exists, set its colour if one is given) and
/// put it on the given records, in one transaction: a record that does not
/// exist fails the whole call and nothing is written.
pub async fn add(
    store: &Store,
    name: &str,
    color: Option<&str>,
    on: &[(Taggable, Uuid)],
) -> Result<Tag> {
    let name = clean_name(name, "name")?;
    let color = color.map(parse_color).transpose()?;
    let mut tx = store.write().await?;
    for (kind, row) in on {
        ensure_row_live(tx.conn(), *kind, *row).await?;
    }
    let id = ensure_with(&mut tx, &name, color.as_deref()).await?;
    for (kind, row) in on {
        let links = links_of(tx.conn(), *kind, *row).await?;
        match links.iter().find(|(_, tag, _)| *tag == id) {
            Some((_, _, false)) => {}
            Some((link, _, true)) => {
                tx.update(kind.link(), *link, vec![("deleted_at", Value::Null)])
                    .await?;
            }
            None => {
                tx.insert(
                    kind.link(),
                    link_id(*kind, *row, id),
                    link_fields(*kind, *row, id),
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    get(store, id).await
}

/// Take a tag off the given records, in one transaction; a record that
/// does not carry it is an error and nothing is written.
pub async fn remove(store: &Store, name: &str, on: &[(Taggable, Uuid)]) -> Result<Tag> {
    let mut tx = store.write().await?;
    let id = live_id(tx.conn(), name).await?;
    for (kind, row) in on {
        ensure_row_live(tx.conn(), *kind, *row).await?;
        let links = links_of(tx.conn(), *kind, *row).await?;
        match links
            .iter()
            .find(|(_, tag, deleted)| *tag == id && !deleted)
        {
            Some((link, _, _)) => {
                tx.delete(kind.link(), *link).await?;
            }
            None => {
                return Err(Error::invalid(
                    "name",
                    format!("{} {row} has no tag {}", kind.as_str(), name.trim()),
                ))
            }
        }
    }
    tx.commit().await?;
    get(store, id).await
}

/// Change a tag's colour.
pub async fn set_color(store: &Store, name: &str, color: &str) -> Result<Tag> {
    let color = parse_color(color)?;
    let mut tx = store.write().await?;
    let id = live_id(tx.conn(), name).await?;
    tx.update(&TAG, id, vec![("color", json!(color))]).await?;
    tx.commit().await?;
    get(store, id).await
}

/// Put tags on one contact, company or deal (creating tags that are new);
/// tags it already has stay. Returns its tags afterwards.
pub async fn attach(
    store: &Store,
    kind: Taggable,
    row: Uuid,
    names: &[String],
) -> Result<Vec<String>> {
    let names = clean_names(names, "name").map_err(|e| Error::Validation(vec![e]))?;
    if names.is_empty() {
        return Err(Error::invalid("name", "A tag needs a name"));
    }
    let mut tx = store.write().await?;
    ensure_row_live(tx.conn(), kind, row).await?;
    let mut current = names_for(tx.conn(), kind, row).await?;
    for name in names {
        if !current
            .iter()
            .any(|c| c.to_lowercase() == name.to_lowercase())
        {
            current.push(name);
        }
    }
    set_for(&mut tx, kind, row, &current).await?;
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    names_for(&mut conn, kind, row).await
}

/// Take tags off one contact, company or deal. Returns its tags afterwards.
pub async fn detach(
    store: &Store,
    kind: Taggable,
    row: Uuid,
    names: &[String],
) -> Result<Vec<String>> {
    let names = clean_names(names, "name").map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = store.write().await?;
    ensure_row_live(tx.conn(), kind, row).await?;
    let current = names_for(tx.conn(), kind, row).await?;
    let keep: Vec<String> = current
        .iter()
        .filter(|c| !names.iter().any(|n| n.to_lowercase() == c.to_lowercase()))
        .cloned()
        .collect();
    if keep.len() == current.len() {
        return Err(Error::invalid(
            "name",
            format!("this {} has no tag {}", kind.as_str(), names.join(", ")),
        ));
    }
    set_for(&mut tx, kind, row, &keep).await?;
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    names_for(&mut conn, kind, row).await
}

/// The live tag with this name (any case).
async fn live_id(conn: &mut SqliteConnection, name: &str) -> Result<Uuid> {
    let id = tag_id(name);
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tags WHERE id = ? AND deleted_at IS NULL")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    live.map(|_| id)
        .ok_or_else(|| Error::not_found("tag", name.trim()))
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct MergeReport {
    /// The tag everything now carries.
    pub tag: Tag,
    /// Links moved from the merged tag.
    pub moved: u32,
    /// Records that already had both tags (their old link is just removed).
    pub already_tagged: u32,
}

/// Move every link of tag `from` to tag `into` (no record ends up with the
/// tag twice) and delete `from`. Everything goes through the write path, so
/// the merge syncs like any edit.
pub async fn merge(store: &Store, from: &str, into: &str) -> Result<MergeReport> {
    let mut tx = store.write().await?;
    let from_id = live_id(tx.conn(), from).await?;
    let into_id = live_id(tx.conn(), into).await?;
    if from_id == into_id {
        return Err(Error::invalid("into", "a tag cannot be merged into itself"));
    }
    let (moved, already_tagged) = move_links(&mut tx, from_id, into_id).await?;
    tx.delete(&TAG, from_id).await?;
    tx.commit().await?;
    Ok(MergeReport {
        tag: get(store, into_id).await?,
        moved,
        already_tagged,
    })
}

/// Rename a tag, keeping every record it is on (see the module's note on
/// ids). Renaming to the name of another live tag is refused: that is a merge.
pub async fn rename(store: &Store, from: &str, to: &str) -> Result<Tag> {
    let to = clean_name(to, "new_name")?;
    let mut tx = store.write().await?;
    let from_id = live_id(tx.conn(), from).await?;
    let to_id = tag_id(&to);
    if from_id == to_id {
        tx.update(&TAG, from_id, vec![("name", json!(to))]).await?;
        tx.commit().await?;
        return get(store, from_id).await;
    }
    if live_id(tx.conn(), &to).await.is_ok() {
        return Err(Error::invalid(
            "new_name",
            format!("a tag named \"{to}\" already exists; merge \"{from}\" into it instead"),
        ));
    }
    let color: Option<String> = sqlx::query_scalar("SELECT color FROM tags WHERE id = ?")
        .bind(from_id.to_string())
        .fetch_one(tx.conn())
        .await?;
    let fallback = PALETTE[to_id.as_bytes()[0] as usize % PALETTE.len()];
    ensure_with(&mut tx, &to, Some(color.as_deref().unwrap_or(fallback))).await?;
    move_links(&mut tx, from_id, to_id).await?;
    tx.delete(&TAG, from_id).await?;
    tx.commit().await?;
    get(store, to_id).await
}

/// Move the live links of one tag to another, for every kind of record.
/// Returns (moved, records that already had the target tag).
async fn move_links(tx: &mut WriteTx, from: Uuid, into: Uuid) -> Result<(u32, u32)> {
    let (mut moved, mut already) = (0, 0);
    for kind in Taggable::ALL {
        let table = kind.link().table;
        let column = kind.column();
        let sources: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT id, {column} FROM {table} WHERE tag_id = ? AND deleted_at IS NULL"
        ))
        .bind(from.to_string())
        .fetch_all(tx.conn())
        .await?;
        let targets: Vec<(String, String, Option<String>)> = sqlx::query_as(&format!(
            "SELECT id, {column}, deleted_at FROM {table} WHERE tag_id = ?"
        ))
        .bind(into.to_string())
        .fetch_all(tx.conn())
        .await?;
        let targets: HashMap<String, (String, bool)> = targets
            .into_iter()
            .map(|(id, row, deleted)| (row, (id, deleted.is_some())))
            .collect();
        let mut new_links = Vec::new();
        for (link, row) in sources {
            let (Ok(link), Ok(row_id)) = (Uuid::parse_str(&link), Uuid::parse_str(&row)) else {
                continue;
            };
            match targets.get(&row) {
                Some((_, false)) => already += 1,
                Some((target, true)) => {
                    if let Ok(target) = Uuid::parse_str(target) {
                        tx.update(kind.link(), target, vec![("deleted_at", Value::Null)])
                            .await?;
                    }
                    moved += 1;
                }
                None => {
                    new_links.push((link_id(kind, row_id, into), link_fields(kind, row_id, into)));
                    moved += 1;
                }
            }
            tx.delete(kind.link(), link).await?;
        }
        tx.insert_many(kind.link(), new_links).await?;
    }
    Ok((moved, already))
}

/// Delete a tag: it leaves every record (the links stay, hidden, and come
/// back if a tag of that name is created again).
pub async fn delete(store: &Store, name: &str) -> Result<()> {
    let mut tx = store.write().await?;
    let id = live_id(tx.conn(), name).await?;
    tx.delete(&TAG, id).await?;
    tx.commit().await
}

/// SQL counting one kind's live tagged rows of tag `t`.
fn count_sql(kind: Taggable, parent_exists: bool) -> String {
    let (link, col, parent) = (kind.link().table, kind.column(), kind.table());
    if parent_exists {
        format!(
            "(SELECT count(*) FROM {link} l JOIN {parent} p ON p.id = l.{col}
               WHERE l.tag_id = t.id AND l.deleted_at IS NULL AND p.deleted_at IS NULL)"
        )
    } else {
        "0".into()
    }
}

/// id, name, colour, contact, company and deal counts.
type TagRow = (String, String, Option<String>, i64, i64, i64);

async fn query_tags(conn: &mut SqliteConnection, only: Option<Uuid>) -> Result<Vec<Tag>> {
    let deals = table_exists(conn, "deals").await?;
    let sql = format!(
        "SELECT t.id, t.name, t.color, {}, {}, {}
           FROM tags t WHERE t.deleted_at IS NULL AND (?1 IS NULL OR t.id = ?1)
          ORDER BY t.name COLLATE NOCASE",
        count_sql(Taggable::Contact, true),
        count_sql(Taggable::Company, true),
        count_sql(Taggable::Deal, deals),
    );
    let rows: Vec<TagRow> = sqlx::query_as(&sql)
        .bind(only.map(|u| u.to_string()))
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, color, contacts, companies, deals)| {
            Some(Tag {
                id: Uuid::parse_str(&id).ok()?,
                name,
                color,
                contact_count: contacts as u32,
                company_count: companies as u32,
                deal_count: deals as u32,
            })
        })
        .collect())
}

/// Every live tag with how many live records carry it.
pub async fn list(store: &Store) -> Result<Vec<Tag>> {
    let mut conn = store.pool().acquire().await?;
    query_tags(&mut conn, None).await
}

async fn get(store: &Store, id: Uuid) -> Result<Tag> {
    let mut conn = store.pool().acquire().await?;
    query_tags(&mut conn, Some(id))
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("tag", id))
}

/// The live tag with this name (any case).
pub async fn find(store: &Store, name: &str) -> Result<Tag> {
    let mut conn = store.pool().acquire().await?;
    let id = live_id(&mut conn, name).await?;
    drop(conn);
    get(store, id).await
}

/// Live tag names of one contact, alphabetical.
pub(crate) async fn names_of(conn: &mut SqliteConnection, contact: Uuid) -> Result<Vec<String>> {
    names_for(conn, Taggable::Contact, contact).await
}

/// Live tag names of one contact, company or deal, alphabetical.
pub async fn names_for(
    conn: &mut SqliteConnection,
    kind: Taggable,
    row: Uuid,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT t.name FROM {} l JOIN tags t ON t.id = l.tag_id
          WHERE l.{} = ? AND l.deleted_at IS NULL AND t.deleted_at IS NULL
          ORDER BY t.name COLLATE NOCASE",
        kind.link().table,
        kind.column()
    ))
    .bind(row.to_string())
    .fetch_all(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companies::{self, CompanyInput};
    use crate::contacts::{self, ContactInput};

    async fn contact(store: &Store, name: &str, tags: &[&str]) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                display_name: Some(name.into()),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    fn counts(tags: &[Tag]) -> Vec<(&str, u32, u32)> {
        tags.iter()
            .map(|t| (t.name.as_str(), t.contact_count, t.company_count))
            .collect()
    }

    async fn log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn companies_are_tagged_and_untagged_with_converging_links() {
        let store = Store::open_in_memory().await.unwrap();
        let acme = companies::create(
            &store,
            CompanyInput {
                name: "Acme".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        let names = attach(
            &store,
            Taggable::Company,
            acme,
            &["Partner".into(), "vip".into()],
        )
        .await
        .unwrap();
        assert_eq!(names, ["Partner", "vip"]);
        // Again, another case: nothing new.
        let before = log_len(&store).await;
        attach(&store, Taggable::Company, acme, &["PARTNER".into()])
            .await
            .unwrap();
        assert_eq!(log_len(&store).await, before);
        let link: String = sqlx::query_scalar("SELECT id FROM company_tags WHERE tag_id = ?")
            .bind(tag_id("partner").to_string())
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            link,
            link_id(Taggable::Company, acme, tag_id("Partner")).to_string()
        );
        assert_eq!(
            counts(&list(&store).await.unwrap()),
            [("Partner", 0, 1), ("vip", 0, 1)]
        );

        let left = detach(&store, Taggable::Company, acme, &["Partner".into()])
            .await
            .unwrap();
        assert_eq!(left, ["vip"]);
        let err = detach(&store, Taggable::Company, acme, &["Partner".into()])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "validation");
        // Re-attaching revives the same link row.
        attach(&store, Taggable::Company, acme, &["partner".into()])
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM company_tags")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[tokio::test]
    async fn tagging_a_missing_row_is_not_found_and_writes_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        for kind in Taggable::ALL {
            let err = attach(&store, kind, Uuid::now_v7(), &["VIP".into()])
                .await
                .unwrap_err();
            assert_eq!(err.code(), "not_found", "{kind:?}");
        }
        assert_eq!(log_len(&store).await, 0);
        assert!(list(&store).await.unwrap().is_empty());
        // One missing record among good ones: the tag is not created either.
        let a = contact(&store, "A", &[]).await;
        let before = log_len(&store).await;
        let err = add(
            &store,
            "VIP",
            None,
            &[(Taggable::Contact, a), (Taggable::Company, Uuid::now_v7())],
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert_eq!(log_len(&store).await, before);
        let tag = add(&store, "VIP", None, &[(Taggable::Contact, a)])
            .await
            .unwrap();
        assert_eq!(tag.contact_count, 1);
        assert_eq!(
            remove(&store, "vip", &[(Taggable::Contact, a)])
                .await
                .unwrap()
                .contact_count,
            0
        );
        assert_eq!(
            remove(&store, "vip", &[(Taggable::Contact, a)])
                .await
                .unwrap_err()
                .code(),
            "validation"
        );
    }

    #[tokio::test]
    async fn colours_are_checked_and_set() {
        let store = Store::open_in_memory().await.unwrap();
        let tag = add(&store, "VIP", Some("#ABCDEF"), &[]).await.unwrap();
        assert_eq!(tag.color.as_deref(), Some("#abcdef"));
        let tag = set_color(&store, "vip", "red").await.unwrap();
        assert_eq!(tag.color.as_deref(), Some("#dc2626"));
        let before = log_len(&store).await;
        for bad in ["#12345", "reddish", "#ggg000"] {
            assert_eq!(
                set_color(&store, "VIP", bad).await.unwrap_err().code(),
                "validation"
            );
            assert_eq!(
                add(&store, "New", Some(bad), &[]).await.unwrap_err().code(),
                "validation"
            );
        }
        assert_eq!(log_len(&store).await, before);
        assert_eq!(
            set_color(&store, "nope", "red").await.unwrap_err().code(),
            "not_found"
        );
    }

    #[tokio::test]
    async fn merge_moves_every_link_without_duplicates_and_deletes_the_source() {
        let store = Store::open_in_memory().await.unwrap();
        let a = contact(&store, "A", &["Customer"]).await;
        let b = contact(&store, "B", &["Customer", "Client"]).await;
        let c = contact(&store, "C", &["Client"]).await;
        let co = companies::create(
            &store,
            CompanyInput {
                name: "Acme".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        attach(&store, Taggable::Company, co, &["client".into()])
            .await
            .unwrap();

        let report = merge(&store, "client", "CUSTOMER").await.unwrap();
        assert_eq!(report.moved, 2, "c and the company");
        assert_eq!(report.already_tagged, 1, "b");
        assert_eq!(report.tag.name, "Customer");
        assert_eq!((report.tag.contact_count, report.tag.company_count), (3, 1));
        assert_eq!(counts(&list(&store).await.unwrap()), [("Customer", 3, 1)]);
        for id in [a, b, c] {
            assert_eq!(contacts::get(&store, id).await.unwrap().tags, ["Customer"]);
        }
        let live_links: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM contact_tags WHERE deleted_at IS NULL AND tag_id = ?",
        )
        .bind(tag_id("customer").to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(live_links, 3);
        // The merge is in the outbox: the links' deletes and inserts and the tag's tombstone.
        let logged: Vec<String> = sqlx::query_scalar("SELECT DISTINCT entity FROM change_log WHERE seq > (SELECT max(seq) - 6 FROM change_log)")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(logged.contains(&"tag".to_string()) && logged.contains(&"contact_tag".to_string()));

        assert_eq!(
            merge(&store, "customer", "Customer")
                .await
                .unwrap_err()
                .code(),
            "validation"
        );
        assert_eq!(
            merge(&store, "client", "Customer")
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        // Filtering by the merged tag finds everyone.
        let page = contacts::list(
            &store,
            &contacts::ContactQuery {
                tag: Some("customer".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(page.total, 3);
    }

    #[tokio::test]
    async fn rename_keeps_links_and_lands_on_the_derived_id_of_the_new_name() {
        let store = Store::open_in_memory().await.unwrap();
        let a = contact(&store, "A", &["VIP"]).await;
        set_color(&store, "VIP", "#123456").await.unwrap();
        let renamed = rename(&store, "vip", "Key account").await.unwrap();
        assert_eq!(renamed.id, tag_id("key account"));
        assert_eq!(renamed.color.as_deref(), Some("#123456"));
        assert_eq!(renamed.contact_count, 1);
        assert_eq!(
            contacts::get(&store, a).await.unwrap().tags,
            ["Key account"]
        );
        // Another device creating "Key account" offline writes this very tag id.
        assert_eq!(tag_id("KEY ACCOUNT"), renamed.id);
        assert!(find(&store, "VIP").await.is_err());

        // Case only: same id, new spelling.
        let same = rename(&store, "key account", "Key Account").await.unwrap();
        assert_eq!((same.id, same.name.as_str()), (renamed.id, "Key Account"));

        // Onto another live tag: refused, nothing written.
        contact(&store, "B", &["Gold"]).await;
        let before = log_len(&store).await;
        let err = rename(&store, "Key Account", "gold").await.unwrap_err();
        assert_eq!(err.code(), "validation");
        assert!(err.to_string().contains("merge"), "{err}");
        assert_eq!(
            rename(&store, "Key Account", "  ")
                .await
                .unwrap_err()
                .code(),
            "validation"
        );
        assert_eq!(log_len(&store).await, before);

        // Back to the old name: revives the old id, the links follow.
        let back = rename(&store, "Key Account", "VIP").await.unwrap();
        assert_eq!((back.id, back.contact_count), (tag_id("vip"), 1));
        assert_eq!(contacts::get(&store, a).await.unwrap().tags, ["VIP"]);
    }

    #[tokio::test]
    async fn a_deleted_tag_leaves_records_and_comes_back_with_them() {
        let store = Store::open_in_memory().await.unwrap();
        let a = contact(&store, "A", &["VIP"]).await;
        delete(&store, "vip").await.unwrap();
        assert!(contacts::get(&store, a).await.unwrap().tags.is_empty());
        assert!(list(&store).await.unwrap().is_empty());
        add(&store, "VIP", None, &[]).await.unwrap();
        assert_eq!(contacts::get(&store, a).await.unwrap().tags, ["VIP"]);
    }
}
