//! The HTTPS viewer listener: TLS terminated here (rustls) with the
//! configured certificate chain and key (`cdn.tls_certificate`,
//! `cdn.tls_key`, PEM), or a self-signed certificate for `localhost`,
//! `*.cloudfront.localhost` and `127.0.0.1` that nubo makes once under
//! `{state}/cdn/tls/` and keeps ([`nubo_host::tls`]), so a viewer trusts
//! it once.
//!
//! Both listeners serve the same routes; a request's scheme is the
//! listener it arrived on ([`viewer_scheme`]), which is what
//! `redirect-to-https`, `https-only` and a signed URL's policy read.

use std::path::{Path, PathBuf};

/// The names the self-signed certificate covers: every distribution's
/// default domain name, `localhost` (an alias) and the loopback address.
const NAMES: [&str; 4] = ["localhost", "cloudfront.localhost", "*.cloudfront.localhost", "127.0.0.1"];

/// Where the self-signed certificate lives under the state directory.
pub fn self_signed_path(state_dir: &Path) -> PathBuf {
    nubo_host::tls::self_signed_path(state_dir, "cdn")
}

/// The HTTPS listener's TLS configuration, from the configured pair or the
/// self-signed one (made on first use, reused after).
pub fn server_config(config: &crate::Config, state_dir: &Path) -> Result<rustls::ServerConfig, String> {
    let (tls, self_signed) = nubo_host::tls::server_config(
        "cdn",
        &NAMES,
        config.tls_certificate.as_deref(),
        config.tls_key.as_deref(),
        state_dir,
    )?;
    if let Some(path) = self_signed {
        tracing::info!(certificate = %path.display(), "viewers over HTTPS get a self-signed certificate; trust it to use HTTPS");
    }
    Ok(tls)
}

/// `https` for a request that arrived on the HTTPS listener, else `http`.
///
/// This is actix's own record of the listener (`AppConfig::secure`, true
/// for a rustls listener), never `ConnectionInfo::scheme`, which believes a
/// viewer's `Forwarded` or `X-Forwarded-Proto` header and would let any
/// viewer pass `https-only` over plain HTTP.
pub fn viewer_scheme(request: &actix_web::HttpRequest) -> &'static str {
    if request.app_config().secure() { "https" } else { "http" }
}

#[cfg(test)]
mod tests {
    use actix_web::{HttpRequest, web};
    use nubo_host::{Shutdown, metrics::Metrics};

    use super::*;

    async fn scheme(request: HttpRequest) -> &'static str {
        viewer_scheme(&request)
    }

    fn routes(routes: &mut web::ServiceConfig) {
        routes.default_service(web::to(scheme));
    }

    /// Serves [`viewer_scheme`] on a plain and a TLS listener of 127.0.0.1.
    fn serve(tls: rustls::ServerConfig, shutdown: &Shutdown) -> (u16, u16) {
        let plain = nubo_host::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let secure = nubo_host::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let ports = (plain.local_addr().unwrap().port(), secure.local_addr().unwrap().port());
        let metrics = Metrics::new("cdn");
        tokio::spawn(nubo_host::http::serve("cdn", plain, 1, metrics.clone(), shutdown.clone(), routes));
        tokio::spawn(nubo_host::http::serve_with("cdn-https", secure, Some(tls), 1, metrics, shutdown.clone(), routes));
        ports
    }

    #[actix_web::test]
    async fn the_scheme_is_the_listeners_not_the_viewers_say_so() {
        let state = tempfile::tempdir().unwrap();
        let tls = server_config(&crate::Config::default(), state.path()).unwrap();
        let shutdown = Shutdown::new();
        let (http, https) = serve(tls, &shutdown);
        let pem = std::fs::read(self_signed_path(state.path())).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();

        let over_tls = client.get(format!("https://127.0.0.1:{https}/x")).send().await.unwrap();
        assert_eq!(over_tls.text().await.unwrap(), "https");
        let spoofed = client
            .get(format!("http://127.0.0.1:{http}/x"))
            .header("x-forwarded-proto", "https")
            .header("forwarded", "proto=https")
            .send()
            .await
            .unwrap();
        assert_eq!(spoofed.text().await.unwrap(), "http", "a viewer's header does not make HTTP secure");
        shutdown.cancel();
    }
}
