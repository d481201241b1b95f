//! Byte-level BPE tokenizer (GPT-2 family, as SmolLM2 uses): special tokens, the `smollm`
//! pre-tokenizer (digits split one by one, then the GPT-2 pattern), byte-to-unicode mapping and
//! rank-ordered merges.

use alloc::{collections::BTreeMap, string::String, vec::Vec};

use crate::{Error, Result};

/// A byte-level BPE vocabulary.
#[derive(Debug, Clone)]
pub struct Bpe {
    tokens: Vec<String>,
    sorted: Vec<(String, u32)>,
    ranks: BTreeMap<(u32, u32), (u32, u32)>,
    specials: Vec<(String, u32)>,
    byte_char: [char; 256],
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

#[derive(PartialEq, Clone, Copy)]
enum Class {
    Letter,
    Digit,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// Splits text the way the `smollm` pre-tokenizer does.
fn pre_split(text: &str) -> Vec<&str> {
    let cs: Vec<(usize, char)> = text.char_indices().collect();
    let end = |i: usize| cs.get(i).map_or(text.len(), |&(p, _)| p);
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let (start, c) = cs[i];
        let cl = class(c);
        let mut j = i + 1;
        if cl == Class::Digit {
            // Each digit is its own piece.
        } else if c == '\'' && j < cs.len() {
            let rest = &text[end(j)..];
            let n = ["s", "t", "re", "ve", "m", "ll", "d"]
                .iter()
                .find(|s| rest.starts_with(*s))
                .map(|s| s.len());
            match n {
                Some(n) => j += n,
                None => j = run(&cs, j, Class::Other),
            }
        } else if cl == Class::Space {
            let k = run(&cs, i, Class::Space);
            let next = cs.get(k).map(|&(_, c)| class(c));
            if matches!(next, Some(Class::Letter | Class::Other)) {
                // Leave the last space for the next piece if it is ' ', else split it alone.
                if k - i > 1 {
                    j = k - 1;
                } else if c == ' ' {
                    j = run(&cs, k, next.unwrap_or(Class::Other));
                } else {
                    j = k;
                }
            } else {
                j = k;
            }
        } else {
            j = run(&cs, i, cl);
        }
        out.push(&text[start..end(j)]);
        i = j;
    }
    out
}

fn run(cs: &[(usize, char)], mut i: usize, cl: Class) -> usize {
    while i < cs.len() && class(cs[i].1) == cl && (cl != Class::Other || cs[i].1 != '\'') {
        i += 1;
    }
    i
}

impl Bpe {
    /// Builds the tokenizer from its token and merge lists (`"a b"` each). Tokens of the form
    /// `<|...|>` are special: matched verbatim in the input, never merged.
    ///
    /// # Errors
    /// [`Error::Format`] for malformed lists.
    pub fn from_bytes(tokens: &[u8], merges: &[u8]) -> Result<Self> {
        let tokens = decode_strings(tokens)?;
        let mut sorted: Vec<(String, u32)> = tokens.iter().cloned().zip(0u32..).collect();
        sorted.sort();
        let id =
            |s: &str| sorted.binary_search_by(|(t, _)| t.as_str().cmp(s)).ok().map(|i| sorted[i].1);
        let mut ranks = BTreeMap::new();
        for (rank, m) in decode_strings(merges)?.iter().enumerate() {
            let (a, b) =
                m.split_once(' ').ok_or_else(|| Error::Format("merge without a space".into()))?;
            let mut ab = String::from(a);
            ab.push_str(b);
            if let (Some(x), Some(y), Some(z)) = (id(a), id(b), id(&ab)) {
                ranks.insert((x, y), (rank as u32, z));
            }
        }
        let specials = tokens
            .iter()
            .zip(0u32..)
            .filter(|(t, _)| t.starts_with("<|") && t.ends_with("|>"))
            .map(|(t, i)| (t.clone(), i))
            .collect();
        Ok(Self { tokens, sorted, ranks, specials, byte_char: byte_chars() })
    }

    /// The id of a token string.
    pub fn id(&self, s: &str) -> Option<u32> {
        self.sorted.binary_search_by(|(t, _)| t.as_str().cmp(s)).ok().map(|i| self.sorted[i].1)
    }

    /// Encodes text; special tokens in it are recognised verbatim.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|p| (p, s.len(), *id)))
                .min();
            let (plain, after) = match next {
                Some((p, n, id)) => {
                    let plain = &rest[..p];
                    self.encode_plain(plain, &mut ids);
                    ids.push(id);
                    (None, &rest[p + n..])
                }
                None => (Some(rest), ""),
            };
            if let Some(p) = plain {
                self.encode_plain(p, &mut ids);
            }
            rest = after;
        }
        ids
    }

    fn encode_plain(&self, text: &str, ids: &mut Vec<u32>) {
        for piece in pre_split(text) {
            let mut syms: Vec<u32> = Vec::new();
            for &b in piece.as_bytes() {
                let mut buf = [0u8; 4];
                let s = self.byte_char[b as usize].encode_utf8(&mut buf);
                if let Some(id) = self.id(s) {
                    syms.push(id);
                }
            }
            loop {
                let best = syms
                    .windows(2)
                    .enumerate()
                    .filter_map(|(i, w)| self.ranks.get(&(w[0], w[1])).map(|&(r, z)| (r, i, z)))
                    .min();
                let Some((_, i, z)) = best else { break };
                syms[i] = z;
                syms.remove(i + 1);
            }
            ids.extend(syms);
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
            for c in t.chars() {
                if let Some(b) = self.byte_char.iter().position(|&bc| bc == c) {
                    bytes.push(b as u8);
                }
            }
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

    #[test]
    fn pre_split_follows_the_gpt2_pattern_with_single_digits() {
        assert_eq!(pre_split("Hello world"), ["Hello", " world"]);
        assert_eq!(
            pre_split("it's 42!  ok\nyes"),
            ["it", "'s", " ", "4", "2", "!", " ", " ok", "\n", "yes"]
        );
        assert_eq!(pre_split("a  "), ["a", "  "]);
    }

    #[test]
    fn merges_apply_by_rank_and_round_trip() {
        let toks = strs(&[
            "<|im_start|>",
            "h",
            "e",
            "l",
            "o",
            "Ġ",
            "he",
            "ll",
            "hell",
            "hello",
            "Ġh",
            "w",
        ]);
        let merges = strs(&["h e", "l l", "he ll", "hell o", "Ġ h"]);
        let t = Bpe::from_bytes(&toks, &merges).expect("bpe");
        assert_eq!(t.encode("hello"), vec![9]);
        // "h e" outranks "Ġ h", so " hew" is Ġ·he·w.
        assert_eq!(t.encode("<|im_start|>hello hew"), vec![0, 9, 5, 6, 11]);
        assert_eq!(t.decode(&[0, 9, 5, 6, 11]), "hello hew");
    }
}
