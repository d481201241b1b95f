//! The character classes of the `smollm` pre-tokenizer's pattern: what [`super::pretokenize`]
//! splits on and the generated [`super::classes`] ranges hold.

/// What the pattern distinguishes about a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\s` (the Unicode `White_Space` property).
    Space,
    /// Anything else, unassigned code points included.
    Other,
}
