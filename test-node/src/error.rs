//! Errors of the node and their JSON-RPC shape (codes and messages as geth reports them).

use alloy_primitives::Bytes;

/// Result with the node's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request body is not JSON.
    #[error("parse error: {0}")]
    Parse(String),
    /// The JSON is not a JSON-RPC request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No such method.
    #[error("the method {0} does not exist/is not available")]
    MethodNotFound(String),
    /// The parameters do not fit the method.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The transaction was rejected before execution (geth's messages: nonce too low, ...).
    #[error("{0}")]
    Rejected(String),
    /// Execution reverted; carries the revert data.
    #[error("execution reverted{}", revert_reason(.0).map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted(Bytes),
    /// Execution halted (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// The block tag or number does not name a known block.
    #[error("header not found")]
    UnknownBlock,
    /// A Stylus program is malformed or cannot run.
    #[error("stylus: {0}")]
    Stylus(String),
    /// A handler failed unexpectedly (a bug); the node keeps serving.
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading or writing a state file failed.
    #[error("state file: {0}")]
    Io(#[from] std::io::Error),
    /// A state file or dump is not valid.
    #[error("invalid state: {0}")]
    InvalidState(String),
}

impl Error {
    /// The JSON-RPC error code geth uses for this error.
    pub fn code(&self) -> i64 {
        match self {
            Self::Parse(_) => -32700,
            Self::InvalidRequest(_) => -32600,
            Self::MethodNotFound(_) => -32601,
            Self::InvalidParams(_) | Self::InvalidState(_) => -32602,
            Self::Reverted(_) => 3,
            Self::Rejected(_) | Self::Halted(_) | Self::UnknownBlock | Self::Stylus(_) => -32000,
            Self::Io(_) | Self::Internal(_) => -32603,
        }
    }

    /// The `data` member: the revert bytes for reverts.
    pub fn data(&self) -> Option<Bytes> {
        match self {
            Self::Reverted(data) => Some(data.clone()),
            _ => None,
        }
    }
}

/// Decodes `Error(string)` revert data into its reason, as geth appends it to the message.
fn revert_reason(data: &Bytes) -> Option<String> {
    use alloy_sol_types::SolError;
    alloy_sol_types::Revert::abi_decode(data).ok().map(|revert| revert.reason)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::hex;

    use super::*;

    #[test]
    fn revert_message_and_code_follow_geth() {
        let plain = Error::Reverted(Bytes::from_static(&hex!("6f809c4e")));
        assert_eq!(plain.code(), 3);
        assert_eq!(plain.to_string(), "execution reverted");
        assert_eq!(plain.data().unwrap().as_ref(), hex!("6f809c4e"));
        // Error(string) "nope"
        let with_reason = Error::Reverted(Bytes::from_static(&hex!(
            "08c379a0000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000046e6f706500000000000000000000000000000000000000000000000000000000"
        )));
        assert_eq!(with_reason.to_string(), "execution reverted: nope");
    }
}
