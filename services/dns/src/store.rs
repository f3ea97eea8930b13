//! Zones, changes, caller references and tags as data records.
//!
//! CONTRACT: `Zones::new(records: RecordsClient, authority: Arc<Authority>)`
//! (Clone). After every successful write of a zone record the store calls
//! `authority.apply(&[zone], &[])` (or `apply(&[], &[id])` on delete) so
//! this replica serves it at once, then publishes the zone's serial to
//! `model::SERIALS` (key: zone id, value: the serial as decimal text; only
//! ever raised, by compare-and-set) so other replicas reload it.

use std::sync::Arc;

use nubo_proto::clients::RecordsClient;

use crate::authority::Authority;

#[derive(Clone)]
pub struct Zones {
    #[allow(dead_code)]
    records: RecordsClient,
    #[allow(dead_code)]
    authority: Arc<Authority>,
}

impl Zones {
    pub fn new(records: RecordsClient, authority: Arc<Authority>) -> Self {
        Self { records, authority }
    }
}
