//! Reads serde's deserialization messages into their parts and rewrites them in JSON terms, so
//! that API errors name the field and the expected JSON shape instead of Rust types.
//!
//! NOTE: serde builds these messages as text in the provided methods of `serde::de::Error`
//! (serde 1.0.229, with `serde_json` 1.0.154 printing `null` for a unit value), so this module
//! matches that text. A message in another shape becomes [`SerdeMessage::Other`].

use super::objects_only::OBJECT_WITH_FIELDS;

/// Longest quoted value that an error message repeats. Longer values are cut, so that a
/// megabyte string sent where a number belongs does not come back as a megabyte error.
const MAX_QUOTED_CHARS: usize = 80;

/// One serde deserialization message, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SerdeMessage {
    /// ``unknown field `x`, expected one of `a`, `b` ``, with the accepted names.
    UnknownField {
        name: String,
        accepted: Vec<String>,
    },
    MissingField {
        name: String,
    },
    DuplicateField {
        name: String,
    },
    /// `invalid type: <found>, expected <expected>`.
    InvalidType {
        found: String,
        expected: String,
    },
    /// `invalid value: <found>, expected <expected>`.
    InvalidValue {
        found: String,
        expected: String,
    },
    /// `invalid length <length>, expected <expected>`.
    InvalidLength {
        length: String,
        expected: String,
    },
    /// ``unknown variant `x`, expected `a` or `b` ``, with the accepted names.
    UnknownVariant {
        name: String,
        accepted: Vec<String>,
    },
    Other(String),
}

impl SerdeMessage {
    /// Splits `message`, which must not carry the ` at line L column C` suffix of `serde_json`.
    pub(super) fn parse(message: &str) -> Self {
        if let Some(rest) = message.strip_prefix("unknown field `")
            && let Some((name, accepted)) = rest.split_once('`')
        {
            return Self::UnknownField {
                name: name.to_owned(),
                accepted: quoted_names(accepted),
            };
        }
        if let Some(rest) = message.strip_prefix("unknown variant `")
            && let Some((name, accepted)) = rest.split_once('`')
        {
            return Self::UnknownVariant {
                name: name.to_owned(),
                accepted: quoted_names(accepted),
            };
        }
        if let Some(name) = backquoted_rest(message, "missing field `") {
            return Self::MissingField { name };
        }
        if let Some(name) = backquoted_rest(message, "duplicate field `") {
            return Self::DuplicateField { name };
        }
        if let Some((found, expected)) = found_and_expected(message, "invalid type: ") {
            return Self::InvalidType { found, expected };
        }
        if let Some((found, expected)) = found_and_expected(message, "invalid value: ") {
            return Self::InvalidValue { found, expected };
        }
        if let Some((length, expected)) = found_and_expected(message, "invalid length ") {
            return Self::InvalidLength { length, expected };
        }
        Self::Other(message.to_owned())
    }
}

/// Returns the name in `message` when it is exactly `prefix`, a name and a closing backquote.
fn backquoted_rest(message: &str, prefix: &str) -> Option<String> {
    let name = message.strip_prefix(prefix)?.strip_suffix('`')?;
    (!name.contains('`')).then(|| name.to_owned())
}

/// Splits `<prefix><found>, expected <expected>`. The last `, expected ` separates them,
/// because a string value in `found` may itself contain those words.
fn found_and_expected(message: &str, prefix: &str) -> Option<(String, String)> {
    let (found, expected) = message.strip_prefix(prefix)?.rsplit_once(", expected ")?;
    Some((found.to_owned(), expected.to_owned()))
}

/// Returns the backquoted names of serde's list of alternatives (``expected `a` ``,
/// ``expected `a` or `b` ``, ``expected one of `a`, `b` ``), or none for
/// `there are no fields`.
fn quoted_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Describes serde's "found" part (`string "x"`, ``integer `5` ``, `map`, ...) in JSON terms.
pub(super) fn describe_found(found: &str) -> String {
    if let Some(text) = found.strip_prefix("string ") {
        return format!("the string {}", shorten(text));
    }
    for prefix in ["integer `", "floating point `"] {
        if let Some(number) = found.strip_prefix(prefix).and_then(|n| n.strip_suffix('`')) {
            return format!("the number {}", shorten(number));
        }
    }
    if let Some(value) = found
        .strip_prefix("boolean `")
        .and_then(|v| v.strip_suffix('`'))
    {
        return value.to_owned();
    }
    match found {
        "null" | "unit value" => "null".to_owned(),
        "map" => "an object".to_owned(),
        "sequence" => "an array".to_owned(),
        _ => "a value of another type".to_owned(),
    }
}

/// Describes serde's "expected" part (`a string`, `i64`, `struct X`, ...) in JSON terms. Rust
/// type names never come through: an expectation this function does not know becomes a pointer
/// to the API documentation.
pub(super) fn describe_expected(expected: &str) -> String {
    if let Some(range) = integer_range(expected) {
        return range;
    }
    if let Some(fields) = expected.strip_prefix(OBJECT_WITH_FIELDS) {
        let names = quoted_names(fields);
        if names.is_empty() {
            return "a JSON object".to_owned();
        }
        return format!("a JSON object with the fields {}", names.join(", "));
    }
    if expected.starts_with("struct ") || expected == "a map" || expected == "map" {
        return "a JSON object".to_owned();
    }
    if expected == "a sequence"
        || expected.starts_with("an array")
        || expected.starts_with("a tuple")
    {
        return "a JSON array".to_owned();
    }
    match expected {
        "a string" | "a borrowed string" | "a character" => "a string".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "unit" => "null".to_owned(),
        _ if expected.starts_with("one of ") || expected.starts_with('`') => {
            format!("one of {}", quoted_names(expected).join(", "))
        }
        _ => "a value of the type that docs/api.md gives for it".to_owned(),
    }
}

/// Returns "an integer from MIN to MAX" for serde's name of a Rust integer type.
fn integer_range(expected: &str) -> Option<String> {
    let (min, max): (i128, i128) = match expected.strip_prefix("a nonzero ").unwrap_or(expected) {
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i128" | "u128" => return Some("an integer".to_owned()),
        _ => return None,
    };
    let nonzero = if expected.starts_with("a nonzero ") {
        " other than 0"
    } else {
        ""
    };
    Some(format!("an integer{nonzero} from {min} to {max}"))
}

/// Cuts `text` to [`MAX_QUOTED_CHARS`] characters, marking a cut with `...`.
pub(super) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// Returns whether `text` looks like it names a Rust type or crate, so that it must not reach
/// an API client.
pub(super) fn mentions_rust(text: &str) -> bool {
    [
        "struct ",
        "enum ",
        "::",
        "serde",
        "Option value",
        "newtype",
        "variant",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_lists_accepted_names() {
        let parsed = SerdeMessage::parse("unknown field `x`, expected one of `a`, `b`, `c`");
        assert_eq!(
            parsed,
            SerdeMessage::UnknownField {
                name: "x".into(),
                accepted: vec!["a".into(), "b".into(), "c".into()],
            }
        );
        let two = SerdeMessage::parse("unknown field `x`, expected `a` or `b`");
        assert!(
            matches!(two, SerdeMessage::UnknownField { accepted, .. } if accepted == ["a", "b"])
        );
        let none = SerdeMessage::parse("unknown field `x`, there are no fields");
        assert!(matches!(none, SerdeMessage::UnknownField { accepted, .. } if accepted.is_empty()));
    }

    #[test]
    fn invalid_type_splits_at_last_expected() {
        let parsed = SerdeMessage::parse(r#"invalid type: string "a, expected b", expected i64"#);
        assert_eq!(
            parsed,
            SerdeMessage::InvalidType {
                found: r#"string "a, expected b""#.into(),
                expected: "i64".into(),
            }
        );
    }

    #[test]
    fn expected_types_become_json_words() {
        assert_eq!(describe_expected("struct BulkInstallBody"), "a JSON object");
        assert_eq!(describe_expected("a sequence"), "a JSON array");
        assert_eq!(describe_expected("a boolean"), "true or false");
        assert_eq!(describe_expected("u8"), "an integer from 0 to 255");
        assert_eq!(
            describe_expected("an object with the fields `manager`, `name`"),
            "a JSON object with the fields manager, name"
        );
        assert!(!describe_expected("SomeType").contains("SomeType"));
    }

    #[test]
    fn long_found_value_is_cut() {
        let long = format!("string \"{}\"", "a".repeat(1000));
        let described = describe_found(&long);
        assert!(described.len() < 120, "{described}");
        assert!(described.ends_with("..."), "{described}");
    }
}
