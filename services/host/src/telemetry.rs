//! Structured logging set-up for the binary and for tests.

use tracing_subscriber::EnvFilter;

/// Installs a `tracing` subscriber writing to stderr, filtered by `filter`
/// (`EnvFilter` syntax, e.g. `info,nubo_functions=debug`). Safe to call more
/// than once: later calls do nothing.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
