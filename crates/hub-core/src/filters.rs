//! Filters: "which records" as data, used by lists and saved views.
//!
//! A [`Filter`] is a list of [`Condition`]s that must all hold, over built-in
//! fields (a contact's name, a deal's amount), custom fields (by key) and
//! tags; a [`Sort`] orders by one field. [`query`] turns them into one
//! parameterised SQL statement per page: field names are looked up in a
//! fixed table of built-in SQL expressions or resolved to a custom field's
//! id; every user value is a bound parameter, never spliced into SQL.
//!
//! Numbers compare exactly (never as floats) through the order-preserving
//! text key of `custom_fields::number_key`; dates and times compare as their
//! ISO text.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{Sqlite, SqliteConnection};
use ts_rs::TS;
use uuid::Uuid;

use crate::custom_fields::{
    self, parse_checkbox, parse_date, parse_number, parse_option, CustomField, FieldEntity,
    FieldType,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tags::{self, table_exists};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Op {
    Eq,
    Ne,
    /// Text contains (ignoring case); a multi select has the option.
    Contains,
    Gt,
    Gte,
    Lt,
    Lte,
    IsSet,
    NotSet,
    HasTag,
    LacksTag,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq | Op::HasTag => "=",
            Op::Ne | Op::LacksTag => "!=",
            Op::Contains => "~",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::IsSet => ":set",
            Op::NotSet => ":unset",
        }
    }

    fn takes_value(self) -> bool {
        !matches!(self, Op::IsSet | Op::NotSet)
    }
}

/// One test on one field. `field` is a built-in field's name, a custom
/// field's key, or `tag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<String>,
}

/// Conditions that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Filter {
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Sort {
    pub field: String,
    #[serde(default)]
    pub descending: bool,
}

impl Condition {
    /// The text form: `FIELD=VALUE`, `FIELD!=VALUE`, `FIELD~TEXT` (contains),
    /// `FIELD>N`, `>=`, `<`, `<=`, `FIELD:set`, `FIELD:unset`, `tag=NAME`,
    /// `tag!=NAME`.
    pub fn parse(text: &str) -> Result<Condition> {
        let bad = || {
            Error::invalid(
                "filter",
                format!(
                    "\"{text}\" is not a condition: use FIELD=VALUE, FIELD!=VALUE, FIELD~TEXT, \
                     FIELD>VALUE (>=, <, <=), FIELD:set or FIELD:unset"
                ),
            )
        };
        let at = text.find(['=', '!', '~', '<', '>', ':']).ok_or_else(bad)?;
        let field = text[..at].trim().to_lowercase();
        let rest = &text[at..];
        let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Op::Gte, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Op::Lte, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (Op::Ne, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (Op::Eq, v)
        } else if let Some(v) = rest.strip_prefix('~') {
            (Op::Contains, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            match rest.trim().to_lowercase().as_str() {
                ":set" => (Op::IsSet, ""),
                ":unset" | ":notset" | ":not_set" => (Op::NotSet, ""),
                _ => return Err(bad()),
            }
        };
        if field.is_empty() {
            return Err(bad());
        }
        let is_tag = field == "tag" || field == "tags";
        let op = match op {
            Op::Eq if is_tag => Op::HasTag,
            Op::Ne if is_tag => Op::LacksTag,
            op => op,
        };
        let value = value.trim();
        if op.takes_value() && value.is_empty() {
            return Err(Error::invalid(
                "filter",
                format!("\"{text}\" has no value (FIELD:unset finds records without one)"),
            ));
        }
        Ok(Condition {
            field: if is_tag { "tag".into() } else { field },
            op,
            value: op.takes_value().then(|| value.to_owned()),
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.field,
            self.op.symbol(),
            self.value.as_deref().unwrap_or("")
        )
    }
}

impl Sort {
    /// `FIELD`, `-FIELD` (descending), `FIELD:asc` or `FIELD:desc`.
    pub fn parse(text: &str) -> Result<Sort> {
        let t = text.trim();
        let (field, descending) = if let Some(f) = t.strip_prefix('-') {
            (f, true)
        } else if let Some(f) = t.strip_suffix(":desc") {
            (f, true)
        } else {
            (t.strip_suffix(":asc").unwrap_or(t), false)
        };
        let field = field.trim().to_lowercase();
        if field.is_empty() {
            return Err(Error::invalid("sort", "name a field to sort by"));
        }
        Ok(Sort { field, descending })
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            if self.descending { "-" } else { "" },
            self.field
        )
    }
}

/// How a built-in field compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    /// Decimal text or an integer.
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 UTC text; compared with a date, its day.
    Time,
}

/// A built-in field: its name in filters and its SQL over the row `r`.
struct Builtin {
    name: &'static str,
    sql: &'static str,
    kind: Kind,
}

const fn b(name: &'static str, sql: &'static str, kind: Kind) -> Builtin {
    Builtin { name, sql, kind }
}

const CONTACT_FIELDS: &[Builtin] = &[
    b("name", "r.display_name", Kind::Text),
    b("first_name", "r.first_name", Kind::Text),
    b("last_name", "r.last_name", Kind::Text),
    b("title", "r.title", Kind::Text),
    b(
        "company",
        "(SELECT co.name FROM companies co WHERE co.id = r.company_id AND co.deleted_at IS NULL)",
        Kind::Text,
    ),
    b("stage", "r.lifecycle_stage", Kind::Text),
    b("owner", "r.owner", Kind::Text),
    b("source", "r.source", Kind::Text),
    b("notes", "r.notes", Kind::Text),
    b(
        "email",
        "(SELECT e.address FROM contact_emails e WHERE e.contact_id = r.id AND e.deleted_at IS NULL ORDER BY e.position, e.rk LIMIT 1)",
        Kind::Text,
    ),
    b(
        "phone",
        "(SELECT p.number FROM contact_phones p WHERE p.contact_id = r.id AND p.deleted_at IS NULL ORDER BY p.position, p.rk LIMIT 1)",
        Kind::Text,
    ),
    b("stay_in_touch_days", "r.stay_in_touch_days", Kind::Number),
    b("created_at", "r.created_at", Kind::Time),
];

const COMPANY_FIELDS: &[Builtin] = &[
    b("name", "r.name", Kind::Text),
    b("domain", "r.domain", Kind::Text),
    b("industry", "r.industry", Kind::Text),
    b("size", "r.size", Kind::Text),
    b("city", "r.city", Kind::Text),
    b("region", "r.region", Kind::Text),
    b("country", "r.country", Kind::Text),
    b("created_at", "r.created_at", Kind::Time),
];

const DEAL_FIELDS: &[Builtin] = &[
    b("title", "r.title", Kind::Text),
    b("amount", "r.amount", Kind::Number),
    b("currency", "r.currency", Kind::Text),
    b(
        "stage",
        "(SELECT s.name FROM pipeline_stages s WHERE s.id = r.stage_id)",
        Kind::Text,
    ),
    b(
        "pipeline",
        "(SELECT pl.name FROM pipelines pl WHERE pl.id = r.pipeline_id)",
        Kind::Text,
    ),
    b("status", "r.status", Kind::Text),
    b(
        "contact",
        "(SELECT c.display_name FROM contacts c WHERE c.id = r.contact_id AND c.deleted_at IS NULL)",
        Kind::Text,
    ),
    b(
        "company",
        "(SELECT co.name FROM companies co WHERE co.id = r.company_id AND co.deleted_at IS NULL)",
        Kind::Text,
    ),
    b("expected_close", "r.expected_close", Kind::Date),
    b("owner", "r.owner", Kind::Text),
    b("close_reason", "r.close_reason", Kind::Text),
    b("notes", "r.notes", Kind::Text),
    b("closed_at", "r.closed_at", Kind::Time),
    b("created_at", "r.created_at", Kind::Time),
];

const TICKET_FIELDS: &[Builtin] = &[
    b("subject", "r.subject", Kind::Text),
    b("description", "r.description", Kind::Text),
    b("status", "r.status", Kind::Text),
    b("priority", "r.priority", Kind::Text),
    b(
        "contact",
        "(SELECT c.display_name FROM contacts c WHERE c.id = r.contact_id AND c.deleted_at IS NULL)",
        Kind::Text,
    ),
    b(
        "company",
        "(SELECT co.name FROM companies co WHERE co.id = r.company_id AND co.deleted_at IS NULL)",
        Kind::Text,
    ),
    b("assignee", "r.assignee", Kind::Text),
    b("created_by", "r.created_by", Kind::Text),
    b("due_at", "r.due_at", Kind::Time),
    b("closed_at", "r.closed_at", Kind::Time),
    b("created_at", "r.created_at", Kind::Time),
];

/// What a list of one entity is made of.
struct Spec {
    builtins: &'static [Builtin],
    /// The label column, and the default order.
    label: &'static str,
    default_order: &'static str,
    tag: Option<tags::Taggable>,
}

fn spec(entity: FieldEntity) -> Spec {
    match entity {
        FieldEntity::Contact => Spec {
            builtins: CONTACT_FIELDS,
            label: "r.display_name",
            default_order: "r.display_name COLLATE NOCASE, r.id",
            tag: Some(tags::Taggable::Contact),
        },
        FieldEntity::Company => Spec {
            builtins: COMPANY_FIELDS,
            label: "r.name",
            default_order: "r.name COLLATE NOCASE, r.id",
            tag: Some(tags::Taggable::Company),
        },
        FieldEntity::Deal => Spec {
            builtins: DEAL_FIELDS,
            label: "r.title",
            default_order: "r.title COLLATE NOCASE, r.id",
            tag: Some(tags::Taggable::Deal),
        },
        FieldEntity::Ticket => Spec {
            builtins: TICKET_FIELDS,
            label: "r.subject",
            default_order: "r.created_at DESC, r.id",
            tag: None,
        },
    }
}

fn tag_link(kind: tags::Taggable) -> (&'static str, &'static str) {
    match kind {
        tags::Taggable::Contact => ("contact_tags", "contact_id"),
        tags::Taggable::Company => ("company_tags", "company_id"),
        tags::Taggable::Deal => ("deal_tags", "deal_id"),
    }
}

/// SQL for the `number_key` of a decimal text or integer expression; the
/// text is made canonical first (no trailing zeros), as stored values are.
fn number_key_sql(expr: &str) -> String {
    let t = format!(
        "(CASE WHEN instr(CAST({expr} AS TEXT), '.') > 0 \
           THEN rtrim(rtrim(CAST({expr} AS TEXT), '0'), '.') ELSE CAST({expr} AS TEXT) END)"
    );
    let mut flip = format!("substr({t}, 2)");
    for d in 0..10u8 {
        flip = format!("replace({flip}, '{d}', '{}')", (b'a' + 9 - d) as char);
    }
    for i in 0..10u8 {
        flip = format!("replace({flip}, '{}', '{i}')", (b'a' + i) as char);
    }
    format!(
        "(CASE WHEN {t} GLOB '[0-9]*' AND {t} NOT GLOB '*[^0-9.]*' \
              THEN 'p' || printf('%03d', instr({t} || '.', '.') - 1) || {t} \
          WHEN {t} GLOB '-[0-9]*' AND substr({t}, 2) NOT GLOB '*[^0-9.]*' \
              THEN 'n' || printf('%03d', 999 - (instr({t} || '.', '.') - 2)) || {flip} || '~' END)"
    )
}

/// A bound parameter.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
}

/// SQL text with its parameters, in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn bind(&mut self, value: impl Into<String>) {
        self.text.push('?');
        self.binds.push(Bind::Text(value.into()));
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::QueryAs<'q, Sqlite, (i64,), sqlx::sqlite::SqliteArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryAs<'q, Sqlite, (i64,), sqlx::sqlite::SqliteArguments<'q>> {
    for b in binds {
        match b {
            Bind::Text(t) => query = query.bind(t.as_str()),
        }
    }
    query
}

/// What a filter's field name refers to.
enum Target<'s> {
    Builtin(&'s Builtin),
    Custom(CustomField),
    Tag(tags::Taggable),
}

async fn resolve<'s>(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    spec: &'s Spec,
    field: &str,
    error_field: &str,
) -> Result<Target<'s>> {
    let name = field.trim().to_lowercase();
    if name == "tag" || name == "tags" {
        return spec.tag.map(Target::Tag).ok_or_else(|| {
            Error::invalid(error_field, format!("{}s have no tags", entity.as_str()))
        });
    }
    if let Some(b) = spec.builtins.iter().find(|b| b.name == name) {
        return Ok(Target::Builtin(b));
    }
    match custom_fields::find_in(conn, entity, field).await {
        Ok(f) => Ok(Target::Custom(f)),
        Err(Error::NotFound { .. }) => Err(Error::invalid(
            error_field,
            format!(
                "{}s have no field \"{}\" (built in: {}; custom: see `hub field list {}`)",
                entity.as_str(),
                field.trim(),
                spec.builtins
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                entity.as_str()
            ),
        )),
        Err(e) => Err(e),
    }
}

fn op_error(error_field: &str, op: Op, what: &str) -> Error {
    Error::invalid(
        error_field,
        format!("\"{}\" does not apply to {what}", op.symbol()),
    )
}

/// A time operand: a date (its day) or an RFC 3339 time (made UTC).
fn time_operand(value: &str, error_field: &str) -> Result<(String, bool)> {
    if let Ok(d) = parse_date(value, error_field) {
        return Ok((d.to_string(), true));
    }
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| {
            (
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                false,
            )
        })
        .map_err(|_| {
            Error::invalid(
                error_field,
                format!("\"{value}\" is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

fn compare(op: Op) -> &'static str {
    match op {
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        _ => "=",
    }
}

/// Append `AND (...)` for one condition on a built-in field.
fn builtin_condition(sql: &mut Sql, b: &Builtin, c: &Condition, error_field: &str) -> Result<()> {
    let value = c.value.clone().unwrap_or_default();
    let e = b.sql;
    match (c.op, b.kind) {
        (Op::IsSet, _) => sql.push(&format!(" AND ({e} IS NOT NULL AND {e} <> '')")),
        (Op::NotSet, _) => sql.push(&format!(" AND ({e} IS NULL OR {e} = '')")),
        (Op::HasTag | Op::LacksTag, _) => return Err(op_error(error_field, c.op, b.name)),
        (Op::Contains, Kind::Text) => {
            sql.push(&format!(" AND instr(lower({e}), "));
            sql.bind(value.to_lowercase());
            sql.push(") > 0");
        }
        (Op::Contains, _) => return Err(op_error(error_field, c.op, b.name)),
        (Op::Eq | Op::Ne, Kind::Text) => {
            let not = if c.op == Op::Ne { "NOT " } else { "" };
            sql.push(&format!(" AND {not}coalesce({e} = "));
            sql.bind(value);
            sql.push(" COLLATE NOCASE, 0)");
        }
        (_, Kind::Text) => return Err(op_error(error_field, c.op, b.name)),
        (op, Kind::Number) => {
            let key = custom_fields::number_key(parse_number(&value, error_field)?);
            let cmp = match op {
                Op::Ne => "<>",
                op => compare(op),
            };
            let null_ok = if op == Op::Ne { " OR {e} IS NULL" } else { "" };
            sql.push(&format!(" AND ({} {cmp} ", number_key_sql(e)));
            sql.bind(key);
            sql.push(&format!("{})", null_ok.replace("{e}", e)));
        }
        (op, Kind::Date | Kind::Time) => {
            let (operand, is_day) = if b.kind == Kind::Date {
                (parse_date(&value, error_field)?.to_string(), true)
            } else {
                time_operand(&value, error_field)?
            };
            // A time compared with a date compares its day.
            let lhs = if b.kind == Kind::Time && is_day {
                format!("substr({e}, 1, 10)")
            } else {
                e.to_owned()
            };
            match op {
                Op::Ne => {
                    sql.push(&format!(" AND ({e} IS NULL OR {lhs} <> "));
                    sql.bind(operand);
                    sql.push(")");
                }
                op => {
                    sql.push(&format!(" AND {lhs} {} ", compare(op)));
                    sql.bind(operand);
                }
            }
        }
    }
    Ok(())
}

/// Append `AND r.id [NOT] IN (rows whose value of field f matches)`.
fn custom_condition(
    sql: &mut Sql,
    f: &CustomField,
    c: &Condition,
    error_field: &str,
) -> Result<()> {
    let value = c.value.clone().unwrap_or_default();
    let what = format!("{} fields", f.field_type.as_str().replace('_', " "));
    // (negated, match on v.value, its operand)
    let (negate, test, operand): (bool, &str, Option<String>) = match (c.op, f.field_type) {
        (Op::IsSet, _) => (false, "v.value <> '[]'", None),
        (Op::NotSet, _) => (true, "v.value <> '[]'", None),
        (Op::HasTag | Op::LacksTag, _) => return Err(op_error(error_field, c.op, &what)),
        (Op::Eq | Op::Ne, FieldType::Text) => {
            (c.op == Op::Ne, "v.value = ? COLLATE NOCASE", Some(value))
        }
        (Op::Contains, FieldType::Text) => (
            false,
            "instr(lower(v.value), ?) > 0",
            Some(value.to_lowercase()),
        ),
        (Op::Eq | Op::Ne, FieldType::Select) => (
            c.op == Op::Ne,
            "v.value = ? COLLATE NOCASE",
            Some(parse_option(f, &value, error_field)?.to_owned()),
        ),
        (Op::Eq | Op::Ne | Op::Contains, FieldType::MultiSelect) => (
            c.op == Op::Ne,
            "EXISTS (SELECT 1 FROM json_each(v.value) j WHERE j.value = ?)",
            Some(parse_option(f, &value, error_field)?.to_owned()),
        ),
        (Op::Eq | Op::Ne, FieldType::Checkbox) => {
            // Unchecked includes never set.
            let checked = parse_checkbox(&value, error_field)?;
            ((c.op == Op::Ne) == checked, "v.value = 'true'", None)
        }
        (op, FieldType::Number) if op != Op::Contains => {
            let key = custom_fields::number_key(parse_number(&value, error_field)?);
            match op {
                Op::Eq => (false, "v.num_key = ?", Some(key)),
                Op::Ne => (true, "v.num_key = ?", Some(key)),
                Op::Gt => (false, "v.num_key > ?", Some(key)),
                Op::Gte => (false, "v.num_key >= ?", Some(key)),
                Op::Lt => (false, "v.num_key < ?", Some(key)),
                _ => (false, "v.num_key <= ?", Some(key)),
            }
        }
        (op, FieldType::Date) if op != Op::Contains => {
            let day = parse_date(&value, error_field)?.to_string();
            // Dates are digits and dashes: NOCASE order is their order, and
            // it is the collation of the index.
            match op {
                Op::Eq => (false, "v.value = ? COLLATE NOCASE", Some(day)),
                Op::Ne => (true, "v.value = ? COLLATE NOCASE", Some(day)),
                Op::Gt => (false, "v.value > ? COLLATE NOCASE", Some(day)),
                Op::Gte => (false, "v.value >= ? COLLATE NOCASE", Some(day)),
                Op::Lt => (false, "v.value < ? COLLATE NOCASE", Some(day)),
                _ => (false, "v.value <= ? COLLATE NOCASE", Some(day)),
            }
        }
        (op, _) => return Err(op_error(error_field, op, &what)),
    };
    let not = if negate { "NOT " } else { "" };
    sql.push(&format!(
        " AND r.id {not}IN (SELECT v.row_id FROM custom_values v WHERE v.field_id = "
    ));
    sql.bind(f.id.to_string());
    // Only what the partial index's condition needs, so the index covers
    // the test: a number's key is set only when its value is.
    sql.push(if f.field_type == FieldType::Number && operand.is_some() {
        " AND v.deleted_at IS NULL AND "
    } else {
        " AND v.value IS NOT NULL AND v.deleted_at IS NULL AND "
    });
    match operand {
        Some(operand) => {
            let (before, after) = test.split_once('?').unwrap_or((test, ""));
            sql.push(before);
            sql.bind(operand);
            sql.push(after);
        }
        None => sql.push(test),
    }
    sql.push(")");
    Ok(())
}

fn tag_condition(
    sql: &mut Sql,
    kind: tags::Taggable,
    c: &Condition,
    error_field: &str,
) -> Result<()> {
    let (link, col) = tag_link(kind);
    let (not, tag) = match c.op {
        Op::HasTag | Op::Eq => ("", c.value.as_deref()),
        Op::LacksTag | Op::Ne => ("NOT ", c.value.as_deref()),
        Op::IsSet => ("", None),
        Op::NotSet => ("NOT ", None),
        op => return Err(op_error(error_field, op, "tags")),
    };
    sql.push(&format!(" AND r.id {not}IN (SELECT l.{col} FROM {link} l "));
    match tag {
        Some(name) => {
            sql.push("WHERE l.deleted_at IS NULL AND l.tag_id = ");
            sql.bind(tags::tag_id(name).to_string());
            sql.push(")");
        }
        None => sql.push(
            "JOIN tags t ON t.id = l.tag_id WHERE l.deleted_at IS NULL AND t.deleted_at IS NULL)",
        ),
    }
    Ok(())
}

/// One record of a filtered list: its built-in fields by name, its tags and
/// its set custom fields by key (typed as in `custom_fields::FieldValue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ListItem {
    pub id: Uuid,
    /// Name, title or subject.
    pub label: String,
    #[ts(type = "Record<string, unknown>")]
    pub fields: Map<String, Value>,
    pub tags: Vec<String>,
    #[ts(type = "Record<string, string | string[] | boolean>")]
    pub custom_fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RecordPage {
    pub total: u32,
    pub items: Vec<ListItem>,
}

/// Check a filter and sort against an entity's fields without running
/// them (what saving a view does): unknown fields, operators that do not
/// apply and values of the wrong type are errors.
pub async fn check(
    store: &Store,
    entity: FieldEntity,
    filter: &Filter,
    sort: Option<&Sort>,
) -> Result<()> {
    let mut conn = store.pool().acquire().await?;
    build(&mut conn, entity, filter, sort).await.map(|_| ())
}

/// The WHERE clause (after `r.deleted_at IS NULL`) and the ORDER BY.
async fn build(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    filter: &Filter,
    sort: Option<&Sort>,
) -> Result<(Sql, Order)> {
    if !table_exists(conn, entity.table()).await? {
        return Err(Error::invalid(
            "entity",
            format!("this database has no {}s yet", entity.as_str()),
        ));
    }
    let spec = spec(entity);
    let mut filter_sql = Sql::default();
    for (i, c) in filter.conditions.iter().enumerate() {
        let error_field = format!("filter[{i}]");
        if c.op.takes_value() && c.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            return Err(Error::invalid(
                &error_field,
                format!("\"{c}\" needs a value"),
            ));
        }
        let target = if matches!(c.op, Op::HasTag | Op::LacksTag) {
            match spec.tag {
                Some(kind) => Target::Tag(kind),
                None => {
                    return Err(Error::invalid(
                        &error_field,
                        format!("{}s have no tags", entity.as_str()),
                    ))
                }
            }
        } else {
            resolve(conn, entity, &spec, &c.field, &error_field).await?
        };
        match target {
            Target::Builtin(b) => builtin_condition(&mut filter_sql, b, c, &error_field)?,
            Target::Custom(f) => custom_condition(&mut filter_sql, &f, c, &error_field)?,
            Target::Tag(kind) => tag_condition(&mut filter_sql, kind, c, &error_field)?,
        }
    }
    let mut order = Sql::default();
    if let Some(sort) = sort {
        let dir = if sort.descending { "DESC" } else { "ASC" };
        match resolve(conn, entity, &spec, &sort.field, "sort").await? {
            Target::Builtin(b) => {
                let key = match b.kind {
                    Kind::Number => number_key_sql(b.sql),
                    Kind::Text => format!("{} COLLATE NOCASE", b.sql),
                    Kind::Date | Kind::Time => b.sql.to_owned(),
                };
                order.push(&format!("{key} {dir} NULLS LAST, "));
            }
            Target::Custom(f) => {
                return Ok((
                    filter_sql,
                    Order::Custom {
                        field: f.id,
                        number: f.field_type == FieldType::Number,
                        dir,
                    },
                ));
            }
            Target::Tag(_) => {
                return Err(Error::invalid("sort", "a list cannot be sorted by tag"));
            }
        }
    }
    order.push(spec.default_order);
    Ok((filter_sql, Order::Sql(order)))
}

/// How a page is ordered.
enum Order {
    /// An ORDER BY over the row `r`.
    Sql(Sql),
    /// By a custom field: records with a value first, in the index's order
    /// of the value (ties by record id), then those without, in the
    /// entity's usual order.
    Custom {
        field: Uuid,
        number: bool,
        dir: &'static str,
    },
}

/// A page of live records of `entity` that pass `filter`, in `sort` order
/// (then the entity's usual order), with the total that pass.
pub async fn query(
    store: &Store,
    entity: FieldEntity,
    filter: &Filter,
    sort: Option<&Sort>,
    offset: u32,
    limit: u32,
) -> Result<RecordPage> {
    let mut conn = store.pool().acquire().await?;
    let (filter_sql, order) = build(&mut conn, entity, filter, sort).await?;
    let spec = spec(entity);
    let table = entity.table();
    let limit = limit.min(1000);
    let where_sql = format!("r.deleted_at IS NULL{}", filter_sql.text);

    let count_sql = format!("SELECT count(*) FROM {table} r WHERE {where_sql}");
    let (total,): (i64,) = bind_all(sqlx::query_as(&count_sql), &filter_sql.binds)
        .fetch_one(&mut *conn)
        .await?;

    let rks: Vec<i64> = match order {
        Order::Sql(order) => {
            let page_sql = format!(
                "SELECT r.rk FROM {table} r WHERE {where_sql} ORDER BY {} LIMIT {limit} OFFSET {offset}",
                order.text,
            );
            let mut binds = filter_sql.binds.clone();
            binds.extend(order.binds.iter().cloned());
            let page: Vec<(i64,)> = bind_all(sqlx::query_as(&page_sql), &binds)
                .fetch_all(&mut *conn)
                .await?;
            page.into_iter().map(|(rk,)| rk).collect()
        }
        Order::Custom { field, number, dir } => {
            // The value index in order, each entry's record looked up by
            // id: a first page reads about a page of entries, not them all.
            let (column, set) = if number {
                ("v.num_key", "v.num_key IS NOT NULL")
            } else {
                ("v.value COLLATE NOCASE", "v.value IS NOT NULL")
            };
            let valued = format!(
                "FROM custom_values v CROSS JOIN {table} r ON r.id = v.row_id
                 WHERE v.field_id = ? AND v.deleted_at IS NULL AND {set}
                   AND {where_sql}"
            );
            let mut binds = vec![Bind::Text(field.to_string())];
            binds.extend(filter_sql.binds.iter().cloned());
            let page_sql = format!(
                "SELECT r.rk {valued} ORDER BY {column} {dir}, v.row_id {dir} LIMIT {limit} OFFSET {offset}"
            );
            let page: Vec<(i64,)> = bind_all(sqlx::query_as(&page_sql), &binds)
                .fetch_all(&mut *conn)
                .await?;
            let mut rks: Vec<i64> = page.into_iter().map(|(rk,)| rk).collect();
            if (rks.len() as u32) < limit {
                // Past the records with a value: those without, after them.
                let (with_value,): (i64,) =
                    bind_all(sqlx::query_as(&format!("SELECT count(*) {valued}")), &binds)
                        .fetch_one(&mut *conn)
                        .await?;
                let skip = i64::from(offset).saturating_sub(with_value).max(0);
                let rest_sql = format!(
                    "SELECT r.rk FROM {table} r WHERE {where_sql}
                       AND r.id NOT IN (SELECT v.row_id FROM custom_values v WHERE v.field_id = ?
                                          AND v.deleted_at IS NULL AND {set})
                     ORDER BY {} LIMIT {} OFFSET {skip}",
                    spec.default_order,
                    limit - rks.len() as u32,
                );
                let mut rest_binds = filter_sql.binds.clone();
                rest_binds.push(Bind::Text(field.to_string()));
                let rest: Vec<(i64,)> = bind_all(sqlx::query_as(&rest_sql), &rest_binds)
                    .fetch_all(&mut *conn)
                    .await?;
                rks.extend(rest.into_iter().map(|(rk,)| rk));
            }
            rks
        }
    };

    let items = if rks.is_empty() {
        Vec::new()
    } else {
        records(&mut conn, entity, &spec, &rks).await?
    };
    Ok(RecordPage {
        total: total as u32,
        items,
    })
}

/// The page's records, in the order of `rks`.
async fn records(
    conn: &mut SqliteConnection,
    entity: FieldEntity,
    spec: &Spec,
    rks: &[i64],
) -> Result<Vec<ListItem>> {
    let table = entity.table();
    let fields_sql = spec
        .builtins
        .iter()
        .map(|b| format!("'{}', {}", b.name, b.sql))
        .collect::<Vec<_>>()
        .join(", ");
    let tags_sql = match spec.tag {
        Some(kind) => {
            let (link, col) = tag_link(kind);
            format!(
                "(SELECT json_group_array(t.name) FROM {link} l JOIN tags t ON t.id = l.tag_id
                   WHERE l.{col} = r.id AND l.deleted_at IS NULL AND t.deleted_at IS NULL)"
            )
        }
        None => "'[]'".into(),
    };
    let sql = format!(
        "SELECT r.rk, r.id, {label}, json_object({fields_sql}), {tags_sql},
                (SELECT json_group_array(json_array(f.key, f.field_type, v.value))
                   FROM custom_values v JOIN custom_fields f ON f.id = v.field_id
                  WHERE v.row_id = r.id AND v.value IS NOT NULL AND v.deleted_at IS NULL
                    AND f.deleted_at IS NULL AND f.entity = ?)
           FROM json_each(?) j CROSS JOIN {table} r ON r.rk = j.value",
        label = spec.label,
    );
    type RecordRow = (i64, String, Option<String>, String, String, String);
    let rows: Vec<RecordRow> = sqlx::query_as(&sql)
        .bind(entity.as_str())
        .bind(serde_json::to_string(rks).unwrap_or_default())
        .fetch_all(conn)
        .await?;
    let mut out: Vec<(usize, ListItem)> = rows
        .into_iter()
        .filter_map(|(rk, id, label, fields, tags, custom)| {
            let mut tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
            tags.sort_by_key(|t| t.to_lowercase());
            let custom: Vec<(String, String, String)> =
                serde_json::from_str(&custom).unwrap_or_default();
            let custom_fields = custom
                .into_iter()
                .filter_map(|(key, field_type, value)| {
                    let t = FieldType::parse(&field_type).ok()?;
                    Some((key, custom_fields::typed_value(t, &value)))
                })
                .collect();
            Some((
                rks.iter().position(|r| *r == rk)?,
                ListItem {
                    id: Uuid::parse_str(&id).ok()?,
                    label: label.unwrap_or_default(),
                    fields: serde_json::from_str(&fields).unwrap_or_default(),
                    tags,
                    custom_fields,
                },
            ))
        })
        .collect();
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

/// Parse conditions in their text form (`Condition::parse`).
pub fn parse_filter(texts: &[String]) -> Result<Filter> {
    Ok(Filter {
        conditions: texts
            .iter()
            .map(|t| Condition::parse(t))
            .collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{self, ContactInput, LifecycleStage};
    use crate::custom_fields::FieldInput;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn conds(texts: &[&str]) -> Filter {
        parse_filter(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
    }

    async fn names(store: &Store, filter: &[&str], sort: Option<&str>) -> Vec<String> {
        let sort = sort.map(|s| Sort::parse(s).unwrap());
        query(
            store,
            FieldEntity::Contact,
            &conds(filter),
            sort.as_ref(),
            0,
            100,
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.label)
        .collect()
    }

    async fn fixture() -> Store {
        let store = Store::open_in_memory().await.unwrap();
        let c = FieldEntity::Contact;
        for (label, t, options) in [
            ("Budget", FieldType::Number, vec![]),
            ("Renewal", FieldType::Date, vec![]),
            ("Tier", FieldType::Select, vec!["Gold", "Silver"]),
            ("Interests", FieldType::MultiSelect, vec!["CRM", "API"]),
            ("Newsletter", FieldType::Checkbox, vec![]),
            ("Nickname", FieldType::Text, vec![]),
        ] {
            custom_fields::add(
                &store,
                FieldInput {
                    entity: c,
                    label: label.into(),
                    field_type: t,
                    options: options.into_iter().map(String::from).collect(),
                },
            )
            .await
            .unwrap();
        }
        let people = [
            (
                "Ada",
                LifecycleStage::Customer,
                vec!["VIP"],
                vec![
                    ("budget", "1000.5"),
                    ("renewal", "2027-01-31"),
                    ("tier", "Gold"),
                    ("interests", "CRM,API"),
                    ("newsletter", "yes"),
                    ("nickname", "Countess"),
                ],
            ),
            (
                "Bob",
                LifecycleStage::Lead,
                vec![],
                vec![
                    ("budget", "-20"),
                    ("renewal", "2026-06-01"),
                    ("tier", "Silver"),
                    ("interests", "API"),
                    ("newsletter", "no"),
                ],
            ),
            (
                "Cy",
                LifecycleStage::Lead,
                vec!["VIP", "Partner"],
                vec![("budget", "99999999999999999999.99")],
            ),
            ("Dee", LifecycleStage::Prospect, vec![], vec![]),
        ];
        for (name, stage, tags, values) in people {
            let id = contacts::create(
                &store,
                ContactInput {
                    display_name: Some(name.into()),
                    lifecycle_stage: stage,
                    tags: tags.into_iter().map(String::from).collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id;
            let values: Vec<(String, String)> = values
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if !values.is_empty() {
                custom_fields::set_values(&store, c, id, &values)
                    .await
                    .unwrap();
            }
        }
        store
    }

    #[tokio::test]
    async fn conditions_over_builtin_custom_fields_and_tags() {
        let store = fixture().await;
        assert_eq!(names(&store, &[], None).await, ["Ada", "Bob", "Cy", "Dee"]);
        assert_eq!(names(&store, &["stage=LEAD"], None).await, ["Bob", "Cy"]);
        assert_eq!(names(&store, &["stage!=lead"], None).await, ["Ada", "Dee"]);
        assert_eq!(names(&store, &["name~d"], None).await, ["Ada", "Dee"]);
        assert_eq!(names(&store, &["budget>1000"], None).await, ["Ada", "Cy"]);
        assert_eq!(
            names(&store, &["budget>=1000.50"], None).await,
            ["Ada", "Cy"]
        );
        assert_eq!(names(&store, &["budget>1000.5"], None).await, ["Cy"]);
        assert_eq!(names(&store, &["budget<0"], None).await, ["Bob"]);
        assert_eq!(names(&store, &["budget=-20.0"], None).await, ["Bob"]);
        assert_eq!(
            names(&store, &["budget!=-20"], None).await,
            ["Ada", "Cy", "Dee"]
        );
        assert_eq!(names(&store, &["budget:unset"], None).await, ["Dee"]);
        assert_eq!(names(&store, &["renewal<2027-01-01"], None).await, ["Bob"]);
        assert_eq!(names(&store, &["renewal:set"], None).await, ["Ada", "Bob"]);
        assert_eq!(names(&store, &["tier=gold"], None).await, ["Ada"]);
        assert_eq!(
            names(&store, &["tier!=gold"], None).await,
            ["Bob", "Cy", "Dee"]
        );
        assert_eq!(
            names(&store, &["interests=api"], None).await,
            ["Ada", "Bob"]
        );
        assert_eq!(names(&store, &["interests~CRM"], None).await, ["Ada"]);
        assert_eq!(names(&store, &["newsletter=yes"], None).await, ["Ada"]);
        assert_eq!(
            names(&store, &["newsletter=no"], None).await,
            ["Bob", "Cy", "Dee"]
        );
        assert_eq!(names(&store, &["nickname~COUNT"], None).await, ["Ada"]);
        assert_eq!(names(&store, &["tag=vip"], None).await, ["Ada", "Cy"]);
        assert_eq!(names(&store, &["tag!=VIP"], None).await, ["Bob", "Dee"]);
        assert_eq!(names(&store, &["tag:unset"], None).await, ["Bob", "Dee"]);
        assert_eq!(
            names(&store, &["tag=vip", "budget<1001"], None).await,
            ["Ada"]
        );
        assert_eq!(
            names(&store, &["created_at>2000-01-01"], None).await.len(),
            4
        );
        assert!(names(&store, &["tag=nobody"], None).await.is_empty());
    }

    #[tokio::test]
    async fn sorts_by_builtin_and_custom_fields_with_unset_last() {
        let store = fixture().await;
        assert_eq!(
            names(&store, &[], Some("-name")).await,
            ["Dee", "Cy", "Bob", "Ada"]
        );
        assert_eq!(
            names(&store, &[], Some("budget")).await,
            ["Bob", "Ada", "Cy", "Dee"]
        );
        assert_eq!(
            names(&store, &[], Some("budget:desc")).await,
            ["Cy", "Ada", "Bob", "Dee"]
        );
        assert_eq!(
            names(&store, &[], Some("renewal")).await,
            ["Bob", "Ada", "Cy", "Dee"]
        );
        // Pages across the records with a value and those without.
        let page = |sort: &'static str, offset, limit| {
            let store = store.clone();
            async move {
                query(
                    &store,
                    FieldEntity::Contact,
                    &Filter::default(),
                    Some(&Sort::parse(sort).unwrap()),
                    offset,
                    limit,
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|r| r.label)
                .collect::<Vec<_>>()
            }
        };
        assert_eq!(page("budget", 1, 2).await, ["Ada", "Cy"]);
        assert_eq!(page("budget", 2, 2).await, ["Cy", "Dee"]);
        assert_eq!(page("budget", 3, 5).await, ["Dee"]);
        assert_eq!(page("renewal", 1, 2).await, ["Ada", "Cy"]);
        assert_eq!(page("renewal", 3, 2).await, ["Dee"]);
        assert!(page("renewal", 4, 2).await.is_empty());
        let filtered = query(
            &store,
            FieldEntity::Contact,
            &conds(&["stage=lead"]),
            Some(&Sort::parse("-budget").unwrap()),
            0,
            10,
        )
        .await
        .unwrap();
        assert_eq!(filtered.total, 2);
        assert_eq!(
            filtered
                .items
                .iter()
                .map(|r| r.label.as_str())
                .collect::<Vec<_>>(),
            ["Cy", "Bob"]
        );
        assert_eq!(
            names(&store, &[], Some("stage")).await,
            ["Ada", "Bob", "Cy", "Dee"]
        );
    }

    #[tokio::test]
    async fn records_carry_fields_tags_and_typed_custom_values() {
        let store = fixture().await;
        let page = query(
            &store,
            FieldEntity::Contact,
            &conds(&["name=ada"]),
            None,
            0,
            10,
        )
        .await
        .unwrap();
        assert_eq!(page.total, 1);
        let ada = &page.items[0];
        assert_eq!(ada.fields["stage"], "customer");
        assert_eq!(ada.tags, ["VIP"]);
        assert_eq!(ada.custom_fields["budget"], "1000.5");
        assert_eq!(
            ada.custom_fields["interests"],
            serde_json::json!(["CRM", "API"])
        );
        assert_eq!(ada.custom_fields["newsletter"], true);
        // Paging keeps the order and the total.
        let page = query(&store, FieldEntity::Contact, &Filter::default(), None, 1, 2)
            .await
            .unwrap();
        assert_eq!(page.total, 4);
        assert_eq!(
            page.items
                .iter()
                .map(|r| r.label.as_str())
                .collect::<Vec<_>>(),
            ["Bob", "Cy"]
        );
    }

    #[tokio::test]
    async fn bad_filters_are_typed_errors() {
        let store = fixture().await;
        for (filter, says) in [
            ("budget>lots", "\"lots\" is not a number"),
            ("renewal>soon", "not a date"),
            ("tier=Bronze", "not an option of Tier"),
            ("newsletter=maybe", "not yes or no"),
            ("shoe_size=4", "no field \"shoe_size\""),
            ("stage>lead", "does not apply"),
            ("budget~1", "does not apply"),
            ("created_at>yesterday", "not a date"),
        ] {
            let err = query(&store, FieldEntity::Contact, &conds(&[filter]), None, 0, 10)
                .await
                .unwrap_err();
            assert_eq!(err.code(), "validation", "{filter}");
            assert!(err.to_string().contains(says), "{filter}: {err}");
        }
        for text in ["budget", "=3", "budget=", "tag!="] {
            assert!(Condition::parse(text).is_err(), "{text}");
        }
        let err = query(
            &store,
            FieldEntity::Contact,
            &Filter::default(),
            Some(&Sort::parse("tag").unwrap()),
            0,
            10,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "validation");
    }

    #[test]
    fn conditions_and_sorts_round_trip_through_text() {
        for text in [
            "budget>=10",
            "name~ad",
            "tag=VIP",
            "tag!=VIP",
            "renewal:unset",
            "tier!=Gold",
            "x<3",
            "x<=3",
            "x>3",
            "x:set",
        ] {
            assert_eq!(Condition::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Condition::parse("Tags = VIP").unwrap().op, Op::HasTag);
        assert_eq!(Sort::parse("budget:desc").unwrap().to_string(), "-budget");
        assert_eq!(Sort::parse("name").unwrap().to_string(), "name");
    }

    #[tokio::test]
    async fn deals_and_tickets_filter_on_their_own_fields_tags_and_custom_fields() {
        use crate::entities::{DEAL, PIPELINE_STAGE, TICKET};
        use serde_json::json;
        let store = Store::open_in_memory().await.unwrap();
        let stage = Uuid::now_v7();
        let mut tx = store.write().await.unwrap();
        tx.insert(&PIPELINE_STAGE, stage, vec![("name", json!("Proposal"))])
            .await
            .unwrap();
        let mut deals = Vec::new();
        for (title, amount, close) in [
            ("Big", "25000.00", "2027-02-01"),
            ("Small", "900.50", "2026-12-24"),
            ("Odd", "1000", "2027-01-15"),
        ] {
            let id = Uuid::now_v7();
            tx.insert(
                &DEAL,
                id,
                vec![
                    ("title", json!(title)),
                    ("amount", json!(amount)),
                    ("currency", json!("EUR")),
                    ("expected_close", json!(close)),
                    ("stage_id", json!(stage.to_string())),
                    ("status", json!("open")),
                ],
            )
            .await
            .unwrap();
            deals.push(id);
        }
        for (subject, priority, created) in [
            ("Login broken", "urgent", "2026-11-01T10:00:00.000Z"),
            ("Invoice copy", "low", "2026-11-20T10:00:00.000Z"),
        ] {
            tx.insert(
                &TICKET,
                Uuid::now_v7(),
                vec![
                    ("subject", json!(subject)),
                    ("priority", json!(priority)),
                    ("status", json!("open")),
                    ("created_at", json!(created)),
                ],
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        tags::add(&store, "Q1", None, &[(tags::Taggable::Deal, deals[0])])
            .await
            .unwrap();
        custom_fields::add(
            &store,
            FieldInput {
                entity: FieldEntity::Deal,
                label: "Seats".into(),
                field_type: FieldType::Number,
                options: vec![],
            },
        )
        .await
        .unwrap();
        custom_fields::set_values(
            &store,
            FieldEntity::Deal,
            deals[2],
            &[("seats".into(), "12".into())],
        )
        .await
        .unwrap();

        let run = |entity, filter: &'static [&'static str], sort: Option<&'static str>| {
            let store = store.clone();
            async move {
                let sort = sort.map(|s| Sort::parse(s).unwrap());
                query(&store, entity, &conds(filter), sort.as_ref(), 0, 100)
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|r| r.label)
                    .collect::<Vec<_>>()
            }
        };
        let d = FieldEntity::Deal;
        assert_eq!(
            run(d, &["amount>=1000"], Some("-amount")).await,
            ["Big", "Odd"]
        );
        assert_eq!(run(d, &["amount<1000"], None).await, ["Small"]);
        assert_eq!(run(d, &["amount=1000.0"], None).await, ["Odd"]);
        assert_eq!(
            run(d, &["expected_close<2027-01-31"], Some("expected_close")).await,
            ["Small", "Odd"]
        );
        assert_eq!(run(d, &["stage=proposal", "tag=q1"], None).await, ["Big"]);
        assert_eq!(run(d, &["seats>10"], None).await, ["Odd"]);
        assert_eq!(run(d, &[], Some("amount")).await, ["Small", "Odd", "Big"]);
        let t = FieldEntity::Ticket;
        assert_eq!(run(t, &[], None).await, ["Invoice copy", "Login broken"]);
        assert_eq!(run(t, &["priority=URGENT"], None).await, ["Login broken"]);
        assert_eq!(
            run(t, &["created_at>=2026-11-20"], None).await,
            ["Invoice copy"]
        );
        assert_eq!(
            run(t, &["created_at=2026-11-01"], None).await,
            ["Login broken"]
        );
        let err = query(&store, t, &conds(&["tag=x"]), None, 0, 10)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("tickets have no tags"), "{err}");
    }

    #[tokio::test]
    async fn the_number_key_sql_agrees_with_rust_for_padded_decimals() {
        let store = Store::open_in_memory().await.unwrap();
        for text in ["1234.50", "0.00", "10", "-0.50", "-12.0", "7", "100.000"] {
            let d = Decimal::from_str(text).unwrap();
            let key: Option<String> =
                sqlx::query_scalar(&format!("SELECT {}", number_key_sql("?1")))
                    .bind(text)
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(key.unwrap(), custom_fields::number_key(d), "{text}");
        }
    }
}
