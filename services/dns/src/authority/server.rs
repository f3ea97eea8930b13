//! The DNS server over UDP and TCP.

use std::sync::Arc;

use super::Authority;

/// Answers on the bound sockets until `shutdown`.
pub async fn serve(
    _authority: Arc<Authority>,
    _udp: tokio::net::UdpSocket,
    _tcp: tokio::net::TcpListener,
    shutdown: nubo_host::Shutdown,
) -> std::io::Result<()> {
    shutdown.cancelled().await;
    Ok(())
}
