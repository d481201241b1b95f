//! The engine's MiniLM WordPiece against Hugging Face `tokenizers` on the model's
//! `tokenizer.json`: the Unicode tables code point by code point, every line of the corpus,
//! random Unicode strings, and hand-picked edge cases with their exact ids.
//!
//! The reference tests print `SKIP:` and pass when `ASSAY_MINILM_DIR` is unset.
#![cfg(feature = "reference")]

use std::path::Path;

use assay_tokenizer_check::minilm::{MiniLm, engine_words, tables};
use proptest::prelude::*;

fn tables_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(tables::PATH)
}

/// The committed tables are what the reference's Unicode data gives, for all 0x110000 code
/// points (the generator asserts the engine's assumptions on the way).
#[test]
fn minilm_tables_are_current() {
    let committed = std::fs::read_to_string(tables_path()).expect("read the engine's tables");
    let generated = tables::generate();
    if committed != generated {
        let line = committed.lines().zip(generated.lines()).position(|(a, b)| a != b);
        panic!(
            "{} is stale (first difference at line {}): regenerate with `cargo test -p \
             assay-tokenizer-check --features reference --test minilm -- --ignored write_tables`",
            tables_path().display(),
            line.map_or(committed.lines().count().min(generated.lines().count()), |l| l) + 1
        );
    }
}

/// Writes the engine's tables from the reference's Unicode data.
#[test]
#[ignore = "writes crates/engine/src/tokenizer/tables/data.rs"]
fn write_tables() {
    std::fs::write(tables_path(), tables::generate()).expect("write the engine's tables");
}

/// First line where the two tokenizers differ, formatted for a failure message.
fn first_difference<'a>(m: &MiniLm, lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
    lines.into_iter().find_map(|line| {
        let (reference, engine) = m.ids(line);
        (reference != engine).then(|| {
            format!(
                "{line:?}\n  reference ids {reference:?}\n  engine ids    {engine:?}\n  reference words {:?}\n  engine words    {:?}",
                m.reference_words(line),
                engine_words(line)
            )
        })
    })
}

/// Every code point, alone between letters, after a run of reorderable marks, and before marks,
/// normalizes and splits as in the reference (checked in chunks, a failing chunk code point by
/// code point).
#[test]
fn every_code_point_pre_tokenizes_like_the_reference() {
    let Some(m) = MiniLm::from_env() else { return };
    let contexts: [fn(char) -> String; 3] = [
        |c| format!("a{c}b "),
        // Spacing marks of classes 226 and 216 around `c`: reordered across `c` unless `c` is a
        // starter or a dropped mark of class 0.
        |c| format!("x\u{1D16D}{c}\u{1D165}\u{1D16D} "),
        |c| format!("{c}\u{301}\u{1D165}A\u{308} "),
    ];
    let chars: Vec<char> = (0..=char::MAX as u32).filter_map(char::from_u32).collect();
    let mut checked = 0;
    for context in contexts {
        for chunk in chars.chunks(256) {
            let text: String = chunk.iter().map(|&c| context(c)).collect();
            if m.reference_words(&text) != engine_words(&text) {
                for &c in chunk {
                    let t = context(c);
                    let (reference, engine) = (m.reference_words(&t), engine_words(&t));
                    assert_eq!(engine, reference, "U+{:04X} in {t:?}", c as u32);
                }
            }
            checked += chunk.len();
        }
    }
    println!("{checked} code points in context pre-tokenize like the reference");
    // And as ids, each code point alone.
    for chunk in chars.chunks(256) {
        let text: String = chunk.iter().map(|&c| format!("{c} ")).collect();
        if let Some(d) = first_difference(&m, [text.as_str()]) {
            let one: Vec<String> = chunk.iter().map(|c| c.to_string()).collect();
            panic!("{}", first_difference(&m, one.iter().map(String::as_str)).unwrap_or(d));
        }
    }
}

/// Every line (and every whole file) of `corpus/` tokenizes to the reference's ids.
#[test]
fn corpus_lines_match_the_reference() {
    let Some(m) = MiniLm::from_env() else { return };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("corpus entry").path()).collect(),
        Err(e) => {
            println!("no corpus at {} ({e}): the built-in lines only", dir.display());
            Vec::new()
        }
    };
    files.sort();
    let mut texts: Vec<(String, String)> =
        BUILT_IN.iter().map(|l| ("built-in".to_owned(), (*l).to_owned())).collect();
    for path in files.iter().filter(|p| p.is_file()) {
        let bytes = std::fs::read(path).expect("read corpus file");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        texts.extend(text.lines().map(|l| (name.clone(), l.to_owned())));
        texts.push((name, text));
    }
    for (i, (file, text)) in texts.iter().enumerate() {
        if let Some(d) = first_difference(&m, [text.as_str()]) {
            panic!("{file}: text {i} differs: {d}");
        }
    }
    println!("{} corpus texts ({} files) match the reference", texts.len(), files.len());
}

/// Lines checked whether or not the corpus is there.
const BUILT_IN: &[&str] = &[
    "Hello world, this is Assay.",
    "Don't stop: 3.14 is π! Naïve café résumé.",
    "Ünïcödé ẞtraße ĲSSEL Œuvre ǅemal Ǳ ﬁne ﬃ ℌ ℍ ™ № ㎏ ① ⅷ",
    "Ελληνικά: Ἀθῆναι, ὁ ἄνθρωπος; ΐ ΰ ᾼ ῼ",
    "Русский: Ёлка, йогурт, Ї. Українська: ґанок.",
    "العربية: مَرْحَبًا بِكُم. עברית: שָׁלוֹם.",
    "हिन्दी: नमस्ते, क़ ख़. বাংলা: কোৌ. தமிழ்: பொ. ไทย: ภาษาไทย ๆ",
    "中文：你好，世界！日本語：こんにちは、カタカナ ｶﾀｶﾅ。한국어: 안녕하세요.",
    "emoji 👍🏽 👨‍👩‍👧 🇺🇳 ❤️ ✊🏿 #️⃣",
    "tabs\tand\u{A0}nbsp\u{2003}em\u{3000}ideographic\u{200B}zwsp\u{FEFF}bom",
    "[CLS] [SEP] [MASK] [PAD] [UNK] <s> </s> ##ing",
    "𝕳𝖊𝖑𝖑𝖔 𝓌𝑜𝓇𝓁𝒹 ｆｕｌｌｗｉｄｔｈ",
];

/// Random strings from pieces that exercise each step: any code point, combining marks (of
/// every kind, including the spacing ones with a combining class), CJK, controls, whitespace,
/// punctuation, case pairs, precomposed letters, Hangul, and ASCII words.
fn piece() -> impl Strategy<Value = String> {
    let from = |ranges: &'static [(u32, u32)]| {
        proptest::sample::select(ranges).prop_flat_map(|(a, b)| {
            (a..=b).prop_map(|cp| char::from_u32(cp).map_or_else(String::new, String::from))
        })
    };
    prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => "[a-zA-Z]{1,12}",
        2 => "[0-9]{1,4}",
        2 => from(&[(0x300, 0x36F), (0x483, 0x489), (0x591, 0x5C7), (0x610, 0x61A), (0x8D4, 0x8FF),
                    (0x900, 0x903), (0x93A, 0x94F), (0xE31, 0xE3A), (0xF71, 0xF84), (0x1AB0, 0x1AFF),
                    (0x1DC0, 0x1DFF), (0x20D0, 0x20F0), (0x302A, 0x302F), (0xFE20, 0xFE2F),
                    (0x1D165, 0x1D172), (0x1E000, 0x1E02A), (0x1E944, 0x1E94A), (0xE0100, 0xE01EF)]),
        2 => from(&[(0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x1E00, 0x1FFF), (0x2100, 0x214F),
                    (0xFB00, 0xFB4F), (0x1D400, 0x1D7FF), (0x10400, 0x1044F), (0x1E900, 0x1E95F)]),
        2 => from(&[(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F),
                    (0x3040, 0x30FF), (0xAC00, 0xD7A3), (0x1100, 0x11FF), (0xFF00, 0xFFEF)]),
        2 => from(&[(0x0, 0x20), (0x7F, 0xA0), (0x1680, 0x1680), (0x2000, 0x200F), (0x2028, 0x202F),
                    (0x205F, 0x206F), (0x3000, 0x3000), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFD),
                    (0xE000, 0xE00F), (0xE0000, 0xE007F)]),
        2 => from(&[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E), (0xA1, 0xBF),
                    (0x2010, 0x2027), (0x2030, 0x205E), (0x3001, 0x303F), (0xFE10, 0xFE6F),
                    (0x55A, 0x55F), (0x37E, 0x387), (0x2329, 0x232A)]),
        1 => " +",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000),
        ..ProptestConfig::default()
    })]

    /// Random Unicode strings give the reference's ids.
    #[test]
    fn random_strings_match_the_reference(pieces in proptest::collection::vec(piece(), 0..24)) {
        let Some(m) = minilm() else { return Ok(()) };
        let text: String = pieces.concat();
        let (reference, engine) = m.ids(&text);
        prop_assert_eq!(
            &engine, &reference, "{:?}: words {:?} vs {:?}", text, engine_words(&text), m.reference_words(&text)
        );
    }
}

/// The tokenizers, loaded once for the property test.
fn minilm() -> Option<&'static MiniLm> {
    static M: std::sync::OnceLock<Option<MiniLm>> = std::sync::OnceLock::new();
    M.get_or_init(MiniLm::from_env).as_ref()
}

/// Edge cases with their exact ids (from the reference), which both tokenizers must give.
#[test]
fn edge_cases_have_the_expected_ids() {
    let Some(m) = MiniLm::from_env() else { return };
    let mut cases: Vec<(String, Vec<u32>)> =
        EDGE_CASES.iter().map(|(text, ids)| ((*text).to_owned(), ids.to_vec())).collect();
    // A word of 100 characters is split; one of 101 is [UNK], however it would split.
    let mut hundred = vec![101, 19557];
    hundred.extend([3676; 48]);
    hundred.extend([2497, 102]);
    cases.push(("ab".repeat(50), hundred));
    cases.push((format!("a{}", "b".repeat(100)), vec![101, 100, 102]));
    cases.push((format!("{} x", "ab".repeat(50000)), vec![101, 100, 1060, 102]));
    let mut failures = Vec::new();
    for (text, ids) in &cases {
        let (reference, engine) = m.ids(text);
        if reference != *ids || engine != *ids {
            let shown: String = text.chars().take(80).collect();
            failures.push(format!(
                "{shown:?}: expected {ids:?}\n  reference {reference:?}\n  engine    {engine:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[rustfmt::skip]
const EDGE_CASES: &[(&str, &[u32])] = &[
    // Nothing to tokenize.
    ("", &[101, 102]),
    (" \t\n\u{3000}", &[101, 102]),
    ("\u{301}", &[101, 102]),
    // Special tokens typed by a user are text.
    ("[CLS]", &[101, 1031, 18856, 2015, 1033, 102]),
    ("[CLS] hello [SEP] [MASK] [UNK] [PAD]", &[101, 1031, 18856, 2015, 1033, 7592, 1031, 19802, 1033, 1031, 7308, 1033, 1031, 4895, 2243, 1033, 1031, 11687, 1033, 102]),
    // Singleton decompositions: ohm, angstrom, kelvin signs; Greek varia and dialytika.
    ("\u{2126}", &[101, 1179, 102]),
    ("\u{212B}ngstr\u{F6}m \u{212A}elvin", &[101, 17076, 15687, 24810, 102]),
    ("\u{1FEF}", &[101, 1036, 102]),
    ("\u{1FED}\u{1FEE}", &[101, 1074, 29651, 102]),
    // Accents in many scripts; letters without a decomposition keep their shape.
    ("café naïve résumé", &[101, 7668, 15743, 13746, 102]),
    ("ÀÉÎÕÜ àéîõü ÇçÑñ", &[101, 29347, 3695, 2226, 29347, 3695, 2226, 10507, 10695, 102]),
    ("Ærøskøbing Łódź Dvořák", &[101, 1097, 2099, 16415, 6711, 16415, 10472, 17814, 1040, 14550, 4817, 102]),
    ("İstanbul ıi", &[101, 9960, 1104, 2072, 102]),
    ("Straße ẞ", &[101, 2358, 27807, 1096, 102]),
    ("ﬁne ﬀ", &[101, 1984, 2638, 100, 102]),
    ("Ελληνικά Ἀθῆναι ΐ", &[101, 1159, 29727, 29727, 24824, 16177, 18199, 29726, 14608, 1155, 29725, 24824, 16177, 14608, 18199, 1163, 102]),
    ("Ёжик й Ї", &[101, 1185, 29743, 10325, 23925, 1188, 1213, 102]),
    ("ǅemal Ǆ", &[101, 100, 100, 102]),
    ("ḱṓṡ ǖ", &[101, 12849, 2015, 1057, 102]),
    ("nguyễn thị", &[101, 16577, 16215, 2072, 102]),
    ("\u{939}\u{93F}\u{928}\u{94D}\u{926}\u{940} \u{915}\u{93C}", &[101, 1339, 29877, 29863, 29861, 29878, 1315, 102]),
    ("\u{645}\u{64E}\u{631}\u{652}\u{62D}\u{64E}\u{628}\u{64B}\u{627}", &[101, 1295, 17149, 29820, 29816, 25573, 102]),
    ("\u{5E9}\u{5B8}\u{5C1}\u{5DC}\u{5D5}\u{5B9}\u{5DD}", &[101, 1266, 29799, 29792, 29800, 102]),
    // CJK ideographs stand alone, compatibility ideographs decompose; Hangul becomes jamo.
    ("日本語 \u{F900}\u{2F800}", &[101, 1864, 1876, 1950, 100, 100, 102]),
    ("한국어", &[101, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 102]),
    // Controls, U+FFFD and format characters vanish; every kind of whitespace splits.
    ("a\u{0}b\u{7}c\u{FFFD}d\u{200B}e", &[101, 5925, 3207, 102]),
    ("hello\u{3000}world\u{2029}!\u{85}x", &[101, 7592, 2088, 999, 1060, 102]),
    ("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{1F44D}\u{1F3FD}", &[101, 100, 100, 102]),
    // Spacing marks with a combining class (reordered), a musical symbol decomposing to them,
    // marks of two classes on one letter.
    ("x\u{1D16D}\u{1D165}", &[101, 100, 102]),
    ("\u{1D160}", &[101, 100, 102]),
    ("e\u{301}\u{327}", &[101, 1041, 102]),
    // Punctuation of any script, ASCII symbols (punctuation to BERT), numbers.
    ("¿Qué? ¡Sí! «guillemets» — dash… ellipsis", &[101, 1094, 10861, 1029, 1067, 9033, 999, 1077, 26458, 6216, 11368, 2015, 1090, 1517, 11454, 1529, 3449, 15000, 6190, 102]),
    ("$5 + 3% = #1 @home ^_^ ~tilde~ `code` |pipe| \\back", &[101, 1002, 1019, 1009, 1017, 1003, 1027, 1001, 1015, 1030, 2188, 1034, 1035, 1034, 1066, 18681, 3207, 1066, 1036, 3642, 1036, 1064, 8667, 1064, 1032, 2067, 102]),
    ("0xFF 3.14159 1,000,000 2024-01-01", &[101, 1014, 2595, 4246, 1017, 1012, 15471, 28154, 1015, 1010, 2199, 1010, 2199, 16798, 2549, 1011, 5890, 1011, 5890, 102]),
];
