//! SmolLM2: the engine's BPE against llama.cpp on arbitrary UTF-8 (invalid bytes become U+FFFD).
//! Asserts equal ids, at most one id per byte and a decode that gives back every representable byte; libFuzzer's `-timeout`
//! catches inputs that do not terminate. Needs `ASSAY_SMOLLM2_GGUF`.
#![no_main]

use assay_tokenizer_check::smollm2::Smollm2;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = Smollm2::from_env().expect("set ASSAY_SMOLLM2_GGUF");
    let text = String::from_utf8_lossy(data);
    let ids = t.engine_ids(&text);
    assert!(ids.len() <= text.len(), "{} ids for {} bytes", ids.len(), text.len());
    assert_eq!(t.engine().decode_bytes(&ids), t.representable_bytes(&text), "decode of {text:?}");
    if let Some(m) = t.compare(&text) {
        panic!("{m}");
    }
});
