//! Web app delivery benchmark (`cargo xtask bench web`, i.e. `cargo bench -p berth-tests --bench web`): the
//! built web app's size (the main module, glue script and split loader the first load fetches, the page files
//! loaded on demand, styles; raw and as the server sends them) and the time from navigation to an interactive
//! login form in headless Chromium, served by a Berth server (in process, SQLite) on loopback: with an empty
//! cache, with the files cached, and with the network held to 10 Mbit/s. Goal (issue 19): what the first load
//! fetches of the app (module + scripts) ≤ 400 KB gzip. Prints the table and writes it into BENCHMARKS.md. Needs
//! root (the test environment). Not run by `cargo test`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use berth_tests::app::static_dir;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME};
use berth_tests::bench::{cores, fmt_duration, measure_in_env, median, percentile};
use berth_tests::browser::{Cdp, fill};
use berth_tests::process::{Probe, poll};
use berth_tests::{TestEnv, spawn_app};
use serde_json::{Value, json};

const COMMAND: &str = "cargo xtask bench web";
/// Navigations per condition.
const ROUNDS: usize = 10;
/// The goal for the module and its glue script, gzip.
const GOAL_GZIP: u64 = 400 * 1000;
/// The slow link: 10 Mbit/s down, 5 up, 40 ms latency.
const SLOW_DOWN_BYTES_PER_SEC: u64 = 1_250_000;
const SLOW_LATENCY_MS: u64 = 40;
const PAGE: Duration = Duration::from_secs(60);

fn main() -> std::process::ExitCode {
    berth_tests::bench::run_main("web", measure_in_env("web", measure))
}

/// Runs in every page before the app's own scripts: stamps `performance.now()` at the animation frame after the
/// login form's user field and submit button are in the document (the app renders client-side, so its handlers
/// are attached when the elements are inserted).
const STAMP_LOGIN_FORM: &str = r#"
(() => {
  const ready = () => document.querySelector('input#username') && document.querySelector('button#login-submit');
  const obs = new MutationObserver(() => {
    if (ready() && window.__berthLoginForm === undefined) {
      window.__berthLoginForm = null;
      obs.disconnect();
      requestAnimationFrame(() => { window.__berthLoginForm = performance.now(); });
    }
  });
  obs.observe(document, { childList: true, subtree: true });
})();
"#;

/// Runs in every page before the app's own scripts: stamps `performance.now()` at the animation frame after the
/// containers page's view switch is in the document (the page's own code, from its own files, has rendered).
const STAMP_CONTAINERS_PAGE: &str = r#"
(() => {
  const obs = new MutationObserver(() => {
    if (document.querySelector('#containers-view-managed') && window.__berthContainers === undefined) {
      window.__berthContainers = null;
      obs.disconnect();
      requestAnimationFrame(() => { window.__berthContainers = performance.now(); });
    }
  });
  obs.observe(document, { childList: true, subtree: true });
})();
"#;

/// Fills nothing: stamps the moment of the login click and clicks (the fields are filled through WebDriver).
const CLICK_LOGIN: &str = r#"
window.__berthSubmit = performance.now();
document.querySelector('button#login-submit').click();
"#;

/// What the login → containers page measurement read from the page.
const READ_PAGE_TIMINGS: &str = r#"
const files = performance.getEntriesByType('resource').filter(e => e.name.endsWith('.wasm'));
return {
  page: window.__berthContainers ?? null,
  submit: window.__berthSubmit ?? null,
  wasmFiles: files.length,
  wasmTransfer: files.reduce((sum, e) => sum + e.transferSize, 0),
};
"#;

/// What one navigation measured, read from the page.
const READ_TIMINGS: &str = r#"
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const wasm = resources.find(e => e.name.endsWith('_bg.wasm'));
return {
  wasmFiles: resources.filter(e => e.name.endsWith('.wasm') && e.startTime <= (window.__berthLoginForm ?? Infinity)).length,
  form: window.__berthLoginForm ?? null,
  dcl: nav ? nav.domContentLoadedEventEnd : null,
  wasmEnd: wasm ? wasm.responseEnd : null,
  wasmTransfer: wasm ? wasm.transferSize : null,
};
"#;

/// One navigation's figures.
struct Sample {
    form: Duration,
    wasm_end: Duration,
    /// Bytes fetched for the module, headers included; 0 when it came from the browser's cache.
    wasm_transfer: u64,
    /// WebAssembly files the page requested before the form was there (1: the main module only, no page file).
    wasm_files: u64,
}

/// The files of the built web app.
struct Files {
    /// The main module: what every page load fetches.
    wasm: (u64, u64, u64),
    /// The glue script and the split loader, fetched with it.
    js: (u64, u64, u64),
    /// The page and shared-code files (`split_*`, `chunk_*`), fetched when a page is first opened.
    pages: (u64, u64, u64),
    page_files: usize,
    css: (u64, u64, u64),
    other_js: (u64, u64, u64),
}

/// (raw, gzip, brotli) bytes of the files in `dist` whose names satisfy `pick`, from the `.gz`/`.br` copies
/// `cargo xtask` writes beside them.
fn sizes(dist: &Path, pick: impl Fn(&str) -> bool) -> Result<(u64, u64, u64)> {
    let mut total = (0, 0, 0);
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".gz") || name.ends_with(".br") || !pick(name) {
            continue;
        }
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len());
        let gz = dist.join(format!("{name}.gz"));
        let br = dist.join(format!("{name}.br"));
        let (Ok(gz), Ok(br)) = (len(&gz), len(&br)) else {
            bail!(
                "{name} has no precompressed copies in {}: build the web app with `cargo xtask bench web`",
                dist.display()
            );
        };
        total.0 += len(&path)?;
        total.1 += gz;
        total.2 += br;
    }
    Ok(total)
}

fn files(dist: &Path) -> Result<Files> {
    let app = |n: &str| n.starts_with("berth-frontend-") || n.starts_with("__wasm_split-");
    let page = |n: &str| !app(n) && n.ends_with(".wasm");
    let page_files = std::fs::read_dir(dist)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| page(n))
        .count();
    let files = Files {
        wasm: sizes(dist, |n| app(n) && n.ends_with(".wasm"))?,
        js: sizes(dist, |n| app(n) && n.ends_with(".js"))?,
        pages: sizes(dist, page)?,
        page_files,
        css: sizes(dist, |n| n.ends_with(".css"))?,
        other_js: sizes(dist, |n| !app(n) && n.ends_with(".js"))?,
    };
    if files.page_files == 0 {
        bail!(
            "{} has no page files: the module was not split (build it with `cargo xtask bench web`)",
            dist.display()
        );
    }
    Ok(files)
}

async fn measure(env: &TestEnv) -> Result<String> {
    let dist = static_dir()?;
    let files = files(&dist)?;
    let app = spawn_app(env).await?;
    let outcome = async {
        let url = app.url("/login");
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        let mut slow = Vec::new();
        let mut first_page: [Vec<PageSample>; 4] = Default::default();
        for round in 0..ROUNDS {
            // A new browser profile each round: nothing cached.
            let client = env.browser().await?;
            let result = async {
                stamp(&client).await?;
                cold.push(navigate(&client, &url).await?);
                // The same profile again: the files come from the browser's cache.
                warm.push(navigate(&client, &url).await?);
                Ok::<_, anyhow::Error>(())
            }
            .await;
            let _ = client.close().await;
            result.with_context(|| format!("round {round}"))?;
        }
        for round in 0..ROUNDS {
            let client = env.browser().await?;
            let result = async {
                stamp(&client).await?;
                throttle(&client).await?;
                slow.push(navigate(&client, &url).await?);
                Ok::<_, anyhow::Error>(())
            }
            .await;
            let _ = client.close().await;
            result.with_context(|| format!("slow round {round}"))?;
        }
        // Logging in from a new profile's form: at once, and once every page file arrived (what a user typing
        // their password gives the preload), on loopback and on the slow link.
        let all_wasm = files.page_files as u64 + 1;
        for round in 0..4 * ROUNDS {
            let (throttled, typed) = (round % 2 == 1, round % 4 >= 2);
            let client = env.browser().await?;
            let result = async {
                stamp(&client).await?;
                if throttled {
                    throttle(&client).await?;
                }
                navigate(&client, &url).await?;
                if typed {
                    wasm_fetched(&client, all_wasm).await?;
                }
                let sample = open_containers(&client).await?;
                first_page[usize::from(throttled) + 2 * usize::from(typed)].push(sample);
                Ok::<_, anyhow::Error>(())
            }
            .await;
            let _ = client.close().await;
            result.with_context(|| format!("login round {round}"))?;
        }
        Ok((cold, warm, slow, first_page))
    }
    .await;
    let (cold, warm, slow, first_page) = app.finish(outcome).await?;
    Ok(report(&files, &[&cold, &warm, &slow], &first_page))
}

/// Waits until the page has fetched `count` WebAssembly files (the main module and every page file).
async fn wasm_fetched(client: &fantoccini::Client, count: u64) -> Result<()> {
    poll(
        "every page file preloaded",
        PAGE,
        Duration::from_millis(20),
        || async {
            let v = client
                .execute(
                    "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('.wasm')).length;",
                    vec![],
                )
                .await?;
            let fetched = v.as_u64().unwrap_or_default();
            Ok(if fetched >= count {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("{fetched} of {count}"))
            })
        },
    )
    .await
}

/// Holds this browser's network to the slow link.
async fn throttle(client: &fantoccini::Client) -> Result<()> {
    client
        .issue_cmd(Cdp {
            cmd: "Network.enable",
            params: json!({}),
        })
        .await?;
    client
        .issue_cmd(Cdp {
            cmd: "Network.emulateNetworkConditions",
            params: json!({
                "offline": false,
                "latency": SLOW_LATENCY_MS,
                "downloadThroughput": SLOW_DOWN_BYTES_PER_SEC,
                "uploadThroughput": SLOW_DOWN_BYTES_PER_SEC / 2,
            }),
        })
        .await
        .context("throttling the network through chromedriver's CDP endpoint")?;
    Ok(())
}

/// On the login form: logs in as the admin and waits for the containers page (opened for the first time in
/// this browser, so its files are fetched); the time from the click.
async fn open_containers(client: &fantoccini::Client) -> Result<PageSample> {
    fill(client, "input#username", ADMIN_USERNAME, PAGE).await?;
    fill(client, "input#password", ADMIN_PASSWORD, PAGE).await?;
    client.execute(CLICK_LOGIN, vec![]).await?;
    let v = read_once_stamped(client, "the containers page", READ_PAGE_TIMINGS, "page").await?;
    let at = |key: &str| v[key].as_f64().unwrap_or_default();
    Ok(PageSample {
        page: Duration::from_secs_f64((at("page") - at("submit")).max(0.0) / 1000.0),
        wasm_files: v["wasmFiles"].as_u64().unwrap_or_default(),
        wasm_transfer: v["wasmTransfer"].as_u64().unwrap_or_default(),
    })
}

/// Login click → containers page rendered, and the WebAssembly the page had fetched by then.
struct PageSample {
    page: Duration,
    wasm_files: u64,
    wasm_transfer: u64,
}

/// Installs the login form and containers page stamps in every document this browser opens.
async fn stamp(client: &fantoccini::Client) -> Result<()> {
    for (what, source) in [
        ("login form", STAMP_LOGIN_FORM),
        ("containers page", STAMP_CONTAINERS_PAGE),
    ] {
        client
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": source }),
            })
            .await
            .with_context(|| {
                format!("injecting the {what} stamp through chromedriver's CDP endpoint")
            })?;
    }
    Ok(())
}

/// Runs `script` until the figure `key` of what it returns is a number (the page stamped it); what it returned.
async fn read_once_stamped(
    client: &fantoccini::Client,
    what: &str,
    script: &str,
    key: &str,
) -> Result<Value> {
    poll(what, PAGE, Duration::from_millis(20), || async {
        let v = client.execute(script, vec![]).await?;
        Ok(if v[key].is_number() {
            Probe::Ready(v)
        } else {
            Probe::NotYet(format!("{v}"))
        })
    })
    .await
}

/// Navigates to `url` and waits for the stamp; the page's own figures.
async fn navigate(client: &fantoccini::Client, url: &str) -> Result<Sample> {
    client.goto(url).await?;
    let v = read_once_stamped(client, "the login form", READ_TIMINGS, "form").await?;
    let ms = |v: &Value| Duration::from_secs_f64(v.as_f64().unwrap_or_default() / 1000.0);
    Ok(Sample {
        form: ms(&v["form"]),
        wasm_end: ms(&v["wasmEnd"]),
        wasm_transfer: v["wasmTransfer"].as_u64().unwrap_or_default(),
        wasm_files: v["wasmFiles"].as_u64().unwrap_or_default(),
    })
}

fn kb(bytes: u64) -> String {
    format!("{:.0} KB", bytes as f64 / 1000.0)
}

fn triple((raw, gz, br): (u64, u64, u64)) -> String {
    format!("{} | {} | {}", kb(raw), kb(gz), kb(br))
}

fn row(name: &str, samples: &[Sample]) -> String {
    let form: Vec<Duration> = samples.iter().map(|s| s.form).collect();
    let wasm: Vec<Duration> = samples.iter().map(|s| s.wasm_end).collect();
    let transferred = samples
        .iter()
        .map(|s| s.wasm_transfer)
        .max()
        .unwrap_or_default();
    let wasm_files = samples
        .iter()
        .map(|s| s.wasm_files)
        .max()
        .unwrap_or_default();
    format!(
        "| {name} | {} | {} | {} | {} | {} | {wasm_files} |",
        samples.len(),
        fmt_duration(median(&form)),
        fmt_duration(percentile(&form, 100.0)),
        fmt_duration(median(&wasm)),
        if transferred == 0 {
            "0 (cached)".to_owned()
        } else {
            kb(transferred)
        }
    )
}

fn page_row(name: &str, samples: &[PageSample]) -> String {
    let times: Vec<Duration> = samples.iter().map(|s| s.page).collect();
    let most = |read: fn(&PageSample) -> u64| samples.iter().map(read).max().unwrap_or_default();
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        samples.len(),
        fmt_duration(median(&times)),
        fmt_duration(percentile(&times, 100.0)),
        most(|s| s.wasm_files),
        kb(most(|s| s.wasm_transfer)),
    )
}

fn report(files: &Files, form: &[&[Sample]; 3], page: &[Vec<PageSample>; 4]) -> String {
    let [cold, warm, slow] = *form;
    let [now, now_slow, typed, typed_slow] = page;
    let app_gzip = files.wasm.1 + files.js.1;
    format!(
        "### Web app size and first load (`{COMMAND}`)\n\n\
Measured {} on a {}-core machine.\n\n\
| file | raw | gzip | brotli |\n|---|---:|---:|---:|\n\
| main module (`*_bg.wasm`), fetched first | {} |\n| glue script and split loader, fetched first | {} |\n\
| {} page and shared-code files, fetched when a page is first opened | {} |\n\
| styles | {} |\n| xterm.js and its fit addon | {} |\n\n\
What the first load fetches of the app (main module + scripts), gzip: {} against the goal of ≤ {} (ratio \
{:.2}); with every page file: {}.\n\n\
| navigation to `/login` → interactive login form | runs | median | max | module fetched at (median) | module bytes transferred | `.wasm` files requested before the form |\n\
|---|---:|---:|---:|---:|---:|---:|\n{}\n{}\n{}\n\n\
| login click → containers page rendered (its files fetched for the first time) | runs | median | max | `.wasm` files fetched by then | `.wasm` bytes transferred |\n\
|---|---:|---:|---:|---:|---:|\n{}\n{}\n{}\n{}\n\n\
- Headless Chromium through chromedriver, a Berth server in the benchmark's process (SQLite) on loopback serving \
the built `dist/` with the brotli copies `cargo xtask` writes. The time is the page's own `performance.now()` \
(from the navigation's start) at the animation frame after `input#username` and `button#login-submit` are in \
the document, stamped by a script injected before the app's own (`Page.addScriptToEvaluateOnNewDocument`); \
the app renders client-side, so the form's handlers are attached when it is inserted. \"Module fetched at\" is \
the module's `responseEnd` in the page's resource timing: what follows it is compiling the module, starting \
the app and rendering.\n\
- Empty cache: a new browser profile per run. Cached: the same profile navigating again. 10 Mbit/s: a new \
profile with `Network.emulateNetworkConditions` (10 Mbit/s down, 5 up, {SLOW_LATENCY_MS} ms latency).\n\
- The module is split at the logged-in pages (`frontend/src/routes.rs`, cut by `xtask/src/wasm_split.rs`): \
`/login` fetches the main module only before its form is there (last column), the page files come after. The second \
table logs in from the form of a new profile (fields filled through WebDriver, the click stamped in the page) \
and stamps the animation frame after the containers page's view switch is in the document: the login request, \
the session check, the page's files and its first render; the bytes include the main module. The login form \
preloads every page file while the user types (the home page's first): \"at once\" clicks as soon as the form is \
there, \"after the page files arrived\" once the page has fetched all of them (what a few seconds of typing \
give).\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        cores(),
        triple(files.wasm),
        triple(files.js),
        files.page_files,
        triple(files.pages),
        triple(files.css),
        triple(files.other_js),
        kb(app_gzip),
        kb(GOAL_GZIP),
        app_gzip as f64 / GOAL_GZIP as f64,
        kb(app_gzip + files.pages.1),
        row("empty cache, loopback", cold),
        row("cached, loopback", warm),
        row("empty cache, 10 Mbit/s", slow),
        page_row("empty cache, loopback, at once", now),
        page_row("empty cache, 10 Mbit/s, at once", now_slow),
        page_row("empty cache, loopback, after the page files arrived", typed),
        page_row(
            "empty cache, 10 Mbit/s, after the page files arrived",
            typed_slow
        ),
    )
}
