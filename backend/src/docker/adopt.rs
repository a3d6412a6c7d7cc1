//! What an engine says about one container and its image, for adopting it as a definition: the settings a
//! definition can hold (image, command, env, ports, limits, restart policy, mounts) and every other setting
//! that differs from Docker's own default, as plain values. Docker's defaults (the hostname it makes up, the
//! daemon's log driver and runtime, a 64 MiB /dev/shm) are recognised here; deciding what a definition can keep
//! is the service's business.

use super::{DockerError, Engine, timed};
use bollard::models::{HealthConfig, HostConfig, MountPoint};
use std::collections::{BTreeMap, BTreeSet};

/// Docker's default size of /dev/shm.
const DEFAULT_SHM_BYTES: i64 = 64 * 1024 * 1024;

/// A container's health check (or its image's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]` (switched off).
    pub test: Vec<String>,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub retries: i64,
    pub start_period_ns: i64,
}

/// What the image itself sets; a container inherits all of it unless told otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageDefaults {
    /// The image's own names (`repo:tag`).
    pub tags: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub user: String,
    pub working_dir: String,
    pub healthcheck: Option<Healthcheck>,
    pub stop_signal: Option<String>,
    /// `80/tcp`.
    pub exposed_ports: BTreeSet<String>,
}

/// One published port binding (`HostConfig.PortBindings`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundPort {
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// `None` for every address (`0.0.0.0`, `::` or empty).
    pub host_ip: Option<String>,
    /// `None` lets Docker choose.
    pub host_port: Option<u16>,
}

/// What is mounted at a container path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoundMountKind {
    /// A host directory or file.
    Bind {
        source: String,
    },
    /// A volume the user named (`-v name:/path`, `--mount source=name`).
    NamedVolume {
        name: String,
    },
    /// A volume Docker made up a name for (`-v /path`, the image's `VOLUME`).
    AnonymousVolume {
        name: String,
    },
    Tmpfs,
    /// Anything else (`image`, `npipe`, `cluster`), by Docker's word.
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundMount {
    pub kind: FoundMountKind,
    pub destination: String,
    pub read_only: bool,
    /// Bind propagation other than Docker's default (`rprivate`).
    pub propagation: Option<String>,
    /// SELinux relabelling of a bind (`z` or `Z`).
    pub relabel: Option<String>,
}

/// One setting a definition has no field for, with the `docker run` option that sets it and its value here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherSetting {
    pub option: &'static str,
    pub value: String,
}

/// One container as adoption sees it. Lists are in a stable order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerConfig {
    pub docker_id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `Config.Image`: the image as written when the container was created.
    pub image: String,
    /// The image's id (`sha256:…`).
    pub image_id: String,
    /// Docker's state word (running, exited, …).
    pub state: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `NAME=value`, image entries included (Docker merges them in).
    pub env: Vec<String>,
    /// Image labels included.
    pub labels: BTreeMap<String, String>,
    pub user: String,
    pub working_dir: String,
    /// Set by the user (Docker's default is the first 12 characters of the id).
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    pub stop_signal: Option<String>,
    pub exposed_ports: BTreeSet<String>,
    pub ports: Vec<FoundPort>,
    /// `-P`: every exposed port on a random host port.
    pub publish_all_ports: bool,
    /// Bytes; 0 = no limit.
    pub memory_bytes: i64,
    /// Billionths of a CPU; 0 = no limit.
    pub nano_cpus: i64,
    /// 0 = Docker's default weight.
    pub cpu_shares: i64,
    /// Docker's word: no, on-failure, always, unless-stopped.
    pub restart_policy: String,
    pub restart_max_retries: i64,
    pub mounts: Vec<FoundMount>,
    /// `--tmpfs` paths with their options.
    pub tmpfs: Vec<String>,
    /// `bridge`, `default`, `host`, `none`, `container:<id>` or a network's name.
    pub network_mode: String,
    /// Networks joined besides the one of the network mode.
    pub extra_networks: Vec<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `host path:container path:permissions`; `--gpus` requests as `gpus`.
    pub devices: Vec<String>,
    pub extra_hosts: Vec<String>,
    /// Servers, options and search domains.
    pub dns: Vec<String>,
    /// The log driver when it is not the daemon's default, or has options.
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    /// Settings without a field in a definition, each differing from Docker's default.
    pub other: Vec<OtherSetting>,
    /// The image's own settings.
    pub image_defaults: ImageDefaults,
}

fn healthcheck(h: Option<HealthConfig>) -> Option<Healthcheck> {
    let h = h?;
    let test = h.test.unwrap_or_default();
    if test.is_empty() {
        return None;
    }
    Some(Healthcheck {
        test,
        interval_ns: h.interval.unwrap_or(0),
        timeout_ns: h.timeout.unwrap_or(0),
        retries: h.retries.unwrap_or(0),
        start_period_ns: h.start_period.unwrap_or(0),
    })
}

fn nonempty(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.filter(|l| !l.is_empty())
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// The published ports of `PortBindings` (`"8080/tcp": [{HostIp, HostPort}]`), sorted.
fn ports_of(hc: &HostConfig) -> Vec<FoundPort> {
    let mut out = Vec::new();
    for (key, bindings) in hc.port_bindings.clone().unwrap_or_default() {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let host_ip = b
                .host_ip
                .filter(|ip| !ip.is_empty() && ip != "0.0.0.0" && ip != "::");
            let host_port = b
                .host_port
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p != 0);
            out.push(FoundPort {
                container_port,
                protocol: protocol.to_lowercase(),
                host_ip,
                host_port,
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The mounts as the engine resolved them; a volume counts as named when the user gave its name (in `Binds` or
/// `Mounts`), else as anonymous.
fn mounts_of(points: Vec<MountPoint>, hc: &HostConfig) -> Vec<FoundMount> {
    let mut named: BTreeSet<String> = BTreeSet::new();
    for bind in hc.binds.iter().flatten() {
        if let Some((source, _)) = bind.split_once(':')
            && !source.starts_with('/')
        {
            named.insert(source.to_owned());
        }
    }
    for m in hc.mounts.iter().flatten() {
        if let Some(source) = m.source.as_ref().filter(|s| !s.is_empty()) {
            named.insert(source.clone());
        }
    }
    let mut out: Vec<FoundMount> = points
        .into_iter()
        .map(|p| {
            let kind = match p.typ.as_deref().unwrap_or_default() {
                "bind" => FoundMountKind::Bind {
                    source: p.source.clone().unwrap_or_default(),
                },
                "volume" => {
                    let name = p.name.clone().unwrap_or_default();
                    if named.contains(&name) {
                        FoundMountKind::NamedVolume { name }
                    } else {
                        FoundMountKind::AnonymousVolume { name }
                    }
                }
                "tmpfs" => FoundMountKind::Tmpfs,
                other => FoundMountKind::Other(other.to_owned()),
            };
            let is_bind = matches!(kind, FoundMountKind::Bind { .. });
            let mode = p.mode.unwrap_or_default();
            FoundMount {
                kind,
                destination: p.destination.unwrap_or_default(),
                read_only: !p.rw.unwrap_or(true),
                propagation: p
                    .propagation
                    .filter(|x| is_bind && !x.is_empty() && x != "rprivate"),
                relabel: mode
                    .split(',')
                    .find(|m| *m == "z" || *m == "Z")
                    .map(str::to_owned),
            }
        })
        .collect();
    out.sort_by(|a, b| a.destination.cmp(&b.destination));
    out
}

/// Every setting without a definition field whose value is not Docker's default.
fn other_settings(hc: &HostConfig, tty: bool, open_stdin: bool) -> Vec<OtherSetting> {
    let mut out = Vec::new();
    let mut push = |option: &'static str, value: String| out.push(OtherSetting { option, value });
    let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let positive = |v: Option<i64>| v.filter(|n| *n > 0);
    if tty {
        push("--tty", "true".into());
    }
    if open_stdin {
        push("--interactive", "true".into());
    }
    if hc.auto_remove == Some(true) {
        push("--rm", "true".into());
    }
    if hc.init == Some(true) {
        push("--init", "true".into());
    }
    if hc.readonly_rootfs == Some(true) {
        push("--read-only", "true".into());
    }
    if hc.oom_kill_disable == Some(true) {
        push("--oom-kill-disable", "true".into());
    }
    if let Some(v) = hc.oom_score_adj.filter(|n| *n != 0) {
        push("--oom-score-adj", v.to_string());
    }
    if let Some(v) = positive(hc.memory_reservation) {
        push("--memory-reservation", v.to_string());
    }
    let memory = hc.memory.unwrap_or(0);
    // Docker's default swap limit is twice the memory limit (0 and -1 as the engine reports it unset).
    if let Some(v) = hc
        .memory_swap
        .filter(|s| memory > 0 && *s != 0 && *s != 2 * memory)
    {
        push("--memory-swap", v.to_string());
    }
    if let Some(v) = hc.memory_swappiness.filter(|n| *n >= 0) {
        push("--memory-swappiness", v.to_string());
    }
    if let Some(v) = positive(hc.cpu_quota) {
        push("--cpu-quota", v.to_string());
    }
    if let Some(v) = positive(hc.cpu_period) {
        push("--cpu-period", v.to_string());
    }
    if let Some(v) = text(&hc.cpuset_cpus) {
        push("--cpuset-cpus", v);
    }
    if let Some(v) = text(&hc.cpuset_mems) {
        push("--cpuset-mems", v);
    }
    if let Some(v) = hc.blkio_weight.filter(|w| *w > 0) {
        push("--blkio-weight", v.to_string());
    }
    if let Some(v) = positive(hc.pids_limit) {
        push("--pids-limit", v.to_string());
    }
    if let Some(v) = hc.shm_size.filter(|s| *s > 0 && *s != DEFAULT_SHM_BYTES) {
        push("--shm-size", v.to_string());
    }
    for u in hc.ulimits.iter().flatten() {
        push(
            "--ulimit",
            format!(
                "{}={}:{}",
                u.name.clone().unwrap_or_default(),
                u.soft.unwrap_or(0),
                u.hard.unwrap_or(0)
            ),
        );
    }
    // `--privileged` brings `label=disable` with it.
    let privileged = hc.privileged == Some(true);
    for s in sorted(hc.security_opt.clone().unwrap_or_default()) {
        if !(privileged && matches!(s.as_str(), "label=disable" | "label:disable")) {
            push("--security-opt", s);
        }
    }
    let sysctls: BTreeMap<String, String> =
        hc.sysctls.clone().unwrap_or_default().into_iter().collect();
    for (k, v) in sysctls {
        push("--sysctl", format!("{k}={v}"));
    }
    for g in sorted(hc.group_add.clone().unwrap_or_default()) {
        push("--group-add", g);
    }
    if let Some(v) = text(&hc.pid_mode) {
        push("--pid", v);
    }
    if let Some(v) = text(&hc.ipc_mode).filter(|m| m != "private" && m != "shareable") {
        push("--ipc", v);
    }
    if let Some(v) = text(&hc.uts_mode) {
        push("--uts", v);
    }
    if let Some(v) = text(&hc.userns_mode) {
        push("--userns", v);
    }
    if let Some(v) = text(&hc.cgroup_parent) {
        push("--cgroup-parent", v);
    }
    for l in sorted(hc.links.clone().unwrap_or_default()) {
        push("--link", l);
    }
    for v in sorted(hc.volumes_from.clone().unwrap_or_default()) {
        push("--volumes-from", v);
    }
    if let Some(v) = text(&hc.volume_driver) {
        push("--volume-driver", v);
    }
    for (k, v) in hc
        .storage_opt
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    {
        push("--storage-opt", format!("{k}={v}"));
    }
    for (k, v) in hc
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    {
        push("--annotation", format!("{k}={v}"));
    }
    out
}

impl Engine {
    /// Inspects a container, its image and the daemon's defaults (three calls, each with the usual timeout).
    pub async fn adoption_config(&self, docker_id: &str) -> Result<ContainerConfig, DockerError> {
        let c = timed(self.docker.inspect_container(docker_id, None)).await?;
        let config = c.config.clone().unwrap_or_default();
        let hc = c.host_config.clone().unwrap_or_default();
        let image_id = c.image.clone().unwrap_or_default();
        let image = match timed(self.docker.inspect_image(&image_id)).await {
            Ok(i) => Some(i),
            // The image was removed after the container was created: nothing is inherited we could compare.
            Err(DockerError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let info = timed(self.docker.info()).await?;

        let image_defaults = match image {
            Some(i) => {
                let ic = i.config.unwrap_or_default();
                ImageDefaults {
                    tags: i
                        .repo_tags
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|t| t != "<none>:<none>")
                        .collect(),
                    cmd: nonempty(ic.cmd),
                    entrypoint: nonempty(ic.entrypoint),
                    env: ic.env.unwrap_or_default(),
                    labels: ic.labels.unwrap_or_default().into_iter().collect(),
                    user: ic.user.unwrap_or_default(),
                    working_dir: ic.working_dir.unwrap_or_default(),
                    healthcheck: healthcheck(ic.healthcheck),
                    stop_signal: ic.stop_signal.filter(|s| !s.is_empty()),
                    exposed_ports: ic.exposed_ports.unwrap_or_default().into_iter().collect(),
                }
            }
            None => ImageDefaults::default(),
        };
        let id = c.id.clone().unwrap_or_else(|| docker_id.to_owned());
        let default_hostname: String = id.chars().take(12).collect();
        let network_mode = hc
            .network_mode
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "default".into());
        let own_network = if network_mode == "default" {
            "bridge".to_owned()
        } else {
            network_mode.clone()
        };
        let extra_networks = sorted(
            c.network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .map(|n| {
                    n.keys()
                        .filter(|k| **k != own_network)
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
        let mut devices: Vec<String> = hc
            .devices
            .iter()
            .flatten()
            .map(|d| {
                format!(
                    "{}:{}:{}",
                    d.path_on_host.clone().unwrap_or_default(),
                    d.path_in_container.clone().unwrap_or_default(),
                    d.cgroup_permissions.clone().unwrap_or_default()
                )
            })
            .collect();
        if hc.device_requests.as_ref().is_some_and(|r| !r.is_empty()) {
            devices.push("gpus".into());
        }
        let mut dns = hc.dns.clone().unwrap_or_default();
        dns.extend(
            hc.dns_options
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|o| format!("option {o}")),
        );
        dns.extend(
            hc.dns_search
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|s| format!("search {s}")),
        );
        let log = hc.log_config.clone().unwrap_or_default();
        let log_type = log.typ.clone().unwrap_or_default();
        let log_options: BTreeMap<String, String> =
            log.config.unwrap_or_default().into_iter().collect();
        let daemon_log = info.logging_driver.clone().unwrap_or_default();
        let log_driver = (!log_type.is_empty()
            && (log_type != daemon_log || !log_options.is_empty()))
        .then_some(log_type);
        let mut other = other_settings(
            &hc,
            config.tty.unwrap_or(false),
            config.open_stdin.unwrap_or(false),
        );
        if let Some(runtime) = hc
            .runtime
            .clone()
            .filter(|r| !r.is_empty() && Some(r) != info.default_runtime.as_ref() && r != "runc")
        {
            other.push(OtherSetting {
                option: "--runtime",
                value: runtime,
            });
        }
        if let Some(t) = config.stop_timeout {
            other.push(OtherSetting {
                option: "--stop-timeout",
                value: t.to_string(),
            });
        }
        let exposed_ports: BTreeSet<String> = config
            .exposed_ports
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let tmpfs: BTreeMap<String, String> =
            hc.tmpfs.clone().unwrap_or_default().into_iter().collect();
        let restart = hc.restart_policy.clone().unwrap_or_default();
        Ok(ContainerConfig {
            docker_id: id,
            name: c
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: config.image.clone().unwrap_or_default(),
            image_id,
            state: c
                .state
                .as_ref()
                .and_then(|s| s.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            cmd: nonempty(config.cmd.clone()),
            entrypoint: nonempty(config.entrypoint.clone()),
            env: config.env.clone().unwrap_or_default(),
            labels: config
                .labels
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            user: config.user.clone().unwrap_or_default(),
            working_dir: config.working_dir.clone().unwrap_or_default(),
            hostname: config
                .hostname
                .clone()
                .filter(|h| !h.is_empty() && *h != default_hostname && network_mode != "host"),
            domainname: config.domainname.clone().filter(|d| !d.is_empty()),
            healthcheck: healthcheck(config.healthcheck.clone()),
            stop_signal: config.stop_signal.clone().filter(|s| !s.is_empty()),
            exposed_ports,
            ports: ports_of(&hc),
            publish_all_ports: hc.publish_all_ports.unwrap_or(false),
            memory_bytes: hc.memory.unwrap_or(0),
            nano_cpus: hc.nano_cpus.unwrap_or(0),
            cpu_shares: hc.cpu_shares.unwrap_or(0),
            restart_policy: restart
                .name
                .map(|n| n.to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "no".into()),
            restart_max_retries: restart.maximum_retry_count.unwrap_or(0),
            mounts: mounts_of(c.mounts.clone().unwrap_or_default(), &hc),
            tmpfs: tmpfs
                .into_iter()
                .map(|(path, opts)| {
                    if opts.is_empty() {
                        path
                    } else {
                        format!("{path}:{opts}")
                    }
                })
                .collect(),
            network_mode,
            extra_networks,
            privileged: hc.privileged.unwrap_or(false),
            cap_add: sorted(hc.cap_add.clone().unwrap_or_default()),
            cap_drop: sorted(hc.cap_drop.clone().unwrap_or_default()),
            devices,
            extra_hosts: hc.extra_hosts.clone().unwrap_or_default(),
            dns,
            log_driver,
            log_options,
            other,
            image_defaults,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortBinding;
    use std::collections::HashMap;

    #[test]
    fn port_bindings_and_volume_names() {
        let hc = HostConfig {
            port_bindings: Some(HashMap::from([
                (
                    "8080/tcp".to_owned(),
                    Some(vec![
                        PortBinding {
                            host_ip: Some(String::new()),
                            host_port: Some("18941".into()),
                        },
                        PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some("9000".into()),
                        },
                    ]),
                ),
                ("53/udp".to_owned(), Some(vec![PortBinding::default()])),
            ])),
            binds: Some(vec![
                "pgdata:/var/lib/postgresql".into(),
                "/srv/x:/x:ro".into(),
            ]),
            ..Default::default()
        };
        let ports = ports_of(&hc);
        assert_eq!(ports.len(), 3);
        assert_eq!(
            ports[0],
            FoundPort {
                container_port: 53,
                protocol: "udp".into(),
                host_ip: None,
                host_port: None
            }
        );
        assert!(
            ports
                .iter()
                .any(|p| p.host_ip.as_deref() == Some("127.0.0.1"))
        );
        let mounts = mounts_of(
            vec![
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("pgdata".into()),
                    destination: Some("/var/lib/postgresql".into()),
                    rw: Some(true),
                    ..Default::default()
                },
                MountPoint {
                    typ: Some("volume".into()),
                    name: Some("f".repeat(64)),
                    destination: Some("/cache".into()),
                    rw: Some(true),
                    ..Default::default()
                },
                MountPoint {
                    typ: Some("bind".into()),
                    source: Some("/srv/x".into()),
                    destination: Some("/x".into()),
                    rw: Some(false),
                    propagation: Some("rprivate".into()),
                    ..Default::default()
                },
            ],
            &hc,
        );
        assert!(matches!(
            mounts[0].kind,
            FoundMountKind::AnonymousVolume { .. }
        ));
        assert!(matches!(mounts[1].kind, FoundMountKind::NamedVolume { .. }));
        assert_eq!(
            mounts[2],
            FoundMount {
                kind: FoundMountKind::Bind {
                    source: "/srv/x".into()
                },
                destination: "/x".into(),
                read_only: true,
                propagation: None,
                relabel: None,
            }
        );
    }

    #[test]
    fn defaults_are_not_settings() {
        let hc = HostConfig {
            shm_size: Some(DEFAULT_SHM_BYTES),
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            memory_swappiness: Some(-1),
            ipc_mode: Some("private".into()),
            ..Default::default()
        };
        assert!(other_settings(&hc, false, false).is_empty());
        let hc = HostConfig {
            pid_mode: Some("host".into()),
            shm_size: Some(1 << 30),
            ..Default::default()
        };
        let options: Vec<&str> = other_settings(&hc, true, false)
            .iter()
            .map(|o| o.option)
            .collect();
        assert_eq!(options, vec!["--tty", "--shm-size", "--pid"]);
        let privileged = HostConfig {
            privileged: Some(true),
            security_opt: Some(vec!["label=disable".into()]),
            ..Default::default()
        };
        assert!(other_settings(&privileged, false, false).is_empty());
    }
}
