//! Generator of the engine's MiniLM normalization tables
//! (`crates/engine/src/tokenizer/tables/data.rs`), from the Unicode crates the reference itself
//! runs on (`unicode_categories`, `unicode-normalization-alignments`, and the toolchain's
//! `char::to_lowercase` / `char::is_whitespace`) and from the reference normalizer's behaviour.
//!
//! Every code point is visited, so a test that regenerates the tables and compares them with the
//! committed file checks the tables exhaustively; the generator also asserts the assumptions the
//! engine's lookup code makes (see [`generate`]).

use std::fmt::Write as _;

use tokenizers::{
    NormalizedString, Normalizer, PreTokenizedString, PreTokenizer, normalizers::BertNormalizer,
    pre_tokenizers::bert::BertPreTokenizer,
};
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::{canonical_combining_class, decompose_canonical};

/// Where the generated file lives, relative to this crate.
pub const PATH: &str = "../engine/src/tokenizer/tables/data.rs";

/// The engine's character classes (`tables::Class`), in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Other,
    Control,
    Space,
    Cjk,
    Punct,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Self::Other => "Other",
            Self::Control => "Control",
            Self::Space => "Space",
            Self::Cjk => "Cjk",
            Self::Punct => "Punct",
        }
    }
}

/// One character of a normalized character: a kept character with the combining class of the
/// character it came from, or a dropped non-spacing mark of class 0 (it ends reordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Char(char, u8),
    Break,
}

/// Runs a reference normalizer (BertNormalizer with the given steps) on `s`.
fn normalized(n: &BertNormalizer, s: &str) -> String {
    let mut ns = NormalizedString::from(s);
    n.normalize(&mut ns).expect("normalize");
    ns.get().to_owned()
}

/// The reference pre-tokenizer's words of `s`.
fn pre_tokenized(s: &str) -> Vec<String> {
    let mut p = PreTokenizedString::from(s);
    BertPreTokenizer.pre_tokenize(&mut p).expect("pre-tokenize");
    p.get_splits(tokenizers::OffsetReferential::Original, tokenizers::OffsetType::Byte)
        .into_iter()
        .map(|(w, _, _)| w.to_owned())
        .collect()
}

/// Per code point facts, from the reference's behaviour.
struct Facts {
    class: Vec<Class>,
    /// Split off as a word of its own by the pre-tokenizer.
    punct: Vec<bool>,
    /// Separates words in the pre-tokenizer.
    space: Vec<bool>,
}

fn chars() -> impl Iterator<Item = char> {
    (0..=char::MAX as u32).filter_map(char::from_u32)
}

fn facts() -> Facts {
    let clean = BertNormalizer::new(true, false, Some(false), false);
    let chinese = BertNormalizer::new(false, true, Some(false), false);
    let n = char::MAX as usize + 1;
    let mut f =
        Facts { class: vec![Class::Other; n], punct: vec![false; n], space: vec![false; n] };
    for c in chars() {
        let s = c.to_string();
        let words = pre_tokenized(&format!("a{c}a"));
        let (punct, space) = match words.as_slice() {
            [a, b] if a == "a" && b == "a" => (false, true),
            [a, p, b] if a == "a" && *p == s && b == "a" => (true, false),
            [w] if *w == format!("a{c}a") => (false, false),
            w => panic!("U+{:04X}: pre-tokenized into {w:?}", c as u32),
        };
        let class = match normalized(&clean, &s).as_str() {
            "" => Class::Control,
            " " => Class::Space,
            t if t == s => {
                let cjk = normalized(&chinese, &s);
                if cjk == format!(" {c} ") {
                    assert!(!punct && !space, "U+{:04X}: CJK and punctuation", c as u32);
                    Class::Cjk
                } else {
                    assert_eq!(cjk, s, "U+{:04X}", c as u32);
                    if punct { Class::Punct } else { Class::Other }
                }
            }
            t => panic!("U+{:04X}: cleaned into {t:?}", c as u32),
        };
        // Whitespace that is not dropped is exactly what the pre-tokenizer splits on.
        if class != Class::Control {
            assert_eq!(class == Class::Space, space, "U+{:04X}", c as u32);
        }
        let i = c as usize;
        (f.class[i], f.punct[i], f.space[i]) = (class, punct, space);
    }
    f
}

/// `c` decomposed (NFD), non-spacing marks dropped, lower-cased: the reference's steps for one
/// character, with the combining classes the canonical reordering uses; a dropped mark of class 0
/// is a [`Item::Break`] where it can matter (after a combining mark, before no starter).
fn items(c: char) -> Vec<Item> {
    let mut raw = Vec::new();
    decompose_canonical(c, |d| {
        let ccc = canonical_combining_class(d);
        if d.is_mark_nonspacing() {
            if ccc == 0 {
                raw.push(Item::Break);
            }
        } else {
            let lower: Vec<char> = d.to_lowercase().collect();
            assert!(ccc == 0 || lower == [d], "U+{:04X}: combining mark with a case", d as u32);
            raw.extend(lower.into_iter().map(|l| Item::Char(l, ccc)));
        }
    });
    let starter = |i: Option<&Item>| matches!(i, Some(Item::Char(_, 0)));
    let mut out = Vec::new();
    for (i, item) in raw.iter().enumerate() {
        let redundant = *item == Item::Break
            && (starter(out.last()) || out.last() == Some(&Item::Break) || starter(raw.get(i + 1)));
        if !redundant {
            out.push(*item);
        }
    }
    out
}

fn is_hangul_syllable(c: char) -> bool {
    (0xAC00..0xAC00 + 11172).contains(&(c as u32))
}

/// A rule of a map run (the engine's `to`, `delta`, `alt`, `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    To(char),
    Delta(i32),
    Alt(i32),
    Seq(String),
}

impl Rule {
    /// The mapping of `cp` under this rule, in a run starting at `first`: `None` for unchanged.
    fn apply(&self, first: u32, cp: u32) -> Option<String> {
        let shift = |d: i32| char::from_u32(cp.wrapping_add_signed(d)).map(String::from);
        match self {
            Self::To(c) => Some(c.to_string()),
            Self::Delta(d) => shift(*d),
            Self::Alt(d) if (cp - first).is_multiple_of(2) => shift(*d),
            Self::Alt(_) => None,
            Self::Seq(s) => Some(s.clone()),
        }
    }
}

/// Encodes normalized items as the engine's strings (`\0` for a break).
fn encode(items: &[Item]) -> String {
    items.iter().map(|i| if let Item::Char(c, _) = i { *c } else { '\0' }).collect()
}

/// Greedy runs over the code points that normalization changes (`changed`, ascending).
fn runs(changed: &[(u32, String)]) -> Vec<(u32, u32, Rule)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < changed.len() {
        let (first, ref to) = changed[i];
        let mut candidates = vec![Rule::Seq(to.clone())];
        let mut cs = to.chars();
        if let (Some(c), None) = (cs.next(), cs.next())
            && c != '\0'
        {
            let d = c as i32 - first as i32;
            candidates = vec![Rule::To(c), Rule::Delta(d), Rule::Alt(d)];
        }
        // The rule covering the most changed code points from here (ties: the first listed).
        let mut best = (0, 0, Rule::To('\0'));
        for rule in candidates {
            let mut n = 0;
            let mut last = first;
            for (cp, to) in &changed[i..] {
                if cp - first >= 1 << 11 || rule.apply(first, *cp).as_ref() != Some(to) {
                    break;
                }
                // Every code point between the previous one and this one must be unchanged by
                // the rule too.
                if (last + 1..*cp)
                    .any(|g| char::from_u32(g).is_some() && rule.apply(first, g).is_some())
                {
                    break;
                }
                n += 1;
                last = *cp;
            }
            if n > best.0 {
                best = (n, last, rule);
            }
        }
        let (n, last, rule) = best;
        runs.push((first, last, rule));
        i += n;
    }
    runs
}

fn char_literal(c: char) -> String {
    if c.is_ascii_graphic() && c != '\'' && c != '\\' {
        format!("'{c}'")
    } else {
        format!("'\\u{{{:X}}}'", c as u32)
    }
}

fn str_literal(s: &str) -> String {
    let body: String = s.chars().map(|c| format!("\\u{{{:X}}}", c as u32)).collect();
    format!("\"{body}\"")
}

/// Generates the engine's table file, asserting on the way every property the engine's code
/// relies on:
/// - the classes partition the code points as the reference's normalizer and pre-tokenizer treat
///   them (checked by running them on each code point);
/// - each character's normalization ([`items`]) agrees with the reference normalizer's output;
/// - normalized characters are never dropped controls, and are whitespace / punctuation exactly
///   when their class says so;
/// - a normalized character has one combining class wherever it appears;
/// - precomposed Hangul decomposes into jamo of class 0 that normalization leaves alone.
///
/// # Panics
/// When an assumption does not hold: the engine's algorithm then needs changing, not just its
/// tables.
pub fn generate() -> String {
    let f = facts();
    let strip = BertNormalizer::new(false, false, Some(true), true);
    let mut changed: Vec<(u32, String)> = Vec::new();
    let mut ccc: Vec<Option<u8>> = vec![None; char::MAX as usize + 1];
    for c in chars() {
        if f.class[c as usize] == Class::Control {
            continue;
        }
        let items = items(c);
        let text: String = items
            .iter()
            .filter_map(|i| if let Item::Char(x, _) = i { Some(*x) } else { None })
            .collect();
        assert_eq!(text, normalized(&strip, &c.to_string()), "U+{:04X}", c as u32);
        for item in &items {
            if let Item::Char(x, k) = *item {
                let i = x as usize;
                assert_ne!(
                    f.class[i],
                    Class::Control,
                    "U+{:04X} normalizes to a control",
                    c as u32
                );
                assert_eq!(f.class[i] == Class::Space, f.space[i], "U+{:04X}", x as u32);
                assert_eq!(f.class[i] == Class::Punct, f.punct[i], "U+{:04X}", x as u32);
                assert!(
                    ccc[i].is_none_or(|old| old == k),
                    "U+{:04X}: two combining classes",
                    x as u32
                );
                ccc[i] = Some(k);
            }
        }
        if is_hangul_syllable(c) {
            assert!(
                (2..=3).contains(&items.len())
                    && items.iter().all(|i| matches!(i, Item::Char(j, 0) if items_same(*j))),
                "U+{:04X}",
                c as u32
            );
        } else if items != [Item::Char(c, canonical_combining_class(c))] {
            changed.push((c as u32, encode(&items)));
        }
    }

    // The engine's ASCII shortcut: only A-Z change, to a-z.
    let ascii: Vec<_> = changed.iter().filter(|(cp, _)| *cp < 0x80).cloned().collect();
    let expected: Vec<_> =
        ('A'..='Z').map(|c| (c as u32, c.to_ascii_lowercase().to_string())).collect();
    assert_eq!(ascii, expected, "ASCII normalization");

    let mut out = String::new();
    out.push_str(HEADER);

    // Class boundaries (surrogates continue the class before them).
    let mut classes = Vec::new();
    for c in chars() {
        let class = f.class[c as usize];
        if classes.last().is_none_or(|&(_, k)| k != class) {
            classes.push((c as u32, class));
        }
    }
    writeln!(
        out,
        "\n/// Class boundaries: `at(start, class)`, ascending; a class holds up to the next start."
    )
    .unwrap();
    writeln!(out, "#[rustfmt::skip]\npub(super) static CLASSES: [u32; {}] = [", classes.len())
        .unwrap();
    for chunk in classes.chunks(4) {
        let line: Vec<String> =
            chunk.iter().map(|(s, k)| format!("at(0x{s:04X}, {})", k.name())).collect();
        writeln!(out, "    {},", line.join(", ")).unwrap();
    }
    out.push_str("];\n");

    // Combining classes of kept characters, as ranges.
    let mut combining: Vec<(u32, u32, u8)> = Vec::new();
    for (cp, k) in ccc.iter().enumerate() {
        let cp = cp as u32;
        match *k {
            Some(k) if k != 0 => match combining.last_mut() {
                Some((_, last, kk)) if *last + 1 == cp && *kk == k => *last = cp,
                _ => combining.push((cp, cp, k)),
            },
            _ => {}
        }
    }
    // The engine's shortcut: nothing below U+0300 combines.
    assert!(combining.first().is_none_or(|&(first, _, _)| first >= 0x300));
    writeln!(
        out,
        "\n/// Kept characters of nonzero canonical combining class: `(first, last, class)`."
    )
    .unwrap();
    writeln!(
        out,
        "#[rustfmt::skip]\npub(super) static COMBINING: [(u32, u32, u8); {}] = [",
        combining.len()
    )
    .unwrap();
    for (first, last, k) in &combining {
        writeln!(out, "    (0x{first:04X}, 0x{last:04X}, {k}),").unwrap();
    }
    out.push_str("];\n");

    // The normalization map.
    let runs = runs(&changed);
    let mut seqs: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for (first, last, rule) in &runs {
        let rule = match rule {
            Rule::To(c) => format!("to({})", char_literal(*c)),
            Rule::Delta(d) => format!("delta({d})"),
            Rule::Alt(d) => format!("alt({d})"),
            Rule::Seq(s) => {
                let i = seqs.iter().position(|x| x == s).unwrap_or_else(|| {
                    seqs.push(s.clone());
                    seqs.len() - 1
                });
                format!("seq({i})")
            }
        };
        lines.push(format!("    run(0x{first:04X}, 0x{last:04X}, {rule}),"));
    }
    writeln!(
        out,
        "\n/// Characters that normalization changes: `run(first, last, rule)`, ascending."
    )
    .unwrap();
    writeln!(out, "#[rustfmt::skip]\npub(super) static MAP: [(u32, u32); {}] = [", lines.len())
        .unwrap();
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str("];\n");
    writeln!(
        out,
        "\n/// Multi-character (or empty) normalizations; `\\u{{0}}` is a dropped mark of class 0."
    )
    .unwrap();
    writeln!(out, "#[rustfmt::skip]\npub(super) static SEQS: [&str; {}] = [", seqs.len()).unwrap();
    for s in &seqs {
        writeln!(out, "    {},", str_literal(s)).unwrap();
    }
    out.push_str("];\n");

    // The runs reproduce the map exactly.
    let mut i = 0;
    for (first, last, rule) in &runs {
        for cp in *first..=*last {
            let expected = changed.get(i).filter(|(c, _)| *c == cp);
            assert_eq!(rule.apply(*first, cp).as_ref(), expected.map(|(_, s)| s), "U+{cp:04X}");
            i += usize::from(expected.is_some());
        }
    }
    assert_eq!(i, changed.len());
    out
}

/// Jamo that normalization keeps as they are.
fn items_same(j: char) -> bool {
    items(j) == [Item::Char(j, 0)]
}

const HEADER: &str = "\
// @generated by crates/tokenizer-check/src/minilm/tables.rs: regenerate with
// `cargo test -p assay-tokenizer-check --features reference --test minilm -- --ignored write_tables`.
// Do not edit; `minilm_tables_are_current` checks this file against the reference's Unicode data.
//! Unicode data of the MiniLM normalization: character classes from `unicode_categories` 0.1.1
//! (Unicode 8.0) and the toolchain's `char::is_whitespace`, decompositions and combining classes
//! from `unicode-normalization-alignments` 0.1.12 (Unicode 9.0), lower-casing from the
//! toolchain's `char::to_lowercase`, CJK ranges from `tokenizers`' `BertNormalizer`.

use super::encoding::{
    Class::{Cjk, Control, Other, Punct, Space},
    alt, at, delta, run, seq, to,
};
";
