//! `hub contact ...`

use anyhow::Context;
use clap::Subcommand;
use hub_core::contacts::{
    self, Contact, ContactInput, ContactQuery, EmailEntry, LifecycleStage, PhoneEntry,
};
use hub_core::{companies, Store};
use uuid::Uuid;

use crate::output;

// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum ContactCommand {
    /// Add a contact; prints its id
    Add {
        /// Full name; split into first and last name at the last space
        #[arg(long, required_unless_present_any = ["first", "last"])]
        name: Option<String>,
        #[arg(long)]
        first: Option<String>,
        #[arg(long)]
        last: Option<String>,
        /// Email address, optionally typed: `home:ada@example.com` (work, home, other). Repeatable.
        #[arg(long = "email", value_name = "[KIND:]ADDRESS")]
        emails: Vec<String>,
        /// Phone number, optionally typed: `mobile:+44 20 7946 0018` (mobile, work, home, other). Repeatable.
        #[arg(long = "phone", value_name = "[KIND:]NUMBER")]
        phones: Vec<String>,
        /// Company name (created when new) or id
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// lead, prospect, customer or churned
        #[arg(long, default_value = "lead")]
        stage: String,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// Repeatable
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Save even when a contact with the same email or phone exists
        #[arg(long)]
        allow_duplicate: bool,
        #[arg(long)]
        json: bool,
    },
    /// List contacts by name, or search them
    List {
        /// Search as in the app: every word prefix-matches a name, email, phone or company
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// Company name or id
        #[arg(long)]
        company: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one contact
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Change fields: `--set title="Head of Sales" --set email=a@x.com,home:b@y.com`
    Edit {
        id: Uuid,
        /// FIELD=VALUE; fields: name, first_name, last_name, title, company, stage, owner, source, notes,
        /// email, phone, tags (lists comma-separated; an empty value clears)
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        sets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a contact
    Delete { id: Uuid },
    /// Merge OTHER into KEEP: pick values per field, move everything, undo with `hub merge undo`
    Merge(crate::duplicates::MergeArgs),
}

/// `kind:value` or just `value` (then `default_kind`). A colon inside the
/// value (none in emails or phones) is left alone unless the prefix is a kind.
fn typed(text: &str, kinds: &[&str], default_kind: &str) -> (String, String) {
    match text.split_once(':') {
        Some((kind, value)) if kinds.contains(&kind.trim().to_lowercase().as_str()) => {
            (kind.trim().to_lowercase(), value.trim().to_owned())
        }
        _ => (default_kind.to_owned(), text.trim().to_owned()),
    }
}

fn emails(list: &[String]) -> Vec<EmailEntry> {
    list.iter()
        .map(|e| typed(e, &contacts::EMAIL_KINDS, "work"))
        .map(|(kind, address)| EmailEntry { kind, address })
        .collect()
}

fn phones(list: &[String]) -> Vec<PhoneEntry> {
    list.iter()
        .map(|p| typed(p, &contacts::PHONE_KINDS, "mobile"))
        .map(|(kind, number)| PhoneEntry { kind, number })
        .collect()
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// "Ada King Lovelace" -> ("Ada King", "Lovelace").
fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    match name.rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().to_owned()), Some(last.to_owned())),
        None if name.is_empty() => (None, None),
        None => (Some(name.to_owned()), None),
    }
}

async fn set_company(
    store: &Store,
    input: &mut ContactInput,
    company: Option<String>,
) -> anyhow::Result<()> {
    input.company_id = None;
    input.company_name = None;
    let Some(company) = company.filter(|c| !c.trim().is_empty()) else {
        return Ok(());
    };
    match Uuid::parse_str(company.trim()) {
        Ok(id) => input.company_id = Some(companies::get(store, id).await?.id),
        Err(_) => input.company_name = Some(company),
    }
    Ok(())
}

pub async fn run(store: &Store, cmd: ContactCommand) -> anyhow::Result<()> {
    match cmd {
        ContactCommand::Merge(args) => {
            crate::duplicates::run_merge(store, hub_core::duplicates::RecordKind::Contact, args)
                .await
        }
        ContactCommand::Add {
            name,
            first,
            last,
            emails: email_args,
            phones: phone_args,
            company,
            title,
            stage,
            owner,
            source,
            notes,
            tags,
            allow_duplicate,
            json,
        } => {
            let (split_first, split_last) = name.as_deref().map(split_name).unwrap_or_default();
            let mut input = ContactInput {
                first_name: first.or(split_first),
                last_name: last.or(split_last),
                display_name: name,
                title,
                lifecycle_stage: LifecycleStage::parse(&stage)?,
                owner,
                source,
                notes,
                emails: emails(&email_args),
                phones: phones(&phone_args),
                tags,
                ..Default::default()
            };
            set_company(store, &mut input, company).await?;
            crate::duplicates::check_new_contact(store, &input, allow_duplicate).await?;
            let contact = contacts::create(store, input).await?;
            output::print(json, &contact, || contact.id.to_string())
        }
        ContactCommand::List {
            search,
            tag,
            company,
            limit,
            offset,
            json,
        } => {
            let company_id = match company {
                Some(c) => Some(companies::find(store, &c).await?.id),
                None => None,
            };
            let page = contacts::list(
                store,
                &ContactQuery {
                    search,
                    tag,
                    company_id,
                    limit,
                    offset,
                },
            )
            .await?;
            output::print(json, &page, || {
                let rows = page
                    .items
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            c.display_name.clone(),
                            c.email.clone().unwrap_or_default(),
                            c.phone.clone().unwrap_or_default(),
                            c.company_name.clone().unwrap_or_default(),
                            c.lifecycle_stage.as_str().to_owned(),
                        ]
                    })
                    .collect();
                format!(
                    "{}\n{} of {} contacts",
                    output::table(&["ID", "NAME", "EMAIL", "PHONE", "COMPANY", "STAGE"], rows),
                    page.items.len(),
                    page.total
                )
            })
        }
        ContactCommand::Show { id, json } => {
            let contact = contacts::get(store, id).await?;
            // Custom fields ride along: `custom_fields` maps each set field's key to its value.
            let custom = hub_core::custom_fields::values(
                store,
                hub_core::custom_fields::FieldEntity::Contact,
                id,
            )
            .await?;
            let mut shown = serde_json::to_value(&contact)?;
            shown["custom_fields"] = custom
                .iter()
                .map(|v| (v.key.clone(), v.value.clone()))
                .collect::<serde_json::Map<_, _>>()
                .into();
            output::print(json, &shown, || {
                let mut text = describe(&contact);
                for v in &custom {
                    let value = hub_core::custom_fields::value_text(&v.value);
                    text.push_str(&format!("\n  {:<8} {value}", v.label));
                }
                text
            })
        }
        ContactCommand::Edit { id, sets, json } => {
            let current = contacts::get(store, id).await?;
            let mut input = ContactInput::from(&current);
            for set in &sets {
                let (field, value) = set
                    .split_once('=')
                    .with_context(|| format!("--set {set:?}: expected FIELD=VALUE"))?;
                let text = Some(value.to_owned()).filter(|v| !v.trim().is_empty());
                match field.trim() {
                    "name" | "display_name" => {
                        input.display_name = text.clone();
                        (input.first_name, input.last_name) = text.as_deref().map(split_name).unwrap_or_default();
                    }
                    "first_name" | "first" => input.first_name = text,
                    "last_name" | "last" => input.last_name = text,
                    "title" => input.title = text,
                    "company" => set_company(store, &mut input, text).await?,
                    "stage" | "lifecycle_stage" => input.lifecycle_stage = LifecycleStage::parse(value)?,
                    "owner" => input.owner = text,
                    "source" => input.source = text,
                    "notes" => input.notes = text,
                    "email" | "emails" => input.emails = emails(&split_list(value)),
                    "phone" | "phones" => input.phones = phones(&split_list(value)),
                    "tag" | "tags" => input.tags = split_list(value),
                    other => anyhow::bail!(
                        "--set {other}: unknown field; use name, first_name, last_name, title, company, stage, owner, source, notes, email, phone or tags"
                    ),
                }
            }
            let contact = contacts::update(store, id, input).await?;
            output::print(json, &contact, || describe(&contact))
        }
        ContactCommand::Delete { id } => {
            contacts::delete(store, id).await?;
            println!("Deleted {id}");
            Ok(())
        }
    }
}

fn describe(c: &Contact) -> String {
    let mut lines = vec![format!("{}  ({})", c.display_name, c.id)];
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lines.push(format!("  {label:<8} {v}"));
        }
    };
    field("Title", c.title.clone());
    field("Company", c.company.as_ref().map(|co| co.name.clone()));
    field("Stage", Some(c.lifecycle_stage.as_str().to_owned()));
    for e in &c.emails {
        field("Email", Some(format!("{} ({})", e.address, e.kind)));
    }
    for p in &c.phones {
        field("Phone", Some(format!("{} ({})", p.number, p.kind)));
    }
    field("Tags", Some(c.tags.join(", ")));
    field("Owner", c.owner.clone());
    field("Source", c.source.clone());
    field("Notes", c.notes.clone());
    field("Updated", Some(c.updated_at.to_rfc3339()));
    lines.join("\n")
}
