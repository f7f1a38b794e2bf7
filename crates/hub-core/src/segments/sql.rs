//! A rule compiled to one SQL predicate over the contact row `c`.
//!
//! Two forms of the same predicate: [`Mode::Full`] reads each behavioural
//! condition as one pass over the events in its window (`c.rk IN (SELECT
//! contact_rk … GROUP BY contact_rk HAVING count(*) >= N)`), for the whole
//! base at once; [`Mode::Contact`] as a correlated look-up on the contact's
//! own events (`events_contact_time`), for a few queued contacts. Tests check
//! both give the same members. Every user value is a bound parameter.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;

use super::rule::{time_operand, Behaviour, FieldKind, Node, Op, PathMatch, Resolved, Subject};
use crate::custom_fields::{self, FieldType};
use crate::error::Result;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Contact,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Real(f64),
}

#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    fn push(&mut self, t: &str) {
        self.text.push_str(t);
    }

    fn text(&mut self, v: impl Into<String>) {
        self.text.push('?');
        self.binds.push(Bind::Text(v.into()));
    }

    fn int(&mut self, v: i64) {
        self.text.push('?');
        self.binds.push(Bind::Int(v));
    }

    fn json(&mut self, v: &Value) {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => self.int(i),
                None => {
                    self.text.push('?');
                    self.binds.push(Bind::Real(n.as_f64().unwrap_or(0.0)));
                }
            },
            Value::Bool(b) => self.int(*b as i64),
            Value::String(s) => self.text(s.clone()),
            other => self.text(other.to_string()),
        }
    }
}

/// What compiling needs besides the rule.
pub struct Context<'a> {
    pub mode: Mode,
    pub now_ms: i64,
    pub resolved: &'a Resolved,
    /// For each won-amount condition (by its position among them): whether
    /// the list is of the contacts that fail it (true when a contact with
    /// no won deal passes), and the list (JSON array text of rks), computed
    /// in Rust with exact decimals ([`won_totals`]).
    pub won: &'a [(bool, String)],
}

pub fn compile(node: &Node, cx: &Context) -> Result<Sql> {
    let mut sql = Sql::default();
    let mut won_index = 0;
    emit(node, cx, &mut sql, &mut won_index)?;
    Ok(sql)
}

fn emit(node: &Node, cx: &Context, sql: &mut Sql, won: &mut usize) -> Result<()> {
    match node {
        Node::All(items) | Node::Any(items) => {
            let joiner = if matches!(node, Node::All(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                emit(n, cx, sql, won)?;
            }
            sql.push(")");
        }
        Node::Not(n) => {
            // Every leaf is true or false (never NULL), so NOT is the complement.
            sql.push("(NOT ");
            emit(n, cx, sql, won)?;
            sql.push(")");
        }
        Node::Field {
            subject,
            field,
            op,
            values,
        } => {
            let expr = match subject {
                Subject::Contact => field.sql.to_owned(),
                Subject::Company => format!(
                    "(SELECT co.{} FROM companies co WHERE co.id = c.company_id AND co.deleted_at IS NULL)",
                    field.sql
                ),
            };
            match field.kind {
                FieldKind::Text => text_test(sql, &expr, *op, values),
                FieldKind::Time => time_test(sql, &expr, *op, values)?,
                FieldKind::Many => {
                    let (table, column) = field.sql.split_once('|').unwrap_or((field.sql, ""));
                    let (negate, positive) = match op {
                        Op::Ne => (true, Op::Eq),
                        Op::NotSet => (true, Op::IsSet),
                        op => (false, *op),
                    };
                    sql.push(if negate { "(NOT EXISTS " } else { "(EXISTS " });
                    sql.push(&format!(
                        "(SELECT 1 FROM {table} x WHERE x.contact_id = c.id AND x.deleted_at IS NULL AND "
                    ));
                    text_test(sql, &format!("x.{column}"), positive, values);
                    sql.push("))");
                }
            }
        }
        Node::Custom { key, op, values } => {
            let Some(f) = cx.resolved.field(key) else {
                // resolve() found every field before compiling.
                return Err(crate::Error::invalid(
                    "rule",
                    format!("contacts have no custom field \"{key}\""),
                ));
            };
            // (negated, a test on v.value / v.num_key)
            let (negate, positive) = match op {
                Op::Ne => (true, Op::Eq),
                Op::NotSet => (true, Op::IsSet),
                op => (false, *op),
            };
            let mut test = Sql::default();
            match (f.field_type, positive) {
                (_, Op::IsSet) => test.push("v.value <> '[]' AND v.value <> ''"),
                (FieldType::MultiSelect, _) => {
                    test.push("EXISTS (SELECT 1 FROM json_each(v.value) j WHERE j.value IN (");
                    for (i, value) in values.iter().enumerate() {
                        if i > 0 {
                            test.push(", ");
                        }
                        let option = custom_fields::parse_option(f, value, "rule")?;
                        test.text(option);
                    }
                    test.push("))");
                }
                (FieldType::Checkbox, _) => test.push("v.value = 'true'"),
                (FieldType::Number, op) => {
                    let keys = values
                        .iter()
                        .map(|v| {
                            custom_fields::parse_number(v, "rule").map(custom_fields::number_key)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    compare_list(&mut test, "v.num_key", op, keys, "");
                }
                (FieldType::Date, op) => {
                    let days = values
                        .iter()
                        .map(|v| custom_fields::parse_date(v, "rule").map(|d| d.to_string()))
                        .collect::<Result<Vec<_>>>()?;
                    compare_list(&mut test, "v.value", op, days, "");
                }
                (FieldType::Select, op) => {
                    let options = values
                        .iter()
                        .map(|v| custom_fields::parse_option(f, v, "rule").map(str::to_owned))
                        .collect::<Result<Vec<_>>>()?;
                    compare_list(&mut test, "v.value", op, options, " COLLATE NOCASE");
                }
                (FieldType::Text, op) => text_test(&mut test, "v.value", op, values),
            }
            // A checkbox never set counts as unchecked.
            let negate = negate
                ^ (f.field_type == FieldType::Checkbox
                    && !custom_fields::parse_checkbox(&values[0], "rule")?);
            sql.push(if negate { "(NOT " } else { "(" });
            match cx.mode {
                Mode::Full => {
                    sql.push("c.id IN (SELECT v.row_id FROM custom_values v WHERE v.field_id = ");
                }
                Mode::Contact => {
                    sql.push("EXISTS (SELECT 1 FROM custom_values v WHERE v.row_id = c.id AND v.field_id = ");
                }
            }
            sql.text(f.id.to_string());
            sql.push(
                " AND v.entity = 'contact' AND v.deleted_at IS NULL AND v.value IS NOT NULL AND ",
            );
            sql.push(&test.text);
            sql.binds.extend(test.binds);
            sql.push("))");
        }
        Node::Tag(name) => {
            let id = crate::tags::tag_id(name).to_string();
            match cx.mode {
                Mode::Full => {
                    sql.push("(c.id IN (SELECT l.contact_id FROM contact_tags l WHERE l.tag_id = ");
                    sql.text(id.clone());
                    sql.push(
                        " AND l.deleted_at IS NULL) AND EXISTS (SELECT 1 FROM tags t WHERE t.id = ",
                    );
                    sql.text(id);
                    sql.push(" AND t.deleted_at IS NULL))");
                }
                Mode::Contact => {
                    // INDEXED BY: without statistics SQLite takes the tag_id index and
                    // walks every link of the tag for each contact.
                    sql.push("EXISTS (SELECT 1 FROM contact_tags l INDEXED BY contact_tags_contact \
                              JOIN tags t ON t.id = l.tag_id \
                              WHERE l.contact_id = c.id AND l.deleted_at IS NULL AND t.deleted_at IS NULL AND l.tag_id = ");
                    sql.text(id);
                    sql.push(")");
                }
            }
        }
        Node::LifecycleStage(stages) => {
            sql.push("coalesce(lower(c.lifecycle_stage) IN (");
            for (i, s) in stages.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.text(s.as_str());
            }
            sql.push("), 0)");
        }
        Node::Deal {
            status,
            stage,
            pipeline,
        } => {
            sql.push(
                "EXISTS (SELECT 1 FROM deals d WHERE d.contact_id = c.id AND d.deleted_at IS NULL",
            );
            if let Some(s) = status {
                sql.push(" AND d.status = ");
                sql.text(s.clone());
            }
            if let Some(s) = stage {
                sql.push(" AND d.stage_id IN (SELECT s.id FROM pipeline_stages s WHERE s.deleted_at IS NULL AND s.name = ");
                sql.text(s.clone());
                sql.push(" COLLATE NOCASE)");
            }
            if let Some(p) = pipeline {
                sql.push(" AND d.pipeline_id IN (SELECT p.id FROM pipelines p WHERE p.deleted_at IS NULL AND p.name = ");
                sql.text(p.clone());
                sql.push(" COLLATE NOCASE)");
            }
            sql.push(")");
        }
        Node::WonAmount { .. } => {
            let (negated, set) = cx
                .won
                .get(*won)
                .cloned()
                .unwrap_or_else(|| (false, "[]".into()));
            *won += 1;
            sql.push(if negated {
                "c.rk NOT IN (SELECT value FROM json_each("
            } else {
                "c.rk IN (SELECT value FROM json_each("
            });
            sql.text(set);
            sql.push("))");
        }
        Node::Behaviour(b) => behaviour(sql, b, cx),
        Node::LastSeen { more_than_days } => {
            let edge = cx.now_ms - *more_than_days as i64 * DAY_MS;
            match cx.mode {
                Mode::Full => {
                    sql.push("(EXISTS (SELECT 1 FROM events e WHERE e.contact_rk = c.rk) AND c.rk NOT IN \
                              (SELECT e.contact_rk FROM events e WHERE e.contact_rk IS NOT NULL AND e.at_ms >= ");
                    sql.int(edge);
                    sql.push("))");
                }
                Mode::Contact => {
                    sql.push(
                        "coalesce((SELECT max(e.at_ms) FROM events e INDEXED BY events_contact_time WHERE e.contact_rk = c.rk) < ",
                    );
                    sql.int(edge);
                    sql.push(", 0)");
                }
            }
        }
        Node::Consent { purpose, statuses } => {
            // The latest decision per (contact, purpose), on consent_records_latest;
            // 'none' when nothing is recorded.
            sql.push(
                "coalesce((SELECT l.status FROM consent_records l WHERE l.contact_id = c.id \
                 AND l.purpose = ",
            );
            sql.text(purpose.as_str());
            sql.push(
                " AND l.deleted_at IS NULL ORDER BY l.decided_at DESC, l.id DESC LIMIT 1), 'none') IN (",
            );
            for (i, s) in statuses.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.text(s.map(|s| s.as_str()).unwrap_or("none"));
            }
            sql.push(")");
        }
        Node::FirstTouchCampaign(name) => {
            sql.push("EXISTS (SELECT 1 FROM contact_first_touch f WHERE f.contact_rk = c.rk AND f.campaign = ");
            sql.text(name.clone());
            sql.push(" COLLATE NOCASE)");
        }
    }
    Ok(())
}

/// `expr op value(s)` for a text, never NULL.
fn text_test(sql: &mut Sql, expr: &str, op: Op, values: &[String]) {
    let first = values.first().cloned().unwrap_or_default();
    match op {
        Op::Eq => {
            sql.push(&format!("coalesce({expr} = "));
            sql.text(first);
            sql.push(" COLLATE NOCASE, 0)");
        }
        Op::Ne => {
            sql.push(&format!("(NOT coalesce({expr} = "));
            sql.text(first);
            sql.push(" COLLATE NOCASE, 0))");
        }
        Op::In => {
            sql.push(&format!("coalesce(lower({expr}) IN ("));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.text(v.to_lowercase());
            }
            sql.push("), 0)");
        }
        Op::Contains => {
            sql.push(&format!("coalesce(instr(lower({expr}), "));
            sql.text(first.to_lowercase());
            sql.push(") > 0, 0)");
        }
        Op::StartsWith => {
            let n = first.chars().count() as i64;
            sql.push(&format!("coalesce(lower(substr({expr}, 1, "));
            sql.int(n);
            sql.push(")) = ");
            sql.text(first.to_lowercase());
            sql.push(", 0)");
        }
        Op::IsSet => sql.push(&format!("coalesce({expr} <> '', 0)")),
        Op::NotSet => sql.push(&format!("({expr} IS NULL OR {expr} = '')")),
        // The parser lets no other operator reach a text.
        Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Exists => sql.push("0"),
    }
}

fn order_symbol(op: Op) -> &'static str {
    match op {
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        _ => "<=",
    }
}

fn time_test(sql: &mut Sql, expr: &str, op: Op, values: &[String]) -> Result<()> {
    match op {
        Op::IsSet => sql.push(&format!("coalesce({expr} <> '', 0)")),
        Op::NotSet => sql.push(&format!("({expr} IS NULL OR {expr} = '')")),
        op => {
            let (operand, is_day) = time_operand(&values[0], "rule")?;
            let lhs = if is_day {
                format!("substr({expr}, 1, 10)")
            } else {
                expr.to_owned()
            };
            sql.push(&format!("coalesce({lhs} {} ", order_symbol(op)));
            sql.text(operand);
            sql.push(", 0)");
        }
    }
    Ok(())
}

/// `expr = k`, `expr IN (..)`, `expr > k` … over exact text keys.
fn compare_list(sql: &mut Sql, expr: &str, op: Op, keys: Vec<String>, collate: &str) {
    match op {
        Op::In => {
            sql.push(&format!("{expr} IN ("));
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.text(k);
            }
            sql.push(&format!("){collate}"));
        }
        Op::Eq => {
            sql.push(&format!("{expr} = "));
            sql.text(keys.into_iter().next().unwrap_or_default());
            sql.push(collate);
        }
        op => {
            sql.push(&format!("{expr} {} ", order_symbol(op)));
            sql.text(keys.into_iter().next().unwrap_or_default());
            sql.push(collate);
        }
    }
}

/// The filters of a behavioural condition on the event row `e`.
fn event_filters(sql: &mut Sql, b: &Behaviour, cx: &Context) {
    if let Some(days) = b.within_days {
        sql.push(" AND e.at_ms >= ");
        sql.int(cx.now_ms - days as i64 * DAY_MS);
    }
    if let Some(name) = &b.event {
        sql.push(" AND e.name = ");
        sql.text(name.clone());
    }
    if let Some(t) = &b.event_type {
        sql.push(" AND e.type = ");
        sql.text(t.clone());
    }
    if let Some((how, pattern)) = &b.path {
        match how {
            PathMatch::Glob => {
                sql.push(" AND e.path GLOB ");
                sql.text(pattern.clone());
            }
            PathMatch::Exact => {
                sql.push(" AND e.path = ");
                sql.text(pattern.clone());
            }
            PathMatch::Prefix => {
                sql.push(" AND substr(e.path, 1, ");
                sql.int(pattern.chars().count() as i64);
                sql.push(") = ");
                sql.text(pattern.clone());
            }
        }
    }
    for p in &b.properties {
        let path = p.json_path.clone();
        match p.op {
            Op::Exists => {
                sql.push(" AND coalesce(json_type(e.body, ");
                sql.text(path);
                sql.push(") <> 'null', 0)");
            }
            Op::Eq | Op::Ne => {
                sql.push(if p.op == Op::Ne {
                    " AND NOT coalesce("
                } else {
                    " AND coalesce("
                });
                match &p.value {
                    Value::Bool(b) => {
                        sql.push("json_type(e.body, ");
                        sql.text(path);
                        sql.push(&format!(") = '{}'", if *b { "true" } else { "false" }));
                    }
                    Value::String(_) => {
                        sql.push("json_type(e.body, ");
                        sql.text(path.clone());
                        sql.push(") = 'text' AND json_extract(e.body, ");
                        sql.text(path);
                        sql.push(") = ");
                        sql.json(&p.value);
                    }
                    v => {
                        sql.push("json_type(e.body, ");
                        sql.text(path.clone());
                        sql.push(") IN ('integer', 'real') AND json_extract(e.body, ");
                        sql.text(path);
                        sql.push(") = ");
                        sql.json(v);
                    }
                }
                sql.push(", 0)");
            }
            Op::Contains => {
                sql.push(" AND coalesce(json_type(e.body, ");
                sql.text(path.clone());
                sql.push(") = 'text' AND instr(lower(json_extract(e.body, ");
                sql.text(path);
                sql.push(")), ");
                sql.text(p.value.as_str().unwrap_or_default().to_lowercase());
                sql.push(") > 0, 0)");
            }
            op => {
                sql.push(" AND coalesce(json_type(e.body, ");
                sql.text(path.clone());
                sql.push(") IN ('integer', 'real') AND json_extract(e.body, ");
                sql.text(path);
                sql.push(&format!(") {} ", order_symbol(op)));
                sql.json(&p.value);
                sql.push(", 0)");
            }
        }
    }
}

fn behaviour(sql: &mut Sql, b: &Behaviour, cx: &Context) {
    let n = b.at_least as i64;
    match cx.mode {
        Mode::Full => {
            sql.push("c.rk IN (SELECT e.contact_rk FROM events e WHERE e.contact_rk IS NOT NULL");
            event_filters(sql, b, cx);
            sql.push(" GROUP BY e.contact_rk HAVING count(*) >= ");
            sql.int(n);
            sql.push(")");
        }
        Mode::Contact => {
            // LIMIT N: stop at the N-th event.
            // On the contact's own events (the planner could pick the
            // name/time index and read every contact's events in the window).
            sql.push("(SELECT count(*) FROM (SELECT 1 FROM events e INDEXED BY events_contact_time WHERE e.contact_rk = c.rk");
            event_filters(sql, b, cx);
            sql.push(" LIMIT ");
            sql.int(n);
            sql.push(")) >= ");
            sql.int(n);
        }
    }
}

/// A won-deal total compared exactly: `total op amount`.
pub fn won_holds(op: Op, total: Decimal, amount: Decimal) -> bool {
    match op {
        Op::Gt => total > amount,
        Op::Gte => total >= amount,
        Op::Lt => total < amount,
        Op::Lte => total <= amount,
        Op::Ne => total != amount,
        _ => total == amount,
    }
}

/// Sum won deals per contact rk, exactly: in `currency` only (deals in other
/// currencies are left out), or converted into the base currency with the
/// rates (a deal whose currency has no rate is left out).
pub fn won_totals(
    deals: &[(i64, Option<String>, Option<String>)],
    currency: Option<&str>,
    rates: &[(String, Decimal)],
) -> HashMap<i64, Decimal> {
    let mut totals: HashMap<i64, Decimal> = HashMap::new();
    for (rk, amount, deal_currency) in deals {
        let Some(amount) = crate::money::stored(amount.as_deref()) else {
            continue;
        };
        let Some(deal_currency) = deal_currency.as_deref() else {
            continue;
        };
        let value = match currency {
            Some(c) if c == deal_currency => Some(amount),
            Some(_) => None,
            None => rates
                .iter()
                .find(|(c, _)| c == deal_currency)
                .and_then(|(_, rate)| amount.checked_mul(*rate)),
        };
        if let Some(v) = value {
            let t = totals.entry(*rk).or_default();
            *t = t.checked_add(v).unwrap_or(*t);
        }
    }
    totals
}
