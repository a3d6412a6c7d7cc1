//! Serves the built single-page app: `index.html` for client-side routes, the brotli/gzip files the build
//! wrote beside the module and styles (else compression on the fly), and caching headers — content-hashed
//! files are immutable, everything else is revalidated.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use std::path::Path;
use tower::Layer as _;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

/// A year: what a content-hashed file may be cached for (its name changes with its content).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (`index.html`, the client routes) is checked with the server each time (304 if unchanged).
const REVALIDATE: &str = "no-cache";

/// The SPA's files; unknown paths get `index.html` (status 200) so that client routes such as `/hosts` load
/// the app. `.wasm` is served as `application/wasm` (mime_guess knows it).
pub fn service(static_dir: &Path) -> Router {
    let index = static_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            path = %index.display(),
            "the web app is not built; build it with `cargo xtask run` (or set BERTH_STATIC_DIR)"
        );
    }
    let files = ServeDir::new(static_dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(index));
    // Precompressed answers carry Content-Encoding already; the layer compresses only the others.
    Router::new()
        .fallback_service(CompressionLayer::new().layer(files))
        .layer(middleware::from_fn(cache_control))
}

async fn cache_control(request: Request, next: Next) -> Response {
    let policy = if content_hashed(request.uri().path()) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().is_redirection() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Whether a path names a file Trunk gave a content hash: `/berth-frontend-67af604d68e8833_bg.wasm`,
/// `/main-b98964adc26449bc.css` (12–16 hex digits, leading zeros dropped, before the extension).
fn content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "wasm" | "js" | "css") {
        return false;
    }
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (12..=16).contains(&hash.len()) && hash.chars().all(|c| c.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::content_hashed;

    #[test]
    fn only_trunk_hashed_names_are_immutable() {
        assert!(content_hashed("/berth-frontend-67af604d68e8833_bg.wasm"));
        assert!(content_hashed("/berth-frontend-d93e4825e3a3a4aa.js"));
        assert!(content_hashed("/main-b98964adc26449bc.css"));
        assert!(!content_hashed("/index.html"));
        assert!(!content_hashed("/containers"));
        assert!(!content_hashed("/berth-frontend.js"));
        assert!(!content_hashed("/my-container-name.css"));
        assert!(!content_hashed("/main-b98964adc26449bz.css"));
    }
}
