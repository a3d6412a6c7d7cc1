//! Headless Chromium through chromedriver, driven with fantoccini, plus polling helpers for pages.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::Command;

use crate::process::{ManagedProcess, Probe, free_port, log_tail, poll};

/// How long chromedriver may take to report ready.
pub const CHROMEDRIVER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running chromedriver.
#[derive(Debug)]
pub struct ChromeDriverHandle {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Folder for per-client browser profiles.
    profiles: PathBuf,
    chromium_bin: PathBuf,
    next_profile: AtomicUsize,
}

/// Spawns `chromedriver --port=FREE --allowed-ips=127.0.0.1`.
pub fn spawn(
    dir: &Path,
    chromedriver_bin: &Path,
    chromium_bin: &Path,
) -> Result<(ChromeDriverHandle, ManagedProcess)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let port = free_port()?;
    let log = dir.join("chromedriver.log");
    let mut cmd = Command::new(chromedriver_bin);
    cmd.arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        // Naming the run dir on the command line also lets a later run find a leftover chromedriver.
        .arg(format!(
            "--log-path={}",
            dir.join("chromedriver-verbose.log").display()
        ));
    let process = ManagedProcess::spawn("chromedriver", &mut cmd, &log)?;
    let _ = std::fs::write(dir.with_extension("pid"), process.pid().to_string());
    let handle = ChromeDriverHandle {
        url: format!("http://127.0.0.1:{port}"),
        profiles: dir.join("profiles"),
        chromium_bin: chromium_bin.to_path_buf(),
        next_profile: AtomicUsize::new(0),
    };
    Ok((handle, process))
}

/// Polls chromedriver's `/status` until it says `ready`.
pub async fn wait_ready(driver: &ChromeDriverHandle, process: &mut ManagedProcess) -> Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")?;
    let url = format!("{}/status", driver.url);
    let log = process.log_path().to_path_buf();
    let result = poll(
        "chromedriver",
        CHROMEDRIVER_READY_TIMEOUT,
        Duration::from_millis(100),
        || {
            let exited = process.check_running();
            let request = client.get(&url).send();
            async move {
                exited?;
                let response = match request.await {
                    Ok(response) => response,
                    Err(e) => return Ok(Probe::NotYet(format!("GET /status: {e}"))),
                };
                let body: serde_json::Value = match response.json().await {
                    Ok(body) => body,
                    Err(e) => return Ok(Probe::NotYet(format!("GET /status body: {e}"))),
                };
                if body["value"]["ready"] == json!(true) {
                    Ok(Probe::Ready(()))
                } else {
                    Ok(Probe::NotYet(format!("GET /status: {body}")))
                }
            }
        },
    )
    .await;
    result.map_err(|e| {
        e.context(format!(
            "last lines of {}:\n{}",
            log.display(),
            log_tail(&log, 20)
        ))
    })
}

impl ChromeDriverHandle {
    /// Opens a new headless Chromium session with a fresh profile and a 1280×800 window.
    pub async fn new_client(&self) -> Result<Client> {
        let n = self.next_profile.fetch_add(1, Ordering::SeqCst);
        let profile = self.profiles.join(format!("p{n}"));
        std::fs::create_dir_all(&profile)
            .with_context(|| format!("creating {}", profile.display()))?;
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1280,800".to_string(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium_bin.to_string_lossy(),
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            bail!("capabilities must be a JSON object");
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        builder.connect(&self.url).await.with_context(|| {
            format!(
                "opening a Chromium session through chromedriver at {}",
                self.url
            )
        })
    }
}

/// Polls until an element matching `css` is present and displayed, or `timeout` passes.
pub async fn wait_for(client: &Client, css: &str, timeout: Duration) -> Result<Element> {
    poll(
        &format!("element `{css}`"),
        timeout,
        Duration::from_millis(100),
        move || async move {
            let elements = client
                .find_all(Locator::Css(css))
                .await
                .context("querying the page")?;
            if elements.is_empty() {
                return Ok(Probe::NotYet(format!(
                    "no element matches (page {})",
                    page_url(client).await
                )));
            }
            for element in elements {
                // A re-render can replace the element between find and check: try again next round.
                if let Ok(true) = element.is_displayed().await {
                    return Ok(Probe::Ready(element));
                }
            }
            Ok(Probe::NotYet(
                "matching elements are not displayed".to_string(),
            ))
        },
    )
    .await
}

/// Polls until an element matching `css` is displayed with non-blank text; returns the text.
pub async fn wait_for_text(client: &Client, css: &str, timeout: Duration) -> Result<String> {
    poll(
        &format!("text of `{css}`"),
        timeout,
        Duration::from_millis(100),
        move || async move {
            let elements = client
                .find_all(Locator::Css(css))
                .await
                .context("querying the page")?;
            for element in elements {
                if let (Ok(true), Ok(text)) = (element.is_displayed().await, element.text().await)
                    && !text.trim().is_empty()
                {
                    return Ok(Probe::Ready(text.trim().to_string()));
                }
            }
            Ok(Probe::NotYet(format!(
                "no displayed `{css}` with text (page {})",
                page_url(client).await
            )))
        },
    )
    .await
}

/// Polls until the page's path is `path`.
pub async fn wait_for_path(client: &Client, path: &str, timeout: Duration) -> Result<()> {
    poll(
        &format!("page path {path}"),
        timeout,
        Duration::from_millis(100),
        move || async move {
            let url = client.current_url().await.context("reading the page URL")?;
            if url.path() == path {
                Ok(Probe::Ready(()))
            } else {
                Ok(Probe::NotYet(format!("at {url}")))
            }
        },
    )
    .await
}

/// Polls until no displayed element matches `css`.
pub async fn wait_gone(client: &Client, css: &str, timeout: Duration) -> Result<()> {
    poll(
        &format!("`{css}` to disappear"),
        timeout,
        Duration::from_millis(100),
        move || async move {
            let elements = client
                .find_all(Locator::Css(css))
                .await
                .context("querying the page")?;
            for element in elements {
                if let Ok(true) = element.is_displayed().await {
                    return Ok(Probe::NotYet("still displayed".to_string()));
                }
            }
            Ok(Probe::Ready(()))
        },
    )
    .await
}

/// Waits for the input `css`, clears it and types `text` into it.
pub async fn fill(client: &Client, css: &str, text: &str, timeout: Duration) -> Result<()> {
    let input = wait_for(client, css, timeout).await?;
    input
        .clear()
        .await
        .with_context(|| format!("clearing {css}"))?;
    input
        .send_keys(text)
        .await
        .with_context(|| format!("typing into {css}"))
}

/// Waits for the element `css` and clicks it.
pub async fn click(client: &Client, css: &str, timeout: Duration) -> Result<()> {
    wait_for(client, css, timeout)
        .await?
        .click()
        .await
        .with_context(|| format!("clicking {css}"))
}

/// Waits for the input `css` and returns its current `value` property (empty when it has none).
pub async fn input_value(client: &Client, css: &str, timeout: Duration) -> Result<String> {
    let value = wait_for(client, css, timeout)
        .await?
        .prop("value")
        .await
        .with_context(|| format!("reading the value of {css}"))?;
    Ok(value.unwrap_or_default())
}

/// Polls until an element matching `css` has `needle` in its text; returns that element's text.
pub async fn wait_for_text_containing(
    client: &Client,
    css: &str,
    needle: &str,
    timeout: Duration,
) -> Result<String> {
    poll(
        &format!("`{css}` containing {needle:?}"),
        timeout,
        Duration::from_millis(100),
        move || async move {
            let elements = client
                .find_all(Locator::Css(css))
                .await
                .context("querying the page")?;
            let mut seen = Vec::new();
            for element in elements {
                // A re-render can replace the element between find and read: try again next round.
                let text = element.text().await.unwrap_or_default();
                if text.contains(needle) {
                    return Ok(Probe::Ready(text));
                }
                seen.push(text);
            }
            Ok(Probe::NotYet(format!(
                "texts {seen:?} (page {})",
                page_url(client).await
            )))
        },
    )
    .await
}

/// Waits until the select `css` offers the option with `value`, then chooses it.
pub async fn choose(client: &Client, css: &str, value: &str, timeout: Duration) -> Result<()> {
    wait_for(
        client,
        &format!(r#"{css} option[value="{value}"]"#),
        timeout,
    )
    .await?;
    wait_for(client, css, timeout)
        .await?
        .select_by_value(value)
        .await
        .with_context(|| format!("choosing {value:?} in {css}"))
}

async fn page_url(client: &Client) -> String {
    match client.current_url().await {
        Ok(url) => url.to_string(),
        Err(e) => format!("unknown: {e}"),
    }
}

/// `<workspace>/target/screenshots`, created on demand.
pub fn screenshot_dir() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("screenshots");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Saves a PNG screenshot of the page as `<workspace>/target/screenshots/<name>`; returns its path.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let png = client
        .screenshot()
        .await
        .with_context(|| format!("taking screenshot {name}"))?;
    if !png.starts_with(b"\x89PNG") {
        bail!("screenshot {name} is not a PNG");
    }
    let path = screenshot_dir()?.join(name);
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Fills the login form (`input#username`, `input#password`) and submits it.
pub async fn submit_login(
    client: &Client,
    username: &str,
    password: &str,
    timeout: Duration,
) -> Result<()> {
    fill(client, "input#username", username, timeout).await?;
    fill(client, "input#password", password, timeout).await?;
    click(client, "button#login-submit", timeout).await
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
pub struct Cdp {
    /// The DevTools method, e.g. `Page.addScriptToEvaluateOnNewDocument`.
    pub cmd: &'static str,
    /// Its parameters.
    pub params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}
