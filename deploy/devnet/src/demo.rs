//! `--demo`: a batch of chat and embedding requests through the HTTP API, then a report of what
//! the network did with them: served, challenged, matched, disputed, the dispute games played on
//! chain, per miner, and gas.

use std::{collections::BTreeMap, fmt, time::Duration};

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use assay_chain::Client;
use assay_protocol::bindings::IJobMarket;
use eyre::{Result, WrapErr, bail};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::{
    games,
    network::{API_KEY, Network},
};

const PROMPTS: [&str; 6] = [
    "What is the capital of France?",
    "Name three primary colours.",
    "Write a haiku about the sea.",
    "What is 12 times 12?",
    "Give one tip for learning Rust.",
    "Why is the sky blue?",
];

/// What one miner did.
#[derive(Debug, Default)]
pub struct MinerLine {
    /// Started with `--dishonest`.
    pub dishonest: bool,
    /// Jobs it asserted.
    pub asserted: usize,
    /// Jobs it re-executed as a validator.
    pub validated: usize,
    /// Flags the coordinator raised against it (bad receipts, minority hashes, failed canaries).
    pub flagged: usize,
    /// Its ETH fee balance in the JobMarket, when the JobMarket is deployed.
    pub fee_balance: Option<U256>,
}

/// The demo's outcome.
#[derive(Debug, Default)]
pub struct Report {
    /// Jobs that got an answer.
    pub served: usize,
    /// Requests or jobs that failed.
    pub failed: usize,
    /// Jobs re-executed by validators.
    pub challenged: usize,
    /// Challenged jobs where every validator agreed.
    pub matched: usize,
    /// Challenged jobs where some validator disagreed.
    pub disputed: usize,
    /// Per miner.
    pub miners: BTreeMap<Address, MinerLine>,
    /// Gas of every block before the demo (deployment, funding, staking, serving).
    pub setup_gas: u128,
    /// Gas of the blocks during the demo (batch settlement).
    pub demo_gas: u128,
    /// Distinct on-chain batches the demo's jobs were committed in.
    pub batches: usize,
    /// Records claimed for their asserters (unchallenged on chain).
    pub claimed: usize,
    /// Records the on-chain draw challenged, settled through Sampling.
    pub opened: usize,
    /// The dispute games played on chain.
    pub games: Vec<games::GameLine>,
    /// What the arbitrator did, from its `/metrics`, when one runs.
    pub arbitrator: Option<ArbitratorLine>,
}

/// The arbitrator's counters (`verifier arbitrate`'s `/metrics`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArbitratorLine {
    /// Jobs it replayed.
    pub checked: u64,
    /// Of those, assertions it found right.
    pub agreed: u64,
    /// Bonded claims it filed.
    pub claims: u64,
    /// Its games won.
    pub won: u64,
}

impl ArbitratorLine {
    /// Reads the counters from the Prometheus text of `/metrics`.
    pub fn parse(metrics: &str) -> Self {
        let value = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or_default()
        };
        Self {
            checked: value("assay_arbitrator_jobs_checked_total "),
            agreed: value("assay_arbitrator_jobs_agreed_total "),
            claims: value("assay_arbitrator_claims_total "),
            won: value("assay_arbitrator_games_total{outcome=\"won\"} "),
        }
    }
}

/// Sends the requests, waits for sampling to finish and collects the report.
pub async fn run(net: &Network, jobs_per_kind: usize) -> Result<Report> {
    let client = reqwest::Client::new();
    let api = net.api();
    let rpc = net.node.url();
    let gas_before = gas_used(&client, &rpc).await?;
    println!("==> demo: {jobs_per_kind} chat and {jobs_per_kind} embedding requests");

    let chats = (0..jobs_per_kind).map(|i| {
        let body = json!({
            "model": "smollm2",
            "messages": [{"role": "user", "content": PROMPTS[i % PROMPTS.len()]}],
            "max_tokens": 12,
        });
        post(&client, format!("{api}/chat/completions"), body)
    });
    let embeds = (0..jobs_per_kind).map(|i| {
        let body = json!({"model": "minilm", "input": PROMPTS[i % PROMPTS.len()]});
        post(&client, format!("{api}/embeddings"), body)
    });
    let (chats, embeds) = futures::join!(join_all(chats), join_all(embeds));
    let mut report = Report::default();
    let mut ids = Vec::new();
    for (i, r) in chats.into_iter().chain(embeds).enumerate() {
        match r {
            Ok(v) => {
                if let Some(text) = v["choices"][0]["message"]["content"].as_str() {
                    println!("    chat {i}: {text:?}");
                }
                // A chat completion carries one job, an embedding list one per input.
                let jobs = v["assay"]["jobs"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![v["assay"].clone()]);
                ids.extend(jobs.iter().filter_map(|j| j["job_id"].as_str().map(str::to_owned)));
            }
            Err(e) => {
                println!("    request {i} failed: {e:#}");
                report.failed += 1;
            }
        }
    }

    println!("==> waiting for sampling (challenged jobs are re-executed by validators)");
    settle(&client, &api, &ids, Duration::from_secs(600), |j| {
        !matches!(j["status"].as_str(), Some("pending" | "assigned" | "challenged"))
    })
    .await?;
    println!(
        "==> waiting for on-chain settlement (batch committed, sealed, records claimed; a \
         record disputed on chain waits for its dispute games, which the workers play; one \
         disputed off chain is escalated: the arbitrator checks it and claims against a wrong \
         one, and plays that game)"
    );
    let jobs = settle(&client, &api, &ids, Duration::from_secs(420), |j| {
        j["status"] == "failed"
            || matches!(
                j["settlement"].as_str(),
                Some("claimed" | "accepted" | "rejected" | "expired")
            )
    })
    .await?;
    for (address, dishonest) in &net.workers {
        report.miners.insert(*address, MinerLine { dishonest: *dishonest, ..Default::default() });
    }
    let mut batches = std::collections::BTreeSet::new();
    for job in &jobs {
        report.served += 1;
        let status = job["status"].as_str().unwrap_or_default();
        let validators = job["validators"].as_array().map_or(0, Vec::len);
        if validators > 0 {
            report.challenged += 1;
        }
        match status {
            "matched" => report.matched += 1,
            "disputed" => report.disputed += 1,
            "failed" => report.failed += 1,
            _ => {}
        }
        if let Some(a) = job["asserter"].as_str().and_then(|a| a.parse::<Address>().ok()) {
            report.miners.entry(a).or_default().asserted += 1;
        }
        for v in job["validators"].as_array().into_iter().flatten() {
            if let Some(a) = v["address"].as_str().and_then(|a| a.parse::<Address>().ok()) {
                report.miners.entry(a).or_default().validated += 1;
            }
        }
        if let Some(b) = job["transactions"]["batch_id"].as_str() {
            batches.insert(b.to_owned());
        }
        match job["settlement"].as_str() {
            Some("claimed") => report.claimed += 1,
            Some("accepted" | "disputed" | "rejected") => report.opened += 1,
            _ => {}
        }
    }
    report.batches = batches.len();
    let flags: Value = client
        .get(format!("{api}/flags"))
        .bearer_auth(API_KEY)
        .send()
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    for f in flags["data"].as_array().into_iter().flatten() {
        if let Some(a) = f["worker"].as_str().and_then(|a| a.parse::<Address>().ok()) {
            report.miners.entry(a).or_default().flagged += 1;
        }
    }
    if let Ok(market) = net.manifest.contract("JobMarket") {
        for (address, line) in &mut report.miners {
            line.fee_balance = fee_balance(&client, &rpc, market, *address).await.ok();
        }
    }
    if let Ok(game) = net.manifest.contract("DisputeGame") {
        let sampling = net.manifest.contract("Sampling")?;
        let chain = Client::new(&rpc, net.manifest.chain_id, None)?;
        report.games = games::played(&chain, game, sampling).await?;
    }
    if let Some(url) = &net.arbitrator_metrics {
        let text = client.get(url).send().await?.text().await?;
        report.arbitrator = Some(ArbitratorLine::parse(&text));
    }
    let gas_after = gas_used(&client, &rpc).await?;
    report.setup_gas = gas_before;
    report.demo_gas = gas_after.saturating_sub(gas_before);
    Ok(report)
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Result<Value> {
    let response = client.post(&url).bearer_auth(API_KEY).json(&body).send().await?;
    let status = response.status();
    let value: Value = response.json().await.wrap_err("response is not JSON")?;
    if !status.is_success() {
        bail!("HTTP {status}: {}", value["error"]["message"]);
    }
    Ok(value)
}

/// Polls every job until `done` holds for all of them.
async fn settle(
    client: &reqwest::Client,
    api: &str,
    ids: &[String],
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<Vec<Value>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut jobs = Vec::new();
        for id in ids {
            let job: Value = client
                .get(format!("{api}/jobs/{id}"))
                .bearer_auth(API_KEY)
                .send()
                .await?
                .json()
                .await?;
            jobs.push(job);
        }
        let open = jobs.iter().filter(|j| !done(j)).count();
        if open == 0 {
            return Ok(jobs);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{open} job(s) still open after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn rpc(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let v: Value = client.post(url).json(&body).send().await?.json().await?;
    if let Some(e) = v.get("error") {
        bail!("{method}: {e}");
    }
    Ok(v["result"].clone())
}

fn quantity(v: &Value) -> u128 {
    v.as_str().and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok()).unwrap_or(0)
}

/// Gas used by every block so far.
async fn gas_used(client: &reqwest::Client, url: &str) -> Result<u128> {
    let head = quantity(&rpc(client, url, "eth_blockNumber", json!([])).await?);
    let mut total = 0u128;
    for n in 0..=head {
        let block =
            rpc(client, url, "eth_getBlockByNumber", json!([format!("0x{n:x}"), false])).await?;
        total += quantity(&block["gasUsed"]);
    }
    Ok(total)
}

async fn fee_balance(
    client: &reqwest::Client,
    url: &str,
    market: Address,
    account: Address,
) -> Result<U256> {
    let data = IJobMarket::feeBalanceCall { account }.abi_encode();
    let tx = json!({"to": market, "data": alloy_primitives::hex::encode_prefixed(data)});
    let out = rpc(client, url, "eth_call", json!([tx, "latest"])).await?;
    let bytes = alloy_primitives::hex::decode(out.as_str().unwrap_or_default())?;
    Ok(IJobMarket::feeBalanceCall::abi_decode_returns(&bytes)?)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        writeln!(f, "Demo report")?;
        writeln!(
            f,
            "  jobs served {}, failed {}, challenged {}, matched {}, disputed {}",
            self.served, self.failed, self.challenged, self.matched, self.disputed
        )?;
        writeln!(
            f,
            "  on chain: batches {}, records claimed {}, opened and settled by validators or claims {}",
            self.batches, self.claimed, self.opened
        )?;
        writeln!(
            f,
            "  gas: set-up {} (deploy, stake, serve), demo {}",
            self.setup_gas, self.demo_gas
        )?;
        if !self.games.is_empty() {
            writeln!(f, "  dispute games (the workers and the arbitrator play them):")?;
            for game in &self.games {
                writeln!(f, "    {game}")?;
            }
        }
        if let Some(a) = &self.arbitrator {
            writeln!(
                f,
                "  arbitrator: replayed {} jobs, {} right, {} bonded claims, {} games won",
                a.checked, a.agreed, a.claims, a.won
            )?;
        }
        writeln!(
            f,
            "  miner                                       asserted validated flagged fees (wei)"
        )?;
        for (address, m) in &self.miners {
            let fees = m.fee_balance.map_or_else(|| "n/a".to_owned(), |v| v.to_string());
            let note = if m.dishonest { "  (dishonest)" } else { "" };
            writeln!(
                f,
                "  {address}  {:>8} {:>9} {:>7} {fees}{note}",
                m.asserted, m.validated, m.flagged
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arbitrators_counters_are_read_from_its_metrics() {
        let text = "# HELP assay_arbitrator_jobs_checked_total Jobs replayed.\n\
            # TYPE assay_arbitrator_jobs_checked_total counter\n\
            assay_arbitrator_jobs_checked_total 3\n\
            assay_arbitrator_jobs_agreed_total 2\n\
            assay_arbitrator_claims_total 1\n\
            assay_arbitrator_games_total{outcome=\"won\"} 1\n\
            assay_arbitrator_games_total{outcome=\"lost\"} 0\n";
        let line = ArbitratorLine::parse(text);
        assert_eq!(line, ArbitratorLine { checked: 3, agreed: 2, claims: 1, won: 1 });
        assert_eq!(ArbitratorLine::parse(""), ArbitratorLine::default());
    }
}
