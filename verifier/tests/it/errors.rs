use std::sync::Arc;

use assay_convert::{BERT_CONFIG_KEYS, random::tiny_bert};
use assay_engine::{model::chunk_hashes, ops::OpBuilder};
use assay_protocol::model_dir::{BLOB, ModelDir, ModelDirError};
use assay_verifier::{
    Error,
    op::{OpDesc, replay_op},
    replay::replay_output,
    runtime::{Limits, ServedModel},
};

use crate::support::{native_record, runtime, tiny_model_dir, tmp};

#[test]
fn wrong_model_root_is_named() {
    let dir = tmp("wrong-root");
    tiny_model_dir(&dir);
    let (mut rec, _) = native_record(&dir, "hello");
    let other =
        ModelDir::write(&tmp("wrong-root-other"), &tiny_bert(2).to_blob(), BERT_CONFIG_KEYS)
            .expect("write");
    rec.model_id = other.model_id;
    let err = replay_output(&runtime(), &rec, &dir, Limits::default()).expect_err("must fail");
    assert!(
        matches!(&err, Error::WrongModel { expected, .. } if *expected == other.model_id),
        "{err}"
    );
    println!("{err}");
}

#[test]
fn tampered_chunk_is_detected_on_disk_and_when_served() {
    let dir = tmp("tampered");
    tiny_model_dir(&dir);
    let (rec, _) = native_record(&dir, "hello");
    let mut blob = std::fs::read(dir.join(BLOB)).expect("read");
    blob[3 * 65536 + 5] ^= 1;
    std::fs::write(dir.join(BLOB), &blob).expect("write");
    let err = replay_output(&runtime(), &rec, &dir, Limits::default()).expect_err("must fail");
    assert!(matches!(err, Error::Model(ModelDirError::TamperedChunk { index: 3 })), "{err}");
    println!("{err}");

    // A chunk that changes after the directory was checked is caught when it is served.
    let mut hashes = chunk_hashes(&blob);
    blob[2 * 65536] ^= 1;
    hashes[3] = chunk_hashes(&blob)[3];
    let served = Arc::new(ServedModel { blob, chunk_hashes: hashes });
    let mut s = runtime().session(Limits::default(), Some(served)).expect("session");
    assert!(matches!(s.load_model(), Err(Error::ChunkMismatch(2))));
}

#[test]
fn unknown_ops_are_rejected() {
    let mut s = runtime().session(Limits::default(), None).expect("session");
    assert!(matches!(s.run_op(&OpBuilder::new(77, 0).finish()), Err(Error::UnknownOp(_))));
    let desc = OpDesc { op: "frobnicate".into(), trace_op: 0, model: None, args: vec![] };
    assert!(matches!(replay_op(&runtime(), &desc, Limits::default()), Err(Error::UnknownOp(_))));
}

#[test]
fn fuel_and_memory_limits_are_enforced() {
    let dir = tmp("limits");
    tiny_model_dir(&dir);
    let (rec, _) = native_record(&dir, "the cat sat on the mat");
    let rt = runtime();
    let err = replay_output(&rt, &rec, &dir, Limits { fuel: 100_000, ..Limits::default() })
        .expect_err("fuel");
    assert!(matches!(err, Error::OutOfFuel(100_000)), "{err}");
    let err = replay_output(&rt, &rec, &dir, Limits { max_memory: 2 << 20, ..Limits::default() })
        .expect_err("memory");
    assert!(matches!(err, Error::OutOfMemory(_)), "{err}");
    println!("{err}");
}

/// A module with one function that swizzles two zero vectors with `op` (the SIMD opcode bytes
/// after the 0xFD prefix).
fn swizzle_module(op: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00];
    for _ in 0..2 {
        body.extend_from_slice(&[0xFD, 0x0C]);
        body.extend_from_slice(&[0; 16]);
    }
    body.push(0xFD);
    body.extend_from_slice(op);
    body.extend_from_slice(&[0x1A, 0x0B]);
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00]);
    m.extend_from_slice(&[0x0A, body.len() as u8 + 2, 0x01, body.len() as u8]);
    m.extend_from_slice(&body);
    m
}

#[test]
fn relaxed_simd_modules_are_rejected() {
    // i8x16.swizzle validates; i8x16.relaxed_swizzle (0xFD 0x100) does not.
    assert!(assay_verifier::runtime::Runtime::with_module(&swizzle_module(&[0x0E])).is_ok());
    let err = assay_verifier::runtime::Runtime::with_module(&swizzle_module(&[0x80, 0x02]))
        .expect_err("relaxed");
    assert!(err.to_string().to_lowercase().contains("relaxed"), "{err}");
}

#[test]
fn engine_module_has_no_float_instructions() {
    let mut ops = 0usize;
    let mut floats = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(assay_engine_module::WASM) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.expect("valid module") {
            let mut reader = body.get_operators_reader().expect("operators");
            while !reader.eof() {
                let op = format!("{:?}", reader.read().expect("operator"));
                ops += 1;
                if op.contains("F32") || op.contains("F64") {
                    floats.push(op);
                }
            }
        }
    }
    println!("engine module: {ops} instructions, {} float", floats.len());
    assert!(ops > 1000);
    assert!(floats.is_empty(), "float instructions in the engine module: {floats:?}");
}
