//! A batch of off-chain job records as a coordinator commits it with `JobMarket.commitBatch`:
//! the Merkle root over the records' leaves, and each record's proof for `openBatchJob` and
//! `claimBatchJobs`.

use alloy_primitives::B256;

use crate::math::{merkle, records::JobRecord};

/// Errors building or querying a batch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// A batch needs at least one record.
    #[error("a batch needs at least one job record")]
    Empty,
    /// The contract counts records in 32 bits.
    #[error("a batch holds at most {max} records, got {got}", max = u32::MAX)]
    TooLarge {
        /// Records given.
        got: usize,
    },
    /// No record with that key is in the batch.
    #[error("job {0} is not in this batch")]
    UnknownJob(B256),
}

/// Job records with their committed Merkle tree.
#[derive(Debug, Clone)]
pub struct Batch {
    records: Vec<JobRecord>,
    leaves: Vec<B256>,
    root: B256,
}

impl Batch {
    /// Commits to `records` in the given order.
    ///
    /// # Errors
    /// [`BatchError::Empty`], [`BatchError::TooLarge`].
    pub fn new(records: Vec<JobRecord>) -> Result<Self, BatchError> {
        if records.is_empty() {
            return Err(BatchError::Empty);
        }
        if u32::try_from(records.len()).is_err() {
            return Err(BatchError::TooLarge { got: records.len() });
        }
        let leaves: Vec<B256> = records.iter().map(JobRecord::leaf).collect();
        let root = merkle::root(&leaves);
        Ok(Self { records, leaves, root })
    }

    /// The root to pass to `commitBatch`.
    pub fn root(&self) -> B256 {
        self.root
    }

    /// Number of records, as `commitBatch` takes it.
    pub fn len(&self) -> u32 {
        // Checked in `new`.
        u32::try_from(self.records.len()).unwrap_or(u32::MAX)
    }

    /// Always false: a batch holds at least one record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The record with `job_key` and its proof.
    ///
    /// # Errors
    /// [`BatchError::UnknownJob`].
    pub fn proof(&self, job_key: B256) -> Result<(&JobRecord, Vec<B256>), BatchError> {
        let index = self
            .records
            .iter()
            .position(|r| r.job_key == job_key)
            .ok_or(BatchError::UnknownJob(job_key))?;
        let proof = merkle::proof(&self.leaves, index).ok_or(BatchError::UnknownJob(job_key))?;
        Ok((&self.records[index], proof))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256, keccak256};
    use alloy_sol_types::SolValue;
    use proptest::prelude::*;

    use super::*;
    use crate::math::records::{seed_commitment, validation_commitment};

    fn record(i: u64) -> JobRecord {
        JobRecord {
            job_key: keccak256(i.to_be_bytes()),
            model_id: B256::repeat_byte(1),
            input_root: B256::repeat_byte(2),
            asserter: Address::repeat_byte(3),
            output_hash: B256::repeat_byte(4),
            trace_root: B256::repeat_byte(5),
            fee: U256::from(i),
        }
    }

    #[test]
    fn leaves_are_solidity_abi_encode_and_commitments_encode_packed() {
        let r = record(7);
        let encoded =
            (r.job_key, r.model_id, r.input_root, r.asserter, r.output_hash, r.trace_root, r.fee)
                .abi_encode_params();
        assert_eq!(r.leaf(), keccak256(encoded));
        let (k, v, h, s) =
            (B256::repeat_byte(9), Address::repeat_byte(8), B256::repeat_byte(7), B256::ZERO);
        let t = B256::repeat_byte(6);
        let packed = (k, v, h, t, s).abi_encode_packed();
        assert_eq!(validation_commitment(k, v, h, t, s), keccak256(packed));
        assert_eq!(seed_commitment(3, s), keccak256((3u64, s).abi_encode_packed()));
    }

    #[test]
    fn empty_batches_and_unknown_jobs_are_errors() {
        assert_eq!(Batch::new(Vec::new()).unwrap_err(), BatchError::Empty);
        let batch = Batch::new(vec![record(1)]).unwrap();
        assert_eq!(batch.proof(B256::ZERO).unwrap_err(), BatchError::UnknownJob(B256::ZERO));
        assert_eq!(batch.root(), record(1).leaf());
    }

    proptest! {
        #[test]
        fn every_record_proves_against_the_root(n in 1u64..50) {
            let batch = Batch::new((0..n).map(record).collect()).unwrap();
            prop_assert_eq!(batch.len() as u64, n);
            for i in 0..n {
                let (rec, proof) = batch.proof(record(i).job_key).unwrap();
                prop_assert!(merkle::verify(&proof, batch.root(), rec.leaf()));
            }
        }
    }
}
