//! The cost of the engine's tokenizers on hostile inputs: a 1 MiB single word and a 1 MiB random
//! string for SmolLM2's byte-level BPE (`ASSAY_SMOLLM2_GGUF`) and MiniLM's WordPiece
//! (`ASSAY_MINILM_DIR`). Prints seconds, ids and the peak extra resident memory (VmHWM after
//! resetting it through `/proc/self/clear_refs`, minus VmRSS before) of each encode; figures, not
//! asserts. The peak is a lower bound: memory the allocator had freed but kept resident before the
//! encode is not counted (`tests/cost.rs` counts allocations exactly). With the `reference` feature llama.cpp's time on the same SmolLM2 inputs is printed
//! too.
//!
//! ```sh
//! cargo run --release -p assay-tokenizer-check --bin tokenizer-bench [--features reference]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use assay_convert::gguf::Gguf;
use assay_engine::bpe::{Bpe, encode_strings};
use assay_engine::tokenizer::WordPiece;

const MIB: usize = 1 << 20;

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `f`, printing its time, id count and peak extra memory.
fn measure(tokenizer: &str, input: &str, text: &str, f: impl FnOnce(&str) -> usize) {
    // Writing 5 resets the peak resident set size (Linux >= 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let start = Instant::now();
    let ids = f(text);
    let secs = start.elapsed().as_secs_f64();
    let peak = match (reset, before, status_kib("VmHWM:")) {
        (true, Some(b), Some(p)) => format!("{:.1} MiB", p.saturating_sub(b) as f64 / 1024.0),
        _ => "n/a".into(),
    };
    println!(
        "{tokenizer:<20} {input:<28} {:>8} bytes {secs:>9.3} s {ids:>8} ids  peak extra {peak}",
        text.len()
    );
}

/// About `bytes` of random text (xorshift, fixed seed): letters, digits, spaces, apostrophes,
/// punctuation, other scripts, emoji, combining marks and any scalar values.
fn random_text(bytes: usize) -> String {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pools: [&str; 6] = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        "     \t\n",
        "'’\"sStlLmdve.,;:!?()-_/",
        "日本語中文한국어кириллицаελληνικάעבריתالعربيةहिन्दीไทย",
        "🙂😂👍👩\u{200d}\u{fe0f}\u{1f3fb}🇫🇷\u{301}\u{308}\u{20e3}",
    ];
    let pools: Vec<Vec<char>> = pools.iter().map(|p| p.chars().collect()).collect();
    let mut s = String::with_capacity(bytes + 4);
    while s.len() < bytes {
        let r = next();
        let c = match r % 10 {
            0..=3 => pools[0][(r >> 8) as usize % pools[0].len()],
            4 => pools[1][(r >> 8) as usize % pools[1].len()],
            5 | 6 => pools[2][(r >> 8) as usize % pools[2].len()],
            7 => pools[3][(r >> 8) as usize % pools[3].len()],
            8 => {
                let p = &pools[4 + (r >> 4) as usize % 2];
                p[(r >> 8) as usize % p.len()]
            }
            _ => char::from_u32((r >> 8) as u32 % 0x11_0000).unwrap_or('\u{fffd}'),
        };
        s.push(c);
    }
    s
}

fn main() {
    let inputs = [
        ("1 MiB single word 'a'", "a".repeat(MIB)),
        ("1 MiB single word 'hello'", "hello".repeat(MIB / 5)),
        ("1 MiB of digits", "1234567890".repeat(MIB / 10)),
        ("1 MiB of spaces", " ".repeat(MIB)),
        ("1 MiB random string", random_text(MIB)),
    ];
    match std::env::var_os("ASSAY_SMOLLM2_GGUF") {
        Some(path) => {
            let path = PathBuf::from(path);
            let g = Gguf::read(&path).expect("read the GGUF");
            let enc = |k: &str| encode_strings(&g.strings(k).expect("GGUF strings"));
            let bpe = Bpe::from_bytes(&enc("tokenizer.ggml.tokens"), &enc("tokenizer.ggml.merges"))
                .expect("engine bpe");
            for (name, text) in &inputs {
                measure("smollm2 engine bpe", name, text, |t| bpe.encode(t).len());
            }
            #[cfg(feature = "reference")]
            {
                let t = assay_tokenizer_check::smollm2::Smollm2::load(&path).expect("llama.cpp");
                for (name, text) in &inputs {
                    measure("smollm2 llama.cpp", name, text, |s| t.reference_ids(s, false).len());
                }
            }
        }
        None => println!("SKIP: ASSAY_SMOLLM2_GGUF is unset"),
    }
    match std::env::var_os("ASSAY_MINILM_DIR") {
        Some(dir) => {
            let vocab = std::fs::read(PathBuf::from(dir).join("vocab.txt")).expect("vocab.txt");
            let wp = WordPiece::from_vocab(&vocab).expect("engine wordpiece");
            for (name, text) in &inputs {
                measure("minilm engine wp", name, text, |t| wp.encode(t, usize::MAX).len());
            }
        }
        None => println!("SKIP: ASSAY_MINILM_DIR is unset"),
    }
}
