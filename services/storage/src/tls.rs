//! The S3 API over HTTPS: a configured certificate and key (PEM), or a
//! self-signed certificate for `localhost`, `*.localhost`,
//! `*.s3.localhost` and `127.0.0.1` that nubo makes once under its state
//! directory and keeps ([`nubo_host::tls`]), so a client trusts it once.
//! SDKs take their TLS-only paths here (unsigned-payload trailers, for one).

use std::path::{Path, PathBuf};

/// The names the self-signed certificate covers.
const NAMES: [&str; 6] =
    ["localhost", "*.localhost", "s3.localhost", "*.s3.localhost", "*.s3-website.localhost", "127.0.0.1"];

/// Where the self-signed certificate lives under the state directory.
pub fn self_signed_path(state_dir: &Path) -> PathBuf {
    nubo_host::tls::self_signed_path(state_dir, "storage")
}

/// The TLS server configuration, from the configured pair or the
/// self-signed one; the second value is the self-signed certificate's path.
pub fn server_config(
    certificate: Option<&Path>,
    key: Option<&Path>,
    state_dir: &Path,
) -> Result<(rustls::ServerConfig, Option<PathBuf>), String> {
    nubo_host::tls::server_config("storage", &NAMES, certificate, key, state_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_signed_pair_is_made_once_and_kept() {
        let state = tempfile::tempdir().unwrap();
        let (_, path) = server_config(None, None, state.path()).unwrap();
        let path = path.unwrap();
        assert_eq!(path, state.path().join("storage/tls/certificate.pem"), "where e2e and the banner look");
        let first = std::fs::read(&path).unwrap();
        server_config(None, None, state.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first, "a restart keeps the certificate clients trust");
        assert!(server_config(Some(&path), None, state.path()).is_err());
    }
}
