//! The test image: Debian's static busybox in a `FROM scratch` image (sh, httpd, sleep, wget, echo),
//! built on one engine and pushed to both registries under several names.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::AsyncWriteExt;

use crate::engine::{DOCKER_CLI_TIMEOUT, EngineHandle};
use crate::process::{describe, run_ok};
use crate::registry::RegistryHandle;

/// The local tag of the built image.
pub const LOCAL_TAG: &str = "berth-test/busybox:build";

/// Repositories and tags pushed to the open registry.
pub const OPEN_REPOSITORIES: &[&str] = &[
    "tools/busybox:1.35",
    "tools/busybox:latest",
    "apps/web:1.0",
    "apps/web:1.1",
    "apps/worker:2.0",
];

/// Repositories and tags pushed to the registry with authentication.
pub const AUTH_REPOSITORIES: &[&str] = &["tools/busybox:1.35", "private/app:1.0"];

const DOCKERFILE: &str = "FROM scratch\n\
COPY busybox /bin/busybox\n\
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
LABEL berth-test=image\n\
CMD [\"/bin/sh\"]\n";

/// Builds the image on `engine` from `busybox_bin` in a context folder under `dir`.
pub async fn build(engine: &EngineHandle, busybox_bin: &Path, dir: &Path) -> Result<()> {
    let context = dir.join("image");
    std::fs::create_dir_all(&context).with_context(|| format!("creating {}", context.display()))?;
    std::fs::copy(busybox_bin, context.join("busybox"))
        .with_context(|| format!("copying {} into the build context", busybox_bin.display()))?;
    std::fs::write(context.join("Dockerfile"), DOCKERFILE).context("writing the Dockerfile")?;
    let context_arg = context.to_string_lossy().into_owned();
    engine
        .docker_ok(&["build", "--quiet", "--tag", LOCAL_TAG, &context_arg])
        .await
        .context("building the test image")?;
    Ok(())
}

/// `docker login` into `registry` with its credentials, using the engine's `DOCKER_CONFIG` unless
/// `config_dir` names another one.
pub async fn login(
    engine: &EngineHandle,
    registry: &RegistryHandle,
    config_dir: Option<&Path>,
) -> Result<()> {
    let (Some(user), Some(password)) = (&registry.username, &registry.password) else {
        bail!("registry {} has no credentials", registry.name);
    };
    let mut cmd = match config_dir {
        Some(dir) => engine.docker_command_with_config(dir),
        None => engine.docker_command(),
    };
    cmd.args([
        "login",
        "--username",
        user,
        "--password-stdin",
        &registry.host_port,
    ]);
    let what = describe(&cmd);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("starting `{what}`"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(password.as_bytes())
            .await
            .context("writing the password")?;
        stdin.shutdown().await.context("closing stdin")?;
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .with_context(|| format!("`{what}` timed out"))?
        .with_context(|| format!("running `{what}`"))?;
    if !output.status.success() {
        bail!(
            "`{what}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Tags the built image as `registry/repo:tag` for every entry and pushes it; returns the references.
pub async fn push_all(
    engine: &EngineHandle,
    registry: &RegistryHandle,
    repositories: &[&str],
) -> Result<Vec<String>> {
    let mut pushed = Vec::new();
    for repo in repositories {
        let reference = registry.reference(repo);
        engine.docker_ok(&["tag", LOCAL_TAG, &reference]).await?;
        run_ok(
            engine.docker_command().args(["push", &reference]),
            DOCKER_CLI_TIMEOUT,
        )
        .await
        .with_context(|| format!("pushing {reference}"))?;
        pushed.push(reference);
    }
    Ok(pushed)
}
