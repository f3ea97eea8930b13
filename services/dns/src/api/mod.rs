//! The Route 53 API (restXml, `2013-04-01`).
//!
//! CONTRACT: `Route53::new(context: &nubo_host::Context, zones: crate::store::Zones)`
//! (Clone) and `routes(routes: &mut actix_web::web::ServiceConfig, api: Route53)`,
//! which `lib.rs` calls.

use crate::store::Zones;

/// The Route 53 front. (Placeholder body.)
#[derive(Clone)]
pub struct Route53 {
    #[allow(dead_code)]
    zones: Zones,
}

impl Route53 {
    pub fn new(_context: &nubo_host::Context, zones: Zones) -> Self {
        Self { zones }
    }
}

pub fn routes(_routes: &mut actix_web::web::ServiceConfig, _api: Route53) {}
