//! The Unicode data of the MiniLM tokenizer's normalization, as range tables ([`data`], generated
//! by `crates/tokenizer-check` from the reference's own Unicode crates and checked there against
//! them for every code point).
//!
//! - [`class`]: what the normalizer and pre-tokenizer do with a character.
//! - [`normalize`]: canonical decomposition with non-spacing marks dropped, then lower-casing, for
//!   one character (precomposed Hangul excepted: it decomposes arithmetically).
//! - [`combining_class`]: the canonical combining class of a character that normalization keeps.
//!
//! How [`data`]'s rows are encoded (the [`Class`] of a range, the rules of a mapping run) is in
//! `encoding`, below both.

mod data;
mod encoding;

pub(super) use encoding::Class;
use encoding::{ALT, BIAS, DELTA, SEQ, TO, class_of};

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
