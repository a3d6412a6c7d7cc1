//! The admin passthrough to an engine: a raw Docker API request (`dockerRest`) over the host's own connection
//! settings, and the `docker` CLI run with an argument list (never a shell) pointed at the host, with TLS files
//! in a private folder removed afterwards, a 30 s timeout and output capped at 1 MB.

use super::{DockerError, TlsPems};
use berth_shared::HostEndpoint;
use std::time::Duration;

/// Longest a passthrough may take.
pub const PASSTHROUGH_TIMEOUT: Duration = Duration::from_secs(30);
/// Output kept of a passthrough answer (per stream).
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// What the engine answered to a raw request.
#[derive(Clone, Debug, PartialEq)]
pub struct RestAnswer {
    pub status: u16,
    /// JSON when the body is JSON, else the text.
    pub body: serde_json::Value,
}

/// What the CLI printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn cap(bytes: &[u8]) -> String {
    if bytes.len() <= OUTPUT_CAP {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..OUTPUT_CAP]).into_owned();
    text.push_str(&format!(
        "\n[output cut at 1 MB; {} bytes in all]",
        bytes.len()
    ));
    text
}

/// Sends `method path` with an optional JSON body to the engine at `endpoint`.
pub async fn rest(
    endpoint: &HostEndpoint,
    tls: Option<&TlsPems>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<RestAnswer, DockerError> {
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| DockerError::Unexpected(anyhow::anyhow!("invalid method {method}")))?;
    let mut builder = reqwest::Client::builder().timeout(PASSTHROUGH_TIMEOUT);
    let base = match endpoint {
        HostEndpoint::Unix(socket) => {
            builder = builder.unix_socket(socket.as_str());
            "http://docker".to_owned()
        }
        HostEndpoint::Tcp { .. } => {
            let address = endpoint.to_string();
            let hostport = address.trim_start_matches("tcp://");
            match tls {
                Some(pems) => {
                    let ca = reqwest::Certificate::from_pem(pems.ca.as_bytes())
                        .map_err(|e| DockerError::Tls(e.to_string()))?;
                    let identity = reqwest::Identity::from_pem(
                        format!("{}\n{}", pems.cert, pems.key).as_bytes(),
                    )
                    .map_err(|e| DockerError::Tls(e.to_string()))?;
                    builder = builder
                        .use_rustls_tls()
                        .tls_built_in_root_certs(false)
                        .add_root_certificate(ca)
                        .identity(identity);
                    format!("https://{hostport}")
                }
                None => format!("http://{hostport}"),
            }
        }
    };
    let client = builder
        .build()
        .map_err(|e| DockerError::Unexpected(anyhow::anyhow!("building the client: {e}")))?;
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(b) = body {
        request = request.json(b);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            DockerError::Timeout(PASSTHROUGH_TIMEOUT)
        } else {
            DockerError::Unreachable(super::error_chain(&e))
        }
    })?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| DockerError::Unreachable(super::error_chain(&e)))?;
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) if bytes.len() <= OUTPUT_CAP => v,
        _ => serde_json::Value::String(cap(&bytes)),
    };
    Ok(RestAnswer { status, body })
}

/// Runs `docker <args>` against the engine at `endpoint`.
pub async fn cli(
    endpoint: &HostEndpoint,
    tls: Option<&TlsPems>,
    args: &[String],
) -> Result<CliOutput, DockerError> {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("berth-cli-{}", uuid::Uuid::new_v4()));
    crate::private_fs::create_dir(&dir)?;
    let outcome = async {
        let mut cmd = tokio::process::Command::new("docker");
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("DOCKER_CONFIG", &dir)
            .env("DOCKER_HOST", endpoint.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(pems) = tls {
            crate::private_fs::write_new(&dir.join("ca.pem"), &pems.ca)?;
            crate::private_fs::write_new(&dir.join("cert.pem"), &pems.cert)?;
            crate::private_fs::write_new(&dir.join("key.pem"), &pems.key)?;
            cmd.env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", &dir);
        }
        let child = cmd.spawn().map_err(|e| {
            DockerError::Unreachable(format!("cannot run the docker CLI (is it installed?): {e}"))
        })?;
        let output = tokio::time::timeout(PASSTHROUGH_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| DockerError::Timeout(PASSTHROUGH_TIMEOUT))?
            .map_err(|e| DockerError::Unexpected(anyhow::anyhow!("waiting for docker: {e}")))?;
        Ok(CliOutput {
            exit_code: output.status.code().unwrap_or(-1),
            stdout: cap(&output.stdout),
            stderr: cap(&output.stderr),
        })
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
