//! Structured logging set-up for the binary and for tests.

use tracing_subscriber::EnvFilter;

/// nubo's own lines at INFO, every framework's (actix, hyper, h2, tonic,
/// the CQL driver) at WARN: what an operator sees by default.
pub const DEFAULT_FILTER: &str = "warn,nubo=info,nubo_host=info,nubo_proto=info,nubo_data=info,nubo_storage=info,\
nubo_functions=info,nubo_gateway=info,nubo_auth=info,nubo_cdn=info,nubo_dns=info";

/// Installs a `tracing` subscriber writing to stderr, filtered by `filter`
/// (`EnvFilter` syntax, e.g. `info,nubo_functions=debug`), or by
/// [`DEFAULT_FILTER`] when none is given. Safe to call more than once:
/// later calls do nothing.
pub fn init(filter: Option<&str>) {
    let filter =
        filter.and_then(|filter| EnvFilter::try_new(filter).ok()).unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
