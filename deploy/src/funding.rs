//! Topping up local accounts with ETH and bootstrap ASSAY (for a local network).

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use assay_protocol::{bindings::IAssayToken, deployment::Deployment};

use crate::{
    chain::{Chain, TxRecord},
    ensure_owner,
    error::Error,
    specs::TOKEN,
};

/// What [`fund`] tops each account up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    /// Accounts to fund.
    pub accounts: Vec<Address>,
    /// ETH balance each should have at least, wei.
    pub eth: U256,
    /// ASSAY balance each should have at least, wei (minted by the deployer, the token's owner).
    pub assay: U256,
}

/// Tops accounts up to the given ETH and ASSAY balances (sending or minting only the
/// difference), for a local network whose miners must stake. Returns the transactions sent.
///
/// # Errors
/// [`Error::WrongChain`] when the manifest is for another chain, [`Error::NotOwner`] when the
/// deployer cannot mint, RPC errors.
pub async fn fund(
    rpc_url: &str,
    signer: PrivateKeySigner,
    manifest: &Deployment,
    funding: &Funding,
    quiet: bool,
) -> Result<Vec<TxRecord>, Error> {
    use alloy_network::TransactionBuilder;
    let mut chain = Chain::connect(rpc_url, signer, quiet).await?;
    if manifest.chain_id != chain.chain_id {
        return Err(Error::WrongChain {
            expected_from: "the manifest".into(),
            expected: manifest.chain_id,
            actual: chain.chain_id,
        });
    }
    let token = manifest.contract(TOKEN)?;
    for &account in &funding.accounts {
        let eth = chain.balance(account).await?;
        if eth < funding.eth {
            let tx = alloy_rpc_types_eth::TransactionRequest::default()
                .with_to(account)
                .with_value(funding.eth - eth);
            chain.send_tx(&format!("send {} wei to {account}", funding.eth - eth), tx).await?;
        }
        let assay = chain.call(token, IAssayToken::balanceOfCall { account }).await?;
        if assay < funding.assay {
            ensure_owner(&chain, TOKEN, token).await?;
            let call = IAssayToken::mintCall { to: account, value: funding.assay - assay };
            let step = format!("mint {} ASSAY wei to {account}", funding.assay - assay);
            chain.send(&step, token, call, U256::ZERO).await?;
        }
        chain.say(format!(
            "{account}: at least {} wei ETH and {} ASSAY wei",
            funding.eth, funding.assay
        ));
    }
    Ok(chain.txs)
}
