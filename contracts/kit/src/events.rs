//! Typed events through one out-of-line emitter.
//!
//! `stylus_core::host::LogAccess::log` is generic over the event, so each event type carries its
//! own copy of the topic copying, buffer building and host call. Here only the encoding is
//! generic; the rest is shared.

use alloc::vec::Vec;

use alloy_sol_types::{abi::token::WordToken, SolEvent, TopicList};
use stylus_sdk::stylus_core::host::RawLogAccess;

/// Emits `event` as `LogAccess::log` does: its topics, then its ABI-encoded data.
pub fn emit<H: RawLogAccess + ?Sized, E: SolEvent>(host: &H, event: E) {
    let mut topics = [WordToken::default(); 4];
    // `encode_topics_raw` only fails when the array is shorter than the event's topic count,
    // and no Solidity event has more than 4 topics.
    let _ = event.encode_topics_raw(&mut topics);
    let count = E::TopicList::COUNT;
    emit_raw(host, topics.get(..count).unwrap_or_default(), &event.encode_data());
}

#[inline(never)]
fn emit_raw<H: RawLogAccess + ?Sized>(host: &H, topics: &[WordToken], data: &[u8]) {
    let mut bytes =
        Vec::with_capacity(32usize.saturating_mul(topics.len()).saturating_add(data.len()));
    for topic in topics {
        bytes.extend_from_slice(topic.as_slice());
    }
    bytes.extend_from_slice(data);
    host.emit_log(&bytes, topics.len());
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use alloy_primitives::{Address, B256, U256};
    use alloy_sol_types::sol;
    use stylus_sdk::{stylus_core::host::LogAccess, testing::TestVM};

    use super::emit;

    sol! {
        event NoIndexed(uint256 a, bytes32 b);
        event SomeIndexed(address indexed from, uint64 indexed epoch, uint256 amount, bool flag);
        event AllIndexed(address indexed a, bytes32 indexed b, uint256 indexed c);
    }

    /// `emit` logs exactly what the SDK's `LogAccess::log` logs.
    #[test]
    fn emit_matches_the_sdk_log() {
        let (ours, sdk) = (TestVM::new(), TestVM::new());
        let a = Address::repeat_byte(3);
        let b = B256::repeat_byte(5);
        let c = U256::from(77u8);
        emit(&ours, NoIndexed { a: c, b });
        sdk.log(NoIndexed { a: c, b });
        emit(&ours, SomeIndexed { from: a, epoch: 9, amount: c, flag: true });
        sdk.log(SomeIndexed { from: a, epoch: 9, amount: c, flag: true });
        emit(&ours, AllIndexed { a, b, c });
        sdk.log(AllIndexed { a, b, c });
        let logs = ours.get_emitted_logs();
        assert_eq!(logs.len(), 3);
        assert_eq!(logs, sdk.get_emitted_logs());
    }
}
