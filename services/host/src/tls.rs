//! The TLS server configuration of a service's HTTPS listener: a
//! configured certificate chain and key (PEM), or a self-signed
//! certificate for the names the service answers to, made once under
//! `{state}/{service}/tls/` and kept, so a client that trusts it once keeps
//! trusting it across restarts.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};

/// Where `service`'s self-signed certificate lives under the state
/// directory.
pub fn self_signed_path(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join(service).join("tls").join("certificate.pem")
}

fn key_path(state_dir: &Path, service: &str) -> PathBuf {
    state_dir.join(service).join("tls").join("key.pem")
}

/// Makes the self-signed pair for `names` unless it exists; returns the
/// paths of the certificate and the key.
fn ensure_self_signed(state_dir: &Path, service: &str, names: &[&str]) -> Result<(PathBuf, PathBuf), String> {
    let (certificate, key) = (self_signed_path(state_dir, service), key_path(state_dir, service));
    if certificate.exists() && key.exists() {
        return Ok((certificate, key));
    }
    let names = names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|error| format!("cannot make a certificate: {error}"))?;
    let directory = certificate.parent().unwrap_or(state_dir);
    std::fs::create_dir_all(directory).map_err(|error| format!("{}: {error}", directory.display()))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&certificate, made.cert.pem()).map_err(|error| format!("{}: {error}", certificate.display()))?;
    Ok((certificate, key))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, content: &[u8]) -> Result<(), String> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    file.write_all(content).map_err(|error| format!("{}: {error}", path.display()))
}

/// The TLS server configuration of `service` (HTTP/1.1), from the
/// configured pair (`{service}.tls_certificate`, `{service}.tls_key`, set
/// together) or the self-signed one for `names` (DNS names, wildcards and
/// IP addresses); the second value is the self-signed certificate's path.
pub fn server_config(
    service: &str,
    names: &[&str],
    certificate: Option<&Path>,
    key: Option<&Path>,
    state_dir: &Path,
) -> Result<(rustls::ServerConfig, Option<PathBuf>), String> {
    let (certificate_path, key_path, self_signed) = match (certificate, key) {
        (Some(certificate), Some(key)) => (certificate.to_owned(), key.to_owned(), None),
        (None, None) => {
            let (certificate, key) = ensure_self_signed(state_dir, service, names)?;
            (certificate.clone(), key, Some(certificate))
        }
        _ => return Err(format!("{service}.tls_certificate and {service}.tls_key are set together or not at all")),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certificate_path)
        .and_then(|certificates| certificates.collect())
        .map_err(|error| format!("{}: {error}", certificate_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|error| format!("{}: {error}", key_path.display()))?;
    // Named, not the process default: a binary linking both ring and
    // aws-lc-rs has no default provider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("{}: {error}", certificate_path.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, self_signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_signed_pair_is_made_once_and_kept() {
        let state = tempfile::tempdir().unwrap();
        let (_, path) = server_config("svc", &["localhost", "127.0.0.1"], None, None, state.path()).unwrap();
        let path = path.unwrap();
        assert_eq!(path, self_signed_path(state.path(), "svc"));
        let first = std::fs::read(&path).unwrap();
        server_config("svc", &["localhost"], None, None, state.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first, "a restart keeps the certificate clients trust");
        let error = server_config("svc", &[], Some(&path), None, state.path()).unwrap_err();
        assert!(error.contains("svc.tls_certificate and svc.tls_key"), "{error}");
    }

    #[test]
    fn a_configured_pair_is_read_and_a_bad_one_refused() {
        let state = tempfile::tempdir().unwrap();
        let (_, path) = server_config("made", &["localhost"], None, None, state.path()).unwrap();
        let path = path.unwrap();
        let key = key_path(state.path(), "made");
        let (_, self_signed) = server_config("other", &[], Some(&path), Some(&key), state.path()).unwrap();
        assert!(self_signed.is_none());
        assert!(!self_signed_path(state.path(), "other").exists(), "nothing is made when a pair is configured");
        assert!(server_config("other", &[], Some(&key), Some(&key), state.path()).is_err(), "a key is no certificate");
    }
}
