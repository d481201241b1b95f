//! Shared helpers: start a node, connect a signing provider, send raw JSON-RPC.

use alloy_network::EthereumWallet;
use alloy_primitives::{B256, Bytes, hex};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use assay_test_node::{Config, NodeHandle, genesis};
use serde_json::{Value, json};

/// An EVM contract: any call stores calldata word 0 in slot 0, emits `LOG1(topic 0xaa..aa,
/// data = new value)` and returns the old value; the value `0xdead` reverts with data
/// `0xcafebabe` instead.
pub(crate) const STORE_AND_LOG_INIT: &str = "605280600b6000396000f36000358061dead1460445760005490806000556000527faaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa60206000a160005260206000f35b63cafebabe6000526004601cfd";

/// The contract's log topic.
pub(crate) const STORE_TOPIC: B256 = B256::repeat_byte(0xaa);

/// Starts a node on a free port.
pub(crate) async fn start() -> NodeHandle {
    start_with(Config::test()).await
}

/// Starts a node with `config`.
pub(crate) async fn start_with(config: Config) -> NodeHandle {
    assay_test_node::spawn(config).await.expect("node starts")
}

/// The signer of anvil account `index`.
pub(crate) fn signer(index: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&genesis::ANVIL_ACCOUNTS[index].1).expect("valid key")
}

/// A provider that signs with anvil account `index`.
pub(crate) fn provider(node: &NodeHandle, index: usize) -> impl Provider + Clone {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(index)))
        .connect_http(node.url().parse().expect("url"))
}

/// Sends a raw JSON-RPC body and returns the parsed response.
pub(crate) async fn raw(node: &NodeHandle, body: &str) -> Value {
    let response = reqwest::Client::new()
        .post(node.url())
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    serde_json::from_str(&response.text().await.expect("body")).expect("JSON response")
}

/// Calls `method` with `params` and returns the whole response object.
pub(crate) async fn rpc(node: &NodeHandle, method: &str, params: Value) -> Value {
    raw(node, &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string())
        .await
}

/// The init code of [`STORE_AND_LOG_INIT`].
pub(crate) fn store_and_log_init() -> Bytes {
    hex::decode(STORE_AND_LOG_INIT).expect("hex").into()
}
