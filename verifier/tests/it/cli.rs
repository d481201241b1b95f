use assay_verifier::cli::{Cli, run};
use clap::{CommandFactory, Parser};

use crate::support::{native_record, tiny_model_dir, tmp};

#[test]
fn replay_command_reproduces_a_record_and_flags_a_forged_one() {
    let dir = tmp("cli");
    tiny_model_dir(&dir);
    let (rec, _) = native_record(&dir, "the dog sat on the mat");
    let job = dir.join("job.json");
    std::fs::write(&job, serde_json::to_string(&rec).expect("json")).expect("write");
    let out = run(&Cli::parse_from(["verifier", "replay", job.to_str().expect("utf-8")]))
        .expect("replay");
    let v: serde_json::Value = serde_json::from_str(&out.json).expect("json");
    assert!(out.matched);
    assert_eq!(v["output_hash"], rec.output_hash.to_string());
    assert_eq!(v["trace_root"], rec.trace_root.to_string());

    let mut forged = rec;
    forged.output.embedding[0] ^= 1;
    forged.output_hash = forged.trace_root;
    std::fs::write(&job, serde_json::to_string(&forged).expect("json")).expect("write");
    let out = run(&Cli::parse_from(["verifier", "replay", job.to_str().expect("utf-8")]))
        .expect("replay");
    assert!(!out.matched);
}

#[test]
fn replay_lists_the_leaves_of_the_native_trace() {
    use assay_engine::{job::Model, kernels::Scalar};
    let dir = tmp("cli-leaves");
    tiny_model_dir(&dir);
    let (rec, _) = native_record(&dir, "the cat sat");
    let job = dir.join("job.json");
    std::fs::write(&job, serde_json::to_string(&rec).expect("json")).expect("write");
    let args = ["verifier", "replay", "--leaves", job.to_str().expect("utf-8")];
    let out = run(&Cli::parse_from(args)).expect("replay");
    let v: serde_json::Value = serde_json::from_str(&out.json).expect("json");
    let blob = assay_protocol::model_dir::ModelDir::open(&dir).expect("open").blob;
    let model = Model::load(&blob).expect("load");
    let (_, trace) = model.run(&Scalar, &rec.input.to_input()).expect("run");
    let leaves = v["leaves"].as_array().expect("leaves");
    assert_eq!(leaves.len(), trace.leaves().len());
    for (i, (l, (info, hash))) in
        leaves.iter().zip(trace.info().iter().zip(trace.leaves())).enumerate()
    {
        assert_eq!(l["index"], i);
        assert_eq!(l["step"], info.step);
        assert_eq!(l["layer"], info.layer);
        assert_eq!(l["leaf"], format!("0x{}", hex::encode(hash)));
        assert_eq!(l["dims"], serde_json::json!(info.dims));
    }
    // The step's input tokens come first, the Output step last.
    assert_eq!(leaves[0]["op"], "Tokens");
    assert_eq!(leaves[0]["dtype"], "u32");
    assert_eq!(leaves[1]["op"], "Embed");
    let last = leaves.last().expect("last");
    assert_eq!(
        (last["op"].as_str(), last["step"].as_u64(), last["dtype"].as_str()),
        (Some("Output"), Some(1), Some("i16"))
    );
    let plain = run(&Cli::parse_from(["verifier", "replay", job.to_str().expect("utf-8")]))
        .expect("replay");
    assert!(!plain.json.contains("leaves"));
}

#[test]
fn replay_op_command_reads_model_tensors() {
    let dir = tmp("cli-op");
    tiny_model_dir(&dir);
    let op = serde_json::json!({
        "op": "lut", "trace_op": 14, "model": dir.to_str(),
        "args": [{"dims": [4], "data": [-40000, -4096, 4096, 40000]}, {"tensor": "lut.gelu"}]
    });
    let path = dir.join("op.json");
    std::fs::write(&path, op.to_string()).expect("write");
    let out = run(&Cli::parse_from(["verifier", "replay-op", path.to_str().expect("utf-8")]))
        .expect("op");
    let v: serde_json::Value = serde_json::from_str(&out.json).expect("json");
    // GELU(-9.77) = 0 (below the table), GELU(±1) from the table, GELU(9.77) = identity.
    assert_eq!(v["data"], serde_json::json!([0, -650, 3446, 40000]));
}

#[test]
fn help_explains_every_command() {
    let help = Cli::command().render_long_help().to_string();
    for needle in ["replay", "replay-op", "engine-hash", "wasmtime", "arbitrate"] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn arbitrate_explains_itself_and_refuses_to_start_without_a_key() {
    let mut command = Cli::command();
    let help = command.find_subcommand_mut("arbitrate").expect("a command").render_long_help();
    let help = help.to_string();
    for needle in ["--key-file", "--keystore", "--db", "--model", "--records", "--coordinator"] {
        assert!(help.contains(needle), "arbitrate's help lacks {needle}:\n{help}");
    }
    let base =
        ["verifier", "arbitrate", "--rpc-url", "http://127.0.0.1:1", "--deployment", "d.json"];
    let error = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        run(&Cli::parse_from(args)).expect_err("refused").to_string()
    };
    let none = error(&["--model", "m"]);
    assert!(none.contains("no key: give --key-file"), "{none}");
    let keystore = error(&["--model", "m", "--keystore", "k.json"]);
    assert!(keystore.contains("--keystore needs --password-file"), "{keystore}");
    let missing = error(&["--model", "m", "--key-file", "/nonexistent/arbitrator.key"]);
    assert!(missing.contains("/nonexistent/arbitrator.key"), "{missing}");
}

#[test]
fn diff_prints_where_two_records_traces_part() {
    let dir = tmp("diff");
    tiny_model_dir(&dir);
    let write = |name: &str, prompt: &str| {
        let (rec, out) = native_record(&dir, prompt);
        let file = dir.join(name);
        std::fs::write(&file, serde_json::to_string(&rec).expect("json")).expect("write");
        (file.to_str().expect("utf-8").to_owned(), out.tokens)
    };
    let (a, tokens_a) = write("a.json", "the cat sat on the mat");
    let (b, tokens_b) = write("b.json", "the dog sat on the mat");
    let (c, _) = write("c.json", "the cat");
    let diff = |x: &str, y: &str| {
        let out = run(&Cli::parse_from(["verifier", "diff", x, y])).expect("diff");
        (out.matched, serde_json::from_str::<serde_json::Value>(&out.json).expect("json"))
    };

    let (same, v) = diff(&a, &a);
    assert!(same && v["identical"] == true && v.get("first").is_none(), "{v}");

    // Same length, one word apart: the prompt's Tokens leaf, at that word's token.
    let (same, v) = diff(&a, &b);
    let at = tokens_a.iter().zip(&tokens_b).position(|(x, y)| x != y).expect("a token differs");
    assert!(!same, "{v}");
    let first = &v["first"];
    assert_eq!(first["kind"], "element", "{v}");
    assert_eq!(
        (first["header"]["index"].as_u64(), first["header"]["op"].as_str()),
        (Some(0), Some("Tokens"))
    );
    assert_eq!(first["element"].as_u64(), Some(at as u64));
    assert_eq!((first["row"].as_u64(), first["col"].as_u64()), (Some(0), Some(at as u64)));
    assert_eq!(first["a"].as_u64(), Some(u64::from(tokens_a[at])));
    assert_eq!(first["b"].as_u64(), Some(u64::from(tokens_b[at])));

    // Another length: the Tokens leaves' shapes differ.
    let (same, v) = diff(&a, &c);
    assert!(!same);
    assert_eq!(
        (v["first"]["kind"].as_str(), v["first"]["leaf"].as_u64()),
        (Some("header"), Some(0)),
        "{v}"
    );
    assert_eq!(v["first"]["a"]["dims"][1].as_u64(), Some(tokens_a.len() as u64));
}
