//! Table definitions as last read, by name, with the catalog version they
//! were read at. Every request still looks up the definition's record, so
//! a change made anywhere (another node of a cluster included) is seen at
//! once, but it parses the definition only when its version moved.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
};

use super::table::Table;

#[derive(Debug, Default)]
pub struct TableCache {
    /// One entry per existing table: a table found gone is forgotten.
    entries: RwLock<HashMap<String, (u64, Arc<Table>)>>,
}

impl TableCache {
    /// The definition of `name` if the cached one is of `version`.
    pub fn get(&self, name: &str, version: u64) -> Option<Arc<Table>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(name).filter(|(cached, _)| *cached == version).map(|(_, table)| table.clone())
    }

    pub fn put(&self, name: &str, version: u64, table: Arc<Table>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.insert(name.to_owned(), (version, table));
    }

    pub fn forget(&self, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.remove(name);
    }
}
