//! Exporting a segment: read its members in a few set queries, gate them on
//! consent, normalise and hash their identifiers for the destination, write
//! the files and record the export with who was in it, all or nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde_json::json;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::normalise::{self, google, meta};
use super::{Destination, ExportReport, LeftOut, Purpose, META_MAX_ROWS};
use crate::entities::AUDIENCE_EXPORT;
use crate::error::{Error, Result};
use crate::export::csv::push_field;
use crate::export::ExportFile;
use crate::phone::Region;
use crate::store::Store;
use crate::{segments, users};

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportInput {
    /// The segment's name (any case) or id.
    pub segment: String,
    pub destination: Destination,
    /// A seed audience for the network's own lookalike feature.
    pub seed: bool,
    /// The file to write; Meta payloads over 10,000 rows become `NAME-1.json`, `NAME-2.json`, …
    pub out: PathBuf,
}

/// A member as read from the store.
#[derive(Default)]
struct Person {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    birthday: Option<String>,
    consent: Option<String>,
    sale: Option<String>,
    /// The first email and phone by position.
    email: Option<String>,
    phone: Option<String>,
    address: Option<Address>,
    gender: Option<String>,
    tags: Vec<String>,
}

#[derive(Default, Clone)]
struct Address {
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

/// One output row and the keys kept for a removal file.
struct Row {
    contact_id: String,
    cells: Vec<String>,
    email_key: Option<String>,
    phone_key: Option<String>,
}

pub(super) const META_COLUMNS: [&str; 12] = [
    "EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "GEN", "DOBY", "DOBM", "DOBD",
];
/// Google's Customer Match template (contact information), in its order.
pub const GOOGLE_HEADER: [&str; 6] = [
    "Email",
    "Phone",
    "First Name",
    "Last Name",
    "Country",
    "Zip",
];
/// Mailchimp's import columns (its default audience fields) plus tags.
pub const CSV_HEADER: [&str; 6] = [
    "Email Address",
    "First Name",
    "Last Name",
    "Phone Number",
    "Birthday",
    "Tags",
];

/// Export a segment (module docs of [`super`]).
pub async fn export(
    store: &Store,
    input: &ExportInput,
    now: DateTime<Utc>,
) -> Result<ExportReport> {
    if input.seed && input.destination == Destination::Csv {
        return Err(Error::invalid(
            "seed",
            "a lookalike seed is for an ad network: use --dest meta or --dest google",
        ));
    }
    if input.out.as_os_str().is_empty() || input.out.is_dir() {
        return Err(Error::invalid(
            "out",
            "name a file to write the audience to",
        ));
    }
    if let Some(dir) = input.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::invalid(
                "out",
                format!("the folder {} does not exist", dir.display()),
            ));
        }
    }
    // Membership as of now (a no-op read when nothing is queued).
    segments::refresh(store, now).await?;
    let segment = segments::get(store, &input.segment).await?;
    let me = users::current(store).await?;
    let region = store.default_region();

    let people = {
        let mut conn = store.pool().acquire().await?;
        read_members(&mut conn, &segment.id.to_string(), input.destination).await?
    };
    let members = people.len() as u32;
    let this_year = now.year();
    let mut left_out = LeftOut::default();
    let mut rows = Vec::with_capacity(people.len());
    let mut memo = Memo::default();
    for mut p in people {
        if p.consent.as_deref() != Some("granted") {
            left_out.no_consent += 1;
            continue;
        }
        if matches!(p.sale.as_deref(), Some("denied" | "revoked")) {
            left_out.do_not_sell += 1;
            continue;
        }
        let row = match input.destination {
            Destination::Meta => meta_row(&mut p, region, this_year, &mut memo),
            Destination::Google => google_row(&mut p, region, &mut memo),
            Destination::Csv => csv_row(&mut p),
        };
        match row {
            Some(row) => rows.push(row),
            None => left_out.no_identifier += 1,
        }
    }
    if rows.is_empty() {
        return Err(Error::invalid(
            "segment",
            format!(
                "nothing to export: none of the {members} member(s) of \"{}\" may be sent to {} \
                 ({} without {} consent, {} do-not-sell, {} without {})",
                segment.name,
                input.destination.label(),
                left_out.no_consent,
                input.destination.consent_purpose(),
                left_out.do_not_sell,
                left_out.no_identifier,
                if input.destination == Destination::Csv {
                    "an email address"
                } else {
                    "an email or phone"
                },
            ),
        ));
    }

    let contents = match input.destination {
        Destination::Meta => meta_files(&rows, META_COLUMNS.len()),
        Destination::Google => vec![csv_text(&GOOGLE_HEADER, rows.iter().map(|r| &r.cells))],
        Destination::Csv => vec![csv_text(&CSV_HEADER, rows.iter().map(|r| &r.cells))],
    };
    let paths = file_paths(&input.out, contents.len());
    let id = Uuid::now_v7();
    let purpose = if input.seed {
        Purpose::LookalikeSeed
    } else {
        Purpose::Audience
    };
    let exported_at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();

    let mut tx = store.write().await?;
    tx.insert(
        &AUDIENCE_EXPORT,
        id,
        vec![
            ("segment_id", json!(segment.id.to_string())),
            ("segment_name", json!(segment.name)),
            ("destination", json!(input.destination.as_str())),
            ("purpose", json!(purpose.as_str())),
            ("exported_by", json!(me)),
            ("exported_at", json!(exported_at)),
            ("exported", json!(rows.len())),
            (
                "left_out",
                json!(serde_json::to_string(&left_out).unwrap_or_default()),
            ),
            (
                "files",
                json!(serde_json::to_string(&names).unwrap_or_default()),
            ),
        ],
    )
    .await?;
    insert_members(tx.conn(), &id.to_string(), &rows).await?;
    let written = write_all(&paths, &contents)?;
    if let Err(e) = tx.commit().await {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(ExportReport {
        id,
        segment_id: segment.id,
        segment_name: segment.name,
        destination: input.destination,
        purpose,
        exported_by: me,
        exported_at,
        members,
        exported: rows.len() as u32,
        left_out,
        files: written.iter().map(|p| p.display().to_string()).collect(),
    })
}

/// One query's rows as a single JSON array text (`json_group_array`), parsed here:
/// for 100,000 rows far cheaper than fetching them one by one.
async fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &mut SqliteConnection,
    sql: &str,
    bind: Option<&str>,
) -> Result<Vec<T>> {
    let mut q = sqlx::query_scalar::<_, String>(sql);
    if let Some(b) = bind {
        q = q.bind(b.to_owned());
    }
    let text = q.fetch_one(&mut *conn).await?;
    serde_json::from_str(&text).map_err(|e| Error::Io(std::io::Error::other(e)))
}

/// Keep the row with the lowest (position, rk) per contact.
fn first_by_position<V>(
    slot: &mut HashMap<usize, (i64, i64, V)>,
    person: usize,
    position: Option<i64>,
    rk: i64,
    value: V,
) {
    let key = (position.unwrap_or(i64::MAX), rk);
    match slot.get(&person) {
        Some((p, r, _)) if (*p, *r) <= key => {}
        _ => {
            slot.insert(person, (key.0, key.1, value));
        }
    }
}

/// Read every live member of the segment with what the destination needs. The
/// members come from one query; their consent, emails, phones and addresses from
/// one scan of each table, matched to the members here (a scan and a hash look-up
/// cost far less than an index seek per member and table).
async fn read_members(
    conn: &mut SqliteConnection,
    segment_id: &str,
    destination: Destination,
) -> Result<Vec<Person>> {
    type MemberRow = (String, Option<String>, Option<String>, Option<String>);
    let members: Vec<MemberRow> = json_rows(
        conn,
        "SELECT json_group_array(json_array(c.id, c.first_name, c.last_name, c.birthday))
           FROM segments s JOIN segment_members m ON m.segment_rk = s.rk
           JOIN contacts c ON c.rk = m.contact_rk
          WHERE s.id = ?1 AND c.deleted_at IS NULL",
        Some(segment_id),
    )
    .await?;
    let mut people: Vec<Person> = Vec::with_capacity(members.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(members.len());
    for (id, first_name, last_name, birthday) in members {
        index.insert(id.clone(), people.len());
        people.push(Person {
            id,
            first_name,
            last_name,
            birthday,
            ..Person::default()
        });
    }
    // The status in force per purpose: the view `consent_current`'s rule (the latest
    // live decision by decided_at, then id), applied to one scan of the decisions.
    /// contact, purpose, status, decided_at, id
    type Decision = (String, String, Option<String>, Option<String>, String);
    /// decided_at, id, status
    type Latest = (Option<String>, String, Option<String>);
    let decisions: Vec<Decision> = json_rows(
        conn,
        "SELECT json_group_array(json_array(contact_id, purpose, status, decided_at, id))
           FROM consent_records
          WHERE deleted_at IS NULL AND contact_id IS NOT NULL AND purpose IN (?1, 'sale')",
        Some(destination.consent_purpose()),
    )
    .await?;
    let mut latest: HashMap<(usize, bool), Latest> = HashMap::new();
    for (contact, purpose, status, decided_at, id) in decisions {
        let Some(&i) = index.get(&contact) else {
            continue;
        };
        let key = (i, purpose == "sale");
        match latest.get(&key) {
            Some((at, rid, _)) if (at, rid) >= (&decided_at, &id) => {}
            _ => {
                latest.insert(key, (decided_at, id, status));
            }
        }
    }
    for ((i, sale), (_, _, status)) in latest {
        if sale {
            people[i].sale = status;
        } else {
            people[i].consent = status;
        }
    }
    let mut emails = HashMap::new();
    let rows: Vec<(String, String, Option<i64>, i64)> = json_rows(
        conn,
        "SELECT json_group_array(json_array(contact_id, address, position, rk)) FROM contact_emails
          WHERE deleted_at IS NULL AND address IS NOT NULL AND contact_id IS NOT NULL",
        None,
    )
    .await?;
    for (contact, address, position, rk) in rows {
        if let Some(&i) = index.get(&contact) {
            first_by_position(&mut emails, i, position, rk, address);
        }
    }
    for (i, (_, _, e)) in emails {
        people[i].email = Some(e);
    }
    let mut phones = HashMap::new();
    let rows: Vec<(String, String, Option<i64>, i64)> = json_rows(
        conn,
        "SELECT json_group_array(json_array(contact_id, number, position, rk)) FROM contact_phones
          WHERE deleted_at IS NULL AND number IS NOT NULL AND contact_id IS NOT NULL",
        None,
    )
    .await?;
    for (contact, number, position, rk) in rows {
        if let Some(&i) = index.get(&contact) {
            first_by_position(&mut phones, i, position, rk, number);
        }
    }
    for (i, (_, _, n)) in phones {
        people[i].phone = Some(n);
    }
    if destination != Destination::Csv {
        type AddressRow = (
            String,
            Option<i64>,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut addresses = HashMap::new();
        let rows: Vec<AddressRow> = json_rows(
            conn,
            "SELECT json_group_array(json_array(contact_id, position, rk, city, region, postal_code, country))
               FROM contact_addresses WHERE deleted_at IS NULL AND contact_id IS NOT NULL",
            None,
        )
        .await?;
        for (contact, position, rk, city, region, postal_code, country) in rows {
            if let Some(&i) = index.get(&contact) {
                let a = Address {
                    city,
                    region,
                    postal_code,
                    country,
                };
                first_by_position(&mut addresses, i, position, rk, a);
            }
        }
        for (i, (_, _, a)) in addresses {
            people[i].address = Some(a);
        }
    }
    if destination == Destination::Meta {
        // Gender is not a built-in field: a contact custom field with the key `gender`.
        let genders: Vec<(String, String)> = sqlx::query_as(
            "SELECT v.row_id, v.value FROM custom_fields f
               JOIN custom_values v ON v.field_id = f.id AND v.entity = 'contact'
              WHERE f.entity = 'contact' AND f.key = 'gender' AND f.deleted_at IS NULL
                AND v.deleted_at IS NULL AND v.value IS NOT NULL",
        )
        .fetch_all(&mut *conn)
        .await?;
        for (contact, value) in genders {
            if let Some(&i) = index.get(&contact) {
                people[i].gender = Some(value);
            }
        }
    }
    if destination == Destination::Csv {
        let tags: Vec<(String, String)> = sqlx::query_as(
            "SELECT ct.contact_id, t.name
               FROM segments s JOIN segment_members m ON m.segment_rk = s.rk
               JOIN contacts c ON c.rk = m.contact_rk
               JOIN contact_tags ct ON ct.contact_id = c.id AND ct.deleted_at IS NULL
               JOIN tags t ON t.id = ct.tag_id AND t.deleted_at IS NULL
              WHERE s.id = ?1 AND c.deleted_at IS NULL AND t.name IS NOT NULL
              ORDER BY t.name COLLATE NOCASE",
        )
        .bind(segment_id)
        .fetch_all(&mut *conn)
        .await?;
        for (contact, name) in tags {
            if let Some(&i) = index.get(&contact) {
                people[i].tags.push(name);
            }
        }
    }
    Ok(people)
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_default()
}

fn hashed(v: &Option<String>) -> String {
    v.as_deref().map(normalise::hash).unwrap_or_default()
}

/// Hashes of values many people share (names, cities, states, zips, countries,
/// gender, birth years, months and days), computed once per export.
#[derive(Default)]
struct Memo(HashMap<String, String>);

impl Memo {
    fn hashed(&mut self, v: Option<String>) -> String {
        match v {
            None => String::new(),
            Some(v) => self
                .0
                .entry(v)
                .or_insert_with_key(|v| normalise::hash(v))
                .clone(),
        }
    }
}

/// The contact's address and the country it is in (lower-case code).
fn address_of(p: &mut Person) -> (Address, Option<String>) {
    let address = p.address.take().unwrap_or_default();
    let country = address.country.as_deref().and_then(normalise::country_code);
    (address, country)
}

/// The phone in E.164, read in the region of the contact's country, else the default.
fn phone_of(p: &Person, country: Option<&str>, default_region: Region) -> Option<String> {
    let number = p.phone.as_deref()?;
    normalise::e164(number, normalise::region_for(country, default_region))
}

fn meta_row(
    p: &mut Person,
    default_region: Region,
    this_year: i32,
    memo: &mut Memo,
) -> Option<Row> {
    let email = p.email.as_deref().and_then(meta::email);
    let (address, country) = address_of(p);
    let phone = phone_of(p, country.as_deref(), default_region).and_then(|e| meta::phone(&e));
    if email.is_none() && phone.is_none() {
        return None;
    }
    let [doby, dobm, dobd] = p
        .birthday
        .as_deref()
        .map(|b| meta::birthday(b, this_year))
        .unwrap_or_default();
    let (email, phone) = (hashed(&email), hashed(&phone));
    let cells = vec![
        email.clone(),
        phone.clone(),
        memo.hashed(p.first_name.as_deref().and_then(meta::name)),
        memo.hashed(p.last_name.as_deref().and_then(meta::name)),
        memo.hashed(address.city.as_deref().and_then(meta::city)),
        memo.hashed(
            address
                .region
                .as_deref()
                .and_then(|s| meta::state(s, country.as_deref())),
        ),
        memo.hashed(
            address
                .postal_code
                .as_deref()
                .and_then(|z| meta::zip(z, country.as_deref())),
        ),
        memo.hashed(country),
        memo.hashed(p.gender.as_deref().and_then(meta::gender)),
        memo.hashed(doby),
        memo.hashed(dobm),
        memo.hashed(dobd),
    ];
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: Some(email).filter(|c| !c.is_empty()),
        phone_key: Some(phone).filter(|c| !c.is_empty()),
        cells,
    })
}

fn google_row(p: &mut Person, default_region: Region, memo: &mut Memo) -> Option<Row> {
    let email = p.email.as_deref().and_then(google::email);
    let (address, country) = address_of(p);
    let phone = phone_of(p, country.as_deref(), default_region).and_then(|e| google::phone(&e));
    if email.is_none() && phone.is_none() {
        return None;
    }
    let first = p.first_name.as_deref().and_then(google::name);
    let last = p.last_name.as_deref().and_then(google::name);
    let country = address.country.as_deref().and_then(google::country);
    let zip = address.postal_code.as_deref().and_then(google::zip);
    // Google matches a mailing address only on all four parts; part of one is not sent.
    let full_address = first.is_some() && last.is_some() && country.is_some() && zip.is_some();
    let (email, phone) = (hashed(&email), hashed(&phone));
    let cells = if full_address {
        vec![
            email.clone(),
            phone.clone(),
            memo.hashed(first),
            memo.hashed(last),
            opt(country),
            opt(zip),
        ]
    } else {
        vec![
            email.clone(),
            phone.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: Some(email).filter(|c| !c.is_empty()),
        phone_key: Some(phone).filter(|c| !c.is_empty()),
        cells,
    })
}

fn csv_row(p: &mut Person) -> Option<Row> {
    let email = p
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@'))?
        .to_owned();
    // Mailchimp's birthday field is MM/DD.
    let birthday = p
        .birthday
        .as_deref()
        .map(|b| meta::birthday(b, 9999))
        .and_then(|[_, m, d]| Some(format!("{}/{}", m?, d?)))
        .unwrap_or_default();
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: Some(normalise::subscriber_hash(&email)),
        phone_key: None,
        cells: vec![
            email,
            opt(p.first_name.take()),
            opt(p.last_name.take()),
            opt(p.phone.take()),
            birthday,
            p.tags.join(","),
        ],
    })
}

/// A Meta `users` payload, serialised without building a JSON tree.
#[derive(serde::Serialize)]
struct Payload<'a, S: serde::Serialize> {
    schema: &'a [&'a str],
    data: &'a [S],
}

/// Meta payloads of at most [`META_MAX_ROWS`] rows, with the schema of the keys
/// that have a value in some row (the same for every file of an export).
fn meta_files(rows: &[Row], width: usize) -> Vec<String> {
    let used: Vec<usize> = (0..width)
        .filter(|&i| rows.iter().any(|r| !r.cells[i].is_empty()))
        .collect();
    let schema: Vec<&str> = used.iter().map(|&i| META_COLUMNS[i]).collect();
    rows.chunks(META_MAX_ROWS)
        .map(|chunk| {
            let data: Vec<Vec<&str>> = chunk
                .iter()
                .map(|r| used.iter().map(|&i| r.cells[i].as_str()).collect())
                .collect();
            serde_json::to_string(&Payload {
                schema: &schema,
                data: &data,
            })
            .unwrap_or_default()
        })
        .collect()
}

pub(super) fn meta_payloads(schema: &[&str], data: &[Vec<String>]) -> Vec<String> {
    let chunks: Vec<&[Vec<String>]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(META_MAX_ROWS).collect()
    };
    chunks
        .into_iter()
        .map(|chunk| {
            serde_json::to_string(&Payload {
                schema,
                data: chunk,
            })
            .unwrap_or_default()
        })
        .collect()
}

/// RFC 4180 text with CRLF line ends.
pub(super) fn csv_text<'a, S: AsRef<str> + 'a>(
    header: &[&str],
    rows: impl Iterator<Item = &'a Vec<S>>,
) -> String {
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, cell);
        }
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(|c| c.as_ref()));
    }
    out
}

/// `out` itself for one file; `NAME-1.EXT`, `NAME-2.EXT`, … for more.
pub(super) fn file_paths(out: &Path, n: usize) -> Vec<PathBuf> {
    if n <= 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audience".into());
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=n)
        .map(|i| out.with_file_name(format!("{stem}-{i}{ext}")))
        .collect()
}

/// Write every file, then put them all in place; on a failure none is left.
pub(super) fn write_all(paths: &[PathBuf], contents: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::with_capacity(paths.len());
    for (path, text) in paths.iter().zip(contents) {
        let mut file = ExportFile::create(path)?;
        file.write_all(text.as_bytes())?;
        files.push(file);
    }
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        match file.commit() {
            Ok(p) => written.push(p),
            Err(e) => {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
                return Err(e);
            }
        }
    }
    Ok(written)
}

/// Who was in the export, with their keys (local table, docs/audiences.md).
async fn insert_members(conn: &mut SqliteConnection, export_id: &str, rows: &[Row]) -> Result<()> {
    // One statement over a JSON array: binding tens of thousands of parameters
    // costs more than SQLite's json_each reading them back.
    let list: Vec<[Option<&str>; 3]> = rows
        .iter()
        .map(|r| {
            [
                Some(r.contact_id.as_str()),
                r.email_key.as_deref(),
                r.phone_key.as_deref(),
            ]
        })
        .collect();
    let list = serde_json::to_string(&list).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    sqlx::query(
        "INSERT OR REPLACE INTO audience_export_members (export_id, contact_id, email_key, phone_key)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?2)",
    )
    .bind(export_id)
    .bind(list)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
