//! Splits the built web app's WebAssembly module at its lazy routes (`frontend/src/routes.rs`): the browser
//! first fetches the login form and the frame, and each page's code the first time it is opened.
//!
//! Trunk builds the app as one module and has no splitting step (the split must happen between the linker and
//! wasm-bindgen), so after Trunk this takes the linked module Cargo left (built with `--emit-relocs`, see
//! `.cargo/config.toml`), cuts it with `wasm_split_cli_support` (the splitter Leptos's own build tool uses),
//! runs wasm-bindgen on the main part as Trunk did, and puts the results into `dist/` under Trunk's names,
//! with the integrity hashes in `index.html` rewritten. The page files and their loader are named with a hash
//! of the linked module, so the server's year-long caching of hashed names stays right.

use anyhow::{Context as _, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{setup, sh, wasm_size};

/// Splits the module Trunk built into `dist`; `linked` is Cargo's output for it (with relocations).
pub fn split(dist: &Path, linked: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let (glue, module) = trunk_outputs(dist)?;
    let glue_stem = glue
        .file_stem()
        .and_then(|s| s.to_str())
        .context("the glue script has no name")?
        .to_owned();
    let input = std::fs::read(linked).with_context(|| format!("reading {}", linked.display()))?;
    let tag = short_hash(&input);
    let work = linked.with_file_name("web-split");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let main_wasm = work.join("main.wasm");
    let main_module = format!("./{glue_stem}.js");
    let link_name = format!("./__wasm_split-{tag}.js");
    let output = wasm_split_cli_support::transform({
        let mut opts = wasm_split_cli_support::Options::new(&input);
        opts.output_dir = &work;
        opts.main_out_path = &main_wasm;
        opts.main_module = &main_module;
        opts.link_name = &link_name;
        opts
    })
    .map_err(|e| anyhow!("splitting {}: {e:#}", linked.display()))?;
    drop(input);

    // The page and chunk files: name section dropped (as for the main module), renamed with the tag.
    let link_path = work.join(link_name.trim_start_matches("./"));
    let mut loader = std::fs::read_to_string(&link_path)
        .with_context(|| format!("reading {}", link_path.display()))?;
    let mut parts = 0;
    for path in &output.split_modules {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("a split module has no name")?;
        let named = format!("{stem}-{tag}.wasm");
        let quoted = format!("\"./{stem}.wasm\"");
        if !loader.contains(&quoted) {
            bail!("the split loader does not fetch {quoted}");
        }
        loader = loader.replace(&quoted, &format!("\"./{named}\""));
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let bytes = wasm_size::without_section(&bytes, "name")
            .with_context(|| format!("reading {}", path.display()))?;
        write(&dist.join(&named), &bytes)?;
        parts += 1;
    }
    write(
        &dist.join(link_name.trim_start_matches("./")),
        loader.as_bytes(),
    )?;

    // wasm-bindgen on the main part, as Trunk ran it on the whole module, keeping the linker's exports the
    // loader hands to the page files.
    let bindgen = work.join("bindgen");
    sh(Command::new(setup::cargo_bin("wasm-bindgen"))
        .args(["--target", "web", "--no-typescript", "--keep-lld-exports"])
        .arg("--out-name")
        .arg(&glue_stem)
        .arg("--out-dir")
        .arg(&bindgen)
        .arg(&main_wasm))?;
    replace(dist, &glue, &bindgen.join(format!("{glue_stem}.js")))?;
    replace(dist, &module, &bindgen.join(format!("{glue_stem}_bg.wasm")))?;
    println!(
        "xtask: web app split into the main module and {} page files in {:.1} s",
        parts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Trunk's glue script and module in `dist`: `berth-frontend-<hash>.js` and `berth-frontend-<hash>_bg.wasm`.
fn trunk_outputs(dist: &Path) -> Result<(PathBuf, PathBuf)> {
    let (mut glue, mut module) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("berth-frontend-") {
            continue;
        }
        if name.ends_with("_bg.wasm") {
            module.push(path);
        } else if name.ends_with(".js") {
            glue.push(path);
        }
    }
    match (glue.as_slice(), module.as_slice()) {
        ([glue], [module]) => Ok((glue.clone(), module.clone())),
        _ => bail!(
            "expected one berth-frontend-*.js and one berth-frontend-*_bg.wasm in {}, found {} and {}",
            dist.display(),
            glue.len(),
            module.len()
        ),
    }
}

/// Puts `new` in place of the Trunk output `old` and rewrites its integrity hash in `index.html`.
fn replace(dist: &Path, old: &Path, new: &Path) -> Result<()> {
    let before = std::fs::read(old).with_context(|| format!("reading {}", old.display()))?;
    let after = std::fs::read(new).with_context(|| format!("reading {}", new.display()))?;
    wasm_size::rehash(dist, &before, &after)?;
    write(old, &after)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// 16 hex digits of the SHA-256 of `bytes`: the name tag of the files cut from one linked module.
fn short_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_sixteen_hex_digits_of_the_content() {
        let tag = short_hash(b"abc");
        assert_eq!(tag, "ba7816bf8f01cfea");
        assert_ne!(short_hash(b"abd"), tag);
    }
}
