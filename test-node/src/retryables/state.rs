//! Tickets in ArbOS-like storage, kept in the storage of the ArbRetryableTx account (0x6e) like
//! the send accumulator lives in ArbSys's: Nitro's fields per ticket, its timeout queue (with a
//! duplicate entry per `keepalive`) and the counter of delayed messages this node has taken in.
//!
//! Slots: `0` message counter, `1`/`2` the queue's next put and get index, `(1 << 64) + i` queue
//! entry `i`; a ticket's fields start at `keccak256(ticketId)`: tries, from, to, call value,
//! beneficiary, timeout, timeout windows left, calldata length, then the calldata words.
//!
//! Storage access is metered like Nitro's ArbOS storage (800 gas a read, 20 000 a write, 5 000
//! a write of zero); precompiles charge what [`TicketStore::burned`] reports.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

use super::{
    LIFETIME_SECONDS, escrow_address,
    funds::{self, StateJournal},
};
use crate::arbos::ARB_RETRYABLE_TX;

const MESSAGE_COUNT_SLOT: U256 = U256::ZERO;
const QUEUE_PUT_SLOT: U256 = U256::from_limbs([1, 0, 0, 0]);
const QUEUE_GET_SLOT: U256 = U256::from_limbs([2, 0, 0, 0]);
const QUEUE_BASE: U256 = U256::from_limbs([0, 1, 0, 0]);

/// Field offsets from a ticket's base slot (Nitro's order).
const NUM_TRIES: u64 = 0;
const FROM: u64 = 1;
const TO: u64 = 2;
const CALLVALUE: u64 = 3;
const BENEFICIARY: u64 = 4;
const TIMEOUT: u64 = 5;
const WINDOWS_LEFT: u64 = 6;
const CALLDATA_LEN: u64 = 7;
const CALLDATA: u64 = 8;

/// Bit marking a stored `to` as present (contract creation stores none).
const TO_PRESENT: U256 = U256::from_limbs([0, 0, 1 << 32, 0]);

/// Gas of ArbOS storage: a read, a write, a write of zero.
const READ_GAS: u64 = 800;
const WRITE_GAS: u64 = 20_000;
const WRITE_ZERO_GAS: u64 = 5_000;

/// A retryable ticket as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) id: B256,
    /// Redeem attempts scheduled so far (the next retry's nonce).
    pub(crate) num_tries: u64,
    /// The (aliased) L1 sender, `msg.sender` of every retry.
    pub(crate) from: Address,
    /// The call target; `None` creates a contract.
    pub(crate) to: Option<Address>,
    pub(crate) callvalue: U256,
    /// Who may cancel it and who gets the escrow when it is canceled or reaped.
    pub(crate) beneficiary: Address,
    pub(crate) calldata: Bytes,
    /// Expiry before keepalive windows.
    pub(crate) timeout: u64,
    /// Lifetimes added by `keepalive` that the reaper has not yet applied.
    pub(crate) windows_left: u64,
}

impl Ticket {
    /// When the ticket expires: the timeout plus the lifetimes `keepalive` added.
    pub(crate) fn expiry(&self) -> u64 {
        self.timeout.saturating_add(self.windows_left.saturating_mul(LIFETIME_SECONDS))
    }

    /// Nitro's `RetryableSizeBytes`: six words, the calldata length and the calldata words.
    pub(crate) fn size_bytes(&self) -> u64 {
        6 * 32 + 32 + 32 * words(self.calldata.len() as u64)
    }
}

/// Words of 32 bytes `bytes` bytes fill.
pub(crate) fn words(bytes: u64) -> u64 {
    bytes.div_ceil(32)
}

/// Why `keepalive` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeepaliveError {
    /// No such ticket (or it expired).
    NotFound,
    /// The ticket already lives more than one lifetime past now.
    TooFarInFuture,
}

/// The retryable state on a journal, counting the gas Nitro would charge for the accesses.
pub(crate) struct TicketStore<'a, J> {
    journal: &'a mut J,
    burned: u64,
}

impl<'a, J: StateJournal> TicketStore<'a, J> {
    /// Opens the store on `journal`.
    pub(crate) fn new(journal: &'a mut J) -> Self {
        // The journal reads storage only of accounts it has loaded.
        journal.load_account(ARB_RETRYABLE_TX).unwrap_or_else(|never| match never {});
        Self { journal, burned: 0 }
    }

    /// Gas of the storage accesses so far.
    pub(crate) fn burned(&self) -> u64 {
        self.burned
    }

    fn read(&mut self, slot: U256) -> U256 {
        self.burned += READ_GAS;
        self.journal.sload(ARB_RETRYABLE_TX, slot).unwrap_or_else(|never| match never {}).data
    }

    fn write(&mut self, slot: U256, value: U256) {
        self.burned += if value.is_zero() { WRITE_ZERO_GAS } else { WRITE_GAS };
        // Storage of an account that is not touched is not committed.
        self.journal.touch_account(ARB_RETRYABLE_TX);
        self.journal.sstore(ARB_RETRYABLE_TX, slot, value).unwrap_or_else(|never| match never {});
    }

    /// Returns the current delayed-message number and advances it (a request id per message).
    pub(crate) fn next_message_number(&mut self) -> U256 {
        let number = self.read(MESSAGE_COUNT_SLOT);
        self.write(MESSAGE_COUNT_SLOT, number + U256::from(1));
        number
    }

    /// Stores a new ticket and queues it for reaping.
    pub(crate) fn create(&mut self, ticket: &Ticket) {
        let base = base_slot(ticket.id);
        let field = |offset: u64| base.wrapping_add(U256::from(offset));
        self.write(field(NUM_TRIES), U256::from(ticket.num_tries));
        self.write(field(FROM), address_word(ticket.from));
        let to = ticket.to.map_or(U256::ZERO, |to| address_word(to) | TO_PRESENT);
        self.write(field(TO), to);
        self.write(field(CALLVALUE), ticket.callvalue);
        self.write(field(BENEFICIARY), address_word(ticket.beneficiary));
        self.write(field(TIMEOUT), U256::from(ticket.timeout));
        self.write(field(WINDOWS_LEFT), U256::from(ticket.windows_left));
        self.write(field(CALLDATA_LEN), U256::from(ticket.calldata.len()));
        for (index, chunk) in ticket.calldata.chunks(32).enumerate() {
            let mut word = [0u8; 32];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write(field(CALLDATA + index as u64), U256::from_be_bytes(word));
        }
        self.queue_put(ticket.id);
    }

    /// The ticket `id` unless it does not exist or its timeout is before `now` (Nitro's
    /// `OpenRetryable`: an expired ticket is gone even before the reaper deletes it).
    pub(crate) fn open(&mut self, id: B256, now: u64) -> Option<Ticket> {
        let base = base_slot(id);
        let field = |offset: u64| base.wrapping_add(U256::from(offset));
        let timeout: u64 = self.read(field(TIMEOUT)).saturating_to();
        if timeout == 0 || timeout < now {
            return None;
        }
        let to = self.read(field(TO));
        let calldata_len: usize = self.read(field(CALLDATA_LEN)).saturating_to();
        let mut calldata = Vec::with_capacity(calldata_len.next_multiple_of(32));
        for index in 0..words(calldata_len as u64) {
            calldata.extend_from_slice(&self.read(field(CALLDATA + index)).to_be_bytes::<32>());
        }
        calldata.truncate(calldata_len);
        Some(Ticket {
            id,
            num_tries: self.read(field(NUM_TRIES)).saturating_to(),
            from: word_address(self.read(field(FROM))),
            to: (to & TO_PRESENT == TO_PRESENT).then(|| word_address(to)),
            callvalue: self.read(field(CALLVALUE)),
            beneficiary: word_address(self.read(field(BENEFICIARY))),
            calldata: calldata.into(),
            timeout,
            windows_left: self.read(field(WINDOWS_LEFT)).saturating_to(),
        })
    }

    /// Counts a redeem attempt; returns the new count.
    pub(crate) fn increment_tries(&mut self, id: B256) -> u64 {
        let slot = base_slot(id).wrapping_add(U256::from(NUM_TRIES));
        let tries = self.read(slot).saturating_to::<u64>() + 1;
        self.write(slot, U256::from(tries));
        tries
    }

    /// Adds a lifetime to ticket `id` (Nitro's `Keepalive`: one more timeout window and a
    /// duplicate queue entry); returns the new expiry.
    ///
    /// # Errors
    /// [`KeepaliveError::NotFound`] for unknown or expired tickets,
    /// [`KeepaliveError::TooFarInFuture`] when it already expires after `now + lifetime`.
    pub(crate) fn keepalive(&mut self, id: B256, now: u64) -> Result<u64, KeepaliveError> {
        let ticket = self.open(id, now).ok_or(KeepaliveError::NotFound)?;
        let expiry = ticket.expiry();
        if expiry > now.saturating_add(LIFETIME_SECONDS) {
            return Err(KeepaliveError::TooFarInFuture);
        }
        self.queue_put(id);
        let slot = base_slot(id).wrapping_add(U256::from(WINDOWS_LEFT));
        self.write(slot, U256::from(ticket.windows_left + 1));
        Ok(expiry + LIFETIME_SECONDS)
    }

    /// Deletes ticket `id`, paying what its escrow holds to the beneficiary; `false` when it
    /// does not exist.
    pub(crate) fn delete(&mut self, id: B256) -> bool {
        let base = base_slot(id);
        let field = |offset: u64| base.wrapping_add(U256::from(offset));
        if self.read(field(TIMEOUT)).is_zero() {
            return false;
        }
        let beneficiary = word_address(self.read(field(BENEFICIARY)));
        let escrow = escrow_address(id);
        let held = funds::balance(self.journal, escrow);
        funds::transfer(self.journal, escrow, beneficiary, held);
        let calldata_len = self.read(field(CALLDATA_LEN)).saturating_to::<u64>();
        for offset in NUM_TRIES..CALLDATA + words(calldata_len) {
            self.write(field(offset), U256::ZERO);
        }
        true
    }

    /// Nitro's `TryToReapOneRetryable`: looks at the oldest queue entry and, once its ticket's
    /// timeout is before `now`, deletes the ticket (escrow to the beneficiary) or, when
    /// keepalive windows are left, moves its timeout one lifetime on. Returns whether the
    /// queue was touched.
    pub(crate) fn reap_one(&mut self, now: u64) -> bool {
        let Some(id) = self.queue_peek() else {
            return false;
        };
        let base = base_slot(id);
        let field = |offset: u64| base.wrapping_add(U256::from(offset));
        let timeout: u64 = self.read(field(TIMEOUT)).saturating_to();
        if timeout == 0 {
            // Already deleted (redeemed or canceled): drop the stale entry.
            self.queue_pop();
            return true;
        }
        if timeout >= now {
            return false;
        }
        self.queue_pop();
        let windows: u64 = self.read(field(WINDOWS_LEFT)).saturating_to();
        if windows == 0 {
            self.delete(id);
        } else {
            self.write(field(TIMEOUT), U256::from(timeout + LIFETIME_SECONDS));
            self.write(field(WINDOWS_LEFT), U256::from(windows - 1));
        }
        true
    }

    fn queue_put(&mut self, id: B256) {
        let put = self.read(QUEUE_PUT_SLOT);
        self.write(QUEUE_BASE + put, id.into());
        self.write(QUEUE_PUT_SLOT, put + U256::from(1));
    }

    fn queue_peek(&mut self) -> Option<B256> {
        let (get, put) = (self.read(QUEUE_GET_SLOT), self.read(QUEUE_PUT_SLOT));
        (get < put).then(|| B256::from(self.read(QUEUE_BASE + get)))
    }

    fn queue_pop(&mut self) {
        let get = self.read(QUEUE_GET_SLOT);
        self.write(QUEUE_BASE + get, U256::ZERO);
        self.write(QUEUE_GET_SLOT, get + U256::from(1));
    }
}

fn base_slot(id: B256) -> U256 {
    U256::from_be_bytes(keccak256(id).0)
}

fn address_word(address: Address) -> U256 {
    U256::from_be_slice(address.as_slice())
}

fn word_address(word: U256) -> Address {
    Address::from_slice(&word.to_be_bytes::<32>()[12..])
}

#[cfg(test)]
mod tests {
    use revm::{
        context::{Journal, JournalTr},
        database::CacheDB,
        primitives::hardfork::SpecId,
    };

    use super::*;
    use crate::evm::Db;

    fn journal(db: &mut Db) -> Journal<&mut Db> {
        let mut journal = Journal::new(db);
        journal.set_spec_id(SpecId::PRAGUE);
        journal
    }

    fn ticket(id: u8, timeout: u64) -> Ticket {
        Ticket {
            id: B256::repeat_byte(id),
            num_tries: 0,
            from: Address::repeat_byte(1),
            to: None,
            callvalue: U256::from(7),
            beneficiary: Address::repeat_byte(2),
            calldata: vec![0xab; 40].into(),
            timeout,
            windows_left: 0,
        }
    }

    #[test]
    fn tickets_round_trip_expire_and_keep_alive() {
        let mut db = CacheDB::default();
        let mut journal = journal(&mut db);
        let mut store = TicketStore::new(&mut journal);
        let first = ticket(1, 1_000);
        store.create(&first);
        assert_eq!(store.open(first.id, 1_000), Some(first.clone()));
        assert_eq!(store.open(first.id, 1_001), None);
        assert_eq!(store.open(B256::repeat_byte(9), 0), None);
        assert_eq!(first.size_bytes(), 6 * 32 + 32 + 64);

        assert_eq!(store.keepalive(first.id, 10), Ok(1_000 + LIFETIME_SECONDS));
        assert_eq!(store.keepalive(first.id, 10), Err(KeepaliveError::TooFarInFuture));
        assert_eq!(store.keepalive(first.id, 1_001), Err(KeepaliveError::NotFound));
        // The reaper moves the timeout on instead of deleting while windows are left.
        assert!(store.reap_one(1_001));
        let kept = store.open(first.id, 1_001).unwrap();
        assert_eq!((kept.timeout, kept.windows_left), (1_000 + LIFETIME_SECONDS, 0));
        // The duplicate entry deletes it once the extended timeout passed.
        assert!(!store.reap_one(1_001));
        assert!(store.reap_one(2_000 + LIFETIME_SECONDS));
        assert_eq!(store.open(first.id, 0), None);
        assert!(!store.delete(first.id));
        assert!(store.burned() > 0);
    }

    #[test]
    fn message_numbers_count_up() {
        let mut db = CacheDB::default();
        let mut journal = journal(&mut db);
        let mut store = TicketStore::new(&mut journal);
        assert_eq!(store.next_message_number(), U256::ZERO);
        assert_eq!(store.next_message_number(), U256::from(1));
    }
}
