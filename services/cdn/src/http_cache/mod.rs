//! HTTP caching (RFC 9111, with RFC 5861's stale extensions, RFC 9211's
//! `Cache-Status` and RFC 9213's `CDN-Cache-Control`) as pure decisions
//! over `http` types: no I/O and no clock of its own, so every rule is a
//! unit test. `crate::viewer` applies them.

pub mod age;
pub mod conditional;
pub mod control;
pub mod fields;
pub mod freshness;
pub mod hop;
pub mod invalidate;
pub mod range;
pub mod reuse;
pub mod status;
pub mod storable;
pub mod validate;
pub mod vary;
