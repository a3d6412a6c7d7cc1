//! Serves the built single-page app, with `index.html` for client-side routes and gzip/brotli compression.

use std::path::Path;
use tower::Layer as _;
use tower_http::compression::{Compression, CompressionLayer};
use tower_http::services::{ServeDir, ServeFile};

/// The SPA's files; unknown paths get `index.html` (status 200) so that client routes such as `/hosts` load
/// the app. `.wasm` is served as `application/wasm` (mime_guess knows it).
pub fn service(static_dir: &Path) -> Compression<ServeDir<ServeFile>> {
    let index = static_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            path = %index.display(),
            "the web app is not built; build it with `cargo xtask run` (or set BERTH_STATIC_DIR)"
        );
    }
    CompressionLayer::new().layer(ServeDir::new(static_dir).fallback(ServeFile::new(index)))
}
