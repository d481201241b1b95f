//! BERT WordPiece tokenizer (uncased), defined as what Hugging Face `tokenizers` does with
//! all-MiniLM-L6-v2's `tokenizer.json` on plain text (no special tokens parsed from the text):
//!
//! 1. Normalizer (`BertNormalizer`, lower-casing and accent stripping): drop NUL, U+FFFD and
//!    control characters (`Cc`, `Cf`, `Co` other than tab, LF and CR); whitespace becomes a space;
//!    CJK ideographs get a space on either side; canonical decomposition (NFD, with canonical
//!    reordering of combining marks); non-spacing marks (`Mn`) dropped; lower-casing.
//! 2. Pre-tokenizer (`BertPreTokenizer`): split on whitespace, each punctuation character (ASCII
//!    punctuation or a Unicode `P*` category) a word of its own.
//! 3. Model (`WordPiece`): greedy longest match with the `##` continuation prefix; a word with no
//!    match, or over 100 characters, is one `[UNK]`.
//! 4. `[CLS] … [SEP]` around the ids.
//!
//! The Unicode data is the reference's, not the newest: character categories of Unicode 8.0 (the
//! `unicode_categories` crate), decompositions and combining classes of Unicode 9.0
//! (`unicode-normalization-alignments`), White_Space and lower-case mappings of the Rust release
//! the reference was built with. The `tables` module carries all of it as range tables, generated
//! by and checked code point by code point against those crates in `crates/tokenizer-check`;
//! nothing here depends on the Unicode version of the toolchain that compiles the engine.
//!
//! Cost is linear in the text: each character is looked up in the tables (binary search), a run
//! of combining marks is sorted once, and word pieces are only tried up to the longest vocabulary
//! entry, on words of at most 100 characters.

mod tables;

use alloc::{string::String, vec::Vec};

use crate::{Error, Result};

/// A WordPiece vocabulary.
#[derive(Debug, Clone)]
pub struct WordPiece {
    sorted: Vec<(Vec<u8>, u32)>,
    unk: u32,
    cls: u32,
    sep: u32,
    /// Longest entry in bytes: no longer piece needs looking up.
    max_piece: usize,
}

/// Words longer than this (in characters, after normalization) are `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

impl WordPiece {
    /// Builds the tokenizer from a `vocab.txt` (one token per line, id = line number).
    ///
    /// # Errors
    /// [`Error::Format`] when `[UNK]`, `[CLS]` or `[SEP]` is missing.
    pub fn from_vocab(vocab: &[u8]) -> Result<Self> {
        let mut sorted: Vec<(Vec<u8>, u32)> = vocab
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| (l.strip_suffix(b"\r").unwrap_or(l).to_vec(), i as u32))
            .collect();
        if sorted.last().is_some_and(|(l, _)| l.is_empty()) {
            sorted.pop();
        }
        sorted.sort();
        let max_piece = sorted.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let mut t = Self { sorted, unk: 0, cls: 0, sep: 0, max_piece };
        let find = |t: &Self, s: &str| {
            t.id(s.as_bytes()).ok_or_else(|| Error::Format(alloc::format!("vocab lacks {s}")))
        };
        t.unk = find(&t, "[UNK]")?;
        t.cls = find(&t, "[CLS]")?;
        t.sep = find(&t, "[SEP]")?;
        Ok(t)
    }

    fn id(&self, piece: &[u8]) -> Option<u32> {
        self.sorted
            .binary_search_by(|(p, _)| p.as_slice().cmp(piece))
            .ok()
            .map(|i| self.sorted[i].1)
    }

    /// Token ids of `[CLS] text [SEP]`, truncated to at most `max_len` ids in total.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut ids = alloc::vec![self.cls];
        let mut piece = Vec::new();
        for word in pre_tokenize(text) {
            self.word_pieces(&word, &mut piece, &mut ids);
        }
        ids.truncate(max_len.max(2) - 1);
        ids.push(self.sep);
        ids
    }

    /// Appends the pieces of one word (greedy longest match), or `[UNK]`.
    fn word_pieces(&self, word: &str, piece: &mut Vec<u8>, ids: &mut Vec<u32>) {
        if word.chars().nth(MAX_WORD_CHARS).is_some() {
            ids.push(self.unk);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        while start < word.len() {
            let prefix = if start == 0 { 0 } else { 2 };
            // The longest candidate that could be in the vocabulary, at a character boundary.
            let mut end = word.len().min(start + self.max_piece.saturating_sub(prefix));
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            let found = loop {
                if end <= start {
                    break None;
                }
                piece.clear();
                if prefix > 0 {
                    piece.extend_from_slice(b"##");
                }
                piece.extend_from_slice(&word.as_bytes()[start..end]);
                if let Some(id) = self.id(piece) {
                    break Some(id);
                }
                end -= 1;
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
            };
            let Some(id) = found else {
                ids.truncate(first);
                ids.push(self.unk);
                return;
            };
            ids.push(id);
            start = end;
        }
    }
}

/// The words WordPiece sees in `text`: the normalizer and pre-tokenizer steps of the module
/// documentation.
pub fn pre_tokenize(text: &str) -> Vec<String> {
    let mut s = Splitter::default();
    for c in text.chars() {
        match tables::class(c) {
            tables::Class::Control => {}
            tables::Class::Space => s.space(),
            tables::Class::Cjk => {
                s.space();
                s.normalize(c);
                s.space();
            }
            tables::Class::Punct | tables::Class::Other => s.normalize(c),
        }
    }
    s.space();
    s.words
}

/// Marker in [`tables::Norm::Str`] for a dropped mark of combining class 0: it ends a run of
/// combining marks (canonical reordering does not cross it) and produces nothing.
const BREAK: char = '\0';

/// Streams normalized characters into words.
#[derive(Default)]
struct Splitter {
    words: Vec<String>,
    word: String,
    /// Kept characters of nonzero combining class since the last starter, with their class.
    marks: Vec<(u8, char)>,
}

impl Splitter {
    /// A space: ends the current word.
    fn space(&mut self) {
        self.flush_marks();
        self.end_word();
    }

    /// Decomposes, drops non-spacing marks, lower-cases.
    fn normalize(&mut self, c: char) {
        if let Some(jamo) = hangul(c) {
            for j in jamo.into_iter().flatten() {
                self.item(j);
            }
            return;
        }
        match tables::normalize(c) {
            tables::Norm::Same => self.item(c),
            tables::Norm::Char(x) => self.item(x),
            tables::Norm::Str(s) => {
                for x in s.chars() {
                    if x == BREAK { self.flush_marks() } else { self.item(x) }
                }
            }
        }
    }

    /// One normalized character: a starter goes out after the pending marks; a combining mark
    /// waits for canonical ordering.
    fn item(&mut self, x: char) {
        match tables::combining_class(x) {
            0 => {
                self.flush_marks();
                self.emit(x);
            }
            ccc => self.marks.push((ccc, x)),
        }
    }

    /// Emits the pending marks, stably sorted by combining class.
    fn flush_marks(&mut self) {
        if self.marks.is_empty() {
            return;
        }
        let mut marks = core::mem::take(&mut self.marks);
        marks.sort_by_key(|&(ccc, _)| ccc);
        for &(_, x) in &marks {
            self.emit(x);
        }
        marks.clear();
        self.marks = marks;
    }

    /// Pre-tokenization of one normalized character.
    fn emit(&mut self, x: char) {
        match tables::class(x) {
            tables::Class::Space => self.end_word(),
            tables::Class::Punct => {
                self.end_word();
                self.words.push(String::from(x));
            }
            _ => self.word.push(x),
        }
    }

    fn end_word(&mut self) {
        if !self.word.is_empty() {
            self.words.push(core::mem::take(&mut self.word));
        }
    }
}

/// Canonical decomposition of a precomposed Hangul syllable into its two or three jamo.
fn hangul(c: char) -> Option<[Option<char>; 3]> {
    const S_BASE: u32 = 0xAC00;
    const V_COUNT: u32 = 21;
    const T_COUNT: u32 = 28;
    const S_COUNT: u32 = 19 * V_COUNT * T_COUNT;
    let s = (c as u32).checked_sub(S_BASE).filter(|&s| s < S_COUNT)?;
    let l = char::from_u32(0x1100 + s / (V_COUNT * T_COUNT));
    let v = char::from_u32(0x1161 + s % (V_COUNT * T_COUNT) / T_COUNT);
    let t = match s % T_COUNT {
        0 => None,
        t => char::from_u32(0x11A7 + t),
    };
    Some([l, v, t])
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: &[u8] =
        b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nplay\n##ing\n##s\na\n##b\n[\n]\ncls\n";

    #[test]
    fn splits_punctuation_and_word_pieces() {
        let t = WordPiece::from_vocab(VOCAB).expect("vocab");
        assert_eq!(t.encode("Hello, WORLD!", 64), [2, 4, 5, 6, 7, 3]);
        assert_eq!(t.encode("playing plays xyz", 64), [2, 8, 9, 8, 10, 1, 3]);
        assert_eq!(t.encode("hello hello hello", 3), [2, 4, 3]);
        assert_eq!(t.encode("HÉLLÖ hëllo\u{301}", 64), [2, 4, 4, 3]);
        // A word with an unknown piece is one [UNK], pieces found before it included.
        assert_eq!(t.encode("playx", 64), [2, 1, 3]);
        // Typed special tokens are text.
        assert_eq!(t.encode("[CLS]", 64), [2, 13, 15, 14, 3]);
    }

    #[test]
    fn long_words_are_unknown() {
        let t = WordPiece::from_vocab(VOCAB).expect("vocab");
        let word = |n: usize| alloc::format!("a{}", "b".repeat(n - 1));
        assert_eq!(t.encode(&word(100), 256).len(), 2 + 100);
        assert_eq!(t.encode(&word(101), 256), [2, 1, 3]);
        // Marks dropped by normalization do not count.
        let marked: String = word(100).chars().flat_map(|c| [c, '\u{301}']).collect();
        assert_eq!(t.encode(&marked, 256).len(), 2 + 100);
        // Cost stays linear: a megabyte word is one [UNK].
        assert_eq!(t.encode(&word(1 << 20), 256), [2, 1, 3]);
    }

    #[test]
    fn normalizes_like_bert() {
        let words = |s: &str| pre_tokenize(s);
        // Controls dropped, whitespace kinds split, NUL and U+FFFD dropped.
        assert_eq!(words("a\u{0}b\u{FFFD}c\u{200B}d\u{85}e"), ["abcde"]);
        assert_eq!(words("a\tb\u{3000}c\u{2028}d\u{A0}e"), ["a", "b", "c", "d", "e"]);
        // Punctuation of any script isolated; symbols are not punctuation.
        assert_eq!(words("x¿y«z»$w"), ["x", "¿", "y", "«", "z", "»", "$", "w"]);
        // CJK ideographs (and compatibility ideographs, then decomposed) stand alone.
        assert_eq!(words("ab日本cd\u{F900}"), ["ab", "日", "本", "cd", "\u{8C48}"]);
        // Accents stripped in any script; singletons decomposed; İ loses its dot.
        assert_eq!(words("Ωmega Å Åx ῼ İ ǅ"), ["ωmega", "a", "ax", "ω", "i", "ǆ"]);
        assert_eq!(words("ё й ώ \u{1FEF}"), ["е", "и", "ω", "`"]);
        // Hangul syllables decompose into jamo.
        assert_eq!(words("한"), ["\u{1112}\u{1161}\u{11AB}"]);
        // Spacing marks with a combining class are reordered canonically, and a dropped mark of
        // class 0 stops the reordering.
        assert_eq!(words("x\u{1D16D}\u{1D165}"), ["x\u{1D165}\u{1D16D}"]);
        assert_eq!(words("x\u{1D16D}\u{F76}\u{1D165}"), ["x\u{1D16D}\u{1D165}"]);
        assert_eq!(words("x\u{1D16D}\u{344}\u{1D165}"), ["x\u{1D165}\u{1D16D}"]);
    }
}
