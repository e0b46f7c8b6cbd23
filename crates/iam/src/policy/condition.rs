//! Condition blocks: `{"Operator": {"key": value-or-values}}`, their parsing and
//! validation. How a condition is evaluated is in [`super::condition_eval`].

use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::cidr::Cidr;
use super::error::PolicyError;
use super::keys;

/// The comparison a condition makes, without its set qualifier or `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Exact, case-sensitive string equality.
    StringEquals,
    /// Negation of `StringEquals`.
    StringNotEquals,
    /// String equality ignoring case.
    StringEqualsIgnoreCase,
    /// Negation of `StringEqualsIgnoreCase`.
    StringNotEqualsIgnoreCase,
    /// Wildcard match (`*`, `?`), case-sensitive.
    StringLike,
    /// Negation of `StringLike`.
    StringNotLike,
    /// Equality with a base64-encoded policy value.
    BinaryEquals,
    /// Numbers equal.
    NumericEquals,
    /// Negation of `NumericEquals`.
    NumericNotEquals,
    /// Request value below the policy value.
    NumericLessThan,
    /// Request value at most the policy value.
    NumericLessThanEquals,
    /// Request value above the policy value.
    NumericGreaterThan,
    /// Request value at least the policy value.
    NumericGreaterThanEquals,
    /// Same instant (RFC 3339 or epoch seconds).
    DateEquals,
    /// Negation of `DateEquals`.
    DateNotEquals,
    /// Request instant before the policy instant.
    DateLessThan,
    /// Request instant at or before the policy instant.
    DateLessThanEquals,
    /// Request instant after the policy instant.
    DateGreaterThan,
    /// Request instant at or after the policy instant.
    DateGreaterThanEquals,
    /// Boolean equality (`true`/`false`).
    Bool,
    /// Address in one of the ranges (only for `aws:SourceIp`).
    IpAddress,
    /// Negation of `IpAddress`.
    NotIpAddress,
    /// Whether the key is absent (`true`) or present (`false`).
    Null,
}

impl Operator {
    /// Every operator, for name lookup.
    const ALL: [Operator; 23] = [
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringEqualsIgnoreCase,
        Operator::StringNotEqualsIgnoreCase,
        Operator::StringLike,
        Operator::StringNotLike,
        Operator::BinaryEquals,
        Operator::NumericEquals,
        Operator::NumericNotEquals,
        Operator::NumericLessThan,
        Operator::NumericLessThanEquals,
        Operator::NumericGreaterThan,
        Operator::NumericGreaterThanEquals,
        Operator::DateEquals,
        Operator::DateNotEquals,
        Operator::DateLessThan,
        Operator::DateLessThanEquals,
        Operator::DateGreaterThan,
        Operator::DateGreaterThanEquals,
        Operator::Bool,
        Operator::IpAddress,
        Operator::NotIpAddress,
        Operator::Null,
    ];

    /// The operator's name in policy documents.
    pub fn name(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringNotEquals => "StringNotEquals",
            Operator::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            Operator::StringLike => "StringLike",
            Operator::StringNotLike => "StringNotLike",
            Operator::BinaryEquals => "BinaryEquals",
            Operator::NumericEquals => "NumericEquals",
            Operator::NumericNotEquals => "NumericNotEquals",
            Operator::NumericLessThan => "NumericLessThan",
            Operator::NumericLessThanEquals => "NumericLessThanEquals",
            Operator::NumericGreaterThan => "NumericGreaterThan",
            Operator::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            Operator::DateEquals => "DateEquals",
            Operator::DateNotEquals => "DateNotEquals",
            Operator::DateLessThan => "DateLessThan",
            Operator::DateLessThanEquals => "DateLessThanEquals",
            Operator::DateGreaterThan => "DateGreaterThan",
            Operator::DateGreaterThanEquals => "DateGreaterThanEquals",
            Operator::Bool => "Bool",
            Operator::IpAddress => "IpAddress",
            Operator::NotIpAddress => "NotIpAddress",
            Operator::Null => "Null",
        }
    }

    /// Whether the operator is the negation of another: such a condition holds when the
    /// key is absent, and on a multi-valued key only if no value matches.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NumericNotEquals
                | Operator::DateNotEquals
                | Operator::NotIpAddress
        )
    }

    fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|operator| operator.name() == name)
    }
}

/// How a condition treats a key with several values (AWS's set operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// `ForAnyValue:`: at least one request value must satisfy the operator; an absent
    /// key does not.
    ForAnyValue,
    /// `ForAllValues:`: every request value must satisfy the operator; an absent key
    /// does, vacuously.
    ForAllValues,
}

/// A full operator as written: optional set qualifier, comparison, optional `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConditionOperator {
    /// The comparison.
    pub operator: Operator,
    /// `ForAnyValue:` or `ForAllValues:`, if written.
    pub qualifier: Option<SetQualifier>,
    /// `...IfExists`: the condition holds when the key is absent.
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`. Names are
    /// case-sensitive, as in MinIO.
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        let (qualifier, rest) = match name.split_once(':') {
            Some(("ForAnyValue", rest)) => (Some(SetQualifier::ForAnyValue), rest),
            Some(("ForAllValues", rest)) => (Some(SetQualifier::ForAllValues), rest),
            Some(_) => return None,
            None => (None, name),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let operator = Operator::from_name(base)?;
        // `Null` already tests existence; AWS refuses the combinations too.
        if operator == Operator::Null && (if_exists || qualifier.is_some()) {
            return None;
        }
        Some(ConditionOperator { operator, qualifier, if_exists })
    }
}

impl fmt::Display for ConditionOperator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAnyValue) => formatter.write_str("ForAnyValue:")?,
            Some(SetQualifier::ForAllValues) => formatter.write_str("ForAllValues:")?,
            None => {}
        }
        formatter.write_str(self.operator.name())?;
        if self.if_exists {
            formatter.write_str("IfExists")?;
        }
        Ok(())
    }
}

/// One test of a statement: `operator` applied to the request's values of `key` and
/// the policy's `values`. A statement applies only if all its conditions hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub(crate) operator: ConditionOperator,
    /// The key in its canonical spelling (see [`keys::canonical_key`]).
    pub(crate) key: String,
    /// The policy's values, normalised for the operator (booleans lower case, address
    /// ranges as `network/length`), sorted and without duplicates; never empty.
    pub(crate) values: Vec<String>,
}

impl Condition {
    /// The operator.
    pub fn operator(&self) -> ConditionOperator {
        self.operator
    }

    /// The condition key, canonically spelled.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The policy's values.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// A condition built by this crate from known-good parts (bucket presets).
    pub(crate) fn new_string_like(key: &str, value: String) -> Condition {
        let key = keys::canonical_key(key).expect("preset condition keys are known");
        let operator = ConditionOperator { operator: Operator::StringLike, qualifier: None, if_exists: false };
        Condition { operator, key, values: vec![value] }
    }

    /// The order conditions are kept and printed in: by operator name, then key.
    pub(crate) fn sort_key(&self) -> (String, &str) {
        (self.operator.to_string(), &self.key)
    }
}

/// Parses a statement's `Condition` object. MinIO refuses an empty one.
pub(crate) fn parse_conditions(block: &Value, context: &str) -> Result<Vec<Condition>, PolicyError> {
    let context = format!("{context}.Condition");
    let Value::Object(operators) = block else {
        return Err(PolicyError::WrongType { context, field: "Condition".into(), expected: "an object" });
    };
    if operators.is_empty() {
        return Err(PolicyError::Empty { context, field: "Condition".into() });
    }
    let mut conditions = Vec::new();
    for (operator_name, entries) in operators {
        let operator = ConditionOperator::parse(operator_name).ok_or_else(|| {
            PolicyError::UnknownConditionOperator { context: context.clone(), operator: operator_name.clone() }
        })?;
        let Value::Object(entries) = entries else {
            return Err(PolicyError::WrongType {
                context: context.clone(),
                field: operator_name.clone(),
                expected: "an object of condition keys",
            });
        };
        if entries.is_empty() {
            return Err(PolicyError::Empty { context: context.clone(), field: operator_name.clone() });
        }
        for (written_key, written_values) in entries {
            let key = keys::canonical_key(written_key).ok_or_else(|| PolicyError::UnknownConditionKey {
                context: context.clone(),
                key: written_key.clone(),
            })?;
            let values = parse_values(operator, &key, written_values, &context)?;
            conditions.push(Condition { operator, key, values });
        }
    }
    conditions.sort_by(|left, right| left.sort_key().cmp(&right.sort_key()));
    // Two spellings of one key under one operator (`s3:prefix`, `S3:Prefix`) would
    // print as one JSON field twice; refuse them as the duplicate they are.
    if let Some(pair) = conditions.windows(2).find(|pair| pair[0].sort_key() == pair[1].sort_key()) {
        return Err(PolicyError::InvalidConditionValue {
            context,
            operator: pair[0].operator.to_string(),
            key: pair[0].key.clone(),
            value: String::new(),
            reason: "the key is given twice for this operator",
        });
    }
    Ok(conditions)
}

/// Parses and normalises the value (or array of values) of one key.
fn parse_values(
    operator: ConditionOperator,
    key: &str,
    written: &Value,
    context: &str,
) -> Result<Vec<String>, PolicyError> {
    let scalars: Vec<&Value> = match written {
        Value::Array(items) => items.iter().collect(),
        scalar => vec![scalar],
    };
    if scalars.is_empty() {
        return Err(PolicyError::Empty { context: context.to_owned(), field: key.to_owned() });
    }
    let mut values = Vec::with_capacity(scalars.len());
    for scalar in scalars {
        let text = match scalar {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => {
                return Err(PolicyError::WrongType {
                    context: context.to_owned(),
                    field: key.to_owned(),
                    expected: "a string, number or boolean, or an array of them",
                });
            }
        };
        let normalised =
            normalise_value(operator.operator, key, &text).map_err(|reason| PolicyError::InvalidConditionValue {
                context: context.to_owned(),
                operator: operator.to_string(),
                key: key.to_owned(),
                value: text.clone(),
                reason,
            })?;
        values.push(normalised);
    }
    values.sort();
    values.dedup();
    if matches!(operator.operator, Operator::Null | Operator::Bool) && values.len() != 1 {
        return Err(PolicyError::InvalidConditionValue {
            context: context.to_owned(),
            operator: operator.to_string(),
            key: key.to_owned(),
            value: values.join(","),
            reason: "exactly one value is allowed",
        });
    }
    Ok(values)
}

/// Checks one policy value for `operator` and returns the form it is kept in.
fn normalise_value(operator: Operator, key: &str, text: &str) -> Result<String, &'static str> {
    match operator {
        Operator::StringEquals
        | Operator::StringNotEquals
        | Operator::StringEqualsIgnoreCase
        | Operator::StringNotEqualsIgnoreCase
        | Operator::StringLike
        | Operator::StringNotLike => Ok(text.to_owned()),
        Operator::BinaryEquals => match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(_) => Ok(text.to_owned()),
            Err(_) => Err("not base64"),
        },
        Operator::NumericEquals
        | Operator::NumericNotEquals
        | Operator::NumericLessThan
        | Operator::NumericLessThanEquals
        | Operator::NumericGreaterThan
        | Operator::NumericGreaterThanEquals => match Number::parse(text) {
            Some(_) => Ok(text.to_owned()),
            None => Err("not a number"),
        },
        Operator::DateEquals
        | Operator::DateNotEquals
        | Operator::DateLessThan
        | Operator::DateLessThanEquals
        | Operator::DateGreaterThan
        | Operator::DateGreaterThanEquals => match parse_instant(text) {
            Some(_) => Ok(text.to_owned()),
            None => Err("not an RFC 3339 date or epoch seconds"),
        },
        Operator::Bool | Operator::Null => match text.to_ascii_lowercase().as_str() {
            flag @ ("true" | "false") => Ok(flag.to_owned()),
            _ => Err("not a boolean"),
        },
        Operator::IpAddress | Operator::NotIpAddress => {
            if !key.eq_ignore_ascii_case("aws:SourceIp") {
                return Err("address conditions apply only to aws:SourceIp");
            }
            match Cidr::parse(text) {
                Some(range) => Ok(range.to_string()),
                None => Err("not an IP address or CIDR range"),
            }
        }
    }
}

/// A number from a policy or request: integers compare exactly, anything else as a
/// finite float (AWS allows decimals; MinIO only integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// Fits in an `i64`.
    Integer(i64),
    /// Any other finite number.
    Float(f64),
}

impl Number {
    pub(crate) fn parse(text: &str) -> Option<Number> {
        let text = text.trim();
        if let Ok(integer) = text.parse::<i64>() {
            return Some(Number::Integer(integer));
        }
        // Only plain decimal notation: Rust would also read "inf" and "NaN".
        if !text.bytes().all(|byte| byte.is_ascii_digit() || matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E')) {
            return None;
        }
        text.parse::<f64>().ok().filter(|float| float.is_finite()).map(Number::Float)
    }

    pub(crate) fn compare(self, other: Number) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Number::Integer(left), Number::Integer(right)) => Some(left.cmp(&right)),
            (left, right) => left.as_float().partial_cmp(&right.as_float()),
        }
    }

    fn as_float(self) -> f64 {
        match self {
            // Precision loss past 2^53 only blurs comparisons with non-integers.
            Number::Integer(integer) => integer as f64,
            Number::Float(float) => float,
        }
    }
}

/// An instant in nanoseconds since the epoch, from RFC 3339 text (as `aws:CurrentTime`)
/// or whole epoch seconds (as `aws:EpochTime`).
pub(crate) fn parse_instant(text: &str) -> Option<i128> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for name in [
            "StringEquals",
            "ForAnyValue:StringLike",
            "ForAllValues:StringNotEqualsIgnoreCase",
            "NumericLessThanIfExists",
            "ForAnyValue:DateGreaterThanEqualsIfExists",
            "Null",
            "NotIpAddress",
        ] {
            let operator = ConditionOperator::parse(name).expect(name);
            assert_eq!(operator.to_string(), name);
        }
        for name in
            ["stringequals", "ForSomeValues:StringLike", "NullIfExists", "ForAnyValue:Null", "StringEqual", "a:b:c"]
        {
            assert_eq!(ConditionOperator::parse(name), None, "{name}");
        }
    }

    #[test]
    fn numbers_and_instants() {
        assert_eq!(Number::parse("10"), Some(Number::Integer(10)));
        assert_eq!(Number::parse("-2.5"), Some(Number::Float(-2.5)));
        assert_eq!(Number::parse("NaN"), None);
        assert_eq!(Number::parse("inf"), None);
        assert_eq!(Number::parse("ten"), None);
        assert_eq!(Number::Integer(3).compare(Number::Float(2.5)), Some(std::cmp::Ordering::Greater));
        assert_eq!(parse_instant("1970-01-01T00:00:10Z"), Some(10_000_000_000));
        assert_eq!(parse_instant("10"), Some(10_000_000_000));
        assert_eq!(parse_instant("2020-01-01T01:00:00+01:00"), parse_instant("2020-01-01T00:00:00Z"));
        assert_eq!(parse_instant("yesterday"), None);
    }
}
