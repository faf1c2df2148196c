//! Bearer-token authentication (`--api-token-file`): with a token set, every request
//! but a CORS preflight must carry `Authorization: Bearer <token>`, else 401.
//!
//! The token is compared in constant time, through its Keccak-256 digest, so that
//! neither its content nor its length leaks through response times.

use std::fmt;
use std::path::Path;

use alloy_primitives::{keccak256, B256};
use subtle::ConstantTimeEq;
use warp::http::HeaderValue;

use super::error::ApiError;

/// The shortest API token `--api-token-file` takes, in bytes: a shorter one can be found
/// by trying (16 random hex digits are 64 bits already).
pub const MIN_TOKEN_FILE_BYTES: usize = 16;

/// The API's token. Its `Debug` form never shows it, and only its digest is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    digest: B256,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl ApiToken {
    /// The token `text`, without surrounding whitespace; refused if nothing is left.
    pub fn new(text: &str) -> Result<Self, String> {
        let token = text.trim();
        if token.is_empty() {
            return Err("the API token is empty".into());
        }
        Ok(Self {
            digest: keccak256(token.as_bytes()),
        })
    }

    /// The token held in `path` (its content, trimmed), at least
    /// [`MIN_TOKEN_FILE_BYTES`] long; a warning if group or others can read the file. The
    /// messages say what is wrong with the file and name `--api-token-file` (clap adds
    /// the flag too, when it parses it).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the API token file {} (--api-token-file): {e}",
                path.display()
            )
        })?;
        let token = Self::new(&text).map_err(|_| {
            format!(
                "the API token file {} (--api-token-file) is empty; put a secret token in it",
                path.display()
            )
        })?;
        let length = text.trim().len();
        if length < MIN_TOKEN_FILE_BYTES {
            return Err(format!(
                "the API token in {} (--api-token-file) is {length} bytes, too short to stay secret; use at least {MIN_TOKEN_FILE_BYTES}, e.g. `openssl rand -hex 32 > {}`",
                path.display(),
                path.display()
            ));
        }
        crate::secret_file::warn_if_exposed(path, "API token file");
        Ok(token)
    }

    /// `--api-token-file FILE`, for clap.
    pub fn parse_file_flag(text: &str) -> Result<Self, String> {
        Self::from_file(Path::new(text))
    }

    /// Whether `authorization` (the request's `Authorization` header) carries this
    /// token as `Bearer <token>`; 401 with a message saying what is missing otherwise.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), ApiError> {
        let Some(value) = authorization else {
            return Err(ApiError::Unauthorized(
                "Missing API token: send the header 'Authorization: Bearer <token>' with the token of --api-token-file".into(),
            ));
        };
        let presented = bearer(value.as_bytes()).ok_or_else(|| {
            ApiError::Unauthorized("The Authorization header must be 'Bearer <token>'".into())
        })?;
        let matches: bool = keccak256(presented)
            .as_slice()
            .ct_eq(self.digest.as_slice())
            .into();
        if matches {
            Ok(())
        } else {
            Err(ApiError::Unauthorized("Invalid API token".into()))
        }
    }
}

/// The credentials of a `Bearer` authorization (scheme case-insensitive, RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let credentials = value[SCHEME.len()..].trim_ascii();
    (!credentials.is_empty()).then_some(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let token = ApiToken::new("  s3cret\n").unwrap();
        assert!(token.check(Some(&header("Bearer s3cret"))).is_ok());
        assert!(token.check(Some(&header("bearer   s3cret"))).is_ok());
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            let error = token.check(Some(&header(wrong))).unwrap_err();
            assert!(matches!(error, ApiError::Unauthorized(_)), "{wrong}");
        }
        let missing = token.check(None).unwrap_err().to_string();
        assert!(missing.contains("Authorization: Bearer"), "{missing}");
    }

    #[test]
    fn empty_or_missing_token_files_are_refused_naming_the_file() {
        assert!(ApiToken::new(" \n\t").is_err());
        let dir = std::env::temp_dir().join(format!("tokennet-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let error = ApiToken::from_file(&empty).unwrap_err();
        assert!(
            error.contains("is empty") && error.contains(&empty.display().to_string()),
            "{error}"
        );
        let error = ApiToken::from_file(&dir.join("absent")).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
        let short = dir.join("short");
        std::fs::write(&short, "x\n").unwrap();
        let error = ApiToken::from_file(&short).unwrap_err();
        assert!(
            error.contains("1 bytes")
                && error.contains("--api-token-file")
                && error.contains(&short.display().to_string()),
            "{error}"
        );
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdef\n").unwrap();
        assert_eq!(
            ApiToken::from_file(&good).unwrap(),
            ApiToken::new("0123456789abcdef").unwrap()
        );
        assert_eq!(
            format!("{:?}", ApiToken::new("tok").unwrap()),
            "ApiToken(<redacted>)"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
