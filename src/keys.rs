//! Loading the node's key: a private-key file (development chains) or a JSON keystore
//! with its password file. Keys and passwords are never logged; a file that group or
//! others can read is used with a warning ([`crate::secret_file::warn_if_exposed`]).

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The file does not hold a private key.
    #[error("{path} does not hold a hex private key")]
    NotAKey {
        /// The file.
        path: String,
    },
    /// No keystore for the address.
    #[error("no keystore for {address} in {dir}")]
    NoKeystore {
        /// The address.
        address: String,
        /// The directory.
        dir: String,
    },
    /// The keystore could not be decrypted.
    #[error("cannot decrypt {path}: {message}")]
    Decrypt {
        /// The keystore.
        path: String,
        /// Why (a wrong password, usually).
        message: String,
    },
}

/// The content of the secret file `path` (`what` names it in the warning).
fn read(path: &Path, what: &str) -> Result<String, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Unreadable {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    crate::secret_file::warn_if_exposed(path, what);
    Ok(text)
}

/// A signer from a file holding a hex private key (with or without `0x`).
pub fn from_private_key_file(path: &Path) -> Result<PrivateKeySigner, KeyError> {
    read(path, "private key file")?
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| KeyError::NotAKey {
            path: path.display().to_string(),
        })
}

fn decrypt(path: &Path, password: &str) -> Result<PrivateKeySigner, KeyError> {
    crate::secret_file::warn_if_exposed(path, "keystore file");
    PrivateKeySigner::decrypt_keystore(path, password.trim_end_matches(['\n', '\r'])).map_err(|e| {
        KeyError::Decrypt {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    })
}

/// A signer from the keystore of `address` in `dir`, decrypted with the password in
/// `password_file`.
pub fn from_keystore(
    dir: &Path,
    address: &str,
    password_file: &Path,
) -> Result<PrivateKeySigner, KeyError> {
    let wanted = address.trim_start_matches("0x").to_lowercase();
    let password = read(password_file, "password file")?;
    let entries = std::fs::read_dir(dir).map_err(|e| KeyError::Unreadable {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    // Keystores that name their address are matched by it; those that do not (some
    // tools omit it) are tried with the password.
    let mut unnamed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        match json["address"].as_str() {
            Some(named) if named.trim_start_matches("0x").to_lowercase() == wanted => {
                return decrypt(&path, &password);
            }
            Some(_) => {}
            None if json.get("crypto").is_some() || json.get("Crypto").is_some() => {
                unnamed.push(path)
            }
            None => {}
        }
    }
    let mut last_error = None;
    for path in unnamed {
        match decrypt(&path, &password) {
            Ok(signer) if signer.address().to_string().to_lowercase() == format!("0x{wanted}") => {
                return Ok(signer)
            }
            Ok(_) => {}
            Err(error) => last_error = Some(error),
        }
    }
    if let Some(error) = last_error {
        return Err(error);
    }
    Err(KeyError::NoKeystore {
        address: address.to_owned(),
        dir: dir.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keystore_is_found_by_address_and_decrypted_with_its_password() {
        let dir = std::env::temp_dir().join(format!("tokennet-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = rand08::thread_rng();
        let (signer, _) =
            PrivateKeySigner::new_keystore(&dir, &mut rng, "correct horse", Some("key.json"))
                .unwrap();
        let password = dir.join("password");
        std::fs::write(&password, "correct horse\n").unwrap();
        let address = signer.address().to_string();
        let loaded = from_keystore(&dir, &address, &password).unwrap();
        assert_eq!(loaded.address(), signer.address());

        let other = "0x0000000000000000000000000000000000000001";
        assert!(matches!(
            from_keystore(&dir, other, &password),
            Err(KeyError::NoKeystore { .. })
        ));
        std::fs::write(&password, "wrong").unwrap();
        assert!(matches!(
            from_keystore(&dir, &address, &password),
            Err(KeyError::Decrypt { .. })
        ));
        let key_file = dir.join("private-key");
        std::fs::write(&key_file, "not a key").unwrap();
        assert!(matches!(
            from_private_key_file(&key_file),
            Err(KeyError::NotAKey { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
