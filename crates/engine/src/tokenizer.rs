//! BERT WordPiece tokenizer (uncased): text cleanup, lower-casing, whitespace and punctuation
//! splitting, then greedy longest-match word pieces with the `##` continuation prefix.
//!
//! Accents are stripped for Latin-1 and Latin Extended-A letters (tables checked against Unicode
//! NFD) and combining marks U+0300–U+036F are dropped; other scripts keep their accents (the
//! Hugging Face tokenizer decomposes everything with NFD). CJK ideographs are split like
//! punctuation.

use alloc::{string::String, vec::Vec};

use crate::{Error, Result};

/// A WordPiece vocabulary.
#[derive(Debug, Clone)]
pub struct WordPiece {
    sorted: Vec<(Vec<u8>, u32)>,
    unk: u32,
    cls: u32,
    sep: u32,
}

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
        let mut t = Self { sorted, unk: 0, cls: 0, sep: 0 };
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
        for word in basic_split(text) {
            self.word_pieces(&word, &mut ids);
        }
        ids.truncate(max_len.max(2) - 1);
        ids.push(self.sep);
        ids
    }

    fn word_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
        if bounds.len() - 1 > MAX_WORD_CHARS {
            ids.push(self.unk);
            return;
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        while start + 1 < bounds.len() {
            let mut found = None;
            for end in (start + 1..bounds.len()).rev() {
                let mut piece = Vec::new();
                if start > 0 {
                    piece.extend_from_slice(b"##");
                }
                piece.extend_from_slice(&word.as_bytes()[bounds[start]..bounds[end]]);
                if let Some(id) = self.id(&piece) {
                    found = Some((id, end));
                    break;
                }
            }
            let Some((id, end)) = found else {
                ids.push(self.unk);
                return;
            };
            pieces.push(id);
            start = end;
        }
        ids.extend(pieces);
    }
}

/// Base letters of U+00E0..=U+00FF after NFD and mark removal (`-`: no ASCII base).
const LATIN1: &[u8; 32] = b"aaaaaa-ceeeeiiii-nooooo--uuuuy-y";
/// Base letters of U+0100..=U+017F after lower-casing, NFD and mark removal.
const LATIN_EXT_A: &[u8; 128] =
    b"aaaaaaccccccccdd--eeeeeeeeeegggggggghh--iiiiiiiii---jjkk-llllll----nnnnnn---oooooo--rrrrrrsssssssstttt--uuuuuuuuuuuuwwyyyzzzzzz-";

/// Strips the accent of a lower-case letter; `None` drops a combining mark.
fn strip_accent(c: char) -> Option<char> {
    let base = match c as u32 {
        0x300..=0x36F => return None,
        v @ 0xE0..=0xFF => LATIN1[(v - 0xE0) as usize],
        v @ 0x100..=0x17F => LATIN_EXT_A[(v - 0x100) as usize],
        _ => b'-',
    };
    Some(if base == b'-' { c } else { base as char })
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c as u32, 0x2000..=0x206F | 0x3000..=0x303F | 0xFF00..=0xFF0F | 0x00A1..=0x00BF)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

/// Cleans, lower-cases and splits text into words and single punctuation marks.
fn basic_split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c == '\0' || c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() {
            if !cur.is_empty() {
                words.push(core::mem::take(&mut cur));
            }
        } else if is_punct(c) || is_cjk(c) {
            if !cur.is_empty() {
                words.push(core::mem::take(&mut cur));
            }
            words.push(String::from(c));
        } else {
            cur.extend(c.to_lowercase().filter_map(strip_accent));
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: &[u8] = b"[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nplay\n##ing\n##s\n";

    #[test]
    fn splits_punctuation_and_word_pieces() {
        let t = WordPiece::from_vocab(VOCAB).expect("vocab");
        assert_eq!(t.encode("Hello, WORLD!", 64), [2, 4, 5, 6, 7, 3]);
        assert_eq!(t.encode("playing plays xyz", 64), [2, 8, 9, 8, 10, 1, 3]);
        assert_eq!(t.encode("hello hello hello", 3), [2, 4, 3]);
        assert_eq!(t.encode("HÉLLÖ hëllo\u{301}", 64), [2, 4, 4, 3]);
    }
}
