//! Compact revert data for contracts with many errors.
//!
//! `#[derive(SolidityError)]` inlines every error's ABI encoding into one large `match` (about
//! 250 bytes of wasm per error). Every Assay error has only static parameters, so its revert
//! data is the selector followed by one 32-byte word per parameter: [`solidity_errors!`] declares
//! the same enum, `From` impls and ABI export, but encodes through the single out-of-line
//! [`encode`], each arm only listing its parameters.

use alloc::vec::Vec;

use alloy_primitives::{Address, B256, U256};

/// A static Solidity value as its 32-byte ABI word.
pub trait Word {
    /// The ABI encoding of `self` (left-padded, big-endian).
    fn word(&self) -> B256;
}

impl Word for U256 {
    fn word(&self) -> B256 {
        B256::from(*self)
    }
}

impl Word for B256 {
    fn word(&self) -> B256 {
        *self
    }
}

impl Word for Address {
    fn word(&self) -> B256 {
        self.into_word()
    }
}

impl Word for bool {
    fn word(&self) -> B256 {
        B256::from(U256::from(u8::from(*self)))
    }
}

macro_rules! uint_word {
    ($($t:ty),*) => {$(
        impl Word for $t {
            fn word(&self) -> B256 {
                B256::from(U256::from(*self))
            }
        }
    )*};
}
uint_word!(u8, u16, u32, u64);

/// `selector ‖ words`: the revert data of an error with static parameters.
#[inline(never)]
pub fn encode(selector: [u8; 4], words: &[B256]) -> Vec<u8> {
    let mut out = Vec::with_capacity(words.len().saturating_mul(32).saturating_add(4));
    out.extend_from_slice(&selector);
    for word in words {
        out.extend_from_slice(word.as_slice());
    }
    out
}

/// Declares a contract's error enum like `#[derive(SolidityError)]` (a `From` impl per variant,
/// `Into<Vec<u8>>` revert data, the errors in `export-abi`), encoding through [`encode`]:
///
/// ```ignore
/// solidity_errors! {
///     /// Every revert of the market.
///     pub enum MarketError {
///         UnknownJob(IJobMarket::UnknownJob) [jobId],
///         InvalidBatch(IJobMarket::InvalidBatch) [],
///     }
/// }
/// ```
#[macro_export]
macro_rules! solidity_errors {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($variant:ident($($ty:tt)::+) [$($field:ident),*]),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub enum $name {
            $(
                #[doc = concat!("`", stringify!($variant), "`.")]
                $variant($($ty)::+),
            )*
        }

        $(
            impl From<$($ty)::+> for $name {
                fn from(e: $($ty)::+) -> Self {
                    Self::$variant(e)
                }
            }
        )*

        impl From<$name> for alloc::vec::Vec<u8> {
            fn from(e: $name) -> Self {
                match e {
                    $(
                        $name::$variant(_e) => $crate::errors::encode(
                            <$($ty)::+ as alloy_sol_types::SolError>::SELECTOR,
                            &[$($crate::errors::Word::word(&_e.$field)),*],
                        ),
                    )*
                }
            }
        }

        $crate::__export_abi_only! {
        impl stylus_sdk::abi::export::internal::InnerTypes for $name {
            fn inner_types() -> alloc::vec::Vec<stylus_sdk::abi::export::internal::InnerType> {
                use alloy_sol_types::SolError;
                alloc::vec![$(
                    stylus_sdk::abi::export::internal::InnerType {
                        name: alloc::format!(
                            "error {};",
                            <$($ty)::+ as SolError>::SIGNATURE.replace(',', ", ")
                        ),
                        id: core::any::TypeId::of::<$($ty)::+>(),
                    }
                ),*]
            }
        }
        }
    };
}

/// Expands its input only when the kit's `export-abi` feature is on (it follows the SDK's: each
/// contract's `export-abi` feature turns on both), so `solidity_errors!` adds the ABI export
/// exactly when `#[public]` asks for it, whichever crate is being compiled.
#[cfg(feature = "export-abi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_abi_only {
    ($($item:tt)*) => { $($item)* };
}

/// See above: without `export-abi`, nothing.
#[cfg(not(feature = "export-abi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_abi_only {
    ($($item:tt)*) => {};
}

#[cfg(test)]
mod tests {
    use alloy_sol_types::{sol, SolError};

    use super::*;

    sol! {
        error Many(uint256 a, address b, bytes32 c, uint64 d, uint8 e, bool f, uint32 g, uint16 h);
    }

    #[test]
    fn words_match_the_abi_encoding() {
        let e = Many {
            a: U256::MAX,
            b: Address::repeat_byte(7),
            c: B256::repeat_byte(9),
            d: u64::MAX,
            e: 200,
            f: true,
            g: u32::MAX,
            h: 65_000,
        };
        let words = [e.a.word(), e.b.word(), e.c.word(), e.d.word(), e.e.word(), e.f.word()];
        let words = [&words[..], &[e.g.word(), e.h.word()]].concat();
        assert_eq!(encode(Many::SELECTOR, &words), e.abi_encode());
    }
}
