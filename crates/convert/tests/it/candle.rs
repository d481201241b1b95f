//! Accuracy of the integer engine against candle-transformers' float32 forward passes (feature
//! `candle-reference`), on the same sentence and dialogue sets as the plain-Rust reference tests.

use assay_convert::{
    candle_reference::{CandleBert, CandleLlama},
    gguf::Gguf,
    llama::LlamaWeights,
    read_bert_dir,
};
use assay_engine::job::Model;

use crate::{
    llama::{dialogue_agreement, smollm2_gguf},
    minilm::{SENTENCES, embedding_cosines, minilm_dir},
};

#[test]
fn minilm_integer_embeddings_match_candle_bert() {
    let Some(dir) = minilm_dir() else { return };
    let model = Model::load(&read_bert_dir(&dir).expect("read MiniLM").to_blob()).expect("load");
    let bert = CandleBert::load(&dir).expect("candle BertModel");
    let (min, mean) = embedding_cosines(&model, |t| bert.embed(t).expect("candle forward"));
    println!(
        "all-MiniLM-L6-v2 integer vs candle-transformers BERT (f32) cosine over {} sentences: min {min:.4}, mean {mean:.4}",
        SENTENCES.len()
    );
    assert!(min >= 0.99, "min cosine {min}");
}

#[test]
fn smollm2_greedy_tokens_agree_with_candle_llama() {
    let Some(path) = smollm2_gguf() else { return };
    let w = LlamaWeights::from_gguf(&Gguf::read(&path).expect("read gguf")).expect("weights");
    let model = Model::load(&w.to_blob()).expect("load");
    let mut llama = CandleLlama::from_gguf(&path).expect("candle quantized_llama");
    let (hits, n) = dialogue_agreement(&model, |t| llama.next_tokens(t).expect("candle forward"));
    let agree = hits as f64 / n as f64;
    println!(
        "SmolLM2-135M greedy next-token agreement with candle-transformers quantized_llama (f32 weights): {:.1}% ({hits}/{n} positions)",
        agree * 100.0
    );
    assert!(agree >= 0.9, "agreement {agree}");
}
