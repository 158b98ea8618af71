//! What one client may hold: the connection caps and the idle deadline (the
//! header deadline is hyper's own, set in [`super::serve`]). The numbers come from
//! `[limits]`; the README's Reliability table lists each with the metric that counts it.
//!
//! - [`ConnectionGate`]: at most `max_connections` connections, and `max_connections_per_client`
//!   from one address (trusted proxies exempt: every visitor behind them shares their address).
//!   A connection past a cap is closed at accept, before a byte is read.
//! - [`IdleIo`]: closes a connection that has no request in flight and has moved no byte for
//!   `idle_timeout`: a client that connects and says nothing, an idle keep-alive or HTTP/2
//!   connection. A request in flight (a slow stats query) is never cut by it.
//!
//! The body deadline is [`crate::http::body::DeadlineBody`], below every handler.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::privacy::client_ip::TrustedProxies;

/// Raises this process's open-files limit to its hard limit (a connection is a file: the soft
/// limit, often 1,024, would cap connections far below `max_connections`). Returns the limit
/// now in force.
pub fn raise_open_files_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Why a connection was closed at accept (the `reason` label of
/// `mesure_connections_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    MaxConnections,
    PerClient,
}

impl Rejected {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rejected::MaxConnections => "max_connections",
            Rejected::PerClient => "per_client",
        }
    }
}

/// Counts open connections, overall and per address. The addresses live only in this map,
/// while their connections are open: never logged, never stored.
pub(crate) struct ConnectionGate {
    max: usize,
    per_client: usize,
    proxies: TrustedProxies,
    open: AtomicUsize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

/// An admitted connection; dropping it frees its place.
pub(crate) struct Admission {
    gate: Arc<ConnectionGate>,
    /// The address counted against the per-client cap (none for a trusted proxy).
    client: Option<IpAddr>,
}

impl ConnectionGate {
    pub(crate) fn new(max: usize, per_client: usize, proxies: TrustedProxies) -> Arc<ConnectionGate> {
        Arc::new(ConnectionGate {
            max,
            per_client,
            proxies,
            open: AtomicUsize::new(0),
            by_client: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a connection from `peer`, or says which cap it would pass.
    pub(crate) fn admit(self: &Arc<Self>, peer: std::net::SocketAddr) -> Result<Admission, Rejected> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejected::MaxConnections);
        }
        let client = (!self.proxies.trusts(peer)).then_some(peer.ip());
        if let Some(address) = client {
            let mut by_client = self.by_client.lock().unwrap_or_else(|e| e.into_inner());
            let count = by_client.entry(address).or_insert(0);
            if *count >= self.per_client {
                drop(by_client);
                self.open.fetch_sub(1, Ordering::AcqRel);
                return Err(Rejected::PerClient);
            }
            *count += 1;
        }
        Ok(Admission { gate: self.clone(), client })
    }

    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(address) = self.client {
            let mut by_client = self.gate.by_client.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = by_client.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    by_client.remove(&address);
                }
            }
        }
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The requests in flight on one connection (HTTP/2 has several).
#[derive(Default)]
pub(crate) struct InFlight(AtomicUsize);

impl InFlight {
    /// Marks a request in flight until the guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }

    fn busy(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

pub(crate) struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's socket that fails with `TimedOut` once idle for `limit` (see the module doc).
pub(crate) struct IdleIo<S> {
    inner: S,
    in_flight: Arc<InFlight>,
    limit: Duration,
    /// When the last byte moved.
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
    /// Set when the deadline closed the connection (for the metric).
    pub(crate) timed_out: bool,
}

impl<S> IdleIo<S> {
    pub(crate) fn new(inner: S, in_flight: Arc<InFlight>, limit: Duration) -> IdleIo<S> {
        let now = Instant::now();
        IdleIo {
            inner,
            in_flight,
            limit,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + limit)),
            timed_out: false,
        }
    }

    /// Whether the deadline has passed (re-arming the timer otherwise, so the task wakes at the
    /// next deadline).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline =
                if self.in_flight.busy() { Instant::now() + self.limit } else { self.last_activity + self.limit };
            if deadline <= Instant::now() {
                self.timed_out = true;
                return true;
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle past limits.idle_timeout")
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.last_activity = Instant::now();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                self.last_activity = Instant::now();
                Poll::Ready(Ok(n))
            }
            // A client that stops reading our answer is idle too.
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                self.last_activity = Instant::now();
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max: usize, per_client: usize) -> Arc<ConnectionGate> {
        let proxies = TrustedProxies::new(vec!["10.0.0.1/32".parse().unwrap()]);
        ConnectionGate::new(max, per_client, proxies)
    }

    #[test]
    fn caps_overall_and_per_client_and_frees_on_drop() {
        let gate = gate(3, 2);
        let (a, b, proxy) =
            ("192.0.2.1:1000".parse().unwrap(), "192.0.2.2:1000".parse().unwrap(), "10.0.0.1:1000".parse().unwrap());
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Rejected::PerClient));
        let _third = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).err(), Some(Rejected::MaxConnections));
        assert_eq!(gate.open(), 3);
        drop(first);
        assert_eq!(gate.open(), 2);
        // A trusted proxy carries many visitors: only the overall cap applies to it.
        let _proxied = gate.admit(proxy).unwrap();
        assert_eq!(gate.admit(proxy).err(), Some(Rejected::MaxConnections));
        assert!(gate.by_client.lock().unwrap().get(&proxy.ip()).is_none());
    }
}
