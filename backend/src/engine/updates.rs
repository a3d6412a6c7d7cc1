//! Image updates in the background: when a registry's stored tags change (its refresh, or a push its hook
//! announced), every definition of those repositories is told to subscribers (its `latestDigest` and
//! `updateAvailable` are read again) and judged for `UPDATE_AVAILABLE` alerts; a replica that starts running
//! judges its definition again (a redeploy clears the alert). One bus subscriber; each change reads only the
//! definitions it concerns. Images of registries Berth does not list (Docker Hub without an account in Berth,
//! say) are checked in the background every `BERTH_UPDATE_CHECK_SECS` by one manifest HEAD each, one at a time
//! (the definitions' images and those of the other containers on the hosts, each once; a registry that cannot be
//! reached is skipped for the rest of the round); a digest that changed is handled like a changed tag.
//! Definitions with update policy AUTO are redeployed: at once, or when their daily window opens (checked every
//! minute, and when the definition is edited).

use crate::bus::Event;
use crate::service::ServiceError;
use crate::service::alerts::AlertService;
use crate::service::alerts::detect::{self, Finding};
use crate::service::containers::{self, ContainerService};
use crate::service::inventory::InventoryService;
use crate::service::registries::RegistryService;
use berth_shared::{AlertCondition, RolloutState, UpdatePolicy};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

/// How often definitions whose AUTO rollouts wait for a daily window are looked at.
const WINDOW_CHECK: Duration = Duration::from_secs(60);

/// How long an automatic rollout of a digest is not asked again (it runs, or the reconciler refused it).
const STARTED_FRESH: Duration = Duration::from_secs(600);

/// How long the watcher trusts its reading of whether an UPDATE_AVAILABLE rule exists.
const RULES_FRESH: Duration = Duration::from_secs(5);

/// The first background check of unlisted images runs this soon after start-up.
const UNLISTED_FIRST: Duration = Duration::from_secs(5);

/// Starts the watcher; images of registries Berth does not list are checked by manifest HEAD every
/// `unlisted_every` (`BERTH_UPDATE_CHECK_SECS`, default 3600 s).
pub fn spawn(
    registries: RegistryService,
    containers: ContainerService,
    inventory: InventoryService,
    alerts: AlertService,
    bus: crate::bus::Bus,
    unlisted_every: Duration,
) -> JoinHandle<()> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        let (changed_tx, mut changed_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
        let checker = {
            let registries = registries.clone();
            let containers = containers.clone();
            tokio::spawn(async move {
                tokio::time::sleep(UNLISTED_FIRST).await;
                let every = unlisted_every;
                loop {
                    let started = Instant::now();
                    let checked = async {
                        // The definitions' images, then those of other containers on the hosts.
                        let mut images = containers.distinct_images().await?;
                        images.extend(inventory.unmanaged_images().await?);
                        let mut seen = std::collections::HashSet::new();
                        images.retain(|i| seen.insert(i.clone()));
                        registries.check_unlisted(&images).await
                    }
                    .await;
                    match checked {
                        Ok(changed) if !changed.is_empty() => {
                            if changed_tx.send(changed).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "checking images of unlisted registries failed")
                        }
                    }
                    tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
                }
            })
        };
        let _checker = AbortOnDrop(checker);
        let mut watcher = Watcher {
            registries,
            containers,
            alerts,
            rules: None,
            started: HashMap::new(),
        };
        let mut windows = tokio::time::interval(WINDOW_CHECK);
        windows.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                _ = windows.tick() => {
                    if let Err(e) = watcher.windows_open().await {
                        tracing::warn!(error = %e, "rolling out images waiting for their window failed");
                    }
                    continue;
                }
                changed = changed_rx.recv() => {
                    if let Some(images) = changed
                        && let Err(e) = watcher.unlisted_changed(&images).await
                    {
                        tracing::warn!(error = %e, "judging image updates failed");
                    }
                    continue;
                }
                event = events.recv() => event,
            };
            let event = match event {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "the image update watcher fell behind the event bus"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let outcome = match event.as_ref() {
                Event::RegistryTags {
                    registry_id,
                    repositories,
                } => watcher.tags_changed(registry_id, repositories).await,
                Event::ContainerStatus {
                    container_id,
                    status,
                    ..
                } if *status == berth_shared::InstanceStatus::Running => {
                    watcher.replica_running(container_id).await
                }
                Event::ContainerChanged {
                    container_id,
                    message: Some(m),
                    ..
                } if m == containers::EDITED => watcher.edited(container_id).await,
                _ => continue,
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "judging image updates failed");
            }
        }
    })
}

/// Stops the background check with the watcher.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Watcher {
    registries: RegistryService,
    containers: ContainerService,
    alerts: AlertService,
    /// Whether an enabled UPDATE_AVAILABLE rule exists, and when that was read.
    rules: Option<(bool, Instant)>,
    /// Automatic rollouts asked for: container id → (digest, when).
    started: HashMap<String, (String, Instant)>,
}

impl Watcher {
    /// Whether an enabled UPDATE_AVAILABLE rule exists; read again when `fresh` (rare events) or when the last
    /// reading is older than [`RULES_FRESH`] (every replica start asks).
    async fn alerting(&mut self, fresh: bool) -> Result<bool, ServiceError> {
        if !fresh
            && let Some((any, at)) = self.rules
            && at.elapsed() < RULES_FRESH
        {
            return Ok(any);
        }
        let any = self
            .alerts
            .rules()
            .await?
            .iter()
            .any(|r| r.enabled && r.condition == AlertCondition::UpdateAvailable);
        self.rules = Some((any, Instant::now()));
        Ok(any)
    }

    async fn tags_changed(
        &mut self,
        registry_id: &str,
        repositories: &[String],
    ) -> Result<(), ServiceError> {
        let mut names = Vec::new();
        for repository in repositories {
            names.extend(
                self.registries
                    .repository_names(registry_id, repository)
                    .await?,
            );
        }
        let definitions = self.containers.with_repository(&names).await?;
        self.definitions_changed(definitions).await
    }

    /// The background check found a new digest for these images of registries Berth does not list.
    async fn unlisted_changed(&mut self, images: &[String]) -> Result<(), ServiceError> {
        let mut names = Vec::new();
        for image in images {
            if let Ok(r) = berth_shared::ImageRef::parse(image) {
                names.push(r.repository());
                if r.is_docker_hub() {
                    names.push(r.path().to_owned());
                    names.push(r.familiar_name());
                }
            }
        }
        names.sort_unstable();
        names.dedup();
        let definitions = self
            .containers
            .with_repository(&names)
            .await?
            .into_iter()
            .filter(|(_, _, image)| images.contains(image))
            .collect();
        self.definitions_changed(definitions).await
    }

    /// Tells subscribers, rolls out AUTO definitions and judges alerts for definitions whose image's current
    /// digest may have changed: (id, name, image).
    async fn definitions_changed(
        &mut self,
        definitions: Vec<(String, String, String)>,
    ) -> Result<(), ServiceError> {
        let alerting = self.alerting(true).await?;
        let mut findings = Vec::new();
        for (id, name, image) in definitions {
            self.containers
                .announce_changed(&id, format!("the registry's {image} changed"));
            let Some(c) = self.containers.get(&id).await? else {
                continue;
            };
            if c.update_policy == UpdatePolicy::Auto {
                self.roll_out_if_new(&c).await?;
            }
            if alerting {
                findings.push(self.judge(&id, &name, &image, c.update_policy).await?);
            }
        }
        self.alerts.apply(findings).await
    }

    /// Every minute: AUTO definitions whose window is open roll out an image that waited for it.
    async fn windows_open(&mut self) -> Result<(), ServiceError> {
        self.started
            .retain(|_, (_, at)| at.elapsed() < STARTED_FRESH);
        let now = minute_of_day(chrono::Utc::now());
        for id in self.containers.auto_with_window().await? {
            let Some(c) = self.containers.get(&id).await? else {
                continue;
            };
            if c.update_window.is_some_and(|w| w.contains(now)) {
                self.roll_out_if_new(&c).await?;
            }
        }
        Ok(())
    }

    /// An edited AUTO definition (its window or policy may have changed) rolls out an image that waited.
    async fn edited(&mut self, container_id: &str) -> Result<(), ServiceError> {
        let Some(c) = self.containers.get(container_id).await? else {
            return Ok(());
        };
        if c.update_policy == UpdatePolicy::Auto {
            self.roll_out_if_new(&c).await?;
        }
        Ok(())
    }

    async fn replica_running(&mut self, container_id: &str) -> Result<(), ServiceError> {
        if !self.alerting(false).await? {
            return Ok(());
        }
        let Some(c) = self.containers.get(container_id).await? else {
            return Ok(());
        };
        let finding = self
            .judge(&c.id, &c.name, &c.image, c.update_policy)
            .await?;
        self.alerts.apply(vec![finding]).await
    }

    /// AUTO: a running definition whose replicas run another digest than the registry's current one for the tag
    /// is redeployed (in the background; the reconciler refuses it while another rollout runs), inside its daily
    /// window if it has one. A digest whose rollout already ended rolled back or failed is not tried again by
    /// itself, nor one asked for in the last ten minutes.
    async fn roll_out_if_new(&mut self, c: &containers::Container) -> Result<(), ServiceError> {
        if let Some(w) = c.update_window
            && !w.contains(minute_of_day(chrono::Utc::now()))
        {
            tracing::debug!(container = %c.name, window = %w, "an automatic rollout waits for its window");
            return Ok(());
        }
        let Some(latest) = self
            .registries
            .latest_digests(std::slice::from_ref(&c.image))
            .await?
            .remove(&c.image)
        else {
            return Ok(());
        };
        let instances = self.containers.instances(&c.id).await?;
        if !containers::update_available(&latest, &instances) {
            return Ok(());
        }
        if let Some(r) = &c.rollout
            && matches!(r.state, RolloutState::RolledBack | RolloutState::Failed)
            && let Some(bad) = self.containers.revision(&c.id, r.to_revision).await?
            && bad.image_digest.as_deref() == Some(latest.as_str())
        {
            tracing::info!(container = %c.name, digest = %latest, "not rolling out again a digest that was rolled back");
            return Ok(());
        }
        if self
            .started
            .get(&c.id)
            .is_some_and(|(d, at)| *d == latest && at.elapsed() < STARTED_FRESH)
        {
            return Ok(());
        }
        self.started
            .insert(c.id.clone(), (latest.clone(), Instant::now()));
        tracing::info!(container = %c.name, digest = %latest, "update policy AUTO: rolling out the new image");
        let containers = self.containers.clone();
        let id = c.id.clone();
        let name = c.name.clone();
        tokio::spawn(async move {
            if let Err(e) = containers
                .redeploy(&crate::service::authz::system(), &id, true)
                .await
            {
                tracing::warn!(container = %name, error = %e, "an automatic rollout did not start");
            }
        });
        Ok(())
    }

    /// Whether the definition's replicas run the registry's current image of its tag.
    /// A definition whose policy is OFF never has one.
    async fn judge(
        &self,
        id: &str,
        name: &str,
        image: &str,
        policy: UpdatePolicy,
    ) -> Result<Finding, ServiceError> {
        let latest = self
            .registries
            .latest_digests(&[image.to_owned()])
            .await?
            .remove(image);
        let instances = self.containers.instances(id).await?;
        let available = policy != UpdatePolicy::Off
            && latest
                .as_deref()
                .is_some_and(|l| containers::update_available(l, &instances));
        Ok(detect::on_update(
            id,
            name,
            image,
            latest.as_deref(),
            available,
        ))
    }
}

/// Minutes after midnight UTC of `at`.
fn minute_of_day(at: chrono::DateTime<chrono::Utc>) -> u16 {
    use chrono::Timelike;
    u16::try_from(at.hour() * 60 + at.minute()).unwrap_or(0)
}
