//! Cross-origin requests (`--rpccorsdomain`, Raiden's flag).
//!
//! The API can move funds, so a web page may call it only from an origin the operator
//! allowed. A request with an `Origin` header that matches gets
//! `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`; a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin gets 204 with
//! the allowed methods and headers; a request or preflight from any other origin is
//! refused with 403. Requests without `Origin` (curl, scripts) are not cross-origin and
//! pass. warp's own `cors()` takes exact origins only, hence this module.

use std::fmt;
use std::str::FromStr;

use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

/// Default `--rpccorsdomain`: pages served from `localhost` on any port.
pub const DEFAULT_CORS_DOMAINS: &str = "http://localhost:*";
/// Methods a cross-origin page may use (`Access-Control-Allow-Methods`).
pub const ALLOWED_METHODS: &str = "GET, PUT, DELETE, POST";
/// Request headers a cross-origin page may send (`Access-Control-Allow-Headers`).
pub const ALLOWED_HEADERS: &str = "Content-Type, Authorization";
/// How long a browser may cache a preflight's answer, seconds.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;
/// Origins longer than this never match (a real origin is far shorter).
const MAX_ORIGIN_LEN: usize = 512;

/// The origins allowed to call the API from a browser.
///
/// Each entry is an origin, `scheme://host[:port]`, in which `*` stands for one host
/// label or a port: a non-empty run of letters, digits and `-` (so `http://localhost:*`
/// matches `http://localhost:3000` but not `http://localhost:3000.evil.example`, and
/// `https://*.example.com` matches `https://app.example.com`). An entry `*` alone allows
/// every origin. Matching ignores ASCII case.
#[derive(Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// The policy of a comma-separated list of origin patterns (`--rpccorsdomain`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for entry in list.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(
                    "empty origin in the list; write origins such as http://localhost:*,https://app.example.com"
                        .into(),
                );
            }
            if entry.chars().any(char::is_whitespace) {
                return Err(format!("'{entry}' contains whitespace"));
            }
            if entry != "*" && !entry.contains("://") {
                return Err(format!(
                    "'{entry}' is not an origin; write scheme://host[:port], e.g. http://localhost:*"
                ));
            }
            if entry.ends_with('/') {
                return Err(format!(
                    "'{entry}' ends with '/'; an origin has no path: write {}",
                    entry.trim_end_matches('/')
                ));
            }
            origins.push(entry.to_owned());
        }
        Ok(Self { origins })
    }

    /// The allowed origin patterns, as given.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether a page from `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        origin.len() <= MAX_ORIGIN_LEN
            && self
                .origins
                .iter()
                .any(|pattern| pattern == "*" || matches(pattern.as_bytes(), origin.as_bytes()))
    }
}

impl Default for CorsPolicy {
    fn default() -> Self {
        Self {
            origins: vec![DEFAULT_CORS_DOMAINS.to_owned()],
        }
    }
}

impl FromStr for CorsPolicy {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

impl fmt::Debug for CorsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorsPolicy({})", self.origins.join(","))
    }
}

/// A byte that `*` may stand for: part of a host label or a port.
fn is_label(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// Whether `text` matches `pattern`, where each `*` stands for a non-empty run of label
/// bytes. A set-of-states automaton: linear in `text` for a given pattern, whatever a
/// client puts in its `Origin` header.
fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // states[i]: the text read so far matches pattern[..i].
    let mut states = vec![false; pattern.len() + 1];
    states[0] = true;
    for &byte in text {
        let mut next = vec![false; pattern.len() + 1];
        for (i, _) in states.iter().enumerate().filter(|(_, on)| **on) {
            if let Some(&wanted) = pattern.get(i) {
                let step = if wanted == b'*' {
                    is_label(byte)
                } else {
                    wanted.eq_ignore_ascii_case(&byte)
                };
                if step {
                    next[i + 1] = true;
                }
            }
            // Inside a `*` that has already taken a byte: it may take more.
            if i > 0 && pattern[i - 1] == b'*' && is_label(byte) {
                next[i] = true;
            }
        }
        if !next.iter().any(|on| *on) {
            return false;
        }
        states = next;
    }
    states[pattern.len()]
}

/// The answer to a preflight from the allowed `origin`: 204 with what a page may do.
pub fn preflight(origin: &str) -> Response {
    let mut response = Response::default();
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
    );
    allow_origin(&mut response, Some(origin));
    response
}

/// Adds `Access-Control-Allow-Origin: <origin>` and `Vary: Origin` to the answer to a
/// request from the allowed `origin` (nothing when there is none).
pub fn allow_origin(response: &mut Response, origin: Option<&str>) {
    let Some(value) = origin.and_then(|origin| HeaderValue::from_str(origin).ok()) else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &warp::http::Method, headers: &HeaderMap) -> bool {
    method == warp::http::Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allows_localhost_on_any_port_only() {
        let policy = CorsPolicy::default();
        assert!(policy.allows("http://localhost:3000"));
        assert!(policy.allows("HTTP://LOCALHOST:8080"));
        assert!(!policy.allows("http://localhost"));
        assert!(!policy.allows("https://localhost:3000"));
        assert!(!policy.allows("http://localhost:3000.evil.example"));
        assert!(!policy.allows("http://localhost:3000/"));
        assert!(!policy.allows("http://evil.example"));
        assert!(!policy.allows("null"));
    }

    #[test]
    fn lists_wildcards_and_errors() {
        let policy: CorsPolicy = "https://app.example.com, https://*.example.org:*"
            .parse()
            .unwrap();
        assert!(policy.allows("https://app.example.com"));
        assert!(!policy.allows("https://app.example.com:444"));
        assert!(policy.allows("https://a-b.example.org:8443"));
        assert!(!policy.allows("https://a.b.example.org:8443"));
        assert!(!policy.allows("https://.example.org:8443"));
        assert!(CorsPolicy::parse("*")
            .unwrap()
            .allows("https://anything.example"));
        for bad in [
            "",
            "http://a,,http://b",
            "localhost:3000",
            "http://a/",
            "http://a b",
        ] {
            assert!(CorsPolicy::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_long_hostile_origin_is_refused_quickly() {
        let policy = CorsPolicy::parse("http://*-*-*-*-*-*:*").unwrap();
        let origin = format!("http://{}", "a-".repeat(200));
        assert!(!policy.allows(&origin));
        assert!(!policy.allows(&format!("http://{}", "a".repeat(2000))));
    }
}
