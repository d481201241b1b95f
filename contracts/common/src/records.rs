//! Hashes that commit to protocol records. Every layout is fixed-width and big-endian, matching
//! the Solidity expression named on each function, so contracts, workers, coordinators and
//! observers derive identical bytes.

use alloc::vec::Vec;

use alloy_primitives::{keccak256, Address, B256, U256};

/// One batched off-chain job as the coordinator commits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRecord {
    /// The coordinator's unique key for the job.
    pub job_key: B256,
    /// The model (weight Merkle root).
    pub model_id: B256,
    /// Merkle root of the input chunks.
    pub input_root: B256,
    /// The miner that executed the job.
    pub asserter: Address,
    /// Hash of the output the asserter returned.
    pub output_hash: B256,
    /// Root of the asserter's execution trace.
    pub trace_root: B256,
    /// Fee owed to the asserter, in wei, out of the batch escrow.
    pub fee: U256,
}

impl JobRecord {
    /// Merkle leaf: `keccak256(abi.encode(jobKey, modelId, inputRoot, asserter, outputHash,
    /// traceRoot, fee))`.
    pub fn leaf(&self) -> B256 {
        let mut buf = [0u8; 7 * 32];
        buf[..32].copy_from_slice(self.job_key.as_slice());
        buf[32..64].copy_from_slice(self.model_id.as_slice());
        buf[64..96].copy_from_slice(self.input_root.as_slice());
        buf[108..128].copy_from_slice(self.asserter.as_slice());
        buf[128..160].copy_from_slice(self.output_hash.as_slice());
        buf[160..192].copy_from_slice(self.trace_root.as_slice());
        buf[192..].copy_from_slice(&self.fee.to_be_bytes::<32>());
        keccak256(buf)
    }

    /// One claim of `JobMarket.claimBatchJobs`: the record's [`CLAIM_RECORD_WORDS`] words
    /// (`jobKey, modelId, inputRoot, asserter, outputHash, traceRoot, fee`, the address and the
    /// fee as 32-byte words), then its Merkle proof.
    pub fn claim(&self, proof: &[B256]) -> Vec<B256> {
        let mut words = Vec::with_capacity(CLAIM_RECORD_WORDS.saturating_add(proof.len()));
        words.extend_from_slice(&[
            self.job_key,
            self.model_id,
            self.input_root,
            self.asserter.into_word(),
            self.output_hash,
            self.trace_root,
            self.fee.into(),
        ]);
        words.extend_from_slice(proof);
        words
    }

    /// The record and proof of a [`JobRecord::claim`]; `None` when it is shorter than a record.
    pub fn from_claim(words: &[B256]) -> Option<(Self, &[B256])> {
        let (record, proof) = (words.get(..CLAIM_RECORD_WORDS)?, words.get(CLAIM_RECORD_WORDS..)?);
        let record = Self {
            job_key: record[0],
            model_id: record[1],
            input_root: record[2],
            asserter: Address::from_word(record[3]),
            output_hash: record[4],
            trace_root: record[5],
            fee: record[6].into(),
        };
        Some((record, proof))
    }
}

/// Words of the record at the start of a claim.
pub const CLAIM_RECORD_WORDS: usize = 7;

/// A validator's commitment to its output hash and trace root:
/// `keccak256(abi.encodePacked(jobKey, validator, outputHash, traceRoot, salt))`. Binding the job
/// and the validator stops one validator from copying another's commitment; the trace root is
/// where a dispute against the validator's claim starts.
pub fn validation_commitment(
    job_key: B256,
    validator: Address,
    output_hash: B256,
    trace_root: B256,
    salt: B256,
) -> B256 {
    let mut buf = [0u8; 32 + 20 + 32 + 32 + 32];
    buf[..32].copy_from_slice(job_key.as_slice());
    buf[32..52].copy_from_slice(validator.as_slice());
    buf[52..84].copy_from_slice(output_hash.as_slice());
    buf[84..116].copy_from_slice(trace_root.as_slice());
    buf[116..].copy_from_slice(salt.as_slice());
    keccak256(buf)
}

/// A coordinator's commitment to an epoch seed: `keccak256(abi.encodePacked(uint64 epoch, seed))`.
pub fn seed_commitment(epoch: u64, seed: B256) -> B256 {
    let mut buf = [0u8; 8 + 32];
    buf[..8].copy_from_slice(&epoch.to_be_bytes());
    buf[8..].copy_from_slice(seed.as_slice());
    keccak256(buf)
}

/// Most claims one job holds: drawn validators and bonded claims together.
pub const MAX_CLAIMS: usize = 32;

/// Where bonded claims against an assertion wait for its job's hand-over (`Sampling.
/// disputeRecord`): `keccak256(abi.encodePacked(jobKey, asserter, assertedOutput))`. Binding the
/// asserter and the asserted output keeps a record that reuses another job's key from taking its
/// claims.
pub fn pending_claims_key(job_key: B256, asserter: Address, asserted_output: B256) -> B256 {
    let mut buf = [0u8; 32 + 20 + 32];
    buf[..32].copy_from_slice(job_key.as_slice());
    buf[32..52].copy_from_slice(asserter.as_slice());
    buf[52..].copy_from_slice(asserted_output.as_slice());
    keccak256(buf)
}

/// The key of an on-chain job in draws and commitments: its id as a 32-byte big-endian word.
pub fn onchain_job_key(job_id: U256) -> B256 {
    B256::from(job_id.to_be_bytes::<32>())
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn record() -> JobRecord {
        JobRecord {
            job_key: B256::repeat_byte(1),
            model_id: B256::repeat_byte(2),
            input_root: B256::repeat_byte(3),
            asserter: Address::repeat_byte(4),
            output_hash: B256::repeat_byte(5),
            trace_root: B256::repeat_byte(6),
            fee: U256::from(7u64),
        }
    }

    #[test]
    fn a_claim_round_trips_and_a_short_one_is_refused() {
        let record = record();
        let proof = [B256::repeat_byte(8), B256::repeat_byte(9)];
        let words = record.claim(&proof);
        assert_eq!(words.len(), CLAIM_RECORD_WORDS + 2);
        assert_eq!(JobRecord::from_claim(&words), Some((record, &proof[..])));
        assert_eq!(JobRecord::from_claim(&words[..6]), None);
    }

    #[test]
    fn leaf_binds_every_field() {
        let base = record().leaf();
        let mut r = record();
        r.fee = U256::from(8u64);
        assert_ne!(r.leaf(), base);
        let mut r = record();
        r.asserter = Address::repeat_byte(9);
        assert_ne!(r.leaf(), base);
        assert_eq!(record().leaf(), base);
    }

    #[test]
    fn commitments_bind_job_validator_and_epoch() {
        let (k, v, h, s) =
            (B256::repeat_byte(1), Address::repeat_byte(2), B256::repeat_byte(3), B256::ZERO);
        let t = B256::repeat_byte(4);
        assert_ne!(
            validation_commitment(k, v, h, t, s),
            validation_commitment(k, Address::ZERO, h, t, s)
        );
        assert_ne!(validation_commitment(k, v, h, t, s), validation_commitment(k, v, h, h, s));
        assert_ne!(seed_commitment(1, s), seed_commitment(2, s));
        assert_eq!(onchain_job_key(U256::from(1u64)), B256::with_last_byte(1));
    }
}
