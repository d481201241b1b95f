//! On-chain jobs: challenged, disputed (games won on time both ways), unchallenged, drawn late,
//! timed out, refunded.

use super::*;

/// p = 100 %: the job is challenged, three validators agree with the asserter, the fee is paid
/// less the user's discount and R_A, R_V accrue.
pub(super) async fn challenged_job_is_accepted(m: &mut Market, epoch: u64) {
    let (job, asserter) = m.submit_and_assign().await;
    let stranger = m.other_miners(asserter)[0];
    let call = IJobMarket::assertResultCall { jobId: job, outputHash: OUT, traceRoot: TRACE };
    let e: IJobMarket::NotAsserter = m.revert(m.miner(stranger), m.market, call.clone()).await;
    assert_eq!((e.jobId, e.account), (job, stranger));
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let e: IJobMarket::WrongStatus = m.revert(m.miner(asserter), m.market, call).await;
    assert_eq!((e.jobId, e.status), (job, 3));

    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let distinct: BTreeSet<_> = validators.iter().copied().collect();
    assert_eq!(distinct.len(), usize::from(m.params.validators), "{validators:?}");
    assert!(!distinct.contains(&asserter), "never the asserter");
    let key = onchain_job_key(job);

    // Reveals open once everyone committed; finalising waits for every reveal.
    m.commit_validation(job, key, validators[0], OUT).await;
    let early = ISampling::revealValidationCall {
        jobId: job,
        outputHash: OUT,
        traceRoot: m.trace_of(OUT),
        salt: keccak256(validators[0]),
    };
    let e: ISampling::RevealNotOpen = m.revert(m.miner(validators[0]), m.sampling, early).await;
    assert_eq!(e.jobId, job);
    let e: ISampling::NotValidator = m
        .revert(
            m.miner(asserter),
            m.sampling,
            ISampling::commitValidationCall { jobId: job, commitment: B256::ZERO },
        )
        .await;
    assert_eq!(e.account, asserter);
    for v in &validators[1..] {
        m.commit_validation(job, key, *v, OUT).await;
    }
    let lie = ISampling::revealValidationCall {
        jobId: job,
        outputHash: WRONG,
        traceRoot: m.trace_of(OUT),
        salt: keccak256(validators[0]),
    };
    let e: ISampling::CommitmentMismatch = m.revert(m.miner(validators[0]), m.sampling, lie).await;
    assert_eq!(e.validator, validators[0]);
    m.reveal_validation(job, validators[0], OUT).await;
    let e: ISampling::ChallengeStillOpen =
        m.revert(&m.owner, m.sampling, ISampling::finalizeChallengeCall { jobId: job }).await;
    assert_eq!(e.jobId, job);
    for v in &validators[1..] {
        m.reveal_validation(job, *v, OUT).await;
    }

    let (fees_before, reputation_before) =
        (m.fee_balance(asserter).await, m.pool(asserter).await.1);
    let receipt = m.finalize(job, "finalizeChallenge (accepted)").await;
    let accepted = event::<IJobMarket::JobAccepted>(&receipt, m.market);
    assert_eq!(
        (accepted.jobId, accepted.asserter, accepted.outputHash, accepted.challenged),
        (job, asserter, OUT, true)
    );
    assert_eq!(m.job_status(job).await, ACCEPTED);
    assert_eq!(m.view(m.sampling, ISampling::challengeCall { jobId: job }).await.status, ACCEPTED);
    let cut = discount(job_fee(), &m.params);
    assert_eq!(m.fee_balance(asserter).await - fees_before, job_fee() - cut);
    assert_eq!(m.fee_balance(m.requester.address).await, cut);
    assert_eq!(m.pool(asserter).await.1, reputation_before + 10);
    let accrued = events::<IJobMarket::RewardAccrued>(&receipt, m.market);
    let share = m.params.validator_reward / U256::from(3u8);
    for v in &validators {
        assert!(accrued.iter().any(|a| (a.epoch, a.operator, a.amount) == (epoch, *v, share)));
    }
    assert!(accrued.iter().any(|a| (a.operator, a.amount) == (asserter, m.params.asserter_reward)));
}

/// One validator reveals another hash: disputed, asserter and dissenter frozen, one dispute game
/// (the asserter defends). The dissenter never plays: it loses on time, is slashed, and the right
/// parties share half the slash.
pub(super) async fn a_lying_validator_loses_its_game_on_time(m: &mut Market, epoch: u64) {
    // The asserter's trace: three leaves under `tree` (the game only checks openings here).
    let tree = keccak256("the asserter's tree");
    m.traces.insert(OUT, B256::from(assay_engine::trace::root(3, &OUT.0, &tree.0)));
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let dissenter = validators[2];
    let votes = [(validators[0], OUT), (validators[1], OUT), (dissenter, WRONG)];
    m.validate(job, onchain_job_key(job), &votes).await;

    let receipt = m.finalize(job, "finalizeChallenge (disputed, 1 game)").await;
    let disputed = event::<ISampling::JobDisputed>(&receipt, m.sampling);
    assert_eq!((disputed.asserter, disputed.dissenters), (asserter, vec![dissenter]));
    assert_eq!(m.job_status(job).await, DISPUTED);
    let frozen = events::<IStaking::FreezeChanged>(&receipt, m.staking);
    assert_eq!(frozen.len(), 2);
    for party in [asserter, dissenter] {
        assert_eq!(m.pool(party).await.2, 1, "{party} frozen");
        assert!(
            !m.view(
                m.staking,
                IStaking::isEligibleCall { operator: party, role: Role::Miner.into() }
            )
            .await
        );
    }
    let top_up = IStaking::stakeCall { operator: asserter, amount: assay(1) };
    let e: IStaking::StakeFrozen = m.revert(m.miner(validators[0]), m.staking, top_up).await;
    assert_eq!(e.operator, asserter);
    let opened = event::<IDisputeGame::GameOpened>(&receipt, m.game);
    assert_eq!((opened.jobId, opened.defender, opened.challenger), (job, asserter, dissenter));
    let game = opened.gameId;
    assert_eq!(
        m.view(m.game, IDisputeGame::gameOfCall { jobId: job, challenger: dissenter }).await,
        game
    );
    // No address but the game reports verdicts.
    let verdict = ISampling::gameEndedCall { jobId: job, challenger: dissenter, outcome: 1 };
    let e: ISampling::NotDisputeGame = m.revert(&m.owner, m.sampling, verdict).await;
    assert_eq!(e.account, m.owner.address);

    // The asserter opens its root; the dissenter never answers.
    let open = IDisputeGame::openRootCall { gameId: game, nLeaves: 3, treeRoot: tree };
    let receipt = m.send(m.miner(asserter), m.game, open, U256::ZERO).await;
    m.gas.add("DisputeGame.openRoot", &receipt);
    let e: IDisputeGame::ClockRunning =
        m.revert(&m.owner, m.game, IDisputeGame::timeoutCall { gameId: game }).await;
    assert_eq!(e.gameId, game);
    m.advance(m.clock + 1).await;

    let dissenter_before = m.pool(dissenter).await;
    let accrued_before = m.accrued(epoch, validators[0]).await;
    let fees_before = m.fee_balance(asserter).await;
    let receipt = m.timeout(game, "DisputeGame.timeout (last game: settles the job)").await;
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::DefenderWon as u8);
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    assert_eq!((settled.status, settled.losers), (ACCEPTED, vec![dissenter]));
    let slashed = event::<IStaking::Slashed>(&receipt, m.staking);
    assert_eq!((slashed.operator, slashed.amount), (dissenter, m.params.slash_amount));
    assert_eq!(m.job_status(job).await, ACCEPTED);
    let dissenter_after = m.pool(dissenter).await;
    assert_eq!(dissenter_after.0, dissenter_before.0 - m.params.slash_amount);
    assert_eq!(dissenter_after.1, dissenter_before.1 - 5_000);
    for party in [asserter, dissenter] {
        assert_eq!(m.pool(party).await.2, 0, "{party} unfrozen");
    }
    // Three winners share half the slash; the two right validators also share R_V.
    let expected =
        m.params.slash_amount / U256::from(6u8) + m.params.validator_reward / U256::from(2u8);
    assert_eq!(m.accrued(epoch, validators[0]).await - accrued_before, expected);
    let cut = discount(job_fee(), &m.params);
    assert_eq!(m.fee_balance(asserter).await - fees_before, job_fee() - cut);
    m.traces.clear();
}

/// The asserter claims a wrong hash and every validator contradicts it: three games, which the
/// silent asserter loses on time; the job is rejected, the asserter slashed and the requester
/// gets its fee back.
pub(super) async fn a_silent_asserter_loses_every_game(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, WRONG, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    let receipt = m.finalize(job, "finalizeChallenge (disputed, 3 games)").await;
    assert_eq!(event::<ISampling::JobDisputed>(&receipt, m.sampling).dissenters, validators);
    let games: Vec<U256> =
        events::<IDisputeGame::GameOpened>(&receipt, m.game).iter().map(|g| g.gameId).collect();
    assert_eq!(games.len(), 3);
    for miner in m.miners.iter().map(|a| a.address) {
        let playing = miner == asserter || validators.contains(&miner);
        assert_eq!(m.pool(miner).await.2, u32::from(playing), "{miner} frozen while it plays");
    }

    m.advance(m.clock + 1).await;
    for game in &games[..2] {
        let receipt = m.timeout(*game, "DisputeGame.timeout").await;
        assert!(events::<ISampling::DisputeSettled>(&receipt, m.sampling).is_empty());
        assert_eq!(m.job_status(job).await, DISPUTED, "a game is still running");
    }
    let refunds_before = m.fee_balance(m.requester.address).await;
    let asserter_before = m.pool(asserter).await.0;
    let receipt = m.timeout(games[2], "DisputeGame.timeout (last game: settles the job)").await;
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    assert_eq!((settled.status, settled.losers), (REJECTED, vec![asserter]));
    let refunded = event::<IJobMarket::JobRefunded>(&receipt, m.market);
    assert_eq!((refunded.to, refunded.amount), (m.requester.address, job_fee()));
    assert_eq!(m.job_status(job).await, REJECTED);
    assert_eq!(m.view(m.sampling, ISampling::challengeCall { jobId: job }).await.status, REJECTED);
    assert_eq!(m.fee_balance(m.requester.address).await - refunds_before, job_fee());
    assert_eq!(m.pool(asserter).await.0, asserter_before - m.params.slash_amount);
    for miner in m.miners.iter().map(|a| a.address) {
        assert_eq!(m.pool(miner).await.2, 0, "{miner} unfrozen");
    }
}

/// p = 1 ppm with the default cheat cost C = 1 ASSAY breaks p * (1 - r^n) * (R_A + S) > C.
pub(super) async fn unsafe_parameters_are_refused(m: &Market) {
    let mut unsafe_params = m.params.clone();
    unsafe_params.challenge_ppm = RARELY;
    unsafe_params.cheat_cost = Params::default_params().market.cheat_cost;
    let call = unsafe_params.set_params_call();
    let e: ISampling::HonestyConditionViolated = m.revert(&m.owner, m.sampling, call).await;
    assert!(e.expectedLossScaled <= e.cheatCostScaled, "{e:?}");
    let mine = m.params.set_params_call();
    let e: IOwnable::OwnableUnauthorizedAccount = m.revert(&m.miners[0], m.sampling, mine).await;
    assert_eq!(e.account, m.miners[0].address);
}

/// p = 1 ppm: the coin does not fire; the asserter gets the whole fee. A dApp's callback
/// receives the result.
pub(super) async fn unchallenged_job_is_accepted(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let before = m.fee_balance(asserter).await;
    let drawn = m.draw_challenge(job, asserter, seed, false).await;
    assert!(drawn.is_empty(), "1 ppm does not fire here");
    assert_eq!(m.fee_balance(asserter).await - before, job_fee());
    let e: IJobMarket::WrongStatus =
        m.revert(&m.owner, m.market, IJobMarket::drawChallengeCall { jobId: job }).await;
    assert_eq!(e.status, ACCEPTED);

    let consumer = m.install(Address::repeat_byte(0xca), &RECORDING_CONSUMER).await;
    let deadline = m.now().await + 86_400;
    let (job, block) = m.submit_job(consumer, deadline).await;
    let asserter = m.assign(job, block).await;
    let seed = m.assert_result(job, asserter, OUT, B256::ZERO).await;
    assert!(!draw::is_challenged(seed, m.params.challenge_ppm), "1 ppm does not fire here");
    let call = IJobMarket::drawChallengeCall { jobId: job };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    m.gas.add("drawChallenge (not challenged, callback stores 2 words)", &receipt);
    assert_eq!(m.job_status(job).await, ACCEPTED);
    let slot = |i: u8| m.owner.p.get_storage_at(consumer, U256::from(i));
    assert_eq!((slot(0).await.unwrap(), slot(1).await.unwrap()), (job, OUT.into()));
}

/// A draw made more than 256 blocks after the assertion can no longer read its block hash, so it
/// counts as challenged whatever p is (validators drawn from the hash of the block before).
pub(super) async fn a_late_draw_is_challenged(m: &mut Market) {
    let (job, asserter) = m.submit_and_assign().await;
    m.assert_result(job, asserter, OUT, B256::ZERO).await;
    let previous = m.mine_blocks(257).await;
    let seed = draw::challenge_seed(B256::ZERO, previous, onchain_job_key(job));
    let validators = m.draw_challenge(job, asserter, seed, true).await;
    let votes: Vec<_> = validators.iter().map(|v| (*v, OUT)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    m.finalize(job, "finalizeChallenge (accepted)").await;
    assert_eq!(m.job_status(job).await, ACCEPTED);
}

/// An asserter that misses its timeout loses reputation and the job is drawn again (a failing
/// callback then only logs); a job nobody served by its deadline is refunded.
pub(super) async fn missed_deadlines_are_handled(m: &mut Market) {
    let consumer = m.install(Address::repeat_byte(0xcb), &REVERTING_CONSUMER).await;
    let deadline = m.now().await + 3_600;
    let (job, block) = m.submit_job(consumer, deadline).await;
    let asserter = m.assign(job, block).await;
    let timeout = IJobMarket::timeoutJobCall { jobId: job };
    let e: IJobMarket::NotTimedOut = m.revert(&m.owner, m.market, timeout.clone()).await;
    assert_eq!(e.jobId, job);
    m.advance(m.params.assert_timeout + 1).await;
    let late = IJobMarket::assertResultCall { jobId: job, outputHash: OUT, traceRoot: TRACE };
    let e: IJobMarket::DeadlinePassed = m.revert(m.miner(asserter), m.market, late).await;
    assert!(e.timestamp > e.deadline);

    let reputation = m.pool(asserter).await.1;
    let receipt = m.send(&m.owner, m.market, timeout, U256::ZERO).await;
    m.gas.add("timeoutJob (redraw)", &receipt);
    let timed_out = event::<IJobMarket::AssignmentTimedOut>(&receipt, m.market);
    assert_eq!((timed_out.jobId, timed_out.asserter), (job, asserter));
    assert_eq!(m.pool(asserter).await.1, reputation.saturating_sub(500));
    assert_eq!(m.job_status(job).await, SUBMITTED);
    let again = m.assign(job, receipt.block_hash.unwrap()).await;
    let seed = m.assert_result(job, again, OUT, B256::ZERO).await;
    let call = IJobMarket::drawChallengeCall { jobId: job };
    assert!(!draw::is_challenged(seed, m.params.challenge_ppm), "1 ppm does not fire here");
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    let failed = event::<IJobMarket::CallbackFailed>(&receipt, m.market);
    assert_eq!((failed.jobId, failed.callback), (job, consumer));
    assert_eq!(m.job_status(job).await, ACCEPTED);

    let (job, _) = m.submit_job(Address::ZERO, m.now().await + 60).await;
    m.advance(61).await;
    let refunds = m.fee_balance(m.requester.address).await;
    let call = IJobMarket::timeoutJobCall { jobId: job };
    let receipt = m.send(&m.owner, m.market, call, U256::ZERO).await;
    m.gas.add("timeoutJob (refund)", &receipt);
    let refunded = event::<IJobMarket::JobRefunded>(&receipt, m.market);
    assert_eq!((refunded.to, refunded.amount), (m.requester.address, job_fee()));
    assert_eq!(m.job_status(job).await, REFUNDED);
    assert_eq!(m.fee_balance(m.requester.address).await - refunds, job_fee());
}
