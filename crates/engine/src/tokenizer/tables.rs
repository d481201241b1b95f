//! The Unicode data of the MiniLM tokenizer's normalization, as range tables ([`data`], generated
//! by `crates/tokenizer-check` from the reference's own Unicode crates and checked there against
//! them for every code point).
//!
//! - [`class`]: what the normalizer and pre-tokenizer do with a character.
//! - [`normalize`]: canonical decomposition with non-spacing marks dropped, then lower-casing, for
//!   one character (precomposed Hangul excepted: it decomposes arithmetically).
//! - [`combining_class`]: the canonical combining class of a character that normalization keeps.

mod data;

/// What the tokenizer does with a character, before and after normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
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

/// One boundary of [`data::CLASSES`]: from `start` on, characters are of class `class`.
const fn at(start: u32, class: Class) -> u32 {
    start << 3 | class as u32
}

const fn class_of(boundary: u32) -> Class {
    match boundary & 7 {
        1 => Class::Control,
        2 => Class::Space,
        3 => Class::Cjk,
        4 => Class::Punct,
        _ => Class::Other,
    }
}

/// The classes of the ASCII characters, read from [`data::CLASSES`] at compile time.
static ASCII: [Class; 128] = {
    let mut classes = [Class::Other; 128];
    let (mut cp, mut i) = (0, 0);
    while cp < 128 {
        while i + 1 < data::CLASSES.len() && data::CLASSES[i + 1] >> 3 <= cp as u32 {
            i += 1;
        }
        classes[cp] = class_of(data::CLASSES[i]);
        cp += 1;
    }
    classes
};

/// The class of `c`.
pub(super) fn class(c: char) -> Class {
    let cp = c as u32;
    if let Some(&class) = ASCII.get(cp as usize) {
        return class;
    }
    let i = data::CLASSES.partition_point(|&b| b >> 3 <= cp);
    class_of(data::CLASSES[i.saturating_sub(1)])
}

/// The canonical combining class of `c`, a character kept by normalization (the others are
/// dropped before their class matters); 0 for most.
pub(super) fn combining_class(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x300 {
        return 0;
    }
    let i = data::COMBINING.partition_point(|&(first, _, _)| first <= cp);
    match i.checked_sub(1).map(|i| data::COMBINING[i]) {
        Some((_, last, ccc)) if cp <= last => ccc,
        _ => 0,
    }
}

/// A character after normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Norm {
    /// Unchanged.
    Same,
    /// One other character.
    Char(char),
    /// Several characters, or none; [`super::BREAK`] marks a dropped mark of combining class 0.
    Str(&'static str),
}

/// The rule of a [`data::MAP`] run, in the top two bits.
const TO: u32 = 0;
const DELTA: u32 = 1 << 30;
const ALT: u32 = 2 << 30;
const SEQ: u32 = 3 << 30;
/// Bias of a signed delta in the rule's low 30 bits.
const BIAS: i32 = 1 << 22;

/// A [`data::MAP`] run: every code point of `first..=last` (at most 2048 of them) maps by `rule`.
const fn run(first: u32, last: u32, rule: u32) -> (u32, u32) {
    assert!(first <= last && last - first < 1 << 11);
    (first << 11 | (last - first), rule)
}

/// Each code point of the run becomes `c`.
const fn to(c: char) -> u32 {
    TO | c as u32
}

/// Each code point `cp` of the run becomes `cp + d`.
const fn delta(d: i32) -> u32 {
    DELTA | (d + BIAS) as u32
}

/// Code points at an even offset in the run become `cp + d`; the others are unchanged.
const fn alt(d: i32) -> u32 {
    ALT | (d + BIAS) as u32
}

/// Each code point of the run becomes [`data::SEQS`]`[i]`.
const fn seq(i: u32) -> u32 {
    SEQ | i
}

/// `c` after canonical decomposition, dropping non-spacing marks and lower-casing.
pub(super) fn normalize(c: char) -> Norm {
    if c.is_ascii() {
        return if c.is_ascii_uppercase() {
            Norm::Char(c.to_ascii_lowercase())
        } else {
            Norm::Same
        };
    }
    let cp = c as u32;
    let i = data::MAP.partition_point(|&(key, _)| key >> 11 <= cp);
    let Some(&(key, rule)) = i.checked_sub(1).and_then(|i| data::MAP.get(i)) else {
        return Norm::Same;
    };
    let offset = cp - (key >> 11);
    if offset > key & 0x7FF {
        return Norm::Same;
    }
    let shifted = |d: u32| char::from_u32(cp.wrapping_add_signed(d as i32 - BIAS));
    let mapped = match rule & SEQ {
        TO => char::from_u32(rule),
        DELTA => shifted(rule & !SEQ),
        ALT if offset.is_multiple_of(2) => shifted(rule & !SEQ),
        ALT => return Norm::Same,
        _ => return Norm::Str(data::SEQS[(rule & !SEQ) as usize]),
    };
    mapped.map_or(Norm::Same, Norm::Char)
}
