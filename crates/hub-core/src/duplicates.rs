//! Likely duplicates: the warning before a contact is saved
//! ([`matching_contacts`]) and the scan of the whole base ([`scan`]).
//!
//! Two contacts are likely the same person when they share an email address
//! (compared trimmed, ignoring case), a phone number (both stored in E.164),
//! or belong to the same company with very similar names. Two companies are
//! likely the same when they share a domain or have very similar names.
//!
//! **Name similarity** ([`name_similarity`]): names are normalised (lower
//! case, common accents folded, punctuation dropped, words sorted, so "Smith,
//! John" = "john smith"; company names also lose legal suffixes such as Inc,
//! Ltd, GmbH), then compared word by word with Jaro-Winkler: each word of the
//! shorter name pairs with its closest word of the other, every pair must
//! reach 0.85 ("Laura"/"Sara" does not), the score is their mean less 0.03
//! for one extra word (a middle name); 1.0 = equal. Contacts of one
//! company count as duplicates at [`CONTACT_NAME_THRESHOLD`] or more,
//! companies at [`COMPANY_NAME_THRESHOLD`]. Only names sharing at least one
//! normalised word are compared (blocking), so the scan stays linear-ish:
//! "Jon Smith" and "John Smith" are found, "Jon Smyth" and "John Smith" are not.
//!
//! The scan reads every live contact, email and phone once and groups them in
//! memory: 100k contacts take well under the 2 s budget
//! (`cargo bench -p hub-core --bench duplicates`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use ts_rs::TS;
use uuid::Uuid;

use crate::contacts::ContactInput;
use crate::email::Email;
use crate::error::Result;
use crate::phone::Phone;
use crate::store::Store;

/// Contacts of one company whose names are at least this similar are listed.
pub const CONTACT_NAME_THRESHOLD: f64 = 0.93;
/// Companies whose names are at least this similar are listed.
pub const COMPANY_NAME_THRESHOLD: f64 = 0.95;
/// A value shared by more records than this (a switchboard number, a shared
/// info@ address) pairs each of them with the oldest only, not every pair.
const MAX_GROUP_PAIRS: usize = 25;
/// A name word shared by more records than this within one block is too
/// common to pair on ("the", "john" in a 5,000-person company).
const MAX_BLOCK: usize = 200;

/// Why two records look like one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum Reason {
    /// The same email address (any case).
    SameEmail { email: String },
    /// The same phone number (E.164).
    SamePhone { phone: String },
    /// Very similar names (contacts: within the same company).
    SimilarName { similarity: f64 },
    /// The same web domain (companies).
    SameDomain { domain: String },
}

impl Reason {
    /// One line for people: "same email ada@example.com".
    pub fn describe(&self) -> String {
        match self {
            Reason::SameEmail { email } => format!("same email {email}"),
            Reason::SamePhone { phone } => format!("same phone {phone}"),
            Reason::SimilarName { similarity } if *similarity >= 1.0 => "same name".into(),
            Reason::SimilarName { similarity } => {
                format!("similar name ({:.0}%)", similarity * 100.0)
            }
            Reason::SameDomain { domain } => format!("same domain {domain}"),
        }
    }

    fn weight(&self) -> f64 {
        match self {
            Reason::SimilarName { similarity } => *similarity,
            _ => 1.0,
        }
    }
}

/// One side of a duplicate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DuplicateRecord {
    pub id: Uuid,
    pub name: String,
    /// A contact's company name; a company's domain.
    pub detail: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum RecordKind {
    Contact,
    Company,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Contact => "contact",
            RecordKind::Company => "company",
        }
    }
}

/// Two records that are likely one. `a` is the older (the suggested survivor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DuplicatePair {
    pub kind: RecordKind,
    pub a: DuplicateRecord,
    pub b: DuplicateRecord,
    pub reasons: Vec<Reason>,
    /// 1.0 for a shared email, phone or domain; the name similarity otherwise.
    pub score: f64,
}

/// An existing contact that a new one would duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DuplicateMatch {
    pub id: Uuid,
    pub display_name: String,
    pub company_name: Option<String>,
    pub reasons: Vec<Reason>,
}

/// The scan's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DuplicateScan {
    pub contacts_scanned: u32,
    pub companies_scanned: u32,
    /// Pairs found (of the kind kept, see [`DuplicateScan::keep`]); `pairs`
    /// may hold fewer.
    pub total: u32,
    pub pairs: Vec<DuplicatePair>,
}

impl DuplicateScan {
    /// Keep only pairs of `kind` (all when `None`), at most `limit` of them,
    /// most certain first; `total` counts them all.
    pub fn keep(&mut self, kind: Option<RecordKind>, limit: usize) {
        if let Some(kind) = kind {
            self.pairs.retain(|p| p.kind == kind);
        }
        self.total = self.pairs.len() as u32;
        self.pairs.truncate(limit);
    }
}

// ---------------------------------------------------------------------------
// Warning before save

/// Live contacts that share an email (trimmed, any case) or a phone (E.164,
/// read in the store's default region) with `input`; `exclude` leaves out
/// the contact being edited. Invalid emails and phones are ignored here:
/// saving reports them.
pub async fn matching_contacts(
    store: &Store,
    input: &ContactInput,
    exclude: Option<Uuid>,
) -> Result<Vec<DuplicateMatch>> {
    let region = store.default_region();
    let emails: Vec<String> = input
        .emails
        .iter()
        .filter_map(|e| Email::parse(&e.address).ok())
        .map(|e| e.to_string())
        .collect();
    let phones: Vec<String> = input
        .phones
        .iter()
        .filter_map(|p| Phone::parse(&p.number, region).ok())
        .map(|p| p.e164().to_owned())
        .collect();
    let mut conn = store.pool().acquire().await?;
    matching_in(&mut conn, &emails, &phones, exclude).await
}

/// [`matching_contacts`] on a connection (a write transaction's, for an
/// import), with emails as typed and phones already in E.164.
pub async fn matching_in(
    conn: &mut SqliteConnection,
    emails: &[String],
    phones: &[String],
    exclude: Option<Uuid>,
) -> Result<Vec<DuplicateMatch>> {
    let emails: Vec<String> = emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    let phones: Vec<String> = phones
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if emails.is_empty() && phones.is_empty() {
        return Ok(Vec::new());
    }
    // Both lookups go through the address (NOCASE) and number indexes.
    let hits: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT e.contact_id, 'email', e.address FROM json_each(?1) j
           JOIN contact_emails e ON e.address = j.value COLLATE NOCASE
          WHERE e.deleted_at IS NULL
         UNION ALL
         SELECT p.contact_id, 'phone', p.number FROM json_each(?2) j
           JOIN contact_phones p ON p.number = j.value
          WHERE p.deleted_at IS NULL",
    )
    .bind(serde_json::to_string(&emails).unwrap_or_default())
    .bind(serde_json::to_string(&phones).unwrap_or_default())
    .fetch_all(&mut *conn)
    .await?;
    let exclude = exclude.map(|e| e.to_string());
    let mut reasons: BTreeMap<String, Vec<Reason>> = BTreeMap::new();
    for (contact, what, value) in hits {
        if Some(&contact) == exclude.as_ref() {
            continue;
        }
        let reason = if what == "email" {
            Reason::SameEmail { email: value }
        } else {
            Reason::SamePhone { phone: value }
        };
        let list = reasons.entry(contact).or_default();
        if !list.contains(&reason) {
            list.push(reason);
        }
    }
    if reasons.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&String> = reasons.keys().collect();
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT c.id, c.display_name, co.name FROM json_each(?) j
           JOIN contacts c ON c.id = j.value
           LEFT JOIN companies co ON co.id = c.company_id AND co.deleted_at IS NULL
          WHERE c.deleted_at IS NULL
          ORDER BY c.display_name COLLATE NOCASE, c.id",
    )
    .bind(serde_json::to_string(&ids).unwrap_or_default())
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, company)| {
            Some(DuplicateMatch {
                id: Uuid::parse_str(&id).ok()?,
                display_name: name.unwrap_or_default(),
                company_name: company,
                reasons: reasons.remove(&id)?,
            })
        })
        .collect())
}

// ---------------------------------------------------------------------------
// The scan

/// rk, id, name, company id (contacts) or domain (companies), created_at.
type ScanRow = (i64, String, Option<String>, Option<String>, Option<String>);

/// Every likely duplicate pair of live contacts and of live companies, most
/// certain first.
pub async fn scan(store: &Store) -> Result<DuplicateScan> {
    let mut conn = store.pool().acquire().await?;
    let contacts: Vec<ScanRow> =
        sqlx::query_as(
            "SELECT rk, id, display_name, company_id, created_at FROM contacts WHERE deleted_at IS NULL",
        )
        .fetch_all(&mut *conn)
        .await?;
    // Only the rows of values held more than once: the inner query is one
    // pass over the (NOCASE) address index, and 100k unique addresses never
    // leave SQLite.
    let emails: Vec<(String, String)> = sqlx::query_as(
        "SELECT e.contact_id, e.address FROM contact_emails e
          WHERE e.deleted_at IS NULL AND e.contact_id IS NOT NULL
            AND e.address COLLATE NOCASE IN (
                SELECT address COLLATE NOCASE FROM contact_emails WHERE address IS NOT NULL
                 GROUP BY address COLLATE NOCASE HAVING count(*) > 1)",
    )
    .fetch_all(&mut *conn)
    .await?;
    let phones: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.contact_id, p.number FROM contact_phones p
          WHERE p.deleted_at IS NULL AND p.contact_id IS NOT NULL
            AND p.number IN (
                SELECT number FROM contact_phones WHERE number IS NOT NULL
                 GROUP BY number HAVING count(*) > 1)",
    )
    .fetch_all(&mut *conn)
    .await?;
    let companies: Vec<ScanRow> = sqlx::query_as(
        "SELECT rk, id, name, domain, created_at FROM companies WHERE deleted_at IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);

    let company_names: HashMap<&str, &str> = companies
        .iter()
        .map(|(_, id, name, _, _)| (id.as_str(), name.as_deref().unwrap_or("")))
        .collect();

    // Contacts, in age order (rk grows with creation on one device; the
    // created_at text breaks the rest).
    let mut order: Vec<usize> = (0..contacts.len()).collect();
    order.sort_by(|&x, &y| {
        let (a, b) = (&contacts[x], &contacts[y]);
        a.4.cmp(&b.4).then(a.0.cmp(&b.0))
    });
    let mut rank = vec![0usize; contacts.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let index: HashMap<&str, usize> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.1.as_str(), i))
        .collect();
    let mut found = Pairs::default();

    let mut by_email: HashMap<String, Vec<usize>> = HashMap::new();
    for (contact, address) in &emails {
        if let Some(&i) = index.get(contact.as_str()) {
            by_email
                .entry(address.trim().to_lowercase())
                .or_default()
                .push(i);
        }
    }
    for (email, members) in by_email {
        found.group(&rank, members, || Reason::SameEmail {
            email: email.clone(),
        });
    }
    let mut by_phone: HashMap<&str, Vec<usize>> = HashMap::new();
    for (contact, number) in &phones {
        if let Some(&i) = index.get(contact.as_str()) {
            by_phone.entry(number.as_str()).or_default().push(i);
        }
    }
    for (phone, members) in by_phone {
        found.group(&rank, members, || Reason::SamePhone {
            phone: phone.to_owned(),
        });
    }
    // Similar names within each company.
    let mut by_company: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in contacts.iter().enumerate() {
        if let Some(company) = c.3.as_deref() {
            by_company.entry(company).or_default().push(i);
        }
    }
    for members in by_company.values() {
        if members.len() < 2 {
            continue;
        }
        let names: Vec<(usize, String)> = members
            .iter()
            .map(|&i| (i, normalise_name(contacts[i].2.as_deref().unwrap_or(""))))
            .filter(|(_, n)| !n.is_empty())
            .collect();
        similar_names(&names, CONTACT_NAME_THRESHOLD, |a, b, s| {
            found.add(&rank, a, b, Reason::SimilarName { similarity: s })
        });
    }
    let contact_record = |i: usize| {
        let c = &contacts[i];
        DuplicateRecord {
            id: Uuid::parse_str(&c.1).unwrap_or_default(),
            name: c.2.clone().unwrap_or_default(),
            detail: c
                .3
                .as_deref()
                .and_then(|co| company_names.get(co))
                .map(|n| (*n).to_owned()),
            created_at: c.4.clone(),
        }
    };
    let mut pairs: Vec<DuplicatePair> = found
        .into_pairs()
        .map(|(a, b, reasons)| {
            pair(
                RecordKind::Contact,
                contact_record(a),
                contact_record(b),
                reasons,
            )
        })
        .collect();

    // Companies.
    let mut order: Vec<usize> = (0..companies.len()).collect();
    order.sort_by(|&x, &y| {
        let (a, b) = (&companies[x], &companies[y]);
        a.4.cmp(&b.4).then(a.0.cmp(&b.0))
    });
    let mut rank = vec![0usize; companies.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let mut found = Pairs::default();
    let mut by_domain: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in companies.iter().enumerate() {
        if let Some(domain) =
            c.3.as_deref()
                .map(normalise_domain)
                .filter(|d| !d.is_empty())
        {
            by_domain.entry(domain).or_default().push(i);
        }
    }
    for (domain, members) in by_domain {
        found.group(&rank, members, || Reason::SameDomain {
            domain: domain.clone(),
        });
    }
    let names: Vec<(usize, String)> = companies
        .iter()
        .enumerate()
        .map(|(i, c)| (i, normalise_company(c.2.as_deref().unwrap_or(""))))
        .filter(|(_, n)| !n.is_empty())
        .collect();
    similar_names(&names, COMPANY_NAME_THRESHOLD, |a, b, s| {
        found.add(&rank, a, b, Reason::SimilarName { similarity: s })
    });
    let company_record = |i: usize| {
        let c = &companies[i];
        DuplicateRecord {
            id: Uuid::parse_str(&c.1).unwrap_or_default(),
            name: c.2.clone().unwrap_or_default(),
            detail: c.3.clone(),
            created_at: c.4.clone(),
        }
    };
    pairs.extend(found.into_pairs().map(|(a, b, reasons)| {
        pair(
            RecordKind::Company,
            company_record(a),
            company_record(b),
            reasons,
        )
    }));
    // Most certain first, then by kind and name (keys made once per pair).
    pairs.sort_by_cached_key(|p| {
        (
            std::cmp::Reverse((p.score * 1000.0).round() as i64),
            p.kind.as_str(),
            p.a.name.to_lowercase(),
            p.a.id,
            p.b.id,
        )
    });
    Ok(DuplicateScan {
        contacts_scanned: contacts.len() as u32,
        companies_scanned: companies.len() as u32,
        total: pairs.len() as u32,
        pairs,
    })
}

fn pair(
    kind: RecordKind,
    a: DuplicateRecord,
    b: DuplicateRecord,
    mut reasons: Vec<Reason>,
) -> DuplicatePair {
    reasons.sort_by(|x, y| y.weight().total_cmp(&x.weight()));
    let score = reasons.iter().map(Reason::weight).fold(0.0, f64::max);
    DuplicatePair {
        kind,
        a,
        b,
        reasons,
        score,
    }
}

/// Pairs found so far, keyed by (older, newer) record index.
#[derive(Default)]
struct Pairs(HashMap<(usize, usize), Vec<Reason>>);

impl Pairs {
    fn add(&mut self, rank: &[usize], x: usize, y: usize, reason: Reason) {
        if x == y {
            return;
        }
        let key = if rank[x] <= rank[y] { (x, y) } else { (y, x) };
        let reasons = self.0.entry(key).or_default();
        // A name match adds nothing to a pair already found by email or phone
        // except when it is the only reason.
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }

    /// Records sharing one value: every pair, or for a large group each
    /// member with the oldest.
    fn group(&mut self, rank: &[usize], mut members: Vec<usize>, reason: impl Fn() -> Reason) {
        members.sort_by_key(|&i| rank[i]);
        members.dedup();
        if members.len() < 2 {
            return;
        }
        if members.len() > MAX_GROUP_PAIRS {
            for &m in &members[1..] {
                self.add(rank, members[0], m, reason());
            }
            return;
        }
        for (n, &x) in members.iter().enumerate() {
            for &y in &members[n + 1..] {
                self.add(rank, x, y, reason());
            }
        }
    }

    fn into_pairs(self) -> impl Iterator<Item = (usize, usize, Vec<Reason>)> {
        self.0.into_iter().map(|((a, b), r)| (a, b, r))
    }
}

/// Compare names that share a word; report pairs at `threshold` or more.
fn similar_names(
    names: &[(usize, String)],
    threshold: f64,
    mut report: impl FnMut(usize, usize, f64),
) {
    if names.len() < 2 {
        return;
    }
    let mut blocks: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, (_, name)) in names.iter().enumerate() {
        let mut words: Vec<&str> = name.split(' ').collect();
        words.dedup();
        for w in words {
            blocks.entry(w).or_default().push(n);
        }
    }
    // Equal names pair at once, however many share a word.
    let mut equal: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, (_, name)) in names.iter().enumerate() {
        equal.entry(name.as_str()).or_default().push(n);
    }
    for members in equal.values().filter(|m| m.len() > 1) {
        // Like a shared email: a large group pairs each with its first only.
        let all = members.len() <= MAX_GROUP_PAIRS;
        for (k, &x) in members.iter().enumerate() {
            for &y in &members[k + 1..] {
                report(names[x].0, names[y].0, 1.0);
            }
            if !all {
                break;
            }
        }
    }
    let words: Vec<usize> = names.iter().map(|(_, n)| n.split(' ').count()).collect();
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    for members in blocks.values() {
        if members.len() < 2 || members.len() > MAX_BLOCK {
            continue;
        }
        for (k, &x) in members.iter().enumerate() {
            for &y in &members[k + 1..] {
                // Equal names are reported above; two or more extra words never match.
                if names[x].1 == names[y].1 || words[x].abs_diff(words[y]) > 1 {
                    continue;
                }
                let key = (x.min(y), x.max(y));
                if !seen.insert(key) {
                    continue;
                }
                let s = token_similarity(&names[x].1, &names[y].1);
                if s >= threshold {
                    report(names[x].0, names[y].0, (s * 1000.0).round() / 1000.0);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Similarity

/// How similar two names are, 0.0 to 1.0, after [`normalise_name`].
pub fn name_similarity(a: &str, b: &str) -> f64 {
    token_similarity(&normalise_name(a), &normalise_name(b))
}

/// A word of one name no closer than this to any word of the other makes
/// the names different people ("Laura Dubois" / "Sara Dubois").
const MIN_WORD_SIMILARITY: f64 = 0.85;

/// Word by word: each word of the shorter name is paired with its closest
/// unused word of the longer one (Jaro-Winkler); the similarity is their
/// mean, 0 when a word has no close partner, less 0.03 per extra word of the
/// longer name (a middle name or initial), and 0 past one extra word.
fn token_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (mut short, mut long): (Vec<&str>, Vec<&str>) =
        (a.split(' ').collect(), b.split(' ').collect());
    if short.len() > long.len() {
        std::mem::swap(&mut short, &mut long);
    }
    let extra = long.len() - short.len();
    if short.is_empty() || extra > 1 {
        return 0.0;
    }
    let mut used = vec![false; long.len()];
    let mut total = 0.0;
    for w in &short {
        let best = long
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, l)| (i, jaro_winkler(w, l)))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        match best {
            Some((i, s)) if s >= MIN_WORD_SIMILARITY => {
                used[i] = true;
                total += s;
            }
            _ => return 0.0,
        }
    }
    total / short.len() as f64 - 0.03 * extra as f64
}

/// Lower case, accents folded, punctuation dropped, words sorted.
pub fn normalise_name(name: &str) -> String {
    let mut words: Vec<String> = name
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '-' || c == '_')
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .map(fold_accent)
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.sort();
    words.join(" ")
}

/// [`normalise_name`] without legal forms ("Acme Inc." = "ACME").
pub fn normalise_company(name: &str) -> String {
    const LEGAL: [&str; 22] = [
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "gmbh",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "sa",
        "sas",
        "sarl",
        "ag",
        "bv",
        "nv",
        "srl",
        "spa",
        "oy",
        "ab",
        "the",
    ];
    let normal = normalise_name(name);
    let kept: Vec<&str> = normal.split(' ').filter(|w| !LEGAL.contains(w)).collect();
    if kept.is_empty() {
        normal
    } else {
        kept.join(" ")
    }
}

fn normalise_domain(domain: &str) -> String {
    let d = domain.trim().to_lowercase();
    d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ß' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' => 't',
        'ď' => 'd',
        other => other,
    }
}

/// Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() && a.len() <= 64 && b.len() <= 64 {
        // Names are mostly short ASCII words: no allocation (the scan makes
        // millions of these comparisons).
        let (mut am, mut bm) = ([false; 64], [false; 64]);
        return jaro_winkler_in(a.as_bytes(), b.as_bytes(), &mut am, &mut bm);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (mut am, mut bm) = (vec![false; a.len()], vec![false; b.len()]);
    jaro_winkler_in(&a, &b, &mut am, &mut bm)
}

fn jaro_winkler_in<T: PartialEq>(
    a: &[T],
    b: &[T],
    a_match: &mut [bool],
    b_match: &mut [bool],
) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_match[j] && b[j] == *ca {
                a_match[i] = true;
                b_match[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut k = 0usize;
    for (i, ca) in a.iter().enumerate() {
        if !a_match[i] {
            continue;
        }
        while !b_match[k] {
            k += 1;
        }
        if *ca != b[k] {
            transpositions += 1;
        }
        k += 1;
    }
    let m = matches as f64;
    let jaro =
        (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions as f64 / 2.0) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companies::{self, CompanyInput};
    use crate::contacts::{self, EmailEntry, PhoneEntry};

    #[test]
    fn jaro_winkler_matches_the_published_examples() {
        // Winkler's examples (as in the strsim and Apache Commons tests).
        let close = |a: &str, b: &str, want: f64| {
            let got = jaro_winkler(a, b);
            assert!((got - want).abs() < 0.001, "{a}/{b}: {got} vs {want}");
        };
        close("martha", "marhta", 0.961);
        close("dwayne", "duane", 0.84);
        close("dixon", "dicksonx", 0.813);
        close("abc", "abc", 1.0);
        close("abc", "xyz", 0.0);
        assert_eq!(jaro_winkler("", ""), 1.0);
    }

    #[test]
    fn names_are_normalised_before_comparing() {
        assert_eq!(normalise_name("Smith, John"), "john smith");
        assert_eq!(normalise_name("  José  Álvarez-Ruiz "), "alvarez jose ruiz");
        assert_eq!(name_similarity("Smith, John", "john smith"), 1.0);
        assert!(name_similarity("Jon Smith", "John Smith") >= CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("John Smith", "Jane Smith") < CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("Ann Lee", "Bob Lee") < CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("Laura Dubois", "Sara Dubois") < CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("Lina Garcia", "Mia Garcia") < CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("Grace B. Hopper", "Grace Hopper") >= CONTACT_NAME_THRESHOLD);
        assert!(name_similarity("Ada Lovelace", "Ada Lovelance") >= CONTACT_NAME_THRESHOLD);
        assert_eq!(
            name_similarity("Grace Brewster Murray Hopper", "Grace Hopper"),
            0.0
        );
        assert_eq!(normalise_company("Acme, Inc."), "acme");
        assert_eq!(normalise_company("The Company"), "company the");
    }

    fn person(
        name: &str,
        company: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> ContactInput {
        ContactInput {
            display_name: Some(name.into()),
            company_name: company.map(Into::into),
            emails: email
                .map(|e| {
                    vec![EmailEntry {
                        kind: "work".into(),
                        address: e.into(),
                    }]
                })
                .unwrap_or_default(),
            phones: phone
                .map(|p| {
                    vec![PhoneEntry {
                        kind: "mobile".into(),
                        number: p.into(),
                    }]
                })
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn matching_contacts_finds_email_in_any_case_and_phone_in_any_format() {
        let store = Store::open_in_memory().await.unwrap();
        let ada = contacts::create(
            &store,
            person(
                "Ada",
                None,
                Some("Ada@Example.com"),
                Some("+1 415 555 2671"),
            ),
        )
        .await
        .unwrap();
        contacts::create(&store, person("Bob", None, Some("bob@example.com"), None))
            .await
            .unwrap();
        let hits = matching_contacts(
            &store,
            &person("X", None, Some("  ada@EXAMPLE.com "), None),
            None,
        )
        .await
        .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, ada.id);
        assert_eq!(
            hits[0].reasons,
            vec![Reason::SameEmail {
                email: "Ada@example.com".into()
            }]
        );
        let hits = matching_contacts(
            &store,
            &person("X", None, None, Some("(415) 555-2671")),
            None,
        )
        .await
        .unwrap();
        assert_eq!(
            hits[0].reasons,
            vec![Reason::SamePhone {
                phone: "+14155552671".into()
            }]
        );
        // Editing Ada herself is no duplicate; an unrelated address finds nothing.
        assert!(matching_contacts(
            &store,
            &person("Ada", None, Some("ada@example.com"), None),
            Some(ada.id)
        )
        .await
        .unwrap()
        .is_empty());
        assert!(matching_contacts(
            &store,
            &person("X", None, Some("zed@example.com"), Some("not a phone")),
            None
        )
        .await
        .unwrap()
        .is_empty());
        // A deleted contact does not count.
        contacts::delete(&store, ada.id).await.unwrap();
        assert!(matching_contacts(
            &store,
            &person("X", None, Some("ada@example.com"), None),
            None
        )
        .await
        .unwrap()
        .is_empty());
    }

    #[tokio::test]
    async fn scan_lists_each_pair_once_with_every_reason() {
        let store = Store::open_in_memory().await.unwrap();
        let ids = contacts::create_many(
            &store,
            vec![
                person(
                    "John Smith",
                    Some("Acme"),
                    Some("john@acme.example"),
                    Some("+14155552671"),
                ),
                person("Jon Smith", Some("Acme"), Some("JOHN@acme.example"), None),
                person("Jane Smith", Some("Acme"), None, None),
                person("John Smith", Some("Globex"), None, Some("+1 415 555 2671")),
                person("John Smith", None, None, None),
                person("Mary Major", None, Some("mary@example.com"), None),
            ],
        )
        .await
        .unwrap();
        companies::create(
            &store,
            CompanyInput {
                name: "ACME Inc.".into(),
                domain: Some("www.acme.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        companies::create(
            &store,
            CompanyInput {
                name: "Initech".into(),
                domain: Some("acme.example".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let result = scan(&store).await.unwrap();
        assert_eq!(result.contacts_scanned, 6);
        let contact_pairs: Vec<(Uuid, Uuid, Vec<String>)> = result
            .pairs
            .iter()
            .filter(|p| p.kind == RecordKind::Contact)
            .map(|p| {
                (
                    p.a.id,
                    p.b.id,
                    p.reasons.iter().map(Reason::describe).collect(),
                )
            })
            .collect();
        assert_eq!(
            contact_pairs,
            vec![
                (
                    ids[0],
                    ids[1],
                    vec![
                        "same email john@acme.example".into(),
                        "similar name (97%)".into()
                    ]
                ),
                (ids[0], ids[3], vec!["same phone +14155552671".into()]),
            ]
        );
        // Acme (from the contacts), "ACME Inc." and Initech: the names and the domain.
        let company_reasons: Vec<String> = result
            .pairs
            .iter()
            .filter(|p| p.kind == RecordKind::Company)
            .map(|p| format!("{} / {}: {}", p.a.name, p.b.name, p.reasons[0].describe()))
            .collect();
        assert_eq!(
            company_reasons,
            vec![
                "Acme / ACME Inc.: same name",
                "ACME Inc. / Initech: same domain acme.example",
            ]
        );
        // The older record comes first, pairs are sorted most certain first.
        assert!(result.pairs.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
