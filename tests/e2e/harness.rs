//! Self-test of the environment: the engines, registries and test image are what the other tests
//! assume they are.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::process::run;
use reqwest::StatusCode;
use serde_json::Value;

/// Every engine answers `docker version` on its endpoints (h3 only with the client certificate) and
/// uses its own bridge.
pub async fn engines_answer(env: &TestEnv) -> Result<()> {
    for host in &env.hosts {
        let version = host
            .docker_ok(&["version", "--format", "{{.Server.Version}}"])
            .await?;
        ensure!(
            !version.trim().is_empty(),
            "{}: empty server version",
            host.name
        );
        let subnet = host
            .docker_ok(&[
                "network",
                "inspect",
                "bridge",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            ])
            .await?;
        ensure!(
            subnet.trim() == host.subnet,
            "{}: the default network uses {:?}, expected the engine's own bridge subnet {}",
            host.name,
            subnet.trim(),
            host.subnet
        );
    }
    let [h1, h2, h3] = &env.hosts;
    ensure!(
        h1.endpoint.starts_with("unix://") && h1.tcp_endpoint.is_none(),
        "h1 must be unix-only"
    );
    ensure!(
        h1.tls.is_none() && h2.tls.is_none(),
        "h1 and h2 do not use TLS"
    );

    // h2 answers on both of its endpoints.
    for endpoint in [h2.unix_endpoint.as_deref(), h2.tcp_endpoint.as_deref()] {
        let endpoint = endpoint.context("h2 must have a unix socket and a TCP port")?;
        let output = run(
            h2.docker_command_at(endpoint, h2.docker_config_dir())
                .args(["version", "--format", "{{.Server.Os}}"]),
            Duration::from_secs(30),
        )
        .await?;
        ensure!(
            output.status.success(),
            "h2 via {endpoint}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        ensure!(
            String::from_utf8_lossy(&output.stdout).trim() == "linux",
            "h2 via {endpoint}: unexpected OS"
        );
    }

    // h3 is TLS-only: the certificate material is there, and a client without it is refused.
    let tls = h3.tls.as_ref().context("h3 must have TLS material")?;
    ensure!(
        h3.unix_endpoint.is_none(),
        "h3 must not listen on a unix socket"
    );
    ensure!(tls.ca_pem.contains("BEGIN CERTIFICATE"), "h3 CA PEM");
    ensure!(
        tls.cert_pem.contains("BEGIN CERTIFICATE"),
        "h3 client certificate PEM"
    );
    ensure!(tls.key_pem.contains("PRIVATE KEY"), "h3 client key PEM");
    let plain = run(
        h3.docker_command_bare().args([
            "-H",
            &h3.endpoint,
            "version",
            "--format",
            "{{.Server.Version}}",
        ]),
        Duration::from_secs(30),
    )
    .await?;
    ensure!(!plain.status.success(), "h3 answered a client without TLS");
    let no_client_cert = run(
        h3.docker_command_bare().args([
            "-H",
            &h3.endpoint,
            "--tls",
            "--tlscacert",
            &tls.files.ca.to_string_lossy(),
            "version",
            "--format",
            "{{.Server.Version}}",
        ]),
        Duration::from_secs(30),
    )
    .await?;
    ensure!(
        !no_client_cert.status.success(),
        "h3 answered a client without a client certificate"
    );
    Ok(())
}

/// The open registry answers `/v2/` with 200, the other with 401 unless given the right credentials,
/// and both list what the environment pushed.
pub async fn registries_answer(env: &TestEnv) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let open = client
        .get(format!("{}/v2/", env.registry.url))
        .send()
        .await?;
    ensure!(
        open.status() == StatusCode::OK,
        "open registry /v2/: {}",
        open.status()
    );

    let auth = &env.auth_registry;
    let anonymous = client.get(format!("{}/v2/", auth.url)).send().await?;
    ensure!(
        anonymous.status() == StatusCode::UNAUTHORIZED,
        "auth registry /v2/ without credentials: {}",
        anonymous.status()
    );
    let challenge = anonymous
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    ensure!(
        challenge.starts_with("Basic"),
        "auth registry challenge: {challenge:?}"
    );
    let user = auth.username.as_deref().context("auth registry user")?;
    let password = auth.password.as_deref().context("auth registry password")?;
    let wrong = client
        .get(format!("{}/v2/", auth.url))
        .basic_auth(user, Some("wrong"))
        .send()
        .await?;
    ensure!(
        wrong.status() == StatusCode::UNAUTHORIZED,
        "auth registry with a wrong password: {}",
        wrong.status()
    );
    let right = client
        .get(format!("{}/v2/", auth.url))
        .basic_auth(user, Some(password))
        .send()
        .await?;
    ensure!(
        right.status() == StatusCode::OK,
        "auth registry with the right password: {}",
        right.status()
    );

    let catalog: Value = client
        .get(format!("{}/v2/_catalog", env.registry.url))
        .send()
        .await?
        .json()
        .await?;
    for repo in ["tools/busybox", "apps/web"] {
        ensure!(
            catalog["repositories"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == repo)),
            "open registry catalog lacks {repo}: {catalog}"
        );
    }
    let tags: Value = client
        .get(format!("{}/v2/tools/busybox/tags/list", env.registry.url))
        .send()
        .await?
        .json()
        .await?;
    for tag in ["1.35", "latest"] {
        ensure!(
            tags["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == tag)),
            "tools/busybox lacks tag {tag}: {tags}"
        );
    }
    let private: Value = client
        .get(format!("{}/v2/_catalog", auth.url))
        .basic_auth(user, Some(password))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        private["repositories"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == "tools/busybox")),
        "auth registry catalog lacks tools/busybox: {private}"
    );
    for reference in ["tools/busybox:1.35", "tools/busybox:latest", "apps/web:1.0"] {
        ensure!(
            env.images.contains(&env.registry.reference(reference)),
            "{reference} was not pushed: {:?}",
            env.images
        );
    }
    Ok(())
}

/// The test image from the open registry pulls and runs on every engine.
pub async fn image_runs_on_every_engine(env: &TestEnv) -> Result<()> {
    let image = env.registry.reference("tools/busybox:1.35");
    for host in &env.hosts {
        host.docker_ok(&["pull", &image])
            .await
            .with_context(|| format!("pulling {image} on {}", host.name))?;
        let greeting = format!("hello-from-{}", host.name);
        let out = host
            .docker_ok(&[
                "run",
                "--rm",
                "--label",
                "berth-test=harness",
                &image,
                "echo",
                &greeting,
            ])
            .await
            .with_context(|| format!("running {image} on {}", host.name))?;
        ensure!(
            out.trim() == greeting,
            "{}: expected {greeting:?}, got {out:?}",
            host.name
        );
    }
    Ok(())
}

/// A pull from the registry with authentication fails without `docker login` and works after it.
pub async fn auth_registry_needs_login(env: &TestEnv) -> Result<()> {
    let host = env.host("h3")?;
    let image = env.auth_registry.reference("private/app:1.0");
    // Make sure nothing is cached locally, so the pull really goes to the registry.
    let _ = host.docker(&["rmi", "--force", &image]).await?;

    let anonymous = env.scratch_dir("docker-config-anonymous")?;
    let output = run(
        host.docker_command_with_config(&anonymous)
            .args(["pull", &image]),
        Duration::from_secs(60),
    )
    .await?;
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    ensure!(
        !output.status.success(),
        "pulling {image} without login succeeded"
    );
    ensure!(
        stderr.contains("unauthorized")
            || stderr.contains("no basic auth credentials")
            || stderr.contains("authentication required"),
        "pull without login failed for another reason: {stderr}"
    );

    let logged_in = env.scratch_dir("docker-config-login")?;
    berth_tests::image::login(host, &env.auth_registry, Some(&logged_in)).await?;
    run(
        host.docker_command_with_config(&logged_in)
            .args(["pull", &image]),
        Duration::from_secs(60),
    )
    .await
    .and_then(|o| {
        ensure!(
            o.status.success(),
            "pull after login failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Ok(())
    })?;
    let out = host
        .docker_ok(&["run", "--rm", &image, "echo", "private-ok"])
        .await?;
    ensure!(out.trim() == "private-ok", "unexpected output {out:?}");
    Ok(())
}
