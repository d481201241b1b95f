//! Bounded cost: the engine's tokenizers, on the real vocabularies, allocate memory proportional
//! to their input on random and adversarial strings (a 1 MB word, 1 MB of random text, long runs
//! of apostrophes, spaces and digits) and always finish. Figures of time come from the
//! `tokenizer-bench` binary, not from here.
//!
//! A counting global allocator measures each encode's peak; the tests of this binary take one
//! lock so that no other thread allocates while one measures.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    path::PathBuf,
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
};

use assay_convert::gguf::Gguf;
use assay_engine::{
    bpe::{Bpe, encode_strings},
    tokenizer::WordPiece,
};
use proptest::prelude::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static MEASURING: Mutex<()> = Mutex::new(());

fn measuring() -> MutexGuard<'static, ()> {
    MEASURING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Peak bytes allocated while `f` runs, above what was live when it started, and its result.
fn peak<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (PEAK.load(Ordering::Relaxed) - base, out)
}

/// Bytes an encode of `len` input bytes may allocate: symbols, the pair heap, the output ids
/// and their growth, the words of WordPiece, all linear in the input (measured: at most 40 bytes
/// per input byte for BPE; 76 for WordPiece on one-letter words between punctuation, `A:A[`,
/// where every character is a word of its own).
fn budget(len: usize) -> usize {
    128 * len + (64 << 10)
}

fn smollm2() -> Option<&'static Bpe> {
    static BPE: std::sync::OnceLock<Option<Bpe>> = std::sync::OnceLock::new();
    BPE.get_or_init(|| {
        let Some(path) = std::env::var_os("ASSAY_SMOLLM2_GGUF") else {
            println!("SKIP: ASSAY_SMOLLM2_GGUF is not set");
            return None;
        };
        let g = Gguf::read(&PathBuf::from(path)).expect("read the GGUF");
        let enc = |k: &str| encode_strings(&g.strings(k).expect("tokenizer strings"));
        Some(
            Bpe::from_bytes(&enc("tokenizer.ggml.tokens"), &enc("tokenizer.ggml.merges"))
                .expect("bpe"),
        )
    })
    .as_ref()
}

fn minilm() -> Option<&'static WordPiece> {
    static WP: std::sync::OnceLock<Option<WordPiece>> = std::sync::OnceLock::new();
    WP.get_or_init(|| {
        let Some(dir) = std::env::var_os("ASSAY_MINILM_DIR") else {
            println!("SKIP: ASSAY_MINILM_DIR is not set");
            return None;
        };
        let vocab = std::fs::read(PathBuf::from(dir).join("vocab.txt")).expect("vocab.txt");
        Some(WordPiece::from_vocab(&vocab).expect("wordpiece"))
    })
    .as_ref()
}

/// Encodes `text` with both tokenizers, asserting the allocation budget and at most one id per
/// byte (plus `[CLS]`, `[SEP]`).
fn check(text: &str) {
    let _lock = measuring();
    if let Some(bpe) = smollm2() {
        let (bytes, ids) = peak(|| bpe.encode(text));
        assert!(ids.len() <= text.len(), "{} ids for {} bytes", ids.len(), text.len());
        assert!(
            bytes <= budget(text.len()),
            "BPE: {bytes} bytes for {} input bytes ({:?}...)",
            text.len(),
            text.chars().take(8).collect::<String>()
        );
    }
    if let Some(wp) = minilm() {
        let (bytes, ids) = peak(|| wp.encode(text, usize::MAX));
        assert!(ids.len() <= text.len() + 2, "{} ids for {} bytes", ids.len(), text.len());
        assert!(
            bytes <= budget(text.len()),
            "WordPiece: {bytes} bytes for {} input bytes ({:?}...)",
            text.len(),
            text.chars().take(8).collect::<String>()
        );
    }
}

const MB: usize = 1 << 20;

#[test]
fn a_megabyte_word_encodes_in_linear_memory() {
    check(&"a".repeat(MB));
    check(&"supercalifragilistic".repeat(MB / 20));
    check(&"ж".repeat(MB / 2));
}

#[test]
fn a_megabyte_of_random_text_encodes_in_linear_memory() {
    // A fixed xorshift stream over a mix of scripts, so the input is the same on every run.
    let alphabet: Vec<char> =
        "abcXYZ019 '\n\t.,!?éßжщ日本語🙂\u{301}\u{200d}\u{a0}".chars().collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut text = String::with_capacity(MB + 4);
    while text.len() < MB {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push(alphabet[(x % alphabet.len() as u64) as usize]);
    }
    check(&text);
}

#[test]
fn adversarial_runs_encode_in_linear_memory() {
    for unit in ["'", " ", "  \n", "9", "'s", "!'", "\u{3000}", "a'", "<|im_start|>", "[CLS]"] {
        check(&unit.repeat(MB / 8 / unit.len()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_encode_in_linear_memory(text in "(?s).{0,512}") {
        check(&text);
    }

    #[test]
    fn repeated_random_units_encode_in_linear_memory(unit in "(?s).{1,4}", n in 1usize..4096) {
        check(&unit.repeat(n));
    }
}
