use assay_convert::{BERT_CONFIG_KEYS, random::tiny_bert, reference};
use assay_engine::{
    job::{JobInput, Model},
    kernels::Scalar,
};
use assay_protocol::model_dir::{BLOB, MANIFEST, ModelDir, ModelDirError};

fn embed(blob: &[u8], prompt: &str) -> assay_engine::job::JobOutput {
    let model = Model::load(blob).expect("load");
    let input = JobInput::Embed { text: prompt.into() };
    model.run(&Scalar, &input).expect("run").0
}

#[test]
fn tiny_bert_tracks_the_float_reference() {
    let w = tiny_bert(1);
    let blob = w.to_blob();
    let mut worst = 1.0f64;
    for prompt in ["the cat sat on the mat", "hello, world!", "proof of sampling", "dogs playing"] {
        let out = embed(&blob, prompt);
        let float = reference::bert_embed(&w, &out.tokens);
        let int: Vec<f32> = out.embedding.iter().map(|&v| f32::from(v) / 32768.0).collect();
        let cos = reference::cosine(&int, &float);
        println!("tiny bert {prompt:?}: cosine {cos:.5}");
        worst = worst.min(cos);
    }
    assert!(worst >= 0.99, "worst cosine {worst}");
}

#[test]
fn tiny_bert_job_hashes_are_pinned() {
    // Golden values produced by this engine; they change only if the engine's semantics change.
    let out = embed(&tiny_bert(1).to_blob(), "the cat sat on the mat");
    assert_eq!(hex::encode(out.output_hash), GOLDEN_OUTPUT);
    assert_eq!(hex::encode(out.trace_root), GOLDEN_TRACE);
}

const GOLDEN_OUTPUT: &str = "ee731e893227e494e7433fa4490779ce7f2f73f93db707cc76cd662e7a0b641a";
const GOLDEN_TRACE: &str = "c13fd1d07bb85dfa08207400a957f6fcf382b88352d155fc46ac388a8e1af864";

#[test]
fn model_dir_detects_tampering_and_wrong_roots() {
    let tmp = std::env::temp_dir().join(format!("assay-convert-dir-{}", std::process::id()));
    let blob = tiny_bert(2).to_blob();
    let manifest = ModelDir::write(&tmp, &blob, BERT_CONFIG_KEYS).expect("write");
    let opened = ModelDir::open(&tmp).expect("open");
    assert_eq!(opened.model_id, manifest.model_id);
    assert_eq!(opened.blob, blob);

    let mut bad = blob.clone();
    bad[70_000] ^= 0x40;
    std::fs::write(tmp.join(BLOB), &bad).expect("write");
    assert!(matches!(ModelDir::open(&tmp), Err(ModelDirError::TamperedChunk { index: 1 })));

    std::fs::write(tmp.join(BLOB), &blob).expect("write");
    let mut m = manifest.clone();
    m.chunks[0] = [7; 32].into();
    std::fs::write(tmp.join(MANIFEST), serde_json::to_string(&m).expect("json")).expect("write");
    assert!(matches!(ModelDir::open(&tmp), Err(ModelDirError::TamperedChunk { index: 0 })));
    let mut m = manifest.clone();
    m.model_id = [7; 32].into();
    std::fs::write(tmp.join(MANIFEST), serde_json::to_string(&m).expect("json")).expect("write");
    let err = ModelDir::open(&tmp).expect_err("wrong id");
    assert!(
        matches!(err, ModelDirError::RootMismatch { expected, actual }
            if expected == m.model_id && actual == manifest.model_id),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}
