//! A job as the coordinator stores and reports it: kind, status, and the checks a receipt must
//! pass.

use alloy_primitives::{Address, B256};
use assay_protocol::job::{JobSpec, Output};
use assay_protocol::wire::SignedReceipt;
use serde::{Deserialize, Serialize};

/// An enum stored and reported by its snake_case name: `as_str`, `parse` and serde agree.
macro_rules! stored_names {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The name stored and reported.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// Parses [`Self::as_str`].
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

stored_names!(
    /// Where a job is in its life (DESIGN 3.1).
    Status {
        /// Durable, waiting for an asserter.
        Pending = "pending",
        /// Sent to an asserter.
        Assigned = "assigned",
        /// The asserter's signed result is in (and was returned to the user); not challenged, or
        /// the challenge drew no validator that answered.
        Asserted = "asserted",
        /// Validators are re-executing it.
        Challenged = "challenged",
        /// Every revealed validator hash equals the asserter's.
        Matched = "matched",
        /// Some revealed hash differs from the asserter's.
        Disputed = "disputed",
        /// No asserter produced a valid result.
        Failed = "failed",
    }
);

impl Status {
    /// Whether the coordinator still has work to do on the job (re-queued on start-up).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Assigned | Self::Challenged)
    }
}

stored_names!(
    /// The API a job came through.
    Kind {
        /// `/v1/chat/completions`.
        Chat = "chat",
        /// `/v1/embeddings`.
        Embedding = "embedding",
    }
);

stored_names!(
    /// Where a job's record is on chain.
    Settlement {
        /// In a committed batch, not yet claimed or opened.
        Batched = "batched",
        /// Claimed: its asserter was paid.
        Claimed = "claimed",
        /// Challenged by the batch's draw and opened in `Sampling`.
        Opened = "opened",
        /// The batch's claim period ended before it was claimed or opened.
        Expired = "expired",
        /// Its on-chain challenge accepted the asserter's result.
        Accepted = "accepted",
        /// Its on-chain challenge found differing hashes.
        Disputed = "disputed",
        /// Its on-chain challenge rejected the asserter's result.
        Rejected = "rejected",
    }
);

stored_names!(
    /// A validator's part in an off-chain challenge.
    ValidationState {
        /// Drawn, nothing received yet.
        Drawn = "drawn",
        /// Its commitment is in.
        Committed = "committed",
        /// Revealed a hash matching its commitment (before the challenge concluded).
        Revealed = "revealed",
        /// Revealed something that does not open its commitment, or a bad receipt.
        Invalid = "invalid",
        /// Its revealed hash equals the asserter's.
        Agreed = "agreed",
        /// Its revealed hash differs from the asserter's.
        Dissented = "dissented",
        /// It could not run the job, or its connection ended.
        Failed = "failed",
        /// It did not commit or reveal in time.
        TimedOut = "timed_out",
    }
);

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Coordinator job id (`job_<hex>`).
    pub id: String,
    /// Key in draws, commitments and batch records.
    pub job_key: B256,
    /// API it came through.
    pub kind: Kind,
    /// Model id.
    pub model_id: B256,
    /// What to run.
    pub spec: JobSpec,
    /// Status.
    pub status: Status,
    /// The worker whose result was returned (or who holds the job now).
    pub asserter: Option<Address>,
    /// The asserter's output.
    pub output: Option<Output>,
    /// The asserter's signed receipt.
    pub receipt: Option<SignedReceipt>,
    /// Why it failed.
    pub error: Option<String>,
    /// Asserters tried.
    pub attempts: u32,
    /// Parties whose hash differed from the majority in a dispute.
    pub suspects: Vec<Address>,
    /// Root of the settlement batch holding its record (see [`crate::settlement`]).
    pub batch_id: Option<String>,
    /// The fee its record carries, in wei.
    pub fee: Option<alloy_primitives::U256>,
    /// Where its record is on chain.
    pub settlement: Option<Settlement>,
    /// The transaction that claimed or opened its record.
    pub settle_tx: Option<String>,
    /// The on-chain job id of an opened record.
    pub chain_job_id: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: i64,
}

impl JobRow {
    /// A new pending job with a fresh id and key.
    pub fn new(kind: Kind, model_id: B256, spec: JobSpec) -> Self {
        let job_key = B256::random();
        Self {
            id: format!("job_{}", alloy_primitives::hex::encode(&job_key[..12])),
            job_key,
            kind,
            model_id,
            spec,
            status: Status::Pending,
            asserter: None,
            output: None,
            receipt: None,
            error: None,
            attempts: 0,
            suspects: Vec::new(),
            batch_id: None,
            fee: None,
            settlement: None,
            settle_tx: None,
            chain_job_id: None,
            created_ms: now_ms(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Why a receipt is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The signature does not recover to the receipt's worker.
    #[error("receipt signature does not recover to its worker")]
    BadSignature,
    /// The receipt names another worker than the connection's.
    #[error("receipt is for worker {0}, not this connection's")]
    WrongWorker(Address),
    /// The receipt's job key, model or input root are not the job's.
    #[error("receipt {0} does not match the job")]
    WrongJob(&'static str),
    /// The output hash is not the hash of the returned output.
    #[error("receipt output hash is not the hash of the output")]
    OutputMismatch,
}

/// Checks a receipt against the job it answers: signature (EIP-191 over the chain-bound digest),
/// signer, job key, model id and input root.
///
/// # Errors
/// The first check that fails.
pub fn check_receipt(
    receipt: &SignedReceipt,
    chain_id: u64,
    worker: Address,
    job_key: B256,
    model_id: B256,
    spec: &JobSpec,
) -> Result<(), ReceiptError> {
    let r = &receipt.receipt;
    if r.worker != worker {
        return Err(ReceiptError::WrongWorker(r.worker));
    }
    if !receipt.verify(chain_id) {
        return Err(ReceiptError::BadSignature);
    }
    if r.job_key != job_key {
        return Err(ReceiptError::WrongJob("job key"));
    }
    if r.model_id != model_id {
        return Err(ReceiptError::WrongJob("model id"));
    }
    if r.input_root != spec.input_root() {
        return Err(ReceiptError::WrongJob("input root"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [
            Status::Pending,
            Status::Assigned,
            Status::Asserted,
            Status::Challenged,
            Status::Matched,
            Status::Disputed,
            Status::Failed,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert!(Status::Pending.is_open() && !Status::Matched.is_open());
        assert_eq!(Kind::parse("chat"), Some(Kind::Chat));
    }

    #[test]
    fn job_ids_are_prefixed_and_fixed_length() {
        let j = JobRow::new(Kind::Chat, B256::ZERO, JobSpec::Embed { prompt: "p".into() });
        assert!(j.id.starts_with("job_") && j.id.len() == 28);
    }
}
