//! An environment's network: a namespace of its own whose loopback holds
//! only what nubo puts there, the environment's Runtime API on
//! `127.0.0.1:9001` (where Lambda puts it) and relays to nubo's public
//! endpoints. The internal gRPC plane, other environments' Runtime APIs and
//! every other port of the host are out of reach.
//!
//! nubo makes the namespace on a short-lived thread of its own (a network
//! namespace belongs to a thread), binds the listeners there, and keeps the
//! namespace's file; the environment joins it through that file before it
//! runs any of the function's code, so the listeners exist before the
//! runtime first connects.

#![allow(unsafe_code)]

use std::{
    io,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    os::fd::{AsRawFd, OwnedFd},
};

/// Where the Runtime API listens inside an environment, as on Lambda.
pub const RUNTIME_API_PORT: u16 = 9001;

/// A namespace with its listeners, bound and not yet served.
#[derive(Debug)]
pub struct Namespace {
    /// Keeps the namespace alive; the environment opens it through
    /// `/proc/<nubo>/fd/<fd>`.
    pub file: OwnedFd,
    pub runtime_api: TcpListener,
    /// Listeners on the loopback of the namespace, each with the address
    /// outside it that it relays to.
    pub relays: Vec<(TcpListener, SocketAddr)>,
}

impl Namespace {
    /// Makes a namespace with the Runtime API listener and one relay per
    /// entry of `relays` (a port inside, the address it reaches outside).
    pub fn new(relays: &[(u16, SocketAddr)]) -> io::Result<Self> {
        let relays = relays.to_vec();
        std::thread::Builder::new()
            .name("nubo-netns".into())
            .spawn(move || {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                loopback_up()?;
                let file: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")?.into();
                let runtime_api = TcpListener::bind((Ipv4Addr::LOCALHOST, RUNTIME_API_PORT))?;
                let relays = relays
                    .into_iter()
                    .map(|(port, target)| Ok((TcpListener::bind((Ipv4Addr::LOCALHOST, port))?, target)))
                    .collect::<io::Result<_>>()?;
                Ok(Self { file, runtime_api, relays })
            })?
            .join()
            .map_err(|_| io::Error::other("the namespace thread panicked"))?
    }

    /// The path through which a child of this process opens the namespace.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.file.as_raw_fd())
    }
}

/// Brings up `lo` in the calling thread's network namespace. A new
/// namespace starts with it down, and without it 127.0.0.1 cannot be
/// bound. There is no safe wrapper of `SIOCSIFFLAGS`; this is its one use.
fn loopback_up() -> io::Result<()> {
    use nix::{
        libc,
        sys::socket::{AddressFamily, SockFlag, SockType, socket},
    };
    let socket = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    // SAFETY: `ifreq` is plain data, for which all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    request.ifr_name[0] = b'l' as libc::c_char;
    request.ifr_name[1] = b'o' as libc::c_char;
    request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads one `ifreq`, which outlives the call, on
    // a socket this function owns.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) };
    if result < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Relays every connection accepted on `listener` to `target`, until the
/// task is aborted.
pub async fn relay(listener: TcpListener, target: SocketAddr) {
    let Ok(listener) = listener.set_nonblocking(true).and_then(|()| tokio::net::TcpListener::from_std(listener)) else {
        return;
    };
    loop {
        let Ok((mut inside, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let Ok(mut outside) = tokio::net::TcpStream::connect(target).await else { return };
            let _ = inside.set_nodelay(true);
            let _ = outside.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
        });
    }
}
