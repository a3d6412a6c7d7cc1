//! Seeding a registry through its HTTP API (fast: manifests that share one layer and one config blob):
//! blob uploads, manifest PUTs and `sha256:` digests.

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use sha2::Digest as _;

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hex: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Uploads a blob into `repo` (POST then PUT); returns its digest and size.
pub async fn upload_blob(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    bytes: &[u8],
) -> Result<(String, usize)> {
    let digest = digest_of(bytes);
    let started = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await?;
    ensure!(
        started.status() == StatusCode::ACCEPTED,
        "upload start in {repo}: {}",
        started.status()
    );
    let location = started
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("upload Location")?
        .to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let done = client
        .put(format!("{location}{separator}digest={digest}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await?;
    ensure!(
        done.status() == StatusCode::CREATED,
        "upload {repo} {digest}: {}",
        done.status()
    );
    Ok((digest, bytes.len()))
}

/// PUTs a manifest under `reference` (its own digest when empty); returns its digest and size.
pub async fn put_manifest(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    manifest: &Value,
) -> Result<(String, usize)> {
    let body = serde_json::to_vec(manifest)?;
    let digest = digest_of(&body);
    let reference = if reference.is_empty() {
        digest.as_str()
    } else {
        reference
    };
    let response = client
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header(header::CONTENT_TYPE, media_type)
        .body(body.clone())
        .send()
        .await?;
    let status = response.status();
    ensure!(
        status == StatusCode::CREATED,
        "PUT manifest {repo}:{reference}: {status} {}",
        response.text().await.unwrap_or_default()
    );
    Ok((digest, body.len()))
}

/// An OCI image manifest of one config and one layer, made unique by an annotation naming `tag`.
pub fn image_manifest(config: &(String, usize), layer: &(String, usize), tag: &str) -> Value {
    json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1 },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.0, "size": layer.1 }],
        "annotations": { "org.opencontainers.image.ref.name": tag }
    })
}

/// A minimal image config JSON for `arch` (with an optional variant).
pub fn image_config(arch: &str, variant: Option<&str>) -> Vec<u8> {
    let mut config = json!({
        "architecture": arch, "os": "linux", "created": "2024-01-02T03:04:05Z",
        "config": {}, "rootfs": { "type": "layers", "diff_ids": [] }
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    serde_json::to_vec(&config).unwrap_or_default()
}

/// Pushes `repos` repositories `{prefix}/rNNN`, each with `tags` tags `tNN` that share one layer and one
/// config (distinct manifests), `concurrency` requests at a time.
pub async fn seed(
    base: &str,
    prefix: &str,
    repos: usize,
    tags: usize,
    concurrency: usize,
) -> Result<()> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let layer = b"berth seeded layer: not a real tarball; registries do not look".to_vec();
    let config = image_config("amd64", None);
    futures::stream::iter(0..repos)
        .map(|i| {
            let (client, layer, config) = (client.clone(), layer.clone(), config.clone());
            async move {
                let repo = format!("{prefix}/r{i:03}");
                let layer = upload_blob(&client, base, &repo, &layer).await?;
                let config = upload_blob(&client, base, &repo, &config).await?;
                futures::stream::iter(0..tags)
                    .map(|t| {
                        let (client, repo, layer, config) =
                            (client.clone(), repo.clone(), layer.clone(), config.clone());
                        async move {
                            let tag = format!("t{t:02}");
                            put_manifest(
                                &client,
                                base,
                                &repo,
                                &tag,
                                OCI_MANIFEST,
                                &image_manifest(&config, &layer, &tag),
                            )
                            .await
                            .map(|_| ())
                        }
                    })
                    .buffer_unordered(4)
                    .try_collect::<Vec<()>>()
                    .await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
