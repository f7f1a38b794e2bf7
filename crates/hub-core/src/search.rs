//! Full-text search over contacts (SQLite FTS5): names, title, emails, phones,
//! company name and domain, with prefix matching as the user types.

use std::collections::BTreeSet;

use sqlx::SqliteConnection;

use crate::error::Result;

/// Ids per reindex statement.
const CHUNK: usize = 5000;

/// Rebuild the search rows of the given contacts and of every contact of the
/// given companies, inside the caller's transaction.
pub(crate) async fn reindex(
    conn: &mut SqliteConnection,
    contacts: &BTreeSet<String>,
    companies: &BTreeSet<String>,
) -> Result<()> {
    let contacts: Vec<&String> = contacts.iter().collect();
    let companies: Vec<&String> = companies.iter().collect();
    for chunk in contacts.chunks(CHUNK) {
        reindex_where(conn, "c.id IN (SELECT value FROM json_each(?))", chunk).await?;
    }
    for chunk in companies.chunks(CHUNK) {
        reindex_where(
            conn,
            "c.company_id IN (SELECT value FROM json_each(?))",
            chunk,
        )
        .await?;
    }
    Ok(())
}

async fn reindex_where(conn: &mut SqliteConnection, filter: &str, ids: &[&String]) -> Result<()> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    sqlx::query(&format!(
        "DELETE FROM contact_search WHERE rowid IN (SELECT c.rk FROM contacts c WHERE {filter})"
    ))
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    // Phones are indexed as their E.164 digits and those digits without the
    // first 1-4 (the country code), so a number typed either way is found.
    sqlx::query(&format!(
        "INSERT INTO contact_search (rowid, name, emails, phones, company)
         SELECT c.rk,
                concat_ws(' ', c.display_name, c.first_name, c.last_name, c.title),
                (SELECT group_concat(e.address, ' ') FROM contact_emails e
                  WHERE e.contact_id = c.id AND e.deleted_at IS NULL),
                (SELECT group_concat(concat_ws(' ', substr(p.number, 2), substr(p.number, 3),
                                               substr(p.number, 4), substr(p.number, 5)), ' ')
                   FROM contact_phones p WHERE p.contact_id = c.id AND p.deleted_at IS NULL),
                concat_ws(' ', co.name, co.domain)
           FROM contacts c
           LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
          WHERE {filter} AND c.deleted_at IS NULL"
    ))
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Turn what the user typed into an FTS5 query: every word must match as a
/// prefix. Punctuation separates words, as the index tokenizer does, so
/// "ada.lov" finds "ada.lovelace@example.com". None when nothing searchable
/// was typed.
pub fn match_expression(typed: &str) -> Option<String> {
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
            Some("\"1\"* \"415\"*")
        );
        assert_eq!(
            match_expression("\"OR NOT*").as_deref(),
            Some("\"OR\"* \"NOT\"*")
        );
        assert_eq!(match_expression(" -- "), None);
    }
}
