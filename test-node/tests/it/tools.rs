//! Foundry's `cast` and the `test-node` binary against the node. Tools that are not installed
//! are skipped with a message (CI installs them; see the crate README).

use std::{path::PathBuf, process::Stdio, time::Duration};

use alloy_primitives::{Address, hex};
use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use assay_test_node::genesis::{ANVIL_ACCOUNTS, DEV_ACCOUNT};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::{
    common::{provider, start},
    stylus::{Counter, activate, counter_code, deploy, deploy_init},
};

/// Finds a tool: `$ENV_VAR`, else on `PATH`.
pub(crate) fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

async fn run_owned(tool: &PathBuf, args: Vec<String>) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(tool, &args).await
}

async fn run(tool: &PathBuf, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().await.expect("tool runs");
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        tool.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_reads_sends_deploys_and_calls_stylus() {
    let Some(cast) = find_tool("CAST", "cast") else {
        println!("SKIPPED: `cast` not found (set CAST or put Foundry's cast on PATH)");
        return;
    };
    let node = start().await;
    let url = node.url();
    // `cast <subcommand> --rpc-url <url> <args...>`
    let cast_with = |args: &[&str]| {
        let mut all = vec![args[0], "--rpc-url", url.as_str()];
        all.extend_from_slice(&args[1..]);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(run_owned(&cast, cast_with(&["chain-id"])).await, "412346");
    assert_eq!(run_owned(&cast, cast_with(&["block-number"])).await, "0");
    let dev = DEV_ACCOUNT.to_string();
    assert_ne!(run_owned(&cast, cast_with(&["balance", &dev])).await, "0");

    let key = ANVIL_ACCOUNTS[6].1.to_string();
    let to = Address::repeat_byte(0x61).to_string();
    run_owned(&cast, cast_with(&["send", "--private-key", &key, &to, "--value", "12345"])).await;
    assert_eq!(run_owned(&cast, cast_with(&["balance", &to])).await, "12345");

    // Deploy an EVM contract with cast and read its code.
    let init = hex::encode_prefixed(crate::common::store_and_log_init());
    let out =
        run_owned(&cast, cast_with(&["send", "--private-key", &key, "--json", "--create", &init]))
            .await;
    let receipt: serde_json::Value = serde_json::from_str(&out).expect("receipt JSON");
    let created = receipt["contractAddress"].as_str().expect("contractAddress").to_owned();
    assert_eq!(run_owned(&cast, cast_with(&["code", &created])).await.len(), 2 + 2 * 82);

    // A Stylus program deployed and activated through alloy, driven by cast.
    let p = provider(&node, 7);
    let counter = deploy(&p, deploy_init(&counter_code())).await;
    activate(&node, &p, counter).await;
    let counter = counter.to_string();
    run_owned(
        &cast,
        cast_with(&["send", "--private-key", &key, &counter, "setNumber(uint256)", "41"]),
    )
    .await;
    run_owned(&cast, cast_with(&["send", "--private-key", &key, &counter, "increment()"])).await;
    assert_eq!(run_owned(&cast, cast_with(&["call", &counter, "number()(uint256)"])).await, "42");
    let selector = hex::encode_prefixed(Counter::numberCall::SELECTOR);
    assert_eq!(
        run_owned(&cast, cast_with(&["call", &counter, &selector])).await,
        format!("{:#066x}", 42)
    );
    let _ = p.get_block_number().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_prints_help_and_serves_on_the_requested_port() {
    let binary = env!("CARGO_BIN_EXE_test-node");
    let help = run(&PathBuf::from(binary), &["--help"]).await;
    for flag in ["--port", "--host", "--chain-id", "--block-time", "--state", "--accounts"] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let mut child = Command::new(binary)
        .args(["--port", "0", "--chain-id", "1234", "--accounts", "2"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("reads stdout") {
            if let Some(rest) = line.strip_prefix("test-node ready: ") {
                return rest.split_whitespace().next().expect("url").to_owned();
            }
        }
        panic!("no ready line");
    })
    .await
    .expect("ready in time");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(response.contains("\"0x4d2\""), "{response}");
    child.kill().await.unwrap();
}
