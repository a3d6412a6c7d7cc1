//! Files only the server's user may read: a 0700 folder and 0600 files created fresh (never overwriting), for
//! the secret key and for TLS material handed to the Docker client.

use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;

/// Creates `dir` (not its parents) with mode 0700.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Creates `path` with mode 0600 and writes `text`; fails if the file exists.
pub fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
