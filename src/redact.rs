//! Credentials out of RPC URLs before they are shown: in the start banner, in error
//! messages and in log lines.
//!
//! An endpoint such as `https://user:pass@mainnet.infura.io/v3/<project key>` carries its
//! credentials in the URL itself: the userinfo, and an API key in the path (Infura,
//! Alchemy, QuickNode) or in the query (`?apikey=…`). Messages name the endpoint so that
//! its owner can tell which one failed; its host, port and short path segments do that
//! without the secrets.

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// A path segment or query value at least this long, of letters, digits, `-` and `_`
/// only, is taken for an API key: provider keys are 32 hex or alphanumeric characters
/// and more, while the paths around them (`v3`, `v2`, `rpc`, `mainnet`) are short.
pub const MIN_SECRET_LEN: usize = 16;

/// Query parameters whose value is a secret whatever its length.
const SECRET_QUERY_KEYS: &[&str] = &[
    "key",
    "apikey",
    "api_key",
    "api-key",
    "token",
    "access_token",
    "auth",
    "secret",
    "password",
];

/// Whether `text` looks like an API key: [`MIN_SECRET_LEN`] or more of letters, digits,
/// `-` and `_`.
fn looks_secret(text: &str) -> bool {
    text.len() >= MIN_SECRET_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `url` with its credentials replaced by [`REDACTED`]: the userinfo (`user:pass@`), and
/// every path segment and query value that looks like an API key (or is the value of a
/// parameter such as `apikey` or `token`). The scheme, host, port, the other segments and
/// the fragment are kept. Works on text that is not a valid URL too: without `://` the
/// text up to the first `/`, `?` or `#` is taken for the host part.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    // The last `@` ends the userinfo: a password may itself hold an unescaped `@`.
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let (before_fragment, fragment) = match rest.find('#') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (path, query) = match before_fragment.find('?') {
        Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
        None => (before_fragment, None),
    };
    let path = path
        .split('/')
        .map(|segment| {
            if looks_secret(segment) {
                REDACTED
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let query = query.map(|query| {
        let pairs = query.split('&').map(|pair| match pair.split_once('=') {
            Some((key, value))
                if !value.is_empty()
                    && (looks_secret(value)
                        || SECRET_QUERY_KEYS
                            .iter()
                            .any(|secret| key.eq_ignore_ascii_case(secret))) =>
            {
                format!("{key}={REDACTED}")
            }
            None if looks_secret(pair) => REDACTED.to_string(),
            _ => pair.to_string(),
        });
        format!("?{}", pairs.collect::<Vec<_>>().join("&"))
    });
    format!(
        "{scheme}{host}{path}{}{fragment}",
        query.unwrap_or_default()
    )
}

/// Characters that end a URL inside a message: whitespace, quotes, brackets around it
/// (reqwest writes "for url (http://…)"), and a comma.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '(' | ')' | ',')
}

/// `text` with every URL in it (`scheme://…`, up to a space, a quote or a bracket)
/// passed through [`redact_url`]; the rest of the text unchanged. For messages built
/// from other libraries' errors, which name the URL they failed on.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at + 3..]
            .find(ends_url)
            .map_or(rest.len(), |i| at + 3 + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFURA_KEY: &str = "9aa3d95b3bc440fa88ea12eaa4456161";
    const ALCHEMY_KEY: &str = "Xy7_kP2-qLm9ZrT4vWn8sB1cD3eF5gH6";

    #[test]
    fn the_userinfo_is_redacted_and_the_host_kept() {
        assert_eq!(
            redact_url("http://user:SECRET@example.org:8545/"),
            "http://***@example.org:8545/"
        );
        assert_eq!(
            redact_url("https://token@example.org"),
            "https://***@example.org"
        );
        // An unescaped `@` in the password: everything up to the last one goes.
        assert_eq!(
            redact_url("http://user:p@ss@host/rpc"),
            "http://***@host/rpc"
        );
    }

    #[test]
    fn provider_keys_in_the_path_or_query_are_redacted() {
        assert_eq!(
            redact_url(&format!("https://mainnet.infura.io/v3/{INFURA_KEY}")),
            "https://mainnet.infura.io/v3/***"
        );
        assert_eq!(
            redact_url(&format!(
                "https://eth-mainnet.g.alchemy.com/v2/{ALCHEMY_KEY}"
            )),
            "https://eth-mainnet.g.alchemy.com/v2/***"
        );
        assert_eq!(
            redact_url(&format!(
                "https://rpc.example.org/eth?network=mainnet&x={INFURA_KEY}&apikey=short#top"
            )),
            "https://rpc.example.org/eth?network=mainnet&x=***&apikey=***#top"
        );
        assert_eq!(
            redact_url(&format!("http://u:p@h/v3/{INFURA_KEY}?{ALCHEMY_KEY}")),
            "http://***@h/v3/***?***"
        );
    }

    #[test]
    fn harmless_urls_are_kept_whole() {
        for url in [
            "http://127.0.0.1:8545",
            "http://127.0.0.1:8545/",
            "https://rpc.example.org/v3/mainnet?chain=1&debug=",
            "http://[::1]:8545/rpc",
            "ws://localhost:8546/short-segment",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn malformed_urls_lose_their_secrets_too() {
        assert_eq!(redact_url("user:SECRET@host:8545"), "***@host:8545");
        assert_eq!(redact_url("http://user:SECRET@"), "http://***@");
        assert_eq!(
            redact_url(&format!("localhost/v3/{INFURA_KEY}")),
            "localhost/v3/***"
        );
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("://"), "://");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_messages_are_redacted_and_the_rest_kept() {
        let message = format!(
            "error sending request for url (http://user:SECRET@127.0.0.1:1/v3/{INFURA_KEY}): connection refused"
        );
        assert_eq!(
            redact_urls_in(&message),
            "error sending request for url (http://***@127.0.0.1:1/v3/***): connection refused"
        );
        let two = format!("from https://a:b@x/{INFURA_KEY}, then \"wss://y/?key=k\".");
        assert_eq!(
            redact_urls_in(&two),
            "from https://***@x/***, then \"wss://y/?key=***\"."
        );
        for plain in [
            "no url at all",
            "",
            "ratio 3:// odd",
            "insufficient funds for gas * price + value",
        ] {
            assert_eq!(redact_urls_in(plain), plain);
        }
    }
}
