//! The REST API (SPEC §2), on warp.
//!
//! One function per route returns a filter; handlers live in `handlers`, body parsing in
//! `body`, and the mapping of every failure to a status code in `error`. Each route
//! matches its path before its method, so that a known path with the wrong method is 405
//! and an unknown path is 404.

pub mod body;
pub mod error;
mod handlers;
pub mod models;

use std::convert::Infallible;
use std::future::Future;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::chain::Chain;
use crate::node::Node;
use error::respond;

/// Default listen address of the API.
pub const DEFAULT_API_ADDRESS: &str = "127.0.0.1:5001";

fn with_node<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Node<C>,), Error = Infallible> + Clone {
    warp::any().map(move || node.clone())
}

/// `GET /api/v1/connections`.
pub fn connections_get<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "connections")
        .and(warp::get())
        .and(with_node(node))
        .and_then(|node| async move { respond(handlers::connections(node).await) })
}

/// `PUT /api/v1/connections/<token>`.
pub fn connection_put<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "connections" / String)
        .and(warp::put())
        .and(body::limited())
        .and(with_node(node))
        .and_then(
            |token, body, node| async move { respond(handlers::join(token, body, node).await) },
        )
}

/// `DELETE /api/v1/connections/<token>`.
pub fn connection_delete<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "connections" / String)
        .and(warp::delete())
        .and(with_node(node))
        .and_then(|token, node| async move { respond(handlers::leave(token, node).await) })
}

/// `GET /api/v1/address`, `/version` and `/status`.
pub fn node_info<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let address = warp::path!("api" / "v1" / "address")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(|node| async move { respond(handlers::our_address(node).await) });
    let version = warp::path!("api" / "v1" / "version")
        .and(warp::get())
        .and_then(|| async move { respond(handlers::version().await) });
    let status = warp::path!("api" / "v1" / "status")
        .and(warp::get())
        .and(with_node(node))
        .and_then(|node| async move { respond(handlers::status(node).await) });
    address.or(version).unify().or(status).unify()
}

/// The token endpoints: list, register, look up, partners.
pub fn tokens<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("api" / "v1" / "tokens")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(|node| async move { respond(handlers::tokens(node).await) });
    let register = warp::path!("api" / "v1" / "tokens" / String)
        .and(warp::put())
        .and(with_node(node.clone()))
        .and_then(
            |token, node| async move { respond(handlers::register_token(token, node).await) },
        );
    let lookup = warp::path!("api" / "v1" / "tokens" / String)
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(|token, node| async move { respond(handlers::token_network(token, node).await) });
    let partners = warp::path!("api" / "v1" / "tokens" / String / "partners")
        .and(warp::get())
        .and(with_node(node))
        .and_then(|token, node| async move { respond(handlers::partners(token, node).await) });
    list.or(register)
        .unify()
        .or(lookup)
        .unify()
        .or(partners)
        .unify()
}

/// The channel endpoints.
pub fn channels<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let all = warp::path!("api" / "v1" / "channels")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(|node| async move { respond(handlers::channels(None, node).await) });
    let of_token = warp::path!("api" / "v1" / "channels" / String)
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(
            |token, node| async move { respond(handlers::channels(Some(token), node).await) },
        );
    let one = warp::path!("api" / "v1" / "channels" / String / String)
        .and(warp::get())
        .and(with_node(node))
        .and_then(|token, partner, node| async move {
            respond(handlers::channel(token, partner, node).await)
        });
    all.or(of_token).unify().or(one).unify()
}

/// `POST /api/v1/_testing/tokens/<token>/mint`.
pub fn mint<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "_testing" / "tokens" / String / "mint")
        .and(warp::post())
        .and(body::limited())
        .and(with_node(node))
        .and_then(
            |token, body, node| async move { respond(handlers::mint(token, body, node).await) },
        )
}

/// The whole API: every route, error bodies for every rejection, a span per request.
pub fn routes<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    connections_get(node.clone())
        .or(connection_put(node.clone()))
        .unify()
        .or(connection_delete(node.clone()))
        .unify()
        .or(node_info(node.clone()))
        .unify()
        .or(tokens(node.clone()))
        .unify()
        .or(channels(node.clone()))
        .unify()
        .or(mint(node))
        .unify()
        .recover(error::recover)
        .unify()
        .with(warp::trace::request())
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve<C: Chain>(
    node: Node<C>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    warp::serve(routes(node))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}
