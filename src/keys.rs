//! Loading the node's key: a private-key file (development chains) or a JSON keystore
//! with its password file. Keys and passwords are never logged.

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

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::Unreadable {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// A signer from a file holding a hex private key (with or without `0x`).
pub fn from_private_key_file(path: &Path) -> Result<PrivateKeySigner, KeyError> {
    read(path)?
        .trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| KeyError::NotAKey {
            path: path.display().to_string(),
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
    let password = read(password_file)?;
    let entries = std::fs::read_dir(dir).map_err(|e| KeyError::Unreadable {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let matches = json["address"]
            .as_str()
            .is_some_and(|a| a.trim_start_matches("0x").to_lowercase() == wanted);
        if matches {
            return PrivateKeySigner::decrypt_keystore(
                &path,
                password.trim_end_matches(['\n', '\r']),
            )
            .map_err(|e| KeyError::Decrypt {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    }
    Err(KeyError::NoKeystore {
        address: address.to_owned(),
        dir: dir.display().to_string(),
    })
}
