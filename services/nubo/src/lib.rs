//! The `nubo` binary's library: its configuration ([`config`]) and the
//! launcher that binds and runs any set of services in one process
//! ([`launch`]). `nubo up` runs all seven with development defaults;
//! `nubo serve --services ...` runs the ones a container is for.

pub mod config;
pub mod launch;
pub mod logs;
