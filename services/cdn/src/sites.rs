//! The sites this replica serves, found by `Host`: one immutable index
//! swapped whole when a distribution changes, so a viewer request takes
//! no lock.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwap;

use crate::site::Site;

#[derive(Debug, Default)]
struct Index {
    /// Exact names (the CloudFront domain name and plain aliases).
    by_host: HashMap<String, Arc<Site>>,
    /// Sites with wildcard aliases, tried in order after the exact names.
    wildcards: Vec<Arc<Site>>,
    by_id: HashMap<String, Arc<Site>>,
}

/// Every site, by host and by id; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sites {
    index: Arc<ArcSwap<Index>>,
}

impl Sites {
    /// The site serving `host` (a `Host` header: any port is ignored,
    /// case is not significant).
    pub fn find(&self, host: &str) -> Option<Arc<Site>> {
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        let index = self.index.load();
        if let Some(site) = index.by_host.get(&name) {
            return Some(site.clone());
        }
        index.wildcards.iter().find(|site| site.serves_host(&name)).cloned()
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<Site>> {
        self.index.load().by_id.get(id).cloned()
    }

    /// Every site served now.
    pub fn all(&self) -> Vec<Arc<Site>> {
        self.index.load().by_id.values().cloned().collect()
    }

    /// Serves exactly `sites` from now on.
    pub fn replace(&self, sites: impl IntoIterator<Item = Arc<Site>>) {
        let mut index = Index::default();
        for site in sites {
            index.by_host.insert(site.domain_name.clone(), site.clone());
            for alias in &site.aliases {
                if alias.starts_with("*.") {
                    index.wildcards.push(site.clone());
                } else {
                    index.by_host.insert(alias.clone(), site.clone());
                }
            }
            index.by_id.insert(site.id.clone(), site);
        }
        index.wildcards.dedup_by(|a, b| a.id == b.id);
        self.index.store(Arc::new(index));
    }

    /// Serves `site` in place of any older version of it.
    pub fn upsert(&self, site: Arc<Site>) {
        let mut sites: Vec<_> = self.all().into_iter().filter(|known| known.id != site.id).collect();
        sites.push(site);
        self.replace(sites);
    }

    pub fn remove(&self, id: &str) {
        let sites: Vec<_> = self.all().into_iter().filter(|known| known.id != id).collect();
        self.replace(sites);
    }
}

/// `host:port` or `[v6]:port` → the name alone.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}
