//! CloudFront's resources as the cdn keeps them in data records.
//!
//! A resource's configuration is kept as the XML element tree the client
//! sent ([`Node`]), with CloudFront's defaults filled in for what it left
//! out: GetDistributionConfig (and every other Get) answers exactly what
//! was asked for, including members nubo does not act on, and a new SDK
//! member survives a round trip without a code change here.

use serde::{Deserialize, Serialize};

/// Distributions by id (`E...`).
pub const DISTRIBUTIONS: &str = "cdn.distributions.v1";
pub const CACHE_POLICIES: &str = "cdn.cache-policies.v1";
pub const ORIGIN_REQUEST_POLICIES: &str = "cdn.origin-request-policies.v1";
pub const RESPONSE_HEADERS_POLICIES: &str = "cdn.response-headers-policies.v1";
pub const PUBLIC_KEYS: &str = "cdn.public-keys.v1";
pub const KEY_GROUPS: &str = "cdn.key-groups.v1";
pub const ORIGIN_ACCESS_CONTROLS: &str = "cdn.origin-access-controls.v1";
/// Invalidations by `{distribution id}/{invalidation id}`.
pub const INVALIDATIONS: &str = "cdn.invalidations.v1";
/// `CallerReference`s by `{kind}/{reference}` (`{distribution id}/{reference}`
/// for invalidations): the id of the resource the reference made.
pub const CALLERS: &str = "cdn.callers.v1";
/// CNAMEs by alias (lowercased): the distribution that holds it, so two
/// distributions can never claim one.
pub const ALIASES: &str = "cdn.aliases.v1";
/// Resource names by `{kind namespace}/{name}`: the resource that holds
/// it, so two cache policies (key groups, ...) can never share one.
pub const NAMES: &str = "cdn.names.v1";
/// Invalidations not yet known to be applied everywhere, by
/// `{distribution id}/{invalidation id}`: what replicas read on every
/// change, so none reads the whole history.
pub const PENDING_INVALIDATIONS: &str = "cdn.invalidations-pending.v1";
/// Tags by resource ARN.
pub const TAGS: &str = "cdn.tags.v1";
/// The one record every write raises ([`GENERATION_KEY`]): what replicas
/// poll to learn that something changed.
pub const GENERATION: &str = "cdn.generation.v1";
pub const GENERATION_KEY: &str = "current";
/// Replica heartbeats by replica id: the generation each has applied.
pub const REPLICAS: &str = "cdn.replicas.v1";

/// An XML element: its name, its text (leaves only) and its children in
/// document order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(rename = "c", default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), ..Self::default() }
    }

    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self { name: name.into(), text: text.into(), children: Vec::new() }
    }

    /// Adds `child` and returns self, for building trees inline.
    pub fn with(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|child| child.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|child| child.name == name)
    }

    /// The text of the child `name`, if it is there.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.as_str())
    }

    /// The child `name` as a boolean (`true` only for `true`).
    pub fn flag(&self, name: &str) -> bool {
        self.text_of(name).is_some_and(|text| text.trim() == "true")
    }

    /// The child `name` as a number.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.text_of(name).and_then(|text| text.trim().parse().ok())
    }

    /// The `Items` of the list child `name` (`<Name><Quantity/><Items>…`).
    pub fn items(&self, name: &str) -> &[Node] {
        self.child(name).and_then(|list| list.child("Items")).map_or(&[], |items| items.children.as_slice())
    }

    /// The texts of the `Items` of list child `name`.
    pub fn item_texts(&self, name: &str) -> Vec<String> {
        self.items(name).iter().map(|item| item.text.clone()).collect()
    }

    /// Appends `default()` as child `name` unless there is one: a member
    /// the client left out, as CloudFront answers it.
    pub fn default_child(&mut self, name: &str, default: impl FnOnce() -> Node) -> &mut Node {
        let index = match self.children.iter().position(|child| child.name == name) {
            Some(index) => index,
            None => {
                let mut child = default();
                child.name = name.to_owned();
                self.children.push(child);
                self.children.len() - 1
            }
        };
        &mut self.children[index]
    }

    /// A child leaf with `text` unless there is one.
    pub fn default_leaf(&mut self, name: &str, text: &str) -> &mut Node {
        self.default_child(name, || Node::leaf(name, text))
    }

    /// Sets the child leaf `name` to `text`, adding it if missing.
    pub fn set(&mut self, name: &str, text: impl Into<String>) {
        let text = text.into();
        match self.child_mut(name) {
            Some(child) => {
                child.text = text;
                child.children.clear();
            }
            None => self.children.push(Node::leaf(name, text)),
        }
    }
}

/// An empty CloudFront list (`<Quantity>0</Quantity>`).
pub fn empty_list(name: &str) -> Node {
    Node::new(name).with(Node::leaf("Quantity", "0"))
}

/// A CloudFront list of leaves named `item`.
pub fn list_of(name: &str, item: &str, texts: &[&str]) -> Node {
    let mut list = Node::new(name).with(Node::leaf("Quantity", texts.len().to_string()));
    if !texts.is_empty() {
        let mut items = Node::new("Items");
        items.children = texts.iter().map(|text| Node::leaf(item, *text)).collect();
        list.children.push(items);
    }
    list
}

/// The resources kept by id, each in its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Distribution,
    CachePolicy,
    OriginRequestPolicy,
    ResponseHeadersPolicy,
    PublicKey,
    KeyGroup,
    OriginAccessControl,
}

impl Kind {
    pub fn namespace(self) -> &'static str {
        match self {
            Kind::Distribution => DISTRIBUTIONS,
            Kind::CachePolicy => CACHE_POLICIES,
            Kind::OriginRequestPolicy => ORIGIN_REQUEST_POLICIES,
            Kind::ResponseHeadersPolicy => RESPONSE_HEADERS_POLICIES,
            Kind::PublicKey => PUBLIC_KEYS,
            Kind::KeyGroup => KEY_GROUPS,
            Kind::OriginAccessControl => ORIGIN_ACCESS_CONTROLS,
        }
    }

    /// The name of its config element.
    pub fn config_element(self) -> &'static str {
        match self {
            Kind::Distribution => "DistributionConfig",
            Kind::CachePolicy => "CachePolicyConfig",
            Kind::OriginRequestPolicy => "OriginRequestPolicyConfig",
            Kind::ResponseHeadersPolicy => "ResponseHeadersPolicyConfig",
            Kind::PublicKey => "PublicKeyConfig",
            Kind::KeyGroup => "KeyGroupConfig",
            Kind::OriginAccessControl => "OriginAccessControlConfig",
        }
    }

    /// What a missing one is called in CloudFront's errors.
    pub fn missing_error(self) -> &'static str {
        match self {
            Kind::Distribution => "NoSuchDistribution",
            Kind::CachePolicy => "NoSuchCachePolicy",
            Kind::OriginRequestPolicy => "NoSuchOriginRequestPolicy",
            Kind::ResponseHeadersPolicy => "NoSuchResponseHeadersPolicy",
            Kind::PublicKey => "NoSuchPublicKey",
            Kind::KeyGroup => "NoSuchResource",
            Kind::OriginAccessControl => "NoSuchOriginAccessControl",
        }
    }

    /// A new id in CloudFront's form for this kind: 14 characters led by
    /// `E` (distributions, origin access controls) or `K` (public keys), a
    /// UUID for policies and key groups.
    pub fn new_id(self) -> String {
        match self {
            Kind::Distribution | Kind::OriginAccessControl => short_id('E'),
            Kind::PublicKey => short_id('K'),
            _ => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The `{kind}` of its `CallerReference` records.
    pub fn caller_scope(self) -> &'static str {
        match self {
            Kind::Distribution => "distribution",
            Kind::PublicKey => "public-key",
            _ => "other",
        }
    }
}

/// One stored resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    /// Its `*Config` element, defaults filled in.
    pub config: Node,
    /// Changes with every update; `If-Match` must name the current one.
    pub etag: String,
    /// RFC 3339.
    pub created: String,
    pub last_modified: String,
    /// The generation that made this version visible to replicas: it is
    /// deployed once every live replica has applied that generation.
    #[serde(default)]
    pub generation: u64,
}

/// One invalidation batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    pub id: String,
    pub distribution_id: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
    /// RFC 3339.
    pub created: String,
    /// As for [`Resource::generation`]: completed once every live replica
    /// has applied it.
    #[serde(default)]
    pub generation: u64,
}

/// A replica's heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The generation whose records it has read and whose invalidations
    /// it has applied.
    pub generation: u64,
    /// Unix seconds of the heartbeat.
    pub at: u64,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// `prefix` and 13 random uppercase letters and digits, as CloudFront's
/// distribution, invalidation and key ids are.
pub fn short_id(prefix: char) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bits = uuid::Uuid::new_v4().as_u128();
    let mut id = String::with_capacity(14);
    id.push(prefix);
    for _ in 0..13 {
        id.push(char::from(ALPHABET[(bits % 36) as usize]));
        bits /= 36;
    }
    id
}

/// A fresh ETag value (CloudFront's are opaque uppercase strings).
pub fn new_etag() -> String {
    short_id('E')
}

/// The domain name of distribution `id`.
pub fn domain_name(id: &str) -> String {
    format!("{}.cloudfront.localhost", id.to_ascii_lowercase())
}

/// Now in RFC 3339 with milliseconds, UTC.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_cloudfronts_shape() {
        let id = short_id('E');
        assert_eq!(id.len(), 14);
        assert!(id.starts_with('E'));
        assert!(id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(domain_name("E1ABC"), "e1abc.cloudfront.localhost");
    }

    #[test]
    fn trees_read_lists_and_fill_defaults() {
        let mut node = Node::new("X").with(list_of("Aliases", "CNAME", &["a.example", "b.example"]));
        assert_eq!(node.item_texts("Aliases"), vec!["a.example".to_owned(), "b.example".to_owned()]);
        node.default_leaf("Comment", "");
        node.default_leaf("Comment", "ignored");
        assert_eq!(node.text_of("Comment"), Some(""));
        node.set("Enabled", "true");
        assert!(node.flag("Enabled"));
        assert!(node.items("Missing").is_empty());
    }
}
