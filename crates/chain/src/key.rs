//! Signing keys (a miner's, a coordinator's, the deployer's): loaded from hex (a key file or an
//! environment variable) or an encrypted JSON keystore, and never printed: `Debug` shows the
//! address only, and errors name where a key came from, never the key or the password.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use alloy_primitives::{Address, B256, Signature};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// Errors loading a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key or password file could not be read.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The text is not a 32-byte hex private key (the key itself is never shown).
    #[error("{0} does not hold a valid hex private key")]
    Invalid(String),
    /// The keystore could not be decrypted.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The file.
        path: String,
        /// Why (wrong password, malformed file).
        reason: String,
    },
}

/// A signing key. `Debug` redacts it.
#[derive(Clone)]
pub struct Key(PrivateKeySigner);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("address", &format_args!("{}", self.address()))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl From<PrivateKeySigner> for Key {
    fn from(signer: PrivateKeySigner) -> Self {
        Self(signer)
    }
}

impl Key {
    /// Parses a hex private key (with or without `0x`, surrounding whitespace ignored); `source`
    /// names where it came from in the error.
    ///
    /// # Errors
    /// [`KeyError::Invalid`].
    pub fn from_hex(text: &str, source: &str) -> Result<Self, KeyError> {
        text.trim().parse().map(Self).map_err(|_| KeyError::Invalid(source.into()))
    }

    /// Reads a file holding a hex private key.
    ///
    /// # Errors
    /// [`KeyError::Io`] or [`KeyError::Invalid`].
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        Self::from_hex(&read(path)?, &path.display().to_string())
    }

    /// Decrypts an Ethereum JSON keystore (as `cast wallet new` writes).
    ///
    /// # Errors
    /// [`KeyError::Keystore`] naming the file and why (a wrong password says so); neither the
    /// password nor the key appears in it.
    pub fn from_keystore(path: &Path, password: &str) -> Result<Self, KeyError> {
        PrivateKeySigner::decrypt_keystore(path, password).map(Self).map_err(|e| {
            KeyError::Keystore { path: path.display().to_string(), reason: keystore_reason(&e) }
        })
    }

    /// A random key (tests).
    pub fn random() -> Self {
        Self(PrivateKeySigner::random())
    }

    /// The key's address.
    pub fn address(&self) -> Address {
        self.0.address()
    }

    /// EIP-191 signature of a 32-byte digest (the form `recovers_to` checks).
    pub fn sign_digest(&self, digest: B256) -> Signature {
        self.0.sign_message_sync(digest.as_slice()).expect("a local key signs any message")
    }

    /// The underlying signer, for transaction signing.
    pub fn signer(&self) -> &PrivateKeySigner {
        &self.0
    }
}

/// Why a keystore did not open: eth-keystore's "Mac Mismatch" is a wrong password (or a damaged
/// file); other reasons (unreadable, malformed JSON) as they are.
fn keystore_reason(e: &alloy_signer_local::LocalSignerError) -> String {
    let reason = e.to_string();
    if reason.contains("Mac Mismatch") {
        "wrong password (or a damaged keystore: its MAC does not match)".into()
    } else {
        reason
    }
}

/// Reads a key or password file.
///
/// # Errors
/// [`KeyError::Io`].
pub fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path)
        .map_err(|source| KeyError::Io { path: path.display().to_string(), source })
}

/// A keystore's password: a file holding it (trailing line breaks are not part of it), or the
/// text itself (from an environment variable). `Debug` never shows the text.
#[derive(Clone)]
pub enum Password {
    /// A file holding the password.
    File(PathBuf),
    /// The password.
    Text(String),
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Text(_) => f.write_str("Text(<redacted>)"),
        }
    }
}

/// Where a key comes from: what every binary's key flags, environment variables and config
/// resolve to. `Debug` never shows a key or a password.
#[derive(Clone)]
pub enum KeySource {
    /// Hex text from a flag or an environment variable; `origin` names it in errors.
    Hex {
        /// The hex private key.
        text: String,
        /// Where it came from (`--private-key`, `ASSAY_WORKER_PRIVATE_KEY`), for errors.
        origin: String,
    },
    /// A file holding the hex private key.
    File(PathBuf),
    /// An encrypted JSON keystore and its password.
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Its password.
        password: Password,
    },
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hex { origin, .. } => write!(f, "Hex({origin}, <redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Keystore { path, password } => {
                f.debug_struct("Keystore").field("path", path).field("password", password).finish()
            }
        }
    }
}

impl KeySource {
    /// Loads the key.
    ///
    /// # Errors
    /// [`KeyError::Io`] for unreadable files, [`KeyError::Invalid`] for text that is not a key,
    /// [`KeyError::Keystore`] for a keystore that does not open with the password.
    pub fn load(&self) -> Result<Key, KeyError> {
        match self {
            Self::Hex { text, origin } => Key::from_hex(text, origin),
            Self::File(path) => Key::from_file(path),
            Self::Keystore { path, password } => {
                let password = match password {
                    Password::File(file) => read(file)?.trim_end_matches(['\r', '\n']).to_owned(),
                    Password::Text(text) => text.clone(),
                };
                Key::from_keystore(path, &password)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use assay_protocol::wire::{hello_digest, recovers_to};

    use super::*;

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn debug_redacts_the_key() {
        let key = Key::from_hex(KEY, "test").expect("key");
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.to_lowercase().contains(&KEY[2..10]), "{shown}");
        assert!(shown.contains("redacted"));
        assert!(shown.contains(&key.address().to_string()));
    }

    #[test]
    fn parses_files_and_never_echoes_bad_keys() {
        let dir = std::env::temp_dir().join(format!("assay-chain-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("key");
        std::fs::write(&path, format!("{}\n", &KEY[2..])).expect("write");
        let key = Key::from_file(&path).expect("key without 0x and with a newline");
        assert_eq!(key.address(), Key::from_hex(KEY, "x").expect("key").address());
        std::fs::write(&path, "0xnot-a-key-secret").expect("write");
        let err = Key::from_file(&path).unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(matches!(Key::from_file(&dir.join("none")), Err(KeyError::Io { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Writes `KEY` as an encrypted JSON keystore (Web3 secret storage, scrypt, as `cast wallet`
    /// writes) under `password`.
    pub(crate) fn write_keystore(dir: &Path, name: &str, password: &str) -> std::path::PathBuf {
        let secret = B256::from_str(KEY).expect("hex key");
        let mut rng = rand::thread_rng();
        PrivateKeySigner::encrypt_keystore(dir, &mut rng, secret, password, Some(name))
            .expect("keystore written");
        dir.join(name)
    }

    #[test]
    fn keystores_open_with_their_password_only() {
        let dir = std::env::temp_dir().join(format!("assay-chain-ks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = write_keystore(&dir, "miner.json", "correct horse");
        let text = std::fs::read_to_string(&path).expect("keystore");
        assert!(text.contains("\"crypto\"") && !text.to_lowercase().contains(&KEY[2..]));

        let key = Key::from_keystore(&path, "correct horse").expect("decrypts");
        assert_eq!(key.address(), Key::from_hex(KEY, "x").expect("key").address());

        let pw_file = dir.join("password");
        std::fs::write(&pw_file, "correct horse\n").expect("write");
        let source = KeySource::Keystore { path: path.clone(), password: Password::File(pw_file) };
        assert_eq!(source.load().expect("password file").address(), key.address());
        let text = KeySource::Keystore {
            path: path.clone(),
            password: Password::Text("correct horse".into()),
        };
        assert!(!format!("{text:?}").contains("horse"), "{text:?}");

        let err = Key::from_keystore(&path, "wrong horse").unwrap_err();
        assert!(matches!(err, KeyError::Keystore { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains(&path.display().to_string()), "names the file: {shown}");
        assert!(shown.contains("wrong password"), "{shown}");
        for secret in [&KEY[2..10], "correct horse", "wrong horse"] {
            assert!(!shown.to_lowercase().contains(secret), "{secret} in {shown}");
        }
        std::fs::write(dir.join("broken.json"), "{\"not\": \"a keystore\"}").expect("write");
        let err = Key::from_keystore(&dir.join("broken.json"), "x").unwrap_err();
        assert!(err.to_string().contains("broken.json"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn signatures_recover_to_the_address() {
        let key = Key::random();
        let digest = hello_digest(412346, B256::repeat_byte(7), key.address());
        assert!(recovers_to(&key.sign_digest(digest), digest, key.address()));
        assert!(!recovers_to(&key.sign_digest(digest), B256::ZERO, key.address()));
    }
}
