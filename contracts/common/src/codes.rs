//! The `uint8` codes the contracts store and return (job status, validator state, epoch-seed
//! state, staking role, batch-record state), as enums. The contracts define their constants from
//! these, and the services decode every returned code through them, so a code means the same
//! thing everywhere.

use core::fmt;

/// A code a contract returned that this build does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode {
    /// What the code is (`job status`, `validator state`, ...).
    pub kind: &'static str,
    /// The value.
    pub code: u8,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} code {}", self.kind, self.code)
    }
}

impl core::error::Error for UnknownCode {}

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl $name {
            /// Every code, in order.
            pub const ALL: &[Self] = &[$(Self::$variant),*];
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code as u8
            }
        }

        impl TryFrom<u8> for $name {
            type Error = UnknownCode;

            fn try_from(code: u8) -> Result<Self, UnknownCode> {
                match code {
                    $($value => Ok(Self::$variant),)*
                    _ => Err(UnknownCode { kind: $kind, code }),
                }
            }
        }
    };
}

codes!(
    /// A job's status in `JobMarket` (`job(id).status`), and a challenge's in `Sampling`
    /// (`challenge(id).status`: `None`, then `Challenged` to a final one).
    JobStatus, "job status" {
        /// No such job or challenge.
        None = 0,
        /// Waiting for the asserter draw.
        Submitted = 1,
        /// Drawn asserter working.
        Assigned = 2,
        /// Result asserted, challenge coin not yet drawn.
        Asserted = 3,
        /// Validators committing and revealing.
        Challenged = 4,
        /// Final: the asserted result stands.
        Accepted = 5,
        /// Hashes disagree; stakes frozen until the dispute is resolved.
        Disputed = 6,
        /// Final: the asserter lost its dispute.
        Rejected = 7,
        /// Final: nobody delivered in time; the fee went back.
        Refunded = 8,
    }
);

impl JobStatus {
    /// Whether the status can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Accepted | Self::Rejected | Self::Refunded)
    }
}

codes!(
    /// A drawn validator's state in `Sampling` (`jobValidators(id).states`).
    ValidatorState, "validator state" {
        /// Drawn, nothing sent yet.
        Drawn = 0,
        /// Commitment sent.
        Committed = 1,
        /// Output hash revealed and checked against the commitment.
        Revealed = 2,
    }
);

codes!(
    /// An epoch seed's state in `JobMarket` (`epochSeed(epoch).state`).
    SeedState, "seed state" {
        /// Nothing committed.
        None = 0,
        /// Committed, not yet revealed.
        Committed = 1,
        /// Revealed: draws of the epoch use it.
        Revealed = 2,
        /// Never revealed; the coordinator was slashed and draws use a zero seed.
        Forfeited = 3,
    }
);

codes!(
    /// An operator's role in `Staking` (`operatorInfo(op).role`, `registerOperator(role, ..)`).
    Role, "staking role" {
        /// Not registered.
        None = 0,
        /// Serves models, asserts and validates jobs.
        Miner = 1,
        /// Runs a coordinator: commits batches and epoch seeds.
        Coordinator = 2,
    }
);

codes!(
    /// What happened to a batch record in `JobMarket` (each leaf is spent at most once).
    RecordState, "batch record state" {
        /// Neither opened nor claimed.
        Unspent = 0,
        /// Opened as a challenged job in `Sampling`.
        Opened = 1,
        /// Claimed: its asserter was paid.
        Claimed = 2,
    }
);

codes!(
    /// Where a dispute game stands in `DisputeGame` (`game(id).phase`). In every phase but
    /// `Ended` the defender moves first, then the challenger.
    GamePhase, "game phase" {
        /// No such game.
        None = 0,
        /// Each side opens its trace root: `(n_leaves, tree_root)`.
        Roots = 1,
        /// Bisection over the trace's leaves.
        Leaves = 2,
        /// Each side opens the first differing leaf.
        Leaf = 3,
        /// Bisection over that leaf's cells.
        Cells = 4,
        /// Each side opens the first differing cell.
        Cell = 5,
        /// Waiting for the one-step proof of the disputed element (the defender's burden).
        Step = 6,
        /// Final: `outcome` says how.
        Ended = 7,
        /// The disputed element is a reduction longer than a row: each side opens how many
        /// terms it reduces and its final accumulator.
        Reduction = 8,
        /// Bisection over the reduction's running accumulators.
        Terms = 9,
    }
);

codes!(
    /// How a dispute game ended (`game(id).outcome`).
    GameOutcome, "game outcome" {
        /// Not ended.
        None = 0,
        /// The defender's claim stands: the challenger lost (by proof or on time).
        DefenderWon = 1,
        /// The defender lost (by proof or on time).
        ChallengerWon = 2,
        /// Both claims were shown wrong.
        BothWrong = 3,
        /// Narrowed to a step the one-step prover does not decide yet (see the dispute
        /// contract): nobody is slashed and the job is not paid.
        NoVerdict = 4,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_named() {
        for &s in JobStatus::ALL {
            assert_eq!(JobStatus::try_from(u8::from(s)), Ok(s));
        }
        assert_eq!(JobStatus::ALL.len(), 9);
        assert_eq!(u8::from(JobStatus::Refunded), 8);
        assert_eq!(SeedState::try_from(4), Err(UnknownCode { kind: "seed state", code: 4 }));
        assert_eq!(
            alloc::format!("{}", Role::try_from(9).unwrap_err()),
            "unknown staking role code 9"
        );
        assert!(JobStatus::Accepted.is_final() && !JobStatus::Disputed.is_final());
    }
}
