//! The chain client `deploy` uses: a signing alloy provider, typed calls and sends with readable
//! errors (named Solidity reverts), progress lines with transaction hashes, and the Stylus
//! deployment primitives (fragments, the StylusDeployer with a constructor, the data fee).

use std::time::Duration;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{
    TransactionReceipt, TransactionRequest,
    state::{AccountOverride, StateOverride},
};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent, SolInterface};
use assay_protocol::bindings::{
    IAssayToken, IJobMarket, IModelRegistry, IOwnable, ISampling, IStaking,
};

use crate::{Error, TxRecord, wasm};

/// The ArbWasm precompile.
pub const ARB_WASM: Address = address!("0000000000000000000000000000000000000071");
/// The ArbOwnerPublic precompile.
pub const ARB_OWNER_PUBLIC: Address = address!("000000000000000000000000000000000000006b");
/// cargo-stylus's default StylusDeployer (same address on Nitro chains and the test node).
pub const STYLUS_DEPLOYER: Address = address!("cEcba2F1DC234f70Dd89F2041029807F8D03A990");
/// Selector of the SDK's `stylus_constructor()` entry point.
pub const CONSTRUCTOR_SELECTOR: [u8; 4] = [0x55, 0x85, 0x25, 0x8d];

alloy_sol_types::sol! {
    /// ArbWasm, the calls deploy makes.
    #[sol(all_derives)]
    interface ArbWasm {
        function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
        function codehashVersion(bytes32 codehash) external view returns (uint16 version);
        error ProgramNotWasm();
        error ProgramNotActivated();
        error ProgramNeedsUpgrade(uint16 version, uint16 stylusVersion);
        error ProgramExpired(uint64 ageInSeconds);
        error ProgramUpToDate();
        error ProgramKeepaliveTooSoon(uint64 ageInSeconds);
        error ProgramInsufficientValue(uint256 have, uint256 want);
    }

    /// ArbOwnerPublic, the call deploy makes.
    #[sol(all_derives)]
    interface ArbOwnerPublic {
        function getMaxStylusContractFragments() external view returns (uint8);
    }

    /// nitro-contracts' StylusDeployer.
    #[sol(all_derives)]
    interface StylusDeployer {
        function deploy(bytes bytecode, bytes initData, uint256 initValue, bytes32 salt) external payable returns (address);
        event ContractDeployed(address deployedContract);
        error ContractDeploymentError(bytes bytecode);
        error ContractInitializationError(address newContract, bytes data);
        error RefundExcessValueError(uint256 excessValue);
        error EmptyBytecode();
        error InitValueButNotInitData();
    }
}

/// A connected, signing client.
pub(crate) struct Chain {
    provider: DynProvider,
    pub(crate) from: Address,
    pub(crate) chain_id: u64,
    pub(crate) txs: Vec<TxRecord>,
    quiet: bool,
}

/// Readable text for revert data: the named error of any Assay contract, ArbWasm or the
/// StylusDeployer, else the hex.
pub fn describe_revert(data: &[u8]) -> String {
    macro_rules! try_decode {
        ($($errors:ty),*) => {
            $(if let Ok(e) = <$errors>::abi_decode(data) { return format!("{e:?}"); })*
        };
    }
    if let Ok(inner) = StylusDeployer::ContractInitializationError::abi_decode(data) {
        return format!("constructor reverted: {}", describe_revert(&inner.data));
    }
    try_decode!(
        IAssayToken::IAssayTokenErrors,
        IStaking::IStakingErrors,
        IModelRegistry::IModelRegistryErrors,
        IJobMarket::IJobMarketErrors,
        ISampling::ISamplingErrors,
        IOwnable::IOwnableErrors,
        ArbWasm::ArbWasmErrors,
        StylusDeployer::StylusDeployerErrors
    );
    if data.is_empty() {
        "reverted without data".into()
    } else {
        format!("revert data 0x{}", alloy_primitives::hex::encode(data))
    }
}

fn rpc_error(action: &str, err: &alloy_provider::transport::TransportError) -> Error {
    let detail = match err.as_error_resp() {
        Some(payload) => match payload.as_revert_data() {
            Some(data) => format!("{}: {}", payload.message, describe_revert(&data)),
            None => payload.message.to_string(),
        },
        None => err.to_string(),
    };
    Error::Rpc { action: action.to_owned(), detail }
}

impl Chain {
    /// Connects to `rpc_url` with `signer` and reads the chain id.
    pub(crate) async fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
        quiet: bool,
    ) -> Result<Self, Error> {
        let url = rpc_url
            .parse()
            .map_err(|e| Error::Config(format!("RPC URL {rpc_url:?} is not a URL: {e}")))?;
        let from = signer.address();
        let provider =
            ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Connect { url: rpc_url.to_owned(), detail: e.to_string() })?;
        Ok(Self { provider, from, chain_id, txs: Vec::new(), quiet })
    }

    pub(crate) fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    pub(crate) async fn balance(&self, who: Address) -> Result<U256, Error> {
        self.provider.get_balance(who).await.map_err(|e| rpc_error("eth_getBalance", &e))
    }

    pub(crate) async fn code(&self, at: Address) -> Result<Bytes, Error> {
        self.provider.get_code_at(at).await.map_err(|e| rpc_error("eth_getCode", &e))
    }

    /// A view call.
    pub(crate) async fn call<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, Error> {
        let action = format!("{} on {to}", C::SIGNATURE);
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(|e| rpc_error(&action, &e))?;
        C::abi_decode_returns(&out).map_err(|e| Error::Rpc { action, detail: e.to_string() })
    }

    /// Sends `tx`, waits for its receipt, records and prints it as `step`.
    pub(crate) async fn send_tx(
        &mut self,
        step: &str,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, Error> {
        let tx = tx.with_from(self.from);
        let pending = self.provider.send_transaction(tx).await.map_err(|e| rpc_error(step, &e))?;
        let hash = *pending.tx_hash();
        let receipt =
            pending.with_timeout(Some(Duration::from_secs(300))).get_receipt().await.map_err(
                |e| Error::Rpc { action: format!("{step} (tx {hash})"), detail: e.to_string() },
            )?;
        self.txs.push(TxRecord { step: step.to_owned(), hash });
        if !receipt.status() {
            return Err(Error::TxFailed { step: step.to_owned(), hash });
        }
        self.say(format!("    {step}: tx {hash} (block {})", receipt.block_number.unwrap_or(0)));
        Ok(receipt)
    }

    /// Sends a contract call.
    pub(crate) async fn send<C: SolCall>(
        &mut self,
        step: &str,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, Error> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode())
            .with_value(value);
        self.send_tx(step, tx).await
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
        let action = "estimating the activation data fee (ArbWasm.activateProgram)";
        let out =
            self.provider.call(tx).overrides(overrides).await.map_err(|e| rpc_error(action, &e))?;
        let fee = ArbWasm::activateProgramCall::abi_decode_returns(&out)
            .map_err(|e| Error::Rpc { action: action.into(), detail: e.to_string() })?
            .dataFee;
        Ok(fee * U256::from(120) / U256::from(100))
    }

    /// Deploys raw code with a plain CREATE (fragments), returning its address.
    pub(crate) async fn create(&mut self, step: &str, code: &[u8]) -> Result<Address, Error> {
        let tx = TransactionRequest::default().with_deploy_code(wasm::deploy_init(code));
        let receipt = self.send_tx(step, tx).await?;
        receipt.contract_address.ok_or_else(|| Error::Rpc {
            action: step.into(),
            detail: "receipt without contractAddress".into(),
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
        let address = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == deployer)
            .find_map(|log| StylusDeployer::ContractDeployed::decode_log_data(log.data()).ok())
            .map(|e| e.deployedContract)
            .ok_or_else(|| Error::Rpc {
                action: step.into(),
                detail: "no ContractDeployed event".into(),
            })?;
        Ok((address, receipt.block_number.unwrap_or_default()))
    }
}
