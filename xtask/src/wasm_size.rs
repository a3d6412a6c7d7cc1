//! Slims the built web app: drops the WebAssembly module's `name` section (function names for stack traces,
//! more than half of the module; the Rust linker keeps it although the profile strips symbols, and Trunk has no
//! switch for it) and rewrites the module's subresource-integrity hash in `index.html` to match.

use anyhow::{Context as _, Result, bail};
use std::path::Path;

/// Strips the `name` custom section from the `*_bg.wasm` module in `dist` and updates its `integrity` attribute
/// in `dist/index.html`; prints the sizes.
pub fn strip_names(dist: &Path) -> Result<()> {
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_bg.wasm"))
        {
            modules.push(path);
        }
    }
    let [module] = modules.as_slice() else {
        bail!(
            "expected one *_bg.wasm module in {}, found {}",
            dist.display(),
            modules.len()
        );
    };
    let before = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let after = without_section(&before, "name")?;
    if after.len() == before.len() {
        return Ok(());
    }
    rehash(dist, &before, &after)?;
    std::fs::write(module, &after).with_context(|| format!("writing {}", module.display()))?;
    println!(
        "xtask: web app module {} → {} bytes (name section dropped)",
        before.len(),
        after.len()
    );
    Ok(())
}

/// Rewrites the integrity hash of a file in `dist/index.html` from its `before` content to its `after`.
pub fn rehash(dist: &Path, before: &[u8], after: &[u8]) -> Result<()> {
    let index = dist.join("index.html");
    let html =
        std::fs::read_to_string(&index).with_context(|| format!("reading {}", index.display()))?;
    let (old, new) = (integrity(before), integrity(after));
    if !html.contains(&old) {
        bail!("{} does not name the integrity {old}", index.display());
    }
    std::fs::write(&index, html.replace(&old, &new))
        .with_context(|| format!("writing {}", index.display()))
}

/// `sha384-…` as Trunk writes it.
fn integrity(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(bytes))
    )
}

/// Reads an unsigned LEB128 number at `at`; the number and the position after it.
fn leb128(bytes: &[u8], mut at: usize) -> Result<(usize, usize)> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(at).context("the module ends inside a number")?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((usize::try_from(value)?, at));
        }
    }
    bail!("a number in the module is longer than 5 bytes")
}

/// The module without its custom sections called `name`; every other section as it was.
pub fn without_section(module: &[u8], name: &str) -> Result<Vec<u8>> {
    if module.get(..4) != Some(b"\0asm".as_slice()) || module.len() < 8 {
        bail!("not a WebAssembly module");
    }
    let mut out = module[..8].to_vec();
    let mut at = 8;
    while at < module.len() {
        let start = at;
        let id = module[at];
        let (size, body) = leb128(module, at + 1)?;
        let end = body
            .checked_add(size)
            .filter(|e| *e <= module.len())
            .context("a section runs past the end of the module")?;
        let drop = id == 0 && {
            let (len, text) = leb128(module, body)?;
            module.get(text..text + len) == Some(name.as_bytes())
        };
        if !drop {
            out.extend_from_slice(&module[start..end]);
        }
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with a type section, a `name` custom section and a `producers` one.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        m.extend_from_slice(&[0, 7, 4]);
        m.extend_from_slice(b"name");
        m.extend_from_slice(&[1, 2]);
        m.extend_from_slice(&[0, 10, 9]);
        m.extend_from_slice(b"producers");
        m
    }

    #[test]
    fn the_name_section_goes_and_the_rest_stays() {
        let m = module();
        let out = without_section(&m, "name").unwrap();
        let mut want = b"\0asm\x01\0\0\0".to_vec();
        want.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        want.extend_from_slice(&[0, 10, 9]);
        want.extend_from_slice(b"producers");
        assert_eq!(out, want);
        assert_eq!(without_section(&out, "name").unwrap(), out);
        assert!(without_section(b"not wasm", "name").is_err());
        assert!(without_section(&m[..m.len() - 3], "name").is_err());
    }

    #[test]
    fn integrity_is_trunks_sha384() {
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }
}
