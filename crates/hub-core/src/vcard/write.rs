//! Writing contacts as vCard 4.0 (RFC 6350): CRLF line ends, lines folded at
//! 75 octets on UTF-8 character boundaries, text escaped, typed TEL/EMAIL/ADR,
//! `UID` = the contact's id (so a calendar or phone that re-imports the file
//! updates rather than duplicates), `REV` = its last change.

use std::io::Write;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::contact_details::{self, ContactDetails};
use crate::contacts::{self, Contact};
use crate::custom_fields::FieldEntity;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::views;

/// Which contacts to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ids(Vec<Uuid>),
    /// A saved view of contacts, by name.
    View(String),
}

/// Escape a text value (RFC 6350 3.4): backslash, comma, semicolon, newline.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Fold one content line (RFC 6350 3.2 / RFC 5545 3.1): at most 75 octets a
/// line, never splitting a UTF-8 character; continuation lines start with a
/// space. Ends with CRLF.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

fn phone_types(kind: &str) -> &'static str {
    match kind {
        "mobile" => "\"cell,voice\"",
        "work" => "\"work,voice\"",
        "home" => "\"home,voice\"",
        _ => "voice",
    }
}

/// One contact's card.
pub fn card(contact: &Contact, details: &ContactDetails) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCARD".into(),
        "VERSION:4.0".into(),
        format!("UID:urn:uuid:{}", contact.id),
        format!("FN:{}", escape(&contact.display_name)),
    ];
    let first = contact.first_name.as_deref().unwrap_or("");
    let last = contact.last_name.as_deref().unwrap_or("");
    lines.push(format!("N:{};{};;;", escape(last), escape(first)));
    if let Some(co) = &contact.company {
        lines.push(format!("ORG:{}", escape(&co.name)));
    }
    if let Some(t) = &contact.title {
        lines.push(format!("TITLE:{}", escape(t)));
    }
    for (i, e) in contact.emails.iter().enumerate() {
        let mut params = String::new();
        if e.kind == "work" || e.kind == "home" {
            params.push_str(&format!(";TYPE={}", e.kind));
        }
        if i == 0 {
            params.push_str(";PREF=1");
        }
        lines.push(format!("EMAIL{params}:{}", escape(&e.address)));
    }
    for (i, p) in contact.phones.iter().enumerate() {
        let pref = if i == 0 { ";PREF=1" } else { "" };
        lines.push(format!(
            "TEL;VALUE=uri;TYPE={}{pref}:tel:{}",
            phone_types(&p.kind),
            p.number
        ));
    }
    for a in &details.addresses {
        let part = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
        let kind = if a.kind == "work" || a.kind == "home" {
            format!(";TYPE={}", a.kind)
        } else {
            String::new()
        };
        lines.push(format!(
            "ADR{kind}:;;{};{};{};{};{}",
            part(&a.street),
            part(&a.city),
            part(&a.region),
            part(&a.postal_code),
            part(&a.country)
        ));
    }
    if let Some(b) = &details.birthday {
        // ISO 8601 basic format, as RFC 6350's examples: 19850412, --0412.
        let digits = b.replace('-', "");
        let bday = if b.starts_with("--") {
            format!("--{digits}")
        } else {
            digits
        };
        lines.push(format!("BDAY:{bday}"));
    }
    if let Some(n) = &contact.notes {
        lines.push(format!("NOTE:{}", escape(n)));
    }
    if let Some(w) = &details.website {
        lines.push(format!("URL:{w}"));
    }
    if !contact.tags.is_empty() {
        let tags: Vec<String> = contact.tags.iter().map(|t| escape(t)).collect();
        lines.push(format!("CATEGORIES:{}", tags.join(",")));
    }
    if let Some(p) = &details.photo {
        lines.push(format!("PHOTO:{p}"));
    }
    lines.push(format!("REV:{}", rev(contact.updated_at)));
    lines.push("END:VCARD".into());
    lines.iter().map(|l| fold(l)).collect()
}

fn rev(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The ids a selection names, in name order (a view: in its own order).
async fn selected_ids(store: &Store, selection: &Selection) -> Result<Vec<Uuid>> {
    Ok(match selection {
        Selection::Ids(ids) => ids.clone(),
        Selection::All => {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM contacts WHERE deleted_at IS NULL
                  ORDER BY display_name COLLATE NOCASE, id",
            )
            .fetch_all(store.pool())
            .await?;
            ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect()
        }
        Selection::View(name) => {
            let mut ids = Vec::new();
            let mut offset = 0;
            loop {
                let page = views::run(store, name, offset, 1000).await?;
                if page.view.entity != FieldEntity::Contact {
                    return Err(Error::invalid(
                        "view",
                        format!(
                            "the view \"{}\" lists {}, not contacts: only contacts export as vCard",
                            page.view.name,
                            page.view.entity.as_str()
                        ),
                    ));
                }
                let n = page.page.items.len() as u32;
                ids.extend(page.page.items.into_iter().map(|i| i.id));
                offset += n;
                if n == 0 || offset >= page.page.total {
                    break;
                }
            }
            ids
        }
    })
}

/// Contacts and their details for a page of ids, in a handful of set
/// queries (a per-contact read made a 100k export take minutes). Ids that
/// are not live contacts are left out.
async fn load_page(store: &Store, ids: &[Uuid]) -> Result<Vec<(Contact, ContactDetails)>> {
    use std::collections::HashMap;
    let mut conn = store.pool().acquire().await?;
    let page = serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
        .unwrap_or_default();
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.first_name, c.last_name, c.display_name, c.title, co.id, co.name, c.notes,
                c.birthday, c.website, c.photo, c.created_at,
                max(c.updated_ms,
                    coalesce((SELECT max(updated_ms) FROM contact_emails WHERE contact_id = c.id), 0),
                    coalesce((SELECT max(updated_ms) FROM contact_phones WHERE contact_id = c.id), 0),
                    coalesce((SELECT max(updated_ms) FROM contact_addresses WHERE contact_id = c.id), 0),
                    coalesce((SELECT max(updated_ms) FROM contact_tags WHERE contact_id = c.id), 0))
           FROM json_each(?) j JOIN contacts c ON c.id = j.value AND c.deleted_at IS NULL
           LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL",
    )
    .bind(&page)
    .fetch_all(&mut *conn)
    .await?;
    let mut emails: HashMap<String, Vec<contacts::EmailEntry>> = HashMap::new();
    let found: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e.contact_id, e.kind, e.address FROM json_each(?) j
           JOIN contact_emails e ON e.contact_id = j.value AND e.deleted_at IS NULL
          ORDER BY e.contact_id, e.position, e.rk",
    )
    .bind(&page)
    .fetch_all(&mut *conn)
    .await?;
    for (c, kind, address) in found {
        emails
            .entry(c)
            .or_default()
            .push(contacts::EmailEntry { kind, address });
    }
    let mut phones: HashMap<String, Vec<contacts::PhoneEntry>> = HashMap::new();
    let found: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT p.contact_id, p.kind, p.number FROM json_each(?) j
           JOIN contact_phones p ON p.contact_id = j.value AND p.deleted_at IS NULL
          ORDER BY p.contact_id, p.position, p.rk",
    )
    .bind(&page)
    .fetch_all(&mut *conn)
    .await?;
    for (c, kind, number) in found {
        phones
            .entry(c)
            .or_default()
            .push(contacts::PhoneEntry { kind, number });
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT l.contact_id, t.name FROM json_each(?) j
           JOIN contact_tags l ON l.contact_id = j.value AND l.deleted_at IS NULL
           JOIN tags t ON t.id = l.tag_id AND t.deleted_at IS NULL
          ORDER BY l.contact_id, t.name COLLATE NOCASE",
    )
    .bind(&page)
    .fetch_all(&mut *conn)
    .await?;
    for (c, name) in found {
        tags.entry(c).or_default().push(name);
    }
    let mut addresses: HashMap<String, Vec<contact_details::AddressEntry>> = HashMap::new();
    type AddressRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let found: Vec<AddressRow> = sqlx::query_as(
        "SELECT a.contact_id, a.kind, a.street, a.city, a.region, a.postal_code, a.country
           FROM json_each(?) j
           JOIN contact_addresses a ON a.contact_id = j.value AND a.deleted_at IS NULL
          ORDER BY a.contact_id, a.position, a.rk",
    )
    .bind(&page)
    .fetch_all(&mut *conn)
    .await?;
    for (c, kind, street, city, region, postal_code, country) in found {
        addresses
            .entry(c)
            .or_default()
            .push(contact_details::AddressEntry {
                kind,
                street,
                city,
                region,
                postal_code,
                country,
            });
    }
    let mut by_id: HashMap<String, (Contact, ContactDetails)> = HashMap::new();
    for (
        id,
        first_name,
        last_name,
        display_name,
        title,
        company_id,
        company_name,
        notes,
        birthday,
        website,
        photo,
        created_at,
        updated_ms,
    ) in rows
    {
        let Ok(uuid) = Uuid::parse_str(&id) else {
            continue;
        };
        let created_at = crate::companies::parse_time(created_at.as_deref());
        let company = match (company_id, company_name) {
            (Some(cid), Some(name)) => Uuid::parse_str(&cid)
                .ok()
                .map(|id| contacts::CompanyRef { id, name }),
            _ => None,
        };
        let contact = Contact {
            id: uuid,
            first_name,
            last_name,
            display_name: display_name.unwrap_or_default(),
            title,
            company,
            lifecycle_stage: Default::default(),
            owner: None,
            source: None,
            notes,
            emails: emails.remove(&id).unwrap_or_default(),
            phones: phones.remove(&id).unwrap_or_default(),
            tags: tags.remove(&id).unwrap_or_default(),
            created_at,
            updated_at: DateTime::from_timestamp_millis(updated_ms).unwrap_or(created_at),
        };
        let details = ContactDetails {
            birthday,
            website,
            photo,
            addresses: addresses.remove(&id).unwrap_or_default(),
        };
        by_id.insert(id, (contact, details));
    }
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(&id.to_string()))
        .collect())
}

/// Write the selected contacts as vCard 4.0 to `out`; returns how many.
/// An id that is not a live contact is an error before anything is written.
pub async fn export<W: Write + ?Sized>(
    store: &Store,
    selection: &Selection,
    out: &mut W,
) -> Result<u64> {
    let ids = selected_ids(store, selection).await?;
    if let Selection::Ids(ids) = selection {
        for id in ids {
            contacts::get(store, *id).await?;
        }
    }
    let mut n = 0;
    let mut buf = String::new();
    for page in ids.chunks(500) {
        for (contact, details) in load_page(store, page).await? {
            buf.push_str(&card(&contact, &details));
            n += 1;
        }
        out.write_all(buf.as_bytes())?;
        buf.clear();
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_lines_within_75_octets_and_characters_whole() {
        let line = format!("NOTE:{}", "é".repeat(100));
        let folded = fold(&line);
        for l in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        // Unfolding (drop CRLF + one space) gives the line back.
        assert_eq!(folded.trim_end_matches("\r\n").replace("\r\n ", ""), line);
        assert_eq!(fold("FN:Ada"), "FN:Ada\r\n");
        let exact = "X".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        assert_eq!(fold(&"X".repeat(76)), format!("{exact}\r\n X\r\n"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(
            crate::vcard::parse::unescape(&escape("a,b;c\\d\ne")),
            "a,b;c\\d\ne"
        );
    }

    use crate::contact_details::AddressEntry;
    use crate::contacts::{ContactInput, EmailEntry, PhoneEntry};
    use crate::import::{import_records, CancelToken};

    fn email(kind: &str, address: &str) -> EmailEntry {
        EmailEntry {
            kind: kind.into(),
            address: address.into(),
        }
    }

    fn phone(kind: &str, number: &str) -> PhoneEntry {
        PhoneEntry {
            kind: kind.into(),
            number: number.into(),
        }
    }

    async fn seed(store: &Store) -> Vec<Uuid> {
        let ada = contacts::create(
            store,
            ContactInput {
                first_name: Some("Ada".into()),
                last_name: Some("Lovelace".into()),
                display_name: Some("Ada Lovelace, Countess".into()),
                title: Some("Analyst; Poet".into()),
                company_name: Some("Analytical Engines, Ltd.".into()),
                notes: Some("Line one\nLine two \\ with backslash".into()),
                emails: vec![
                    email("work", "ada@engines.example"),
                    email("home", "ada@home.example"),
                    email("other", "countess@lovelace.example"),
                ],
                phones: vec![
                    phone("mobile", "+447911123456"),
                    phone("work", "+442079460018"),
                    phone("home", "+442079460019"),
                    phone("other", "+442079460020"),
                ],
                tags: vec!["VIP".into(), "Math, Poetry".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        contact_details::set(
            store,
            ada.id,
            &ContactDetails {
                birthday: Some("1815-12-10".into()),
                website: Some("https://ada.example/notes?a=1;b=2".into()),
                photo: Some("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==".into()),
                addresses: vec![AddressEntry {
                    kind: "home".into(),
                    street: Some("12 St James's Square".into()),
                    city: Some("London".into()),
                    postal_code: Some("SW1Y 4JH".into()),
                    country: Some("United Kingdom".into()),
                    ..Default::default()
                }],
            },
        )
        .await
        .unwrap();
        let taro = contacts::create(
            store,
            ContactInput {
                first_name: Some("太郎".into()),
                last_name: Some("山田".into()),
                company_name: Some("株式会社サンプル".into()),
                emails: vec![email("work", "taro@sample.example.jp")],
                phones: vec![phone("mobile", "+819012345678")],
                notes: Some("長いメモ".repeat(40)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        contact_details::set(
            store,
            taro.id,
            &ContactDetails {
                birthday: Some("--02-29".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        vec![ada.id, taro.id]
    }

    /// What a round trip must keep, per contact, in name order.
    async fn essentials(store: &Store) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for id in selected_ids(store, &Selection::All).await.unwrap() {
            let c = contacts::get(store, id).await.unwrap();
            let d = contact_details::get(store, id).await.unwrap();
            out.push(serde_json::json!({
                "display_name": c.display_name, "first": c.first_name, "last": c.last_name,
                "org": c.company.map(|co| co.name), "title": c.title, "notes": c.notes,
                "emails": c.emails, "phones": c.phones, "tags": c.tags,
                "birthday": d.birthday, "website": d.website, "photo": d.photo,
                "addresses": d.addresses,
            }));
        }
        out
    }

    #[tokio::test]
    async fn export_then_import_into_an_empty_database_keeps_every_field() {
        let store = Store::open_in_memory().await.unwrap();
        seed(&store).await;
        let mut file = Vec::new();
        assert_eq!(export(&store, &Selection::All, &mut file).await.unwrap(), 2);
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= 75), "{text}");
        assert!(text.contains("TEL;VALUE=uri;TYPE=\"cell,voice\";PREF=1:tel:+447911123456\r\n"));
        assert!(text.contains("EMAIL;TYPE=work;PREF=1:ada@engines.example\r\n"));
        assert!(text.contains("BDAY:18151210\r\n"));
        assert!(text.contains("BDAY:--0229\r\n"));
        assert!(text.contains("ORG:Analytical Engines\\, Ltd.\r\n"));
        assert!(
            text.contains("CATEGORIES:Math\\, Poetry,VIP\r\n")
                || text.contains("CATEGORIES:VIP,Math\\, Poetry\r\n"),
            "{text}"
        );

        let empty = Store::open_in_memory().await.unwrap();
        let report = import_records(
            &empty,
            crate::vcard::records(&file[..], Some(file.len() as u64)),
            &crate::vcard::options("export.vcf", false),
            |_| {},
            &CancelToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(report.errors, vec![]);
        assert_eq!(report.created, 2);
        let want = essentials(&store).await;
        let mut got = essentials(&empty).await;
        // A tag with a comma cannot be one vCard category: it comes back
        // with a space (documented).
        for c in &mut got {
            if let Some(tags) = c["tags"].as_array_mut() {
                for t in tags.iter_mut() {
                    if t == "Math Poetry" {
                        *t = serde_json::json!("Math, Poetry");
                    }
                }
            }
        }
        assert_eq!(got, want);

        // Importing our own export again changes nothing.
        let again = import_records(
            &empty,
            crate::vcard::records(&file[..], None),
            &crate::vcard::options("export.vcf", false),
            |_| {},
            &CancelToken::new(),
        )
        .await
        .unwrap();
        assert_eq!((again.created, again.updated), (0, 0));
    }

    #[tokio::test]
    async fn selections_by_ids_and_saved_view() {
        use crate::filters::parse_filter;
        use crate::views::{self, ViewInput};
        let store = Store::open_in_memory().await.unwrap();
        let ids = seed(&store).await;
        // The batched page read writes the same cards as reading each
        // contact on its own.
        let page = load_page(&store, &ids).await.unwrap();
        assert_eq!(page.len(), 2);
        for (id, (contact, details)) in ids.iter().zip(&page) {
            let one = contacts::get(&store, *id).await.unwrap();
            let one_details = contact_details::get(&store, *id).await.unwrap();
            assert_eq!(card(contact, details), card(&one, &one_details));
        }
        let mut out = Vec::new();
        assert_eq!(
            export(&store, &Selection::Ids(vec![ids[1]]), &mut out)
                .await
                .unwrap(),
            1
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("UID:urn:uuid:{}\r\n", ids[1])));
        assert!(!text.contains(&ids[0].to_string()));
        views::save(
            &store,
            ViewInput {
                name: "VIPs".into(),
                entity: FieldEntity::Contact,
                filter: parse_filter(&["tag=VIP".to_owned()]).unwrap(),
                sort: None,
            },
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        assert_eq!(
            export(&store, &Selection::View("VIPs".into()), &mut out)
                .await
                .unwrap(),
            1
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("FN:Ada Lovelace\\, Countess"));
        // An unknown id is an error and nothing is written.
        let mut out = Vec::new();
        let err = export(
            &store,
            &Selection::Ids(vec![ids[0], Uuid::now_v7()]),
            &mut out,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert!(out.is_empty());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::contacts::{EmailEntry, LifecycleStage, PhoneEntry};
    use crate::vcard::parse::parse_str;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Letters from several scripts, the characters vCard escapes, spaces
        // and newlines.
        proptest::string::string_regex("[a-zA-Zäöüß漢字é😀,;:\\\\\n \"'=.-]{1,120}").unwrap()
    }

    fn contact(name: String, title: String, notes: String, org: String) -> Contact {
        Contact {
            id: Uuid::nil(),
            first_name: None,
            last_name: None,
            display_name: name,
            title: Some(title),
            company: Some(contacts::CompanyRef {
                id: Uuid::nil(),
                name: org,
            }),
            lifecycle_stage: LifecycleStage::Lead,
            owner: None,
            source: None,
            notes: Some(notes),
            emails: vec![EmailEntry {
                kind: "home".into(),
                address: "a@example.com".into(),
            }],
            phones: vec![PhoneEntry {
                kind: "mobile".into(),
                number: "+14155552671".into(),
            }],
            tags: Vec::new(),
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    proptest! {
        /// Whatever the text, our card folds to ≤ 75 octets and reads back
        /// to the same values (trimmed, as the reader trims).
        #[test]
        fn written_cards_read_back(name in text(), title in text(), notes in text(), org in text()) {
            let c = contact(name.clone(), title.clone(), notes.clone(), org.clone());
            let written = card(&c, &ContactDetails::default());
            for line in written.split("\r\n") {
                prop_assert!(line.len() <= 75);
            }
            let read = parse_str(&written);
            prop_assert_eq!(read.len(), 1);
            let r = read[0].as_ref().unwrap();
            prop_assert_eq!(r.formatted_name.clone(), Some(name.trim().to_owned()).filter(|s| !s.is_empty()));
            prop_assert_eq!(r.title.clone(), Some(title.trim().to_owned()).filter(|s| !s.is_empty()));
            prop_assert_eq!(r.company(), Some(org.trim()).filter(|s| !s.is_empty()));
            let note = notes.replace('\r', "");
            prop_assert_eq!(r.note.clone(), Some(note.trim_end().to_owned()).filter(|s| !s.trim().is_empty()));
            prop_assert_eq!(&r.phones[0].value, "+14155552671");
        }

        /// Any bytes: the reader ends, never panics, and every error has a line.
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), card in any::<bool>()) {
            let mut input = Vec::new();
            if card {
                input.extend_from_slice(b"BEGIN:VCARD\r\nVERSION:2.1\r\nNOTE;ENCODING=QUOTED-PRINTABLE:");
            }
            input.extend_from_slice(&bytes);
            for item in crate::vcard::parse::cards(&input[..]) {
                if let Err(e) = item {
                    prop_assert!(e.line >= 1);
                }
            }
        }
    }
}
