//! Which column goes where: headers of the common CRMs' and address books'
//! exports mapped to our fields, the user's overrides, and mappings saved
//! by name (synced, so the team shares them).
//!
//! The header tables follow each vendor's documented export columns:
//! - HubSpot (contacts, companies, deals exports): "First Name", "Email",
//!   "Phone Number", "Mobile Phone Number", "Company Name", "Job Title",
//!   "Lifecycle Stage", "Contact owner", "Website URL", "Company Domain Name",
//!   "Number of Employees", "Deal Name", "Deal Stage", "Close Date", ...
//! - Pipedrive ("Person - Name", "Person - Email - Work", "Person - Phone -
//!   Mobile", "Organization - Name", "Deal - Title", "Deal - Value", ...)
//! - Salesforce reports and Data Loader ("Account Name", "Mailing City",
//!   "Lead Source", "Opportunity Name", "FirstName", "MobilePhone", ...)
//! - Zoho CRM ("Account Name", "Secondary Email", "Contact Owner",
//!   "Deal Name", "Closing Date", "Tag", ...)
//! - Google Contacts (both the old "Given Name"/"Family Name"/"E-mail 1 -
//!   Type"/"Group Membership" and the new "First Name"/"E-mail 1 - Label"/
//!   "Organization Name"/"Labels" formats)
//! - Outlook ("E-mail Address", "E-mail 2 Address", "Business Phone",
//!   "Mobile Phone", "Company", "Job Title", "Business City", "Categories", ...;
//!   its "Title" is the courtesy title (Mr., Dr.) and is skipped)
//! - Apple Numbers tables and hand-made sheets: the plain names
//!   ("Name", "Email", "Phone", "Company", "Tags", ...).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ts_rs::TS;
use uuid::Uuid;

use super::Target;
use crate::changes::now_rfc3339;
use crate::custom_fields::{self, CustomField, FieldEntity};
use crate::entities::IMPORT_MAPPING;
use crate::error::{Error, Result};
use crate::store::Store;

/// Header (compared lower case, runs of spaces as one) → target.
/// `?A|B`: A when the file has no person columns (a companies export's
/// "City" is the company's), B when it has (a contacts export's is the person's).
static HEADERS: &[(&str, &str)] = &[
    // Names
    ("first name", "first_name"),
    ("firstname", "first_name"),
    ("given name", "first_name"),
    ("person - first name", "first_name"),
    ("forename", "first_name"),
    ("vorname", "first_name"),
    ("prénom", "first_name"),
    ("last name", "last_name"),
    ("lastname", "last_name"),
    ("family name", "last_name"),
    ("surname", "last_name"),
    ("person - last name", "last_name"),
    ("nachname", "last_name"),
    ("nom", "last_name"),
    ("name", "display_name"),
    ("full name", "display_name"),
    ("contact name", "display_name"),
    ("display name", "display_name"),
    ("person - name", "display_name"),
    ("file as", "display_name"),
    // Job
    ("job title", "title"),
    ("jobtitle", "title"),
    ("title", "title"),
    ("position", "title"),
    ("role", "title"),
    ("organization title", "title"),
    ("organization 1 - title", "title"),
    ("person - job title", "title"),
    // CRM state
    ("lifecycle stage", "lifecycle_stage"),
    ("lifecyclestage", "lifecycle_stage"),
    ("lifecycle", "lifecycle_stage"),
    ("stage (contact)", "lifecycle_stage"),
    ("contact owner", "owner"),
    ("owner", "owner"),
    ("person - owner", "owner"),
    ("hubspot owner", "owner"),
    ("lead source", "source"),
    ("leadsource", "source"),
    ("original source", "source"),
    ("source", "source"),
    ("notes", "notes"),
    ("note", "notes"),
    ("description", "notes"),
    ("comments", "notes"),
    ("person - notes", "notes"),
    // Email
    ("email", "email:work"),
    ("e-mail", "email:work"),
    ("email address", "email:work"),
    ("e-mail address", "email:work"),
    ("e-mail 1 - value", "email:work"),
    ("e-mail 2 - value", "email:other"),
    ("e-mail 3 - value", "email:other"),
    ("e-mail 2 address", "email:other"),
    ("e-mail 3 address", "email:other"),
    ("work email", "email:work"),
    ("business email", "email:work"),
    ("home email", "email:home"),
    ("personal email", "email:home"),
    ("private email", "email:home"),
    ("other email", "email:other"),
    ("secondary email", "email:other"),
    ("person - email", "email:work"),
    ("person - email - work", "email:work"),
    ("person - email - home", "email:home"),
    ("person - email - other", "email:other"),
    // Phone
    ("phone", "phone:work"),
    ("phone number", "phone:work"),
    ("telephone", "phone:work"),
    ("tel", "phone:work"),
    ("work phone", "phone:work"),
    ("business phone", "phone:work"),
    ("business phone 2", "phone:work"),
    ("company main phone", "phone:work"),
    ("phone 1 - value", "phone:work"),
    ("phone 2 - value", "phone:other"),
    ("phone 3 - value", "phone:other"),
    ("mobile", "phone:mobile"),
    ("mobile phone", "phone:mobile"),
    ("mobile phone number", "phone:mobile"),
    ("mobilephone", "phone:mobile"),
    ("cell", "phone:mobile"),
    ("cell phone", "phone:mobile"),
    ("handy", "phone:mobile"),
    ("home phone", "phone:home"),
    ("homephone", "phone:home"),
    ("home phone 2", "phone:home"),
    ("other phone", "phone:other"),
    ("otherphone", "phone:other"),
    ("person - phone", "phone:work"),
    ("person - phone - work", "phone:work"),
    ("person - phone - mobile", "phone:mobile"),
    ("person - phone - home", "phone:home"),
    ("person - phone - other", "phone:other"),
    // Company
    ("company", "company"),
    ("company name", "company"),
    ("companyname", "company"),
    ("organization", "company"),
    ("organisation", "company"),
    ("organization name", "company"),
    ("organization 1 - name", "company"),
    ("organization - name", "company"),
    ("person - organization", "company"),
    ("account name", "company"),
    ("account", "company"),
    ("associated company", "company"),
    ("firma", "company"),
    ("company domain name", "company.domain"),
    ("company domain", "company.domain"),
    ("domain", "company.domain"),
    ("website", "?company.domain|website"),
    ("website url", "company.domain"),
    ("web page", "website"),
    ("personal website", "website"),
    ("website 1 - value", "website"),
    ("birthday", "birthday"),
    ("date of birth", "birthday"),
    ("birthdate", "birthday"),
    ("photo", "photo"),
    ("organization - website", "company.domain"),
    ("industry", "company.industry"),
    ("organization - industry", "company.industry"),
    ("number of employees", "company.size"),
    ("employees", "company.size"),
    ("company size", "company.size"),
    ("organization - number of employees", "company.size"),
    ("business street", "address:work.street"),
    ("business city", "address:work.city"),
    ("business state", "address:work.region"),
    ("business postal code", "address:work.postal_code"),
    ("business country/region", "address:work.country"),
    ("business country", "address:work.country"),
    ("home street", "address:home.street"),
    ("home city", "address:home.city"),
    ("home state", "address:home.region"),
    ("home postal code", "address:home.postal_code"),
    ("home country/region", "address:home.country"),
    ("other street", "address:other.street"),
    ("other city", "address:other.city"),
    ("other state", "address:other.region"),
    ("other postal code", "address:other.postal_code"),
    ("other country/region", "address:other.country"),
    ("mailing street", "address:work.street"),
    ("mailing city", "address:work.city"),
    ("mailing state/province", "address:work.region"),
    ("mailing state", "address:work.region"),
    ("mailing zip/postal code", "address:work.postal_code"),
    ("mailing zip", "address:work.postal_code"),
    ("mailing country", "address:work.country"),
    ("address 1 - street", "address:home.street"),
    ("address 1 - city", "address:home.city"),
    ("address 1 - region", "address:home.region"),
    ("address 1 - postal code", "address:home.postal_code"),
    ("address 1 - country", "address:home.country"),
    ("person - address", "address:work.street"),
    ("organization - address", "company.street"),
    ("street address", "?company.street|address:work.street"),
    ("street", "?company.street|address:work.street"),
    ("address", "?company.street|address:work.street"),
    ("billing street", "company.street"),
    ("billing city", "company.city"),
    ("billing state/province", "company.region"),
    ("billing zip/postal code", "company.postal_code"),
    ("billing country", "company.country"),
    ("city", "?company.city|address:work.city"),
    ("state", "?company.region|address:work.region"),
    ("state/region", "?company.region|address:work.region"),
    ("region", "?company.region|address:work.region"),
    ("province", "?company.region|address:work.region"),
    (
        "postal code",
        "?company.postal_code|address:work.postal_code",
    ),
    ("zip", "?company.postal_code|address:work.postal_code"),
    ("zip code", "?company.postal_code|address:work.postal_code"),
    ("postcode", "?company.postal_code|address:work.postal_code"),
    ("country", "?company.country|address:work.country"),
    ("country/region", "?company.country|address:work.country"),
    // Deals
    ("deal name", "deal.title"),
    ("deal title", "deal.title"),
    ("deal - title", "deal.title"),
    ("opportunity name", "deal.title"),
    ("deal", "deal.title"),
    ("amount", "deal.amount"),
    ("deal amount", "deal.amount"),
    ("deal value", "deal.amount"),
    ("deal - value", "deal.amount"),
    ("opportunity amount", "deal.amount"),
    ("currency", "deal.currency"),
    ("deal currency", "deal.currency"),
    ("deal - currency", "deal.currency"),
    ("currency code", "deal.currency"),
    ("deal stage", "deal.stage"),
    ("dealstage", "deal.stage"),
    ("deal - stage", "deal.stage"),
    ("stage", "deal.stage"),
    ("opportunity stage", "deal.stage"),
    ("pipeline", "deal.pipeline"),
    ("deal - pipeline", "deal.pipeline"),
    ("close date", "deal.expected_close"),
    ("closedate", "deal.expected_close"),
    ("closing date", "deal.expected_close"),
    ("expected close date", "deal.expected_close"),
    ("deal - expected close date", "deal.expected_close"),
    ("deal owner", "deal.owner"),
    ("deal - owner", "deal.owner"),
    ("opportunity owner", "deal.owner"),
    // Tags
    ("tags", "tags"),
    ("tag", "tags"),
    ("labels", "tags"),
    ("label", "tags"),
    ("person - label", "tags"),
    ("person - labels", "tags"),
    ("categories", "tags"),
    ("group membership", "tags"),
    ("groups", "tags"),
];

/// Headers compared: lower case, runs of spaces as one.
fn header_key(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Google's "E-mail 1 - Value" has its kind in "E-mail 1 - Type" (old
/// format) or "E-mail 1 - Label" (new): the column holding it, if any.
pub fn kind_column(headers: &[String], value_column: usize) -> Option<usize> {
    let key = header_key(&headers[value_column]);
    let prefix = key.strip_suffix(" - value")?;
    headers.iter().position(|h| {
        let k = header_key(h);
        k == format!("{prefix} - type") || k == format!("{prefix} - label")
    })
}

/// Guess the target of each column. Unknown headers match a custom field
/// by key or label (contact fields first, then company, then deal);
/// the rest are skipped.
pub fn auto_map(headers: &[String], custom: &[CustomField]) -> Vec<Option<Target>> {
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let has = |k: &str| keys.iter().any(|x| x == k);
    let table = |k: &str| HEADERS.iter().find(|(h, _)| *h == k).map(|(_, t)| *t);
    let plain = |t: &str| -> Option<Target> {
        let t = t.trim_start_matches('?');
        Target::parse(t.split('|').next().unwrap_or(t)).ok()
    };
    let mut out: Vec<Option<Target>> = keys
        .iter()
        .map(|k| {
            // Our own export's headers are target names: `email:work (2)`.
            let exact = k
                .rsplit_once(" (")
                .filter(|(_, n)| n.ends_with(')') && n[..n.len() - 1].parse::<u32>().is_ok())
                .map_or(k.as_str(), |(t, _)| t);
            table(k)
                .and_then(plain)
                .or_else(|| Target::parse(exact).ok())
        })
        .collect();
    let person = out.iter().flatten().any(|t| {
        matches!(
            t,
            Target::Contact("first_name" | "last_name" | "display_name")
                | Target::Email(_)
                | Target::Phone(_)
        )
    });
    for (i, k) in keys.iter().enumerate() {
        let entry = table(k);
        if let Some(either) = entry.and_then(|t| t.strip_prefix('?')) {
            let (company, contact) = either.split_once('|').unwrap_or((either, either));
            out[i] = Target::parse(if person { contact } else { company }).ok();
        }
        // Outlook's "Title" is Mr./Dr. when it also has "Job Title".
        if k == "title" && has("job title") {
            out[i] = None;
        }
        // Google's "Type"/"Label" columns only qualify their value column.
        if k.ends_with(" - type") || k.ends_with(" - label") {
            out[i] = None;
        }
        if out[i].is_none() && entry.is_none() {
            out[i] = custom_target(&headers[i], custom);
        }
    }
    // One column per single-valued target: the first one wins.
    let mut seen: Vec<Target> = Vec::new();
    for t in out.iter_mut() {
        let single = !matches!(
            t,
            Some(Target::Email(_) | Target::Phone(_) | Target::Tags | Target::Contact("notes"))
                | None
        );
        if let (true, Some(target)) = (single, t.as_ref()) {
            if seen.contains(target) {
                *t = None;
            } else {
                seen.push(target.clone());
            }
        }
    }
    out
}

fn custom_target(header: &str, custom: &[CustomField]) -> Option<Target> {
    let key = custom_fields::key_for(header);
    let label = header.trim().to_lowercase();
    for entity in [
        FieldEntity::Contact,
        FieldEntity::Company,
        FieldEntity::Deal,
    ] {
        if let Some(f) = custom
            .iter()
            .find(|f| f.entity == entity && (f.key == key || f.label.to_lowercase() == label))
        {
            return Some(Target::Custom(entity, f.key.clone()));
        }
    }
    None
}

/// `"Column=field"` or `"Column=skip"` as `--map` takes it.
pub fn parse_override(text: &str) -> Result<(String, Option<Target>)> {
    let (column, target) = text.rsplit_once('=').ok_or_else(|| {
        Error::invalid(
            "map",
            format!("\"{text}\" is not COLUMN=FIELD (e.g. \"Work Email=email\" or \"Fax=skip\")"),
        )
    })?;
    let target = match target.trim().to_lowercase().as_str() {
        "skip" | "ignore" | "" | "none" => None,
        _ => Some(Target::parse(target)?),
    };
    Ok((column.trim().to_owned(), target))
}

/// The column a name means: exactly, else ignoring case and spaces.
pub fn find_column(headers: &[String], name: &str) -> Option<usize> {
    headers.iter().position(|h| h == name).or_else(|| {
        let key = header_key(name);
        headers.iter().position(|h| header_key(h) == key)
    })
}

/// Apply `column → target` choices to `mapping`; a column the file does not
/// have is an error naming the file's columns.
pub fn apply(
    headers: &[String],
    mapping: &mut [Option<Target>],
    choices: &[(String, Option<Target>)],
) -> Result<()> {
    for (column, target) in choices {
        let Some(i) = find_column(headers, column) else {
            return Err(Error::invalid(
                "map",
                format!(
                    "the file has no column \"{column}\" (its columns: {})",
                    headers.join(", ")
                ),
            ));
        };
        mapping[i] = target.clone();
    }
    Ok(())
}

/// A mapping as stored and recorded: column → target text (null: skipped).
pub fn to_map(headers: &[String], mapping: &[Option<Target>]) -> BTreeMap<String, Option<String>> {
    headers
        .iter()
        .zip(mapping)
        .map(|(h, t)| (h.clone(), t.as_ref().map(Target::to_string)))
        .collect()
}

/// A saved mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SavedMapping {
    pub name: String,
    /// Column → target field (null: skip).
    pub columns: BTreeMap<String, Option<String>>,
}

impl SavedMapping {
    /// The mapping as `apply` takes it; columns this file lacks are left out.
    pub fn choices(&self, headers: &[String]) -> Result<Vec<(String, Option<Target>)>> {
        let mut out = Vec::new();
        for (column, target) in &self.columns {
            if find_column(headers, column).is_none() {
                continue;
            }
            let target = match target {
                Some(t) => Some(Target::parse(t)?),
                None => None,
            };
            out.push((column.clone(), target));
        }
        Ok(out)
    }
}

const NAMESPACE: Uuid = Uuid::from_u128(0x51e4_a0c2_7d3b_4e19_9a6f_0c8d_2b17_e5a4);

fn mapping_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.trim().to_lowercase().as_bytes())
}

/// Save (or replace) a mapping under a name.
pub async fn save(
    store: &Store,
    name: &str,
    columns: &BTreeMap<String, Option<String>>,
) -> Result<SavedMapping> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "A mapping needs a name of at most 100 characters",
        ));
    }
    for target in columns.values().flatten() {
        Target::parse(target)?;
    }
    let id = mapping_id(name);
    let text = json!(columns).to_string();
    let mut tx = store.write().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM import_mappings WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    if exists.is_some() {
        tx.update(
            &IMPORT_MAPPING,
            id,
            vec![
                ("name", json!(name)),
                ("mapping", json!(text)),
                ("deleted_at", Value::Null),
            ],
        )
        .await?;
    } else {
        tx.insert(
            &IMPORT_MAPPING,
            id,
            vec![
                ("name", json!(name)),
                ("mapping", json!(text)),
                ("created_at", json!(now_rfc3339())),
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(SavedMapping {
        name: name.to_owned(),
        columns: columns.clone(),
    })
}

/// A saved mapping by name (any case).
pub async fn load(store: &Store, name: &str) -> Result<SavedMapping> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, mapping FROM import_mappings WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(mapping_id(name).to_string())
    .fetch_optional(store.pool())
    .await?;
    let Some((stored, text)) = row else {
        let names: Vec<String> = saved(store).await?.into_iter().map(|m| m.name).collect();
        return Err(Error::invalid(
            "mapping",
            format!(
                "no saved mapping \"{}\"{}",
                name.trim(),
                if names.is_empty() {
                    " (save one with --save-mapping NAME)".to_owned()
                } else {
                    format!(" (saved: {})", names.join(", "))
                }
            ),
        ));
    };
    Ok(SavedMapping {
        name: stored.unwrap_or_else(|| name.trim().to_owned()),
        columns: text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    })
}

/// Every saved mapping, by name.
pub async fn saved(store: &Store) -> Result<Vec<SavedMapping>> {
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, mapping FROM import_mappings WHERE deleted_at IS NULL ORDER BY name COLLATE NOCASE",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, text)| SavedMapping {
            name: name.unwrap_or_default(),
            columns: text
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(headers: &[&str]) -> Vec<Option<String>> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        auto_map(&headers, &[])
            .into_iter()
            .map(|t| t.map(|t| t.to_string()))
            .collect()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn outlook_headers() {
        assert_eq!(
            map(&[
                "Title",
                "First Name",
                "Last Name",
                "Company",
                "Job Title",
                "Business City",
                "Business Phone",
                "Mobile Phone",
                "E-mail Address",
                "E-mail 2 Address",
                "Categories",
                "Fax"
            ]),
            vec![
                None,
                s("first_name"),
                s("last_name"),
                s("company"),
                s("title"),
                s("address:work.city"),
                s("phone:work"),
                s("phone:mobile"),
                s("email:work"),
                s("email:other"),
                s("tags"),
                None
            ]
        );
    }

    #[test]
    fn google_and_hubspot_headers() {
        assert_eq!(
            map(&[
                "Given Name",
                "Family Name",
                "E-mail 1 - Type",
                "E-mail 1 - Value",
                "Phone 1 - Type",
                "Phone 1 - Value",
                "Group Membership",
                "Address 1 - City"
            ]),
            vec![
                s("first_name"),
                s("last_name"),
                None,
                s("email:work"),
                None,
                s("phone:work"),
                s("tags"),
                s("address:home.city")
            ]
        );
        // A contacts export's City is the person's; a companies export's the company's.
        assert_eq!(
            map(&["Email", "City"]),
            vec![s("email:work"), s("address:work.city")]
        );
        // Our own export's headers map themselves.
        assert_eq!(
            map(&[
                "display_name",
                "email:work",
                "email:work (2)",
                "phone:mobile",
                "id",
                "deal.status"
            ]),
            vec![
                s("display_name"),
                s("email:work"),
                s("email:work"),
                s("phone:mobile"),
                None,
                None
            ]
        );
        assert_eq!(
            map(&[
                "Company name",
                "Company Domain Name",
                "City",
                "Number of Employees"
            ]),
            vec![
                s("company"),
                s("company.domain"),
                s("company.city"),
                s("company.size")
            ]
        );
        let headers: Vec<String> = ["E-mail 1 - Type", "E-mail 1 - Value"]
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(kind_column(&headers, 1), Some(0));
    }

    #[test]
    fn overrides() {
        assert_eq!(
            parse_override("Work Email = email:home").unwrap(),
            ("Work Email".to_owned(), Some(Target::Email("home")))
        );
        assert_eq!(
            parse_override("Fax=skip").unwrap(),
            ("Fax".to_owned(), None)
        );
        assert!(parse_override("Fax").is_err());
        assert!(parse_override("Fax=fax").is_err());
        let headers = vec!["Email".to_owned(), "Fax".to_owned()];
        let mut mapping = vec![Some(Target::Email("work")), None];
        apply(
            &headers,
            &mut mapping,
            &[("fax".into(), Some(Target::Phone("other")))],
        )
        .unwrap();
        assert_eq!(mapping[1], Some(Target::Phone("other")));
        assert!(apply(&headers, &mut mapping, &[("Nope".into(), None)]).is_err());
    }
}
