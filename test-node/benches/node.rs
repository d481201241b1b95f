//! Benchmark binary (`cargo bench -p assay-test-node --bench node`; add `--profile dev` for a
//! quick build). Prints, measured in one run:
//! - cold start of the `test-node` binary to its first answered request (goal < 0.5 s);
//! - `cargo stylus deploy --no-verify` wall time for the counter fixture (goal < 3 s), when
//!   cargo-stylus is installed;
//! - simple-transfer throughput against anvil (goal >= 0.5x anvil), when anvil is found
//!   (`ANVIL=/path/to/anvil` or on `PATH`).

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, TxKind, U256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use assay_test_node::genesis::ANVIL_ACCOUNTS;
use serde_json::{Value, json};

/// Transfers sent per node.
const TRANSFERS: u64 = 500;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A child process that is killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rpc(
    client: &reqwest::blocking::Client,
    url: &str,
    method: &str,
    params: Value,
) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .map_err(|err| err.to_string())?;
    let value: Value = serde_json::from_str(&response.text().map_err(|err| err.to_string())?)
        .map_err(|e| e.to_string())?;
    match value.get("error") {
        Some(error) => Err(error.to_string()),
        None => Ok(value["result"].clone()),
    }
}

/// Spawns a node process and waits until it answers `eth_chainId`; returns it with the time taken.
fn start(
    program: &PathBuf,
    args: &[String],
    url: &str,
    client: &reqwest::blocking::Client,
) -> (Process, Duration) {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let process = Process(child);
    loop {
        if rpc(client, url, "eth_chainId", json!([])).is_ok() {
            return (process, started.elapsed());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{} did not start", program.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends `TRANSFERS` signed transfers one after another; returns transactions per second.
fn transfers_per_second(client: &reqwest::blocking::Client, url: &str) -> f64 {
    let chain_id: u64 = u64::from_str_radix(
        rpc(client, url, "eth_chainId", json!([]))
            .unwrap()
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let signer = PrivateKeySigner::from_bytes(&ANVIL_ACCOUNTS[9].1).unwrap();
    let raw: Vec<String> = (0..TRANSFERS)
        .map(|nonce| {
            let tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 0,
                to: TxKind::Call(Address::repeat_byte(0x77)),
                value: U256::from(1),
                ..TxEip1559::default()
            };
            let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
            hex::encode_prefixed(TxEnvelope::from(tx.into_signed(signature)).encoded_2718())
        })
        .collect();
    let started = Instant::now();
    for tx in &raw {
        rpc(client, url, "eth_sendRawTransaction", json!([tx])).expect("transfer accepted");
    }
    // anvil may answer before mining: wait until every transfer is in a block.
    let mined = json!(format!("{TRANSFERS:#x}"));
    while rpc(client, url, "eth_getTransactionCount", json!([signer.address(), "latest"])).unwrap()
        != mined
    {
        assert!(started.elapsed() < Duration::from_secs(120), "transfers were not mined");
        std::thread::sleep(Duration::from_millis(1));
    }
    TRANSFERS as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let client = reqwest::blocking::Client::new();
    let node_bin = PathBuf::from(env!("CARGO_BIN_EXE_test-node"));

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (node, cold) = start(&node_bin, &["--port".into(), port.to_string()], &url, &client);
    println!("cold start to first answered request: {:.3} s (goal < 0.5 s)", cold.as_secs_f64());

    match find_tool("CARGO_STYLUS", "cargo-stylus") {
        Some(cargo_stylus) => {
            let wasm =
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stylus-counter/counter.wasm");
            let key = hex::encode_prefixed(assay_test_node::genesis::DEV_KEY);
            let started = Instant::now();
            let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stylus-counter");
            let output = Command::new(cargo_stylus)
                .args([
                    "stylus",
                    "deploy",
                    "--no-verify",
                    "--wasm-file",
                    wasm,
                    "--endpoint",
                    &url,
                    "--private-key",
                    &key,
                ])
                .current_dir(fixture)
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("CARGO")
                .output()
                .expect("cargo stylus runs");
            let elapsed = started.elapsed();
            assert!(
                output.status.success(),
                "cargo stylus deploy failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let size = std::fs::metadata(wasm).map(|m| m.len()).unwrap_or_default();
            println!(
                "cargo stylus deploy ({} KiB wasm): {:.3} s (goal < 3 s)",
                size / 1024,
                elapsed.as_secs_f64()
            );
        }
        None => println!("cargo stylus deploy: skipped (cargo-stylus not found; set CARGO_STYLUS)"),
    }

    let ours = transfers_per_second(&client, &url);
    drop(node);
    match find_tool("ANVIL", "anvil") {
        Some(anvil) => {
            let port = free_port();
            let url = format!("http://127.0.0.1:{port}");
            let (anvil, _) = start(&anvil, &["--port".into(), port.to_string()], &url, &client);
            let theirs = transfers_per_second(&client, &url);
            drop(anvil);
            println!(
                "simple transfers: test-node {ours:.0} tx/s, anvil {theirs:.0} tx/s, ratio {:.2} (goal >= 0.5)",
                ours / theirs
            );
        }
        None => println!(
            "simple transfers: test-node {ours:.0} tx/s (anvil not found; set ANVIL for the ratio)"
        ),
    }
}
