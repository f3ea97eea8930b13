//! Which resource and method of a deployment a request reaches: the most
//! specific resource path wins (literal segments over `{param}` over a
//! greedy `{proxy+}`, by the same order HTTP API routes use, see
//! [`crate::routing`]); then the request's method, or `ANY`. A request
//! whose best resource lacks its method reaches nothing, as in API
//! Gateway, rather than falling back to a less specific resource.

use std::collections::BTreeMap;

use super::model::{Method, Resource};

#[derive(Debug)]
pub struct Matched<'a> {
    pub resource: &'a Resource,
    pub method: &'a Method,
    pub path_parameters: BTreeMap<String, String>,
}

pub fn select<'a>(resources: &'a [Resource], http_method: &str, path: &str) -> Option<Matched<'a>> {
    let keys: Vec<String> = resources.iter().map(|resource| format!("ANY {}", resource.path)).collect();
    let matched = crate::routing::select(keys.iter().map(String::as_str), "ANY", path)?;
    let index = keys.iter().position(|key| key == matched.route_key)?;
    let resource = &resources[index];
    let method = resource.methods.get(http_method).or_else(|| resource.methods.get("ANY"))?;
    let path_parameters = matched
        .path_parameters
        .into_iter()
        .map(|(name, value)| (name, nubo_host::sigv4::percent_decode(&value)))
        .collect();
    Some(Matched { resource, method, path_parameters })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str, path: &str, methods: &[&str]) -> Resource {
        Resource {
            id: id.into(),
            path: path.into(),
            methods: methods
                .iter()
                .map(|m| ((*m).to_owned(), Method { http_method: (*m).to_owned(), ..Default::default() }))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_most_specific_resource_wins() {
        let resources = vec![
            resource("root", "/", &["GET"]),
            resource("items", "/items", &["GET", "POST"]),
            resource("item", "/items/{id}", &["ANY"]),
            resource("proxy", "/{proxy+}", &["ANY"]),
        ];
        assert_eq!(select(&resources, "GET", "/").unwrap().resource.id, "root");
        assert_eq!(select(&resources, "POST", "/items").unwrap().resource.id, "items");
        let item = select(&resources, "DELETE", "/items/a%20b").unwrap();
        assert_eq!((item.resource.id.as_str(), item.path_parameters["id"].as_str()), ("item", "a b"));
        let proxy = select(&resources, "GET", "/a/b").unwrap();
        assert_eq!(proxy.path_parameters["proxy"], "a/b");
        // `/items` has no PUT, and the greedy resource does not take it over.
        assert!(select(&resources, "PUT", "/items").is_none());
    }
}
