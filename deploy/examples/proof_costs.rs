//! What a one-step proof costs on a real model: SmolLM2-135M-Instruct (the project's Q4_1 GGUF,
//! `ASSAY_SMOLLM2_GGUF`) answers a chat prompt with every op output kept; for one element of each
//! op kind (in the prefill and in a decode step), of each reduction (one term, and the element
//! from its last accumulator) and for the schedule of a leaf header, the proof `Side` builds is
//! sent to the deployed `OneStepProver` on a fresh test node: the value it returns is checked
//! against the engine's, and its calldata and `eth_estimateGas` (calldata and execution, no L1
//! component on the test node) are printed as a Markdown table.
//!
//! ```sh
//! ASSAY_SMOLLM2_GGUF=… ASSAY_CONTRACTS_TARGET_DIR=… \
//!     cargo run --release -p assay-deploy --example proof_costs
//! ```

use std::{path::PathBuf, time::Instant};

use alloy_primitives::{B256, Bytes};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use assay_convert::{gguf::Gguf, llama::LlamaWeights};
use assay_deploy::{Config, WasmSource};
use assay_engine::{
    chat::Message,
    hash,
    job::{JobInput, Model},
    kernels::Scalar,
    model::ModelFile,
    trace::{Keep, Op, Trace},
};
use assay_protocol::{bindings::IOneStepProver, game::Side};
use assay_test_node::genesis;

/// One proof to measure: what it proves and the call.
struct Case {
    what: String,
    call: IOneStepProver::proveCall,
    /// The value the prover must return (zero-padded).
    want: B256,
}

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| panic!("{name} is not set"))
}

fn padded(bytes: &[u8]) -> B256 {
    B256::right_padding_from(bytes)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let started = Instant::now();
    let gguf = Gguf::read(&env_path("ASSAY_SMOLLM2_GGUF")).expect("the GGUF reads");
    let blob = LlamaWeights::from_gguf(&gguf).expect("converts").to_blob();
    let file = ModelFile::parse(&blob).expect("parses");
    let model = Model::load(&blob).expect("loads");
    let input = JobInput::Generate {
        messages: vec![Message::user("What is the capital of France?")],
        max_tokens: 3,
        seed: 0,
    };
    let (_, trace) = model.run_keeping(&Scalar, &input, Keep::All).expect("runs");
    eprintln!("SmolLM2 ran: {} leaves in {:?}", trace.leaves().len(), started.elapsed());
    let cases = cases(&trace, &file);

    let node = assay_test_node::spawn(assay_test_node::Config::test()).await.expect("node starts");
    let mut config =
        Config::new(node.url(), PrivateKeySigner::from_bytes(&genesis::DEV_KEY).expect("key"));
    config.wasm = WasmSource::Dir(
        env_path("ASSAY_CONTRACTS_TARGET_DIR").join("wasm32-unknown-unknown/release"),
    );
    config.quiet = true;
    let deployment = assay_deploy::run(&config).await.expect("deploys");
    let prover = deployment.contract("OneStepProver").expect("the prover");
    let chain = ProviderBuilder::new().connect_http(node.url().parse().expect("url"));

    println!("| proof (SmolLM2, {} leaves) | calldata bytes | gas |", trace.leaves().len());
    println!("|---|---:|---:|");
    for case in cases {
        let data = case.call.abi_encode();
        let tx = TransactionRequest::default().to(prover).input(data.clone().into());
        let out = chain.call(tx.clone()).await.unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let value = IOneStepProver::proveCall::abi_decode_returns(&out).expect("decodes");
        assert_eq!(value, case.want, "{}: the prover's value is the engine's", case.what);
        let gas = chain.estimate_gas(tx).await.expect("estimates");
        println!("| {} | {} | {gas} |", case.what, case.call.proof.len());
    }
    eprintln!("done in {:?}", started.elapsed());
}

/// The proofs: an element of each op in layer 1 of the prefill (row 1) and of the second decode
/// step, the reductions' terms and finishes, the head, the output and a schedule check.
fn cases(trace: &Trace, file: &ModelFile<'_>) -> Vec<Case> {
    let side = Side::with_model(trace, file);
    let leaves = trace.leaves();
    let height = assay_step::commit::tree_height(leaves.len() as u64);
    let root = B256::from(hash::tree_root(leaves));
    let model_id = B256::from(file.id());
    let info = trace.info();
    let call = |kind: u8, leaf: usize, (row, col): (u64, u64), term: u64, agreed: B256| {
        IOneStepProver::proveCall {
            kind,
            header: B256::from(info[leaf].leaf(&[0; 32])),
            leaf: leaf as u64,
            row,
            col,
            term,
            agreed,
            claims: [B256::ZERO; 2],
            trees: [root, root],
            height: height as u8,
            modelId: model_id,
            proof: Bytes::new(),
        }
    };
    let mut cases = Vec::new();
    let find = |step: u32, layer: u32, op: Op| {
        info.iter().position(|i| (i.step, i.layer, i.op) == (step, layer, op as u32))
    };
    let head = info.iter().map(|i| i.layer).max().expect("layers");
    for step in [0, 2] {
        for op in [
            Op::Embed,
            Op::RmsNorm,
            Op::Query,
            Op::Key,
            Op::Value,
            Op::Scores,
            Op::AttnOut,
            Op::Residual,
            Op::FfnGate,
            Op::FfnUp,
            Op::Activation,
            Op::FfnDown,
            Op::Logits,
            Op::Tokens,
            Op::Context,
            Op::Softmax,
        ] {
            let layer = match op {
                Op::Embed => 0,
                Op::Logits => head,
                Op::Tokens if step == 0 => head,
                Op::Tokens => 0,
                _ => 1,
            };
            let Some(leaf) = find(step, layer, op) else { continue };
            let i = &info[leaf];
            let rows = i.dims[..i.dims.len() - 1].iter().product::<u32>() as u64;
            let row = rows.min(2) - 1;
            let at = (row, 0);
            let data = trace.data(leaf).expect("kept");
            let size = i.element_size();
            let at_bytes = (row as usize * i.row_len()) * size;
            let element = padded(&data[at_bytes..at_bytes + size]);
            let name = format!("{op:?} (step {step}, layer {layer}, row {row})");
            if let Ok(accs) = side.accumulators(leaf as u64, at) {
                let last = B256::from(*accs.last().expect("one"));
                let mut c = call(1, leaf, at, 0, last);
                c.proof = side.finish_proof(leaf as u64, at, height).expect("a proof").into();
                cases.push(Case {
                    what: format!("{name}: element from the sum"),
                    call: c,
                    want: element,
                });
                let term = (accs.len() as u64 - 1) / 2;
                let mut c = call(2, leaf, at, term, B256::from(accs[term as usize]));
                c.proof = side.term_proof(leaf as u64, at, term, height).expect("a proof").into();
                let want = B256::from(accs[term as usize + 1]);
                cases.push(Case {
                    what: format!("{name}: term {term} of {}", accs.len() - 1),
                    call: c,
                    want,
                });
                continue;
            }
            let mut c = call(0, leaf, at, 0, B256::ZERO);
            c.proof = side.step_proof(leaf as u64, at, height).expect("a proof").into();
            cases.push(Case { what: name, call: c, want: element });
        }
    }
    // The schedule: the header of the first decode step's input token.
    let leaf = find(1, 0, Op::Tokens).expect("a decode step");
    let mut c = call(4, leaf, (0, 0), 0, B256::ZERO);
    let want = B256::from(info[leaf].leaf(&[0; 32]));
    // The claims: the engine's header against another op's.
    c.claims = [want, B256::repeat_byte(1)];
    c.proof = side.schedule_proof(leaf as u64, height).expect("a proof").into();
    cases.push(Case { what: "schedule of a decode step's input token".into(), call: c, want });
    cases
}
