//! The DNS server over UDP and TCP.
//!
//! Not `hickory_server::Server`: its path cannot give NSD's answers or
//! speed. Its encoder truncates record by record, splitting RRsets (RFC
//! 2181 §9), writes the OPT last so that a full response loses it (RFC 6891
//! §7), and sets TC for left-out additional data; it spawns a task and
//! decodes a whole `Message` per UDP query and logs every response at info
//! level. So nubo reads and writes the bytes itself
//! ([`super::Authority::answer_into`]) and runs these small loops: a few
//! UDP workers sharing the socket, each with its own buffers, and a task
//! per TCP connection. Nothing in the answer path awaits anything but the
//! socket. Zone transfers (AXFR, IXFR) are the TCP path's: to peers the
//! [`TransferPolicy`] allows, answered from the zone as stored.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    task::JoinSet,
};

use hickory_proto::op::{Message, MessageType, OpCode};

use super::{
    Authority, Transport,
    rate_limit::{self, RateLimit, Verdict},
};
use crate::transfer::{self, TransferPolicy};

/// How the server treats its clients beyond answering them.
#[derive(Debug, Default)]
pub struct Options {
    /// Who may transfer zones over TCP.
    pub transfers: TransferPolicy,
    /// UDP response-rate limiting, when configured.
    pub rate_limit: Option<RateLimit>,
}

/// An idle TCP connection is closed after this long (RFC 7766 §6.2.3 asks
/// for at least a few seconds; NSD's `tcp-timeout` is longer, but a
/// shorter one frees connections sooner under load).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Open TCP connections at most (NSD's `tcp-count` default is 100); more
/// are closed on accept.
const TCP_CONNECTIONS: usize = 256;
/// Largest UDP datagram read.
const UDP_BUFFER: usize = 65_535;

/// Answers on the bound sockets until `shutdown`.
pub async fn serve(
    authority: Arc<Authority>,
    udp: UdpSocket,
    tcp: TcpListener,
    options: Options,
    shutdown: nubo_host::Shutdown,
) -> std::io::Result<()> {
    let udp = Arc::new(udp);
    let rate_limit = options.rate_limit.map(Arc::new);
    let workers = std::thread::available_parallelism().map_or(2, usize::from).clamp(1, 8);
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(udp_worker(udp.clone(), authority.clone(), rate_limit.clone(), shutdown.clone()));
    }
    tasks.spawn(tcp_listener(tcp, authority, Arc::new(options.transfers), shutdown.clone()));
    let mut outcome = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|error| Err(std::io::Error::other(error)));
        if let Err(error) = result {
            // One listener failing stops the others: the service's fronts
            // end together.
            tracing::error!(%error, "dns listener failed");
            shutdown.cancel();
            outcome = Err(error);
        }
    }
    outcome
}

/// One UDP worker: receive, answer, send, with buffers kept across queries.
async fn udp_worker(
    socket: Arc<UdpSocket>,
    authority: Arc<Authority>,
    rate_limit: Option<Arc<RateLimit>>,
    shutdown: nubo_host::Shutdown,
) -> std::io::Result<()> {
    let mut query = vec![0u8; UDP_BUFFER];
    let mut response = Vec::with_capacity(4096);
    // Made once: a fresh `cancelled()` per query would register with the
    // token every time.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        let received = tokio::select! {
            biased;
            () = &mut cancelled => return Ok(()),
            received = socket.recv_from(&mut query) => received,
        };
        let (length, peer) = match received {
            Ok(received) => received,
            // ICMP port unreachable from an earlier answer and the like are
            // reported on a later receive: not this socket's failure.
            Err(error) if transient(&error) => continue,
            Err(error) => return Err(error),
        };
        // A source port of 0 cannot be answered (and is spoofed).
        if peer.port() == 0 {
            continue;
        }
        response.clear();
        let Some(message) = query.get(..length) else { continue };
        if !authority.answer_into(message, Transport::Udp, &mut response) {
            continue;
        }
        let verdict = rate_limit.as_ref().map_or(Verdict::Send, |limit| limit.check(peer.ip()));
        let sent = match verdict {
            Verdict::Send => socket.send_to(&response, peer).await,
            Verdict::Slip => match rate_limit::truncated(&response) {
                Some(reply) => socket.send_to(&reply, peer).await,
                None => continue,
            },
            Verdict::Drop => continue,
        };
        if let Err(error) = sent {
            tracing::debug!(%peer, %error, "dns answer not sent");
        }
    }
}

fn transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused
            | ConnectionReset
            | Interrupted
            | WouldBlock
            | TimedOut
            | HostUnreachable
            | NetworkUnreachable
    )
}

/// Accepts TCP connections until `shutdown`, then closes them all.
async fn tcp_listener(
    listener: TcpListener,
    authority: Arc<Authority>,
    transfers: Arc<TransferPolicy>,
    shutdown: nubo_host::Shutdown,
) -> std::io::Result<()> {
    let mut connections = JoinSet::new();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut cancelled => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!(%error, "dns tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if connections.len() >= TCP_CONNECTIONS {
            tracing::debug!(%peer, "dns tcp connection refused: too many open");
            continue;
        }
        let allowed = transfers.allows(peer.ip());
        connections.spawn(tcp_connection(stream, authority.clone(), allowed));
    }
    connections.shutdown().await;
    Ok(())
}

/// One TCP connection: length-prefixed queries (RFC 1035 §4.2.2) answered
/// in order, until the client closes or stays idle too long.
async fn tcp_connection(mut stream: TcpStream, authority: Arc<Authority>, transfers_allowed: bool) {
    // Each response is one write; no need to wait for more to send.
    let _ = stream.set_nodelay(true);
    let mut query = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(4096);
    loop {
        let mut prefix = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut prefix)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let length = usize::from(u16::from_be_bytes(prefix));
        query.resize(length, 0);
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut query)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        if transfers_allowed && is_transfer(&query) {
            if send_transfer(&mut stream, &authority, &query).await.is_err() {
                return;
            }
            continue;
        }
        response.clear();
        response.extend_from_slice(&[0, 0]);
        if !authority.answer_into(&query, Transport::Tcp, &mut response) {
            continue;
        }
        let answer_length = u16::try_from(response.len() - 2).unwrap_or(u16::MAX);
        response[..2].copy_from_slice(&answer_length.to_be_bytes());
        if write_within(&mut stream, &response).await.is_err() {
            return;
        }
    }
}

/// Whether a query asks for AXFR or IXFR: one question whose type, the
/// two octets after its name, is 252 or 251.
fn is_transfer(query: &[u8]) -> bool {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return false;
    }
    let mut at = 12;
    while let Some(&length) = query.get(at) {
        if length == 0 {
            return matches!(query.get(at + 1..at + 3), Some([0, 252] | [0, 251]));
        }
        if length & 0xc0 != 0 {
            return false;
        }
        at += 1 + usize::from(length);
    }
    false
}

/// Writes a zone transfer: every message of it, or REFUSED when nubo does
/// not serve the zone asked for (RFC 5936 §2.2.1 leaves NOTAUTH or REFUSED
/// to the server; NSD answers REFUSED).
async fn send_transfer(stream: &mut TcpStream, authority: &Authority, query: &[u8]) -> std::io::Result<()> {
    let Ok(request) = Message::from_vec(query) else { return Ok(()) };
    let zone = request.queries.first().and_then(|question| {
        let apex = super::snapshot::wire_name(&question.name().to_ascii())?;
        let snapshot = authority.snapshot();
        snapshot.zone_at(&apex).cloned()
    });
    let messages = match zone.map(|zone| transfer::transfer_messages(&zone, &request)) {
        Some(Ok(messages)) => messages,
        Some(Err(error)) => {
            tracing::warn!(%error, "a zone transfer could not be written");
            vec![refusal(&request)]
        }
        None => vec![refusal(&request)],
    };
    for message in messages {
        // A message that cannot be written ends the transfer, and the
        // connection: a secondary must never take a zone with a gap.
        let bytes = message.to_vec().map_err(std::io::Error::other)?;
        let length = u16::try_from(bytes.len()).map_err(std::io::Error::other)?;
        write_within(stream, &length.to_be_bytes()).await?;
        write_within(stream, &bytes).await?;
    }
    Ok(())
}

fn refusal(request: &Message) -> Message {
    let mut message = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    message.metadata.response_code = hickory_proto::op::ResponseCode::Refused;
    message.add_queries(request.queries.iter().cloned());
    message
}

/// Writes `bytes`, or fails if the client has not taken them within
/// [`TCP_IDLE`]: a client that sends queries and never reads must not hold
/// a connection slot for ever.
async fn write_within(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(TCP_IDLE, stream.write_all(bytes)).await {
        Ok(written) => written,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client stopped reading")),
    }
}
