//! The JSON rule format of a segment (docs/segments.md): parsing with clear
//! errors, and the checks that need the store (custom fields, stages, the base
//! currency).
//!
//! A rule is a tree: `{"all": [..]}`, `{"any": [..]}`, `{"not": {..}}` over
//! conditions, each a JSON object whose first key names its kind. Every error
//! names where it is, as a path from the root: `rule.all[2].op`.

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sqlx::SqliteConnection;

use crate::consent;
use crate::contacts::LifecycleStage;
use crate::custom_fields::{self, CustomField, FieldEntity, FieldType};
use crate::error::{Error, Result};
use crate::money;

/// The deepest a rule may nest, and the most conditions it may have.
pub const MAX_DEPTH: usize = 16;
pub const MAX_CONDITIONS: usize = 200;
/// Windows longer than this (100 years) are refused.
pub const MAX_DAYS: u32 = 36_500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    Contains,
    StartsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    IsSet,
    NotSet,
    Exists,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::In => "in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::IsSet => "is_set",
            Op::NotSet => "not_set",
            Op::Exists => "exists",
        }
    }

    const ALL: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::In,
        Op::Contains,
        Op::StartsWith,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::IsSet,
        Op::NotSet,
        Op::Exists,
    ];

    fn parse(text: &str) -> Option<Op> {
        let t = text.trim().to_lowercase();
        let t = match t.as_str() {
            "=" | "==" | "equals" => "eq",
            "!=" | "<>" | "not_equals" => "ne",
            ">" | "greater_than" => "gt",
            ">=" => "gte",
            "<" | "less_than" => "lt",
            "<=" => "lte",
            other => other,
        };
        Op::ALL.into_iter().find(|o| o.as_str() == t)
    }

    pub fn is_order(self) -> bool {
        matches!(self, Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    }

    fn takes_value(self) -> bool {
        !matches!(self, Op::IsSet | Op::NotSet | Op::Exists)
    }
}

/// How a built-in field compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// RFC 3339 UTC text; compared with a date, its day.
    Time,
    /// Any of several rows (emails, phones): a condition holds if one matches.
    Many,
}

/// A built-in field a rule may name.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    /// SQL over the contact row `c` (contact fields) or the company `co`.
    pub sql: &'static str,
    pub kind: FieldKind,
}

const fn f(name: &'static str, sql: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec { name, sql, kind }
}

pub static CONTACT_FIELDS: &[FieldSpec] = &[
    f("name", "c.display_name", FieldKind::Text),
    f("first_name", "c.first_name", FieldKind::Text),
    f("last_name", "c.last_name", FieldKind::Text),
    f("title", "c.title", FieldKind::Text),
    f("owner", "c.owner", FieldKind::Text),
    f("source", "c.source", FieldKind::Text),
    f("lifecycle_stage", "c.lifecycle_stage", FieldKind::Text),
    f("created_at", "c.created_at", FieldKind::Time),
    f(
        "company",
        "(SELECT co.name FROM companies co WHERE co.id = c.company_id AND co.deleted_at IS NULL)",
        FieldKind::Text,
    ),
    // For `Many` fields: the table, its contact column and its value column.
    f("email", "contact_emails|address", FieldKind::Many),
    f("phone", "contact_phones|number", FieldKind::Many),
];

pub static COMPANY_FIELDS: &[FieldSpec] = &[
    f("name", "name", FieldKind::Text),
    f("domain", "domain", FieldKind::Text),
    f("industry", "industry", FieldKind::Text),
    f("size", "size", FieldKind::Text),
    f("city", "city", FieldKind::Text),
    f("region", "region", FieldKind::Text),
    f("country", "country", FieldKind::Text),
    f("created_at", "created_at", FieldKind::Time),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Contact,
    Company,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMatch {
    /// SQLite GLOB: `*` any characters (slashes too), `?` one, `[..]` a class; case-sensitive.
    Glob,
    Prefix,
    Exact,
}

/// A test on one property of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyCondition {
    /// A JSON path into the event: `$."properties"."total"`.
    pub json_path: String,
    /// As written, for messages.
    pub name: String,
    pub op: Op,
    pub value: Value,
}

/// "did EVENT at least N times in the last D days".
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub event: Option<String>,
    pub event_type: Option<String>,
    pub path: Option<(PathMatch, String)>,
    pub properties: Vec<PropertyCondition>,
    pub at_least: u32,
    pub within_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Field {
        subject: Subject,
        field: &'static FieldSpec,
        op: Op,
        values: Vec<String>,
    },
    Custom {
        key: String,
        op: Op,
        values: Vec<String>,
    },
    Tag(String),
    LifecycleStage(Vec<LifecycleStage>),
    Deal {
        status: Option<String>,
        stage: Option<String>,
        pipeline: Option<String>,
    },
    WonAmount {
        op: Op,
        amount: Decimal,
        currency: Option<String>,
    },
    Behaviour(Behaviour),
    LastSeen {
        more_than_days: u32,
    },
    FirstTouchCampaign(String),
    /// The status in force of a consent purpose is one of these (`None`:
    /// no decision recorded).
    Consent {
        purpose: consent::Purpose,
        statuses: Vec<Option<consent::Status>>,
    },
}

impl Node {
    /// Every node, depth first.
    pub fn walk<'a>(&'a self, out: &mut Vec<&'a Node>) {
        out.push(self);
        match self {
            Node::All(v) | Node::Any(v) => v.iter().for_each(|n| n.walk(out)),
            Node::Not(n) => n.walk(out),
            _ => {}
        }
    }

    /// The window lengths (days) of the conditions whose truth changes as time passes.
    pub fn windows(&self) -> Vec<u32> {
        let mut nodes = Vec::new();
        self.walk(&mut nodes);
        let mut days: Vec<u32> = nodes
            .into_iter()
            .filter_map(|n| match n {
                Node::Behaviour(b) => b.within_days,
                Node::LastSeen { more_than_days } => Some(*more_than_days),
                _ => None,
            })
            .collect();
        days.sort_unstable();
        days.dedup();
        days
    }
}

const KINDS: &str = "all, any, not, field, company_field, custom_field, tag, lifecycle_stage, \
                     deal, won_amount, event, visited, last_seen_more_than_days, first_touch_campaign, consent";

fn err(at: &str, message: impl Into<String>) -> Error {
    Error::invalid(at, message)
}

struct Parser {
    conditions: usize,
}

/// Parse a rule's JSON text.
pub fn parse_text(text: &str) -> Result<Node> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        err(
            "rule",
            format!("is not valid JSON: {e} (docs/segments.md shows the format)"),
        )
    })?;
    parse(&value)
}

/// Parse a rule (without the checks that need the store: see [`check`]).
pub fn parse(value: &Value) -> Result<Node> {
    let mut p = Parser { conditions: 0 };
    p.node(value, "rule", 0)
}

impl Parser {
    fn node(&mut self, value: &Value, at: &str, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(err(at, format!("nests deeper than {MAX_DEPTH} levels")));
        }
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(err(
                at,
                format!("a rule has at most {MAX_CONDITIONS} conditions"),
            ));
        }
        let Value::Object(obj) = value else {
            return Err(err(
                at,
                format!("a condition is a JSON object with one of: {KINDS}"),
            ));
        };
        let Some(kind) = obj.keys().find(|k| is_kind(k)).cloned() else {
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            return Err(err(
                at,
                if keys.is_empty() {
                    format!("an empty condition: use one of {KINDS}")
                } else {
                    format!(
                        "unknown condition {} (use one of: {KINDS})",
                        keys.iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ));
        };
        if let Some(other) = obj.keys().find(|k| **k != kind && is_kind(k)) {
            return Err(err(
                at,
                format!(
                    "\"{kind}\" and \"{other}\" in one condition: wrap them in \"all\" or \"any\""
                ),
            ));
        }
        let body = &obj[&kind];
        let here = format!("{at}.{kind}");
        match kind.as_str() {
            "all" | "any" => {
                only_keys(obj, at, &[&kind])?;
                let Value::Array(items) = body else {
                    return Err(err(&here, "is a list of conditions"));
                };
                if items.is_empty() {
                    return Err(err(&here, "needs at least one condition"));
                }
                let nodes = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.node(v, &format!("{here}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                Ok(if kind == "all" {
                    Node::All(nodes)
                } else {
                    Node::Any(nodes)
                })
            }
            "not" => {
                only_keys(obj, at, &["not"])?;
                Ok(Node::Not(Box::new(self.node(body, &here, depth + 1)?)))
            }
            "field" | "company_field" => {
                only_keys(obj, at, &[&kind, "op", "value"])?;
                let (subject, fields) = if kind == "field" {
                    (Subject::Contact, CONTACT_FIELDS)
                } else {
                    (Subject::Company, COMPANY_FIELDS)
                };
                let name = text(body, &here)?.to_lowercase();
                let name = match (subject, name.as_str()) {
                    (Subject::Contact, "display_name") => "name".to_owned(),
                    (Subject::Contact, "stage") => "lifecycle_stage".to_owned(),
                    _ => name,
                };
                let field = fields.iter().find(|f| f.name == name).ok_or_else(|| {
                    err(
                        &here,
                        format!(
                            "unknown {} field \"{name}\" (known: {}; custom fields: \"custom_field\")",
                            if subject == Subject::Contact { "contact" } else { "company" },
                            fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                let (op, values) = op_and_values(obj, at)?;
                let ok = match field.kind {
                    FieldKind::Text => !matches!(op, Op::Exists) && !op.is_order(),
                    FieldKind::Time => matches!(op, Op::IsSet | Op::NotSet) || op.is_order(),
                    FieldKind::Many => {
                        matches!(
                            op,
                            Op::Eq
                                | Op::Ne
                                | Op::In
                                | Op::Contains
                                | Op::StartsWith
                                | Op::IsSet
                                | Op::NotSet
                        )
                    }
                };
                if !ok {
                    return Err(bad_op(at, op, field.name));
                }
                if field.kind == FieldKind::Time {
                    for v in &values {
                        time_operand(v, &format!("{at}.value"))?;
                    }
                }
                if subject == Subject::Contact && field.name == "lifecycle_stage" {
                    for v in &values {
                        LifecycleStage::parse(v).map_err(|_| {
                            err(
                                &format!("{at}.value"),
                                format!("\"{v}\" is not a lifecycle stage (lead, prospect, customer, churned)"),
                            )
                        })?;
                    }
                }
                Ok(Node::Field {
                    subject,
                    field,
                    op,
                    values,
                })
            }
            "custom_field" => {
                only_keys(obj, at, &[&kind, "op", "value"])?;
                let key = text(body, &here)?.to_owned();
                let (op, values) = op_and_values(obj, at)?;
                Ok(Node::Custom { key, op, values })
            }
            "tag" => {
                only_keys(obj, at, &["tag"])?;
                let name = text(body, &here)?;
                let names = crate::tags::clean_names(&[name.to_owned()], &here)
                    .map_err(|e| Error::Validation(vec![e]))?;
                Ok(Node::Tag(names.into_iter().next().unwrap_or_default()))
            }
            "lifecycle_stage" => {
                only_keys(obj, at, &["lifecycle_stage"])?;
                let list: Vec<&Value> = match body {
                    Value::Array(a) if !a.is_empty() => a.iter().collect(),
                    Value::Array(_) => return Err(err(&here, "names at least one stage")),
                    v => vec![v],
                };
                let stages = list
                    .into_iter()
                    .map(|v| {
                        let t = text(v, &here)?;
                        LifecycleStage::parse(t).map_err(|_| {
                            err(
                                &here,
                                format!("\"{t}\" is not a lifecycle stage (lead, prospect, customer, churned)"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Node::LifecycleStage(stages))
            }
            "deal" => {
                only_keys(obj, at, &["deal"])?;
                let Value::Object(d) = body else {
                    return Err(err(
                        &here,
                        "is an object: {\"status\": \"open\", \"stage\": \"Proposal\", \"pipeline\": \"Sales\"} (each optional)",
                    ));
                };
                only_keys(d, &here, &["status", "stage", "pipeline"])?;
                let opt = |key: &str| -> Result<Option<String>> {
                    d.get(key)
                        .map(|v| text(v, &format!("{here}.{key}")).map(str::to_owned))
                        .transpose()
                };
                let status = opt("status")?.map(|s| s.to_lowercase());
                if let Some(s) = &status {
                    if !["open", "won", "lost"].contains(&s.as_str()) {
                        return Err(err(
                            &format!("{here}.status"),
                            format!("\"{s}\" is not a deal status (open, won, lost)"),
                        ));
                    }
                }
                Ok(Node::Deal {
                    status,
                    stage: opt("stage")?,
                    pipeline: opt("pipeline")?,
                })
            }
            "won_amount" => {
                only_keys(obj, at, &["won_amount"])?;
                let Value::Object(d) = body else {
                    return Err(err(
                        &here,
                        "is an object: {\"op\": \"gt\", \"value\": \"1000\", \"currency\": \"EUR\"}",
                    ));
                };
                only_keys(d, &here, &["op", "value", "currency"])?;
                let op = match d.get("op") {
                    None => Op::Gt,
                    Some(v) => parse_op(v, &format!("{here}.op"))?,
                };
                if !(op.is_order() || matches!(op, Op::Eq | Op::Ne)) {
                    return Err(bad_op(&here, op, "won_amount"));
                }
                let amount = match d.get("value") {
                    None => {
                        return Err(err(
                            &format!("{here}.value"),
                            "is required (an amount such as \"1000\" or \"99.50\")",
                        ))
                    }
                    Some(Value::String(s)) => money::parse_decimal(&format!("{here}.value"), s)?,
                    Some(Value::Number(n)) => {
                        money::parse_decimal(&format!("{here}.value"), &n.to_string())?
                    }
                    Some(_) => {
                        return Err(err(
                            &format!("{here}.value"),
                            "is an amount such as \"1000\"",
                        ))
                    }
                };
                if amount < Decimal::ZERO {
                    return Err(err(&format!("{here}.value"), "is not negative"));
                }
                let currency = d
                    .get("currency")
                    .map(|v| {
                        let at = format!("{here}.currency");
                        money::parse_currency(&at, text(v, &at)?)
                    })
                    .transpose()?;
                Ok(Node::WonAmount {
                    op,
                    amount,
                    currency,
                })
            }
            "event" | "visited" => {
                only_keys(
                    obj,
                    at,
                    &[&kind, "type", "match", "at_least", "in_last_days", "where"],
                )?;
                let (event, path) = if kind == "event" {
                    (Some(text(body, &here)?.to_owned()), None)
                } else {
                    let pattern = text(body, &here)?.to_owned();
                    let how = match obj.get("match") {
                        None => PathMatch::Glob,
                        Some(v) => match text(v, &format!("{at}.match"))?.to_lowercase().as_str() {
                            "glob" => PathMatch::Glob,
                            "prefix" => PathMatch::Prefix,
                            "exact" => PathMatch::Exact,
                            other => {
                                return Err(err(
                                    &format!("{at}.match"),
                                    format!("\"{other}\" is not a match (glob, prefix, exact)"),
                                ))
                            }
                        },
                    };
                    (None, Some((how, pattern)))
                };
                if kind == "event" && obj.contains_key("match") {
                    return Err(err(&format!("{at}.match"), "applies to \"visited\" only"));
                }
                let event_type = match obj.get("type") {
                    None if kind == "visited" => Some("page".to_owned()),
                    None => None,
                    Some(v) => {
                        let t = text(v, &format!("{at}.type"))?.to_lowercase();
                        const TYPES: [&str; 6] =
                            ["identify", "track", "page", "screen", "group", "alias"];
                        if !TYPES.contains(&t.as_str()) {
                            return Err(err(
                                &format!("{at}.type"),
                                format!("\"{t}\" is not an event type ({})", TYPES.join(", ")),
                            ));
                        }
                        Some(t)
                    }
                };
                let at_least = match obj.get("at_least") {
                    None => 1,
                    Some(v) => count(v, &format!("{at}.at_least"), 1_000_000)?,
                };
                let within_days = obj
                    .get("in_last_days")
                    .map(|v| count(v, &format!("{at}.in_last_days"), MAX_DAYS))
                    .transpose()?;
                let properties = match obj.get("where") {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| property(v, &format!("{at}.where[{i}]")))
                        .collect::<Result<Vec<_>>>()?,
                    Some(_) => {
                        return Err(err(
                            &format!("{at}.where"),
                            "is a list of property conditions",
                        ))
                    }
                };
                Ok(Node::Behaviour(Behaviour {
                    event,
                    event_type,
                    path,
                    properties,
                    at_least,
                    within_days,
                }))
            }
            "last_seen_more_than_days" => {
                only_keys(obj, at, &[&kind])?;
                Ok(Node::LastSeen {
                    more_than_days: count(body, &here, MAX_DAYS)?,
                })
            }
            "first_touch_campaign" => {
                only_keys(obj, at, &[&kind])?;
                let c = text(body, &here)?.trim().to_owned();
                Ok(Node::FirstTouchCampaign(c))
            }
            "consent" => {
                only_keys(obj, at, &["consent", "status"])?;
                let purpose = consent::Purpose::parse(text(body, &here)?).map_err(|e| {
                    err(
                        &here,
                        e.field_errors()
                            .first()
                            .map(|f| f.message.clone())
                            .unwrap_or_default(),
                    )
                })?;
                let at_status = format!("{at}.status");
                let list: Vec<&Value> = match obj.get("status") {
                    None => Vec::new(),
                    Some(Value::Array(a)) if !a.is_empty() => a.iter().collect(),
                    Some(Value::Array(_)) => {
                        return Err(err(&at_status, "names at least one status"))
                    }
                    Some(v) => vec![v],
                };
                let statuses = if list.is_empty() {
                    vec![Some(consent::Status::Granted)]
                } else {
                    list.into_iter()
                        .map(|v| {
                            let t = text(v, &at_status)?;
                            if t.trim().eq_ignore_ascii_case("none") {
                                return Ok(None);
                            }
                            consent::Status::parse(t).map(Some).map_err(|_| {
                                err(
                                    &at_status,
                                    format!("\"{t}\" is not a consent status (granted, denied, revoked, none)"),
                                )
                            })
                        })
                        .collect::<Result<Vec<_>>>()?
                };
                Ok(Node::Consent { purpose, statuses })
            }
            _ => unreachable!("is_kind lists every kind"),
        }
    }
}

fn is_kind(key: &str) -> bool {
    KINDS.split(", ").any(|k| k == key)
}

fn only_keys(obj: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(err(
            &format!("{at}.{k}"),
            format!("unknown key \"{k}\" here (allowed: {})", allowed.join(", ")),
        )),
    }
}

fn text<'v>(v: &'v Value, at: &str) -> Result<&'v str> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.as_str()),
        Value::String(_) => Err(err(at, "is empty")),
        _ => Err(err(at, "is a text")),
    }
}

fn count(v: &Value, at: &str, max: u32) -> Result<u32> {
    match v.as_i64() {
        Some(n) if n < 1 => Err(err(at, format!("is at least 1 (got {n})"))),
        Some(n) if n > max as i64 => Err(err(at, format!("is at most {max} (got {n})"))),
        Some(n) => Ok(n as u32),
        None => Err(err(at, "is a whole number")),
    }
}

fn parse_op(v: &Value, at: &str) -> Result<Op> {
    let t = text(v, at)?;
    Op::parse(t).ok_or_else(|| {
        err(
            at,
            format!(
                "\"{t}\" is not an operator ({})",
                Op::ALL.map(Op::as_str).join(", ")
            ),
        )
    })
}

fn bad_op(at: &str, op: Op, what: &str) -> Error {
    err(
        &format!("{at}.op"),
        format!("\"{}\" does not apply to {what}", op.as_str()),
    )
}

/// `op` (default `eq`) and the operand(s) as texts: one, or a list for `in`.
fn op_and_values(obj: &Map<String, Value>, at: &str) -> Result<(Op, Vec<String>)> {
    let op = match obj.get("op") {
        None => Op::Eq,
        Some(v) => parse_op(v, &format!("{at}.op"))?,
    };
    let at_value = format!("{at}.value");
    let scalar = |v: &Value| -> Result<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::String(_) => Err(err(&at_value, "is empty")),
            _ => Err(err(&at_value, "is a text, number or true/false")),
        }
    };
    let values = match (op, obj.get("value")) {
        (op, Some(_)) if !op.takes_value() => {
            return Err(err(
                &at_value,
                format!("\"{}\" takes no value", op.as_str()),
            ))
        }
        (op, None) if !op.takes_value() => Vec::new(),
        (_, None) => return Err(err(&at_value, format!("\"{}\" needs a value", op.as_str()))),
        (Op::In, Some(Value::Array(items))) if !items.is_empty() => {
            items.iter().map(scalar).collect::<Result<Vec<_>>>()?
        }
        (Op::In, Some(_)) => return Err(err(&at_value, "\"in\" takes a non-empty list")),
        (_, Some(Value::Array(_))) => {
            return Err(err(&at_value, "a list needs the operator \"in\""))
        }
        (_, Some(v)) => vec![scalar(v)?],
    };
    if op == Op::Exists {
        return Err(err(
            &format!("{at}.op"),
            "\"exists\" applies to event properties; use \"is_set\"",
        ));
    }
    Ok((op, values))
}

/// `total` (= `properties.total`), `properties.product.sku`, `context.locale`, `traits.plan`.
fn property(v: &Value, at: &str) -> Result<PropertyCondition> {
    let Value::Object(obj) = v else {
        return Err(err(
            at,
            "is an object: {\"property\": \"total\", \"op\": \"gt\", \"value\": 100}",
        ));
    };
    only_keys(obj, at, &["property", "op", "value"])?;
    let name = match obj.get("property") {
        Some(v) => text(v, &format!("{at}.property"))?.trim().to_owned(),
        None => return Err(err(&format!("{at}.property"), "is required")),
    };
    let mut parts: Vec<&str> = name.split('.').collect();
    if !matches!(parts[0], "properties" | "context" | "traits") {
        parts.insert(0, "properties");
    }
    if parts.len() < 2
        || parts
            .iter()
            .any(|p| p.is_empty() || p.contains('"') || p.contains('\\'))
    {
        return Err(err(
            &format!("{at}.property"),
            format!("\"{name}\" is not a property path (like total or properties.product.sku)"),
        ));
    }
    let json_path = format!(
        "${}",
        parts
            .iter()
            .map(|p| format!(".\"{p}\""))
            .collect::<String>()
    );
    let op = match obj.get("op") {
        None => Op::Eq,
        Some(v) => parse_op(v, &format!("{at}.op"))?,
    };
    let value = obj.get("value").cloned();
    let at_value = format!("{at}.value");
    let value = match (op, value) {
        (Op::Exists, None) => Value::Null,
        (Op::Exists, Some(_)) => return Err(err(&at_value, "\"exists\" takes no value")),
        (_, None) => return Err(err(&at_value, format!("\"{}\" needs a value", op.as_str()))),
        (Op::Eq | Op::Ne, Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))) => v,
        (Op::Eq | Op::Ne, Some(_)) => {
            return Err(err(&at_value, "is a text, number or true/false"))
        }
        (Op::Contains, Some(Value::String(s))) if !s.is_empty() => Value::String(s),
        (Op::Contains, Some(_)) => return Err(err(&at_value, "\"contains\" takes a text")),
        (op, Some(Value::Number(n))) if op.is_order() => Value::Number(n),
        (op, Some(_)) if op.is_order() => {
            return Err(err(&at_value, format!("\"{}\" takes a number", op.as_str())))
        }
        (op, Some(_)) => {
            return Err(err(
                &format!("{at}.op"),
                format!(
                    "\"{}\" does not apply to event properties (eq, ne, contains, gt, gte, lt, lte, exists)",
                    op.as_str()
                ),
            ))
        }
    };
    Ok(PropertyCondition {
        json_path,
        name,
        op,
        value,
    })
}

/// A time operand: a date (compares days) or an RFC 3339 time (made UTC, ms).
pub fn time_operand(value: &str, at: &str) -> Result<(String, bool)> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
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
            err(
                at,
                format!("\"{value}\" is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

/// What a rule needs from the store to be evaluated: its custom fields.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub custom: Vec<(String, CustomField)>,
}

impl Resolved {
    pub fn field(&self, key: &str) -> Option<&CustomField> {
        self.custom.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }
}

/// The checks that need the store, for evaluation: every custom field exists
/// and the operators and values fit its type.
pub async fn resolve(conn: &mut SqliteConnection, node: &Node) -> Result<Resolved> {
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    let mut out = Resolved::default();
    for n in nodes {
        if let Node::Custom { key, op, values } = n {
            if out.field(key).is_some() {
                continue;
            }
            let field = match custom_fields::find_in(conn, FieldEntity::Contact, key).await {
                Ok(f) => f,
                Err(Error::NotFound { .. }) => {
                    return Err(err(
                        "rule",
                        format!(
                        "contacts have no custom field \"{key}\" (see `hub field list contact`)"
                    ),
                    ))
                }
                Err(e) => return Err(e),
            };
            check_custom(&field, *op, values)?;
            out.custom.push((key.clone(), field));
        }
    }
    Ok(out)
}

fn check_custom(f: &CustomField, op: Op, values: &[String]) -> Result<()> {
    let at = format!("rule.custom_field({})", f.key);
    let ok = match f.field_type {
        FieldType::Text => !op.is_order(),
        FieldType::Select => matches!(op, Op::Eq | Op::Ne | Op::In | Op::IsSet | Op::NotSet),
        FieldType::MultiSelect => {
            matches!(
                op,
                Op::Eq | Op::Ne | Op::Contains | Op::In | Op::IsSet | Op::NotSet
            )
        }
        FieldType::Number | FieldType::Date => {
            matches!(op, Op::Eq | Op::Ne | Op::In | Op::IsSet | Op::NotSet) || op.is_order()
        }
        FieldType::Checkbox => matches!(op, Op::Eq | Op::Ne),
    };
    if !ok {
        return Err(err(
            &at,
            format!(
                "\"{}\" does not apply to {} fields",
                op.as_str(),
                f.field_type.as_str().replace('_', " ")
            ),
        ));
    }
    for v in values {
        match f.field_type {
            FieldType::Number => {
                custom_fields::parse_number(v, &at)?;
            }
            FieldType::Date => {
                custom_fields::parse_date(v, &at)?;
            }
            FieldType::Checkbox => {
                custom_fields::parse_checkbox(v, &at)?;
            }
            FieldType::Select | FieldType::MultiSelect => {
                custom_fields::parse_option(f, v, &at)?;
            }
            FieldType::Text => {}
        }
    }
    Ok(())
}

/// The checks a user gets when saving a rule: [`resolve`], plus every named
/// deal stage and pipeline exists, and a won amount without a currency has a
/// base currency to convert into. (Evaluation tolerates a stage renamed later:
/// the condition then matches no deal.)
pub async fn check(conn: &mut SqliteConnection, node: &Node) -> Result<Resolved> {
    let resolved = resolve(conn, node).await?;
    let mut nodes = Vec::new();
    node.walk(&mut nodes);
    for n in nodes {
        match n {
            Node::Deal {
                stage, pipeline, ..
            } => {
                if let Some(p) = pipeline {
                    let found: Option<i64> = sqlx::query_scalar(
                        "SELECT 1 FROM pipelines WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL",
                    )
                    .bind(p)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if found.is_none() {
                        return Err(err(
                            "rule.deal.pipeline",
                            format!("no pipeline named \"{p}\""),
                        ));
                    }
                }
                if let Some(s) = stage {
                    let found: Option<i64> = sqlx::query_scalar(
                        "SELECT 1 FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id
                          WHERE s.name = ? COLLATE NOCASE AND s.deleted_at IS NULL AND p.deleted_at IS NULL
                            AND (? IS NULL OR p.name = ? COLLATE NOCASE)",
                    )
                    .bind(s)
                    .bind(pipeline)
                    .bind(pipeline)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if found.is_none() {
                        return Err(err(
                            "rule.deal.stage",
                            format!(
                                "no deal stage named \"{s}\"{}",
                                pipeline
                                    .as_ref()
                                    .map(|p| format!(" in pipeline \"{p}\""))
                                    .unwrap_or_default()
                            ),
                        ));
                    }
                }
            }
            Node::WonAmount { currency: None, .. } => {
                let base: Option<String> = sqlx::query_scalar(
                    "SELECT value FROM workspace_settings WHERE key = 'base_currency' AND deleted_at IS NULL",
                )
                .fetch_optional(&mut *conn)
                .await?;
                if base.is_none() {
                    return Err(err(
                        "rule.won_amount.currency",
                        "name a currency, or set a base currency to convert into (hub rate base EUR)",
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bad(v: Value) -> String {
        parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn a_full_rule_parses() {
        let rule = json!({"all": [
            {"field": "email", "op": "contains", "value": "@acme.com"},
            {"company_field": "industry", "value": "Software"},
            {"custom_field": "plan", "op": "in", "value": ["pro", "team"]},
            {"tag": "VIP"},
            {"lifecycle_stage": ["lead", "prospect"]},
            {"deal": {"status": "open", "stage": "Proposal"}},
            {"won_amount": {"op": "gte", "value": "1000.50", "currency": "EUR"}},
            {"event": "Order Completed", "at_least": 3, "in_last_days": 30,
             "where": [{"property": "total", "op": "gt", "value": 100},
                       {"property": "properties.coupon", "op": "exists"}]},
            {"visited": "/pricing*", "in_last_days": 7},
            {"not": {"last_seen_more_than_days": 14}},
            {"any": [{"first_touch_campaign": "spring_sale"}, {"field": "source", "value": "ads"}]},
            {"consent": "email_marketing"}
        ]});
        let node = parse(&rule).unwrap();
        assert_eq!(node.windows(), vec![7, 14, 30]);
        let Node::All(items) = node else { panic!() };
        assert_eq!(items.len(), 12);
        assert_eq!(
            items[11],
            Node::Consent {
                purpose: consent::Purpose::EmailMarketing,
                statuses: vec![Some(consent::Status::Granted)]
            }
        );
        assert_eq!(
            parse(&json!({"consent": "sale", "status": ["denied", "revoked", "none"]})).unwrap(),
            Node::Consent {
                purpose: consent::Purpose::Sale,
                statuses: vec![
                    Some(consent::Status::Denied),
                    Some(consent::Status::Revoked),
                    None
                ]
            }
        );
        let Node::Behaviour(b) = &items[7] else {
            panic!()
        };
        assert_eq!(b.properties[0].json_path, "$.\"properties\".\"total\"");
        assert_eq!(b.at_least, 3);
        let Node::Behaviour(v) = &items[8] else {
            panic!()
        };
        assert_eq!(v.event_type.as_deref(), Some("page"));
        assert_eq!(v.path, Some((PathMatch::Glob, "/pricing*".into())));
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        assert!(bad(json!({"all": [{"field": "shoe_size", "value": "9"}]}))
            .contains("rule.all[0].field: unknown contact field \"shoe_size\""));
        assert!(
            bad(json!({"all": [{"field": "name", "op": "like", "value": "x"}]}))
                .contains("rule.all[0].op: \"like\" is not an operator")
        );
        assert!(bad(json!({"event": "Signed Up", "at_least": 0}))
            .contains("rule.at_least: is at least 1 (got 0)"));
        assert!(bad(json!({"event": "Signed Up", "in_last_days": -3}))
            .contains("rule.in_last_days: is at least 1"));
        assert!(bad(json!({"event": "Signed Up", "within": 3}))
            .contains("rule.within: unknown key \"within\""));
        assert!(bad(json!({"nope": 1})).contains("unknown condition \"nope\""));
        assert!(bad(json!({"any": []})).contains("rule.any: needs at least one condition"));
        assert!(bad(json!({"tag": "a", "event": "b"})).contains("wrap them in"));
        assert!(
            bad(json!({"field": "created_at", "op": "contains", "value": "x"}))
                .contains("\"contains\" does not apply to created_at")
        );
        assert!(
            bad(json!({"field": "created_at", "op": "gt", "value": "yesterday"}))
                .contains("is not a date")
        );
        assert!(bad(json!({"lifecycle_stage": "vip"})).contains("not a lifecycle stage"));
        assert!(bad(json!({"deal": {"status": "pending"}})).contains("not a deal status"));
        assert!(bad(json!({"won_amount": {"value": "abc"}})).contains("rule.won_amount.value"));
        assert!(bad(json!({"won_amount": {"value": "5", "currency": "XYZ"}})).contains("currency"));
        assert!(bad(
            json!({"event": "x", "where": [{"property": "total", "op": "gt", "value": "a"}]})
        )
        .contains("\"gt\" takes a number"));
        assert!(bad(json!({"visited": "/a", "match": "regex"})).contains("not a match"));
        assert!(bad(json!({"field": "name", "op": "in", "value": "x"})).contains("non-empty list"));
        assert!(
            bad(json!({"field": "name", "op": "is_set", "value": "x"})).contains("takes no value")
        );
        assert!(bad(json!([1])).contains("a condition is a JSON object"));
        assert!(bad(json!({"consent": "newsletter"})).contains("rule.consent: unknown purpose"));
        assert!(bad(json!({"consent": "analytics", "status": "maybe"}))
            .contains("rule.status: \"maybe\" is not a consent status"));
        assert!(parse_text("{")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        let mut deep = json!({"tag": "x"});
        for _ in 0..20 {
            deep = json!({ "not": deep });
        }
        assert!(bad(deep).contains("nests deeper"));
    }
}
