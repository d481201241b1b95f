//! Contract wasm: building it, and turning it into on-chain Stylus code the way cargo-stylus 0.10
//! does (`stylus-tools` `process_wasm`): wasm -> WAT -> wasm (drops dangling reference-type
//! encodings), the pinned `wasm-opt` recipe of `contracts/Stylus.toml`, every custom section
//! stripped, a 32-byte zero `project_hash` section added, brotli quality 11, `EF F0 00 00`
//! prefix. A program over one contract's code limit is split into `EF F0 01` fragments and
//! deployed behind an `EF F0 02` root.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use alloy_primitives::Address;

use crate::error::Error;

/// EIP-170 code size limit: the most bytes one contract's code may hold.
pub const MAX_CODE_SIZE: usize = 24_576;
/// Most decompressed wasm a program (classic or root) may have (Nitro's `initialMaxWasmSize`).
pub const MAX_WASM_SIZE: usize = 128 * 1024;
/// Classic program prefix with dictionary 0.
pub const CLASSIC_PREFIX: [u8; 4] = [0xef, 0xf0, 0x00, 0x00];
/// Fragment prefix.
pub const FRAGMENT_PREFIX: [u8; 3] = [0xef, 0xf0, 0x01];
/// Root program prefix with dictionary 0.
pub const ROOT_PREFIX: [u8; 4] = [0xef, 0xf0, 0x02, 0x00];
/// Compressed bytes one fragment carries (the code limit minus its 3-byte prefix).
pub const FRAGMENT_PAYLOAD: usize = MAX_CODE_SIZE - FRAGMENT_PREFIX.len();

/// A contract's program, ready to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Fits one contract: `EF F0 00 00 ‖ brotli(wasm)`.
    Classic(Vec<u8>),
    /// Too large for one contract: fragments (each `EF F0 01 ‖ chunk`) to deploy first, then a
    /// root naming them.
    Fragmented {
        /// Fragment codes, in order.
        fragments: Vec<Vec<u8>>,
        /// Decompressed wasm length the root declares.
        wasm_len: u32,
    },
}

impl Program {
    /// Number of fragments (0 for a classic program).
    pub fn fragment_count(&self) -> usize {
        match self {
            Self::Classic(_) => 0,
            Self::Fragmented { fragments, .. } => fragments.len(),
        }
    }
}

/// The root program over deployed fragments.
pub fn root_code(wasm_len: u32, fragments: &[Address]) -> Vec<u8> {
    let mut root = ROOT_PREFIX.to_vec();
    root.extend_from_slice(&wasm_len.to_be_bytes());
    for address in fragments {
        root.extend_from_slice(address.as_slice());
    }
    root
}

/// cargo-stylus's deployment init code: copies `code` (after a 43-byte prelude) into memory and
/// returns it as the new contract's code.
pub fn deploy_init(code: &[u8]) -> Vec<u8> {
    let mut init = vec![0x7f];
    let mut len = [0u8; 32];
    len[24..].copy_from_slice(&(code.len() as u64).to_be_bytes());
    init.extend_from_slice(&len);
    init.extend_from_slice(&[0x80, 0x60, 0x2b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, 0x00]);
    init.extend_from_slice(code);
    init
}

/// Processes a contract's built wasm into the wasm that goes on chain (before compression):
/// the WAT round trip, then `optimizer` when given, then the custom sections. `name` is only
/// used in errors.
///
/// # Errors
/// [`Error::InvalidWasm`] when the file is not wasm, [`Error::WasmOpt`] when wasm-opt fails.
pub fn process(name: &str, raw: &[u8], optimizer: Option<&WasmOpt>) -> Result<Vec<u8>, Error> {
    let invalid = |reason: String| Error::InvalidWasm { contract: name.to_owned(), reason };
    let text = wasmprinter::print_bytes(raw).map_err(|e| invalid(e.to_string()))?;
    let round_trip = wat::parse_str(text).map_err(|e| invalid(e.to_string()))?;
    let optimized = match optimizer {
        Some(optimizer) => optimizer.run(&round_trip)?,
        None => round_trip,
    };
    strip_and_tag(&optimized).ok_or_else(|| invalid("malformed sections".into()))
}

/// Processes a contract's built wasm into its program ([`process`], then compression and, when
/// over one contract's code limit, fragments). `name` is only used in errors.
///
/// # Errors
/// Those of [`process`], and [`Error::ProgramTooLarge`] when the processed wasm is over
/// [`MAX_WASM_SIZE`] (no fragmenting helps then).
pub fn program(name: &str, raw: &[u8], optimizer: Option<&WasmOpt>) -> Result<Program, Error> {
    let wasm = process(name, raw, optimizer)?;
    if wasm.len() > MAX_WASM_SIZE {
        return Err(Error::ProgramTooLarge {
            contract: name.to_owned(),
            wasm_len: wasm.len(),
            limit: MAX_WASM_SIZE,
        });
    }
    let compressed = compress(&wasm);
    if compressed.len() + CLASSIC_PREFIX.len() <= MAX_CODE_SIZE {
        let mut code = CLASSIC_PREFIX.to_vec();
        code.extend_from_slice(&compressed);
        return Ok(Program::Classic(code));
    }
    let fragments = compressed
        .chunks(FRAGMENT_PAYLOAD)
        .map(|chunk| {
            let mut fragment = FRAGMENT_PREFIX.to_vec();
            fragment.extend_from_slice(chunk);
            fragment
        })
        .collect();
    let wasm_len = u32::try_from(wasm.len()).expect("at most 128 KiB");
    Ok(Program::Fragmented { fragments, wasm_len })
}

/// Brotli at quality 11 with a 4 MiB window, as cargo-stylus compresses a program.
pub fn compress(wasm: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(wasm).expect("compressing into memory");
    }
    out
}

/// Binaryen's `wasm-opt` recipe the contracts opt into: the `[wasm-opt]` table of
/// `contracts/Stylus.toml`, the file `cargo stylus deploy` reads too, so both tools put the same
/// bytes on chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmOpt {
    /// The pinned Binaryen version (`wasm-opt --version` must report it).
    pub version: String,
    /// Flags passed to wasm-opt, in order.
    pub flags: Vec<String>,
}

/// Environment variable naming the wasm-opt binary (default: `wasm-opt` on `PATH`).
pub const WASM_OPT_ENV: &str = "ASSAY_WASM_OPT";

impl WasmOpt {
    /// The recipe in this repository's `contracts/Stylus.toml` (compiled in).
    ///
    /// # Panics
    /// Never for the committed file; a unit test parses it.
    pub fn pinned() -> Self {
        #[derive(serde::Deserialize)]
        struct StylusToml {
            #[serde(rename = "wasm-opt")]
            wasm_opt: WasmOpt,
        }
        let file: StylusToml = toml::from_str(include_str!("../../contracts/Stylus.toml"))
            .expect("contracts/Stylus.toml has a [wasm-opt] table");
        file.wasm_opt
    }

    /// The wasm-opt to run: `$ASSAY_WASM_OPT`, else `wasm-opt` on `PATH`.
    pub fn binary() -> PathBuf {
        std::env::var_os(WASM_OPT_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("wasm-opt"), PathBuf::from)
    }

    fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::WasmOpt(format!(
            "{reason}; the contracts need Binaryen {v}'s wasm-opt on PATH (or in ${WASM_OPT_ENV}): `npm install -g binaryen@{v}.0.0`, or run .ci/run / deploy/devnet.sh, which install it",
            v = self.version
        ))
    }

    /// Runs the recipe on `wasm` with [`WasmOpt::binary`]. Results are cached by the hash of the
    /// recipe and the input (wasm-opt is deterministic), so deploying the same build again does
    /// not rerun it.
    ///
    /// # Errors
    /// [`Error::WasmOpt`] when wasm-opt is missing, is another version, or fails.
    pub fn run(&self, wasm: &[u8]) -> Result<Vec<u8>, Error> {
        self.run_with(&Self::binary(), wasm)
    }

    /// [`WasmOpt::run`] with the given wasm-opt binary.
    ///
    /// # Errors
    /// As [`WasmOpt::run`].
    pub fn run_with(&self, binary: &Path, wasm: &[u8]) -> Result<Vec<u8>, Error> {
        let mut key = Vec::from(self.version.as_bytes());
        for flag in &self.flags {
            key.push(0);
            key.extend_from_slice(flag.as_bytes());
        }
        key.push(0);
        key.extend_from_slice(wasm);
        let cache_dir = std::env::temp_dir().join("assay-wasm-opt");
        let cached = cache_dir.join(format!("{:x}.wasm", alloy_primitives::keccak256(&key)));
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok(bytes);
        }
        self.check_version(binary)?;
        // One scratch folder per run: several deployments may optimise at once.
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let work = cache_dir.join(format!("work-{}-{run}", std::process::id()));
        std::fs::create_dir_all(&work)
            .map_err(|e| self.error(format!("{}: {e}", work.display())))?;
        let (input, output) = (work.join("in.wasm"), work.join("out.wasm"));
        std::fs::write(&input, wasm)
            .map_err(|e| self.error(format!("{}: {e}", input.display())))?;
        let result = Command::new(binary)
            .args(&self.flags)
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .output()
            .map_err(|e| self.error(format!("running {}: {e}", binary.display())))
            .and_then(|out| {
                if out.status.success() {
                    std::fs::read(&output).map_err(|e| self.error(e))
                } else {
                    Err(self.error(format!(
                        "wasm-opt failed ({}): {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    )))
                }
            });
        if let Ok(bytes) = &result {
            // Written whole, then renamed, so a concurrent reader never sees half a file.
            let staged = work.join("done.wasm");
            if std::fs::write(&staged, bytes).is_ok() {
                let _ = std::fs::rename(&staged, &cached);
            }
        }
        let _ = std::fs::remove_dir_all(&work);
        result
    }

    fn check_version(&self, binary: &Path) -> Result<(), Error> {
        let out = Command::new(binary)
            .arg("--version")
            .output()
            .map_err(|e| self.error(format!("running {}: {e}", binary.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let found = text
            .split_whitespace()
            .skip_while(|t| *t != "version")
            .nth(1)
            .map(|t| t.chars().take_while(char::is_ascii_digit).collect::<String>())
            .unwrap_or_default();
        if found == self.version {
            Ok(())
        } else {
            Err(self.error(format!("found wasm-opt version {found:?} ({})", text.trim())))
        }
    }
}

fn read_leb(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let (mut value, mut shift) = (0usize, 0u32);
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= usize::from(byte & 0x7f).checked_shl(shift)?;
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

/// Drops every custom section and appends `project_hash` with 32 zero bytes (what cargo-stylus
/// writes for a `--wasm-file` deployment).
fn strip_and_tag(wasm: &[u8]) -> Option<Vec<u8>> {
    if wasm.get(..4)? != b"\0asm" {
        return None;
    }
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

/// Where `cargo build` in the contracts workspace puts its output: `ASSAY_CONTRACTS_TARGET_DIR`,
/// else `CARGO_TARGET_DIR`, else what `cargo metadata` says.
///
/// # Errors
/// [`Error::Build`] when `cargo metadata` fails.
pub fn contracts_target_dir(contracts_dir: &Path) -> Result<PathBuf, Error> {
    for var in ["ASSAY_CONTRACTS_TARGET_DIR", "CARGO_TARGET_DIR"] {
        if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
    }
    let output = cargo(contracts_dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| Error::Build(format!("running cargo metadata: {e}")))?;
    if !output.status.success() {
        return Err(Error::Build(format!(
            "cargo metadata in {} failed: {}",
            contracts_dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::Build(format!("cargo metadata output: {e}")))?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| Error::Build("cargo metadata has no target_directory".into()))
}

/// `cargo` in `contracts_dir`, so the workspace's pinned toolchain (its `rust-toolchain.toml`)
/// applies rather than whatever toolchain runs `deploy`.
fn cargo(contracts_dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(contracts_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO");
    cmd
}

/// Builds the release wasm of `packages` in the contracts workspace and returns the folder that
/// holds the `.wasm` files.
///
/// # Errors
/// [`Error::Build`] when cargo fails.
pub fn build(contracts_dir: &Path, packages: &[&str]) -> Result<PathBuf, Error> {
    let target = contracts_target_dir(contracts_dir)?;
    let mut cmd = cargo(contracts_dir);
    cmd.args(["build", "--release", "--target", "wasm32-unknown-unknown", "--lib"])
        .env("CARGO_TARGET_DIR", &target);
    for package in packages {
        cmd.args(["-p", package]);
    }
    let status =
        cmd.status().map_err(|e| Error::Build(format!("running cargo in contracts/: {e}")))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "cargo build of {} in {} failed ({status})",
            packages.join(", "),
            contracts_dir.display()
        )));
    }
    Ok(target.join("wasm32-unknown-unknown/release"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(extra_data: usize) -> Vec<u8> {
        // A data segment of pseudo-random bytes so brotli cannot shrink it much.
        let mut state = 0x1234_5678u32;
        let bytes: String = (0..extra_data)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                format!("\\{:02x}", state as u8)
            })
            .collect();
        wat::parse_str(format!(
            r#"(module (memory (export "memory") 3) (@custom "junk" "xyz")
                 (func (export "user_entrypoint") (param i32) (result i32) i32.const 0)
                 (data (i32.const 0) "{bytes}"))"#
        ))
        .unwrap()
    }

    #[test]
    fn small_program_is_classic_stripped_and_tagged() {
        let Program::Classic(code) = program("Small", &module(100), None).unwrap() else {
            panic!("small programs are classic")
        };
        assert_eq!(code[..4], CLASSIC_PREFIX);
        let mut wasm = Vec::new();
        std::io::Read::read_to_end(&mut brotli::Decompressor::new(&code[4..], 4096), &mut wasm)
            .unwrap();
        let sections: Vec<_> = wasmparser::Parser::new(0)
            .parse_all(&wasm)
            .filter_map(|p| match p.unwrap() {
                wasmparser::Payload::CustomSection(c) => Some(c.name().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(sections, ["project_hash"]);
    }

    #[test]
    fn large_program_is_fragmented_and_huge_one_refused() {
        let raw = module(40_000);
        let Program::Fragmented { fragments, wasm_len } = program("Big", &raw, None).unwrap()
        else {
            panic!("incompressible 40 KB needs fragments")
        };
        assert_eq!(fragments.len(), 2);
        assert!(fragments.iter().all(|f| f.starts_with(&FRAGMENT_PREFIX)));
        assert!(fragments.iter().all(|f| f.len() <= MAX_CODE_SIZE));
        assert!(wasm_len as usize > 40_000);
        let root = root_code(wasm_len, &[Address::repeat_byte(1), Address::repeat_byte(2)]);
        assert_eq!(root.len(), 4 + 4 + 40);

        let err = program("Huge", &module(140_000), None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Huge") && text.contains("131072"), "{text}");
        assert!(matches!(program("Bad", b"not wasm", None), Err(Error::InvalidWasm { .. })));
    }

    #[test]
    fn the_pinned_recipe_is_the_contracts_stylus_toml() {
        let recipe = WasmOpt::pinned();
        assert!(recipe.version.parse::<u32>().is_ok(), "{recipe:?}");
        assert_eq!(recipe.flags.first().map(String::as_str), Some("-Oz"));
        // Only features Stylus validates may be enabled.
        for flag in recipe.flags.iter().filter(|f| f.starts_with("--enable-")) {
            assert!(
                [
                    "--enable-bulk-memory",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-nontrapping-float-to-int"
                ]
                .contains(&flag.as_str()),
                "{flag}"
            );
        }
    }

    #[test]
    fn a_missing_or_mismatched_wasm_opt_is_a_clear_error() {
        let recipe = WasmOpt::pinned();
        // Distinct inputs so no cached result answers.
        let missing = recipe
            .run_with(Path::new("/nonexistent/wasm-opt"), &module(7))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("/nonexistent/wasm-opt"), "{missing}");
        assert!(missing.contains(&format!("binaryen@{}", recipe.version)), "{missing}");

        let dir = std::env::temp_dir().join(format!("assay-fake-wasm-opt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("wasm-opt");
        std::fs::write(&fake, "#!/bin/sh\necho 'wasm-opt version 99 (version_99)'\n").unwrap();
        let mut perms = std::fs::metadata(&fake).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&fake, perms).unwrap();
        let mismatch = recipe.run_with(&fake, &module(8)).unwrap_err().to_string();
        assert!(mismatch.contains("found wasm-opt version \"99\""), "{mismatch}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn init_code_matches_cargo_stylus_prelude() {
        let init = deploy_init(&[0xef, 0xf0, 0, 0, 1]);
        assert_eq!(init.len(), 43 + 5);
        assert_eq!(init[32], 5);
        assert_eq!(&init[43..], &[0xef, 0xf0, 0, 0, 1]);
    }
}
