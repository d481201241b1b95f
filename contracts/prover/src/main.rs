//! Entry point of the contract binary: empty on wasm (the library exports `user_entrypoint`);
//! with `--features export-abi` it prints the Solidity interface.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

#[cfg(not(any(test, feature = "export-abi")))]
#[no_mangle]
pub extern "C" fn main() {}

#[cfg(feature = "export-abi")]
fn main() {
    assay_prover::print_from_args();
}
