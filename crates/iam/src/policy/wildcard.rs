//! Wildcard matching as IAM policies use it: `*` matches any sequence of characters
//! (including `/` and the empty sequence) and `?` matches exactly one character. There
//! is no escape character: a backslash is an ordinary character.
//!
//! Matching is the greedy two-pointer algorithm with one backtrack point, so it runs in
//! O(pattern × text) time and constant memory whatever the input; MinIO's recursive
//! matcher is exponential on patterns such as `*a*a*a*b`.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// `*`: any sequence of characters, possibly empty.
    AnySequence,
    /// `?`: exactly one character.
    AnyCharacter,
    /// A character that must appear as is.
    Literal(char),
}

/// A pattern that can be read one token at a time, either a plain pattern string or a
/// token list built with policy variables substituted as literals.
trait TokenSource {
    /// The token at position `index` and the position after it, or `None` at the end.
    fn token_at(&self, index: usize) -> Option<(Token, usize)>;
}

impl TokenSource for str {
    fn token_at(&self, index: usize) -> Option<(Token, usize)> {
        let character = self.get(index..)?.chars().next()?;
        let token = match character {
            '*' => Token::AnySequence,
            '?' => Token::AnyCharacter,
            other => Token::Literal(other),
        };
        Some((token, index + character.len_utf8()))
    }
}

impl TokenSource for [Token] {
    fn token_at(&self, index: usize) -> Option<(Token, usize)> {
        self.get(index).map(|token| (*token, index + 1))
    }
}

/// Whether `text` matches `pattern` (`*` and `?` wildcards), characters compared exactly.
pub fn matches(pattern: &str, text: &str) -> bool {
    match_source(pattern, text, false)
}

/// Whether `text` matches `pattern`, ASCII letters compared without regard to case, as
/// AWS compares action names (`s3:getobject` is `s3:GetObject`).
pub fn matches_ignore_ascii_case(pattern: &str, text: &str) -> bool {
    match_source(pattern, text, true)
}

/// Whether `text` matches a compiled token list.
pub(crate) fn matches_tokens(pattern: &[Token], text: &str) -> bool {
    match_source(pattern, text, false)
}

/// Whether `text` could be the start of a string that `pattern` matches, judged the way
/// MinIO judges that a bucket policy's resource pattern covers objects of a bucket: the
/// comparison stops at the first `*` of the pattern (which accepts the rest) and `?`
/// accepts any character.
pub fn matches_as_pattern_prefix(pattern: &str, text: &str) -> bool {
    let mut pattern_characters = pattern.chars();
    for text_character in text.chars() {
        match pattern_characters.next() {
            None => return false,
            Some('*') => return true,
            Some('?') => {}
            Some(pattern_character) if pattern_character == text_character => {}
            Some(_) => return false,
        }
    }
    true
}

/// Whether a pattern contains a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

fn characters_equal(pattern_character: char, text_character: char, ignore_ascii_case: bool) -> bool {
    if ignore_ascii_case {
        pattern_character.eq_ignore_ascii_case(&text_character)
    } else {
        pattern_character == text_character
    }
}

fn match_source<P: TokenSource + ?Sized>(pattern: &P, text: &str, ignore_ascii_case: bool) -> bool {
    let mut pattern_index = 0;
    let mut text_index = 0;
    // Where to resume after the last `*` seen: the pattern position after the star and
    // the text position the star's sequence currently ends at.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        let text_character = text[text_index..].chars().next();
        match (pattern.token_at(pattern_index), text_character) {
            (Some((Token::AnySequence, next_pattern)), _) => {
                backtrack = Some((next_pattern, text_index));
                pattern_index = next_pattern;
                continue;
            }
            (Some((Token::AnyCharacter, next_pattern)), Some(character)) => {
                pattern_index = next_pattern;
                text_index += character.len_utf8();
                continue;
            }
            (Some((Token::Literal(expected), next_pattern)), Some(character))
                if characters_equal(expected, character, ignore_ascii_case) =>
            {
                pattern_index = next_pattern;
                text_index += character.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last star swallow one more character and retry from there.
        let Some((star_next_pattern, star_text)) = backtrack else {
            return false;
        };
        let Some(swallowed) = text[star_text..].chars().next() else {
            return false;
        };
        let resume_text = star_text + swallowed.len_utf8();
        backtrack = Some((star_next_pattern, resume_text));
        pattern_index = star_next_pattern;
        text_index = resume_text;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert!(matches("*", ""));
        assert!(matches("*", "a/b/c"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("a*c", "abbbc"));
        assert!(matches("a*c", "ac"));
        assert!(!matches("a*c", "acb"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("bucket/*", "bucket/dir/object"));
        assert!(!matches("bucket/*", "bucket"));
        assert!(matches("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
        assert!(!matches("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(matches("h?llo", "hällo"), "? is one character, not one byte");
        assert!(!matches("S3:GetObject", "s3:GetObject"));
        assert!(matches_ignore_ascii_case("S3:get*", "s3:GetObject"));
    }

    #[test]
    fn pattern_prefix_examples() {
        // The table from MinIO's documentation of MatchAsPatternPrefix.
        assert!(matches_as_pattern_prefix("abc*", "ab"));
        assert!(!matches_as_pattern_prefix("abc*", "abd"));
        assert!(matches_as_pattern_prefix("abc*c", "abcd"));
        assert!(matches_as_pattern_prefix("ab*??d", "abxxc"));
        assert!(matches_as_pattern_prefix("ab*??d", "abxc"));
        assert!(matches_as_pattern_prefix("ab??d", "abxc"));
        assert!(matches_as_pattern_prefix("ab??d", "abc"));
        assert!(!matches_as_pattern_prefix("ab??d", "abcxdd"));
    }

    #[test]
    fn tokens_treat_substituted_wildcards_as_literals() {
        let pattern = [Token::Literal('a'), Token::Literal('*'), Token::AnySequence];
        assert!(matches_tokens(&pattern, "a*xyz"));
        assert!(!matches_tokens(&pattern, "abc"));
    }

    /// A reference matcher by dynamic programming over characters, to check the fast one.
    fn reference(pattern: &str, text: &str) -> bool {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        let mut table = vec![vec![false; text.len() + 1]; pattern.len() + 1];
        table[0][0] = true;
        for p in 1..=pattern.len() {
            for t in 0..=text.len() {
                table[p][t] = match pattern[p - 1] {
                    '*' => table[p - 1][t] || (t > 0 && table[p][t - 1]),
                    '?' => t > 0 && table[p - 1][t - 1],
                    literal => t > 0 && text[t - 1] == literal && table[p - 1][t - 1],
                };
            }
        }
        table[pattern.len()][text.len()]
    }

    proptest! {
        #[test]
        fn pattern_equal_to_text_matches(text in "[^*?]{0,40}") {
            prop_assert!(matches(&text, &text));
        }

        #[test]
        fn star_matches_everything(text in any::<String>()) {
            prop_assert!(matches("*", &text));
        }

        #[test]
        fn literal_prefix_and_star_match_exactly_strings_with_that_prefix(
            prefix in "[a-c/]{0,6}",
            text in "[a-c/]{0,10}",
        ) {
            let pattern = format!("{prefix}*");
            prop_assert_eq!(matches(&pattern, &text), text.starts_with(&prefix));
        }

        #[test]
        fn question_mark_for_any_one_character_still_matches(text in "[^*?]{1,30}", position in any::<prop::sample::Index>()) {
            let characters: Vec<char> = text.chars().collect();
            let replaced = position.index(characters.len());
            let pattern: String = characters
                .iter()
                .enumerate()
                .map(|(index, character)| if index == replaced { '?' } else { *character })
                .collect();
            prop_assert!(matches(&pattern, &text));
        }

        #[test]
        fn agrees_with_reference(pattern in "[ab*?]{0,10}", text in "[ab]{0,12}") {
            prop_assert_eq!(matches(&pattern, &text), reference(&pattern, &text));
        }

        #[test]
        fn no_panic_on_arbitrary_input(pattern in any::<String>(), text in any::<String>()) {
            let _ = matches(&pattern, &text);
            let _ = matches_ignore_ascii_case(&pattern, &text);
            let _ = matches_as_pattern_prefix(&pattern, &text);
        }

        #[test]
        fn ignoring_case_matches_any_ascii_casing(text in "[a-zA-Z:]{0,30}") {
            prop_assert!(matches_ignore_ascii_case(&text.to_ascii_lowercase(), &text.to_ascii_uppercase()));
        }
    }
}
