//! Evaluating a condition against a request's values, with AWS's rules for absent keys
//! and multi-valued keys:
//!
//! - An absent key: `...IfExists` holds; `ForAllValues:` holds (vacuously);
//!   `ForAnyValue:` does not; otherwise a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, ...) holds and a positive one does not. `Null` tests exactly this.
//! - A present key: each request value is tested against the policy values (it
//!   satisfies a positive operator if it matches any of them, a negated one if it
//!   matches none). `ForAllValues:` needs every request value to satisfy the operator,
//!   `ForAnyValue:` at least one; without a qualifier a positive operator needs one and
//!   a negated operator needs all (no value may match).
//! - A request value the operator cannot read (not a number, date or address) satisfies
//!   neither the operator nor its negation.

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;

use super::cidr::Cidr;
use super::condition::{Condition, Number, Operator, SetQualifier, parse_instant};
use super::keys::{self, ConditionValues};

impl Condition {
    /// Whether the condition holds for `values`. `variables` is false for 2008-10-17
    /// policies, whose `${...}` text is literal.
    pub(crate) fn evaluate(&self, values: &ConditionValues, variables: bool) -> bool {
        let request = values.get(&self.key).unwrap_or(&[]);
        let operator = self.operator.operator;
        if operator == Operator::Null {
            let wants_absent = self.values.iter().any(|value| value == "true");
            return request.is_empty() == wants_absent;
        }
        if request.is_empty() {
            if self.operator.if_exists {
                return true;
            }
            return match self.operator.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => operator.is_negated(),
            };
        }
        let satisfies = |request_value: &String| match self.matches_any(request_value, values, variables) {
            Some(matched) => matched != operator.is_negated(),
            None => false,
        };
        match self.operator.qualifier {
            Some(SetQualifier::ForAllValues) => request.iter().all(satisfies),
            Some(SetQualifier::ForAnyValue) => request.iter().any(satisfies),
            None if operator.is_negated() => request.iter().all(satisfies),
            None => request.iter().any(satisfies),
        }
    }

    /// Whether one request value matches any policy value under the positive form of
    /// the operator, or `None` if the operator cannot read the request value.
    fn matches_any(&self, request_value: &str, values: &ConditionValues, variables: bool) -> Option<bool> {
        let policy_values = self.values.iter();
        let substituted = |policy_value: &String| -> String {
            if variables { keys::substitute(policy_value, values) } else { policy_value.clone() }
        };
        match self.operator.operator {
            Operator::StringEquals | Operator::StringNotEquals => {
                Some(policy_values.map(substituted).any(|policy_value| policy_value == request_value))
            }
            Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                let request_value = request_value.to_lowercase();
                Some(policy_values.map(substituted).any(|policy_value| policy_value.to_lowercase() == request_value))
            }
            Operator::StringLike | Operator::StringNotLike => {
                let variables = variables.then_some(values);
                Some(
                    policy_values
                        .into_iter()
                        .any(|pattern| keys::matches_with_variables(pattern, request_value, variables)),
                )
            }
            Operator::BinaryEquals => Some(policy_values.into_iter().any(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .is_ok_and(|decoded| decoded == request_value.as_bytes())
            })),
            Operator::NumericEquals
            | Operator::NumericNotEquals
            | Operator::NumericLessThan
            | Operator::NumericLessThanEquals
            | Operator::NumericGreaterThan
            | Operator::NumericGreaterThanEquals => {
                let request_number = Number::parse(request_value)?;
                Some(policy_values.filter_map(|text| Number::parse(text)).any(|policy_number| {
                    request_number.compare(policy_number).is_some_and(|ordering| self.accepts(ordering))
                }))
            }
            Operator::DateEquals
            | Operator::DateNotEquals
            | Operator::DateLessThan
            | Operator::DateLessThanEquals
            | Operator::DateGreaterThan
            | Operator::DateGreaterThanEquals => {
                let request_instant = parse_instant(request_value)?;
                Some(
                    policy_values
                        .filter_map(|text| parse_instant(text))
                        .any(|policy_instant| self.accepts(request_instant.cmp(&policy_instant))),
                )
            }
            Operator::Bool => {
                Some(policy_values.into_iter().any(|flag| flag.eq_ignore_ascii_case(request_value.trim())))
            }
            Operator::IpAddress | Operator::NotIpAddress => {
                let address: IpAddr = request_value.trim().parse().ok()?;
                Some(policy_values.filter_map(|range| Cidr::parse(range)).any(|range| range.contains(address)))
            }
            Operator::Null => {
                unreachable!("Null is decided by the key's presence before values are compared")
            }
        }
    }

    /// Whether `request.cmp(policy)` satisfies a numeric or date operator.
    fn accepts(&self, ordering: Ordering) -> bool {
        match self.operator.operator {
            Operator::NumericEquals | Operator::NumericNotEquals | Operator::DateEquals | Operator::DateNotEquals => {
                ordering == Ordering::Equal
            }
            Operator::NumericLessThan | Operator::DateLessThan => ordering == Ordering::Less,
            Operator::NumericLessThanEquals | Operator::DateLessThanEquals => ordering != Ordering::Greater,
            Operator::NumericGreaterThan | Operator::DateGreaterThan => ordering == Ordering::Greater,
            Operator::NumericGreaterThanEquals | Operator::DateGreaterThanEquals => ordering != Ordering::Less,
            _ => false,
        }
    }
}
