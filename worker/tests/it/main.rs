//! Worker integration tests: `infer` records replay unchanged in the verifier, on the seeded tiny
//! BERT and, with `ASSAY_MINILM_DIR` / `ASSAY_SMOLLM2_GGUF`, on all-MiniLM-L6-v2 and
//! SmolLM2-135M-Instruct converted by `worker convert`.

use std::path::Path;

use assay_convert::{BERT_CONFIG_KEYS, random::tiny_bert};
use assay_protocol::{job::JobFile, model_dir::ModelDir};
use assay_verifier::{
    replay::replay,
    runtime::{Limits, Runtime},
};
use assay_worker::cli::{Cli, run};
use clap::{CommandFactory, Parser};

mod register;
mod run;

fn tmp(name: &str) -> TmpDir {
    let dir = tempfile::Builder::new().prefix(&format!("assay-worker-{name}-")).tempdir();
    TmpDir(dir.expect("temporary directory"))
}

/// A temporary directory removed when dropped (also when the test fails); derefs to its path.
pub(crate) struct TmpDir(tempfile::TempDir);

impl std::ops::Deref for TmpDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

fn infer_and_replay(model: &Path, prompt: &str) -> JobFile {
    let args = [
        "worker",
        "infer",
        "--model",
        model.to_str().expect("utf-8"),
        "--prompt",
        prompt,
        "--json",
    ];
    let json = run(&Cli::parse_from(args)).expect("infer");
    let rec = JobFile::from_json(&json).expect("record");
    let report = replay(&Runtime::new().expect("runtime"), &rec, model, Limits::default(), false)
        .expect("replay");
    assert!(report.matches, "replay disagrees: {report:?}");
    assert_eq!(report.output_hash, rec.output_hash);
    assert_eq!(report.trace_root, rec.trace_root);
    rec
}

#[test]
fn infer_records_replay_in_the_verifier() {
    let d = tmp("tiny");
    ModelDir::write(&d, &tiny_bert(1).to_blob(), BERT_CONFIG_KEYS).expect("write");
    let rec = infer_and_replay(&d, "the cat sat on the mat");
    assert_eq!(rec.output.tokens.first(), Some(&2), "starts with [CLS]");
}

#[test]
fn convert_and_infer_minilm() {
    let Some(src) = std::env::var_os("ASSAY_MINILM_DIR") else {
        println!("SKIP: ASSAY_MINILM_DIR is not set");
        return;
    };
    let d = tmp("minilm");
    let args = [
        "worker",
        "convert",
        "--from",
        src.to_str().expect("utf-8"),
        "--out",
        d.to_str().expect("utf-8"),
    ];
    println!("{}", run(&Cli::parse_from(args)).expect("convert"));
    let rec = infer_and_replay(&d, "A man is playing a guitar.");
    assert_eq!(rec.output.embedding.len(), 384);
}

#[test]
fn help_explains_the_commands() {
    let help = Cli::command().render_long_help().to_string();
    for needle in ["convert", "infer", "pip download", "verifier replay", "run", "register"] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
    let mut cmd = Cli::command();
    let run_help = cmd.find_subcommand_mut("run").expect("run").render_long_help().to_string();
    for needle in ["--coordinator", "--model", "--key-file", "--keystore", "--slots", "--rpc-url"] {
        assert!(run_help.contains(needle), "run help lacks {needle}:\n{run_help}");
    }
    assert!(!run_help.contains("dishonest"), "--dishonest is hidden");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let cli = Cli::parse_from(["worker", "run", "--model", "m", "--private-key", key]);
    let shown = format!("{cli:?}");
    assert!(!shown.contains(&key[2..12]), "{shown}");
    let assay_worker::cli::Command::Run(args) = &cli.command else { panic!("run") };
    let config = args.config().expect("config");
    assert!(!format!("{config:?}").contains(&key[2..12]));
    assert!(!args.dishonest);
    let cli =
        Cli::parse_from(["worker", "run", "--model", "m", "--private-key", key, "--dishonest"]);
    let assay_worker::cli::Command::Run(args) = &cli.command else { panic!("run") };
    assert!(args.config().expect("config").dishonest);
}

#[test]
fn convert_and_chat_with_smollm2() {
    let Some(src) = std::env::var_os("ASSAY_SMOLLM2_GGUF") else {
        println!("SKIP: ASSAY_SMOLLM2_GGUF is not set");
        return;
    };
    let d = tmp("smollm2");
    let args = [
        "worker",
        "convert",
        "--from",
        src.to_str().expect("utf-8"),
        "--out",
        d.to_str().expect("utf-8"),
    ];
    println!("{}", run(&Cli::parse_from(args)).expect("convert"));
    let args = [
        "worker",
        "infer",
        "--model",
        d.to_str().expect("utf-8"),
        "--prompt",
        "What is the capital of France?",
    ];
    let json = run(&Cli::parse_from([&args[..], &["--max-tokens", "8", "--json"]].concat()))
        .expect("infer");
    let rec = JobFile::from_json(&json).expect("record");
    println!("SmolLM2 says {:?}", rec.output.text);
    assert!(rec.output.text.contains("Paris"), "{json}");
    let report = replay(&Runtime::new().expect("runtime"), &rec, &d, Limits::default(), false)
        .expect("replay");
    assert!(report.matches, "replay disagrees: {report:?}");
}

#[cfg(feature = "candle")]
#[test]
fn candle_f32_route_gives_the_same_record() {
    let d = tmp("candle");
    ModelDir::write(&d, &tiny_bert(3).to_blob(), BERT_CONFIG_KEYS).expect("write");
    let base = [
        "worker",
        "infer",
        "--model",
        d.to_str().expect("utf-8"),
        "--prompt",
        "hello world",
        "--json",
    ];
    let int = run(&Cli::parse_from(base)).expect("integer kernels");
    let float =
        run(&Cli::parse_from([&base[..], &["--candle-device", "cpu"]].concat())).expect("candle");
    assert_eq!(int, float);
}
