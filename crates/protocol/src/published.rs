//! What a coordinator publishes so that anyone can check its work on chain, read by arbitrators
//! (`verifier arbitrate`) and served by the coordinator's API:
//! - `GET /v1/disputes`: the jobs its own sampling found disputed ([`DisputeList`]), each with the
//!   asserter's signed receipt. The coordinator batches such a job once a bonded claim waits for
//!   it on chain (or after its escalation wait), and opens its record for that claim.
//! - `GET /v1/batches/{id}`: a committed batch's records with their Merkle proofs
//!   ([`PublishedBatch`]), so anyone can check a record, claim against it and open it
//!   (`JobMarket.openBatchJob`) without the coordinator.
//!
//! Nothing here is trusted by its reader: a receipt is checked against its worker's signature, a
//! record against the batch root on chain ([`PublishedRecord::proves`]).

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{
    math::{merkle, records::JobRecord},
    wire::{Receipt, SignedReceipt},
};

/// What the coordinator's own sampling found for a batched job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampled {
    /// Not re-executed off chain (or no validator answered).
    No,
    /// Every validator's hash equals the asserter's.
    Matched,
    /// Some validator's hash differs from the asserter's.
    Disputed,
}

/// A job the coordinator's sampling found disputed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputedJob {
    /// The coordinator's job id (its record is at `GET /v1/jobs/{id}/record`).
    pub id: String,
    /// The asserter's signed receipt: job key, model, input root, output hash, trace root.
    pub receipt: SignedReceipt,
    /// The parties whose hash was in the minority.
    pub suspects: Vec<Address>,
}

/// `GET /v1/disputes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeList {
    /// `"list"`.
    pub object: String,
    /// Disputed jobs whose records are not settled on chain yet, oldest first.
    pub data: Vec<DisputedJob>,
}

/// One record of a published batch with its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRecord {
    /// The coordinator's job id.
    pub id: String,
    /// What the coordinator's sampling found.
    pub sampled: Sampled,
    /// The job's key.
    pub job_key: B256,
    /// Model id.
    pub model_id: B256,
    /// Input root.
    pub input_root: B256,
    /// The miner named as its asserter.
    pub asserter: Address,
    /// The asserted output hash.
    pub output_hash: B256,
    /// The asserted trace root.
    pub trace_root: B256,
    /// Fee in wei.
    pub fee: U256,
    /// Merkle proof of the record's leaf under the batch root.
    pub proof: Vec<B256>,
}

impl PublishedRecord {
    /// `record` of the coordinator's job `id`, with its sampling verdict and its proof.
    pub fn new(id: String, sampled: Sampled, record: &JobRecord, proof: Vec<B256>) -> Self {
        Self {
            id,
            sampled,
            job_key: record.job_key,
            model_id: record.model_id,
            input_root: record.input_root,
            asserter: record.asserter,
            output_hash: record.output_hash,
            trace_root: record.trace_root,
            fee: record.fee,
            proof,
        }
    }

    /// What the record asserts, in a receipt's shape (its asserter as the worker).
    pub fn asserted(&self) -> Receipt {
        Receipt {
            job_key: self.job_key,
            model_id: self.model_id,
            input_root: self.input_root,
            output_hash: self.output_hash,
            trace_root: self.trace_root,
            worker: self.asserter,
        }
    }

    /// The record as `openBatchJob` takes it.
    pub fn record(&self) -> JobRecord {
        JobRecord {
            job_key: self.job_key,
            model_id: self.model_id,
            input_root: self.input_root,
            asserter: self.asserter,
            output_hash: self.output_hash,
            trace_root: self.trace_root,
            fee: self.fee,
        }
    }

    /// Whether its proof places it under `root` (the root committed on chain).
    pub fn proves(&self, root: B256) -> bool {
        merkle::verify(&self.proof, root, self.record().leaf())
    }
}

/// `GET /v1/batches/{id}`: a committed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedBatch {
    /// `"assay.batch"`.
    pub object: String,
    /// Its id in `JobMarket`.
    pub batch_id: U256,
    /// The Merkle root committed.
    pub root: B256,
    /// Its records in tree order.
    pub records: Vec<PublishedRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;

    fn record(i: u8) -> JobRecord {
        JobRecord {
            job_key: B256::repeat_byte(i),
            model_id: B256::repeat_byte(0xaa),
            input_root: B256::repeat_byte(i ^ 0x55),
            asserter: Address::repeat_byte(i),
            output_hash: B256::repeat_byte(i.wrapping_mul(3)),
            trace_root: B256::repeat_byte(i.wrapping_mul(5)),
            fee: U256::from(u64::from(i) * 1_000),
        }
    }

    #[test]
    fn a_published_record_proves_itself_and_nothing_else() {
        let records: Vec<JobRecord> = (1..=5).map(record).collect();
        let batch = Batch::new(records.clone()).expect("a batch");
        let (r, proof) = batch.proof(records[3].job_key).expect("in the batch");
        let published = PublishedRecord::new("job_04".into(), Sampled::Disputed, r, proof);
        assert_eq!(published.record(), records[3]);
        assert_eq!(published.asserted().record(r.fee), records[3], "a receipt's shape and back");
        assert!(published.proves(batch.root()));
        // A coordinator that names another output (or fee) under the same proof is caught.
        let forged = PublishedRecord { output_hash: B256::repeat_byte(0xee), ..published.clone() };
        assert!(!forged.proves(batch.root()));
        let fee = PublishedRecord { fee: U256::from(1u8), ..published.clone() };
        assert!(!fee.proves(batch.root()));
        // JSON both ways, with the sampling verdict in snake case.
        let json = serde_json::to_value(&published).expect("serializes");
        assert_eq!(json["sampled"], "disputed");
        let back: PublishedRecord = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, published);
    }
}
