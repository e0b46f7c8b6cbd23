//! What every page's template gets besides its own content.

use crate::Console;
use crate::caller::{Caller, Menu};

/// The page frame: navigation, the caller, the CSRF token forms carry, and a notice or
/// error to show above the content (from the query string after a redirect).
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub(crate) base: String,
    pub(crate) asset_version: &'static str,
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) menu: Menu,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
}

impl Chrome {
    /// The frame for `caller`, with the `notice`/`error` of `query`.
    pub(crate) fn new(console: &Console, caller: &Caller, query: &[u8]) -> Self {
        let mut pairs = crate::web::pairs(query);
        Self {
            base: console.config.base_path.clone(),
            asset_version: crate::assets::version(),
            user: caller.name().to_owned(),
            csrf: caller.csrf.clone(),
            menu: caller.menu(),
            notice: pairs.remove("notice").filter(|n| !n.is_empty()),
            error: pairs.remove("error").filter(|e| !e.is_empty()),
        }
    }
}

/// Bytes in words (KiB, MiB, ...), as the console shows sizes.
pub(crate) fn bytes(size: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{size} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(super::bytes(0), "0 B");
        assert_eq!(super::bytes(1023), "1023 B");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(30 << 20), "30.0 MiB");
    }
}
