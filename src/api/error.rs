//! The one place where failures become HTTP status codes and `{"errors": "…"}` bodies.

use std::convert::Infallible;
use std::time::Duration;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};
use warp::Rejection;

use crate::chain::ChainError;
use crate::node::NodeError;
use crate::types::AddressParseError;

/// Why a request failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// An address in the path is not an EIP-55 address.
    #[error("{0}")]
    InvalidAddress(#[from] AddressParseError),
    /// The body is missing, not JSON, or has wrong or out-of-range fields.
    #[error("{0}")]
    InvalidInput(String),
    /// The route or the resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("Method not allowed on this resource")]
    MethodNotAllowed,
    /// The body is over the limit.
    #[error("Request body is larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// The API requires a bearer token (`--api-token-file`) and the request carries none
    /// or a wrong one.
    #[error("{0}")]
    Unauthorized(String),
    /// The request's `Origin` is not one that `--rpccorsdomain` allows (the origin as
    /// echoed, [`clip`]ped).
    #[error("Origin {0} is not allowed; allow it with --rpccorsdomain")]
    OriginNotAllowed(String),
    /// The request's `Host` is not one that `--api-hosts` allows (DNS rebinding; the
    /// host as echoed, [`clip`]ped).
    #[error("Host {0} is not allowed; allow it with --api-hosts")]
    HostNotAllowed(String),
    /// The client did not send the whole body in time.
    #[error("The request body was not received within {}", humantime::format_duration(*.0))]
    BodyTimeout(Duration),
    /// A read did not answer in time: the chain (or the node's view of it) is stuck.
    #[error("The chain did not answer within {}; try again shortly", humantime::format_duration(*.0))]
    ReadTimeout(Duration),
    /// The node refused or failed.
    #[error("{0}")]
    Node(#[from] NodeError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The status code of this failure (SPEC §2.7).
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidAddress(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidInput(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::OriginNotAllowed(_) | ApiError::HostNotAllowed(_) => StatusCode::FORBIDDEN,
            // A client too slow to send its body: the request timed out (RFC 9110 §15.5.9).
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // The client did nothing wrong; the node cannot answer now: try again.
            ApiError::ReadTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Node(error) => match error {
                NodeError::UnregisteredToken { .. }
                | NodeError::AlreadyRegistered { .. }
                | NodeError::InsufficientTokenBalance { .. } => StatusCode::CONFLICT,
                NodeError::GasReserve { .. } => StatusCode::PAYMENT_REQUIRED,
                NodeError::NoSuchChannel { .. }
                | NodeError::NoTokenNetwork { .. }
                | NodeError::NotJoined { .. } => StatusCode::NOT_FOUND,
                // The chain is not the one the node started on, or cannot be reached:
                // nothing the client did; try again once it is back.
                NodeError::Syncing { .. }
                | NodeError::ShuttingDown
                | NodeError::WrongChain { .. } => StatusCode::SERVICE_UNAVAILABLE,
                // No answer of the chain within --tx-timeout (SPEC §2.7).
                NodeError::ChainSilent { .. } | NodeError::NotSeen { .. } => {
                    StatusCode::REQUEST_TIMEOUT
                }
                NodeError::Store(_) | NodeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                NodeError::Chain(chain) => match chain {
                    ChainError::InsufficientEth { .. } => StatusCode::PAYMENT_REQUIRED,
                    ChainError::NotMined { .. } => StatusCode::REQUEST_TIMEOUT,
                    ChainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    // SPEC §2.3 step 6, §2.4 step 4: a failure other than a timeout
                    // or lack of ETH is a 500 naming the cause (here the broken rule).
                    ChainError::Reverted { .. }
                    | ChainError::Dropped { .. }
                    | ChainError::Rpc(_) => StatusCode::INTERNAL_SERVER_ERROR,
                },
            },
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let challenge = matches!(self, ApiError::Unauthorized(_));
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request refused");
        }
        // The variants clip what they echo of the request; this bounds the rest, so that
        // no error answer grows with what a client sends.
        let message = clip_to(&self.to_string(), MAX_MESSAGE_CHARS);
        let body = warp::reply::json(&serde_json::json!({ "errors": message }));
        let mut response = warp::reply::with_status(body, status).into_response();
        if challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// How many characters of a client's input an error message echoes (then `…`).
pub const MAX_ECHO_CHARS: usize = 64;
/// How long an error message may be at most (then `…`): the bound behind [`clip`] for
/// messages that echo input without it.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// `input` (a header, a field name) as an error message may echo it: its first
/// [`MAX_ECHO_CHARS`] characters, then `…` if there were more. A client that sends 100 KB
/// must not get 100 KB back.
pub fn clip(input: &str) -> String {
    clip_to(input, MAX_ECHO_CHARS)
}

fn clip_to(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Turns a handler's result into a response.
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Result<Response, Infallible> {
    Ok(match result {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    })
}

/// Turns warp's own rejections (no route, wrong method, body too large) into error
/// bodies, so that no error is ever an empty or plain-text answer.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::NotFound("No such resource".into())
    } else if let Some(too_large) = rejection.find::<BodyTooLarge>() {
        ApiError::PayloadTooLarge(too_large.0)
    } else if let Some(too_slow) = rejection.find::<BodyTooSlow>() {
        ApiError::BodyTimeout(too_slow.0)
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(super::body::MAX_BODY_BYTES)
    } else {
        ApiError::Internal(format!("Unhandled request: {rejection:?}"))
    };
    Ok(error.into_response())
}

/// A body over the limit (a rejection, since the body filter runs before the handler).
#[derive(Debug)]
pub struct BodyTooLarge(pub u64);

impl warp::reject::Reject for BodyTooLarge {}

/// A body not received within the limit (a rejection, like [`BodyTooLarge`]).
#[derive(Debug)]
pub struct BodyTooSlow(pub Duration);

impl warp::reject::Reject for BodyTooSlow {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain misbehaving (hardening issue, item 8): another chain or one that cannot
    /// be reached is 503, a chain silent for --tx-timeout is 408; never 500.
    #[test]
    fn a_misbehaving_chain_is_503_or_408() {
        let timeout = Duration::from_secs(5);
        for (error, status) in [
            (
                NodeError::WrongChain {
                    expected: "chain 1".into(),
                    found: "chain 2".into(),
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                NodeError::Chain(ChainError::Unavailable("connection refused".into())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                NodeError::ChainSilent {
                    what: "join",
                    timeout,
                },
                StatusCode::REQUEST_TIMEOUT,
            ),
            (
                NodeError::NotSeen { block: 7, timeout },
                StatusCode::REQUEST_TIMEOUT,
            ),
        ] {
            assert_eq!(ApiError::Node(error.clone()).status(), status, "{error}");
        }
    }

    #[test]
    fn echoes_are_clipped_at_64_characters_and_messages_at_512() {
        assert_eq!(clip("short"), "short");
        let exact = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(100_000);
        assert_eq!(clip(&long), format!("{}…", "é".repeat(MAX_ECHO_CHARS)));
        let message = clip_to(&"x".repeat(100_000), MAX_MESSAGE_CHARS);
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
