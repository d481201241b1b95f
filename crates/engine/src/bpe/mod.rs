//! Byte-level BPE tokenizer (GPT-2 family, as SmolLM2 uses), defined as llama.cpp tokenizes with
//! the model's GGUF: the `smollm` pre-tokenizer (`pretokenize.rs`), GPT-2's byte-to-character map,
//! then rank-ordered merges inside each piece.
//!
//! Text is always plain text: [`Bpe::encode`] never turns `<|im_start|>` typed in a prompt into a
//! special token. Special tokens enter a sequence only through the chat template
//! ([`crate::chat`]), by id.
//!
//! Cost: pre-tokenization is one pass; merging a piece of n bytes is O(n log n) (a heap of
//! adjacent pairs keyed by rank and position, stale entries skipped); memory is O(n).

mod class;
mod classes;
mod pretokenize;

pub use classes::UNICODE_VERSION;

use alloc::{collections::BTreeMap, collections::BinaryHeap, string::String, vec::Vec};
use core::cmp::Reverse;

use crate::{Error, Result};

/// A byte-level BPE vocabulary.
#[derive(Debug, Clone)]
pub struct Bpe {
    tokens: Vec<String>,
    sorted: Vec<(String, u32)>,
    /// `(left, right) -> (rank, merged)`; the first listing of a pair wins.
    ranks: BTreeMap<(u32, u32), (u32, u32)>,
    specials: Vec<(String, u32)>,
    /// The token of each byte's character, [`NONE`] when the vocabulary lacks it (SmolLM2 has
    /// no token for 21 bytes: C0 controls and bytes UTF-8 never or rarely uses). Such a byte
    /// merges with nothing and yields no id, as in llama.cpp.
    byte_ids: [u32; 256],
    /// Character -> byte, the inverse of [`byte_chars`].
    char_bytes: BTreeMap<char, u8>,
}

/// GPT-2's reversible map from bytes to printable characters.
pub fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            extra += 1;
            255 + extra
        };
        out[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    out
}

/// Length-prefixed strings: `len u16 ‖ utf-8` each.
pub fn encode_strings(items: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    for s in items {
        b.extend_from_slice(&(s.len() as u16).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    b
}

fn decode_strings(mut b: &[u8]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let bad = || Error::Format("malformed tokenizer strings".into());
        let n =
            u16::from_le_bytes([*b.first().ok_or_else(bad)?, *b.get(1).ok_or_else(bad)?]) as usize;
        let s = b.get(2..2 + n).ok_or_else(bad)?;
        out.push(String::from_utf8(s.to_vec()).map_err(|_| bad())?);
        b = &b[2 + n..];
    }
    Ok(out)
}

/// One symbol of a piece being merged: a token, linked to its live neighbours.
#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    prev: u32,
    next: u32,
    live: bool,
}

const NONE: u32 = u32::MAX;

impl Bpe {
    /// Builds the tokenizer from its token and merge lists (`"a b"` each). Tokens of the form
    /// `<|...|>` are special: never produced from text, skipped when decoding.
    ///
    /// # Errors
    /// [`Error::Format`] for malformed lists or a merge whose parts or result are not tokens.
    pub fn from_bytes(tokens: &[u8], merges: &[u8]) -> Result<Self> {
        let tokens = decode_strings(tokens)?;
        let mut sorted: Vec<(String, u32)> = tokens.iter().cloned().zip(0u32..).collect();
        sorted.sort();
        let find =
            |s: &str| sorted.binary_search_by(|(t, _)| t.as_str().cmp(s)).ok().map(|i| sorted[i].1);
        let chars = byte_chars();
        let byte_ids = chars.map(|c| find(c.encode_utf8(&mut [0u8; 4])).unwrap_or(NONE));
        let mut ranks = BTreeMap::new();
        for (rank, m) in decode_strings(merges)?.iter().enumerate() {
            let (a, b) =
                m.split_once(' ').ok_or_else(|| Error::Format("merge without a space".into()))?;
            let mut ab = String::from(a);
            ab.push_str(b);
            let (Some(x), Some(y), Some(z)) = (find(a), find(b), find(&ab)) else {
                return Err(Error::Format(alloc::format!("merge {m:?} is not over tokens")));
            };
            ranks.entry((x, y)).or_insert((rank as u32, z));
        }
        let specials = tokens
            .iter()
            .zip(0u32..)
            .filter(|(t, _)| t.starts_with("<|") && t.ends_with("|>"))
            .map(|(t, i)| (t.clone(), i))
            .collect();
        let char_bytes = chars.iter().zip(0u8..=255).map(|(&c, b)| (c, b)).collect();
        Ok(Self { tokens, sorted, ranks, specials, byte_ids, char_bytes })
    }

    /// The id of a token string.
    pub fn id(&self, s: &str) -> Option<u32> {
        self.sorted.binary_search_by(|(t, _)| t.as_str().cmp(s)).ok().map(|i| self.sorted[i].1)
    }

    /// The id of a special token such as `<|im_start|>`.
    pub fn special(&self, s: &str) -> Option<u32> {
        self.specials.iter().find(|(t, _)| t == s).map(|&(_, id)| id)
    }

    /// Encodes plain text (special-token strings in it are ordinary text). At most one id per
    /// byte of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        self.encode_into(text, &mut ids);
        ids
    }

    /// [`Bpe::encode`], appending to `ids`.
    pub fn encode_into(&self, text: &str, ids: &mut Vec<u32>) {
        let mut symbols = Vec::new();
        let mut heap = BinaryHeap::new();
        pretokenize::pieces(text, |piece| self.merge_piece(piece, &mut symbols, &mut heap, ids));
    }

    /// Merges one piece: repeatedly the adjacent pair of lowest rank, leftmost first.
    fn merge_piece(
        &self,
        piece: &str,
        symbols: &mut Vec<Symbol>,
        heap: &mut BinaryHeap<Reverse<(u32, u32)>>,
        ids: &mut Vec<u32>,
    ) {
        let n = piece.len() as u32;
        symbols.clear();
        symbols.extend(piece.bytes().zip(0u32..).map(|(b, i)| Symbol {
            id: self.byte_ids[b as usize],
            prev: if i == 0 { NONE } else { i - 1 },
            next: if i + 1 == n { NONE } else { i + 1 },
            live: true,
        }));
        heap.clear();
        for i in 1..n {
            self.push_pair(symbols, heap, i - 1);
        }
        // Each entry is (rank, left position); an entry is stale when its left symbol was merged
        // away or its pair changed since it was pushed (the rank lookup then disagrees).
        while let Some(Reverse((rank, left))) = heap.pop() {
            let l = symbols[left as usize];
            if !l.live || l.next == NONE {
                continue;
            }
            let r = symbols[l.next as usize];
            match self.ranks.get(&(l.id, r.id)) {
                Some(&(now, merged)) if now == rank => {
                    let right = l.next;
                    symbols[left as usize].id = merged;
                    symbols[left as usize].next = r.next;
                    symbols[right as usize].live = false;
                    if r.next != NONE {
                        symbols[r.next as usize].prev = left;
                    }
                    if l.prev != NONE {
                        self.push_pair(symbols, heap, l.prev);
                    }
                    self.push_pair(symbols, heap, left);
                }
                _ => {}
            }
        }
        let mut at = if n == 0 { NONE } else { 0 };
        while at != NONE {
            let id = symbols[at as usize].id;
            if id != NONE {
                ids.push(id);
            }
            at = symbols[at as usize].next;
        }
    }

    fn push_pair(&self, symbols: &[Symbol], heap: &mut BinaryHeap<Reverse<(u32, u32)>>, left: u32) {
        let l = symbols[left as usize];
        if l.next == NONE {
            return;
        }
        if let Some(&(rank, _)) = self.ranks.get(&(l.id, symbols[l.next as usize].id)) {
            heap.push(Reverse((rank, left)));
        }
    }

    /// Decodes ids to text, skipping special tokens; invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }

    /// The bytes ids stand for, skipping special tokens (a token may hold part of a UTF-8
    /// character: only the concatenation of a whole generation is meant to be text).
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(t) = self.tokens.get(id as usize) else { continue };
            if self.specials.iter().any(|(_, s)| *s == id) {
                continue;
            }
            bytes.extend(t.chars().filter_map(|c| self.char_bytes.get(&c).copied()));
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use alloc::{string::ToString, vec};

    use super::*;

    fn strs(xs: &[&str]) -> Vec<u8> {
        encode_strings(&xs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    /// A vocabulary of every byte character, then `extra` tokens, with `merges`.
    fn vocab(extra: &[&str], merges: &[&str]) -> Bpe {
        let mut toks: Vec<String> = ["<|im_start|>".to_string()].into();
        toks.extend(byte_chars().iter().map(|c| c.to_string()));
        toks.extend(extra.iter().map(|s| s.to_string()));
        let merges = merges.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Bpe::from_bytes(&encode_strings(&toks), &encode_strings(&merges)).expect("bpe")
    }

    #[test]
    fn merges_apply_by_rank_and_round_trip() {
        let t =
            vocab(&["he", "ll", "hell", "hello", "Ġh"], &["h e", "l l", "he ll", "hell o", "Ġ h"]);
        let id = |s: &str| t.id(s).expect("token");
        assert_eq!(t.encode("hello"), vec![id("hello")]);
        // "h e" outranks "Ġ h", so " hew" is Ġ·he·w.
        assert_eq!(t.encode("hello hew"), vec![id("hello"), id("Ġ"), id("he"), id("w")]);
        assert_eq!(t.decode(&t.encode("hello hew")), "hello hew");
    }

    #[test]
    fn special_strings_in_text_are_plain_text() {
        let t = vocab(&[], &[]);
        let ids = t.encode("<|im_start|>");
        assert_eq!(ids.len(), "<|im_start|>".len());
        assert!(!ids.contains(&t.special("<|im_start|>").expect("special")));
        assert_eq!(t.decode(&ids), "<|im_start|>");
        // Decoding skips the special token itself.
        assert_eq!(t.decode(&[0]), "");
    }

    #[test]
    fn equal_ranks_merge_leftmost_first() {
        let t = vocab(&["aa"], &["a a"]);
        let (a, aa) = (t.id("a").expect("a"), t.id("aa").expect("aa"));
        assert_eq!(t.encode("aaa"), vec![aa, a]);
        assert_eq!(t.encode("aaaa"), vec![aa, aa]);
        // The first listing of a pair keeps its rank.
        let t = vocab(&["ab", "bc"], &["b c", "a b", "b c"]);
        assert_eq!(t.encode("abc"), vec![t.id("a").expect("a"), t.id("bc").expect("bc")]);
    }

    #[test]
    fn merges_continue_after_a_neighbour_changes() {
        // "ab" then "abc" then "abcd": each merge creates the pair the next one needs.
        let t = vocab(&["ab", "abc", "abcd", "cd"], &["a b", "ab c", "abc d", "c d"]);
        assert_eq!(t.encode("abcd"), vec![t.id("abcd").expect("abcd")]);
        // "c d" would win if it were ranked first; here it is not.
        let t = vocab(&["ab", "abc", "cd"], &["c d", "a b", "ab c"]);
        assert_eq!(t.encode("abcd"), vec![t.id("ab").expect("ab"), t.id("cd").expect("cd")]);
    }

    #[test]
    fn long_words_cost_n_log_n() {
        let t = vocab(&["aa", "aaaa"], &["a a", "aa aa"]);
        let word = "a".repeat(1 << 20);
        let ids = t.encode(&word);
        assert_eq!(ids.len(), 1 << 18);
        assert!(ids.iter().all(|&i| i == t.id("aaaa").expect("aaaa")));
    }

    #[test]
    fn bytes_without_a_token_are_dropped() {
        let t = Bpe::from_bytes(&strs(&["a", "b", "ab"]), &strs(&["a b"])).expect("bpe");
        assert_eq!(t.encode("ab"), vec![2]);
        assert_eq!(t.encode("a\u{4}b"), vec![0, 1], "the byte between breaks the merge");
        assert_eq!(t.encode("\u{4}\u{4}é"), Vec::<u32>::new());
    }

    #[test]
    fn inconsistent_vocabularies_are_refused() {
        let mut all: Vec<String> = byte_chars().iter().map(|c| c.to_string()).collect();
        let missing = Bpe::from_bytes(&encode_strings(&all), &strs(&["a b"]));
        assert!(matches!(missing, Err(Error::Format(_))), "merge result missing");
        all.push("ab".into());
        assert!(Bpe::from_bytes(&encode_strings(&all), &strs(&["a b"])).is_ok());
        let no_space = Bpe::from_bytes(&encode_strings(&all), &strs(&["ab"]));
        assert!(matches!(no_space, Err(Error::Format(_))), "merge without a space");
    }
}
