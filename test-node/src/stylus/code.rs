//! On-chain Stylus code: the `EF F0 00 <dict>` prefix followed by brotli-compressed wasm (what
//! `cargo stylus deploy` writes), and the prefixes Nitro treats specially.

use std::io::Read;

use crate::error::Error;

/// Prefix of a classic Stylus program (`EF F0 00`), followed by a dictionary byte.
pub const STYLUS_PREFIX: [u8; 3] = [0xef, 0xf0, 0x00];
/// Prefix of a program fragment (`EF F0 01`; inert data, never executed).
pub const FRAGMENT_PREFIX: [u8; 3] = [0xef, 0xf0, 0x01];
/// Prefix of a root program that concatenates fragments (`EF F0 02`).
pub const ROOT_PREFIX: [u8; 3] = [0xef, 0xf0, 0x02];
/// Largest decompressed program Nitro accepts (`initialMaxWasmSize`).
pub const MAX_WASM_SIZE: usize = 128 * 1024;

/// Whether `code` is a classic Stylus program Nitro would run (`EF F0 00`, at least 4 bytes).
pub fn is_stylus(code: &[u8]) -> bool {
    code.len() >= 4 && code.starts_with(&STYLUS_PREFIX)
}

/// Whether a contract may be created with `code` starting with 0xEF: Nitro allows only the
/// Stylus component prefixes (EIP-3541 otherwise).
pub fn allowed_ef_code(code: &[u8]) -> bool {
    code.first() != Some(&0xef)
        || [STYLUS_PREFIX, FRAGMENT_PREFIX, ROOT_PREFIX].iter().any(|p| code.starts_with(p))
}

/// Extracts the wasm of a classic program (dictionary 0 only).
///
/// # Errors
/// [`Error::Stylus`] when the code is not a program, uses an unsupported dictionary, does not
/// decompress, or decompresses beyond [`MAX_WASM_SIZE`].
pub fn decompress(code: &[u8]) -> Result<Vec<u8>, Error> {
    if !is_stylus(code) {
        return Err(Error::Stylus("not a Stylus program".into()));
    }
    if code[3] != 0 {
        return Err(Error::Stylus(format!("unsupported brotli dictionary {}", code[3])));
    }
    let mut wasm = Vec::new();
    let reader = brotli::Decompressor::new(&code[4..], 4096);
    reader
        .take(MAX_WASM_SIZE as u64 + 1)
        .read_to_end(&mut wasm)
        .map_err(|err| Error::Stylus(format!("brotli: {err}")))?;
    if wasm.len() > MAX_WASM_SIZE {
        return Err(Error::Stylus("program too large".into()));
    }
    Ok(wasm)
}

/// Compresses wasm into deployable Stylus code (`EF F0 00 00 ‖ brotli(wasm)`), as cargo-stylus
/// does (quality 11).
pub fn compress(wasm: &[u8]) -> Vec<u8> {
    let mut out = vec![0xef, 0xf0, 0x00, 0x00];
    let params = brotli::enc::BrotliEncoderParams { quality: 11, ..Default::default() };
    brotli::BrotliCompress(&mut &wasm[..], &mut out, &params)
        .expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_prefix_rules() {
        let wasm = b"\0asm\x01\0\0\0 some program bytes".repeat(10);
        let code = compress(&wasm);
        assert!(is_stylus(&code));
        assert_eq!(decompress(&code).unwrap(), wasm);
        assert!(allowed_ef_code(&code));
        assert!(allowed_ef_code(&[0xef, 0xf0, 0x01, 1]));
        assert!(!allowed_ef_code(&[0xef, 0x00]));
        assert!(allowed_ef_code(&[0x60]));
        let mut other_dict = code;
        other_dict[3] = 1;
        assert!(decompress(&other_dict).is_err());
        assert!(decompress(&[0xef, 0xf0, 0x00]).is_err());
    }
}
