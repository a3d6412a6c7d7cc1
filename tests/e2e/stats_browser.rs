//! Stats charts in headless Chromium: a busybox container holding 24 MiB under a 64 MiB limit, busy a little
//! and pinging its gateway, sampled every second (`BERTH_STATS_INTERVAL_SECS=1`). On its page the CPU, memory
//! and network charts draw lines through several samples, with their latest values and units in the headings
//! ("… %", "… of 64 MiB", "…/s") and units on the axes; the memory chart marks the 64 MiB limit. The containers
//! list shows the row's CPU and memory trend lines with their values, and so does its row in the All view (the
//! inventory); the host's page its totals charted.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use berth_tests::TestEnv;
use berth_tests::app::{
    ADMIN_PASSWORD, ADMIN_USERNAME, BerthProcess, TestApp, spawn_berth_process_with_env,
};
use berth_tests::browser::{submit_login, wait_for};
use berth_tests::containers::{container_action, create_container, wait_container_status};
use berth_tests::hosts::{add_host, engine_input};
use berth_tests::process::{Probe, poll};
use berth_tests::{screenshot, wait_for_path};
use fantoccini::{Client, Locator};
use serde_json::json;

/// How long the page may take to show what a step waits for.
const PAGE: Duration = Duration::from_secs(20);
const SETTINGS: &[(&str, &str)] = &[("BERTH_STATS_INTERVAL_SECS", "1")];

/// The scenario; see the module docs.
pub async fn charts_draw_samples(env: &TestEnv) -> Result<()> {
    let data_dir = env.new_app_dir()?;
    let mut berth: BerthProcess = spawn_berth_process_with_env(&data_dir, SETTINGS).await?;
    let outcome = async {
        let client = env.browser().await?;
        let outcome = journey(&client, &berth.app, env).await;
        if outcome.is_err() {
            let _ = screenshot(&client, "failed-stats-browser.png").await;
        }
        let _ = client.close().await;
        outcome
    }
    .await;
    let stopped = berth.process.stop(Duration::from_secs(20)).await;
    outcome?;
    stopped
}

async fn journey(client: &Client, app: &TestApp, env: &TestEnv) -> Result<()> {
    app.login_as(ADMIN_USERNAME, ADMIN_PASSWORD).await?;
    let h1 = env.host("h1")?;
    let host = add_host(app, engine_input(&h1.name, h1)).await?;
    ensure!(host["status"] == "UP", "h1: {host}");
    let script = "dd if=/dev/zero of=/dev/shm/x bs=1M count=24 2>/dev/null; \
                  gw=$(ip route | awk '/default/ {print $3}'); \
                  while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; \
                  ping -c 1 -W 1 -s 8000 \"$gw\" >/dev/null 2>&1; sleep 0.3; done";
    let c = create_container(
        app,
        json!({
            "name": "charts",
            "image": env.registry.reference("tools/busybox:1.35"),
            "command": ["sh", "-c", script],
            "resources": { "memory": "64m" },
            "hostId": host["id"],
        }),
    )
    .await?;
    let id = c["id"].as_str().unwrap_or_default().to_owned();
    container_action(app, "runContainer", &id, None).await?;
    let running = wait_container_status(app, &id, "RUNNING", Duration::from_secs(60)).await?;
    let docker_id = running["instances"][0]["dockerId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    client
        .goto(&app.url(&format!("/containers/{id}")))
        .await
        .context("opening the container page")?;
    wait_for_path(client, "/login", PAGE).await?;
    submit_login(client, ADMIN_USERNAME, ADMIN_PASSWORD, PAGE).await?;
    wait_for_path(client, &format!("/containers/{id}"), PAGE).await?;
    wait_for(client, "#container-stats svg.chart", PAGE).await?;

    // Each chart draws a line through several samples (history, then the live feed about once a second).
    for chart in ["#stats-cpu", "#stats-memory", "#stats-network"] {
        let points = poll(
            &format!("{chart} drawing at least 5 samples"),
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async move {
                let n = drawn_points(client, chart).await?;
                Ok(if n >= 5 {
                    Probe::Ready(n)
                } else {
                    Probe::NotYet(format!("{n} points"))
                })
            },
        )
        .await?;
        eprintln!("stats_browser: {chart} draws {points} points");
    }

    // The latest values, with their units, readable without hovering.
    let now = |chart: &'static str| async move {
        text(client, &format!("{chart} [data-role=now]")).await
    };
    let cpu = now("#stats-cpu").await?;
    ensure!(cpu.ends_with('%'), "CPU heading {cpu:?}");
    let memory = poll(
        "the memory heading against the 64 MiB limit",
        PAGE,
        Duration::from_millis(250),
        || async move {
            let m = now("#stats-memory").await?;
            Ok(if m.contains("MiB of 64 MiB") && m.ends_with("%)") {
                Probe::Ready(m)
            } else {
                Probe::NotYet(m)
            })
        },
    )
    .await?;
    let network = now("#stats-network").await?;
    ensure!(
        network.contains("/s") && network.contains('↓') && network.contains('↑'),
        "network heading {network:?}"
    );
    eprintln!("stats_browser: headings {cpu:?} / {memory:?} / {network:?}");

    // Units on the axes, and the memory limit marked.
    let labels = |chart: &'static str| async move {
        let mut all = Vec::new();
        for label in client
            .find_all(Locator::Css(&format!("{chart} text.chart-label")))
            .await
            .with_context(|| format!("reading {chart}'s labels"))?
        {
            all.push(label.text().await.unwrap_or_default());
        }
        anyhow::Ok(all)
    };
    let cpu_axis = labels("#stats-cpu").await?;
    ensure!(
        cpu_axis.iter().filter(|l| l.ends_with('%')).count() == 3,
        "CPU axis {cpu_axis:?}"
    );
    let memory_axis = labels("#stats-memory").await?;
    ensure!(
        memory_axis.iter().any(|l| l == "64 MiB")
            && memory_axis.iter().any(|l| l == "limit 64 MiB"),
        "memory axis up to the limit, marked: {memory_axis:?}"
    );
    let network_axis = labels("#stats-network").await?;
    ensure!(
        network_axis.iter().filter(|l| l.ends_with("/s")).count() == 3,
        "network axis {network_axis:?}"
    );
    // The labels are drawn at a readable size (the SVG scales with the card).
    let size: f64 = client
        .execute(
            "const t = document.querySelector('#stats-cpu text.chart-label'); \
             return t.getBoundingClientRect().height;",
            vec![],
        )
        .await
        .context("measuring a label")?
        .as_f64()
        .unwrap_or_default();
    ensure!(
        (9.0..=20.0).contains(&size),
        "axis labels {size:.1} px high"
    );
    client
        .execute(
            "document.querySelector('#container-stats').scrollIntoView();",
            vec![],
        )
        .await
        .context("scrolling to the charts")?;
    screenshot(client, "stats-charts.png").await?;

    // The containers list: the row's small CPU and memory lines of the last hour, with their latest values.
    client
        .goto(&app.url("/containers"))
        .await
        .context("opening the containers list")?;
    let row = "tr.container-row[data-container-name='charts']";
    wait_for_trend(client, row).await?;
    let cpu_now = text(client, &format!("{row} .trend-cpu .trend-now")).await?;
    let memory_now = text(client, &format!("{row} .trend-memory .trend-now")).await?;
    ensure!(
        cpu_now.ends_with('%') && memory_now.ends_with("MiB"),
        "trend values {cpu_now:?} / {memory_now:?}"
    );
    eprintln!("stats_browser: list trend {cpu_now} / {memory_now}");
    screenshot(client, "containers-trends.png").await?;

    // The All view (the inventory): the same container's row draws its instance's lines.
    client
        .goto(&app.url("/containers?view=all"))
        .await
        .context("opening the All view")?;
    let inventory_row = format!(
        "tr.inventory-row[data-id='{}:{docker_id}']",
        host["id"].as_str().unwrap_or_default()
    );
    let inventory_row = inventory_row.as_str();
    wait_for_trend(client, inventory_row).await?;
    let memory_now = text(client, &format!("{inventory_row} .trend-memory .trend-now")).await?;
    ensure!(
        memory_now.ends_with("MiB"),
        "inventory trend value {memory_now:?}"
    );
    screenshot(client, "inventory-trends.png").await?;

    // The host's page: its totals charted.
    let host_id = host["id"].as_str().unwrap_or_default();
    client
        .goto(&app.url(&format!("/hosts/{host_id}")))
        .await
        .context("opening the host page")?;
    for chart in ["#host-stats #stats-cpu", "#host-stats #stats-memory"] {
        poll(
            &format!("{chart} drawing at least 2 points"),
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async move {
                let n = drawn_points(client, chart).await?;
                Ok(if n >= 2 {
                    Probe::Ready(n)
                } else {
                    Probe::NotYet(format!("{n} points"))
                })
            },
        )
        .await?;
    }
    let host_memory = text(client, "#host-stats #stats-memory [data-role=now]").await?;
    ensure!(
        host_memory.contains("MiB of ") && host_memory.ends_with("%)"),
        "host memory heading {host_memory:?}"
    );
    client
        .execute(
            "document.querySelector('#host-stats').scrollIntoView();",
            vec![],
        )
        .await
        .context("scrolling to the host's charts")?;
    screenshot(client, "host-stats.png").await?;

    container_action(app, "stopContainer", &id, None).await?;
    Ok(())
}

/// Waits until the trend cell of `row` draws CPU and memory lines through at least two points each.
async fn wait_for_trend(client: &Client, row: &str) -> Result<()> {
    poll(
        &format!("the trend lines of {row}"),
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async move {
            let cpu = drawn_points(client, &format!("{row} .trend-cpu")).await?;
            let memory = drawn_points(client, &format!("{row} .trend-memory")).await?;
            Ok(if cpu >= 2 && memory >= 2 {
                Probe::Ready(())
            } else {
                Probe::NotYet(format!("cpu {cpu} points, memory {memory}"))
            })
        },
    )
    .await
}

/// How many points the lines of `chart` go through (M and L commands of its paths).
async fn drawn_points(client: &Client, chart: &str) -> Result<usize> {
    let mut count = 0;
    for path in client
        .find_all(Locator::Css(&format!("{chart} path")))
        .await
        .with_context(|| format!("reading {chart}'s lines"))?
    {
        let d = path.attr("d").await?.unwrap_or_default();
        count = count.max(d.matches(['M', 'L']).count());
    }
    Ok(count)
}

async fn text(client: &Client, css: &str) -> Result<String> {
    let element = wait_for(client, css, PAGE).await?;
    Ok(element.text().await?.trim().to_owned())
}
