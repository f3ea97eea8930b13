//! Route keys (`GET /items/{id}`, `ANY /{proxy+}`, `$default`) and how a
//! request picks one: the most specific path wins (literal segments over
//! `{param}` over a greedy `{proxy+}`), then a method-specific route over
//! `ANY`; `$default` catches what nothing else matches.

use std::collections::BTreeMap;

use crate::error::GatewayError;

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Default,
    Path { method: String, segments: Vec<Segment> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: the rest of the path, only as the last segment.
    Greedy(String),
}

const METHODS: &[&str] = &["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl RouteKey {
    pub fn parse(key: &str) -> Result<Self, GatewayError> {
        if key == "$default" {
            return Ok(RouteKey::Default);
        }
        let invalid =
            || GatewayError::BadRequest(format!("Unable to create route {key}: the given route key is not valid"));
        let (method, path) = key.split_once(' ').ok_or_else(invalid)?;
        if !METHODS.contains(&method) || !path.starts_with('/') {
            return Err(invalid());
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = path[1..].split('/').filter(|part| !part.is_empty()).collect();
        for (index, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) if index + 1 == parts.len() && !name.is_empty() => Segment::Greedy(name.to_owned()),
                    Some(_) => return Err(invalid()),
                    None if !name.is_empty() => Segment::Param(name.to_owned()),
                    None => return Err(invalid()),
                },
                None if part.contains('{') || part.contains('}') => return Err(invalid()),
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        Ok(RouteKey::Path { method: method.to_owned(), segments })
    }

    /// The path parameters if this key matches, or `None`.
    fn matches(&self, method: &str, path_segments: &[&str]) -> Option<BTreeMap<String, String>> {
        let RouteKey::Path { method: route_method, segments } = self else { return None };
        if route_method != "ANY" && route_method != method {
            return None;
        }
        let mut parameters = BTreeMap::new();
        for (index, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    if index >= path_segments.len() {
                        return None;
                    }
                    parameters.insert(name.clone(), path_segments[index..].join("/"));
                    return Some(parameters);
                }
                Segment::Literal(literal) => {
                    if path_segments.get(index) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let value = path_segments.get(index)?;
                    parameters.insert(name.clone(), (*value).to_owned());
                }
            }
        }
        (segments.len() == path_segments.len()).then_some(parameters)
    }

    /// Orders matching keys: higher is more specific.
    fn specificity(&self) -> (Vec<u8>, bool) {
        match self {
            RouteKey::Default => (Vec::new(), false),
            RouteKey::Path { method, segments } => (
                segments
                    .iter()
                    .map(|segment| match segment {
                        Segment::Literal(_) => 3,
                        Segment::Param(_) => 2,
                        Segment::Greedy(_) => 1,
                    })
                    .collect(),
                method != "ANY",
            ),
        }
    }
}

/// The route a request takes, with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route_key: &'a str,
    pub path_parameters: BTreeMap<String, String>,
}

/// Picks the best of `route_keys` for a request, `$default` last.
pub fn select<'a>(route_keys: impl Iterator<Item = &'a str>, method: &str, path: &str) -> Option<Matched<'a>> {
    let path_segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let mut best: Option<(RouteKey, Matched<'a>)> = None;
    let mut fallback = None;
    for key in route_keys {
        let Ok(parsed) = RouteKey::parse(key) else { continue };
        if parsed == RouteKey::Default {
            fallback = Some(Matched { route_key: key, path_parameters: BTreeMap::new() });
            continue;
        }
        let Some(path_parameters) = parsed.matches(method, &path_segments) else { continue };
        let better = match &best {
            None => true,
            Some((current, _)) => parsed.specificity() > current.specificity(),
        };
        if better {
            best = Some((parsed, Matched { route_key: key, path_parameters }));
        }
    }
    best.map(|(_, matched)| matched).or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] =
        &["GET /items/{id}", "ANY /items/{id}", "GET /items/special", "ANY /{proxy+}", "$default", "POST /items"];

    fn pick(method: &str, path: &str) -> Option<(String, BTreeMap<String, String>)> {
        select(KEYS.iter().copied(), method, path).map(|m| (m.route_key.to_owned(), m.path_parameters))
    }

    #[test]
    fn literal_beats_parameter_beats_greedy() {
        assert_eq!(pick("GET", "/items/special").unwrap().0, "GET /items/special");
        let (key, parameters) = pick("GET", "/items/42").unwrap();
        assert_eq!(key, "GET /items/{id}");
        assert_eq!(parameters["id"], "42");
        let (key, parameters) = pick("GET", "/a/b/c").unwrap();
        assert_eq!(key, "ANY /{proxy+}");
        assert_eq!(parameters["proxy"], "a/b/c");
    }

    #[test]
    fn method_specific_beats_any_and_default_catches_the_rest() {
        assert_eq!(pick("DELETE", "/items/42").unwrap().0, "ANY /items/{id}");
        assert_eq!(pick("POST", "/items").unwrap().0, "POST /items");
        assert_eq!(pick("GET", "/").unwrap().0, "$default");
    }

    #[test]
    fn without_default_nothing_matches_the_root() {
        assert_eq!(select(["GET /a"].into_iter(), "GET", "/b"), None);
    }

    #[test]
    fn invalid_keys_are_refused() {
        for key in ["GET items", "FETCH /a", "GET /{proxy+}/x", "GET /{}", "GET /a{b}"] {
            assert!(RouteKey::parse(key).is_err(), "{key}");
        }
    }
}
