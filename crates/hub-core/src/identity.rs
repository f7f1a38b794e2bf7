//! The identity graph: which contact a user id, anonymous id, email, phone or
//! external id belongs to (docs/events.md, "On the device").
//!
//! Resolution runs on every device that stores an event, deterministically: the
//! rows it writes have ids derived from the identifier (UUIDv5), so two devices that
//! process the same identify write the same identity rows and the same lead, and
//! sync merges them like any edit. Events point at their contact through
//! `events.contact_rk`, kept by the triggers of migration 0018 from these rows.
//!
//! The rules:
//! - identify(userId, anonymousId, traits.email/phone) attaches to the contact found by
//!   the user id, else the email (an identity or a contact's address), else the phone;
//!   with none, a lead is created (lifecycle stage `lead`, source `tracking`, id
//!   derived from the identifier). The anonymous ids this user id was seen with in
//!   stored events (and aliased to it) are attached too, so the order events arrive
//!   in does not matter.
//! - alias(previousId → userId) moves an anonymous profile into the identified one.
//! - An identifier already attached to another live contact is never moved
//!   automatically (both profiles are identified): a warning is recorded instead.
//! - Junk values ("", "null", "undefined", "anonymous", "0", "-1", …) never join.
//! - Traits update contact fields through [`WriteTx`], skipping a field whose value is
//!   newer than the event (see migration 0020).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use hub_protocol::event::{Event, EventType};
use hub_protocol::Hlc;
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::changes::{Fields, WriteTx};
use crate::contact_details::{normalize_birthday, normalize_website};
use crate::email::Email;
use crate::entities::{
    EntityDef, COMPANY, CONTACT, CONTACT_ADDRESS, CONTACT_EMAIL, CONTACT_PHONE, IDENTITY,
};
use crate::error::Result;
use crate::phone::{Phone, Region};
use crate::store::Store;

/// Namespace of the derived identity and lead ids.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x3c9a_51d7_0e2b_4a86_b1f4_7d20_95ce_41a8);

/// Identifier values that mean "nobody": they never join anything.
const JUNK: [&str; 7] = ["", "null", "undefined", "anonymous", "0", "-1", "none"];

/// Longest name, title or company name taken from traits (as the contact form).
const MAX_TEXT: usize = 200;

/// Whether an identifier value is a placeholder that must never join profiles.
pub fn is_junk(value: &str) -> bool {
    let v = value.trim();
    JUNK.iter().any(|j| v.eq_ignore_ascii_case(j))
}

/// The id of the identity row of `kind:value` (the same on every device).
pub fn identity_id(kind: &str, value: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{value}").as_bytes())
}

/// The id of the lead created for the identifier `kind:value`.
pub fn lead_id(kind: &str, value: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("lead:{kind}:{value}").as_bytes())
}

/// A derived id for a row resolution adds to a contact (an email, a phone, the
/// tracking address) or a company it creates by name.
fn derived(what: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, what.as_bytes())
}

/// What resolving some events wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// Identity rows created, revived or moved.
    pub identities: u64,
    /// Leads created.
    pub leads: u64,
    /// Contact fields (and emails, phones, addresses) written from traits.
    pub fields: u64,
    /// New warnings (profiles not merged automatically).
    pub warnings: u64,
}

impl Resolved {
    pub fn add(&mut self, other: &Resolved) {
        self.identities += other.identities;
        self.leads += other.leads;
        self.fields += other.fields;
        self.warnings += other.warnings;
    }

    pub fn is_empty(&self) -> bool {
        *self == Resolved::default()
    }
}

/// Resolve newly stored events, oldest first (ties by message id, so every device
/// takes them in the same order), inside the transaction that stored them.
pub async fn process(tx: &mut WriteTx, events: &mut [&Event], region: Region) -> Result<Resolved> {
    events.sort_by(|a, b| {
        (a.timestamp, a.message_id.as_str()).cmp(&(b.timestamp, b.message_id.as_str()))
    });
    let mut done = Resolved::default();
    for event in events.iter() {
        process_one(tx, event, region, &mut done).await?;
    }
    Ok(done)
}

/// Resolve every stored event again (`hub identity resolve`): for a device that
/// learned identities some other way, or after a bug fix. Idempotent.
pub async fn reprocess_all(store: &Store) -> Result<Resolved> {
    let region = store.default_region();
    let mut done = Resolved::default();
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT rk, body FROM events WHERE rk > ? AND (type IN ('identify', 'alias')
               OR (user_id IS NOT NULL AND anonymous_id IS NOT NULL))
             ORDER BY rk LIMIT 1000",
        )
        .bind(after)
        .fetch_all(store.pool())
        .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let events: Vec<Event> = rows
            .iter()
            .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok())
            .filter_map(|body| {
                hub_protocol::segment::normalise(
                    body,
                    &hub_protocol::segment::Options::single(Utc::now()),
                )
                .ok()
            })
            .collect();
        let mut refs: Vec<&Event> = events.iter().collect();
        let mut tx = store.write().await?;
        done.add(&process(&mut tx, &mut refs, region).await?);
        tx.commit().await?;
    }
    Ok(done)
}

fn clean(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !is_junk(v))
}

async fn process_one(
    tx: &mut WriteTx,
    event: &Event,
    region: Region,
    done: &mut Resolved,
) -> Result<()> {
    let user = clean(event.user_id.as_deref());
    let anon = clean(event.anonymous_id.as_deref());
    match event.kind {
        EventType::Identify => identify(tx, event, user, anon, region, done).await,
        EventType::Alias => {
            let previous = id_text(event.body.get("previousId"));
            match (clean(previous.as_deref()), user) {
                (Some(previous), Some(user)) if previous != user => {
                    alias(tx, event, previous, user, done).await
                }
                _ => Ok(()),
            }
        }
        _ => {
            // A call made by a signed-in user on a device that was anonymous before:
            // the anonymous id belongs to the user's profile.
            if let (Some(user), Some(anon)) = (user, anon) {
                if let Some(contact) = live_contact_of(tx, "user_id", user).await? {
                    link(tx, event, &contact, "anonymous_id", anon, done, true).await?;
                }
            }
            Ok(())
        }
    }
}

/// Whether `kind:value` was deleted (erased): it must not identify anyone again.
async fn suppressed(tx: &mut WriteTx, kind: &str, value: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM identities WHERE id = ? AND deleted_at IS NOT NULL")
            .bind(identity_id(kind, value).to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

/// Segment's `context.externalIds` (`[{id, type, collection, encoding}]`) as identity
/// kinds `external:<type>` (type lower-cased), junk ids left out.
fn external_ids(event: &Event) -> Vec<(String, String)> {
    let Some(list) = event
        .context()
        .and_then(|c| c.get("externalIds"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = list
        .iter()
        .filter_map(|x| {
            let kind = x.get("type")?.as_str()?.trim().to_lowercase();
            let id = id_text(x.get("id"))?;
            let id = clean(Some(&id))?.to_owned();
            (!kind.is_empty() && kind.len() <= 100).then(|| (format!("external:{kind}"), id))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An id field as text (Segment allows numbers).
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn identify(
    tx: &mut WriteTx,
    event: &Event,
    user: Option<&str>,
    anon: Option<&str>,
    region: Region,
    done: &mut Resolved,
) -> Result<()> {
    let empty = Map::new();
    let traits = Traits::read(event.traits().unwrap_or(&empty), region);
    let email = traits.email.clone();
    let phone = traits.phone.clone();

    // A person whose identity was deleted (erased) is not identified again.
    if let Some(u) = user {
        if suppressed(tx, "user_id", u).await? {
            return Ok(());
        }
    }
    let externals = external_ids(event);
    let by_user = match user {
        Some(u) => live_contact_of(tx, "user_id", u).await?,
        None => None,
    };
    let by_email = match &email {
        Some(e) => match live_contact_of(tx, "email", e).await? {
            Some(c) => Some(c),
            None => contact_with_email(tx, e).await?,
        },
        None => None,
    };
    let mut by_phone = match &phone {
        Some(p) => live_contact_of(tx, "phone", p).await?,
        None => None,
    };
    for (kind, value) in &externals {
        if by_phone.is_some() {
            break;
        }
        by_phone = live_contact_of(tx, kind, value).await?;
    }

    let mut email_elsewhere = false;
    let target = match (&by_user, &by_email) {
        (Some(u), Some(e)) if u != e => {
            email_elsewhere = true;
            let id = format!("email:{}", email.as_deref().unwrap_or_default());
            warn(tx, event, u, e, &id, "email_elsewhere", done).await?;
            Some(u.clone())
        }
        (Some(u), _) => Some(u.clone()),
        (None, Some(e)) => {
            // The email's contact is identified by another user id: a second
            // identified profile, never merged automatically.
            let others = user_ids(tx, e).await?;
            match user {
                Some(u) if !others.is_empty() && !others.iter().any(|o| o == u) => {
                    email_elsewhere = true;
                    let id = format!("email:{}", email.as_deref().unwrap_or_default());
                    warn_later(tx, event, u, e, &id, done).await?;
                    None
                }
                _ => Some(e.clone()),
            }
        }
        (None, None) => by_phone.clone(),
    };

    let (target, created) = match target {
        Some(t) => (t, false),
        None => {
            let key = match (user, &email, &phone) {
                (Some(u), _, _) => ("user_id", u.to_owned()),
                (None, Some(e), _) => ("email", e.clone()),
                (None, None, Some(p)) => ("phone", p.clone()),
                // An anonymous identify with nothing to know the person by: its
                // traits stay in the event.
                _ => return Ok(()),
            };
            match create_lead(tx, event, lead_id(key.0, &key.1), &traits, user, done).await? {
                Some(id) => (id, true),
                None => return Ok(()),
            }
        }
    };

    if let Some(u) = user {
        link(tx, event, &target, "user_id", u, done, true).await?;
    }
    if let Some(a) = anon {
        link(tx, event, &target, "anonymous_id", a, done, true).await?;
    }
    if let (Some(e), false) = (&email, email_elsewhere) {
        link(tx, event, &target, "email", e, done, false).await?;
    }
    if let Some(p) = &phone {
        link(tx, event, &target, "phone", p, done, false).await?;
    }
    for (kind, value) in &externals {
        link(tx, event, &target, kind, value, done, true).await?;
    }
    if let Some(u) = user {
        // The anonymous ids this user was seen with, and the ids aliased to it,
        // whatever order those events arrived in.
        let seen: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT anonymous_id FROM events WHERE user_id = ? AND anonymous_id IS NOT NULL
             UNION
             SELECT json_extract(body, '$.previousId') FROM events
              WHERE user_id = ? AND type = 'alias' AND json_extract(body, '$.previousId') IS NOT NULL",
        )
        .bind(u)
        .bind(u)
        .fetch_all(tx.conn())
        .await?;
        for a in seen {
            if let Some(a) = clean(Some(&a)) {
                if a != u && Some(a) != anon {
                    link(tx, event, &target, "anonymous_id", a, done, true).await?;
                }
            }
        }
    }
    if !created {
        apply_traits(tx, &target, &traits, event.timestamp, done).await?;
    }
    Ok(())
}

/// Recorded when the new user id's lead is created: the email already belongs to a
/// profile identified by another user id.
async fn warn_later(
    tx: &mut WriteTx,
    event: &Event,
    user: &str,
    other: &str,
    identity: &str,
    done: &mut Resolved,
) -> Result<()> {
    // The new profile is the user id's lead (created right after this).
    let lead = lead_id("user_id", user).to_string();
    warn(tx, event, &lead, other, identity, "user_ids_differ", done).await
}

async fn alias(
    tx: &mut WriteTx,
    event: &Event,
    previous: &str,
    user: &str,
    done: &mut Resolved,
) -> Result<()> {
    let from = match live_contact_of(tx, "user_id", previous).await? {
        Some(c) => Some(c),
        None => live_contact_of(tx, "anonymous_id", previous).await?,
    };
    let into = live_contact_of(tx, "user_id", user).await?;
    match (from, into) {
        // Neither known yet: the identify that creates the profile reads the alias
        // from the stored events.
        (None, None) => Ok(()),
        (None, Some(into)) => link(tx, event, &into, "anonymous_id", previous, done, true).await,
        (Some(from), None) => link(tx, event, &from, "user_id", user, done, true).await,
        (Some(from), Some(into)) if from == into => Ok(()),
        (Some(from), Some(into)) => {
            if user_ids(tx, &from).await?.is_empty() {
                // An anonymous profile: its anonymous ids join the identified one.
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM identities
                      WHERE contact_id = ? AND kind = 'anonymous_id' AND deleted_at IS NULL
                      ORDER BY id",
                )
                .bind(&from)
                .fetch_all(tx.conn())
                .await?;
                for id in ids {
                    let id: Uuid = id.parse().map_err(|_| {
                        crate::Error::invalid("identity", format!("corrupt identity id {id}"))
                    })?;
                    tx.update(&IDENTITY, id, vec![("contact_id", json!(into))])
                        .await?;
                    done.identities += 1;
                }
                Ok(())
            } else {
                let id = format!("user_id:{previous}");
                warn(tx, event, &into, &from, &id, "alias_identified", done).await
            }
        }
    }
}

/// Attach `kind:value` to `contact`. An identifier on another live contact stays
/// there: with `warn_if_elsewhere`, a warning is recorded.
async fn link(
    tx: &mut WriteTx,
    event: &Event,
    contact: &str,
    kind: &str,
    value: &str,
    done: &mut Resolved,
    warn_if_elsewhere: bool,
) -> Result<()> {
    let id = identity_id(kind, value);
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT contact_id, deleted_at FROM identities WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    match row {
        None => {
            tx.insert(
                &IDENTITY,
                id,
                vec![
                    ("contact_id", json!(contact)),
                    ("kind", json!(kind)),
                    ("value", json!(value)),
                    ("created_at", json!(rfc3339(event.timestamp))),
                ],
            )
            .await?;
            done.identities += 1;
        }
        Some((Some(c), None)) if c == contact => {}
        // Deleted (erased, or removed by someone): suppressed, never brought back.
        Some((_, Some(_))) => {}
        Some((current, None)) => {
            let elsewhere = match &current {
                Some(c) if c != contact => is_live_contact(tx, c).await?,
                _ => false,
            };
            if elsewhere {
                if warn_if_elsewhere {
                    let other = current.unwrap_or_default();
                    let reason = if kind == "anonymous_id" {
                        "anonymous_id_elsewhere"
                    } else {
                        "identifier_elsewhere"
                    };
                    let identity = format!("{kind}:{value}");
                    warn(tx, event, contact, &other, &identity, reason, done).await?;
                }
            } else {
                // Its contact is gone (deleted, or never arrived): it is free.
                tx.update(&IDENTITY, id, vec![("contact_id", json!(contact))])
                    .await?;
                done.identities += 1;
            }
        }
    }
    Ok(())
}

async fn warn(
    tx: &mut WriteTx,
    event: &Event,
    contact: &str,
    other: &str,
    identity: &str,
    reason: &str,
    done: &mut Resolved,
) -> Result<()> {
    // One warning per pair of profiles (from the first event that showed it): "these
    // two may be one person" is one decision for the user, whichever ids showed it.
    let added = sqlx::query(
        "INSERT OR IGNORE INTO identity_warnings
           (message_id, contact_id, other_contact_id, identity, reason, at_ms)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6
          WHERE NOT EXISTS (SELECT 1 FROM identity_warnings
                             WHERE (contact_id = ?2 AND other_contact_id = ?3)
                                OR (contact_id = ?3 AND other_contact_id = ?2))",
    )
    .bind(&event.message_id)
    .bind(contact)
    .bind(other)
    .bind(identity)
    .bind(reason)
    .bind(event.timestamp.timestamp_millis())
    .execute(tx.conn())
    .await?
    .rows_affected();
    done.warnings += added;
    Ok(())
}

async fn live_contact_of(tx: &mut WriteTx, kind: &str, value: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM identities i JOIN contacts c ON c.id = i.contact_id
          WHERE i.id = ? AND i.deleted_at IS NULL AND c.deleted_at IS NULL",
    )
    .bind(identity_id(kind, value).to_string())
    .fetch_optional(tx.conn())
    .await?)
}

/// The oldest live contact with this email address (any case).
async fn contact_with_email(tx: &mut WriteTx, email: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM contact_emails e JOIN contacts c ON c.id = e.contact_id
          WHERE e.address = ? COLLATE NOCASE AND e.deleted_at IS NULL AND c.deleted_at IS NULL
          ORDER BY c.created_at, c.id LIMIT 1",
    )
    .bind(email)
    .fetch_optional(tx.conn())
    .await?)
}

async fn is_live_contact(tx: &mut WriteTx, id: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM contacts WHERE id = ? AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

async fn user_ids(tx: &mut WriteTx, contact: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT value FROM identities WHERE contact_id = ? AND kind = 'user_id' AND deleted_at IS NULL",
    )
    .bind(contact)
    .fetch_all(tx.conn())
    .await?)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The traits resolution understands (Segment's reserved traits), checked; others
/// stay in the event.
#[derive(Debug, Default, Clone)]
struct Traits {
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    title: Option<String>,
    company: Option<String>,
    website: Option<String>,
    birthday: Option<String>,
    address: Vec<(&'static str, String)>,
}

fn text(traits: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match traits.get(*k)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn short(value: Option<String>) -> Option<String> {
    value.map(|v| v.chars().take(MAX_TEXT).collect())
}

impl Traits {
    fn read(traits: &Map<String, Value>, region: Region) -> Traits {
        let company = match traits.get("company") {
            Some(Value::Object(c)) => text(c, &["name"]),
            _ => text(traits, &["company", "companyName", "company_name"]),
        };
        let birthday = text(traits, &["birthday"]).and_then(|b| {
            // Segment sends a date or an ISO 8601 date-time: keep the date.
            let date = if b.len() > 10 && b.as_bytes().get(10) == Some(&b'T') {
                b[..10].to_owned()
            } else {
                b
            };
            normalize_birthday(&date).ok()
        });
        let mut address = Vec::new();
        if let Some(Value::Object(a)) = traits.get("address") {
            for (column, keys) in [
                ("street", &["street", "line1"][..]),
                ("city", &["city"][..]),
                ("region", &["state", "region"][..]),
                ("postal_code", &["postalCode", "postal_code", "zip"][..]),
                ("country", &["country"][..]),
            ] {
                if let Some(v) = short(text(a, keys)) {
                    address.push((column, v));
                }
            }
        }
        Traits {
            first_name: short(text(traits, &["firstName", "first_name"])),
            last_name: short(text(traits, &["lastName", "last_name"])),
            name: short(text(traits, &["name"])),
            email: text(traits, &["email"])
                .and_then(|e| Email::parse(&e).ok())
                .map(|e| e.as_str().to_lowercase()),
            phone: text(traits, &["phone"])
                .and_then(|p| Phone::parse(&p, region).ok())
                .map(|p| p.e164().to_owned()),
            title: short(text(traits, &["title"])),
            company: short(company),
            website: text(traits, &["website"]).and_then(|w| normalize_website(&w).ok()),
            birthday,
            address,
        }
    }

    /// The display name the traits give: `name`, else first and last name.
    fn display_name(&self, first: Option<&str>, last: Option<&str>) -> Option<String> {
        if let Some(name) = &self.name {
            return Some(name.clone());
        }
        if self.first_name.is_none() && self.last_name.is_none() {
            return None;
        }
        let joined = [first, last]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(joined).filter(|j| !j.is_empty())
    }
}

/// Create the lead for an identifier no contact has (its id derived from the
/// identifier, its fields from the traits and the event, so every device writes the
/// same row). `None` when that lead existed and was deleted: it is not brought back.
async fn create_lead(
    tx: &mut WriteTx,
    event: &Event,
    id: Uuid,
    traits: &Traits,
    user: Option<&str>,
    done: &mut Resolved,
) -> Result<Option<String>> {
    let existing: Option<Option<String>> =
        sqlx::query_scalar("SELECT deleted_at FROM contacts WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    match existing {
        Some(None) => return Ok(Some(id.to_string())),
        Some(Some(_)) => return Ok(None),
        None => {}
    }
    let display = traits
        .display_name(traits.first_name.as_deref(), traits.last_name.as_deref())
        .or_else(|| traits.email.clone())
        .or_else(|| traits.phone.clone())
        .or_else(|| user.map(|u| short(Some(u.to_owned())).unwrap_or_default()))
        .unwrap_or_else(|| "Unknown visitor".into());
    let company = match &traits.company {
        Some(name) => json!(company_by_name(tx, name, event.timestamp).await?),
        None => Value::Null,
    };
    let mut fields: Fields = vec![
        ("display_name", json!(display)),
        ("lifecycle_stage", json!("lead")),
        ("source", json!("tracking")),
        ("created_at", json!(rfc3339(event.timestamp))),
    ];
    let mut from_traits: Fields = vec![
        ("first_name", json!(traits.first_name)),
        ("last_name", json!(traits.last_name)),
        ("title", json!(traits.title)),
        ("website", json!(traits.website)),
        ("birthday", json!(traits.birthday)),
        ("company_id", company),
    ];
    from_traits.retain(|(_, v)| !v.is_null());
    let written: Vec<&'static str> = from_traits
        .iter()
        .map(|(f, _)| *f)
        .chain(["display_name"])
        .collect();
    fields.extend(from_traits);
    tx.insert(&CONTACT, id, fields).await?;
    done.leads += 1;
    let contact = id.to_string();
    note_writes(
        tx,
        &CONTACT,
        &contact,
        &written,
        event.timestamp.timestamp_millis(),
    )
    .await?;
    add_rows_at(tx, &contact, traits, event.timestamp, done).await?;
    Ok(Some(contact))
}

/// A company by name (any case), created with an id derived from the name when
/// there is none, so two devices create the same one.
async fn company_by_name(
    tx: &mut WriteTx,
    name: &str,
    at: DateTime<Utc>,
) -> Result<Option<String>> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT id FROM companies WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL
          ORDER BY rk LIMIT 1",
    )
    .bind(name)
    .fetch_optional(tx.conn())
    .await?;
    if found.is_some() {
        return Ok(found);
    }
    let id = derived(&format!("company:{}", name.to_lowercase()));
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM companies WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    if exists.is_some() {
        // Deleted by someone: not recreated.
        return Ok(None);
    }
    tx.insert(
        &COMPANY,
        id,
        vec![("name", json!(name)), ("created_at", json!(rfc3339(at)))],
    )
    .await?;
    Ok(Some(id.to_string()))
}

/// Update an existing contact from an identify's traits.
async fn apply_traits(
    tx: &mut WriteTx,
    contact: &str,
    traits: &Traits,
    at: DateTime<Utc>,
    done: &mut Resolved,
) -> Result<()> {
    let at_ms = at.timestamp_millis();
    let mut fields: Fields = Vec::new();
    for (field, value) in [
        ("first_name", &traits.first_name),
        ("last_name", &traits.last_name),
        ("title", &traits.title),
        ("website", &traits.website),
        ("birthday", &traits.birthday),
    ] {
        if let Some(v) = value {
            fields.push((field, json!(v)));
        }
    }
    if let Some(name) = &traits.company {
        if let Some(company) = company_by_name(tx, name, at).await? {
            fields.push(("company_id", json!(company)));
        }
    }
    done.fields += set_if_newer(tx, &CONTACT, contact, fields, at_ms).await? as u64;
    if traits.name.is_some() || traits.first_name.is_some() || traits.last_name.is_some() {
        let (first, last): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT first_name, last_name FROM contacts WHERE id = ?")
                .bind(contact)
                .fetch_one(tx.conn())
                .await?;
        if let Some(display) = traits.display_name(first.as_deref(), last.as_deref()) {
            let fields = vec![("display_name", json!(display))];
            done.fields += set_if_newer(tx, &CONTACT, contact, fields, at_ms).await? as u64;
        }
    }
    add_rows_at(tx, contact, traits, at, done).await
}

/// The email, phone and address traits: rows added to the contact (ids derived from
/// contact and value; a row someone deleted is not brought back), the tracking
/// address updated field by field like the contact.
async fn add_rows_at(
    tx: &mut WriteTx,
    contact: &str,
    traits: &Traits,
    at: DateTime<Utc>,
    done: &mut Resolved,
) -> Result<()> {
    if let Some(email) = &traits.email {
        let id = derived(&format!("contact_email:{contact}:{email}"));
        if !row_exists(tx, &CONTACT_EMAIL, id).await?
            && !has_value(tx, "contact_emails", "address", contact, email).await?
        {
            let position = count_of(tx, "contact_emails", contact).await?;
            tx.insert(
                &CONTACT_EMAIL,
                id,
                vec![
                    ("contact_id", json!(contact)),
                    ("kind", json!("other")),
                    ("address", json!(email)),
                    ("position", json!(position)),
                ],
            )
            .await?;
            done.fields += 1;
        }
    }
    if let Some(phone) = &traits.phone {
        let id = derived(&format!("contact_phone:{contact}:{phone}"));
        if !row_exists(tx, &CONTACT_PHONE, id).await?
            && !has_value(tx, "contact_phones", "number", contact, phone).await?
        {
            let position = count_of(tx, "contact_phones", contact).await?;
            tx.insert(
                &CONTACT_PHONE,
                id,
                vec![
                    ("contact_id", json!(contact)),
                    ("kind", json!("other")),
                    ("number", json!(phone)),
                    ("position", json!(position)),
                ],
            )
            .await?;
            done.fields += 1;
        }
    }
    if !traits.address.is_empty() {
        let id = derived(&format!("contact_address:{contact}:tracking"));
        let fields: Fields = traits.address.iter().map(|(k, v)| (*k, json!(v))).collect();
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT deleted_at FROM contact_addresses WHERE id = ?")
                .bind(id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        match state {
            None => {
                let position = count_of(tx, "contact_addresses", contact).await?;
                let written: Vec<&'static str> = fields.iter().map(|(k, _)| *k).collect();
                let mut row = fields;
                row.push(("contact_id", json!(contact)));
                row.push(("kind", json!("other")));
                row.push(("position", json!(position)));
                tx.insert(&CONTACT_ADDRESS, id, row).await?;
                let row_id = id.to_string();
                note_writes(
                    tx,
                    &CONTACT_ADDRESS,
                    &row_id,
                    &written,
                    at.timestamp_millis(),
                )
                .await?;
                done.fields += 1;
            }
            Some(None) => {
                let row_id = id.to_string();
                done.fields +=
                    set_if_newer(tx, &CONTACT_ADDRESS, &row_id, fields, at.timestamp_millis())
                        .await? as u64;
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

async fn row_exists(tx: &mut WriteTx, entity: &EntityDef, id: Uuid) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar(&format!("SELECT 1 FROM {} WHERE id = ?", entity.table))
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

async fn has_value(
    tx: &mut WriteTx,
    table: &str,
    column: &str,
    contact: &str,
    value: &str,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {table} WHERE contact_id = ? AND {column} = ? COLLATE NOCASE
           AND deleted_at IS NULL"
    ))
    .bind(contact)
    .bind(value)
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

async fn count_of(tx: &mut WriteTx, table: &str, contact: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE contact_id = ? AND deleted_at IS NULL"
    ))
    .bind(contact)
    .fetch_one(tx.conn())
    .await?)
}

/// The clock of each field of a row (`"*"` standing for the unlisted ones).
async fn clocks_of(tx: &mut WriteTx, entity: &EntityDef, id: &str) -> Result<Map<String, Value>> {
    let clocks: Option<String> =
        sqlx::query_scalar(&format!("SELECT clocks FROM {} WHERE id = ?", entity.table))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(clocks
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default())
}

fn clock_of(clocks: &Map<String, Value>, field: &str) -> Option<String> {
    clocks
        .get(field)
        .or_else(|| clocks.get("*"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Write those of `fields` whose current value is not newer than an event at
/// `at_ms` (the precedence rule of migration 0020); returns how many changed.
async fn set_if_newer(
    tx: &mut WriteTx,
    entity: &'static EntityDef,
    id: &str,
    fields: Fields,
    at_ms: i64,
) -> Result<usize> {
    if fields.is_empty() {
        return Ok(0);
    }
    let clocks = clocks_of(tx, entity, id).await?;
    let records: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT field, hlc, at_ms FROM identity_trait_writes WHERE row_id = ?")
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
    let records: BTreeMap<String, (String, i64)> =
        records.into_iter().map(|(f, h, a)| (f, (h, a))).collect();
    let pairs: Vec<String> = fields.iter().map(|(f, _)| format!("'{f}', {f}")).collect();
    let current: Option<String> = sqlx::query_scalar(&format!(
        "SELECT json_object({}) FROM {} WHERE id = ?",
        pairs.join(", "),
        entity.table
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    let current: Map<String, Value> = current
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default();
    let allowed: Fields = fields
        .into_iter()
        .filter(|(field, _)| {
            // Empty since the row was created (no write of its own): the trait fills it.
            let unset = current.get(*field).is_none_or(Value::is_null);
            if unset && !clocks.contains_key(*field) {
                return true;
            }
            let clock = clock_of(&clocks, field);
            match (records.get(*field), &clock) {
                (Some((hlc, written_at)), Some(c)) if hlc == c => at_ms >= *written_at,
                (_, Some(c)) => c.parse::<Hlc>().map_or(true, |c| c.ms as i64 <= at_ms),
                (_, None) => true,
            }
        })
        .collect();
    if allowed.is_empty() {
        return Ok(0);
    }
    let names: Vec<&'static str> = allowed.iter().map(|(f, _)| *f).collect();
    let uuid: Uuid = id
        .parse()
        .map_err(|_| crate::Error::invalid("id", format!("corrupt row id {id}")))?;
    let changed = tx.update(entity, uuid, allowed).await?;
    note_writes(tx, entity, id, &names, at_ms).await?;
    Ok(changed)
}

/// Remember that `fields` of a row now hold values of an event at `at_ms`.
async fn note_writes(
    tx: &mut WriteTx,
    entity: &EntityDef,
    id: &str,
    fields: &[&str],
    at_ms: i64,
) -> Result<()> {
    let clocks = clocks_of(tx, entity, id).await?;
    for field in fields {
        let Some(clock) = clock_of(&clocks, field) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO identity_trait_writes (row_id, field, hlc, at_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (row_id, field) DO UPDATE SET
               at_ms = CASE WHEN hlc = excluded.hlc THEN max(at_ms, excluded.at_ms)
                            ELSE excluded.at_ms END,
               hlc = excluded.hlc",
        )
        .bind(id)
        .bind(*field)
        .bind(clock)
        .bind(at_ms)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// A profile pair not merged automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The event that would have joined them.
    pub message_id: String,
    pub contact_id: String,
    pub contact_name: Option<String>,
    pub other_contact_id: String,
    pub other_contact_name: Option<String>,
    /// The identifier that also matched the other profile, `kind:value`.
    pub identity: String,
    /// `anonymous_id_elsewhere`, `email_elsewhere`, `user_ids_differ`,
    /// `alias_identified` or `identifier_elsewhere`.
    pub reason: String,
    pub message: String,
    pub at: DateTime<Utc>,
    /// The command that merges them, if the user decides they are one person.
    pub merge_command: String,
}

fn describe(reason: &str, identity: &str) -> String {
    match reason {
        "email_elsewhere" => format!("{identity} belongs to another contact; not merged"),
        "user_ids_differ" => {
            format!("{identity} belongs to a profile identified by another user id; not merged")
        }
        "alias_identified" => {
            format!("an alias joins {identity}, already identified by another user id; not merged")
        }
        _ => format!("{identity} is already attached to another contact; not merged"),
    }
}

type WarningRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    i64,
);

/// The warnings (newest first), of one contact (either side) or all.
pub async fn warnings(store: &Store, contact: Option<Uuid>) -> Result<Vec<Warning>> {
    let rows: Vec<WarningRow> = sqlx::query_as(
        "SELECT w.message_id, w.contact_id, a.display_name, w.other_contact_id, b.display_name,
                    w.identity, w.reason, w.at_ms
               FROM identity_warnings w
               LEFT JOIN contacts a ON a.id = w.contact_id
               LEFT JOIN contacts b ON b.id = w.other_contact_id
              WHERE (?1 IS NULL OR w.contact_id = ?1 OR w.other_contact_id = ?1)
                AND (a.deleted_at IS NULL AND b.deleted_at IS NULL)
              ORDER BY w.at_ms DESC, w.rk DESC",
    )
    .bind(contact.map(|c| c.to_string()))
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(message_id, a, an, b, bn, identity, reason, at_ms)| Warning {
                message: describe(&reason, &identity),
                merge_command: format!("hub contact merge {a} {b}"),
                message_id,
                contact_id: a,
                contact_name: an,
                other_contact_id: b,
                other_contact_name: bn,
                identity,
                reason,
                at: Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default(),
            },
        )
        .collect())
}

/// One identifier of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityRow {
    pub kind: String,
    pub value: String,
}

/// The identifiers attached to a contact.
pub async fn of_contact(store: &Store, contact: Uuid) -> Result<Vec<IdentityRow>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM identities WHERE contact_id = ? AND deleted_at IS NULL
          ORDER BY kind, value",
    )
    .bind(contact.to_string())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, value)| IdentityRow { kind, value })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::now_rfc3339;
    use crate::contacts::{self, ContactInput};
    use crate::entities::IDENTITY;
    use crate::Store;
    use hub_protocol::event::Event;
    use serde_json::json;

    async fn contact(store: &Store, name: &str) -> Uuid {
        contacts::create(
            store,
            ContactInput {
                first_name: Some(name.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
    }

    async fn raw_event(store: &Store, message_id: &str, user: Option<&str>, anon: Option<&str>) {
        sqlx::query(
            "INSERT INTO events (message_id, type, user_id, anonymous_id, at_ms, received_ms, body)
             VALUES (?, 'page', ?, ?, 1, 1, '{}')",
        )
        .bind(message_id)
        .bind(user)
        .bind(anon)
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn owner(store: &Store, message_id: &str) -> Option<Uuid> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT c.id FROM events e LEFT JOIN contacts c ON c.rk = e.contact_rk
             WHERE e.message_id = ?",
        )
        .bind(message_id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        id.map(|s| s.parse().unwrap())
    }

    async fn put_identity(store: &Store, contact: Uuid, kind: &str, value: &str) -> Uuid {
        let id = identity_id(kind, value);
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &IDENTITY,
            id,
            vec![
                ("contact_id", json!(contact.to_string())),
                ("kind", json!(kind)),
                ("value", json!(value)),
                ("created_at", json!(now_rfc3339())),
            ],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    fn ev(value: serde_json::Value) -> Event {
        hub_protocol::segment::normalise(
            value,
            &hub_protocol::segment::Options::single(chrono::Utc::now()),
        )
        .unwrap()
    }

    async fn ingest(store: &Store, events: Vec<serde_json::Value>) -> crate::events::Stored {
        let events: Vec<Event> = events.into_iter().map(ev).collect();
        crate::events::store(store, &events).await.unwrap()
    }

    async fn log_len(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM change_log")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    fn ago(hours: i64) -> String {
        (chrono::Utc::now() - chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    #[tokio::test]
    async fn identify_turns_an_anonymous_visitor_into_a_lead_with_their_history() {
        let store = Store::open_in_memory().await.unwrap();
        ingest(
            &store,
            vec![
                json!({"type": "page", "anonymousId": "anon-1", "messageId": "p1",
                       "timestamp": ago(3), "properties": {"path": "/pricing"}}),
                json!({"type": "track", "anonymousId": "anon-1", "messageId": "t1",
                       "event": "Signup Started", "timestamp": ago(2)}),
            ],
        )
        .await;
        assert_eq!(owner(&store, "p1").await, None);
        let report = ingest(
            &store,
            vec![
                json!({"type": "identify", "anonymousId": "anon-1", "userId": "u-42",
                        "messageId": "i1", "timestamp": ago(1),
                        "traits": {"email": "Zoe@Example.COM", "firstName": "Zoë",
                                   "lastName": "Kim", "title": "CTO",
                                   "company": {"name": "Acme"}, "plan": "pro"}}),
            ],
        )
        .await;
        let lead = lead_id("user_id", "u-42");
        assert_eq!(report.resolved.leads, 1);
        for m in ["p1", "t1", "i1"] {
            assert_eq!(owner(&store, m).await, Some(lead), "{m}");
        }
        let contact = contacts::get(&store, lead).await.unwrap();
        assert_eq!(contact.display_name, "Zoë Kim");
        assert_eq!(contact.lifecycle_stage, contacts::LifecycleStage::Lead);
        assert_eq!(contact.source.as_deref(), Some("tracking"));
        assert_eq!(contact.title.as_deref(), Some("CTO"));
        assert_eq!(contact.company.unwrap().name, "Acme");
        assert_eq!(contact.emails[0].address, "zoe@example.com");
        let ids = of_contact(&store, lead).await.unwrap();
        let kinds: Vec<String> = ids
            .iter()
            .map(|i| format!("{}:{}", i.kind, i.value))
            .collect();
        assert_eq!(
            kinds,
            [
                "anonymous_id:anon-1",
                "email:zoe@example.com",
                "user_id:u-42"
            ]
        );

        // Processing again (a re-import, a reprocess) writes nothing.
        let before = log_len(&store).await;
        let again = reprocess_all(&store).await.unwrap();
        assert!(again.is_empty(), "{again:?}");
        assert_eq!(log_len(&store).await, before);
    }

    #[tokio::test]
    async fn identify_joins_the_crm_contact_with_that_email_and_junk_ids_join_nothing() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contacts::create(
            &store,
            ContactInput {
                first_name: Some("Ann".into()),
                emails: vec![contacts::EmailEntry {
                    kind: "work".into(),
                    address: "ann@example.com".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        ingest(
            &store,
            vec![
                json!({"type": "page", "anonymousId": "anonymous", "messageId": "p-junk",
                       "timestamp": ago(5)}),
                json!({"type": "page", "anonymousId": "a-ann", "messageId": "p1",
                       "timestamp": ago(4)}),
                json!({"type": "identify", "anonymousId": "a-ann", "userId": "undefined",
                       "messageId": "i1", "timestamp": ago(3),
                       "traits": {"email": "ANN@example.com"}}),
                json!({"type": "identify", "anonymousId": "anonymous", "userId": "null",
                       "messageId": "i2", "timestamp": ago(2),
                       "traits": {"email": "ann@example.com"}}),
            ],
        )
        .await;
        assert_eq!(owner(&store, "p1").await, Some(ann));
        assert_eq!(
            owner(&store, "p-junk").await,
            None,
            "\"anonymous\" joins nobody"
        );
        let ids = of_contact(&store, ann).await.unwrap();
        let kinds: Vec<String> = ids
            .iter()
            .map(|i| format!("{}:{}", i.kind, i.value))
            .collect();
        assert_eq!(kinds, ["anonymous_id:a-ann", "email:ann@example.com"]);
        assert_eq!(contacts::count(&store).await.unwrap(), 1, "no lead");
    }

    #[tokio::test]
    async fn two_identified_profiles_are_never_merged_automatically() {
        let store = Store::open_in_memory().await.unwrap();
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u1", "anonymousId": "shared-browser",
                       "messageId": "i1", "timestamp": ago(5),
                       "traits": {"email": "one@example.com", "name": "One"}}),
                // Someone else signs in on the same browser.
                json!({"type": "identify", "userId": "u2", "anonymousId": "shared-browser",
                       "messageId": "i2", "timestamp": ago(4),
                       "traits": {"name": "Two"}}),
                // A third user id claims the first one's email.
                json!({"type": "identify", "userId": "u3", "messageId": "i3",
                       "timestamp": ago(3), "traits": {"email": "one@example.com"}}),
            ],
        )
        .await;
        let (one, two, three) = (
            lead_id("user_id", "u1"),
            lead_id("user_id", "u2"),
            lead_id("user_id", "u3"),
        );
        assert_eq!(contacts::count(&store).await.unwrap(), 3);
        assert_eq!(owner(&store, "i2").await, Some(two), "its user id decides");
        let kinds = |ids: Vec<IdentityRow>| {
            ids.iter()
                .map(|i| format!("{}:{}", i.kind, i.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(of_contact(&store, one).await.unwrap()),
            [
                "anonymous_id:shared-browser",
                "email:one@example.com",
                "user_id:u1"
            ]
        );
        assert_eq!(
            kinds(of_contact(&store, two).await.unwrap()),
            ["user_id:u2"]
        );
        assert_eq!(
            kinds(of_contact(&store, three).await.unwrap()),
            ["user_id:u3"]
        );
        let all = warnings(&store, None).await.unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].reason, "user_ids_differ");
        assert_eq!(all[0].contact_id, three.to_string());
        assert_eq!(all[0].other_contact_id, one.to_string());
        assert_eq!(all[1].reason, "anonymous_id_elsewhere");
        assert_eq!(all[1].contact_id, two.to_string());
        assert!(all[1].merge_command.starts_with("hub contact merge "));
        assert_eq!(warnings(&store, Some(two)).await.unwrap().len(), 1);
        // Processing again adds no warning.
        assert!(reprocess_all(&store).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn alias_moves_an_anonymous_profile_into_the_identified_one_in_either_order() {
        // Alias after the identify.
        let store = Store::open_in_memory().await.unwrap();
        ingest(
            &store,
            vec![
                json!({"type": "page", "anonymousId": "phone-app", "messageId": "p1",
                       "timestamp": ago(6)}),
                json!({"type": "identify", "userId": "u1", "messageId": "i1",
                       "timestamp": ago(5), "traits": {"name": "Una"}}),
                json!({"type": "alias", "previousId": "phone-app", "userId": "u1",
                       "messageId": "al1", "timestamp": ago(4)}),
            ],
        )
        .await;
        assert_eq!(owner(&store, "p1").await, Some(lead_id("user_id", "u1")));

        // Alias stored before the profile exists: the identify reads it back.
        let store = Store::open_in_memory().await.unwrap();
        ingest(
            &store,
            vec![
                json!({"type": "alias", "previousId": "phone-app", "userId": "u1",
                       "messageId": "al1", "timestamp": ago(6)}),
                json!({"type": "page", "anonymousId": "phone-app", "messageId": "p1",
                       "timestamp": ago(5)}),
            ],
        )
        .await;
        assert_eq!(owner(&store, "p1").await, None);
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u1", "messageId": "i1",
                        "timestamp": ago(4), "traits": {"name": "Una"}}),
            ],
        )
        .await;
        assert_eq!(owner(&store, "p1").await, Some(lead_id("user_id", "u1")));
    }

    #[tokio::test]
    async fn a_newer_manual_edit_wins_over_traits_and_an_older_one_does_not() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contacts::create(
            &store,
            ContactInput {
                first_name: Some("Ann".into()),
                title: Some("Manager".into()),
                emails: vec![contacts::EmailEntry {
                    kind: "work".into(),
                    address: "ann@example.com".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
        // An identify from yesterday: the edit made just now is newer.
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u-ann", "messageId": "old",
                        "timestamp": ago(24),
                        "traits": {"email": "ann@example.com", "title": "Intern",
                                   "website": "ann.example.com"}}),
            ],
        )
        .await;
        let c = contacts::get(&store, ann).await.unwrap();
        assert_eq!(
            c.title.as_deref(),
            Some("Manager"),
            "the newer manual edit wins"
        );
        let details = crate::contact_details::get(&store, ann).await.unwrap();
        assert_eq!(
            details.website.as_deref(),
            Some("https://ann.example.com"),
            "a field never written takes the trait"
        );
        // An identify made after the edit (an hour from now) takes precedence.
        let later = (chrono::Utc::now() + chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u-ann", "messageId": "new",
                        "timestamp": later, "traits": {"title": "Director"}}),
            ],
        )
        .await;
        let c = contacts::get(&store, ann).await.unwrap();
        assert_eq!(c.title.as_deref(), Some("Director"));
        // An older identify loaded afterwards (a file replayed) does not undo it,
        // although resolution wrote the newer value only a moment ago.
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u-ann", "messageId": "older",
                        "timestamp": ago(2), "traits": {"title": "Lead"}}),
            ],
        )
        .await;
        let c = contacts::get(&store, ann).await.unwrap();
        assert_eq!(c.title.as_deref(), Some("Director"));
    }

    #[tokio::test]
    async fn two_devices_processing_the_same_events_write_the_same_rows() {
        let events = vec![
            json!({"type": "page", "anonymousId": "a1", "messageId": "p1", "timestamp": ago(3)}),
            json!({"type": "identify", "anonymousId": "a1", "userId": "u1", "messageId": "i1",
                   "timestamp": ago(2), "traits": {"email": "u1@example.com",
                   "phone": "+44 20 7946 0958", "name": "U One", "company": "Initech",
                   "address": {"city": "Leeds", "country": "GB"}}}),
        ];
        let mut states = Vec::new();
        for order in [events.clone(), events.into_iter().rev().collect()] {
            let store = Store::open_in_memory().await.unwrap();
            ingest(&store, order).await;
            let mut rows = Vec::new();
            for table in [
                "identities",
                "contacts",
                "contact_emails",
                "contact_phones",
                "contact_addresses",
                "companies",
            ] {
                let ids: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT id FROM {table} ORDER BY id"))
                        .fetch_all(store.pool())
                        .await
                        .unwrap();
                rows.push((table, ids));
            }
            states.push(rows);
        }
        assert_eq!(states[0], states[1]);
        assert_eq!(
            states[0][0].1.len(),
            4,
            "user id, anonymous id, email, phone"
        );
    }

    #[tokio::test]
    async fn external_ids_join_profiles_and_a_deleted_identity_stays_suppressed() {
        let store = Store::open_in_memory().await.unwrap();
        ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u1", "messageId": "i1",
                        "timestamp": ago(5), "traits": {"name": "Ext One"},
                        "context": {"externalIds": [
                            {"id": "HS-991", "type": "hubspot_id", "collection": "users",
                             "encoding": "none"},
                            {"id": "null", "type": "stripe_id"}]}}),
            ],
        )
        .await;
        let one = lead_id("user_id", "u1");
        let kinds: Vec<String> = of_contact(&store, one)
            .await
            .unwrap()
            .iter()
            .map(|i| format!("{}:{}", i.kind, i.value))
            .collect();
        assert_eq!(kinds, ["external:hubspot_id:HS-991", "user_id:u1"]);
        // Another identify without the user id but with the same external id: same person.
        ingest(
            &store,
            vec![
                json!({"type": "identify", "anonymousId": "a-2", "messageId": "i2",
                        "timestamp": ago(4), "traits": {"title": "CFO"},
                        "context": {"externalIds": [{"id": "HS-991", "type": "HubSpot_ID"}]}}),
            ],
        )
        .await;
        assert_eq!(contacts::count(&store).await.unwrap(), 1);
        assert_eq!(
            contacts::get(&store, one).await.unwrap().title.as_deref(),
            Some("CFO")
        );

        // The user id's identity is deleted (as erasure will): later identifies by it
        // neither re-create it nor make a new lead, and its events stay unresolved.
        let mut tx = store.write().await.unwrap();
        tx.delete(&IDENTITY, identity_id("user_id", "u1"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let report = ingest(
            &store,
            vec![
                json!({"type": "identify", "userId": "u1", "anonymousId": "a-3",
                       "messageId": "i3", "timestamp": ago(3), "traits": {"name": "Again"}}),
                json!({"type": "track", "userId": "u1", "event": "Clicked",
                       "messageId": "t3", "timestamp": ago(2)}),
            ],
        )
        .await;
        assert!(report.resolved.is_empty(), "{:?}", report.resolved);
        assert_eq!(owner(&store, "t3").await, None);
        assert_eq!(contacts::count(&store).await.unwrap(), 1);
    }

    #[test]
    fn junk_values_are_recognised_trimmed_and_in_any_case() {
        for junk in ["", " ", "NULL", "Undefined", " anonymous ", "0", "-1"] {
            assert!(is_junk(junk), "{junk:?}");
        }
        for real in ["u1", "00", "anon-1", "1"] {
            assert!(!is_junk(real), "{real:?}");
        }
        assert_eq!(identity_id("email", "a@b.c"), identity_id("email", "a@b.c"));
        assert_ne!(identity_id("email", "a@b.c"), lead_id("email", "a@b.c"));
        assert_ne!(
            identity_id("user_id", "x"),
            identity_id("anonymous_id", "x")
        );
    }

    #[tokio::test]
    async fn an_identity_arriving_after_the_events_claims_them() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        raw_event(&store, "m2", Some("u1"), Some("a2")).await;
        raw_event(&store, "m3", None, Some("other")).await;
        assert_eq!(owner(&store, "m1").await, None);
        put_identity(&store, ann, "anonymous_id", "a1").await;
        put_identity(&store, ann, "user_id", "u1").await;
        assert_eq!(owner(&store, "m1").await, Some(ann));
        assert_eq!(owner(&store, "m2").await, Some(ann));
        assert_eq!(owner(&store, "m3").await, None);
    }

    #[tokio::test]
    async fn an_event_arriving_after_the_identity_gets_its_contact() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        let bob = contact(&store, "Bob").await;
        put_identity(&store, ann, "anonymous_id", "a1").await;
        put_identity(&store, bob, "user_id", "u-bob").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        // The user id wins over the anonymous id.
        raw_event(&store, "m2", Some("u-bob"), Some("a1")).await;
        raw_event(&store, "m3", Some("nobody"), None).await;
        assert_eq!(owner(&store, "m1").await, Some(ann));
        assert_eq!(owner(&store, "m2").await, Some(bob));
        assert_eq!(owner(&store, "m3").await, None);
    }

    #[tokio::test]
    async fn deleting_or_repointing_an_identity_moves_its_events() {
        let store = Store::open_in_memory().await.unwrap();
        let ann = contact(&store, "Ann").await;
        let bob = contact(&store, "Bob").await;
        let anon = put_identity(&store, ann, "anonymous_id", "a1").await;
        let user = put_identity(&store, ann, "user_id", "u1").await;
        raw_event(&store, "m1", None, Some("a1")).await;
        raw_event(&store, "m2", Some("u1"), Some("a1")).await;

        let mut tx = store.write().await.unwrap();
        tx.update(
            &IDENTITY,
            anon,
            vec![("contact_id", json!(bob.to_string()))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, Some(bob));
        assert_eq!(
            owner(&store, "m2").await,
            Some(ann),
            "its user id still says Ann"
        );

        let mut tx = store.write().await.unwrap();
        tx.delete(&IDENTITY, user).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            owner(&store, "m2").await,
            Some(bob),
            "now only its anonymous id joins"
        );

        let mut tx = store.write().await.unwrap();
        tx.delete(&IDENTITY, anon).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, None);
        assert_eq!(owner(&store, "m2").await, None);
    }

    #[tokio::test]
    async fn an_identity_pulled_before_its_contact_binds_when_the_contact_arrives() {
        let store = Store::open_in_memory().await.unwrap();
        let later = Uuid::now_v7();
        raw_event(&store, "m1", Some("u1"), None).await;
        put_identity(&store, later, "user_id", "u1").await;
        assert_eq!(owner(&store, "m1").await, None);
        let mut tx = store.write().await.unwrap();
        tx.insert(
            &crate::entities::CONTACT,
            later,
            vec![("first_name", json!("Late"))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(owner(&store, "m1").await, Some(later));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// One call over a small space of ids, so profiles collide often.
        fn call() -> impl Strategy<Value = serde_json::Value> {
            let user = prop_oneof![
                Just(None),
                (0..3usize).prop_map(|u| Some(format!("u{u}"))),
                Just(Some("undefined".to_owned()))
            ];
            let anon = prop_oneof![
                Just(None),
                (0..4usize).prop_map(|a| Some(format!("a{a}"))),
                Just(Some("anonymous".to_owned()))
            ];
            let email = prop_oneof![
                Just(None),
                (0..2usize).prop_map(|e| Some(format!("p{e}@example.com")))
            ];
            (0..4usize, user, anon, email, 0..100i64).prop_map(
                |(kind, user, anon, email, hours)| {
                    let call = ["page", "track", "identify", "identify"][kind];
                    let mut v = json!({"type": call, "timestamp": ago(hours + 1)});
                    if kind == 1 {
                        v["event"] = json!("Clicked");
                    }
                    if let Some(u) = user {
                        v["userId"] = json!(u);
                    }
                    if let Some(a) = anon {
                        v["anonymousId"] = json!(a);
                    }
                    if v.get("userId").is_none() && v.get("anonymousId").is_none() {
                        v["anonymousId"] = json!("a0");
                    }
                    if let Some(e) = email {
                        v["traits"] = json!({"email": e});
                    }
                    v
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

            /// Any mix of pages, tracks and identifies, stored in any batches: no contact
            /// ever holds two user ids (identified profiles are never merged), junk ids
            /// never become identities, every event's contact is what its identities
            /// say, and resolving everything again writes nothing.
            #[test]
            fn resolution_never_merges_identified_profiles_and_is_idempotent(
                calls in proptest::collection::vec(call(), 1..30),
                split in 0..30usize,
            ) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let store = Store::open_in_memory().await.unwrap();
                    let calls: Vec<serde_json::Value> = calls
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut c)| {
                            c["messageId"] = json!(format!("m{i}"));
                            c
                        })
                        .collect();
                    let split = split.min(calls.len());
                    ingest(&store, calls[..split].to_vec()).await;
                    ingest(&store, calls[split..].to_vec()).await;

                    let doubled: Vec<(String, i64)> = sqlx::query_as(
                        "SELECT contact_id, count(*) FROM identities
                          WHERE kind = 'user_id' AND deleted_at IS NULL
                          GROUP BY contact_id HAVING count(*) > 1",
                    )
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
                    assert!(doubled.is_empty(), "{doubled:?}");
                    let junk: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM identities WHERE value IN ('undefined', 'anonymous')",
                    )
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                    assert_eq!(junk, 0);
                    let stale: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM events e JOIN events_resolution r ON r.rk = e.rk
                          WHERE e.contact_rk IS NOT r.contact_rk",
                    )
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
                    assert_eq!(stale, 0);
                    let before = log_len(&store).await;
                    let again = reprocess_all(&store).await.unwrap();
                    assert!(again.is_empty(), "{again:?}");
                    assert_eq!(log_len(&store).await, before);
                });
            }
        }
    }
}
