//! The deployer's key: hex, a key file or an encrypted keystore.

use std::path::Path;

use alloy_signer_local::PrivateKeySigner;

use crate::Error;

/// Reads a private key: `0x`-prefixed or bare hex.
///
/// # Errors
/// [`Error::Key`].
pub fn signer_from_hex(hex: &str) -> Result<PrivateKeySigner, Error> {
    hex.trim().parse().map_err(|_| Error::Key("not a 32-byte hex private key".into()))
}

/// Reads a private key from a file holding its hex.
///
/// # Errors
/// [`Error::Key`].
pub fn signer_from_file(path: &Path) -> Result<PrivateKeySigner, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
    signer_from_hex(&text)
        .map_err(|_| Error::Key(format!("{}: not a hex private key", path.display())))
}

/// Decrypts a keystore (Web3 secret storage, as `cast wallet` and geth write).
///
/// # Errors
/// [`Error::Key`] naming the file and why (a wrong password says so); neither the password nor
/// the key appears in it.
pub fn signer_from_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner, Error> {
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
        let reason = e.to_string();
        // eth-keystore's "Mac Mismatch": the password does not decrypt the key.
        let reason = if reason.contains("Mac Mismatch") {
            "wrong password (or a damaged keystore: its MAC does not match)".to_owned()
        } else {
            reason
        };
        Error::Key(format!("keystore {}: {reason}", path.display()))
    })
}
