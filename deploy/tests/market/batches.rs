//! Batched jobs: records opened or claimed, the gas a batch amortises, late seals, a parameter change after a commit.

use super::*;

/// p = 50 %: the sealed batch's draw challenges about half of 16 records. One challenged record
/// is opened and sampled (one validator never shows up); the unchallenged ones are claimed after
/// the window; everything else is refused by name.
/// Returns the batch's id: its skipped challenged records' fees stay in escrow until
/// [`unpaid_escrow_is_reclaimed_after_the_claim_period`].
pub(super) async fn batch_records_are_opened_or_claimed(m: &mut Market) -> U256 {
    let records = m.records("mixed", 16);
    let escrow = records.iter().map(|r| r.fee).sum::<U256>();
    let batch = Batch::new(records.clone()).unwrap();
    let commit = IJobMarket::commitBatchCall { jobsRoot: batch.root(), jobCount: batch.len() };
    let e: IJobMarket::NotCoordinator = m.revert(&m.miners[0], m.market, commit).await;
    assert_eq!(e.account, m.miners[0].address);
    let id = m.commit_batch(&batch, escrow, "commitBatch").await;
    let (first, proof) = batch.proof(records[0].job_key).unwrap();
    let e: IJobMarket::BatchNotSealed =
        m.revert(&m.owner, m.market, claim_call(id, first, proof)).await;
    assert_eq!(e.batchId, id);
    let draw_hash = m.seal_batch(id, "sealBatch").await;
    let e: IJobMarket::BatchAlreadySealed =
        m.revert(&m.owner, m.market, IJobMarket::sealBatchCall { batchId: id }).await;
    assert_eq!(e.batchId, id);

    let (challenged, unchallenged): (Vec<&JobRecord>, Vec<&JobRecord>) =
        records.iter().partition(|r| m.challenged(draw_hash, r));
    assert!(!challenged.is_empty() && !unchallenged.is_empty(), "16 coin flips at 50 %");
    let (calm, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::NotChallenged =
        m.revert(&m.owner, m.market, open_call(id, calm, proof)).await;
    assert_eq!(e.jobKey, calm.job_key);

    open_and_sample_with_an_absent_validator(m, id, &batch, challenged[0], draw_hash).await;

    // Claims wait for the window; then every unchallenged record pays its asserter once.
    let (r, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::BatchWindowOpen =
        m.revert(&m.owner, m.market, claim_call(id, r, proof)).await;
    assert_eq!(e.batchId, id);
    assert!(e.closesAt >= m.now().await && e.closesAt <= m.now().await + m.params.batch_window);
    m.advance(m.params.batch_window + 1).await;
    // One bad claim among good ones reverts them all: nothing is paid.
    let mut claims: Vec<Vec<B256>> = unchallenged
        .iter()
        .map(|r| {
            let (r, proof) = batch.proof(r.job_key).unwrap();
            r.claim(&proof)
        })
        .collect();
    let last = claims.len() - 1;
    claims[last][6] = (unchallenged[last].fee + U256::from(1u8)).into();
    let paid_before = m.batch_paid(id).await;
    let e: IJobMarket::InvalidProof =
        m.revert(&m.owner, m.market, IJobMarket::claimBatchJobsCall { batchId: id, claims }).await;
    assert_eq!(e.jobKey, unchallenged[last].job_key);
    assert_eq!(m.batch_paid(id).await, paid_before, "the whole call reverted");
    for r in &unchallenged {
        let before = m.fee_balance(r.asserter).await;
        let (r, proof) = batch.proof(r.job_key).unwrap();
        let receipt = m.send(&m.owner, m.market, claim_call(id, r, proof), U256::ZERO).await;
        m.gas.add("claimBatchJobs (one record)", &receipt);
        let claimed = event::<IJobMarket::BatchJobClaimed>(&receipt, m.market);
        assert_eq!((claimed.jobKey, claimed.asserter, claimed.fee), (r.job_key, r.asserter, r.fee));
        // Every record here pays at least the model's price, so it earns R_A.
        let accrued = event::<IJobMarket::RewardAccrued>(&receipt, m.market);
        assert_eq!((accrued.operator, accrued.amount), (r.asserter, m.params.asserter_reward));
        assert_eq!(m.fee_balance(r.asserter).await - before, r.fee);
    }
    let (r, proof) = batch.proof(unchallenged[0].job_key).unwrap();
    let e: IJobMarket::RecordAlreadyUsed =
        m.revert(&m.owner, m.market, claim_call(id, r, proof.clone())).await;
    assert_eq!((e.batchId, e.jobKey), (id, r.job_key));
    let inflated = JobRecord { fee: r.fee * U256::from(2u8), ..*r };
    let e: IJobMarket::InvalidProof =
        m.revert(&m.owner, m.market, claim_call(id, &inflated, proof)).await;
    assert_eq!(e.jobKey, r.job_key);
    if let Some(skipped) = challenged.get(1) {
        let (r, proof) = batch.proof(skipped.job_key).unwrap();
        let e: IJobMarket::ChallengedNotOpened =
            m.revert(&m.owner, m.market, claim_call(id, r, proof.clone())).await;
        assert_eq!(e.jobKey, r.job_key);
        let e: IJobMarket::BatchWindowClosed =
            m.revert(&m.owner, m.market, open_call(id, r, proof)).await;
        assert_eq!(e.batchId, id);
    }
    let paid: U256 = unchallenged.iter().map(|r| r.fee).sum::<U256>() + challenged[0].fee;
    assert_eq!(m.view(m.market, IJobMarket::batchCall { batchId: id }).await.paid, paid);
    let e: IJobMarket::ClaimPeriodOpen =
        m.revert(&m.owner, m.market, IJobMarket::reclaimBatchEscrowCall { batchId: id }).await;
    assert_eq!(e.batchId, id);
    id
}

/// 30 days after the batch window, claims close and anyone can return what the batch's records
/// did not take (here the challenged records never opened) to the coordinator, once.
pub(super) async fn unpaid_escrow_is_reclaimed_after_the_claim_period(m: &mut Market, id: U256) {
    const CLAIM_PERIOD: u64 = 30 * 24 * 3600;
    let batch = m.view(m.market, IJobMarket::batchCall { batchId: id }).await;
    let unpaid = batch.escrow - batch.paid;
    assert!(unpaid > U256::ZERO, "the mixed batch left challenged records unopened");
    m.advance(CLAIM_PERIOD + 1).await;
    let reclaim = IJobMarket::reclaimBatchEscrowCall { batchId: id };
    let before = m.fee_balance(m.coordinator.address).await;
    let receipt = m.send(&m.miners[0], m.market, reclaim.clone(), U256::ZERO).await;
    m.gas.add("reclaimBatchEscrow", &receipt);
    let reclaimed = event::<IJobMarket::BatchEscrowReclaimed>(&receipt, m.market);
    assert_eq!(
        (reclaimed.batchId, reclaimed.coordinator, reclaimed.amount),
        (id, m.coordinator.address, unpaid)
    );
    assert_eq!(m.fee_balance(m.coordinator.address).await - before, unpaid);
    let e: IJobMarket::NothingToClaim = m.revert(&m.owner, m.market, reclaim).await;
    assert_eq!(e.account, m.coordinator.address);
}

/// Opens a challenged record: the job is sampled like an on-chain one. The validators but the
/// last commit and reveal after the commit deadline; the last never shows up and loses
/// reputation once the reveal deadline has passed.
pub(super) async fn open_and_sample_with_an_absent_validator(
    m: &mut Market,
    id: U256,
    batch: &Batch,
    record: &JobRecord,
    draw_hash: B256,
) {
    let expected = m.expected_validators(m.record_seed(draw_hash, record), record.asserter).await;
    let (r, proof) = batch.proof(record.job_key).unwrap();
    let receipt = m.send(&m.owner, m.market, open_call(id, r, proof.clone()), U256::ZERO).await;
    m.gas.add("openBatchJob", &receipt);
    let opened = event::<IJobMarket::BatchJobOpened>(&receipt, m.market);
    assert_eq!((opened.batchId, opened.jobKey), (id, r.job_key));
    let job = opened.jobId;
    let drawn = event::<ISampling::ChallengeDrawn>(&receipt, m.sampling);
    assert_eq!(drawn.validators, expected);
    assert_eq!(m.job_status(job).await, CHALLENGED);
    let e: IJobMarket::RecordAlreadyUsed =
        m.revert(&m.owner, m.market, open_call(id, r, proof)).await;
    assert_eq!(e.jobKey, r.job_key);

    // Two disputes may have taken one miner's reputation, and so its weight, to zero.
    let (absent, present) = drawn.validators.split_last().expect("validators");
    let absent = *absent;
    assert!(!present.is_empty(), "{:?}", drawn.validators);
    for v in present {
        m.commit_validation(job, r.job_key, *v, OUT).await;
    }
    let reveal = ISampling::revealValidationCall {
        jobId: job,
        outputHash: OUT,
        traceRoot: m.trace_of(OUT),
        salt: keccak256(present[0]),
    };
    let e: ISampling::RevealNotOpen = m.revert(m.miner(present[0]), m.sampling, reveal).await;
    assert_eq!(e.jobId, job);
    m.advance(m.params.commit_timeout + 1).await;
    let late = ISampling::commitValidationCall { jobId: job, commitment: B256::ZERO };
    let e: ISampling::CommitClosed = m.revert(m.miner(absent), m.sampling, late).await;
    assert_eq!(e.jobId, job);
    for v in present {
        m.reveal_validation(job, *v, OUT).await;
    }
    m.advance(m.params.reveal_timeout + 1).await;

    // Reputation is clamped at zero (a miner that lost both disputes may be drawn here).
    let absent_before = m.pool(absent).await.1;
    let (asserter_fees, coordinator_fees) =
        (m.fee_balance(r.asserter).await, m.fee_balance(m.coordinator.address).await);
    let receipt = m.finalize(job, "finalizeChallenge (accepted, one absent)").await;
    assert_eq!(event::<ISampling::ValidatorAbsent>(&receipt, m.sampling).validator, absent);
    assert_eq!(m.pool(absent).await.1, absent_before.saturating_sub(500));
    assert!(event::<IJobMarket::JobAccepted>(&receipt, m.market).challenged);
    let cut = discount(r.fee, &m.params);
    assert_eq!(m.fee_balance(r.asserter).await - asserter_fees, r.fee - cut);
    assert_eq!(m.fee_balance(m.coordinator.address).await - coordinator_fees, cut);
}

/// p = 1 ppm: batches of each size are committed and sealed, and every record is claimed after
/// the window. A batch whose escrow cannot cover its records pays what the escrow holds.
pub(super) async fn batches_amortise_their_gas(m: &mut Market, sizes: &[usize]) {
    let mut batches = Vec::new();
    for n in sizes {
        let records = m.records(&format!("gas-{n}"), *n);
        let escrow = records.iter().map(|r| r.fee).sum();
        let batch = Batch::new(records.clone()).unwrap();
        let id = m.commit_batch(&batch, escrow, &format!("commitBatch (N={n})")).await;
        batches.push((*n, id, batch, records));
    }
    let short = Batch::new(m.records("short", 2)).unwrap();
    let short_id = m.commit_batch(&short, U256::from(1_000_000_000u64), "commitBatch").await;
    let mut draws = Vec::new();
    for (n, id, ..) in &batches {
        draws.push(m.seal_batch(*id, &format!("sealBatch (N={n})")).await);
    }
    m.seal_batch(short_id, "sealBatch").await;
    m.advance(m.params.batch_window + 1).await;

    for ((n, id, batch, records), draw_hash) in batches.iter().zip(draws) {
        let claims: Vec<Vec<B256>> = records
            .iter()
            .filter(|r| !m.challenged(draw_hash, r)) // about one in 4 000 runs at 1 ppm
            .map(|record| {
                let (r, proof) = batch.proof(record.job_key).unwrap();
                r.claim(&proof)
            })
            .collect();
        m.gas.count(format!("records claimed (N={n})"), claims.len() as u64);
        // At most 128 claims per transaction keeps it well under the 128 KiB transaction limit.
        for chunk in claims.chunks(128) {
            let call = IJobMarket::claimBatchJobsCall { batchId: *id, claims: chunk.to_vec() };
            let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
            m.gas.add(format!("claimBatchJobs (N={n})"), &receipt);
        }
        assert_eq!(m.batch_paid(*id).await, records.iter().map(|r| r.fee).sum::<U256>());
    }
    let records = m.records("short", 2);
    let (r, proof) = short.proof(records[0].job_key).unwrap();
    m.send(&m.owner, m.market, claim_call(short_id, r, proof), U256::ZERO).await;
    let (r, proof) = short.proof(records[1].job_key).unwrap();
    let e: IJobMarket::EscrowExceeded =
        m.revert(&m.owner, m.market, claim_call(short_id, r, proof)).await;
    assert_eq!((e.escrow, e.needed), (records[0].fee, records[0].fee + records[1].fee));
}

/// A batch sealed more than 256 blocks after its commit is drawn from the block before the seal
/// and every record may be opened, even one the coin would spare at p = 1 ppm.
pub(super) async fn a_late_seal_challenges_every_record(m: &mut Market) {
    let records = m.records("late", 2);
    let batch = Batch::new(records.clone()).unwrap();
    let id = m.commit_batch(&batch, records.iter().map(|r| r.fee).sum(), "commitBatch").await;
    let previous = m.mine_blocks(257).await;
    let call = IJobMarket::sealBatchCall { batchId: id };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    let sealed = event::<IJobMarket::BatchSealed>(&receipt, m.market);
    assert_eq!((sealed.drawHash, sealed.late), (previous, true));
    let record = records.iter().find(|r| !m.challenged(previous, r)).expect("1 ppm spares one");
    let expected = m.expected_validators(m.record_seed(previous, record), record.asserter).await;
    let (r, proof) = batch.proof(record.job_key).unwrap();
    let receipt = m.send(&m.owner, m.market, open_call(id, r, proof), U256::ZERO).await;
    let job = event::<IJobMarket::BatchJobOpened>(&receipt, m.market).jobId;
    assert_eq!(event::<ISampling::ChallengeDrawn>(&receipt, m.sampling).validators, expected);
    let votes: Vec<_> = expected.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, r.job_key, &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// The draw of a sealed batch is final: a record the coin spared under the p in force when the
/// batch was committed stays claimable after the owner raises p (the batch keeps its p and its
/// window end), so no fee is locked by `ChallengedNotOpened` after `BatchWindowClosed`.
#[tokio::test]
async fn a_sealed_batch_draw_survives_a_parameter_change() {
    let mut m = Market::deploy().await;
    m.set_challenge_ppm(RARELY).await;
    let records = m.records("retro", 1);
    let batch = Batch::new(records.clone()).unwrap();
    let id = m.commit_batch(&batch, records[0].fee, "commitBatch").await;
    let draw_hash = m.seal_batch(id, "sealBatch").await;
    assert!(!m.challenged(draw_hash, &records[0]), "1 ppm spares it");
    m.advance(m.params.batch_window + 1).await;
    m.set_challenge_ppm(ALWAYS).await;
    let (r, proof) = batch.proof(records[0].job_key).unwrap();
    m.send(&m.owner, m.market, claim_call(id, r, proof), U256::ZERO).await;
    assert_eq!(m.fee_balance(r.asserter).await, r.fee);
}
