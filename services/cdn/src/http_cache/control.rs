//! Cache directives (RFC 9111 §5.2) from `Cache-Control`, or from
//! `CDN-Cache-Control` (RFC 9213) when a valid one is present: a CDN
//! then acts on the targeted field alone.

use http::HeaderMap;

use super::fields::{self, delta_seconds, unquote};

/// The directives of one message. Where a directive repeats, the first
/// occurrence counts (RFC 9111 §4.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// Seconds; an invalid value reads as 0, so the response is stale
    /// (§4.2.1 encourages treating invalid freshness as stale).
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    /// `Some(vec![])` unqualified; `Some(names)` for `no-cache="a, b"`.
    pub no_cache: Option<Vec<String>>,
    pub no_store: bool,
    /// As `no_cache`: unqualified, or the fields a shared cache drops.
    pub private: Option<Vec<String>>,
    pub public: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub must_understand: bool,
    pub no_transform: bool,
    pub immutable: bool,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
    /// Request only: `Some(None)` any staleness.
    pub max_stale: Option<Option<u64>>,
    pub min_fresh: Option<u64>,
    pub only_if_cached: bool,
}

impl Directives {
    /// A response's directives as a CDN reads them: those of a valid
    /// `CDN-Cache-Control`, else those of `Cache-Control`.
    pub fn for_cdn(headers: &HeaderMap) -> Self {
        if headers.contains_key("cdn-cache-control") {
            let lines: Vec<&str> = fields::lines(headers, "cdn-cache-control").collect();
            if lines.len() == headers.get_all("cdn-cache-control").iter().count() {
                let joined = lines.join(",");
                if is_sf_dictionary(&joined) && integers_where_expected(&joined) {
                    return Self::parse_lines([joined.as_str()]);
                }
            }
        }
        Self::parse(headers)
    }

    /// The directives of every `Cache-Control` line.
    pub fn parse(headers: &HeaderMap) -> Self {
        Self::parse_lines(fields::lines(headers, "cache-control"))
    }

    fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut directives = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for line in lines {
            for member in fields::split_list(line) {
                let (name, argument) = match member.split_once('=') {
                    // `max-age =5` and `max-age= 5` are not the directive.
                    Some((name, argument)) => (name, Some(argument)),
                    None => (member, None),
                };
                let name = name.to_ascii_lowercase();
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name.clone());
                directives.apply(&name, argument.map(unquote).as_deref());
            }
        }
        directives
    }

    fn apply(&mut self, name: &str, argument: Option<&str>) {
        let delta = || argument.and_then(delta_seconds);
        let names = || argument.map(field_names).unwrap_or_default();
        match name {
            "max-age" => self.max_age = Some(delta().unwrap_or(0)),
            "s-maxage" => self.s_maxage = Some(delta().unwrap_or(0)),
            "no-cache" => self.no_cache = Some(names()),
            "no-store" => self.no_store = true,
            "private" => self.private = Some(names()),
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            "must-understand" => self.must_understand = true,
            "no-transform" => self.no_transform = true,
            "immutable" => self.immutable = true,
            "stale-while-revalidate" => self.stale_while_revalidate = delta(),
            "stale-if-error" => self.stale_if_error = delta(),
            "max-stale" => self.max_stale = Some(delta()),
            "min-fresh" => self.min_fresh = delta(),
            "only-if-cached" => self.only_if_cached = true,
            _ => {}
        }
    }

    /// `no-cache` without field names: every reuse is validated first.
    pub fn no_cache_all(&self) -> bool {
        self.no_cache.as_ref().is_some_and(Vec::is_empty)
    }

    /// `private` without field names: a shared cache stores nothing.
    pub fn private_all(&self) -> bool {
        self.private.as_ref().is_some_and(Vec::is_empty)
    }

    /// A stale response may not be served without validation (§4.2.4,
    /// §5.2.2.2, §5.2.2.8 for a shared cache).
    pub fn revalidate_when_stale(&self) -> bool {
        self.must_revalidate || self.proxy_revalidate || self.s_maxage.is_some()
    }
}

/// The field names of a qualified `no-cache` or `private`, lowercased.
fn field_names(argument: &str) -> Vec<String> {
    argument.split(',').map(|name| name.trim().to_ascii_lowercase()).filter(|name| !name.is_empty()).collect()
}

/// RFC 9213 reads the delta directives as SF integers: a string there
/// is the wrong type and voids the field.
fn integers_where_expected(text: &str) -> bool {
    fields::split_list(text).iter().all(|member| match member.split_once('=') {
        Some(("max-age" | "s-maxage" | "stale-while-revalidate" | "stale-if-error", value)) => {
            let value = value.split(';').next().unwrap_or(value);
            !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
        }
        _ => true,
    })
}

/// Whether `text` is a Structured Fields dictionary (RFC 8941 §3.2):
/// RFC 9213 has an invalid targeted field ignored as a whole.
pub fn is_sf_dictionary(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    let skip_ows = |at: &mut usize| {
        while bytes.get(*at).is_some_and(|&b| b == b' ' || b == b'\t') {
            *at += 1;
        }
    };
    let skip_sp = |at: &mut usize| {
        while bytes.get(*at) == Some(&b' ') {
            *at += 1;
        }
    };
    skip_sp(&mut at);
    if at == bytes.len() {
        return true;
    }
    loop {
        if !sf_key(bytes, &mut at) {
            return false;
        }
        if bytes.get(at) == Some(&b'=') {
            at += 1;
            if bytes.get(at) == Some(&b'(') {
                // Inner lists are valid SF but carry no cache directive;
                // accept them structurally.
                let Some(close) = bytes[at..].iter().position(|&b| b == b')') else { return false };
                at += close + 1;
            } else if !sf_bare_item(bytes, &mut at) {
                return false;
            }
        }
        while bytes.get(at) == Some(&b';') {
            at += 1;
            skip_sp(&mut at);
            if !sf_key(bytes, &mut at) {
                return false;
            }
            if bytes.get(at) == Some(&b'=') {
                at += 1;
                if !sf_bare_item(bytes, &mut at) {
                    return false;
                }
            }
        }
        skip_ows(&mut at);
        match bytes.get(at) {
            None => return true,
            Some(b',') => {
                at += 1;
                skip_ows(&mut at);
                if at == bytes.len() {
                    return false;
                }
            }
            Some(_) => return false,
        }
    }
}

fn sf_key(bytes: &[u8], at: &mut usize) -> bool {
    match bytes.get(*at) {
        Some(b) if b.is_ascii_lowercase() || *b == b'*' => *at += 1,
        _ => return false,
    }
    while bytes.get(*at).is_some_and(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b)) {
        *at += 1;
    }
    true
}

fn sf_bare_item(bytes: &[u8], at: &mut usize) -> bool {
    let start = *at;
    match bytes.get(*at) {
        Some(b'-' | b'0'..=b'9') => {
            *at += 1;
            while bytes.get(*at).is_some_and(|b| b.is_ascii_digit() || *b == b'.') {
                *at += 1;
            }
            let number = &bytes[start..*at];
            let digits = number.iter().filter(|b| b.is_ascii_digit()).count();
            digits > 0
                && digits <= 15
                && number.iter().filter(|&&b| b == b'.').count() <= 1
                && number.last() != Some(&b'.')
        }
        Some(b'"') => {
            *at += 1;
            while let Some(&b) = bytes.get(*at) {
                *at += 1;
                match b {
                    b'\\' => *at += 1,
                    b'"' => return true,
                    0x20..=0x7e => {}
                    _ => return false,
                }
            }
            false
        }
        Some(b'?') => {
            *at += 2;
            matches!(bytes.get(start + 1), Some(b'0' | b'1'))
        }
        Some(b':') => {
            *at += 1;
            while bytes.get(*at).is_some_and(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)) {
                *at += 1;
            }
            let closed = bytes.get(*at) == Some(&b':');
            *at += 1;
            closed
        }
        Some(b) if b.is_ascii_alphabetic() || *b == b'*' => {
            *at += 1;
            while bytes.get(*at).is_some_and(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(b)) {
                *at += 1;
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_first_of_repeated_directives_counts() {
        let parsed = Directives::parse(&headers(&[("cache-control", "max-age=3600, max-age=0")]));
        assert_eq!(parsed.max_age, Some(3600));
        let parsed = Directives::parse(&headers(&[("cache-control", "max-age=0"), ("cache-control", "max-age=3600")]));
        assert_eq!(parsed.max_age, Some(0));
    }

    #[test]
    fn quoted_arguments_count_but_quoted_names_do_not() {
        assert_eq!(Directives::parse(&headers(&[("cache-control", "max-age=\"3600\"")])).max_age, Some(3600));
        let parsed = Directives::parse(&headers(&[("cache-control", "private, foo=\"max-age=3600\"")]));
        assert_eq!(parsed.max_age, None);
        assert!(parsed.private_all());
        assert_eq!(Directives::parse(&headers(&[("cache-control", "max-age='3600'")])).max_age, Some(0));
    }

    #[test]
    fn invalid_and_spaced_values_are_stale_or_ignored() {
        assert_eq!(Directives::parse(&headers(&[("cache-control", "max-age=3600a")])).max_age, Some(0));
        assert_eq!(Directives::parse(&headers(&[("cache-control", "max-age =3600")])).max_age, None);
        assert_eq!(Directives::parse(&headers(&[("cache-control", "MAX-AGE=5, No-Store")])).max_age, Some(5));
    }

    #[test]
    fn field_names_of_no_cache_and_private() {
        let parsed = Directives::parse(&headers(&[("cache-control", "no-cache=\"Set-Cookie, X-A\", private")]));
        assert_eq!(parsed.no_cache, Some(vec!["set-cookie".to_string(), "x-a".to_string()]));
        assert!(!parsed.no_cache_all());
        assert!(parsed.private_all());
    }

    #[test]
    fn a_valid_targeted_field_replaces_cache_control() {
        let map = headers(&[("cdn-cache-control", "max-age=600"), ("cache-control", "no-store")]);
        let parsed = Directives::for_cdn(&map);
        assert_eq!(parsed.max_age, Some(600));
        assert!(!parsed.no_store);
        for invalid in ["max-age=10000, &&&&&", "max-age=\"10000\"", "MaX-aGe=5", "max-age =5"] {
            let map = headers(&[("cdn-cache-control", invalid), ("cache-control", "no-store")]);
            assert!(Directives::for_cdn(&map).no_store, "{invalid}");
        }
    }

    #[test]
    fn structured_dictionaries() {
        assert!(is_sf_dictionary("max-age=99999999999, foo, bar=\"x\";a=1"));
        assert!(!is_sf_dictionary("max-age=1,"));
        assert!(!is_sf_dictionary("max-age=1.2.3"));
    }
}
