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
