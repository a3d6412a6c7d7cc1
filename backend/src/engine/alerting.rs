//! Alerting in the background: the evaluator turns bus events (inventory changes, host status, registry
//! refreshes) into findings for `AlertService::apply`; the deliverer sends the outbox, each channel on its own (a
//! slow or failing receiver delays only its own deliveries), and queues reminders of long-open alerts; the load
//! watch judges hosts against threshold rules after every stats interval.

use crate::bus::{Event, RefreshPhase};
use crate::service::ServiceError;
use crate::service::alerts::detect::{self, Finding};
use crate::service::alerts::{AlertService, PER_CHANNEL_IN_FLIGHT};
use crate::service::hosts::HostService;
use crate::service::inventory::InventoryService;
use crate::service::registries::RegistryService;
use crate::service::stats::StatsService;
use berth_shared::{AlertCondition, HostStatus};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// How long an exit counts as asked for after a user stopped, killed, restarted or removed a container.
const ASKED_FOR: Duration = Duration::from_secs(120);
/// How often reminders are looked for.
const REPEAT_TICK: Duration = Duration::from_secs(5);
/// The longest the deliverer sleeps without looking at the outbox.
const IDLE_LOOK: Duration = Duration::from_secs(5);

/// Starts the evaluator and the deliverer.
pub fn spawn(
    alerts: AlertService,
    hosts: HostService,
    registries: RegistryService,
    inventory: InventoryService,
    bus: crate::bus::Bus,
) -> (JoinHandle<()>, JoinHandle<()>) {
    let mut events = bus.subscribe();
    let evaluator_alerts = alerts.clone();
    let evaluator = tokio::spawn(async move {
        let alerts = evaluator_alerts;
        let mut asked: HashMap<String, Instant> = HashMap::new();
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the alert evaluator fell behind the event bus");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let findings: Vec<Finding> = match event.as_ref() {
                Event::DockerActionAsked { inventory_id } => {
                    asked.retain(|_, at| at.elapsed() < ASKED_FOR);
                    asked.insert(inventory_id.clone(), Instant::now());
                    continue;
                }
                Event::Inventory(changes) => changes
                    .iter()
                    .flat_map(|c| {
                        let mut f = detect::on_container(c.before.as_deref(), c.after.as_deref());
                        // An exit a user asked for (through Berth) is no alert.
                        if let Some(a) = c.after.as_deref()
                            && asked.get(&a.id).is_some_and(|at| at.elapsed() < ASKED_FOR)
                        {
                            f.retain(|f| {
                                !matches!(
                                    f,
                                    Finding::Open {
                                        condition: berth_shared::AlertCondition::ContainerExited,
                                        ..
                                    }
                                )
                            });
                        }
                        f
                    })
                    .collect(),
                Event::Unplaceable {
                    container_id,
                    name,
                    reason,
                } => vec![detect::on_unplaceable(container_id, name, reason)],
                Event::Placed { container_id, name } => vec![detect::on_placed(container_id, name)],
                Event::ContainerOom { host_id, docker_id } => {
                    match inventory.on_host(host_id, docker_id).await {
                        Ok(Some(c)) => vec![detect::on_oom(&c)],
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "reading an out-of-memory container failed");
                            continue;
                        }
                    }
                }
                Event::HostStatus {
                    host_id,
                    status,
                    message,
                    ..
                } => {
                    let status: HostStatus = *status;
                    let name = match hosts.get(host_id).await {
                        Ok(Some(h)) => h.name,
                        _ => host_id.clone(),
                    };
                    detect::on_host(host_id, &name, status, message.as_deref())
                }
                Event::RegistryRefresh {
                    registry_id,
                    phase,
                    message,
                    ..
                } if matches!(phase, RefreshPhase::Failed | RefreshPhase::Finished) => {
                    let name = match registries.get(registry_id).await {
                        Ok(Some(r)) => r.name,
                        _ => registry_id.clone(),
                    };
                    detect::on_registry(
                        registry_id,
                        &name,
                        *phase == RefreshPhase::Failed,
                        message.as_deref(),
                    )
                }
                _ => continue,
            };
            if let Err(e) = alerts.apply(findings).await {
                tracing::error!(error = %e, "recording alerts failed");
            }
        }
    });
    let deliverer = tokio::spawn(deliver(alerts));
    (evaluator, deliverer)
}

/// The last reading judged per host and condition: when it was taken and its percent of the host.
type Readings = HashMap<(String, AlertCondition), (chrono::DateTime<chrono::Utc>, f64)>;

/// Starts the load watch: every stats interval, each host an enabled HOST_CPU_HIGH / HOST_MEMORY_HIGH rule
/// covers is read (its containers' latest totals, summed by the stats service) and judged with its previous
/// reading, so one spike does not open an alert and one dip does not resolve it. Nothing is read while no such
/// rule exists.
pub fn spawn_load_watch(alerts: AlertService, stats: StatsService) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(stats.settings().interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Readings::new();
        loop {
            tick.tick().await;
            if let Err(e) = watch_load_once(&alerts, &stats, &mut last).await {
                tracing::warn!(error = %e, "judging host load for alerts failed");
            }
        }
    })
}

/// One round of the load watch.
async fn watch_load_once(
    alerts: &AlertService,
    stats: &StatsService,
    last: &mut Readings,
) -> Result<(), ServiceError> {
    let rules: Vec<_> = alerts
        .rules()
        .await?
        .into_iter()
        .filter(|r| r.enabled && r.condition.has_threshold())
        .collect();
    if rules.is_empty() {
        last.clear();
        return Ok(());
    }
    let hosts = stats.hosts().list().await?;
    let mut findings = Vec::new();
    for host in hosts
        .iter()
        .filter(|h| h.docker_support && h.status == HostStatus::Up)
    {
        let mut conditions: Vec<AlertCondition> = Vec::new();
        for r in &rules {
            if r.host_id.as_ref().is_none_or(|h| *h == host.id)
                && !conditions.contains(&r.condition)
            {
                conditions.push(r.condition);
            }
        }
        if conditions.is_empty() {
            continue;
        }
        let totals = stats.host_totals(&host.id).await?;
        // No running container sampled: the containers use nothing of the host.
        let at = totals.as_ref().map_or_else(chrono::Utc::now, |t| t.at);
        let caps = host.capabilities.as_ref();
        for condition in conditions {
            let reading = match condition {
                AlertCondition::HostCpuHigh => {
                    caps.map(|c| c.cpus).filter(|n| *n > 0).map(|cpus| {
                        (
                            totals.as_ref().map_or(0.0, |t| t.cpu_percent) / cpus as f64,
                            format!("its {cpus} CPU{}", if cpus == 1 { "" } else { "s" }),
                        )
                    })
                }
                AlertCondition::HostMemoryHigh => caps
                    .map(|c| c.memory_bytes)
                    .filter(|m| *m > 0)
                    .map(|total| {
                        (
                            totals.as_ref().map_or(0, |t| t.memory_bytes) as f64 * 100.0
                                / total as f64,
                            format!(
                                "its {} of memory",
                                berth_shared::format_bytes(u64::try_from(total).unwrap_or(0))
                            ),
                        )
                    }),
                _ => None,
            };
            // A host whose engine has not said how many CPUs or how much memory it has cannot be judged.
            let Some((percent, of_what)) = reading else {
                continue;
            };
            let previous = last.insert((host.id.clone(), condition), (at, percent));
            if let Some((before, before_percent)) = previous
                && before != at
            {
                findings.push(detect::on_load(
                    &host.id,
                    &host.name,
                    condition,
                    before_percent,
                    percent,
                    of_what,
                ));
            }
        }
    }
    last.retain(|(h, _), _| hosts.iter().any(|x| x.id == *h));
    alerts.apply(findings).await
}

/// The deliverer: wakes on new outbox rows, on a retry falling due, or every few seconds; per channel at most
/// `PER_CHANNEL_IN_FLIGHT` requests in flight.
async fn deliver(alerts: AlertService) {
    match alerts.release_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deliveries = n,
            "alert deliveries left in flight by the last run are due again"
        ),
        Err(e) => tracing::warn!(error = %e, "releasing alert delivery leases failed"),
    }
    let wake = alerts.outbox_signal();
    let in_flight: Arc<std::sync::Mutex<HashMap<String, usize>>> = Arc::default();
    let done = Arc::new(tokio::sync::Notify::new());
    let mut repeat = tokio::time::interval(REPEAT_TICK);
    repeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (due, next) = match alerts.due().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading the alert outbox failed");
                (Vec::new(), None)
            }
        };
        for channel_id in due {
            let busy = in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&channel_id)
                .copied()
                .unwrap_or(0);
            let slots = PER_CHANNEL_IN_FLIGHT.saturating_sub(busy);
            if slots == 0 {
                continue;
            }
            let batches = match alerts.claim_batches(&channel_id, slots).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(channel = %channel_id, error = %e, "claiming alert deliveries failed");
                    continue;
                }
            };
            if batches.is_empty() {
                continue;
            }
            let target = match alerts.target(&channel_id).await {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(channel = %channel_id, error = %e, "opening an alert channel failed");
                    continue;
                }
            };
            for batch in batches {
                *in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(channel_id.clone())
                    .or_default() += 1;
                let (alerts, target, in_flight, done, channel_id) = (
                    alerts.clone(),
                    target.clone(),
                    in_flight.clone(),
                    done.clone(),
                    channel_id.clone(),
                );
                tokio::spawn(async move {
                    if let Err(e) = alerts.send_batch(&target, &batch).await {
                        tracing::warn!(channel = %channel_id, error = %e, "recording an alert delivery failed");
                    }
                    if let Some(n) = in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_mut(&channel_id)
                    {
                        *n = n.saturating_sub(1);
                    }
                    done.notify_one();
                });
            }
        }
        let sleep = next
            .and_then(|n| (n - chrono::Utc::now()).to_std().ok())
            .unwrap_or(IDLE_LOOK)
            .min(IDLE_LOOK);
        tokio::select! {
            _ = wake.notified() => {}
            _ = done.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = repeat.tick() => {
                if let Err(e) = alerts.send_repeats().await {
                    tracing::warn!(error = %e, "queueing alert reminders failed");
                }
                if let Err(e) = alerts.clear_quiet_loops().await {
                    tracing::warn!(error = %e, "resolving quiet restart loops failed");
                }
            }
        }
    }
}
