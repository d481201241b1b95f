//! MiniLM: the engine's WordPiece against Hugging Face `tokenizers` on arbitrary UTF-8 (invalid
//! bytes become U+FFFD). Asserts equal ids; libFuzzer's `-timeout` catches inputs that do not
//! terminate. Needs `ASSAY_MINILM_DIR`.
#![no_main]

use std::sync::OnceLock;

use assay_tokenizer_check::minilm::MiniLm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static T: OnceLock<MiniLm> = OnceLock::new();
    let t = T.get_or_init(|| MiniLm::from_env().expect("set ASSAY_MINILM_DIR"));
    let text = String::from_utf8_lossy(data);
    let (reference, engine) = t.ids(&text);
    assert!(engine.len() <= text.len() + 2, "{} ids for {} bytes", engine.len(), text.len());
    assert_eq!(engine, reference, "text {text:?}");
});
