//! The Containers tab's All view in headless Chromium: containers made with plain `docker run` on h1 and h2 are
//! listed with their hosts and the search narrows the list to one; with 10,000 rows seeded into the server's
//! database the count says so, the table scrolls to the last row by name while the DOM stays small; a
//! `docker stop` behind Berth's back turns the row `exited` without a reload; the adopt dialog of a container
//! run with env, a published port and a memory limit shows those settings and what happens, and adopting it opens
//! the new definition's page.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use berth::service::fixtures::Fixtures;
use berth_tests::app::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, data};
use berth_tests::browser::{click, fill, submit_login, wait_for_text, wait_for_text_containing};
use berth_tests::process::{Probe, free_port, poll};
use berth_tests::{TestEnv, screenshot, wait_for, wait_for_path};
use fantoccini::Client;
use serde_json::{Value, json};

use crate::containers::berth_with_hosts;

/// How long the page may take to show what a step waits for (the first load compiles the .wasm).
const PAGE: Duration = Duration::from_secs(20);
/// How long a `docker stop` behind Berth's back may take to show in the open page.
const LIVE: Duration = Duration::from_secs(5);
/// The hand-made container with env, a published port and a memory limit (h1), adopted at the end.
const WEB: &str = "inv-ui-web";
/// The plain hand-made container (h2), stopped with the CLI.
const JOB: &str = "inv-ui-job";
/// Seeded rows: `zz-00000` … `zz-09999` on h3, after every other name.
const SEEDED: usize = 10_000;
const PREFIX: &str = "zz";
/// The name of the definition the adoption creates.
const ADOPTED: &str = "adopted-web";
/// The DOM stays below this many elements with 10,000 rows listed.
const MAX_ELEMENTS: u64 = 5_000;

fn row(name: &str) -> String {
    format!(r#"#inventory-table tr.inventory-row[data-name="{name}"]"#)
}

/// The scenario; see the module docs.
pub async fn all_view_lists_filters_scrolls_and_adopts(env: &TestEnv) -> Result<()> {
    let (app, token, [_, _, h3]) = berth_with_hosts(env).await?;
    // The hosts' first re-listing comes 60 s after they connect (BERTH_INVENTORY_RESYNC_SECS) and drops the
    // seeded rows: the scroll below has to be done by then.
    let connected = Instant::now();
    let outcome = match env.browser().await {
        Ok(client) => {
            let outcome = journey(&client, &app, &token, env, &h3, connected).await;
            if outcome.is_err() {
                let _ = screenshot(&client, "failed-inventory-browser.png").await;
            }
            let _ = client.close().await;
            outcome
        }
        Err(e) => Err(e),
    };
    // The engines are shared with the other tests: leave no hand-made container behind.
    let mut cleanup = Ok(());
    for (host, name) in [("h1", WEB), ("h2", JOB)] {
        if let Ok(engine) = env.host(host)
            && let Err(e) = engine.docker_ok(&["rm", "-f", name]).await
        {
            cleanup = Err(e.context(format!("removing {name} on {host}")));
        }
    }
    app.finish(outcome.and(cleanup)).await
}

/// The `data-name`s of the rows in the DOM, in order.
async fn row_names(client: &Client) -> Result<Vec<String>> {
    let names = client
        .execute(
            "return Array.from(document.querySelectorAll('#inventory-table tr.inventory-row'))\
             .map((r) => r.dataset.name);",
            vec![],
        )
        .await
        .context("reading the rows")?;
    serde_json::from_value(names).context("row names")
}

/// Types `text` into the search box and waits until the rows in the DOM are exactly `expected`.
async fn search(client: &Client, text: &str, expected: &[&str]) -> Result<()> {
    fill(client, "#inventory-search", text, PAGE).await?;
    poll(
        &format!("the list narrowed to {expected:?} by {text:?}"),
        PAGE,
        Duration::from_millis(100),
        || async {
            let names = row_names(client).await?;
            let url = client.current_url().await?;
            let in_address = url
                .query_pairs()
                .any(|(key, value)| key == "q" && value == text);
            Ok(if names == expected && in_address {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("rows {names:?} at {url}"))
            })
        },
    )
    .await
}

/// `#inventory-total`: its `data-total` and its text.
async fn total(client: &Client) -> Result<(u64, String)> {
    let element = wait_for(client, "#inventory-total", PAGE).await?;
    let count = element
        .attr("data-total")
        .await?
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    Ok((count, element.text().await?.trim().to_owned()))
}

async fn journey(
    client: &Client,
    app: &TestApp,
    token: &str,
    env: &TestEnv,
    h3: &str,
    connected: Instant,
) -> Result<()> {
    // Two hand-made containers, one with env, a port and a memory limit.
    let image = env.registry.reference("tools/busybox:1.35");
    let (h1, h2) = (env.host("h1")?, env.host("h2")?);
    let port = free_port()?;
    for (engine, name) in [(h1, WEB), (h2, JOB)] {
        engine.docker_ok(&["pull", &image]).await?;
        let _ = engine.docker(&["rm", "-f", name]).await;
    }
    let publish = format!("{port}:8080");
    h1.docker_ok(&[
        "run",
        "-d",
        "--name",
        WEB,
        "-e",
        "GREETING=hi",
        "-p",
        &publish,
        "-m",
        "64m",
        &image,
        "sleep",
        "3600",
    ])
    .await?;
    h2.docker_ok(&["run", "-d", "--name", JOB, &image, "sleep", "3600"])
        .await?;

    client
        .goto(&app.url("/containers?view=all"))
        .await
        .context("opening /containers?view=all")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for(client, "nav#tabs", PAGE).await?;
    client
        .goto(&app.url("/containers?view=all"))
        .await
        .context("opening /containers?view=all after the login")?;
    wait_for(
        client,
        r#"#containers-view-all.segment.active[aria-selected="true"]"#,
        PAGE,
    )
    .await?;
    wait_for(
        client,
        r#"#containers-view-managed[aria-selected="false"]"#,
        PAGE,
    )
    .await?;

    // Both hand-made containers are listed, on their hosts, unmanaged and running (searched for: the shared
    // engines hold whatever the other tests left, which may fill the first screen).
    search(client, "inv-ui-", &[JOB, WEB]).await?;
    for (name, host) in [(WEB, "h1"), (JOB, "h2")] {
        let css = row(name);
        wait_for(
            client,
            &format!(r#"{css}[data-state="running"][data-managed="false"][data-current="true"]"#),
            PAGE,
        )
        .await?;
        let shown = wait_for_text(client, &format!("{css} td.inventory-host"), PAGE).await?;
        ensure!(
            shown == host,
            "{name} is listed on {shown:?}, expected {host}"
        );
    }
    let ports = wait_for_text(client, &format!("{} td.inventory-ports", row(WEB)), PAGE).await?;
    ensure!(
        ports.contains(&format!("{port}→8080")),
        "ports cell of {WEB}: {ports:?}"
    );
    screenshot(client, "inventory-all.png").await?;

    // The search narrows the list to one (debounced, then in the address).
    search(client, JOB, &[JOB]).await?;
    screenshot(client, "inventory-search.png").await?;
    // Nothing matches: the empty row says so.
    search(client, "no-such-container-anywhere", &[]).await?;
    wait_for(client, "#inventory-table tr.empty-row", PAGE).await?;
    screenshot(client, "inventory-no-match.png").await?;

    scroll_ten_thousand(client, app, h3, connected).await?;
    stopped_live(client, h2).await?;
    adopt(client, app, token, port).await
}

/// 10,000 rows seeded on h3: the count says so, scrolling to the bottom reaches the last one by name, and the DOM
/// stays small.
async fn scroll_ten_thousand(
    client: &Client,
    app: &TestApp,
    h3: &str,
    connected: Instant,
) -> Result<()> {
    let url = format!(
        "sqlite://{}?mode=rwc",
        app.data_dir.join("berth.db").display()
    );
    let fixtures = Fixtures::open(&url).await?;
    let seeded = Instant::now();
    fixtures.inventory(h3, "h3", PREFIX, SEEDED).await?;
    let seeded = seeded.elapsed();
    drop(fixtures);
    let last = format!("{PREFIX}-{:05}", SEEDED - 1);

    // Reload with an empty search (seeded rows come with no live change).
    client
        .goto(&app.url("/containers?view=all"))
        .await
        .context("reloading the All view")?;
    let reloaded = Instant::now();
    let (count, text) = poll(
        "#inventory-total to count the seeded rows",
        PAGE,
        Duration::from_millis(100),
        || async {
            let (count, text) = total(client).await?;
            Ok(if count >= SEEDED as u64 {
                Probe::Ready((count, text))
            } else {
                Probe::NotYet(format!("{count} ({text:?})"))
            })
        },
    )
    .await?;
    let counted = reloaded.elapsed();
    ensure!(
        count < SEEDED as u64 + 100 && text.starts_with("10,0") && text.ends_with(" containers"),
        "#inventory-total: data-total {count}, text {text:?}"
    );
    wait_for(client, "#inventory-table tr.inventory-row", PAGE).await?;
    screenshot(client, "inventory-10000-top.png").await?;

    // Scroll to the bottom until the last row by name is drawn (the pages arrive as the view asks for them).
    let scrolled = Instant::now();
    let mut rounds = 0;
    poll(
        &format!("row {last} after scrolling to the bottom"),
        Duration::from_secs(40),
        Duration::from_millis(200),
        || {
            rounds += 1;
            async {
                let state = client
                    .execute(
                        "const el = document.getElementById('inventory-scroll'); \
                         if (!el) return null; \
                         el.scrollTop = el.scrollHeight; \
                         const rows = Array.from(document.querySelectorAll('#inventory-table tr.inventory-row')); \
                         return { top: el.scrollTop, height: el.scrollHeight, \
                                  names: rows.map((r) => r.dataset.name) };",
                        vec![],
                    )
                    .await
                    .context("scrolling #inventory-scroll")?;
                if state.is_null() {
                    bail!("#inventory-scroll is gone");
                }
                let names: Vec<String> = serde_json::from_value(state["names"].clone())?;
                Ok(if names.contains(&last) {
                    Probe::Ready(())
                } else {
                    Probe::NotYet(format!(
                        "scrollTop {} of {}, rows {:?}…{:?}",
                        state["top"],
                        state["height"],
                        names.first(),
                        names.last()
                    ))
                })
            }
        },
    )
    .await?;
    let scrolled = scrolled.elapsed();
    // The last row by name is the last one drawn.
    let names = row_names(client).await?;
    ensure!(
        names.last() == Some(&last),
        "the bottom of the table shows {names:?}"
    );
    let elements = client
        .execute("return document.getElementsByTagName('*').length;", vec![])
        .await?
        .as_u64()
        .unwrap_or(u64::MAX);
    ensure!(
        elements < MAX_ELEMENTS,
        "{elements} elements in the DOM with {count} rows listed ({} rows drawn)",
        names.len()
    );
    screenshot(client, "inventory-10000-bottom.png").await?;
    eprintln!(
        "inventory_browser: seeded {SEEDED} rows in {seeded:.1?}; count shown {counted:.1?} after the reload; \
         {last} drawn {scrolled:.1?} after the first scroll ({rounds} rounds), {:.1?} after the hosts connected; \
         {} rows and {elements} elements in the DOM",
        connected.elapsed(),
        names.len()
    );
    Ok(())
}

/// `docker stop` of the one row shown: the row turns exited within [`LIVE`], without a reload.
async fn stopped_live(client: &Client, h2: &berth_tests::EngineHandle) -> Result<()> {
    search(client, JOB, &[JOB]).await?;
    // A mark on the window: a reload or a navigation would lose it.
    client
        .execute(
            "window.__berthInventoryMark = 'still-here'; return true;",
            vec![],
        )
        .await?;
    let before = client.current_url().await?;
    // sleep ignores SIGTERM as PID 1: a one-second grace period, then SIGKILL.
    h2.docker_ok(&["stop", "-t", "1", JOB]).await?;
    let stopped = Instant::now();
    wait_for(
        client,
        &format!(r#"{}[data-state="exited"]"#, row(JOB)),
        LIVE,
    )
    .await
    .context("the row turning exited after docker stop")?;
    let seen = stopped.elapsed();
    let badge = wait_for(
        client,
        &format!(r#"{} .inventory-state[data-state="exited"]"#, row(JOB)),
        PAGE,
    )
    .await?;
    ensure!(
        badge.text().await?.trim() == "exited",
        "state badge: {:?}",
        badge.text().await?
    );
    let mark = client
        .execute("return window.__berthInventoryMark || null;", vec![])
        .await?;
    ensure!(
        mark == json!("still-here"),
        "the page was reloaded (mark {mark})"
    );
    let after = client.current_url().await?;
    ensure!(after == before, "the page moved from {before} to {after}");
    eprintln!("inventory_browser: exited shown {seen:.1?} after docker stop returned");
    screenshot(client, "inventory-stopped-live.png").await?;
    Ok(())
}

/// The adopt dialog of the container with env, port and memory: the settings and the effect are shown; adopting
/// it under a new name opens the new definition.
async fn adopt(client: &Client, app: &TestApp, token: &str, port: u16) -> Result<()> {
    search(client, WEB, &[WEB]).await?;
    let css = row(WEB);
    click(client, &format!("{css} button.inventory-menu-button"), PAGE).await?;
    wait_for(client, ".inventory-menu", PAGE).await?;
    screenshot(client, "inventory-row-menu.png").await?;
    click(client, ".inventory-menu button.inventory-adopt", PAGE).await?;
    wait_for(client, "form#adopt-dialog", PAGE).await?;
    let setting = |field: &str| {
        format!(r#"form#adopt-dialog .adopt-settings .adopt-setting[data-field="{field}"]"#)
    };
    wait_for_text_containing(client, &setting("env"), "GREETING=hi", PAGE).await?;
    wait_for_text_containing(
        client,
        &setting("ports"),
        &format!("{port} → 8080/tcp"),
        PAGE,
    )
    .await?;
    wait_for_text_containing(client, &setting("resources"), "64 MiB", PAGE).await?;
    wait_for_text_containing(client, &setting("hostId"), "h1", PAGE).await?;
    wait_for_text_containing(client, &setting("command"), "sleep 3600", PAGE).await?;
    let effect = wait_for_text(client, "form#adopt-dialog .adopt-effect", PAGE).await?;
    ensure!(
        effect.contains("pinned to host h1") && effect.contains("keeps running"),
        "effect text: {effect:?}"
    );
    // Nothing unsupported, no compose warning, no error.
    for absent in [
        ".adopt-unsupported",
        ".adopt-compose-warning",
        "#adopt-preview-error",
        "#adopt-form-error",
    ] {
        let found = client.find_all(fantoccini::Locator::Css(absent)).await?;
        ensure!(found.is_empty(), "{absent} is shown in the adopt dialog");
    }
    let suggested = wait_for(client, "#adopt-name", PAGE)
        .await?
        .prop("value")
        .await?;
    ensure!(
        suggested.as_deref() == Some(WEB),
        "suggested name {suggested:?}"
    );
    screenshot(client, "inventory-adopt-dialog.png").await?;

    fill(client, "#adopt-name", ADOPTED, PAGE).await?;
    // The end of the dialog: what happens to the running container.
    client
        .execute(
            "document.querySelector('form#adopt-dialog .adopt-effect').scrollIntoView({ block: 'center' }); return true;",
            vec![],
        )
        .await
        .context("scrolling to the effect")?;
    screenshot(client, "inventory-adopt-effect.png").await?;
    click(client, "#adopt-save", PAGE).await?;
    let path = poll(
        "the new definition's page",
        PAGE,
        Duration::from_millis(100),
        || async {
            let url = client.current_url().await?;
            let path = url.path().to_owned();
            Ok(match path.strip_prefix("/containers/") {
                Some(id) if !id.is_empty() => Probe::Ready(path),
                _ => Probe::NotYet(format!(
                    "at {url}; form error {:?}",
                    form_error(client).await
                )),
            })
        },
    )
    .await?;
    wait_for_text_containing(client, "h1#container-title", ADOPTED, PAGE).await?;

    // The API agrees: the page is the new definition, pinned to h1.
    let body = app
        .graphql_with_token(
            token,
            "{ containers { edges { node { id name host { name } } } } }",
            json!({}),
        )
        .await?;
    let adopted: Vec<Value> = data(&body)?["containers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"].clone())
        .filter(|n| n["name"] == ADOPTED)
        .collect();
    ensure!(adopted.len() == 1, "definitions named {ADOPTED}: {body}");
    let id = adopted[0]["id"].as_str().unwrap_or_default();
    ensure!(
        path == format!("/containers/{id}"),
        "at {path}, the definition is {id}"
    );
    ensure!(adopted[0]["host"]["name"] == "h1", "{}", adopted[0]);
    screenshot(client, "inventory-adopted.png").await?;
    Ok(())
}

async fn form_error(client: &Client) -> Option<String> {
    let element = client
        .find(fantoccini::Locator::Css("#adopt-form-error"))
        .await
        .ok()?;
    element.text().await.ok()
}
