//! The HTTP server under the API: hyper's HTTP/1 connections with a header read timeout,
//! and a shutdown that does not wait for long requests.
//!
//! warp's own server cannot time out a client that sends its headers slowly, and its
//! graceful shutdown waits for every request in flight — a join or a leave can take
//! minutes (SPEC §2.3–2.4). Here, once the shutdown future completes, the listener is
//! closed, idle connections are closed, requests in flight get [`ApiConfig::shutdown_grace`]
//! to finish, and whatever is still running after that is cut. The node journals its
//! work and resumes it after a restart.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use warp::reply::Response;
use warp::Filter;

use super::ApiConfig;

/// Serves `filter` on `listener` until `shutdown` completes (see the module docs).
pub(crate) async fn run<F>(
    filter: F,
    listener: TcpListener,
    config: &ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so that the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let service = TowerToHyperService::new(warp::service(filter.clone()));
                    let connection = graceful
                        .watch(builder.serve_connection(TokioIo::new(stream), service));
                    connections.spawn(async move {
                        if let Err(error) = connection.await {
                            // Header timeouts, resets, malformed requests: the client's
                            // business, not an operator's.
                            tracing::debug!(%peer, %error, "connection ended with an error");
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
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            connections = connections.len(),
            "API requests still running after {}; cutting them (the node resumes their work after a restart)",
            humantime::format_duration(config.shutdown_grace)
        );
    } else if in_flight > 0 {
        tracing::debug!(in_flight, "API connections closed");
    }
    connections.shutdown().await;
}
