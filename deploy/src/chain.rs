//! The chain client `deploy` uses: the shared [`assay_chain::Client`] with the deployer's key,
//! progress lines with transaction hashes, a record of every transaction, and the Stylus
//! deployment primitives (fragments, the StylusDeployer with a constructor, the data fee).

use std::time::Duration;

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{
    TransactionReceipt, TransactionRequest,
    state::{AccountOverride, StateOverride},
};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use assay_chain::{ChainError, Client, Key};
use assay_protocol::bindings::{ArbOwnerPublic, ArbWasm, StylusDeployer};

use crate::{error::Error, wasm};

/// The ArbWasm precompile.
pub const ARB_WASM: Address = address!("0000000000000000000000000000000000000071");
/// The ArbOwnerPublic precompile.
pub const ARB_OWNER_PUBLIC: Address = address!("000000000000000000000000000000000000006b");
/// cargo-stylus's default StylusDeployer (same address on Nitro chains and the test node).
pub const STYLUS_DEPLOYER: Address = address!("cEcba2F1DC234f70Dd89F2041029807F8D03A990");
/// Selector of the SDK's `stylus_constructor()` entry point.
pub const CONSTRUCTOR_SELECTOR: [u8; 4] = [0x55, 0x85, 0x25, 0x8d];

/// How long a deployment transaction may take to be mined (activations are slow on busy chains).
const MINED_WITHIN: Duration = Duration::from_secs(300);

/// A transaction sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// The step.
    pub step: String,
    /// Its hash.
    pub hash: B256,
}

/// A connected, signing client.
pub(crate) struct Chain {
    client: Client,
    pub(crate) from: Address,
    pub(crate) chain_id: u64,
    pub(crate) txs: Vec<TxRecord>,
    quiet: bool,
}

/// A transport error of `method`.
fn rpc(method: &'static str) -> impl Fn(alloy_provider::transport::TransportError) -> Error {
    move |e| Error::Chain(ChainError::Rpc { call: method, detail: e.to_string() })
}

impl Chain {
    /// Connects to `rpc_url` with `signer` and reads the chain id.
    pub(crate) async fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
        quiet: bool,
    ) -> Result<Self, Error> {
        let key = Key::from(signer);
        let client = Client::connect(rpc_url, Some(&key)).await?.mined_within(MINED_WITHIN);
        Ok(Self {
            from: key.address(),
            chain_id: client.chain_id(),
            client,
            txs: Vec::new(),
            quiet,
        })
    }

    pub(crate) fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    pub(crate) async fn balance(&self, who: Address) -> Result<U256, Error> {
        self.client.provider().get_balance(who).await.map_err(rpc("eth_getBalance"))
    }

    pub(crate) async fn code(&self, at: Address) -> Result<Bytes, Error> {
        self.client.provider().get_code_at(at).await.map_err(rpc("eth_getCode"))
    }

    /// A view call.
    pub(crate) async fn call<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, Error> {
        Ok(self.client.view(to, call).await?)
    }

    /// Records and prints a mined transaction of `step`.
    fn record(&mut self, step: &str, receipt: &TransactionReceipt) {
        let hash = receipt.transaction_hash;
        self.txs.push(TxRecord { step: step.to_owned(), hash });
        self.say(format!("    {step}: tx {hash} (block {})", receipt.block_number.unwrap_or(0)));
    }

    /// Sends `tx` (no simulation), waits for its receipt, records and prints it as `step`.
    pub(crate) async fn send_tx(
        &mut self,
        step: &str,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, Error> {
        let receipt = self
            .client
            .send_request("transaction", tx)
            .await
            .map_err(|e| Error::Step { step: step.to_owned(), source: Box::new(e) })?;
        self.record(step, &receipt);
        Ok(receipt)
    }

    /// Sends a contract call (simulated first: a revert comes back named and costs nothing).
    pub(crate) async fn send<C: SolCall>(
        &mut self,
        step: &str,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, Error> {
        let receipt = self
            .client
            .send(to, call, value)
            .await
            .map_err(|e| Error::Step { step: step.to_owned(), source: Box::new(e) })?;
        self.record(step, &receipt);
        Ok(receipt)
    }

    /// The most fragments a root program may have here, `None` when the chain has no fragments
    /// (ArbOS before 60).
    pub(crate) async fn max_fragments(&self) -> Option<u8> {
        self.call(ARB_OWNER_PUBLIC, ArbOwnerPublic::getMaxStylusContractFragmentsCall {}).await.ok()
    }

    /// The activation data fee `code` would pay, bumped by 20 % as cargo-stylus does (the
    /// StylusDeployer refunds the excess); zero when code with that hash is already active.
    pub(crate) async fn data_fee(&self, code: &[u8]) -> Result<U256, Error> {
        let active =
            self.call(ARB_WASM, ArbWasm::codehashVersionCall { codehash: keccak256(code) }).await;
        if active.is_ok() {
            return Ok(U256::ZERO);
        }
        // cargo-stylus's estimate: activate a copy of the code at a scratch address from a scratch
        // sender with a huge balance, both as state overrides of an eth_call.
        let target =
            Address::from_word(keccak256([b"assay-deploy probe".as_slice(), code].concat()));
        let sender = Address::from_word(keccak256(b"assay-deploy sender"));
        let one_eth = U256::from(10u64).pow(U256::from(18u64));
        let mut overrides = StateOverride::default();
        overrides
            .insert(sender, AccountOverride { balance: Some(U256::MAX), ..Default::default() });
        overrides.insert(target, AccountOverride::default().with_code(code.to_vec()));
        let tx = TransactionRequest::default()
            .with_from(sender)
            .with_to(ARB_WASM)
            .with_value(one_eth)
            .with_input(ArbWasm::activateProgramCall { program: target }.abi_encode());
        let call = ArbWasm::activateProgramCall::SIGNATURE;
        let step = "estimating the activation data fee";
        let fail = |e| Error::Step { step: step.into(), source: Box::new(e) };
        let out = self
            .client
            .provider()
            .call(tx)
            .overrides(overrides)
            .await
            .map_err(|e| fail(ChainError::from_transport(call, &e)))?;
        let fee = ArbWasm::activateProgramCall::abi_decode_returns(&out)
            .map_err(|source| fail(ChainError::Decode { call, source }))?
            .dataFee;
        Ok(fee * U256::from(120) / U256::from(100))
    }

    /// Deploys raw code with a plain CREATE (fragments), returning its address.
    pub(crate) async fn create(&mut self, step: &str, code: &[u8]) -> Result<Address, Error> {
        let tx = TransactionRequest::default().with_deploy_code(wasm::deploy_init(code));
        let receipt = self.send_tx(step, tx).await?;
        receipt.contract_address.ok_or_else(|| Error::Step {
            step: step.into(),
            source: Box::new(ChainError::Rpc {
                call: "CREATE",
                detail: "receipt without contractAddress".into(),
            }),
        })
    }

    /// Deploys `code` through the StylusDeployer at `deployer`, which activates it (paying
    /// `fee`) and runs its constructor with `args` in the same transaction.
    pub(crate) async fn deploy_with_constructor(
        &mut self,
        step: &str,
        deployer: Address,
        code: &[u8],
        args: Vec<u8>,
        fee: U256,
    ) -> Result<(Address, u64), Error> {
        let mut init_data = CONSTRUCTOR_SELECTOR.to_vec();
        init_data.extend_from_slice(&args);
        let call = StylusDeployer::deployCall {
            bytecode: wasm::deploy_init(code).into(),
            initData: init_data.into(),
            initValue: U256::ZERO,
            salt: B256::ZERO,
        };
        let receipt = self.send(step, deployer, call, fee).await?;
        let address = Client::event::<StylusDeployer::ContractDeployed>(&receipt, deployer)
            .map(|e| e.deployedContract)
            .ok_or_else(|| Error::Step {
                step: step.into(),
                source: Box::new(ChainError::MissingEvent {
                    call: StylusDeployer::deployCall::SIGNATURE,
                    event: "ContractDeployed(address)",
                }),
            })?;
        Ok((address, receipt.block_number.unwrap_or_default()))
    }
}
