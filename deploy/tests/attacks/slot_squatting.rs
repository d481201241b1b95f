//! Attack 9, server-slot squatting: a model has 64 server slots. An attacker fills the free ones
//! with sybils staked at the minimum, so that honest miners cannot serve the model and the
//! sybils become every asserter and validator its draws pick.
//!
//! Before the fix, `serve` on a full model reverted `TooManyServers` for anyone, and a sybil that
//! withdrew its stake kept its slot. Now the slots go to stake: a newcomer heavier than the
//! lightest server takes its slot (`OutWeighed` otherwise), and anyone evicts a server that is no
//! longer eligible. The attacker locks no one out, and a sybil that leaves with its stake
//! leaves its slot too.

use crate::*;

/// The number of server slots of a model (`ModelRegistry::MAX_SERVERS`).
const SLOTS: usize = 64;

fn sybil_key(i: usize) -> B256 {
    keccak256(format!("assay attack sybil {i}"))
}

/// The server `newcomer` would displace from a full model, as the registry picks it (the first
/// of lowest weight), and that weight.
async fn lightest(m: &Market, newcomer: Address) -> (Address, U256) {
    let servers = m.view(m.registry, IModelRegistry::serversCall { modelId: m.model }).await;
    let mut operators = servers.clone();
    operators.push(newcomer);
    let weights = m.view(m.staking, IStaking::weightsCall { operators }).await;
    let i = (0..servers.len()).min_by_key(|&i| (weights[i], i)).expect("servers");
    (servers[i], weights[i])
}

/// Attack 9: sybils at the minimum stake fill every free slot; an honest miner with more stake
/// still gets in (in place of the lightest server), and a sybil that starts unbonding is
/// evicted by anyone, its slot free again.
pub(crate) async fn sybils_cannot_squat_a_models_server_slots(m: &mut Market) {
    let servers = m.view(m.registry, IModelRegistry::serversCall { modelId: m.model }).await;
    let free = SLOTS - servers.len();
    let minimum = m.view(m.staking, IStaking::minStakeCall { role: 1 }).await;
    // The attacker: one sybil per free slot, plus one more.
    let sybils: Vec<Actor> = (0..=free).map(|i| Actor::new(&m.node, sybil_key(i))).collect();
    let honest = Actor::new(&m.node, keccak256("assay attack honest newcomer"));
    let mut accounts: Vec<Address> = sybils.iter().map(|a| a.address).collect();
    accounts.push(honest.address);
    let signer = PrivateKeySigner::from_bytes(&genesis::DEV_KEY).expect("the deployer");
    let funding = Funding { accounts, eth: assay(1), assay: minimum.saturating_mul(U256::from(4)) };
    assay_deploy::fund(&m.node.url(), signer, &m.deployment, &funding, true).await.expect("funded");
    let serve = IModelRegistry::serveCall { modelId: m.model };
    for sybil in &sybils[..free] {
        m.stake(sybil, 1, minimum).await;
        m.send(sybil, m.registry, serve.clone(), U256::ZERO).await;
    }
    let full = m.view(m.registry, IModelRegistry::serversCall { modelId: m.model }).await;
    assert_eq!(full.len(), SLOTS, "every slot taken");

    // One more sybil, staked, waits for a slot (the registry's unit tests refuse one no heavier
    // than the lightest server with `OutWeighed`).
    let extra = &sybils[free];
    m.stake(extra, 1, minimum).await;

    // The honest miner stakes four times the minimum: it gets in, in place of the lightest.
    m.stake(&honest, 1, minimum.saturating_mul(U256::from(4))).await;
    let (displaced, displaced_weight) = lightest(m, honest.address).await;
    let receipt = m.send(&honest, m.registry, serve.clone(), U256::ZERO).await;
    m.gas.add("ModelRegistry.serve (full: displaces the lightest)", &receipt);
    let stopped = events::<IModelRegistry::ServingStopped>(&receipt, m.registry);
    assert_eq!(stopped.iter().map(|e| e.miner).collect::<Vec<_>>(), vec![displaced]);
    let after = m.view(m.registry, IModelRegistry::serversCall { modelId: m.model }).await;
    assert_eq!(after.len(), SLOTS);
    assert!(after.contains(&honest.address) && !after.contains(&displaced));
    println!(
        "slot squatting: {free} sybils filled the free slots; the honest newcomer took the slot \
         of the lightest server, {displaced} (weight {displaced_weight})"
    );

    // A sybil that starts unbonding (its own stake below the minimum) is evicted by anyone; an
    // eligible one is not.
    let serving: Vec<&Actor> =
        sybils[..free].iter().filter(|s| after.contains(&s.address)).collect();
    let (leaving, staying) = (serving[0], serving[1]);
    let evict = |miner| IModelRegistry::evictCall { modelId: m.model, miner };
    let e =
        m.revert::<IModelRegistry::NotEvictable>(&honest, m.registry, evict(staying.address)).await;
    assert_eq!(e.miner, staying.address);
    let shares = m
        .view(
            m.staking,
            IStaking::sharesOfCall { operator: leaving.address, staker: leaving.address },
        )
        .await;
    let unstake = IStaking::requestUnstakeCall { operator: leaving.address, shares };
    m.send(leaving, m.staking, unstake, U256::ZERO).await;
    let receipt = m.send(&honest, m.registry, evict(leaving.address), U256::ZERO).await;
    m.gas.add("ModelRegistry.evict", &receipt);
    let stopped = event::<IModelRegistry::ServingStopped>(&receipt, m.registry);
    assert_eq!(stopped.miner, leaving.address);
    let last = m.view(m.registry, IModelRegistry::serversCall { modelId: m.model }).await;
    assert!(!last.contains(&leaving.address), "the unbonding sybil left its slot");
    assert_eq!(last.len(), SLOTS - 1);
    // The slot it left is free again: the extra sybil takes it without displacing anyone.
    let receipt = m.send(extra, m.registry, serve, U256::ZERO).await;
    assert!(events::<IModelRegistry::ServingStopped>(&receipt, m.registry).is_empty());
}
