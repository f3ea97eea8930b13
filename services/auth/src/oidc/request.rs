//! The parsers of what a browser or an OAuth client sends: query strings
//! and form bodies, the `Cookie` and `Host` headers, HTTP Basic and Bearer
//! credentials. Each either returns what it read or says plainly what was
//! wrong with it; none panics, whatever the bytes.

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::STANDARD};

/// Why a request's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// More parameters than any endpoint takes is a malformed request.
const MAX_PARAMS: usize = 64;
/// A `state`, a `nonce` or a sealed form value is well under this.
const MAX_VALUE: usize = 16 * 1024;

/// The parameters of a query string or an
/// `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Reads `name=value&...`. RFC 6749 §3.1: a parameter sent twice is
    /// refused, and one sent without a value counts as not sent.
    pub fn parse(raw: &[u8]) -> Result<Self, ParamError> {
        let mut params = BTreeMap::new();
        for pair in raw.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name)?;
            if name.is_empty() {
                return Err(ParamError("a parameter has no name".into()));
            }
            let value = decode(value)?;
            if value.len() > MAX_VALUE {
                return Err(ParamError(format!("the parameter {name} is too long")));
            }
            if params.contains_key(&name) {
                return Err(ParamError(format!("the parameter {name} is given more than once")));
            }
            params.insert(name, value);
            if params.len() > MAX_PARAMS {
                return Err(ParamError("too many parameters".into()));
            }
        }
        params.retain(|_, value| !value.is_empty());
        Ok(Self(params))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter the request cannot do without.
    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name).ok_or_else(|| ParamError(format!("the parameter {name} is required")))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; the bytes must be UTF-8 and hold no control character but tab,
/// line feed and carriage return (which a textarea may send).
fn decode(raw: &[u8]) -> Result<String, ParamError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        match raw[at] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw.get(at + 1..at + 3).ok_or_else(|| ParamError("a % escape is cut short".into()))?;
                let digit = |b: u8| char::from(b).to_digit(16);
                match (digit(hex[0]), digit(hex[1])) {
                    (Some(high), Some(low)) => bytes.push((high * 16 + low) as u8),
                    _ => return Err(ParamError("a % escape is not two hexadecimal digits".into())),
                }
                at += 2;
            }
            byte => bytes.push(byte),
        }
        at += 1;
    }
    let text = String::from_utf8(bytes).map_err(|_| ParamError("a parameter is not UTF-8".into()))?;
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(ParamError("a parameter holds a control character".into()));
    }
    Ok(text)
}

/// Every value of the cookie `name` in a `Cookie` header, in order (a
/// browser sends one per path that matches). Pairs that are not
/// `name=value` are skipped, as browsers skip them.
pub fn cookies<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| key.trim() == name)
        .map(|(_, value)| {
            let value = value.trim();
            value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
        })
        .filter(|value| !value.is_empty())
        .collect()
}

/// The domain prefix a `Host` names, when it is a hosted UI's
/// `{domain}.auth.localhost` (any port, any case, a trailing dot allowed).
pub fn domain_of_host(host: &str) -> Option<String> {
    let host = host.trim();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let prefix = name.strip_suffix(".auth.localhost")?;
    is_domain_prefix(prefix).then(|| prefix.to_owned())
}

/// Cognito's rule for a domain prefix: lower-case letters, digits and
/// hyphens, 1 to 63 of them, no hyphen at either end.
pub fn is_domain_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 63
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !prefix.starts_with('-')
        && !prefix.ends_with('-')
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
pub fn basic_credentials(header: &str) -> Result<(String, String), ParamError> {
    let malformed = || ParamError("the Authorization header is not valid Basic credentials".into());
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let (id, secret) = match decoded.iter().position(|&b| b == b':') {
        Some(at) => (&decoded[..at], &decoded[at + 1..]),
        None => return Err(malformed()),
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, secret))
}

/// RFC 6750 §2.1: the token of `Authorization: Bearer <token>`.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_decode_strictly() {
        let params = Params::parse(b"a=1&b=x+y%2Fz&c=&d").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), Some("x y/z"));
        // Sent without a value: as if not sent (RFC 6749 §3.1).
        assert_eq!(params.get("c"), None);
        assert_eq!(params.get("d"), None);
        assert_eq!(Params::parse(b"").unwrap(), Params::default());
        assert_eq!(Params::parse(b"&&a=1&").unwrap().get("a"), Some("1"));
        assert_eq!(Params::parse("s=%C3%A9t%C3%A9".as_bytes()).unwrap().get("s"), Some("été"));
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        for (raw, reason) in [
            (&b"a=1&a=2"[..], "more than once"),
            (b"=1", "no name"),
            (b"a=%", "cut short"),
            (b"a=%4", "cut short"),
            (b"a=%zz", "hexadecimal"),
            (b"a=%FF", "UTF-8"),
            (b"a=\xff", "UTF-8"),
            (b"a=%00", "control"),
        ] {
            let error = Params::parse(raw).unwrap_err();
            assert!(error.0.contains(reason), "{raw:?}: {error}");
        }
        let many: Vec<String> = (0..65).map(|i| format!("p{i}=1")).collect();
        assert!(Params::parse(many.join("&").as_bytes()).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        assert_eq!(Params::default().required("code").unwrap_err().0, "the parameter code is required");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "a=1; cognito=abc; XSRF-TOKEN=\"q\"; broken; cognito=def";
        assert_eq!(cookies(header, "cognito"), vec!["abc", "def"]);
        assert_eq!(cookies(header, "XSRF-TOKEN"), vec!["q"]);
        assert!(cookies(header, "missing").is_empty());
        assert!(cookies("", "a").is_empty());
        assert!(cookies(";;=;a=", "a").is_empty());
    }

    #[test]
    fn hosts_name_a_domain_only_in_the_hosted_ui_form() {
        assert_eq!(domain_of_host("shop.auth.localhost").as_deref(), Some("shop"));
        assert_eq!(domain_of_host("Shop-1.AUTH.localhost:9229").as_deref(), Some("shop-1"));
        assert_eq!(domain_of_host("shop.auth.localhost.:80").as_deref(), Some("shop"));
        for host in [
            "localhost:9229",
            "127.0.0.1:9229",
            "[::1]:9229",
            ".auth.localhost",
            "a.b.auth.localhost",
            "-a.auth.localhost",
            "shop.auth.localhost:",
            "shop.auth.localhost:x",
            "shop.auth.example.com",
            "",
        ] {
            assert_eq!(domain_of_host(host), None, "{host}");
        }
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        assert_eq!(basic_credentials(&header).unwrap(), ("my client".into(), "s:cret".into()));
        let header = format!("basic {}", STANDARD.encode("id:"));
        assert_eq!(basic_credentials(&header).unwrap(), ("id".into(), String::new()));
        for bad in ["Basic", "Basic !!!", "Bearer abc", &format!("Basic {}", STANDARD.encode("nocolon"))] {
            assert!(basic_credentials(bad).is_err(), "{bad}");
        }
        assert!(basic_credentials(&format!("Basic {}", STANDARD.encode(":secret"))).is_err());
    }

    /// Whatever the bytes, every parser answers and none panics.
    #[test]
    fn arbitrary_input_never_panics() {
        let alphabet = b"=&%+;:. \"\\aZ09-_\xff\xc3\x00\t";
        for length in 0..24 {
            for _ in 0..400 {
                let bytes: Vec<u8> = (0..length).map(|_| alphabet[rand::random_range(0..alphabet.len())]).collect();
                let _ = Params::parse(&bytes);
                let text = String::from_utf8_lossy(&bytes);
                let _ = cookies(&text, "a");
                let _ = domain_of_host(&text);
                let _ = basic_credentials(&format!("Basic {text}"));
                let _ = basic_credentials(&format!("Basic {}", STANDARD.encode(&bytes)));
                let _ = bearer(&text);
            }
        }
    }

    #[test]
    fn bearer_tokens_are_read() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer a b"), None);
    }
}
