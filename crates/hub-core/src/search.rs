//! Full-text search over contacts (SQLite FTS5): names, title, emails, phones,
//! company name and domain, with prefix matching as the user types.

use std::collections::{BTreeSet, HashMap};

use hub_protocol::wire::SnapshotRow;
use hub_protocol::RowVersions;
use sqlx::{Sqlite, SqliteConnection};

use crate::error::Result;

/// Ids per reindex statement.
const CHUNK: usize = 5000;
/// Entries per insert of [`SnapshotDocs::write`] (five values each, under
/// SQLite's limit on bound parameters).
const DOCS_PER_INSERT: usize = 6000;

/// Index contacts created in this transaction (`new`), and rebuild the rows
/// of `contacts` and of every contact of `companies`, inside the caller's
/// transaction.
pub(crate) async fn reindex(
    conn: &mut SqliteConnection,
    new: &BTreeSet<String>,
    contacts: &BTreeSet<String>,
    companies: &BTreeSet<String>,
) -> Result<()> {
    // CROSS JOIN pins json_each as the outer loop, so each id is an index
    // lookup rather than a scan of every contact.
    let by_id = "json_each(?) j CROSS JOIN contacts c ON c.id = j.value";
    let by_company = "json_each(?) j CROSS JOIN contacts c ON c.company_id = j.value";
    for chunk in new.iter().collect::<Vec<_>>().chunks(CHUNK) {
        reindex_where(conn, by_id, Some(chunk), false).await?;
    }
    for chunk in contacts.iter().collect::<Vec<_>>().chunks(CHUNK) {
        reindex_where(conn, by_id, Some(chunk), true).await?;
    }
    for chunk in companies.iter().collect::<Vec<_>>().chunks(CHUNK) {
        reindex_where(conn, by_company, Some(chunk), true).await?;
    }
    Ok(())
}

/// Rebuild the index of every contact (after a first sync, which defers it).
pub(crate) async fn rebuild(conn: &mut SqliteConnection) -> Result<()> {
    delete_all(conn).await?;
    // FTS5 flushes its in-memory term table to a new segment every 1 MB by
    // default, and merging those segments is most of a big rebuild: a larger
    // table for this transaction (set back after, as the setting persists).
    set_hash_size(conn, REBUILD_HASH_SIZE).await?;
    reindex_where(conn, "contacts c", None, false).await?;
    set_hash_size(conn, DEFAULT_HASH_SIZE).await
}

async fn delete_all(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("INSERT INTO contact_search (contact_search) VALUES ('delete-all')")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The search entries of a first sync, put together from the snapshot rows
/// as they arrive, so that the index is written at the end without reading
/// every contact, email, phone and company back (most of a rebuild's time).
/// The text is what [`rebuild`]'s SQL makes of the same rows (a test checks
/// they index the same terms); it only holds when the rows in the database
/// are exactly the snapshot's, which the caller ensures.
#[derive(Default)]
pub struct SnapshotDocs {
    /// Live contacts: id, name text, company id.
    contacts: Vec<(String, String, Option<String>)>,
    /// Live companies' "name domain".
    companies: HashMap<String, String>,
    /// Live emails and phones (as indexed) by contact id.
    emails: HashMap<String, Vec<String>>,
    phones: HashMap<String, Vec<String>>,
}

impl SnapshotDocs {
    /// Take note of a snapshot page's contacts and what their entries show.
    pub fn add(&mut self, rows: &[SnapshotRow]) {
        for row in rows {
            let state = &row.state;
            // Only values with a clock are stored (see WriteTx::insert_remote_rows).
            let text = |field: &str| {
                state
                    .clocks
                    .contains_key(field)
                    .then(|| state.fields.get(field).and_then(|v| v.as_str()))
                    .flatten()
            };
            if text("deleted_at").is_some() {
                continue;
            }
            let id = row.row_id.to_string();
            match row.entity.as_str() {
                "contact" => {
                    let name = words(["display_name", "first_name", "last_name", "title"], state);
                    let company = text("company_id").map(str::to_owned);
                    self.contacts.push((id, name, company));
                }
                "company" => {
                    self.companies.insert(id, words(["name", "domain"], state));
                }
                "contact_email" => {
                    if let (Some(contact), Some(address)) = (text("contact_id"), text("address")) {
                        let list = self.emails.entry(contact.to_owned()).or_default();
                        list.push(address.to_owned());
                    }
                }
                "contact_phone" => {
                    if let (Some(contact), Some(number)) = (text("contact_id"), text("number")) {
                        let list = self.phones.entry(contact.to_owned()).or_default();
                        list.push(phone_terms(number));
                    }
                }
                _ => {}
            }
        }
    }

    /// Replace the whole index with these entries.
    pub async fn write(self, conn: &mut SqliteConnection) -> Result<()> {
        let rks: HashMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT id, rk FROM contacts")
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();
        let mut docs: Vec<[Option<String>; 4]> = Vec::with_capacity(self.contacts.len());
        let mut rowids = Vec::with_capacity(self.contacts.len());
        for (id, name, company) in self.contacts {
            let Some(rk) = rks.get(&id) else { continue };
            rowids.push(*rk);
            docs.push([
                Some(name),
                self.emails.get(&id).map(|e| e.join(" ")),
                self.phones.get(&id).map(|p| p.join(" ")),
                Some(
                    company
                        .and_then(|c| self.companies.get(&c).cloned())
                        .unwrap_or_default(),
                ),
            ]);
        }
        delete_all(conn).await?;
        set_hash_size(conn, REBUILD_HASH_SIZE).await?;
        for (rowids, docs) in rowids
            .chunks(DOCS_PER_INSERT)
            .zip(docs.chunks(DOCS_PER_INSERT))
        {
            let sql = format!(
                "INSERT INTO contact_search (rowid, name, emails, phones, company) VALUES {}",
                vec!["(?, ?, ?, ?, ?)"; rowids.len()].join(", ")
            );
            let mut query = sqlx::query::<Sqlite>(&sql);
            for (rowid, [name, emails, phones, company]) in rowids.iter().zip(docs) {
                query = query
                    .bind(rowid)
                    .bind(name.as_deref())
                    .bind(emails.as_deref())
                    .bind(phones.as_deref())
                    .bind(company.as_deref());
            }
            query.execute(&mut *conn).await?;
        }
        set_hash_size(conn, DEFAULT_HASH_SIZE).await
    }
}

/// `concat_ws(' ', …)` of the fields that have a value with a clock.
fn words<const N: usize>(fields: [&str; N], state: &RowVersions) -> String {
    fields
        .iter()
        .filter(|f| state.clocks.contains_key(**f))
        .filter_map(|f| state.fields.get(*f).and_then(|v| v.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A phone as indexed: its E.164 digits and its national number.
fn phone_terms(number: &str) -> String {
    let digits: String = number.chars().skip(1).collect();
    let national: String = number.chars().skip(national_start(number) - 1).collect();
    format!("{digits} {national}")
}

/// The 1-based position where the national number starts in an E.164 text
/// (the Rust twin of [`national_number_start`]).
fn national_start(number: &str) -> usize {
    let cc: String = number.chars().skip(1).take(2).collect();
    if cc.starts_with(['1', '7']) {
        3
    } else if TWO_DIGIT_COUNTRY_CODES.contains(&cc.as_str()) {
        4
    } else {
        5
    }
}

/// FTS5's default `hashsize`, and the one used while rebuilding the index.
const DEFAULT_HASH_SIZE: i64 = 1024 * 1024;
const REBUILD_HASH_SIZE: i64 = 32 * 1024 * 1024;

async fn set_hash_size(conn: &mut SqliteConnection, bytes: i64) -> Result<()> {
    sqlx::query("INSERT INTO contact_search (contact_search, rank) VALUES ('hashsize', ?)")
        .bind(bytes)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// (Re)index the contacts of `source` (a FROM clause naming contacts `c`),
/// binding `ids` as its one parameter when given.
async fn reindex_where(
    conn: &mut SqliteConnection,
    source: &str,
    ids: Option<&[&String]>,
    existing: bool,
) -> Result<()> {
    let ids = ids.map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()));
    if existing {
        let sql = format!("DELETE FROM contact_search WHERE rowid IN (SELECT c.rk FROM {source})");
        let mut query = sqlx::query(&sql);
        if let Some(ids) = &ids {
            query = query.bind(ids);
        }
        query.execute(&mut *conn).await?;
    }
    // Phones are indexed as their E.164 digits and as the national number
    // (without the country code), so a number typed either way is found.
    let national_start = national_number_start("p.number");
    let sql = format!(
        "INSERT INTO contact_search (rowid, name, emails, phones, company)
         SELECT c.rk,
                concat_ws(' ', c.display_name, c.first_name, c.last_name, c.title),
                (SELECT group_concat(e.address, ' ') FROM contact_emails e
                  WHERE e.contact_id = c.id AND e.deleted_at IS NULL),
                (SELECT group_concat(concat_ws(' ', substr(p.number, 2),
                                               substr(p.number, {national_start})), ' ')
                   FROM contact_phones p WHERE p.contact_id = c.id AND p.deleted_at IS NULL),
                concat_ws(' ', co.name, co.domain)
           FROM {source}
           LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
          WHERE c.deleted_at IS NULL"
    );
    let mut query = sqlx::query(&sql);
    if let Some(ids) = &ids {
        query = query.bind(ids);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// E.164 country codes of two digits (ITU-T E.164 assignments); `1` and `7`
/// are the one-digit codes and every other code has three. The codes are
/// prefix-free, so the leading digits of a number say which length applies.
const TWO_DIGIT_COUNTRY_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// SQL for the 1-based position where the national number starts in the
/// E.164 text `column` (`+` and the country code skipped).
fn national_number_start(column: &str) -> String {
    let two = TWO_DIGIT_COUNTRY_CODES
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CASE WHEN substr({column}, 2, 1) IN ('1', '7') THEN 3 \
              WHEN substr({column}, 2, 2) IN ({two}) THEN 4 ELSE 5 END"
    )
}

/// Turn what the user typed into an FTS5 query: every word must match as a
/// prefix. Punctuation separates words, as the index tokenizer does, so
/// "ada.lov" finds "ada.lovelace@example.com". None when nothing searchable
/// was typed.
pub fn match_expression(typed: &str) -> Option<String> {
    // A phone number typed with separators ("(415) 555-26", "+44 20 79") is
    // one run of digits: a prefix of the indexed E.164 or national digits.
    let phone_like = typed.chars().any(|c| c.is_ascii_digit())
        && typed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().,/".contains(c));
    if phone_like {
        let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
        return Some(format!("\"{digits}\"*"));
    }
    let terms: Vec<String> = typed
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_becomes_prefix_terms() {
        assert_eq!(
            match_expression("ada.lov").as_deref(),
            Some("\"ada\"* \"lov\"*")
        );
        assert_eq!(
            match_expression("  +1 (415) ").as_deref(),
            Some("\"1415\"*")
        );
        assert_eq!(
            match_expression("(415) 555-26").as_deref(),
            Some("\"41555526\"*")
        );
        assert_eq!(
            match_expression("ada 415").as_deref(),
            Some("\"ada\"* \"415\"*")
        );
        assert_eq!(
            match_expression("\"OR NOT*").as_deref(),
            Some("\"OR\"* \"NOT\"*")
        );
        assert_eq!(match_expression(" -- "), None);
    }
}
