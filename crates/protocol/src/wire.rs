//! The worker ⇄ coordinator channel: JSON text frames over a WebSocket.
//!
//! 1. The coordinator opens with [`CoordinatorMsg::Challenge`] (a fresh nonce and its chain id).
//! 2. The worker answers [`WorkerMsg::Hello`], signing [`hello_digest`] with its staked key
//!    (EIP-191), which proves it controls the address it claims; the coordinator checks the
//!    signature, then the address's stake and models on-chain, and answers
//!    [`CoordinatorMsg::Welcome`] or [`CoordinatorMsg::Rejected`].
//! 3. Jobs arrive as [`CoordinatorMsg::Execute`]. An asserter answers [`WorkerMsg::Result`] with
//!    the output and a signed [`Receipt`]; a validator answers [`WorkerMsg::Committed`] with
//!    `validation_commitment(jobKey, validator, outputHash, traceRoot, salt)` (the contracts'
//!    formula) and, once every validator has committed and the coordinator sends
//!    [`CoordinatorMsg::Reveal`], [`WorkerMsg::Revealed`] with the salt and its receipt (which
//!    holds the hash and the trace root).
//! 4. [`WorkerMsg::Heartbeat`] every few seconds carries load; a silent worker is dropped and its
//!    jobs are reassigned.
//! 5. While an asserter generates text it may send [`WorkerMsg::Partial`] deltas before its
//!    result, for streaming to the user. They are advisory: never hashed, in no receipt; the
//!    result's output is what counts.

use alloy_primitives::{Address, B256, Signature, keccak256};
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};

use crate::job::{JobSpec, Output};

/// Version of this channel; the coordinator refuses a worker speaking another.
pub const PROTOCOL_VERSION: u32 = 1;

/// The part a worker plays in a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The assigned miner: its result goes to the user.
    Asserter,
    /// A drawn validator: re-executes and commits, then reveals, its output hash.
    Validator,
    /// A validator `Sampling` drew on chain for the job market's job `chain_job_id` (an opened
    /// batch record): re-executes, then commits and reveals its output hash on chain with its
    /// own key. Nothing goes back over the channel.
    ChainValidator {
        /// The job's id in `JobMarket` and `Sampling`.
        chain_job_id: alloy_primitives::U256,
    },
}

/// A job sent to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The coordinator's job id (also the tracing key).
    pub job_id: String,
    /// The job's key in draws, commitments and batch records.
    pub job_key: B256,
    /// Model id (the Merkle root of its weights).
    pub model_id: B256,
    /// What to run.
    pub spec: JobSpec,
    /// Asserter or validator.
    pub role: Role,
}

/// What a worker signs about a job it executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The job's key.
    pub job_key: B256,
    /// Model id.
    pub model_id: B256,
    /// Input commitment.
    pub input_root: B256,
    /// Hash of the output.
    pub output_hash: B256,
    /// Root of the execution trace.
    pub trace_root: B256,
    /// The worker's staked address.
    pub worker: Address,
}

impl Receipt {
    /// The digest the worker signs (EIP-191):
    /// `keccak256(abi.encode(keccak256("assay.receipt.v1"), chainId, jobKey, modelId, inputRoot,
    /// outputHash, traceRoot, worker))`.
    pub fn digest(&self, chain_id: u64) -> B256 {
        keccak256(
            (
                keccak256("assay.receipt.v1"),
                alloy_primitives::U256::from(chain_id),
                self.job_key,
                self.model_id,
                self.input_root,
                self.output_hash,
                self.trace_root,
                self.worker,
            )
                .abi_encode(),
        )
    }

    /// The batch record of the job this receipt answers, with its `fee`.
    pub fn record(&self, fee: alloy_primitives::U256) -> crate::math::records::JobRecord {
        crate::math::records::JobRecord {
            job_key: self.job_key,
            model_id: self.model_id,
            input_root: self.input_root,
            asserter: self.worker,
            output_hash: self.output_hash,
            trace_root: self.trace_root,
            fee,
        }
    }
}

/// A receipt with the worker's signature over [`Receipt::digest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The receipt.
    #[serde(flatten)]
    pub receipt: Receipt,
    /// EIP-191 signature, 65 bytes `r ‖ s ‖ v`.
    pub signature: Signature,
}

impl SignedReceipt {
    /// Whether the signature is the receipt's worker's, for `chain_id`.
    pub fn verify(&self, chain_id: u64) -> bool {
        recovers_to(&self.signature, self.receipt.digest(chain_id), self.receipt.worker)
    }
}

/// The digest a worker signs (EIP-191) in its hello:
/// `keccak256(abi.encode(keccak256("assay.worker.hello.v1"), chainId, nonce, worker))`.
pub fn hello_digest(chain_id: u64, nonce: B256, worker: Address) -> B256 {
    keccak256(
        (keccak256("assay.worker.hello.v1"), alloy_primitives::U256::from(chain_id), nonce, worker)
            .abi_encode(),
    )
}

/// Whether `signature` is an EIP-191 signature of `digest` by `signer`.
pub fn recovers_to(signature: &Signature, digest: B256, signer: Address) -> bool {
    signature.recover_address_from_msg(digest).is_ok_and(|a| a == signer)
}

/// Frames the coordinator sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoordinatorMsg {
    /// First frame: the nonce to sign.
    Challenge {
        /// Fresh random nonce.
        nonce: B256,
        /// The chain the coordinator settles on (signatures are bound to it).
        chain_id: u64,
        /// Channel version the coordinator speaks.
        protocol: u32,
    },
    /// Handshake accepted.
    Welcome {
        /// The worker's address as the coordinator knows it.
        worker: Address,
        /// Seconds between heartbeats the coordinator expects.
        heartbeat_secs: u64,
    },
    /// Handshake refused; the coordinator closes the socket after this frame.
    Rejected {
        /// Why, for the operator.
        reason: String,
    },
    /// Run a job.
    Execute(Assignment),
    /// Every validator of `job_id` has committed: reveal now.
    Reveal {
        /// The job.
        job_id: String,
    },
    /// Forget a job (it was reassigned, or its result is no longer needed).
    Cancel {
        /// The job.
        job_id: String,
    },
}

/// Frames the worker sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMsg {
    /// Handshake answer.
    Hello {
        /// The staked address.
        worker: Address,
        /// EIP-191 signature of [`hello_digest`].
        signature: Signature,
        /// Channel version.
        protocol: u32,
        /// Model ids the worker has loaded.
        models: Vec<B256>,
        /// Jobs it runs at once.
        slots: u32,
        /// Capability benchmark: engine tokens per second on its hardware.
        tokens_per_sec: f64,
    },
    /// Liveness and load.
    Heartbeat {
        /// Jobs running now.
        active: u32,
    },
    /// An asserter's result.
    Result {
        /// The job.
        job_id: String,
        /// Output.
        output: Output,
        /// Signed receipt.
        receipt: SignedReceipt,
    },
    /// Text an asserter's generation produced since its previous delta (complete UTF-8
    /// characters), sent before its [`WorkerMsg::Result`]. Advisory, for streaming only: not
    /// hashed, not part of any receipt; the deltas of an honest worker concatenate to a prefix of
    /// the result's `text`.
    Partial {
        /// The job.
        job_id: String,
        /// The new text.
        text: String,
    },
    /// A validator's commitment.
    Committed {
        /// The job.
        job_id: String,
        /// `validation_commitment(jobKey, validator, outputHash, traceRoot, salt)`.
        commitment: B256,
    },
    /// A validator's reveal.
    Revealed {
        /// The job.
        job_id: String,
        /// Salt of the commitment.
        salt: B256,
        /// Signed receipt (its output hash is the revealed one).
        receipt: SignedReceipt,
    },
    /// The job could not run (bad input for the model, engine error).
    Failed {
        /// The job.
        job_id: String,
        /// Why; starts with [`ENGINE_PANICKED`] when the engine panicked on it.
        error: String,
    },
}

/// How a [`WorkerMsg::Failed`] error starts when the engine panicked on the job: the coordinator
/// counts that like a worker lost while running the job (a request that crashes workers is
/// tried on at most two).
pub const ENGINE_PANICKED: &str = "engine panicked";

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(worker: Address) -> Receipt {
        Receipt {
            job_key: B256::repeat_byte(1),
            model_id: B256::repeat_byte(2),
            input_root: B256::repeat_byte(3),
            output_hash: B256::repeat_byte(4),
            trace_root: B256::repeat_byte(5),
            worker,
        }
    }

    #[test]
    fn digests_bind_every_field_and_the_chain() {
        let r = receipt(Address::repeat_byte(9));
        let base = r.digest(412346);
        assert_ne!(base, r.digest(1));
        let mut changed = r;
        changed.output_hash = B256::repeat_byte(7);
        assert_ne!(base, changed.digest(412346));
        changed = r;
        changed.worker = Address::repeat_byte(8);
        assert_ne!(base, changed.digest(412346));
        let nonce = B256::repeat_byte(6);
        assert_ne!(hello_digest(1, nonce, r.worker), hello_digest(2, nonce, r.worker));
    }

    #[test]
    fn frames_round_trip_as_tagged_json() {
        let msg = CoordinatorMsg::Execute(Assignment {
            job_id: "job-1".into(),
            job_key: B256::repeat_byte(1),
            model_id: B256::repeat_byte(2),
            spec: JobSpec::user("hi", 4, 0),
            role: Role::Validator,
        });
        let json = serde_json::to_string(&msg).expect("serialise");
        assert!(json.contains(r#""type":"execute""#) && json.contains(r#""role":"validator""#));
        assert_eq!(serde_json::from_str::<CoordinatorMsg>(&json).expect("parse"), msg);
        assert!(serde_json::from_str::<WorkerMsg>(r#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn partials_are_tagged_frames() {
        let msg = WorkerMsg::Partial { job_id: "job-1".into(), text: "Hél".into() };
        let json = serde_json::to_string(&msg).expect("serialise");
        assert_eq!(json, r#"{"type":"partial","job_id":"job-1","text":"Hél"}"#);
        assert_eq!(serde_json::from_str::<WorkerMsg>(&json).expect("parse"), msg);
    }

    #[test]
    fn results_without_a_prompt_token_count_still_parse() {
        let receipt = SignedReceipt {
            receipt: receipt(Address::repeat_byte(9)),
            signature: Signature::new(
                alloy_primitives::U256::from(1),
                alloy_primitives::U256::from(2),
                false,
            ),
        };
        let old = serde_json::json!({
            "type": "result",
            "job_id": "job-1",
            "output": {"tokens": [1, 2], "embedding": [], "text": "hi"},
            "receipt": receipt,
        });
        let Ok(WorkerMsg::Result { output, .. }) = serde_json::from_value(old) else {
            panic!("an old result parses");
        };
        assert_eq!(output.prompt_tokens, None);
        let new = WorkerMsg::Result {
            job_id: "job-1".into(),
            output: Output { prompt_tokens: Some(7), ..output },
            receipt,
        };
        let json = serde_json::to_string(&new).expect("serialise");
        assert!(json.contains(r#""prompt_tokens":7"#), "{json}");
        assert_eq!(serde_json::from_str::<WorkerMsg>(&json).expect("parse"), new);
    }
}
