//! The S3 API over HTTPS: a configured certificate and key (PEM), or a
//! self-signed certificate for `localhost`, `*.localhost`,
//! `*.s3.localhost` and `127.0.0.1` that nubo makes once under its state
//! directory and keeps, so a client trusts it once. SDKs take their
//! TLS-only paths here (unsigned-payload trailers, for one).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};

/// Where the self-signed certificate lives under the state directory.
pub fn self_signed_path(state_dir: &Path) -> PathBuf {
    state_dir.join("storage").join("tls").join("certificate.pem")
}

fn key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("storage").join("tls").join("key.pem")
}

/// Makes the self-signed pair unless it exists; returns the paths.
fn ensure_self_signed(state_dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let (certificate, key) = (self_signed_path(state_dir), key_path(state_dir));
    if certificate.exists() && key.exists() {
        return Ok((certificate, key));
    }
    let names = ["localhost", "*.localhost", "s3.localhost", "*.s3.localhost", "*.s3-website.localhost", "127.0.0.1"]
        .map(str::to_owned)
        .to_vec();
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

/// The TLS server configuration, from the configured pair or the
/// self-signed one; the second value is the self-signed certificate's path.
pub fn server_config(
    certificate: Option<&Path>,
    key: Option<&Path>,
    state_dir: &Path,
) -> Result<(rustls::ServerConfig, Option<PathBuf>), String> {
    let (certificate_path, key_path, self_signed) = match (certificate, key) {
        (Some(certificate), Some(key)) => (certificate.to_owned(), key.to_owned(), None),
        (None, None) => {
            let (certificate, key) = ensure_self_signed(state_dir)?;
            (certificate.clone(), key, Some(certificate))
        }
        _ => return Err("storage.tls_certificate and storage.tls_key are set together or not at all".into()),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certificate_path)
        .and_then(|certificates| certificates.collect())
        .map_err(|error| format!("{}: {error}", certificate_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|error| format!("{}: {error}", key_path.display()))?;
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
        let (_, path) = server_config(None, None, state.path()).unwrap();
        let path = path.unwrap();
        let first = std::fs::read(&path).unwrap();
        server_config(None, None, state.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first, "a restart keeps the certificate clients trust");
        assert!(server_config(Some(&path), None, state.path()).is_err());
    }
}
