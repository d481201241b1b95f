//! `assay-wasm-size [--check] <file.wasm>...`
//!
//! For each contract wasm, reproduces what `cargo stylus deploy` puts on chain (custom sections
//! stripped, a 32-byte `project_hash` section added, brotli quality 11, the `EF F0 00 00`
//! prefix) and prints its size against the limits: 24 576 bytes of code (EIP-170) and 128 KiB
//! of decompressed wasm. With `--check` it exits non-zero when a contract is over a limit.
#![allow(clippy::arithmetic_side_effects)] // a host tool, not a contract

use std::{io::Write, path::Path, process::ExitCode};

const MAX_CODE: usize = 24_576;
const MAX_WASM: usize = 128 * 1024;
const PREFIX: [u8; 4] = [0xEF, 0xF0, 0x00, 0x00];

fn read_leb(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some((value, at));
        }
        shift += 7;
    }
}

fn write_leb(mut value: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Drops every custom section (id 0) and appends `project_hash` with 32 zero bytes, as
/// cargo-stylus does for `--wasm-file` deployments.
fn process(wasm: &[u8]) -> Option<Vec<u8>> {
    let mut out = wasm.get(..8)?.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (len, body) = read_leb(wasm, at + 1)?;
        let end = body.checked_add(len)?;
        if id != 0 {
            out.extend_from_slice(wasm.get(at..end)?);
        }
        at = end;
    }
    let name = b"project_hash";
    let mut section = Vec::new();
    write_leb(name.len(), &mut section);
    section.extend_from_slice(name);
    section.extend_from_slice(&[0u8; 32]);
    out.push(0);
    write_leb(section.len(), &mut out);
    out.extend_from_slice(&section);
    Some(out)
}

fn compress(wasm: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(wasm).expect("compress into memory");
    }
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("usage: assay-wasm-size [--check] <contract.wasm>...");
        return ExitCode::from(2);
    }
    println!("| contract | wasm (bytes) | on chain, brotli (bytes) | limit | fits |");
    println!("|---|---|---|---|---|");
    let mut over = false;
    for file in files {
        let Ok(raw) = std::fs::read(file) else {
            eprintln!("cannot read {file}: build the contracts first (see README)");
            return ExitCode::from(2);
        };
        let Some(wasm) = process(&raw) else {
            eprintln!("{file} is not a wasm module");
            return ExitCode::from(2);
        };
        let code = PREFIX.len() + compress(&wasm).len();
        let fits = code <= MAX_CODE && wasm.len() <= MAX_WASM;
        over |= !fits;
        let name = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!(
            "| {name} | {} | {code} | {MAX_CODE} | {} |",
            wasm.len(),
            if fits { "yes" } else { "NO" }
        );
    }
    if check && over {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
