//! Builds the engine's WASM module (`assay-engine-wasm` for `wasm32-unknown-unknown`, release,
//! simd128 on, relaxed SIMD off, source paths remapped so the module hash does not depend on where
//! the repository is checked out) and places it in `OUT_DIR/engine.wasm` for `include_bytes!`.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // crates/engine-module -> the workspace root.
    let root = manifest_dir.ancestors().nth(2).expect("workspace root").to_path_buf();
    for p in [
        "crates/engine/src",
        "crates/engine/Cargo.toml",
        "crates/engine-wasm/src",
        "crates/engine-wasm/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=ASSAY_WASM_TARGET_DIR");
    let target_dir = env::var_os("ASSAY_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("engine-wasm"));
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let rustflags = [
        "-Ctarget-feature=+simd128".to_string(),
        format!("--remap-path-prefix={}=/assay", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ]
    .join("\x1f");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "assay-engine-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--release",
            "--offline",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .status()
        .expect("run cargo for the wasm engine");
    assert!(
        status.success(),
        "building assay-engine-wasm for wasm32-unknown-unknown failed \
         (is the target installed? `rustup target add wasm32-unknown-unknown`)"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/assay_engine_wasm.wasm");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("engine.wasm");
    std::fs::copy(&wasm, &out).expect("copy the wasm module");
}
