//! Secondary keys (RFC 9111 §4.1): the request fields a response's
//! `Vary` names, normalized so that differences in whitespace and line
//! folding do not split variants.

use http::HeaderMap;

use super::fields;

/// Each varying field name (lowercased) and the request's normalized
/// value (`None`: absent).
pub type Selection = Vec<(String, Option<Vec<u8>>)>;

/// The selection a response varies on, or `None` for `Vary: *`, which
/// never matches a later request.
pub fn select(response: &HeaderMap, request: &HeaderMap) -> Option<Selection> {
    let mut names: Vec<String> = Vec::new();
    for member in fields::members(response, "vary") {
        if member == "*" {
            return None;
        }
        let name = member.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.sort();
    Some(
        names
            .into_iter()
            .map(|name| {
                let value = normalized(request, &name);
                (name, value)
            })
            .collect(),
    )
}

/// A request field's lines combined into one list with single `, `
/// separators; a field that is not text is compared byte for byte.
/// `Accept-Language` is read for what it means: tags without case, ordered
/// by weight (tags of equal weight are equally preferred, in any order).
pub fn normalized(request: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = request.get_all(name).iter().peekable();
    values.peek()?;
    if name == "accept-language"
        && let Some(languages) = languages(request)
    {
        return Some(languages.into_bytes());
    }
    let mut out: Vec<u8> = Vec::new();
    for value in values {
        match value.to_str() {
            Ok(text) => {
                for member in fields::split_list(text) {
                    if !out.is_empty() {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(member.as_bytes());
                }
            }
            Err(_) => {
                if !out.is_empty() {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
    Some(out)
}

/// `Accept-Language` as `tag;q=weight` members, heaviest first, then by
/// tag; `None` when a member does not parse.
fn languages(request: &HeaderMap) -> Option<String> {
    let mut members: Vec<(u16, String)> = Vec::new();
    for member in fields::members(request, "accept-language") {
        let mut parts = member.split(';');
        let tag = parts.next()?.trim().to_ascii_lowercase();
        let mut weight = 1000u16;
        for parameter in parts {
            let (key, value) = parameter.trim().split_once('=')?;
            if !key.trim().eq_ignore_ascii_case("q") {
                return None;
            }
            let value: f32 = value.trim().parse().ok()?;
            if !(0.0..=1.0).contains(&value) {
                return None;
            }
            weight = (value * 1000.0).round() as u16;
        }
        members.push((weight, tag));
    }
    members.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Some(members.iter().map(|(weight, tag)| format!("{tag};q={weight}")).collect::<Vec<_>>().join(", "))
}

/// Whether `request` carries what a variant was stored with.
pub fn matches(stored: &Selection, request: &HeaderMap) -> bool {
    stored.iter().all(|(name, value)| name != "*" && normalized(request, name) == *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, http::HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn whitespace_and_line_splits_do_not_matter() {
        let response = map(&[("vary", "X-List, foo")]);
        let stored = select(&response, &map(&[("x-list", "en,  fr")])).unwrap_or_default();
        assert!(matches(&stored, &map(&[("x-list", "en, fr")])));
        assert!(matches(&stored, &map(&[("x-list", "en"), ("x-list", "fr")])));
        assert!(!matches(&stored, &map(&[("x-list", "fr, en")])), "an unknown field's order may matter");
        assert!(!matches(&stored, &map(&[("x-list", "en, fr"), ("foo", "1")])));
    }

    #[test]
    fn accept_language_is_read_for_its_meaning() {
        let response = map(&[("vary", "Accept-Language")]);
        let stored = select(&response, &map(&[("accept-language", "en, de")])).unwrap_or_default();
        assert!(matches(&stored, &map(&[("accept-language", "de, en")])));
        assert!(matches(&stored, &map(&[("accept-language", "eN,   DE")])));
        assert!(!matches(&stored, &map(&[("accept-language", "de, en;q=0.5")])));
        assert!(!matches(&stored, &map(&[("accept-language", "fr")])));
    }

    #[test]
    fn vary_star_never_matches() {
        assert_eq!(select(&map(&[("vary", "a, *")]), &HeaderMap::new()), None);
    }
}
