//! Exporting a segment: read its members in a few set queries, gate them on
//! consent, normalise and hash their identifiers for the destination, write
//! the files and record the export with who was in it, all or nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde_json::json;
use sqlx::{SqliteConnection, SqlitePool};
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
    cells: Vec<Cell>,
    email_key: Option<Cell>,
    phone_key: Option<Cell>,
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

    let people = read_members(store.pool(), &segment.id.to_string(), input.destination).await?;
    let members = people.len() as u32;
    let this_year = now.year();
    let mut left_out = LeftOut::default();
    let mut rows = Vec::with_capacity(people.len());
    let mut memo = Memo::new();
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

    let file_count = match input.destination {
        Destination::Meta => rows.len().div_ceil(META_MAX_ROWS),
        Destination::Google | Destination::Csv => 1,
    };
    let paths = file_paths(&input.out, file_count);
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
    // The files are written on another thread while SQLite stores the members.
    let rows = Arc::new(rows);
    let writing = tokio::task::spawn_blocking({
        let (rows, paths, destination) = (rows.clone(), paths.clone(), input.destination);
        move || write_files(destination, &paths, &rows)
    });
    insert_members(tx.conn(), &id.to_string(), &rows).await?;
    let files = writing
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))??;
    let written = commit_all(files)?;
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
    pool: &SqlitePool,
    sql: &str,
    bind: Option<&str>,
) -> Result<Vec<T>> {
    let mut q = sqlx::query_scalar::<_, String>(sql);
    if let Some(b) = bind {
        q = q.bind(b.to_owned());
    }
    let text = q.fetch_one(pool).await?;
    serde_json::from_str(&text).map_err(|e| Error::Io(std::io::Error::other(e)))
}

/// Per member, the row with the lowest (position, rk) seen so far.
struct FirstByPosition<V>(Vec<Option<(i64, i64, V)>>);

impl<V> FirstByPosition<V> {
    fn new(members: usize) -> Self {
        Self(std::iter::repeat_with(|| None).take(members).collect())
    }

    fn offer(&mut self, member: usize, position: Option<i64>, rk: i64, value: V) {
        let key = (position.unwrap_or(i64::MAX), rk);
        let slot = &mut self.0[member];
        if !matches!(slot, Some((p, r, _)) if (*p, *r) <= key) {
            *slot = Some((key.0, key.1, value));
        }
    }

    fn into_values(self) -> impl Iterator<Item = Option<V>> {
        self.0.into_iter().map(|s| s.map(|(_, _, v)| v))
    }
}

/// Read every live member of the segment with what the destination needs. The
/// members come from one query; their consent, emails, phones and addresses from
/// one scan of each table, matched to the members here (a scan and a hash look-up
/// cost far less than an index seek per member and table). The scans run at once,
/// each on its own connection, so SQLite reads one while the last is parsed.
async fn read_members(
    pool: &SqlitePool,
    segment_id: &str,
    destination: Destination,
) -> Result<Vec<Person>> {
    type MemberRow = (String, Option<String>, Option<String>, Option<String>);
    /// contact, purpose, status, decided_at, id
    type Decision = (String, String, Option<String>, Option<String>, String);
    /// contact, value, position, rk
    type Detail = (String, String, Option<i64>, i64);
    /// contact, position, rk, city, region, postal code, country
    type AddressRow = (
        String,
        Option<i64>,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (members, decisions, email_rows, phone_rows, address_rows) = tokio::try_join!(
        json_rows::<MemberRow>(
            pool,
            "SELECT json_group_array(json_array(c.id, c.first_name, c.last_name, c.birthday))
               FROM segments s JOIN segment_members m ON m.segment_rk = s.rk
               JOIN contacts c ON c.rk = m.contact_rk
              WHERE s.id = ?1 AND c.deleted_at IS NULL",
            Some(segment_id),
        ),
        json_rows::<Decision>(
            pool,
            "SELECT json_group_array(json_array(contact_id, purpose, status, decided_at, id))
               FROM consent_records
              WHERE deleted_at IS NULL AND contact_id IS NOT NULL AND purpose IN (?1, 'sale')",
            Some(destination.consent_purpose()),
        ),
        json_rows::<Detail>(
            pool,
            "SELECT json_group_array(json_array(contact_id, address, position, rk)) FROM contact_emails
              WHERE deleted_at IS NULL AND address IS NOT NULL AND contact_id IS NOT NULL",
            None,
        ),
        json_rows::<Detail>(
            pool,
            "SELECT json_group_array(json_array(contact_id, number, position, rk)) FROM contact_phones
              WHERE deleted_at IS NULL AND number IS NOT NULL AND contact_id IS NOT NULL",
            None,
        ),
        async {
            if destination == Destination::Csv {
                return Ok(Vec::new());
            }
            json_rows::<AddressRow>(
                pool,
                "SELECT json_group_array(json_array(contact_id, position, rk, city, region, postal_code, country))
                   FROM contact_addresses WHERE deleted_at IS NULL AND contact_id IS NOT NULL",
                None,
            )
            .await
        },
    )?;
    let n = members.len();
    let mut ids: Vec<String> = Vec::with_capacity(n);
    let mut people: Vec<Person> = Vec::with_capacity(n);
    for (id, first_name, last_name, birthday) in members {
        ids.push(id);
        people.push(Person {
            first_name,
            last_name,
            birthday,
            ..Person::default()
        });
    }
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    // The status in force per purpose: the view `consent_current`'s rule (the latest
    // live decision by decided_at, then id), applied to the scan of the decisions:
    // decided_at, id, status — per member, for the destination's purpose and for sale.
    type Latest = Option<(Option<String>, String, Option<String>)>;
    let mut latest: Vec<[Latest; 2]> = std::iter::repeat_with(Default::default).take(n).collect();
    for (contact, purpose, status, decided_at, id) in decisions {
        let Some(&i) = index.get(contact.as_str()) else {
            continue;
        };
        let slot = &mut latest[i][usize::from(purpose == "sale")];
        if !matches!(slot, Some((at, rid, _)) if (&*at, &*rid) >= (&decided_at, &id)) {
            *slot = Some((decided_at, id, status));
        }
    }
    for (p, [consent, sale]) in people.iter_mut().zip(latest) {
        p.consent = consent.and_then(|(_, _, s)| s);
        p.sale = sale.and_then(|(_, _, s)| s);
    }
    let mut emails = FirstByPosition::new(n);
    for (contact, address, position, rk) in email_rows {
        if let Some(&i) = index.get(contact.as_str()) {
            emails.offer(i, position, rk, address);
        }
    }
    for (p, e) in people.iter_mut().zip(emails.into_values()) {
        p.email = e;
    }
    let mut phones = FirstByPosition::new(n);
    for (contact, number, position, rk) in phone_rows {
        if let Some(&i) = index.get(contact.as_str()) {
            phones.offer(i, position, rk, number);
        }
    }
    for (p, number) in people.iter_mut().zip(phones.into_values()) {
        p.phone = number;
    }
    if destination != Destination::Csv {
        let mut addresses = FirstByPosition::new(n);
        for (contact, position, rk, city, region, postal_code, country) in address_rows {
            if let Some(&i) = index.get(contact.as_str()) {
                let a = Address {
                    city,
                    region,
                    postal_code,
                    country,
                };
                addresses.offer(i, position, rk, a);
            }
        }
        for (p, a) in people.iter_mut().zip(addresses.into_values()) {
            p.address = a;
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
        .fetch_all(pool)
        .await?;
        for (contact, value) in genders {
            if let Some(&i) = index.get(contact.as_str()) {
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
        .fetch_all(pool)
        .await?;
        for (contact, name) in tags {
            if let Some(&i) = index.get(contact.as_str()) {
                people[i].tags.push(name);
            }
        }
    }
    drop(index);
    for (p, id) in people.iter_mut().zip(ids) {
        p.id = id;
    }
    Ok(people)
}

/// A cell of an output row. A value many people share (a first name, a city, a
/// birth year) is one allocation for every row that has it.
type Cell = Arc<str>;

fn hashed(v: Option<String>) -> Option<Cell> {
    v.map(|v| Cell::from(normalise::hash(&v)))
}

/// Columns whose cells are looked up in the [`Memo`].
#[derive(Clone, Copy)]
enum Column {
    FirstName,
    LastName,
    City,
    State,
    Zip,
    Country,
    Gender,
    BirthYear,
    BirthMonth,
    BirthDay,
}

/// Cells of values many people share, each made (normalised, hashed) once per
/// export: per column, keyed by the value as stored and the country (which the
/// state and zip rules depend on).
struct Memo {
    columns: [HashMap<String, Cell>; 10],
    key: String,
    empty: Cell,
}

impl Memo {
    fn new() -> Self {
        Memo {
            columns: Default::default(),
            key: String::new(),
            empty: Cell::from(""),
        }
    }

    /// The cell for `raw` in `column`; `make` turns a stored value into the cell's
    /// text (`None`: an empty cell) and runs once per distinct value.
    fn cell(
        &mut self,
        column: Column,
        country: Option<&str>,
        raw: Option<&str>,
        make: impl FnOnce(&str) -> Option<String>,
    ) -> Cell {
        let Some(raw) = raw else {
            return self.empty.clone();
        };
        self.key.clear();
        self.key.push_str(country.unwrap_or_default());
        self.key.push('\0');
        self.key.push_str(raw);
        let map = &mut self.columns[column as usize];
        if let Some(cell) = map.get(self.key.as_str()) {
            return cell.clone();
        }
        let cell = make(raw).map_or_else(|| self.empty.clone(), Cell::from);
        map.insert(self.key.clone(), cell.clone());
        cell
    }

    /// The hashed cell of the value `normalise` makes of `raw`.
    fn hashed(
        &mut self,
        column: Column,
        country: Option<&str>,
        raw: Option<&str>,
        normalise: impl FnOnce(&str) -> Option<String>,
    ) -> Cell {
        self.cell(column, country, raw, |r| {
            normalise(r).map(|v| normalise::hash(&v))
        })
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
    let email = hashed(p.email.as_deref().and_then(meta::email));
    let (address, country) = address_of(p);
    let country = country.as_deref();
    let phone = hashed(phone_of(p, country, default_region).and_then(|e| meta::phone(&e)));
    if email.is_none() && phone.is_none() {
        return None;
    }
    let birthday = p.birthday.as_deref();
    let birth_part = |i: usize| move |b: &str| meta::birthday(b, this_year)[i].take();
    let cells = vec![
        email.clone().unwrap_or_else(|| memo.empty.clone()),
        phone.clone().unwrap_or_else(|| memo.empty.clone()),
        memo.hashed(Column::FirstName, None, p.first_name.as_deref(), meta::name),
        memo.hashed(Column::LastName, None, p.last_name.as_deref(), meta::name),
        memo.hashed(Column::City, None, address.city.as_deref(), meta::city),
        memo.hashed(Column::State, country, address.region.as_deref(), |s| {
            meta::state(s, country)
        }),
        memo.hashed(Column::Zip, country, address.postal_code.as_deref(), |z| {
            meta::zip(z, country)
        }),
        memo.hashed(Column::Country, None, country, |c| Some(c.to_owned())),
        memo.hashed(Column::Gender, None, p.gender.as_deref(), meta::gender),
        memo.hashed(Column::BirthYear, None, birthday, birth_part(0)),
        memo.hashed(Column::BirthMonth, None, birthday, birth_part(1)),
        memo.hashed(Column::BirthDay, None, birthday, birth_part(2)),
    ];
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: email,
        phone_key: phone,
        cells,
    })
}

fn google_row(p: &mut Person, default_region: Region, memo: &mut Memo) -> Option<Row> {
    let email = hashed(p.email.as_deref().and_then(google::email));
    let (address, country) = address_of(p);
    let phone =
        hashed(phone_of(p, country.as_deref(), default_region).and_then(|e| google::phone(&e)));
    if email.is_none() && phone.is_none() {
        return None;
    }
    let mut address_cells = [
        memo.hashed(
            Column::FirstName,
            None,
            p.first_name.as_deref(),
            google::name,
        ),
        memo.hashed(Column::LastName, None, p.last_name.as_deref(), google::name),
        memo.cell(
            Column::Country,
            None,
            address.country.as_deref(),
            google::country,
        ),
        memo.cell(
            Column::Zip,
            None,
            address.postal_code.as_deref(),
            google::zip,
        ),
    ];
    // Google matches a mailing address only on all four parts; part of one is not sent.
    if address_cells.iter().any(|c| c.is_empty()) {
        address_cells = std::array::from_fn(|_| memo.empty.clone());
    }
    let mut cells = Vec::with_capacity(GOOGLE_HEADER.len());
    cells.push(email.clone().unwrap_or_else(|| memo.empty.clone()));
    cells.push(phone.clone().unwrap_or_else(|| memo.empty.clone()));
    cells.extend(address_cells);
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: email,
        phone_key: phone,
        cells,
    })
}

fn csv_row(p: &mut Person) -> Option<Row> {
    let email = p
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| e.contains('@'))?;
    // Mailchimp's birthday field is MM/DD.
    let birthday = p
        .birthday
        .as_deref()
        .map(|b| meta::birthday(b, 9999))
        .and_then(|[_, m, d]| Some(format!("{}/{}", m?, d?)))
        .unwrap_or_default();
    let text = |v: Option<String>| Cell::from(v.unwrap_or_default());
    Some(Row {
        contact_id: std::mem::take(&mut p.id),
        email_key: Some(Cell::from(normalise::subscriber_hash(email))),
        phone_key: None,
        cells: vec![
            Cell::from(email),
            text(p.first_name.take()),
            text(p.last_name.take()),
            text(p.phone.take()),
            Cell::from(birthday),
            Cell::from(p.tags.join(",")),
        ],
    })
}

/// A Meta `users` payload, serialised without building a JSON tree.
#[derive(serde::Serialize)]
struct Payload<'a, S: serde::Serialize> {
    schema: &'a [&'a str],
    data: &'a [S],
}

/// Write an export's files (not yet in place: [`commit_all`] does that).
fn write_files(
    destination: Destination,
    paths: &[PathBuf],
    rows: &[Row],
) -> Result<Vec<ExportFile>> {
    let cells = rows.iter().map(|r| &r.cells);
    let mut files = Vec::with_capacity(paths.len());
    match destination {
        Destination::Meta => {
            // The schema names the keys that have a value in some row, the same
            // for every file of the export.
            let used: Vec<usize> = (0..META_COLUMNS.len())
                .filter(|&i| rows.iter().any(|r| !r.cells[i].is_empty()))
                .collect();
            let schema: Vec<&str> = used.iter().map(|&i| META_COLUMNS[i]).collect();
            let schema = serde_json::to_string(&schema).unwrap_or_default();
            for (path, chunk) in paths.iter().zip(rows.chunks(META_MAX_ROWS)) {
                let mut file = ExportFile::create(path)?;
                write_meta_payload(&mut file, &schema, &used, chunk)?;
                files.push(file);
            }
        }
        Destination::Google => {
            let mut file = ExportFile::create(&paths[0])?;
            write_csv(&mut file, &GOOGLE_HEADER, cells)?;
            files.push(file);
        }
        Destination::Csv => {
            let mut file = ExportFile::create(&paths[0])?;
            write_csv(&mut file, &CSV_HEADER, cells)?;
            files.push(file);
        }
    }
    Ok(files)
}

/// A Meta `users` payload of at most [`META_MAX_ROWS`] rows. Written out rather
/// than through serde: the cells are hex digests (or empty), and 100,000 rows of
/// them come out several times faster this way.
fn write_meta_payload(
    out: &mut impl Write,
    schema: &str,
    used: &[usize],
    rows: &[Row],
) -> std::io::Result<()> {
    let mut line = String::new();
    write!(out, "{{\"schema\":{schema},\"data\":[")?;
    for (n, row) in rows.iter().enumerate() {
        line.clear();
        line.push_str(if n == 0 { "[" } else { ",[" });
        for (k, &i) in used.iter().enumerate() {
            if k > 0 {
                line.push(',');
            }
            push_json_str(&mut line, &row.cells[i]);
        }
        line.push(']');
        out.write_all(line.as_bytes())?;
    }
    out.write_all(b"]}")
}

/// `text` as a JSON string.
fn push_json_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(text).to_string());
    }
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

/// RFC 4180 text with CRLF line ends, a line at a time.
pub(super) fn write_csv<'a, S: AsRef<str> + 'a>(
    out: &mut impl Write,
    header: &[&str],
    rows: impl Iterator<Item = &'a Vec<S>>,
) -> std::io::Result<()> {
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        text.clear();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_field(&mut text, cell);
        }
        text.push_str("\r\n");
        out.write_all(text.as_bytes())
    };
    line(&mut header.iter().copied())?;
    for row in rows {
        line(&mut row.iter().map(|c| c.as_ref()))?;
    }
    Ok(())
}

/// [`write_csv`] into a string.
pub(super) fn csv_text<'a, S: AsRef<str> + 'a>(
    header: &[&str],
    rows: impl Iterator<Item = &'a Vec<S>>,
) -> String {
    let mut out = Vec::new();
    // Neither writing to memory nor text made of `str`s can fail.
    let _ = write_csv(&mut out, header, rows);
    String::from_utf8(out).unwrap_or_default()
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
    commit_all(files)
}

/// Put written files in place; on a failure none is left.
fn commit_all(files: Vec<ExportFile>) -> Result<Vec<PathBuf>> {
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
    // costs more than SQLite's json_each reading them back. In key order, so the
    // table's B-tree is appended to rather than split all over.
    let mut list: Vec<[Option<&str>; 3]> = rows
        .iter()
        .map(|r| {
            [
                Some(r.contact_id.as_str()),
                r.email_key.as_deref(),
                r.phone_key.as_deref(),
            ]
        })
        .collect();
    list.sort_unstable_by(|a, b| a[0].cmp(&b[0]));
    let list = serde_json::to_string(&list).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    sqlx::query(
        "INSERT OR REPLACE INTO audience_export_members (export_rk, contact_id, email_key, phone_key)
         SELECT x.rk, value ->> 0, unhex(value ->> 1), unhex(value ->> 2)
           FROM audience_exports x, json_each(?2) WHERE x.id = ?1",
    )
    .bind(export_id)
    .bind(list)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
