//! The `Host` names the API answers (`--api-hosts`), against DNS rebinding.
//!
//! A page on `evil.example` can point its own name at 127.0.0.1 once the browser has
//! loaded it; the browser then sends the page's requests to our node as same-origin
//! requests, with no `Origin` to refuse, and lets the page read the answers. What such a
//! request cannot hide is the name it was sent to: its `Host` header says
//! `evil.example`. So the API answers only requests whose `Host` names it: by default
//! `localhost`, `127.0.0.1`, `[::1]` and the host of `--api-address`; any other name is
//! refused with 403 before CORS, the token or any route. geth does the same with
//! `--http.vhosts`.
//!
//! Only the name counts, not the port: rebinding keeps the port, so the port adds no
//! protection, and tunnels and proxies change it.
//!
//! A request **without** `Host` passes. Browsers always send one (a page cannot remove
//! it), so such a request is never a rebinding attack; it comes from HTTP/1.0 tools and
//! scripts, which the bearer token (`--api-token-file`) is there for. When the request
//! line carries an absolute URI (`GET http://name/… HTTP/1.1`), its authority is the
//! host that counts (RFC 9112 §3.2.2), and it is checked the same way.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use warp::http::{header, HeaderMap};

use super::error::{clip, ApiError};

/// The names every default `--api-hosts` list holds, besides the `--api-address` host.
pub const DEFAULT_API_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The host names the API answers.
#[derive(Clone, PartialEq, Eq)]
pub struct HostPolicy {
    /// `*`: any name.
    any: bool,
    /// Lower-case names, IPv6 addresses in brackets, without ports.
    names: Vec<String>,
}

impl HostPolicy {
    /// The default for an API listening on `address`: [`DEFAULT_API_HOSTS`] and the
    /// address's own host (e.g. `192.168.1.10` for `--api-address 192.168.1.10:5001`; an
    /// unspecified address such as `0.0.0.0` is no name anyone sends and adds nothing).
    pub fn default_for(address: SocketAddr) -> Self {
        let mut names: Vec<String> = DEFAULT_API_HOSTS.iter().map(|s| s.to_string()).collect();
        if !address.ip().is_unspecified() {
            let own = match address {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            };
            if !names.contains(&own) {
                names.push(own);
            }
        }
        Self { any: false, names }
    }

    /// The policy of a comma-separated list of host names (`--api-hosts`): names such as
    /// `node.example.com`, IPv4 addresses, IPv6 addresses in brackets, or `*` for any.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut policy = Self {
            any: false,
            names: Vec::new(),
        };
        for entry in list.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(
                    "empty host name in the list; write names such as localhost,node.example.com"
                        .into(),
                );
            }
            if entry == "*" {
                policy.any = true;
                continue;
            }
            if entry.contains("://") || entry.contains('/') {
                return Err(format!(
                    "'{entry}' is not a host name; write the name alone, e.g. node.example.com"
                ));
            }
            let Some((name, has_port)) = split_host(entry) else {
                return Err(format!(
                    "'{entry}' is not a host name; write a name, an IPv4 address or an IPv6 address in brackets"
                ));
            };
            if has_port {
                return Err(format!(
                    "'{entry}' has a port; --api-hosts matches names only, write '{name}'"
                ));
            }
            policy.names.push(name);
        }
        Ok(policy)
    }

    /// Whether every host name is allowed (`*`).
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// The allowed names, normalised (lower case, no port).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether a request sent to `host` (a `Host` header value or a URI authority, with
    /// or without a port) may be answered.
    pub fn allows(&self, host: &str) -> bool {
        self.any || host_name(host).is_some_and(|name| self.names.contains(&name))
    }

    /// Passes a request whose host (see the module docs) is allowed or absent; 403
    /// naming `--api-hosts` otherwise.
    pub fn check(&self, host: &RequestHost) -> Result<(), ApiError> {
        match host {
            _ if self.any => Ok(()),
            RequestHost::Absent => Ok(()),
            RequestHost::Named(name) if self.allows(name) => Ok(()),
            RequestHost::Named(name) | RequestHost::Malformed(name) => {
                Err(ApiError::HostNotAllowed(clip(name)))
            }
        }
    }
}

/// The host a request was sent to, as [`HostPolicy::check`] judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestHost {
    /// Neither a `Host` header nor an absolute URI (HTTP/1.0 tools): passes.
    Absent,
    /// The authority of the absolute URI, else of the `Host` header.
    Named(String),
    /// A `Host` header that is no authority, or that names another host than the
    /// absolute URI: refused unless any host is allowed.
    Malformed(String),
}

impl RequestHost {
    /// The host of a request, from what [`warp::host::optional`] made of it (`Err` when
    /// it refused the request's host) and the raw `Host` header.
    pub fn of(authority: Result<Option<warp::host::Authority>, ()>, headers: &HeaderMap) -> Self {
        match authority {
            Ok(Some(authority)) => Self::Named(authority.as_str().to_owned()),
            Ok(None) => Self::Absent,
            Err(()) => Self::Malformed(
                headers
                    .get(header::HOST)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

impl FromStr for HostPolicy {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

impl fmt::Debug for HostPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            write!(f, "HostPolicy(*)")
        } else {
            write!(f, "HostPolicy({})", self.names.join(","))
        }
    }
}

/// The name part of `host` (`name`, `name:port`, `[v6]` or `[v6]:port`): lower case,
/// without the port and a final dot, IPv6 addresses in their canonical form; `None` if
/// it is not a well-formed host.
fn host_name(host: &str) -> Option<String> {
    split_host(host).map(|(name, _)| name)
}

/// [`host_name`], and whether `host` had a port.
fn split_host(host: &str) -> Option<(String, bool)> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (address, port) = rest.split_once(']')?;
        let address = address.parse::<std::net::Ipv6Addr>().ok()?;
        (format!("[{address}]"), port)
    } else {
        let (name, port) = match host.find(':') {
            Some(colon) => host.split_at(colon),
            None => (host, ""),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return None;
        }
        (name.to_ascii_lowercase(), port)
    };
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    Some((name, !port.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &HostPolicy, host: Option<&str>) -> Result<(), ApiError> {
        let host = host.map_or(RequestHost::Absent, |host| {
            RequestHost::Named(host.to_owned())
        });
        policy.check(&host)
    }

    #[test]
    fn the_default_allows_loopback_names_and_the_api_host_on_any_port() {
        let policy = HostPolicy::default_for("192.168.1.10:5001".parse().unwrap());
        for good in [
            "localhost",
            "localhost:5001",
            "LOCALHOST:80",
            "localhost.",
            "127.0.0.1:5001",
            "[::1]:5001",
            "[::1]",
            "192.168.1.10:5001",
        ] {
            assert!(policy.allows(good), "{good}");
        }
        for bad in [
            "evil.example",
            "evil.example:5001",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "127.0.0.2",
            "localhost:abc",
            "localhost:",
            "[::1",
            "",
            "local host",
        ] {
            assert!(!policy.allows(bad), "{bad}");
        }
        let wildcard = HostPolicy::default_for("0.0.0.0:5001".parse().unwrap());
        assert_eq!(wildcard.names(), DEFAULT_API_HOSTS);
        let v6 = HostPolicy::default_for("[fe80::1]:5001".parse().unwrap());
        assert!(v6.allows("[FE80::1]:5001"));
    }

    #[test]
    fn a_refused_host_is_403_naming_the_flag_and_a_missing_host_passes() {
        let policy = HostPolicy::default_for("127.0.0.1:5001".parse().unwrap());
        assert!(check(&policy, Some("localhost:5001")).is_ok());
        assert!(check(&policy, None).is_ok());
        let error = check(&policy, Some("evil.example:5001")).unwrap_err();
        assert_eq!(error.status(), warp::http::StatusCode::FORBIDDEN);
        let message = error.to_string();
        assert!(message.contains("evil.example:5001"), "{message}");
        assert!(message.contains("--api-hosts"), "{message}");
        // A Host that warp cannot read, or one that differs from the absolute URI's, is
        // refused even when its text is an allowed name.
        let malformed = RequestHost::Malformed("localhost".into());
        assert!(policy.check(&malformed).is_err());
        assert!(HostPolicy::parse("*").unwrap().check(&malformed).is_ok());
        // A long name is echoed clipped.
        let long = format!("{}.example", "a".repeat(5000));
        let message = check(&policy, Some(&long)).unwrap_err().to_string();
        assert!(message.len() < 300, "{} bytes", message.len());
    }

    #[test]
    fn lists_wildcards_and_errors() {
        let policy = HostPolicy::parse("node.example.com, 10.0.0.1,[::1]").unwrap();
        assert!(policy.allows("NODE.example.com:443"));
        assert!(policy.allows("10.0.0.1:5001"));
        assert!(policy.allows("[::1]:5001"));
        assert!(!policy.allows("localhost"));
        assert!(!policy.allows_any());
        let any = HostPolicy::parse("*").unwrap();
        assert!(any.allows_any() && any.allows("evil.example"));
        assert!(check(&any, Some("evil.example")).is_ok());
        for bad in [
            "",
            "a,,b",
            "http://node.example",
            "node.example:5001",
            "node/x",
            "[zz]",
            "a b",
        ] {
            assert!(HostPolicy::parse(bad).is_err(), "{bad:?}");
        }
    }
}
