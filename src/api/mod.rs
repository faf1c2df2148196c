//! The REST API (SPEC §2), on warp.
//!
//! One function per route returns a filter; handlers live in `handlers`, body parsing in
//! `body`, and the mapping of every failure to a status code in `error`. Each route
//! matches its path before its method, so that a known path with the wrong method is 405
//! and an unknown path is 404.
//!
//! [`routes`] is the bare API. [`app`] puts in front of it what a node holding real funds
//! needs: the `Host` names of `--api-hosts` ([`hosts`], against DNS rebinding), the CORS
//! policy of `--rpccorsdomain` ([`cors`]) and the bearer token of `--api-token-file`
//! ([`auth`]).
//! [`serve_with`] serves [`app`] with read timeouts, a cap on connections
//! (`--api-max-connections`) and a shutdown that answers every request in flight (503
//! for those that outlast the grace period). The document of it all is `docs/openapi.json`, served at
//! `GET /api/v1/openapi.json` and kept equal to the server by `tests/openapi.rs`.

pub mod auth;
pub mod body;
pub mod cors;
pub mod decisions;
pub mod error;
mod handlers;
pub mod hosts;
pub mod models;
mod server;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use warp::http::{header, HeaderMap, Method};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use crate::chain::Chain;
use crate::node::Node;
use auth::ApiToken;
use cors::CorsPolicy;
use error::{respond, ApiError};
use hosts::{HostPolicy, RequestHost};

/// Default listen address of the API.
pub const DEFAULT_API_ADDRESS: &str = "127.0.0.1:5001";
/// Default time a client has to send a request's headers (the connection is closed
/// after that; it also closes idle keep-alive connections).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on a GET: past it the answer is 503 (the chain did not answer in time).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time requests in flight get to finish once a shutdown begins.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Default cap on concurrent API connections (`--api-max-connections`); the cap in use
/// is lower when the descriptor limit needs it (see `server`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// The OpenAPI 3 document of the API (`docs/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

/// Every route of the API, as `(method, path)` with OpenAPI path templates: the list
/// `docs/openapi.json` must document exactly (checked both ways by `tests/openapi.rs`,
/// which also checks that the server routes each one). A route added to [`routes`]
/// goes here and into the document.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/connections"),
    ("PUT", "/api/v1/connections/{token_address}"),
    ("DELETE", "/api/v1/connections/{token_address}"),
    ("GET", "/api/v1/connections/{token_address}"),
    ("POST", "/api/v1/connections/{token_address}/plan"),
    ("GET", "/api/v1/address"),
    ("GET", "/api/v1/version"),
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/tokens"),
    ("PUT", "/api/v1/tokens/{token_address}"),
    ("GET", "/api/v1/tokens/{token_address}"),
    ("GET", "/api/v1/tokens/{token_address}/partners"),
    ("GET", "/api/v1/channels"),
    ("GET", "/api/v1/channels/{token_address}"),
    ("GET", "/api/v1/channels/{token_address}/{partner_address}"),
    ("POST", "/api/v1/_testing/tokens/{token_address}/mint"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/connections/{token_address}/decisions"),
];

/// How the API is served: who may call it and how long it waits for them.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// With a token, every request but a CORS preflight must carry
    /// `Authorization: Bearer <token>`, else 401 (`--api-token-file`).
    pub token: Option<ApiToken>,
    /// The origins a browser page may call the API from (`--rpccorsdomain`).
    pub cors: CorsPolicy,
    /// The `Host` names the API answers (`--api-hosts`); others get 403.
    pub hosts: HostPolicy,
    /// At most this many connections at once (`--api-max-connections`), and fewer if the
    /// process's descriptor limit needs it.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; the connection is closed after.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in; 408 after.
    pub body_read_timeout: Duration,
    /// Bound on each GET; 503 after (the chain did not answer in time).
    pub read_timeout: Duration,
    /// Time requests in flight get to finish once a shutdown begins; longer ones (joins
    /// and leaves that wait for the chain) are cut, and the node resumes them later.
    pub shutdown_grace: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            token: None,
            cors: CorsPolicy::default(),
            hosts: HostPolicy::default_for(SocketAddr::from(([127, 0, 0, 1], 5001))),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: body::DEFAULT_BODY_READ_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// The warning for an API address that other machines can reach, `None` for a loopback
/// address.
pub fn exposure_warning(address: SocketAddr) -> Option<String> {
    if address.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "The REST API listens on {address}, which is reachable from other machines.\n\
         Whoever reaches it can move this node's funds: join and leave token networks,\n\
         deposit tokens and close channels.\n\
         Protect it: require a token with --api-token-file FILE, and let only trusted\n\
         hosts through a firewall (or keep the default 127.0.0.1 and use an SSH tunnel)."
    ))
}

/// Logs [`exposure_warning`] loudly (a warning per line) and prints it to stderr.
pub fn warn_if_exposed(address: SocketAddr) {
    if let Some(warning) = exposure_warning(address) {
        for line in warning.lines() {
            tracing::warn!("{line}");
        }
        eprintln!("\nWARNING: {}\n", warning.replace('\n', "\nWARNING: "));
    }
}

/// The warnings for policies that let any web page in: `--rpccorsdomain '*'` (any page
/// may call the API, mint and join) and `--api-hosts '*'` on an API other machines reach
/// (DNS rebinding is then possible from any page).
pub fn open_policy_warnings(address: SocketAddr, config: &ApiConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.cors.origins().iter().any(|origin| origin == "*") {
        warnings.push(
            "--rpccorsdomain '*' lets a web page on any origin call this API from a\n\
             visitor's browser: mint, join and leave token networks with this node's funds.\n\
             List the origins of your own pages instead, e.g. --rpccorsdomain https://app.example.com"
                .to_string(),
        );
    }
    if config.hosts.allows_any() && !address.ip().is_loopback() {
        warnings.push(format!(
            "--api-hosts '*' on {address}: the API answers requests sent under any host name,\n\
             so a web page can reach it through DNS rebinding and read or move this node's funds.\n\
             List the names clients use instead, e.g. --api-hosts node.example.com"
        ));
    }
    warnings
}

/// Logs [`open_policy_warnings`] loudly (a warning per line) and prints them to stderr.
pub fn warn_if_open(address: SocketAddr, config: &ApiConfig) {
    for warning in open_policy_warnings(address, config) {
        for line in warning.lines() {
            tracing::warn!("{line}");
        }
        eprintln!("\nWARNING: {}\n", warning.replace('\n', "\nWARNING: "));
    }
}

fn with_node<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (Node<C>,), Error = Infallible> + Clone {
    warp::any().map(move || node.clone())
}

/// A GET's work, bounded by `limit`: past it, 503 saying the chain did not answer in time.
async fn bounded<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(ApiError::ReadTimeout(limit)))
}

/// `GET /api/v1/connections`.
pub fn connections_get<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    warp::path!("api" / "v1" / "connections")
        .and(warp::get())
        .and(with_node(node))
        .and_then(
            move |node| async move { respond(bounded(limit, handlers::connections(node)).await) },
        )
}

/// `PUT /api/v1/connections/<token>`.
pub fn connection_put<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "connections" / String)
        .and(warp::put())
        .and(body::limited_within(config.body_read_timeout))
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

/// tokennet's own connection endpoints (SPEC §2.8): `GET /api/v1/connections/<token>`
/// and `POST /api/v1/connections/<token>/plan`. Both answer from the node's current view
/// without waiting for a join or leave in progress, bounded like every read.
pub fn connection_reads<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    let one = warp::path!("api" / "v1" / "connections" / String)
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(move |token, node| async move {
            respond(bounded(limit, handlers::connection(token, node)).await)
        });
    let plan = warp::path!("api" / "v1" / "connections" / String / "plan")
        .and(warp::post())
        .and(body::limited_within(config.body_read_timeout))
        .and(with_node(node))
        .and_then(move |token, body, node| async move {
            respond(bounded(limit, handlers::plan(token, body, node)).await)
        });
    one.or(plan).unify()
}

/// `GET /api/v1/address`, `/version`, `/status` and `/openapi.json`.
pub fn node_info<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    let address = warp::path!("api" / "v1" / "address")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(
            move |node| async move { respond(bounded(limit, handlers::our_address(node)).await) },
        );
    let version = warp::path!("api" / "v1" / "version")
        .and(warp::get())
        .and_then(|| async move { respond(handlers::version().await) });
    let status = warp::path!("api" / "v1" / "status")
        .and(warp::get())
        .and(with_node(node))
        .and_then(move |node| async move { respond(bounded(limit, handlers::status(node)).await) });
    let openapi = warp::path!("api" / "v1" / "openapi.json")
        .and(warp::get())
        .and_then(|| async move { respond(handlers::openapi().await) });
    address
        .or(version)
        .unify()
        .or(status)
        .unify()
        .or(openapi)
        .unify()
}

/// The token endpoints: list, register, look up, partners.
pub fn tokens<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    let list = warp::path!("api" / "v1" / "tokens")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(move |node| async move { respond(bounded(limit, handlers::tokens(node)).await) });
    let register = warp::path!("api" / "v1" / "tokens" / String)
        .and(warp::put())
        .and(with_node(node.clone()))
        .and_then(
            |token, node| async move { respond(handlers::register_token(token, node).await) },
        );
    let lookup = warp::path!("api" / "v1" / "tokens" / String)
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(move |token, node| async move {
            respond(bounded(limit, handlers::token_network(token, node)).await)
        });
    let partners = warp::path!("api" / "v1" / "tokens" / String / "partners")
        .and(warp::get())
        .and(with_node(node))
        .and_then(move |token, node| async move {
            respond(bounded(limit, handlers::partners(token, node)).await)
        });
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
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let limit = config.read_timeout;
    let all = warp::path!("api" / "v1" / "channels")
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(move |node| async move {
            respond(bounded(limit, handlers::channels(None, node)).await)
        });
    let of_token = warp::path!("api" / "v1" / "channels" / String)
        .and(warp::get())
        .and(with_node(node.clone()))
        .and_then(move |token, node| async move {
            respond(bounded(limit, handlers::channels(Some(token), node)).await)
        });
    let one = warp::path!("api" / "v1" / "channels" / String / String)
        .and(warp::get())
        .and(with_node(node))
        .and_then(move |token, partner, node| async move {
            respond(bounded(limit, handlers::channel(token, partner, node)).await)
        });
    all.or(of_token).unify().or(one).unify()
}

/// `POST /api/v1/_testing/tokens/<token>/mint`.
pub fn mint<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "_testing" / "tokens" / String / "mint")
        .and(warp::post())
        .and(body::limited_within(config.body_read_timeout))
        .and(with_node(node))
        .and_then(
            |token, body, node| async move { respond(handlers::mint(token, body, node).await) },
        )
}

/// Whether the concrete `path` is an instance of the [`ROUTES`] `template`.
fn instance_of(template: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    let matched = template.split('/').all(|part| {
        segments.next().is_some_and(|segment| {
            if part.starts_with('{') && part.ends_with('}') {
                !segment.is_empty()
            } else {
                part == segment
            }
        })
    });
    matched && segments.next().is_none()
}

/// The methods [`ROUTES`] has for the concrete `path`, as an `Allow` header lists them.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|(_, template)| instance_of(template, path))
        .map(|(method, _)| *method)
        .collect()
}

/// A 405 lists the methods of the path in `Allow` (RFC 9110 §15.5.6).
fn with_allow(path: warp::path::FullPath, mut response: Response) -> Response {
    if response.status() == warp::http::StatusCode::METHOD_NOT_ALLOWED {
        let methods = allowed_methods(path.as_str()).join(", ");
        if let Ok(value) = header::HeaderValue::from_str(&methods) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
}

/// Every route of [`ROUTES`], with error bodies for every rejection.
fn endpoints<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let routes = connections_get(node.clone(), config)
        .or(connection_put(node.clone(), config))
        .unify()
        .or(connection_delete(node.clone()))
        .unify()
        .or(connection_reads(node.clone(), config))
        .unify()
        .or(node_info(node.clone(), config))
        .unify()
        .or(tokens(node.clone(), config))
        .unify()
        .or(channels(node.clone(), config))
        .unify()
        .or(mint(node.clone(), config))
        .unify()
        .or(decisions::route(node, config))
        .unify()
        .recover(error::recover)
        .unify();
    warp::path::full().and(routes).map(with_allow)
}

/// The whole API without authentication or CORS checks: every route, error bodies for
/// every rejection, a span per request. For in-memory tests; a server uses [`app`].
pub fn routes<C: Chain>(
    node: Node<C>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    endpoints(node, &ApiConfig::default()).with(warp::trace::request())
}

/// What a request may do before it reaches a route.
#[derive(Debug)]
struct Gate {
    token: Option<ApiToken>,
    cors: CorsPolicy,
    hosts: HostPolicy,
}

/// A request answered before it reaches a route.
#[derive(Debug)]
struct Stopped {
    /// The request's origin, when it is allowed (echoed in the answer).
    origin: Option<String>,
    /// A refusal, or `None` for a preflight from an allowed origin.
    refusal: Option<ApiError>,
}

impl warp::reject::Reject for Stopped {}

impl Gate {
    /// The allowed origin of the request (if it has one), or the answer that stops it:
    /// 403 for a host or an origin the policies do not allow, 204 for a preflight from
    /// an allowed one, 401 for a missing or wrong token (SPEC: the host first, since a
    /// rebinding page sends no `Origin`; CORS before the token, and a preflight needs no
    /// token).
    fn check(
        &self,
        method: &Method,
        host: &RequestHost,
        headers: &HeaderMap,
    ) -> Result<Option<String>, Stopped> {
        if let Err(refusal) = self.hosts.check(host) {
            return Err(Stopped {
                origin: None,
                refusal: Some(refusal),
            });
        }
        let origin = match headers.get(header::ORIGIN) {
            None => None,
            Some(value) => {
                let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
                if !self.cors.allows(&text) {
                    return Err(Stopped {
                        origin: None,
                        refusal: Some(ApiError::OriginNotAllowed(error::clip(&text))),
                    });
                }
                Some(text)
            }
        };
        if cors::is_preflight(method, headers) {
            return Err(Stopped {
                origin,
                refusal: None,
            });
        }
        if let Some(token) = &self.token {
            if let Err(refusal) = token.check(headers.get(header::AUTHORIZATION)) {
                return Err(Stopped {
                    origin,
                    refusal: Some(refusal),
                });
            }
        }
        Ok(origin)
    }
}

/// The answer to a request the gate stopped.
async fn stopped(rejection: Rejection) -> Result<Response, Infallible> {
    let Some(stopped) = rejection.find::<Stopped>() else {
        // Every route is behind `recover`, so only the gate rejects.
        return Ok(ApiError::Internal(format!("Unhandled request: {rejection:?}")).into_response());
    };
    let mut response = match (&stopped.refusal, &stopped.origin) {
        (None, Some(origin)) => return Ok(cors::preflight(origin)),
        (Some(refusal), _) => refusal.clone().into_response(),
        (None, None) => ApiError::Internal("preflight without an origin".into()).into_response(),
    };
    cors::allow_origin(&mut response, stopped.origin.as_deref());
    Ok(response)
}

/// The API as served: [`routes`] behind the CORS policy and the token of `config`, with
/// the body and read timeouts of `config`.
pub fn app<C: Chain>(
    node: Node<C>,
    config: &ApiConfig,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let gate = Arc::new(Gate {
        token: config.token.clone(),
        cors: config.cors.clone(),
        hosts: config.hosts.clone(),
    });
    // warp refuses a malformed `Host` (or one that contradicts the URI) with a
    // rejection; that is kept as `Err` so that the host policy answers it with 403.
    let authority = warp::host::optional()
        .map(Ok::<_, ()>)
        .or(warp::any().map(|| Err::<Option<warp::host::Authority>, ()>(())))
        .unify();
    warp::method()
        .and(authority)
        .and(warp::header::headers_cloned())
        .and_then(move |method: Method, authority, headers: HeaderMap| {
            let host = RequestHost::of(authority, &headers);
            let checked = gate.check(&method, &host, &headers);
            async move { checked.map_err(warp::reject::custom) }
        })
        .and(endpoints(node, config))
        .map(|origin: Option<String>, mut response: Response| {
            cors::allow_origin(&mut response, origin.as_deref());
            response
        })
        .recover(stopped)
        .unify()
        .with(warp::trace::request())
        .map(Reply::into_response)
}

/// Serves the API on `listener` with the default [`ApiConfig`] until `shutdown`
/// completes.
pub async fn serve<C: Chain>(
    node: Node<C>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_with(node, listener, ApiConfig::default(), shutdown).await;
}

/// Serves [`app`] on `listener` until `shutdown` completes; then closes the listener,
/// gives requests in flight [`ApiConfig::shutdown_grace`] and answers those still running
/// 503 (their work goes on in the node, which resumes it after a restart). Clients that
/// send their headers slower than [`ApiConfig::header_read_timeout`] are cut off; at
/// most [`ApiConfig::max_connections`] connections are open at once. The caller tells
/// the node to take no new work when `shutdown` completes ([`Node::begin_shutdown`]) and
/// stops it once this returns ([`Node::shutdown`]), so that the state database closes
/// only after every request has its answer.
pub async fn serve_with<C: Chain>(
    node: Node<C>,
    listener: TcpListener,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    server::run(app(node, &config), listener, &config, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_get_that_gets_no_answer_is_503_after_the_read_timeout() {
        let limit = Duration::from_secs(10);
        let stuck = bounded::<()>(limit, std::future::pending()).await;
        let error = stuck.unwrap_err();
        assert_eq!(error.status(), warp::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            error.to_string(),
            "The chain did not answer within 10s; try again shortly"
        );
        assert_eq!(bounded(limit, async { Ok(7) }).await.unwrap(), 7);
    }

    #[test]
    fn a_405_lists_the_methods_of_its_path() {
        assert_eq!(
            allowed_methods("/api/v1/connections/0xabc"),
            ["PUT", "DELETE", "GET"]
        );
        assert_eq!(allowed_methods("/api/v1/tokens/0xabc"), ["PUT", "GET"]);
        assert_eq!(allowed_methods("/api/v1/channels/a/b"), ["GET"]);
        assert!(allowed_methods("/api/v1/channels/a/b/c").is_empty());
        assert!(allowed_methods("/api/v1/connections/").is_empty());
    }

    #[test]
    fn only_a_loopback_api_address_is_quiet() {
        for quiet in ["127.0.0.1:5001", "[::1]:5001", "127.0.0.2:80"] {
            assert_eq!(exposure_warning(quiet.parse().unwrap()), None, "{quiet}");
        }
        for loud in ["0.0.0.0:5001", "[::]:5001", "192.168.1.10:5001"] {
            let warning = exposure_warning(loud.parse().unwrap()).unwrap();
            assert!(warning.lines().count() >= 3, "{warning}");
            assert!(warning.contains("move this node's funds"), "{warning}");
            assert!(warning.contains("--api-token-file"), "{warning}");
            assert!(warning.contains("firewall"), "{warning}");
        }
    }

    #[test]
    fn open_policies_are_warned_about() {
        let config = ApiConfig::default();
        let loopback: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let exposed: SocketAddr = "0.0.0.0:5001".parse().unwrap();
        assert!(open_policy_warnings(exposed, &config).is_empty());
        let any_origin = ApiConfig {
            cors: CorsPolicy::parse("*").unwrap(),
            ..ApiConfig::default()
        };
        let warnings = open_policy_warnings(loopback, &any_origin);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("--rpccorsdomain '*'"), "{warnings:?}");
        let any_host = ApiConfig {
            hosts: HostPolicy::parse("*").unwrap(),
            ..ApiConfig::default()
        };
        assert!(open_policy_warnings(loopback, &any_host).is_empty());
        let warnings = open_policy_warnings(exposed, &any_host);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("DNS rebinding"), "{warnings:?}");
    }

    #[test]
    fn the_routes_list_has_no_duplicates_and_the_document_is_json() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert(route), "{route:?} twice");
        }
        let document: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
