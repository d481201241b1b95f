//! Genesis state like Nitro's dev node plus anvil's accounts: funded keys, the CREATE2 factory,
//! the StylusDeployer, and placeholder code at the Arbitrum precompile addresses.

use alloy_primitives::{Address, B256, Bytes, U256, address, b256, hex, keccak256};
use revm::{
    bytecode::Bytecode,
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
};

/// Nitro's dev account (`--init.dev-init-address`), funded at genesis.
pub const DEV_ACCOUNT: Address = address!("3f1Eae7D46d88F08fc2F8ed27FCb2AB183EB2d0E");
/// Private key of [`DEV_ACCOUNT`] (the well-known Nitro dev key).
pub const DEV_KEY: B256 = b256!("b6b15c8cb491557369f3c7d2c287b053eb229daa9c22138887752191c9520659");

/// anvil's ten accounts from the mnemonic `test test test test test test test test test test test
/// junk`, with their private keys.
pub const ANVIL_ACCOUNTS: [(Address, B256); 10] = [
    (
        address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    ),
    (
        address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        b256!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    ),
    (
        address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
        b256!("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    ),
    (
        address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
        b256!("7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
    ),
    (
        address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
        b256!("47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"),
    ),
    (
        address!("9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
        b256!("8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"),
    ),
    (
        address!("976EA74026E726554dB657fA54763abd0C3a0aa9"),
        b256!("92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"),
    ),
    (
        address!("14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
        b256!("4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"),
    ),
    (
        address!("23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
        b256!("dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"),
    ),
    (
        address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"),
        b256!("2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"),
    ),
];

/// The deterministic-deployment CREATE2 factory (Arachnid's proxy).
pub const CREATE2_FACTORY: Address = address!("4e59b44847b379578588920ca78fbf26c0b4956c");
/// Signer of the pre-EIP-155 transaction that installs [`CREATE2_FACTORY`].
pub const CREATE2_FACTORY_SIGNER: Address = address!("3fab184622dc19b6109349b94811493bf2a45362");
/// Runtime code of [`CREATE2_FACTORY`].
pub const CREATE2_FACTORY_CODE: [u8; 69] = hex!(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3"
);
/// cargo-stylus's default StylusDeployer address: CREATE2 by the factory with salt 0.
pub const STYLUS_DEPLOYER: Address = address!("cEcba2F1DC234f70Dd89F2041029807F8D03A990");
/// The StylusDeployer init code shipped by stylus-tools 0.10.10 (`devnet/bytecode.rs`).
pub const STYLUS_DEPLOYER_INIT_HEX: &str = include_str!("../assets/stylus_deployer_init.hex");
/// The raw pre-EIP-155 transaction that installs the CREATE2 factory.
pub const CREATE2_FACTORY_TX_HEX: &str = include_str!("../assets/create2_factory_tx.hex");

/// Length of the StylusDeployer constructor that precedes its runtime in the init code.
const DEPLOYER_CONSTRUCTOR_LEN: usize = 32;

/// Balance of every anvil account: 10 000 ether, as anvil gives.
pub fn anvil_balance() -> U256 {
    U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
}

/// The StylusDeployer init code as bytes.
pub fn stylus_deployer_init_code() -> Bytes {
    hex::decode(STYLUS_DEPLOYER_INIT_HEX.trim()).expect("bundled hex is valid").into()
}

/// The StylusDeployer runtime: the init code after its 32-byte constructor.
pub fn stylus_deployer_runtime() -> Bytes {
    stylus_deployer_init_code().slice(DEPLOYER_CONSTRUCTOR_LEN..)
}

/// Arbitrum precompile addresses that get `0xfe` code so they exist like on Nitro.
pub fn precompile_addresses() -> impl Iterator<Item = Address> {
    (0x64u8..=0x74).chain([0xc8, 0xc9, 0xff]).map(|last| {
        let mut bytes = [0u8; 20];
        bytes[19] = last;
        Address::from(bytes)
    })
}

/// Builds the genesis database.
pub fn genesis_db(accounts: usize) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::new());
    let big = U256::from(10u64).pow(U256::from(30u64));
    db.insert_account_info(DEV_ACCOUNT, AccountInfo::from_balance(big));
    for (address, _) in ANVIL_ACCOUNTS.iter().take(accounts) {
        db.insert_account_info(*address, AccountInfo::from_balance(anvil_balance()));
    }
    // Enough for the factory's own install transaction (gas 100 000 at 100 gwei).
    db.insert_account_info(
        CREATE2_FACTORY_SIGNER,
        AccountInfo::from_balance(U256::from(100_000_000_000_000_000u64)),
    );
    insert_code(&mut db, CREATE2_FACTORY, Bytes::from_static(&CREATE2_FACTORY_CODE), 0);
    insert_code(&mut db, STYLUS_DEPLOYER, stylus_deployer_runtime(), 1);
    for address in precompile_addresses() {
        insert_code(&mut db, address, Bytes::from_static(&[0xfe]), 0);
    }
    db
}

fn insert_code(db: &mut CacheDB<EmptyDB>, address: Address, code: Bytes, nonce: u64) {
    let bytecode = Bytecode::new_raw(code);
    let info = AccountInfo {
        nonce,
        code_hash: keccak256(bytecode.original_byte_slice()),
        code: Some(bytecode),
        ..AccountInfo::default()
    };
    db.insert_account_info(address, info);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployer_address_is_create2_of_bundled_init_code() {
        let init = stylus_deployer_init_code();
        assert_eq!(init.len(), 2301);
        assert_eq!(stylus_deployer_runtime().len(), 2269);
        let derived = CREATE2_FACTORY.create2(B256::ZERO, keccak256(&init));
        assert_eq!(derived, STYLUS_DEPLOYER);
    }

    #[test]
    fn genesis_funds_dev_and_anvil_accounts() {
        let db = genesis_db(10);
        let dev = db.cache.accounts.get(&DEV_ACCOUNT).expect("dev account");
        assert!(dev.info.balance > anvil_balance());
        for (address, _) in ANVIL_ACCOUNTS {
            assert_eq!(db.cache.accounts[&address].info.balance, anvil_balance());
        }
        let factory = &db.cache.accounts[&CREATE2_FACTORY].info;
        assert_eq!(factory.code.as_ref().map(|c| c.original_bytes().len()), Some(69));
    }
}
