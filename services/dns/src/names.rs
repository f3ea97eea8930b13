//! Domain names as Route 53 takes and returns them.
//!
//! A name arrives in presentation form, with or without its trailing dot,
//! in any case, with `\ddd` octal (or `\x` literal) escapes. Route 53 keeps
//! letters in lower case and answers every octet other than `a-z`, `0-9`,
//! `-` and `_` as a three-digit octal escape, so `*.example.com` comes back
//! as `\052.example.com.`; that is the canonical form nubo stores.

use hickory_proto::rr::Name;

/// The longest name, in wire octets (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
const MAX_LABEL: usize = 63;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("a label is empty")]
    EmptyLabel,
    #[error("a label is longer than 63 octets")]
    LabelTooLong,
    #[error("the name is longer than 255 octets")]
    TooLong,
    #[error("a backslash escape is incomplete or not three octal digits")]
    BadEscape,
    #[error("the name contains a space or a character outside printable ASCII")]
    BadCharacter,
}

/// The labels of a presentation-form name, unescaped and lower-cased
/// (ASCII letters only: DNS case folding, RFC 4343). The root is no labels.
pub fn labels(name: &str) -> Result<Vec<Vec<u8>>, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name == "." {
        return Ok(Vec::new());
    }
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut bytes = name.bytes().peekable();
    let mut ended_with_dot = false;
    while let Some(byte) = bytes.next() {
        ended_with_dot = false;
        match byte {
            b'.' => {
                if label.is_empty() {
                    return Err(NameError::EmptyLabel);
                }
                labels.push(std::mem::take(&mut label));
                ended_with_dot = true;
            }
            b'\\' => {
                let first = bytes.next().ok_or(NameError::BadEscape)?;
                if first.is_ascii_digit() {
                    let (second, third) =
                        (bytes.next().ok_or(NameError::BadEscape)?, bytes.next().ok_or(NameError::BadEscape)?);
                    let digits = [first, second, third];
                    if !digits.iter().all(|digit| (b'0'..=b'7').contains(digit)) {
                        return Err(NameError::BadEscape);
                    }
                    let value = digits.iter().fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
                    let octet = u8::try_from(value).map_err(|_| NameError::BadEscape)?;
                    label.push(octet.to_ascii_lowercase());
                } else if first.is_ascii_graphic() {
                    label.push(first.to_ascii_lowercase());
                } else {
                    return Err(NameError::BadEscape);
                }
            }
            byte if byte.is_ascii_graphic() => label.push(byte.to_ascii_lowercase()),
            _ => return Err(NameError::BadCharacter),
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
    }
    if !ended_with_dot {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        labels.push(label);
    }
    let wire: usize = labels.iter().map(|label| label.len() + 1).sum::<usize>() + 1;
    if wire > MAX_NAME {
        return Err(NameError::TooLong);
    }
    Ok(labels)
}

/// The canonical form of a name: lower case, trailing dot, every octet but
/// `a-z0-9-_` escaped as `\ddd`.
pub fn canonical(name: &str) -> Result<String, NameError> {
    Ok(from_labels(&labels(name)?))
}

/// Presentation form of unescaped labels, as [`canonical`] writes it.
pub fn from_labels(labels: &[Vec<u8>]) -> String {
    if labels.is_empty() {
        return ".".into();
    }
    let mut text = String::new();
    for label in labels {
        for &octet in label {
            if octet.is_ascii_lowercase() || octet.is_ascii_digit() || octet == b'-' || octet == b'_' {
                text.push(char::from(octet));
            } else {
                text.push_str(&format!("\\{octet:03o}"));
            }
        }
        text.push('.');
    }
    text
}

/// The wire-form name of a canonical (or any presentation) name.
pub fn to_name(name: &str) -> Result<Name, NameError> {
    let labels = labels(name)?;
    let mut name = Name::from_labels(labels).map_err(|_| NameError::TooLong)?;
    name.set_fqdn(true);
    Ok(name)
}

/// Whether `name` is `zone` or below it (both canonical).
pub fn is_within(name: &str, zone: &str) -> bool {
    zone == "." || name == zone || name.ends_with(&format!(".{zone}"))
}

/// Whether a canonical name's first label is the wildcard `*`.
pub fn is_wildcard(name: &str) -> bool {
    name.starts_with("\\052.") || name == "\\052."
}

/// The key Route 53 lists record sets by: labels from the root down, so
/// `example.com.` sorts before `a.example.com.` and both before
/// `b.example.com.`; within a label, octets compare unsigned.
pub fn order_key(name: &str) -> Vec<Vec<u8>> {
    let mut labels = labels(name).unwrap_or_default();
    labels.reverse();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("Example.COM").unwrap(), "example.com.");
        assert_eq!(canonical("example.com.").unwrap(), "example.com.");
        assert_eq!(canonical("*.example.com").unwrap(), "\\052.example.com.");
        assert_eq!(canonical("\\052.example.com").unwrap(), "\\052.example.com.");
        assert_eq!(canonical("_sip._tcp.example.com").unwrap(), "_sip._tcp.example.com.");
        assert_eq!(canonical("a\\.b.example.com").unwrap(), "a\\056b.example.com.");
        assert_eq!(canonical("\\101bc.example").unwrap(), "abc.example.");
        assert_eq!(canonical(".").unwrap(), ".");
    }

    #[test]
    fn refused_names() {
        assert_eq!(canonical(""), Err(NameError::Empty));
        assert_eq!(canonical("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(canonical(".a"), Err(NameError::EmptyLabel));
        assert_eq!(canonical("a b"), Err(NameError::BadCharacter));
        assert_eq!(canonical("a\\9"), Err(NameError::BadEscape));
        assert_eq!(canonical("a\\400"), Err(NameError::BadEscape));
        assert_eq!(canonical(&"a".repeat(64)), Err(NameError::LabelTooLong));
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(canonical(&long), Err(NameError::TooLong));
    }

    #[test]
    fn route53_order() {
        let mut names =
            vec!["b.example.com.", "example.com.", "a.b.example.com.", "a.example.com.", "\\052.example.com."];
        names.sort_by_key(|name| order_key(name));
        assert_eq!(
            names,
            ["example.com.", "\\052.example.com.", "a.example.com.", "b.example.com.", "a.b.example.com."]
        );
    }

    #[test]
    fn wire_names() {
        let name = to_name("\\052.Example.com").unwrap();
        assert!(name.is_fqdn());
        assert!(name.is_wildcard());
        assert_eq!(name.to_ascii(), "*.example.com.");
        assert!(is_within("a.example.com.", "example.com."));
        assert!(!is_within("aexample.com.", "example.com."));
    }
}
