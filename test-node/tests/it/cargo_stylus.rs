//! The unmodified `cargo stylus` 0.10.10 against the node: `check`, `deploy --no-verify` of the
//! wasm file, of the project with a constructor (the StylusDeployer path; this builds the
//! fixture with its pinned toolchain), `deploy --no-activate` + `activate`.
//! Skipped with a message when `cargo-stylus` is not installed
//! (`cargo install cargo-stylus --version 0.10.10 --locked`).

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, U256, hex};
use assay_test_node::genesis::DEV_KEY;
use serde_json::json;
use tokio::process::Command;

use crate::{
    common::{provider, rpc, start},
    stylus::number,
    tools::find_tool,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stylus-counter")
}

/// Runs `cargo stylus <args>` in the fixture project and returns its output without colours.
async fn cargo_stylus(tool: &Path, args: &[&str]) -> String {
    // The fixture pins its own toolchain: drop what `cargo test` exports for this workspace.
    let output = Command::new(tool)
        .arg("stylus")
        .args(args)
        .current_dir(fixture())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .await
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let plain = strip_ansi(&text);
    assert!(output.status.success(), "cargo stylus {args:?} failed:\n{plain}");
    plain
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn deployed_address(output: &str) -> Address {
    let marker = "deployed code at address: ";
    let start =
        output.find(marker).unwrap_or_else(|| panic!("no address in:\n{output}")) + marker.len();
    output[start..start + 42].parse().expect("address")
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_stylus_checks_deploys_and_activates() {
    let Some(tool) = find_tool("CARGO_STYLUS", "cargo-stylus") else {
        println!(
            "SKIPPED: cargo-stylus not found (cargo install cargo-stylus --version 0.10.10 --locked)"
        );
        return;
    };
    let node = start().await;
    let url = node.url();
    let key = hex::encode_prefixed(DEV_KEY);
    let wasm = "counter.wasm";
    let p = provider(&node, 8);

    cargo_stylus(&tool, &["check", "--wasm-file", wasm, "--endpoint", &url]).await;

    let out = cargo_stylus(
        &tool,
        &["deploy", "--no-verify", "--wasm-file", wasm, "--endpoint", &url, "--private-key", &key],
    )
    .await;
    let plain = deployed_address(&out);
    assert_eq!(number(&p, plain).await, U256::ZERO);

    // With a constructor: cargo-stylus builds the project, finds the constructor through
    // export-abi and deploys, activates and initialises through the StylusDeployer in one tx.
    let out = cargo_stylus(
        &tool,
        &[
            "deploy",
            "--no-verify",
            "--endpoint",
            &url,
            "--private-key",
            &key,
            "--constructor-args",
            "7",
        ],
    )
    .await;
    assert!(out.contains("checking whether the contract has a constructor"), "{out}");
    let constructed = deployed_address(&out);
    assert_eq!(number(&p, constructed).await, U256::from(7));

    // Activation is per code hash: use a fresh node to deploy the program inactive.
    let fresh = start().await;
    let fresh_url = fresh.url();
    let out = cargo_stylus(
        &tool,
        &[
            "deploy",
            "--no-verify",
            "--no-activate",
            "--wasm-file",
            wasm,
            "--endpoint",
            &fresh_url,
            "--private-key",
            &key,
        ],
    )
    .await;
    let inactive = deployed_address(&out);
    let call = json!({"to": inactive, "input": "0x8381f58a"});
    assert_eq!(rpc(&fresh, "eth_call", json!([call])).await["error"]["data"], "0x6f809c4e");
    cargo_stylus(
        &tool,
        &[
            "activate",
            "--address",
            &inactive.to_string(),
            "--endpoint",
            &fresh_url,
            "--private-key",
            &key,
        ],
    )
    .await;
    assert_eq!(number(&provider(&fresh, 8), inactive).await, U256::ZERO);
}
