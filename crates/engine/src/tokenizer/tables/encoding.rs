//! How the rows of the generated [`super::data`] tables are encoded: character classes as
//! `at(start, class)` boundaries, mapping runs as `run(first, last, rule)` with their rules.

/// What the tokenizer does with a character, before and after normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::tokenizer) enum Class {
    /// Anything else: part of a word.
    Other = 0,
    /// Dropped before anything else: NUL, U+FFFD, `Cc`, `Cf`, `Co` other than tab, LF, CR.
    Control = 1,
    /// Whitespace (that is not dropped): separates words.
    Space = 2,
    /// A CJK ideograph: a word of its own, then normalized.
    Cjk = 3,
    /// Punctuation (ASCII punctuation or a `P*` category): a word of its own.
    Punct = 4,
}

/// One boundary of [`super::data::CLASSES`]: from `start` on, characters are of class `class`.
pub(super) const fn at(start: u32, class: Class) -> u32 {
    start << 3 | class as u32
}

pub(super) const fn class_of(boundary: u32) -> Class {
    match boundary & 7 {
        1 => Class::Control,
        2 => Class::Space,
        3 => Class::Cjk,
        4 => Class::Punct,
        _ => Class::Other,
    }
}

/// The rule of a [`super::data::MAP`] run, in the top two bits.
pub(super) const TO: u32 = 0;
pub(super) const DELTA: u32 = 1 << 30;
pub(super) const ALT: u32 = 2 << 30;
pub(super) const SEQ: u32 = 3 << 30;
/// Bias of a signed delta in the rule's low 30 bits.
pub(super) const BIAS: i32 = 1 << 22;

/// A [`super::data::MAP`] run: every code point of `first..=last` (at most 2048 of them) maps by
/// `rule`.
pub(super) const fn run(first: u32, last: u32, rule: u32) -> (u32, u32) {
    assert!(first <= last && last - first < 1 << 11);
    (first << 11 | (last - first), rule)
}

/// Each code point of the run becomes `c`.
pub(super) const fn to(c: char) -> u32 {
    TO | c as u32
}

/// Each code point `cp` of the run becomes `cp + d`.
pub(super) const fn delta(d: i32) -> u32 {
    DELTA | (d + BIAS) as u32
}

/// Code points at an even offset in the run become `cp + d`; the others are unchanged.
pub(super) const fn alt(d: i32) -> u32 {
    ALT | (d + BIAS) as u32
}

/// Each code point of the run becomes [`super::data::SEQS`]`[i]`.
pub(super) const fn seq(i: u32) -> u32 {
    SEQ | i
}
