//! The HTTP server under the API: hyper's HTTP/1 connections with a header read timeout,
//! a cap on connections, and a shutdown that answers every request in flight.
//!
//! warp's own server cannot time out a client that sends its headers slowly, caps
//! nothing, and its graceful shutdown waits for every request in flight — a join or a
//! leave can take minutes (SPEC §2.3–2.4).
//!
//! **Connections.** At most [`ApiConfig::max_connections`] are open at once, fewer when
//! the process's descriptor limit (`RLIMIT_NOFILE`, read at start) would not leave room
//! for the node's own descriptors — the state database, RPC connections, pipes — beyond
//! them. Idle sockets must never spend the descriptors the node's work needs. At the cap,
//! the connection accepted longest ago that has not sent a request yet is closed to make
//! room for the next; when every open connection has sent one, new connections wait in
//! the listen backlog until one ends. (At most one socket beyond the cap is open, while
//! the one closed for it goes.) Why evict rather than only wait: idle sockets are
//! free for an attacker and each holds its slot for the header read timeout, so with
//! waiting alone a flood of them delays every real client by that long; a real client
//! sends its request as soon as it has connected, so it is not the one evicted.
//!
//! **Shutdown.** Once the shutdown future completes, the listener is closed, idle
//! connections are closed, and requests in flight get [`ApiConfig::shutdown_grace`] to
//! finish with their real answer. Those still running after that are answered 503 ("the
//! node is shutting down") — never a dropped connection; their work goes on in the node
//! until it stops, and the node journals it and resumes it after a restart.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use warp::reply::{Reply, Response};
use warp::Filter;

use super::error::ApiError;
use super::ApiConfig;
use crate::node::NodeError;

/// Descriptors kept free beyond those open when the server starts, for what the node
/// opens later: SQLite's temporary files, connections to the chain's RPC endpoint,
/// pipes of child processes, and the odd connection accepted beyond the cap while a
/// slot changes hands.
pub const DESCRIPTOR_HEADROOM: u64 = 64;
/// The cap never goes below this, however low the descriptor limit: an API that takes
/// a handful of connections still beats one that takes none.
const MIN_CONNECTIONS: usize = 8;
/// How long the 503 answers to requests cut by a shutdown get to be written.
const CUT_ANSWER_LIMIT: Duration = Duration::from_secs(1);

/// The connection cap in use: `configured`, lowered so that the descriptors open now,
/// [`DESCRIPTOR_HEADROOM`] and the connections stay below the soft `RLIMIT_NOFILE`.
pub fn connection_cap(configured: usize, limit: Option<u64>, open_now: u64) -> usize {
    let Some(limit) = limit else {
        return configured;
    };
    let room = limit.saturating_sub(open_now.saturating_add(DESCRIPTOR_HEADROOM));
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    configured.min(room).max(MIN_CONNECTIONS.min(configured))
}

/// The soft limit on open descriptors of this process (`Max open files` of
/// `/proc/self/limits`); `None` when unlimited or unknown (not Linux).
fn descriptor_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Descriptors open in this process now (0 when unknown).
fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|entries| entries.count() as u64)
        .unwrap_or(0)
}

/// Reads the descriptor limit, logs the cap in use, and returns it.
fn cap_in_use(configured: usize) -> usize {
    let limit = descriptor_limit();
    let open_now = open_descriptors();
    let cap = connection_cap(configured, limit, open_now);
    match limit {
        Some(limit) if cap < configured => tracing::warn!(
            "API connection cap {cap}, below --api-max-connections {configured}: the descriptor \
             limit is {limit} ({open_now} open at start, {DESCRIPTOR_HEADROOM} kept for the node); \
             raise it with `ulimit -n` for more"
        ),
        Some(limit) => tracing::info!(
            "API connection cap {cap} (descriptor limit {limit}, {open_now} open at start)"
        ),
        None => tracing::info!("API connection cap {cap} (descriptor limit unknown or unlimited)"),
    }
    cap
}

/// An open connection, as the accept loop sees it.
struct Slot {
    /// Set when the connection has sent its first request.
    requested: Arc<AtomicBool>,
    /// Closes the connection; taken when it is being closed.
    evict: Option<oneshot::Sender<()>>,
}

impl Slot {
    /// Whether it may be closed to make room: no request yet, not already closing.
    fn evictable(&self) -> bool {
        self.evict.is_some() && !self.requested.load(Ordering::SeqCst)
    }
}

/// The connections whose sockets are open, by accept order (oldest first). A slot
/// leaves only when its connection's task has dropped the socket, so that the count is
/// the count of descriptors in use.
#[derive(Default)]
struct Slots {
    next_id: u64,
    open: BTreeMap<u64, Slot>,
}

impl Slots {
    fn lock(slots: &Mutex<Slots>) -> std::sync::MutexGuard<'_, Slots> {
        // Plain map updates that do not panic: the data stay consistent.
        slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether to accept one more connection: below `cap`, or at it with an idle one to
    /// close for it. At most `cap + 1` sockets are ever open; the accept loop waits for
    /// the closed one to be gone before it accepts again.
    fn has_room(&self, cap: usize) -> bool {
        let open = self.open.len();
        open < cap || (open == cap && self.open.values().any(Slot::evictable))
    }

    /// Above `cap`: closes the connection accepted longest ago that has sent no request.
    fn make_room(&mut self, cap: usize) {
        if self.open.len() <= cap {
            return;
        }
        if let Some(slot) = self.open.values_mut().find(|slot| slot.evictable()) {
            if let Some(evict) = slot.evict.take() {
                let _ = evict.send(());
            }
        }
    }
}

/// Removes a connection's slot when its task ends, however it ends.
struct SlotGuard {
    slots: Arc<Mutex<Slots>>,
    id: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        Slots::lock(&self.slots).open.remove(&self.id);
    }
}

/// The answer to a request still running when the grace period ends.
fn shutting_down() -> Response {
    ApiError::Node(NodeError::ShuttingDown).into_response()
}

/// Serves `filter` on `listener` until `shutdown` completes (see the module docs).
pub(crate) async fn run<F>(
    filter: F,
    listener: TcpListener,
    config: &ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let cap = cap_in_use(config.max_connections);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = GracefulShutdown::new();
    // Turns true when the grace period is over: requests still running answer 503.
    let (cut, cut_seen) = watch::channel(false);
    let slots = Arc::new(Mutex::new(Slots::default()));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let room = Slots::lock(&slots).has_room(cap);
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so that the set does not grow; a connection that
            // ends also frees a slot, so the loop checks for room again.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if room => match accepted {
                Ok((stream, peer)) => {
                    let requested = Arc::new(AtomicBool::new(false));
                    let (evict, evicted) = oneshot::channel();
                    let guard = {
                        let mut open = Slots::lock(&slots);
                        let id = open.next_id;
                        open.next_id += 1;
                        open.open.insert(id, Slot { requested: Arc::clone(&requested), evict: Some(evict) });
                        open.make_room(cap);
                        SlotGuard { slots: Arc::clone(&slots), id }
                    };
                    let warp_service = TowerToHyperService::new(warp::service(filter.clone()));
                    let cut_seen = cut_seen.clone();
                    let service = hyper::service::service_fn(move |request| {
                        requested.store(true, Ordering::SeqCst);
                        let answer = hyper::service::Service::call(&warp_service, request);
                        let mut cut_seen = cut_seen.clone();
                        async move {
                            tokio::select! {
                                answer = answer => answer,
                                _ = cut_seen.wait_for(|cut| *cut) => Ok(shutting_down()),
                            }
                        }
                    });
                    let connection = graceful
                        .watch(builder.serve_connection(TokioIo::new(stream), service));
                    connections.spawn(async move {
                        let _slot = guard;
                        tokio::select! {
                            ended = connection => if let Err(error) = ended {
                                // Header timeouts, resets, malformed requests: the client's
                                // business, not an operator's.
                                tracing::debug!(%peer, %error, "connection ended with an error");
                            },
                            _ = evicted => {
                                tracing::debug!(%peer, "idle connection closed to make room (--api-max-connections)");
                            }
                        }
                    });
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(%error, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let in_flight = connections.len();
    let mut closed = std::pin::pin!(graceful.shutdown());
    if tokio::time::timeout(config.shutdown_grace, &mut closed)
        .await
        .is_err()
    {
        tracing::info!(
            connections = connections.len(),
            "API requests still running after {}; answering them 503 (the node resumes their work after a restart)",
            humantime::format_duration(config.shutdown_grace)
        );
        let _ = cut.send(true);
        if tokio::time::timeout(CUT_ANSWER_LIMIT, &mut closed)
            .await
            .is_err()
        {
            tracing::debug!("some clients did not take their 503 in time; closing");
        }
    } else if in_flight > 0 {
        tracing::debug!(in_flight, "API connections closed");
    }
    connections.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_below_the_descriptor_limit() {
        assert_eq!(connection_cap(1000, None, 20), 1000);
        assert_eq!(connection_cap(1000, Some(1_048_576), 20), 1000);
        assert_eq!(connection_cap(1000, Some(1024), 20), 1024 - 20 - 64);
        assert_eq!(connection_cap(1000, Some(256), 30), 256 - 30 - 64);
        assert_eq!(connection_cap(1000, Some(50), 30), MIN_CONNECTIONS);
        assert_eq!(connection_cap(3, Some(50), 30), 3);
    }

    #[test]
    fn at_the_cap_the_oldest_connection_without_a_request_makes_room() {
        let mut slots = Slots::default();
        let mut evicted = Vec::new();
        for id in 0..4 {
            let (evict, seen) = oneshot::channel();
            let requested = Arc::new(AtomicBool::new(id == 0));
            slots.open.insert(
                id,
                Slot {
                    requested,
                    evict: Some(evict),
                },
            );
            evicted.push(seen);
        }
        assert!(slots.has_room(5));
        assert!(
            slots.has_room(4),
            "at the cap with idle ones: accept one more"
        );
        assert!(
            !slots.has_room(3),
            "above the cap: wait for the closed one to go"
        );
        slots.make_room(3);
        assert!(
            evicted[1].try_recv().is_ok(),
            "the oldest idle one is closed"
        );
        assert!(evicted[0].try_recv().is_err(), "one with a request stays");
        assert!(evicted[2].try_recv().is_err(), "one is enough");
        // Its socket counts until its task has dropped it.
        assert_eq!(slots.open.len(), 4);
        slots.make_room(3);
        assert!(evicted[2].try_recv().is_ok(), "not the one already closing");
        slots.open.remove(&1);
        slots.open.remove(&2);
        slots
            .open
            .get(&3)
            .unwrap()
            .requested
            .store(true, Ordering::SeqCst);
        assert!(!slots.has_room(2), "all busy at the cap: the next waits");
    }
}
