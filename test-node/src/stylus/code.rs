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

/// Most fragments a root program may name (`MaxFragmentCount`).
pub const MAX_FRAGMENTS: usize = 2;
/// Header of a root program: prefix, dictionary byte, decompressed length.
const ROOT_HEADER: usize = 3 + 1 + 4;

/// Whether `code` is a program Nitro would run: classic (`EF F0 00`, at least 4 bytes) or a
/// root over fragments (`EF F0 02`).
pub fn is_stylus(code: &[u8]) -> bool {
    (code.len() >= 4 && code.starts_with(&STYLUS_PREFIX)) || root_fragments(code).is_some()
}

/// The fragment addresses a root program names, when `code` is a well-formed root.
pub fn root_fragments(code: &[u8]) -> Option<Vec<alloy_primitives::Address>> {
    if !code.starts_with(&ROOT_PREFIX) || code.len() < ROOT_HEADER + 20 {
        return None;
    }
    let list = &code[ROOT_HEADER..];
    if !list.len().is_multiple_of(20) || list.len() / 20 > MAX_FRAGMENTS {
        return None;
    }
    Some(list.chunks(20).map(alloy_primitives::Address::from_slice).collect())
}

/// Extracts the wasm of a classic or root program; `fragment` returns the code stored at a
/// fragment address.
///
/// # Errors
/// [`Error::Stylus`] as [`decompress`], or when a fragment is missing or the decompressed
/// length differs from the root's.
pub fn wasm_of(
    code: &[u8],
    mut fragment: impl FnMut(alloy_primitives::Address) -> Vec<u8>,
) -> Result<Vec<u8>, Error> {
    let Some(addresses) = root_fragments(code) else {
        return decompress(code);
    };
    if code[3] != 0 {
        return Err(Error::Stylus(format!("unsupported brotli dictionary {}", code[3])));
    }
    let expected = u32::from_be_bytes(code[4..8].try_into().expect("4 bytes")) as usize;
    let mut compressed = Vec::new();
    for address in addresses {
        let part = fragment(address);
        if !part.starts_with(&FRAGMENT_PREFIX) {
            return Err(Error::Stylus(format!("{address} is not a program fragment")));
        }
        compressed.extend_from_slice(&part[3..]);
    }
    let wasm = inflate(&compressed)?;
    if wasm.len() != expected {
        return Err(Error::Stylus(format!(
            "root expects {expected} bytes, fragments give {}",
            wasm.len()
        )));
    }
    Ok(wasm)
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
    if code.len() < 4 || !code.starts_with(&STYLUS_PREFIX) {
        return Err(Error::Stylus("not a Stylus program".into()));
    }
    if code[3] != 0 {
        return Err(Error::Stylus(format!("unsupported brotli dictionary {}", code[3])));
    }
    inflate(&code[4..])
}

fn inflate(compressed: &[u8]) -> Result<Vec<u8>, Error> {
    let mut wasm = Vec::new();
    let reader = brotli::Decompressor::new(compressed, 4096);
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
        let mut root = ROOT_PREFIX.to_vec();
        root.push(0);
        root.extend_from_slice(&(wasm.len() as u32).to_be_bytes());
        root.extend_from_slice(&[0x11; 20]);
        root.extend_from_slice(&[0x22; 20]);
        let (head, tail) = code[4..].split_at(7);
        let fragment = |address: alloy_primitives::Address| {
            let part = if address.0[0] == 0x11 { head } else { tail };
            [&FRAGMENT_PREFIX[..], part].concat()
        };
        assert!(is_stylus(&root));
        assert_eq!(wasm_of(&root, fragment).unwrap(), wasm);
        root[7] ^= 1;
        assert!(wasm_of(&root, fragment).is_err(), "length mismatch");
        let mut other_dict = code;
        other_dict[3] = 1;
        assert!(decompress(&other_dict).is_err());
        assert!(decompress(&[0xef, 0xf0, 0x00]).is_err());
    }
}
