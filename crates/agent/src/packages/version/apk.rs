//! Alpine package version comparison, the rules of `apk version -t`.
//!
//! An Alpine version is `digits{.digits}[letter]{_suffix[number]}[-rN]`, such as `1.2.3a_rc2-r1`.
//! Written after the tokenizer of apk-tools 2.14 (`src/version.c`): the version is read as a
//! sequence of tokens (digit groups, one letter, suffixes, the `-r` revision), tokens are
//! compared in turn, and when one version ends first the other is newer unless its next token
//! is a pre-release suffix. Suffix order is `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn
//! < _git < _hg < _p`. A digit group after a dot that starts with `0` sorts before one that
//! does not (`1.01 < 1.1`), because apk reads it like a decimal fraction.
// NOTE: the `~hash` suffix of apk-tools 3 is not handled: such a version stops comparing at the
// `~` (both sides then count as equal from there on).

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    RevisionNumber,
    End,
}

const PRE_RELEASE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_RELEASE_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Reader<'a> {
    text: &'a [u8],
    token: Token,
}

impl Reader<'_> {
    fn first(&self) -> Option<u8> {
        self.text.first().copied()
    }

    fn advance(&mut self, count: usize) {
        self.text = self.text.get(count..).unwrap_or_default();
    }

    /// Reads the separator after a token and decides the kind of the next token.
    fn next_token(&mut self) {
        let next = match self.first() {
            None | Some(0) => Token::End,
            Some(c)
                if matches!(self.token, Token::Digit | Token::DigitOrZero)
                    && c.is_ascii_lowercase() =>
            {
                Token::Letter
            }
            Some(c) if self.token == Token::Letter && c.is_ascii_digit() => Token::Digit,
            Some(c) if self.token == Token::Suffix && c.is_ascii_digit() => Token::SuffixNumber,
            Some(c) => {
                let token = match c {
                    b'.' => Token::DigitOrZero,
                    b'_' => Token::Suffix,
                    b'-' if self.text.get(1) == Some(&b'r') => {
                        self.advance(1);
                        Token::RevisionNumber
                    }
                    _ => Token::Invalid,
                };
                self.advance(1);
                token
            }
        };
        let allowed_backwards = matches!(
            (next, self.token),
            (Token::DigitOrZero, Token::Digit)
                | (Token::Suffix, Token::SuffixNumber)
                | (Token::Digit, Token::Letter)
        );
        self.token = if next < self.token && !allowed_backwards {
            Token::Invalid
        } else {
            next
        };
    }

    /// Reads the value of the current token and moves to the next one.
    fn value(&mut self) -> i64 {
        if self.text.is_empty() {
            self.token = Token::End;
            return 0;
        }
        let mut length = 0;
        let mut value: i64 = 0;
        let mut next_kind = None;
        match self.token {
            Token::DigitOrZero if self.first() == Some(b'0') => {
                // All zeros but the last count, and the last one is read as a digit group.
                length = self
                    .text
                    .iter()
                    .take_while(|c| **c == b'0')
                    .count()
                    .saturating_sub(1);
                next_kind = Some(Token::Digit);
                value = -i64::try_from(length).unwrap_or(i64::MAX);
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNumber | Token::RevisionNumber => {
                for c in self.text.iter().take_while(|c| c.is_ascii_digit()) {
                    value = value.saturating_mul(10).saturating_add(i64::from(c - b'0'));
                    length += 1;
                }
            }
            Token::Letter => {
                value = i64::from(self.first().unwrap_or(0));
                length = 1;
            }
            Token::Suffix => {
                let rest = self.text;
                if let Some(position) = PRE_RELEASE_SUFFIXES
                    .iter()
                    .position(|s| rest.starts_with(s.as_bytes()))
                {
                    length = PRE_RELEASE_SUFFIXES[position].len();
                    value = i64::try_from(position).unwrap_or(0) - 4;
                } else if let Some(position) = POST_RELEASE_SUFFIXES
                    .iter()
                    .position(|s| rest.starts_with(s.as_bytes()))
                {
                    length = POST_RELEASE_SUFFIXES[position].len();
                    value = i64::try_from(position).unwrap_or(0);
                } else {
                    self.token = Token::Invalid;
                    return -1;
                }
            }
            Token::Invalid | Token::End => {
                self.token = Token::Invalid;
                return -1;
            }
        }
        self.advance(length);
        if self.text.is_empty() {
            self.token = Token::End;
        } else if let Some(kind) = next_kind {
            self.token = kind;
        } else {
            self.next_token();
        }
        value
    }
}

/// Compares two Alpine package versions, as `apk version -t A B` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    let mut a = Reader {
        text: left.as_bytes(),
        token: Token::Digit,
    };
    let mut b = Reader {
        text: right.as_bytes(),
        token: Token::Digit,
    };
    let mut left_value = 0;
    let mut right_value = 0;
    while a.token == b.token
        && a.token != Token::End
        && a.token != Token::Invalid
        && left_value == right_value
    {
        left_value = a.value();
        right_value = b.value();
    }

    if left_value != right_value {
        return left_value.cmp(&right_value);
    }
    if a.token == b.token {
        return Ordering::Equal;
    }
    // The versions agree up to here and one goes on: the longer one is newer unless it goes on
    // with a pre-release suffix.
    let (left_token, right_token) = (a.token, b.token);
    if left_token == Token::Suffix && a.value() < 0 {
        return Ordering::Less;
    }
    if right_token == Token::Suffix && b.value() < 0 {
        return Ordering::Greater;
    }
    match left_token.cmp(&right_token) {
        Ordering::Greater => Ordering::Less,
        Ordering::Less => Ordering::Greater,
        Ordering::Equal => Ordering::Equal,
    }
}

/// Returns whether `candidate` is newer than `installed`.
pub fn is_newer(candidate: &str, installed: &str) -> bool {
    compare(candidate, installed) == Ordering::Greater
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs following the version format of the Alpine package format documentation
    /// (APKBUILD reference, "pkgver") and the cases of apk-tools' `test/version.data`.
    const CASES: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0", Ordering::Equal),
        ("1.0", "1.1", Ordering::Less),
        ("1.9", "1.10", Ordering::Less),
        ("2.34", "0.1.0_alpha", Ordering::Greater),
        ("0.1.0_alpha", "0.1.0_alpha", Ordering::Equal),
        ("0.1.0_alpha", "0.1.3_alpha", Ordering::Less),
        ("0.1.0_alpha2", "0.1.0_alpha", Ordering::Greater),
        ("0.1.0_alpha", "2.2.39-r1", Ordering::Less),
        ("2.2.39-r1", "1.0.4-r3", Ordering::Greater),
        ("1.0_alpha", "1.0_beta", Ordering::Less),
        ("1.0_beta", "1.0_pre", Ordering::Less),
        ("1.0_pre", "1.0_rc", Ordering::Less),
        ("1.0_rc1", "1.0", Ordering::Less),
        ("1.0_rc1", "1.0_rc2", Ordering::Less),
        ("1.0", "1.0_cvs", Ordering::Less),
        ("1.0_cvs", "1.0_svn", Ordering::Less),
        ("1.0_svn", "1.0_git", Ordering::Less),
        ("1.0_git", "1.0_hg", Ordering::Less),
        ("1.0_hg", "1.0_p1", Ordering::Less),
        ("1.0_p1", "1.0_p2", Ordering::Less),
        ("1.0", "1.0_p1", Ordering::Less),
        ("1.0", "1.0-r1", Ordering::Less),
        ("1.0-r1", "1.0-r2", Ordering::Less),
        ("1.0-r9", "1.0-r10", Ordering::Less),
        ("1.0-r0", "1.0", Ordering::Greater),
        ("1.0_p1", "1.0-r1", Ordering::Greater),
        ("1.0a", "1.0", Ordering::Greater),
        ("1.0a", "1.0b", Ordering::Less),
        ("1.0a", "1.0.1", Ordering::Less),
        ("1.01", "1.1", Ordering::Less),
        ("1.001", "1.01", Ordering::Less),
        ("1.0", "1.0.0", Ordering::Less),
        ("3.0.11-r0", "3.0.12-r0", Ordering::Less),
        ("1.36.1-r15", "1.36.1-r2", Ordering::Greater),
        ("6.6.16-r0", "6.6.8-r0", Ordering::Greater),
        ("2.10_rc1-r0", "2.10-r0", Ordering::Less),
    ];

    #[test]
    fn compare_known_pairs() {
        for (left, right, expected) in CASES {
            assert_eq!(compare(left, right), *expected, "{left} vs {right}");
            assert_eq!(
                compare(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn newer_is_strict() {
        assert!(is_newer("1.2.3-r1", "1.2.3-r0"));
        assert!(!is_newer("1.2.3-r0", "1.2.3-r0"));
        assert!(!is_newer("1.2.3_rc1-r0", "1.2.3-r0"));
    }
}
