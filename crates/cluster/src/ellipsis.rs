//! MinIO-style ellipsis expansion of drive arguments: `/data{1...4}` is four
//! drives, `/mnt/d{01...16}` keeps the zero padding, and several ellipses in one
//! argument expand to every combination, leftmost varying slowest.

/// Most drives one argument may expand to; far above any real layout, it stops typos like `{1...100000}`.
const EXPANSION_COUNT_MAX: usize = 4096;

/// Why an argument does not expand.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EllipsisError {
    /// `{a...b}` with a non-number, or an unclosed brace.
    #[error("{0:?}: malformed ellipsis; write ranges as {{1...4}}")]
    Malformed(String),
    /// The range runs backwards.
    #[error("{0:?}: the range must count upwards, like {{1...4}}")]
    Backwards(String),
    /// Too many drives.
    #[error("{0:?} expands to more than {EXPANSION_COUNT_MAX} drives")]
    TooMany(String),
}

/// One `{start...end}` found in an argument.
struct Range {
    /// Byte offsets of `{` and one past `}`.
    span: (usize, usize),
    start: u64,
    end: u64,
    /// Digits to pad to (when the start is written with a leading zero).
    width: usize,
}

fn find_ranges(argument: &str) -> Result<Vec<Range>, EllipsisError> {
    let malformed = || EllipsisError::Malformed(argument.to_owned());
    let mut ranges = Vec::new();
    let mut cursor = 0;
    while let Some(open) = argument[cursor..].find('{').map(|i| i + cursor) {
        let close = argument[open..].find('}').map(|i| i + open).ok_or_else(malformed)?;
        let inner = &argument[open + 1..close];
        let (low, high) = inner.split_once("...").ok_or_else(malformed)?;
        let start: u64 = low.parse().map_err(|_| malformed())?;
        let end: u64 = high.parse().map_err(|_| malformed())?;
        if end < start {
            return Err(EllipsisError::Backwards(argument.to_owned()));
        }
        let width = if low.starts_with('0') && low.len() > 1 { low.len() } else { 0 };
        ranges.push(Range { span: (open, close + 1), start, end, width });
        cursor = close + 1;
    }
    Ok(ranges)
}

/// Expands every ellipsis in `argument`.
pub fn expand(argument: &str) -> Result<Vec<String>, EllipsisError> {
    let ranges = find_ranges(argument)?;
    let mut results = vec![String::new()];
    let mut tail_start = 0;
    for range in &ranges {
        let literal = &argument[tail_start..range.span.0];
        // `{0...18446744073709551615}` has 2^64 values: the count must not wrap to 0.
        let count = usize::try_from(range.end - range.start).ok().and_then(|span| span.checked_add(1));
        if count.is_none_or(|count| results.len().saturating_mul(count) > EXPANSION_COUNT_MAX) {
            return Err(EllipsisError::TooMany(argument.to_owned()));
        }
        results = results
            .iter()
            .flat_map(|prefix| {
                (range.start..=range.end).map(move |n| format!("{prefix}{literal}{n:0width$}", width = range.width))
            })
            .collect();
        tail_start = range.span.1;
    }
    let tail = &argument[tail_start..];
    Ok(results.into_iter().map(|prefix| format!("{prefix}{tail}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ranges_and_padding() {
        assert_eq!(expand("/data").expect("valid"), vec!["/data"]);
        assert_eq!(expand("./d{1...3}").expect("valid"), vec!["./d1", "./d2", "./d3"]);
        assert_eq!(expand("/mnt/d{08...10}").expect("valid"), vec!["/mnt/d08", "/mnt/d09", "/mnt/d10"]);
        assert_eq!(
            expand("http://host{1...2}:9000/d{1...2}").expect("valid"),
            vec!["http://host1:9000/d1", "http://host1:9000/d2", "http://host2:9000/d1", "http://host2:9000/d2"]
        );
    }

    #[test]
    fn refuses_malformed_ranges() {
        assert!(matches!(expand("/d{1..4}"), Err(EllipsisError::Malformed(_))));
        assert!(matches!(expand("/d{a...4}"), Err(EllipsisError::Malformed(_))));
        assert!(matches!(expand("/d{1...4"), Err(EllipsisError::Malformed(_))));
        assert!(matches!(expand("/d{4...1}"), Err(EllipsisError::Backwards(_))));
        assert!(matches!(expand("/d{1...100000}"), Err(EllipsisError::TooMany(_))));
    }

    /// Found by `fuzz_ellipsis_expansion`: the count of a range spanning every u64
    /// overflowed (a panic in debug builds; in release it wrapped to 0, passed the
    /// limit, and the expansion then tried to build 2^64 drive names).
    #[test]
    fn a_range_of_every_u64_is_too_many() {
        assert!(matches!(expand("/d{0...18446744073709551615}"), Err(EllipsisError::TooMany(_))));
        assert!(matches!(expand("/d{1...18446744073709551615}"), Err(EllipsisError::TooMany(_))));
        let top = expand("/d{18446744073709551614...18446744073709551615}").expect("two drives");
        assert_eq!(top, ["/d18446744073709551614", "/d18446744073709551615"]);
    }
}
