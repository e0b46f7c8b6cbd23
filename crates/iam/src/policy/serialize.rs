//! Canonical JSON output, for GetBucketPolicy and the admin API.
//!
//! Written by hand rather than through a JSON map so the field order is fixed
//! whatever features other crates turn on in `serde_json`: `Version`, `Id`,
//! `Statement`; in statements `Sid`, `Effect`, `Principal`, `Action`/`NotAction`,
//! `Resource`/`NotResource`, `Condition`. Lists are always arrays and condition values
//! always strings, which both AWS and MinIO read back.

use std::fmt::Write as _;

use super::condition::Condition;
use super::document::{ActionSpec, Policy, ResourceSpec, Statement};

impl Policy {
    /// The policy as compact JSON. Parsing the output gives back an equal policy.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"Version\":");
        push_string(&mut out, self.version.as_str());
        if let Some(id) = &self.id {
            out.push_str(",\"Id\":");
            push_string(&mut out, id);
        }
        out.push_str(",\"Statement\":[");
        for (index, statement) in self.statements.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_statement(&mut out, statement);
        }
        out.push_str("]}");
        out
    }
}

fn push_statement(out: &mut String, statement: &Statement) {
    out.push('{');
    if let Some(sid) = &statement.sid {
        out.push_str("\"Sid\":");
        push_string(out, sid);
        out.push(',');
    }
    out.push_str("\"Effect\":");
    push_string(out, statement.effect.as_str());
    if let Some(principal) = &statement.principal {
        out.push_str(",\"Principal\":{\"AWS\":");
        push_list(out, principal.aws.iter().map(String::as_str));
        out.push('}');
    }
    let (field, patterns) = match &statement.actions {
        ActionSpec::Action(patterns) => ("Action", patterns),
        ActionSpec::NotAction(patterns) => ("NotAction", patterns),
    };
    let _ = write!(out, ",\"{field}\":");
    push_list(out, patterns.iter().map(String::as_str));
    if let Some(resources) = &statement.resources {
        let (field, patterns) = match resources {
            ResourceSpec::Resource(patterns) => ("Resource", patterns),
            ResourceSpec::NotResource(patterns) => ("NotResource", patterns),
        };
        let _ = write!(out, ",\"{field}\":");
        let arns: Vec<String> = patterns.iter().map(ToString::to_string).collect();
        push_list(out, arns.iter().map(String::as_str));
    }
    if !statement.conditions.is_empty() {
        out.push_str(",\"Condition\":");
        push_conditions(out, &statement.conditions);
    }
    out.push('}');
}

/// Conditions are kept sorted by operator then key, so consecutive entries with the
/// same operator form one JSON object.
fn push_conditions(out: &mut String, conditions: &[Condition]) {
    out.push('{');
    let mut current_operator: Option<String> = None;
    for condition in conditions {
        let operator = condition.operator.to_string();
        if current_operator.as_deref() == Some(operator.as_str()) {
            out.push(',');
        } else {
            if current_operator.is_some() {
                out.push_str("},");
            }
            push_string(out, &operator);
            out.push_str(":{");
            current_operator = Some(operator);
        }
        push_string(out, &condition.key);
        out.push(':');
        push_list(out, condition.values.iter().map(String::as_str));
    }
    if current_operator.is_some() {
        out.push('}');
    }
    out.push('}');
}

fn push_list<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_string(out, item);
    }
    out.push(']');
}

/// Appends `text` as a JSON string literal.
fn push_string(out: &mut String, text: &str) {
    // Display of a JSON string value is its escaped literal; it cannot fail.
    let _ = write!(out, "{}", serde_json::Value::from(text));
}
