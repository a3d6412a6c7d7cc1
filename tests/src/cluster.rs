//! Several `berth` processes on one database: which of them leads, as each says on `/healthz`.

use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use crate::app::BerthProcess;
use crate::process::{Probe, poll};

/// Whether server `p` says it leads (`None`: it does not answer).
pub async fn leads(p: &BerthProcess) -> Option<bool> {
    let r = p
        .app
        .client
        .get(p.app.url("/healthz"))
        .timeout(Duration::from_millis(800))
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    body["leader"].as_bool()
}

/// Waits until exactly one of the servers in `among` leads; its index in `servers`.
pub async fn the_leader(
    servers: &[BerthProcess],
    among: &[usize],
    timeout: Duration,
) -> Result<usize> {
    poll(
        "exactly one leader",
        timeout,
        Duration::from_millis(50),
        || async {
            let mut leaders = Vec::new();
            for &i in among {
                if leads(&servers[i]).await == Some(true) {
                    leaders.push(i);
                }
            }
            Ok(match leaders.as_slice() {
                [one] => Probe::Ready(*one),
                other => Probe::NotYet(format!("leaders: {other:?}")),
            })
        },
    )
    .await
}
