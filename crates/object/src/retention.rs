//! Object lock on a version: its retention (mode and date) and legal hold, stored among
//! the version's headers under Cairn's own names (never sent back as headers: object
//! outputs are built field by field), so that they travel with the version through
//! healing and copies and change in place as tags do. What may remove a version:
//!
//! - a legal hold that is on: nobody;
//! - COMPLIANCE retention until a later date: nobody, root included;
//! - GOVERNANCE retention until a later date: only a request that asks to bypass
//!   governance and is allowed to (`s3:BypassGovernanceRetention`);
//! - otherwise (no lock, or a date passed): whoever may delete.

use crate::{ObjectError, Result};
use cairn_meta::RetentionMode;
use std::collections::BTreeMap;

/// The stored header of a version's retention mode (`GOVERNANCE` or `COMPLIANCE`).
pub const MODE: &str = "x-cairn-lock-mode";
/// The stored header of a version's retain-until date, seconds since the Unix epoch.
pub const RETAIN_UNTIL: &str = "x-cairn-lock-retain-until";
/// The stored header of a version's legal hold (`ON`; absent when off).
pub const LEGAL_HOLD: &str = "x-cairn-lock-legal-hold";

/// A version's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How strongly it protects the version.
    pub mode: RetentionMode,
    /// Until when, in seconds since the Unix epoch.
    pub until_unix_secs: i64,
}

/// The name S3 gives a mode.
pub fn mode_name(mode: RetentionMode) -> &'static str {
    match mode {
        RetentionMode::Governance => "GOVERNANCE",
        RetentionMode::Compliance => "COMPLIANCE",
    }
}

/// The mode S3 names so, if any.
pub fn mode_of(name: &str) -> Option<RetentionMode> {
    match name {
        "GOVERNANCE" => Some(RetentionMode::Governance),
        "COMPLIANCE" => Some(RetentionMode::Compliance),
        _ => None,
    }
}

/// The retention stored in a version's headers, if any.
pub fn retention(headers: &BTreeMap<String, String>) -> Option<Retention> {
    let mode = mode_of(headers.get(MODE)?)?;
    let until_unix_secs = headers.get(RETAIN_UNTIL)?.parse().ok()?;
    Some(Retention { mode, until_unix_secs })
}

/// Stores `retention` (None: removes it) in a version's headers.
pub fn set_retention(headers: &mut BTreeMap<String, String>, retention: Option<Retention>) {
    match retention {
        Some(Retention { mode, until_unix_secs }) => {
            headers.insert(MODE.to_owned(), mode_name(mode).to_owned());
            headers.insert(RETAIN_UNTIL.to_owned(), until_unix_secs.to_string());
        }
        None => {
            headers.remove(MODE);
            headers.remove(RETAIN_UNTIL);
        }
    }
}

/// Whether a version's legal hold is on.
pub fn legal_hold(headers: &BTreeMap<String, String>) -> bool {
    headers.get(LEGAL_HOLD).is_some_and(|v| v == "ON")
}

/// Turns a version's legal hold on or off.
pub fn set_legal_hold(headers: &mut BTreeMap<String, String>, on: bool) {
    if on {
        headers.insert(LEGAL_HOLD.to_owned(), "ON".to_owned());
    } else {
        headers.remove(LEGAL_HOLD);
    }
}

/// Refuses the removal of a version with these headers at `now_unix_secs` unless
/// nothing protects it; `bypass_governance` is a request that asked to bypass
/// governance and may.
pub fn check_removable(headers: &BTreeMap<String, String>, now_unix_secs: i64, bypass_governance: bool) -> Result<()> {
    if legal_hold(headers) {
        return Err(ObjectError::ObjectLocked("the version is under a legal hold"));
    }
    match retention(headers) {
        Some(Retention { until_unix_secs, .. }) if until_unix_secs <= now_unix_secs => Ok(()),
        Some(Retention { mode: RetentionMode::Compliance, .. }) => {
            Err(ObjectError::ObjectLocked("the version is under COMPLIANCE retention"))
        }
        Some(Retention { mode: RetentionMode::Governance, .. }) if !bypass_governance => {
            Err(ObjectError::ObjectLocked("the version is under GOVERNANCE retention"))
        }
        _ => Ok(()),
    }
}

/// Refuses a change of a version's retention from `old` to `new` at `now_unix_secs`
/// that S3 forbids: COMPLIANCE cannot be shortened, removed or turned into GOVERNANCE
/// while it lasts; GOVERNANCE can be shortened or removed only with the bypass.
pub fn check_retention_change(
    old: Option<Retention>,
    new: Option<Retention>,
    now_unix_secs: i64,
    bypass_governance: bool,
) -> Result<()> {
    let Some(old) = old.filter(|old| old.until_unix_secs > now_unix_secs) else { return Ok(()) };
    let weakened = match new {
        None => true,
        Some(new) => {
            new.until_unix_secs < old.until_unix_secs
                || (old.mode == RetentionMode::Compliance && new.mode == RetentionMode::Governance)
        }
    };
    match (old.mode, weakened) {
        (_, false) => Ok(()),
        (RetentionMode::Compliance, true) => {
            Err(ObjectError::ObjectLocked("COMPLIANCE retention cannot be shortened or removed"))
        }
        (RetentionMode::Governance, true) if bypass_governance => Ok(()),
        (RetentionMode::Governance, true) => {
            Err(ObjectError::ObjectLocked("GOVERNANCE retention can be shortened only by bypassing governance"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(mode: RetentionMode, until: i64) -> BTreeMap<String, String> {
        let mut headers = BTreeMap::new();
        set_retention(&mut headers, Some(Retention { mode, until_unix_secs: until }));
        headers
    }

    #[test]
    fn what_protects_a_version_from_removal() {
        let now = 1_000;
        assert!(check_removable(&BTreeMap::new(), now, false).is_ok());
        assert!(check_removable(&locked(RetentionMode::Compliance, 2_000), now, true).is_err(), "nobody");
        assert!(check_removable(&locked(RetentionMode::Compliance, 999), now, false).is_ok(), "expired");
        assert!(check_removable(&locked(RetentionMode::Governance, 2_000), now, false).is_err());
        assert!(check_removable(&locked(RetentionMode::Governance, 2_000), now, true).is_ok(), "bypassed");
        let mut held = BTreeMap::new();
        set_legal_hold(&mut held, true);
        assert!(check_removable(&held, now, true).is_err(), "a legal hold is never bypassed");
        set_legal_hold(&mut held, false);
        assert!(check_removable(&held, now, false).is_ok());
    }

    #[test]
    fn compliance_is_never_weakened_and_governance_only_with_the_bypass() {
        let (now, compliance, governance) = (1_000, RetentionMode::Compliance, RetentionMode::Governance);
        let at = |mode, until| Some(Retention { mode, until_unix_secs: until });
        assert!(check_retention_change(at(compliance, 2_000), at(compliance, 3_000), now, false).is_ok(), "longer");
        assert!(check_retention_change(at(compliance, 2_000), at(compliance, 1_500), now, true).is_err());
        assert!(check_retention_change(at(compliance, 2_000), at(governance, 3_000), now, true).is_err());
        assert!(check_retention_change(at(compliance, 2_000), None, now, true).is_err());
        assert!(check_retention_change(at(governance, 2_000), None, now, false).is_err());
        assert!(check_retention_change(at(governance, 2_000), None, now, true).is_ok());
        assert!(check_retention_change(at(governance, 2_000), at(compliance, 2_000), now, false).is_ok(), "stronger");
        assert!(check_retention_change(at(compliance, 500), None, now, false).is_ok(), "expired");
    }
}
