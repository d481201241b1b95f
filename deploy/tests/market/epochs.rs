//! Epoch seeds (commit, reveal, forfeit), reward claims and fee withdrawals.

use super::*;

/// A coordinator commits the seed of the next epoch; nobody can reveal it before it starts.
pub(super) async fn commit_the_next_epoch_seed(m: &mut Market, epoch: u64, seed: B256) {
    let next = epoch + 1;
    let commitment = seed_commitment(next, seed);
    let now = IJobMarket::commitEpochSeedCall { epoch, commitment };
    let e: IJobMarket::EpochNotFuture = m.revert(&m.coordinator, m.market, now).await;
    assert_eq!((e.epoch, e.current), (epoch, epoch));
    let call = IJobMarket::commitEpochSeedCall { epoch: next, commitment };
    let e: IJobMarket::NotCoordinator = m.revert(&m.miners[0], m.market, call.clone()).await;
    assert_eq!(e.account, m.miners[0].address);

    let receipt = m.send(&m.coordinator, m.market, call.clone(), U256::ZERO).await;
    m.gas.add("commitEpochSeed", &receipt);
    let committed = event::<IJobMarket::EpochSeedCommitted>(&receipt, m.market);
    assert_eq!((committed.epoch, committed.coordinator), (next, m.coordinator.address));
    let e: IJobMarket::SeedAlreadyCommitted = m.revert(&m.coordinator, m.market, call).await;
    assert_eq!(e.epoch, next);
    let early = IJobMarket::revealEpochSeedCall { epoch: next, seed };
    let e: IJobMarket::EpochNotStarted = m.revert(&m.owner, m.market, early).await;
    assert_eq!(e.epoch, next);
}

/// After the epoch, its rewards are minted into the operators' stake pools, once; every fee
/// balance is withdrawn in ETH.
pub(super) async fn rewards_and_fees_are_paid_after_the_epoch(m: &mut Market, epoch: u64) {
    let miner = m.miners[0].address;
    let call = IJobMarket::claimRewardsCall { epoch, operator: miner };
    let e: IJobMarket::EpochNotOver = m.revert(&m.owner, m.market, call).await;
    assert_eq!((e.epoch, e.current), (epoch, epoch));
    m.advance_to_epoch(epoch + 1).await;

    for miner in m.miners.iter().map(|a| a.address).collect::<Vec<_>>() {
        let amount = m.accrued(epoch, miner).await;
        assert!(amount > U256::ZERO, "{miner} earned rewards");
        let (assets, supply) =
            (m.pool(miner).await.0, m.view(m.token, IAssayToken::totalSupplyCall {}).await);
        let call = IJobMarket::claimRewardsCall { epoch, operator: miner };
        let receipt = m.send(&m.owner, m.market, call.clone(), U256::ZERO).await;
        m.gas.add("claimRewards", &receipt);
        assert_eq!(event::<IJobMarket::RewardClaimed>(&receipt, m.market).amount, amount);
        assert_eq!(m.pool(miner).await.0, assets + amount);
        assert_eq!(m.view(m.token, IAssayToken::totalSupplyCall {}).await, supply + amount);
        assert_eq!(m.accrued(epoch, miner).await, U256::ZERO);
        let e: IJobMarket::NothingToClaim = m.revert(&m.owner, m.market, call).await;
        assert_eq!(e.account, miner);
    }

    let mut earners: Vec<&Actor> = m.miners.iter().collect();
    earners.extend([&m.requester, &m.coordinator]);
    for who in earners {
        let amount = m.fee_balance(who.address).await;
        assert!(amount > U256::ZERO, "{} has fees", who.address);
        let before = m.owner.p.get_balance(who.address).await.unwrap();
        let receipt = m.send(who, m.market, IJobMarket::withdrawFeesCall {}, U256::ZERO).await;
        m.gas.add("withdrawFees", &receipt);
        assert_eq!(event::<IJobMarket::FeesWithdrawn>(&receipt, m.market).amount, amount);
        let spent = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
        assert_eq!(m.owner.p.get_balance(who.address).await.unwrap(), before + amount - spent);
        assert_eq!(m.fee_balance(who.address).await, U256::ZERO);
        let e: IJobMarket::NothingToClaim =
            m.revert(who, m.market, IJobMarket::withdrawFeesCall {}).await;
        assert_eq!(e.account, who.address);
    }
}

/// In the epoch with a committed seed, draws wait for its reveal; the revealed seed is mixed into
/// the challenge and validator draws exactly as an observer computes them.
pub(super) async fn the_revealed_seed_drives_the_next_epoch(
    m: &mut Market,
    epoch: u64,
    seed: B256,
) {
    m.set_challenge_ppm(ALWAYS).await;
    let (job, asserter) = m.submit_and_assign().await;
    let coin = m.assert_result(job, asserter, OUT, seed).await;
    let draw = IJobMarket::drawChallengeCall { jobId: job };
    let e: IJobMarket::SeedNotRevealed = m.revert(&m.owner, m.market, draw).await;
    assert_eq!(e.epoch, epoch);

    let wrong = IJobMarket::revealEpochSeedCall { epoch, seed: WRONG };
    let e: IJobMarket::SeedMismatch = m.revert(&m.owner, m.market, wrong).await;
    assert_eq!(e.epoch, epoch);
    let reveal = IJobMarket::revealEpochSeedCall { epoch, seed };
    let receipt = m.send(&m.owner, m.market, reveal.clone(), U256::ZERO).await;
    m.gas.add("revealEpochSeed", &receipt);
    assert_eq!(event::<IJobMarket::EpochSeedRevealed>(&receipt, m.market).seed, seed);
    let e: IJobMarket::SeedAlreadySettled = m.revert(&m.owner, m.market, reveal).await;
    assert_eq!(e.epoch, epoch);
    let stored = m.view(m.market, IJobMarket::epochSeedCall { epoch }).await;
    assert_eq!((stored.coordinator, stored.seed, stored.state), (m.coordinator.address, seed, 2));

    let validators = m.draw_challenge(job, asserter, coin, false).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// A seed committed and never revealed is forfeited after its epoch and the grace period: the
/// coordinator is slashed S, falls under its minimum stake and can no longer commit batches.
pub(super) async fn an_unrevealed_seed_is_forfeited(m: &mut Market, epoch: u64) {
    let call = IJobMarket::commitEpochSeedCall { epoch, commitment: seed_commitment(epoch, WRONG) };
    let receipt = m.send(&m.coordinator, m.market, call, U256::ZERO).await;
    m.gas.add("commitEpochSeed", &receipt);
    m.advance_to_epoch(epoch + 1).await;
    let forfeit = IJobMarket::forfeitEpochSeedCall { epoch };
    let e: IJobMarket::RevealGraceOpen = m.revert(&m.owner, m.market, forfeit.clone()).await;
    let (genesis, length) = m.view(m.market, IJobMarket::epochTimingCall {}).await.into();
    let closes_at = genesis + (epoch + 1) * length + m.params.seed_reveal_grace;
    assert_eq!((e.epoch, e.closesAt), (epoch, closes_at));
    m.advance(closes_at - m.now().await).await;

    let before = m.pool(m.coordinator.address).await.0;
    let receipt = m.send(&m.owner, m.market, forfeit, U256::ZERO).await;
    m.gas.add("forfeitEpochSeed", &receipt);
    let forfeited = event::<IJobMarket::EpochSeedForfeited>(&receipt, m.market);
    assert_eq!(
        (forfeited.coordinator, forfeited.slashed),
        (m.coordinator.address, m.params.slash_amount)
    );
    assert_eq!(m.pool(m.coordinator.address).await.0, before - m.params.slash_amount);
    assert_eq!(m.view(m.market, IJobMarket::epochSeedCall { epoch }).await.state, 3);
    let commit = IJobMarket::commitBatchCall { jobsRoot: B256::repeat_byte(1), jobCount: 1 };
    let e: IJobMarket::NotCoordinator = m.revert(&m.coordinator, m.market, commit).await;
    assert_eq!(e.account, m.coordinator.address);
}
