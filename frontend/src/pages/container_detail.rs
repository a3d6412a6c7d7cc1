//! Container detail (`/containers/:id`): name, live status, image and hosts with the actions; the definition
//! (with its replicas and mounts); the instances grouped by host (a heading per host, then replica, Docker id,
//! status with the attempt and time of a pending replacement, started/finished, exit code, error) with the scale
//! control; and the live log of the selected instance. A running instance's Terminal button opens a shell in it.

use std::cmp::Ordering;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{self, Container, ContainerInstance, Host, HostRef, Live},
    components::{
        args::join_args,
        container_actions::{ChangedMarker, ContainerActions, ContainerModals, Modals},
        container_info::{HostLinks, PortLinks, limits_text, short_image},
        container_logs::ContainerLogs,
        container_revisions::Revisions,
        container_scale::ScaleControl,
        container_stats::ContainerStats,
        container_status::{ContainerStatusBadge, HealthBadge},
        empty_state::EmptyState,
        format::{short_digest, short_image_id, truncate},
        host_status::HostStatusBadge,
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{ItemPhase, ItemState, Latest, LoadFailed, LoadingCard},
        page_header::BackLink,
        table_tools::ActionsHeader,
        terminal::{TerminalDialog, TerminalTarget},
        time::{Countdown, Timestamp, clock},
        update_marker::UpdateMarker,
    },
};

/// How much of an instance's error the table shows (the whole text is in the tooltip).
const ERROR_PREVIEW: usize = 80;
/// Columns of the instances table (for placeholder rows).
const INSTANCE_COLUMNS: &str = "9";

/// The `/containers/:id` page; a new id renders a fresh page.
#[component]
pub fn ContainerDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).unwrap_or_default());
    move || view! { <ContainerDetail id=id.get() /> }
}

/// The instance whose log is shown: the one picked, else a running one, else the first with a Docker container,
/// else the first.
fn shown_instance(container: &Container, picked: Option<&str>) -> Option<ContainerInstance> {
    let instances = &container.instances;
    picked
        .and_then(|id| instances.iter().find(|i| i.id == id))
        .or_else(|| {
            instances
                .iter()
                .find(|i| i.status == api::InstanceStatus::Running)
        })
        .or_else(|| instances.iter().find(|i| i.docker_id.is_some()))
        .or_else(|| instances.first())
        .cloned()
}

/// "Replica 1 on h1".
fn instance_title(instance: &ContainerInstance) -> String {
    match &instance.host {
        Some(host) => format!("replica {} on {}", instance.replica, host.name),
        None => format!("replica {}", instance.replica),
    }
}

/// The hosts a container's instances are on, by name; `None` (instances not placed yet) last.
fn instance_hosts(container: &Container) -> Vec<Option<HostRef>> {
    let mut hosts: Vec<Option<HostRef>> = container
        .instances
        .iter()
        .map(|instance| instance.host.clone())
        .collect();
    hosts.sort_by(|a, b| match (a, b) {
        (Some(a), Some(b)) => a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    hosts.dedup();
    hosts
}

/// The instances on `host` (on none with `None`), by replica.
fn instances_on(container: &Container, host: Option<&HostRef>) -> Vec<ContainerInstance> {
    let host_id = host.map(|h| h.id.as_str());
    let mut list: Vec<ContainerInstance> = container
        .instances
        .iter()
        .filter(|instance| instance.host.as_ref().map(|h| h.id.as_str()) == host_id)
        .cloned()
        .collect();
    list.sort_by(|a, b| a.replica.cmp(&b.replica).then_with(|| a.id.cmp(&b.id)));
    list
}

/// "2 instances · 1 running".
fn group_summary(instances: &[ContainerInstance]) -> String {
    let running = instances
        .iter()
        .filter(|i| i.status == api::InstanceStatus::Running)
        .count();
    let noun = if instances.len() == 1 {
        "instance"
    } else {
        "instances"
    };
    format!("{} {noun} · {running} running", instances.len())
}

/// "Pinned to h1", "On h1, where disk data lives", "Any host".
fn placement_text(container: &Container) -> String {
    if let Some(host) = &container.host {
        return format!("Pinned to {}", host.name);
    }
    let bound = container.mounts.iter().find_map(|mount| {
        mount
            .disk
            .host
            .as_ref()
            .map(|host| (host, &mount.disk.name))
    });
    match bound {
        Some((host, disk)) => format!("On {}, where disk {disk} lives", host.name),
        None => "Any host".to_owned(),
    }
}

/// A command or entrypoint as the form shows it.
fn args_text(args: &Option<Vec<String>>) -> Option<String> {
    args.as_deref().map(join_args)
}

/// One container's page.
#[component]
fn ContainerDetail(id: String) -> impl IntoView {
    let container_id = StoredValue::new(id.clone());
    let state = RwSignal::new(ItemState::<Container>::Loading);
    let hosts = RwSignal::new(Vec::<Host>::new());
    let live = RwSignal::new(LiveState::Connecting);
    let modals = Modals::new();
    let navigate = use_navigate();

    let latest = Latest::new();
    let load = move || {
        let id = container_id.get_value();
        latest.run(
            async move { api::containers::container(&id).await },
            move |result| state.update(|state| state.settle(result)),
        )
    };
    load();
    let latest_hosts = Latest::new();
    let load_hosts = move || {
        latest_hosts.run(api::hosts(), move |result| {
            if let Ok(list) = result {
                hosts.set(list);
            }
        })
    };
    load_hosts();

    let put = move |container: Container| {
        state.set(ItemState::Found(container));
        load();
    };
    api::containers::watch_container_status(Some(&id), move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => put(change.container),
            Live::Connected { reconnect: true } => load(),
            _ => {}
        }
    });
    let on_changed = Callback::new(put);
    let on_deleted = Callback::new(move |_: Container| {
        navigate("/containers", Default::default());
    });

    let phase = Memo::new(move |_| state.with(ItemState::phase));
    let retry = Callback::new(move |()| {
        state.set(ItemState::Loading);
        load();
    });

    let page = move || match phase.get() {
        ItemPhase::Loading => view! { <LoadingCard text="Loading the container…" /> }.into_any(),
        ItemPhase::Missing => view! {
            <div class="card">
                <EmptyState icon=IconKind::Containers title="Container not found">
                    <p>"There is no container with this id. It may have been deleted."</p>
                    <div class="empty-state-actions">
                        <a class="btn btn-secondary" href="/containers">
                            "Go to Containers"
                        </a>
                    </div>
                </EmptyState>
            </div>
        }
        .into_any(),
        ItemPhase::Failed(error) => {
            view! { <LoadFailed what="The container" error=error on_retry=retry /> }.into_any()
        }
        ItemPhase::Found => {
            let Some(initial) = state.with_untracked(|state| state.found().cloned()) else {
                return ().into_any();
            };
            let container = Memo::new(move |previous: Option<&Container>| {
                state
                    .with(|state| state.found().cloned())
                    .or_else(|| previous.cloned())
                    .unwrap_or_else(|| initial.clone())
            });
            let container: Signal<Container> = container.into();
            let host_list = Signal::from(hosts);
            view! {
                <header class="page-header container-header">
                    <div class="page-header-text">
                        <div class="host-title">
                            <h1 id="container-title">{move || container.with(|c| c.name.clone())}</h1>
                            <ContainerStatusBadge
                                status=Signal::derive(move || container.with(|c| c.status))
                                class="container-status"
                            />
                            <ChangedMarker container=container on_changed=on_changed />
                            <UpdateMarker container=container />
                        </div>
                        <p class="page-description host-meta">
                            <span class="mono" title=move || container.with(|c| c.image.clone())>
                                {move || container.with(|c| short_image(&c.image))}
                            </span>
                            <span class="meta-sep" aria-hidden="true">
                                "·"
                            </span>
                            <span class="container-hosts">
                                <HostLinks container=container />
                            </span>
                        </p>
                    </div>
                    <div class="page-actions">
                        <LiveIndicator state=live />
                        <ContainerActions
                            container=container
                            hosts=host_list
                            modals=modals
                            on_changed=on_changed
                            labelled=true
                        />
                    </div>
                </header>
                <Definition container=container />
                <Instances container=container hosts=host_list on_changed=on_changed />
                <Revisions container=container on_changed=on_changed />
                <ContainerModals modals=modals hosts=host_list on_saved=on_changed on_deleted=on_deleted />
            }
            .into_any()
        }
    };

    view! {
        <BackLink href="/containers" label="All containers" />
        {page}
    }
}

/// `#container-definition`: what the container runs, as saved.
#[component]
fn Definition(container: Signal<Container>) -> impl IntoView {
    let item = |key: &'static str, label: &'static str, value: AnyView| {
        view! {
            <div class="cap" data-def=key>
                <dt>{label}</dt>
                <dd>{value}</dd>
            </div>
        }
    };
    let text = move |pick: fn(&Container) -> Option<String>| {
        move || match container.with(pick) {
            Some(text) => {
                let title = text.clone();
                view! {
                    <span class="mono" title=title>
                        {text}
                    </span>
                }
                .into_any()
            }
            None => view! { <span class="muted">"—"</span> }.into_any(),
        }
    };
    view! {
        <section id="container-definition" class="card cap-panel" aria-labelledby="container-definition-title">
            <div class="cap-head">
                <h2 id="container-definition-title" class="card-title">
                    "Definition"
                </h2>
                <span class="muted cap-checked">
                    {move || format!("Version {}", container.with(|c| c.version))} " · saved "
                    {move || view! { <Timestamp value=container.with(|c| c.updated_at.clone()) /> }}
                </span>
            </div>
            <dl class="cap-grid def-grid">
                {item("image", "Image", text(|c| Some(c.image.clone())).into_any())}
                {item(
                    "latest-digest",
                    "Registry digest",
                    text(|c| {
                        c.latest_digest.as_deref().map(|d| {
                            if c.update_available {
                                format!("{} (newer than what runs)", short_digest(d))
                            } else {
                                short_digest(d)
                            }
                        })
                    })
                    .into_any(),
                )}
                {item("command", "Command", text(|c| args_text(&c.command)).into_any())}
                {item("entrypoint", "Entrypoint", text(|c| args_text(&c.entrypoint)).into_any())}
                {item("ports", "Ports", view! { <PortLinks container=container /> }.into_any())}
                {item(
                    "env",
                    "Environment",
                    text(|c| {
                        (!c.env.is_empty())
                            .then(|| {
                                c.env
                                    .iter()
                                    .map(|var| format!("{}={}", var.name, var.value))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                    })
                        .into_any(),
                )}
                {item("limits", "Limits", text(|c| limits_text(&c.resources)).into_any())}
                {item("restart", "Restart policy", (move || container.with(|c| c.restart_policy.label())).into_any())}
                {item("host", "Placement", (move || container.with(placement_text)).into_any())}
                {item(
                    "replicas",
                    "Replicas",
                    (move || {
                        container
                            .with(|c| {
                                if c.replicas == 1 {
                                    "1 instance".to_owned()
                                } else {
                                    format!("{} instances", c.replicas)
                                }
                            })
                    })
                        .into_any(),
                )}
                {item("mounts", "Mounts", view! { <MountList container=container /> }.into_any())}
            </dl>
        </section>
    }
}

/// The mounts of the definition (`ul.mount-list`): the path inside, the disk, read-only or not.
#[component]
fn MountList(container: Signal<Container>) -> impl IntoView {
    move || {
        let mounts = container.with(|c| c.mounts.clone());
        if mounts.is_empty() {
            return view! { <span class="muted">"—"</span> }.into_any();
        }
        view! {
            <ul class="mount-list">
                {mounts
                    .into_iter()
                    .map(|mount| {
                        let mode = if mount.read_only { "read-only" } else { "read-write" };
                        let disk_name = mount.disk.name.clone();
                        view! {
                            <li class="mount-item" data-disk-name=disk_name>
                                <span class="mono">{mount.container_path}</span>
                                <span class="muted">" ← "</span>
                                <a href="/storage" title=mount.disk.kind.label()>
                                    {mount.disk.name}
                                </a>
                                <span class="tag">{mode}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    }
}

/// `table#container-instances`, one `tbody.instance-group` per host, with the scale control; under it, the live
/// log of the selected instance.
#[component]
fn Instances(
    container: Signal<Container>,
    hosts: Signal<Vec<Host>>,
    on_changed: Callback<Container>,
) -> impl IntoView {
    let picked = RwSignal::new(None::<String>);
    let shown = Memo::new(move |_| {
        let picked = picked.get();
        container.with(|c| shown_instance(c, picked.as_deref()))
    });
    // The log view restarts only when another instance (or a new Docker container of it) is shown, or when it
    // starts or stops running.
    let log_source = Memo::new(move |_| {
        shown.with(|instance| {
            instance.as_ref().map(|i| {
                (
                    i.id.clone(),
                    i.docker_id.clone(),
                    i.status.is_active(),
                    instance_title(i),
                )
            })
        })
    });
    let groups = Memo::new(move |_| container.with(instance_hosts));
    let terminal = TerminalFor(RwSignal::new(None));
    provide_context(terminal);
    let close_terminal = Callback::new(move |()| terminal.0.set(None));

    view! {
        {move || {
            terminal
                .0
                .get()
                .map(|(id, title)| {
                    view! {
                        <TerminalDialog
                            target=TerminalTarget::Instance(id)
                            title=title
                            on_close=close_terminal
                        />
                    }
                })
        }}
        <section class="subtab-panel instances-section" aria-labelledby="container-instances-title">
            <div class="section-head">
                <h2 id="container-instances-title" class="section-title">
                    "Instances"
                </h2>
                <ScaleControl container=container on_changed=on_changed />
            </div>
            <div class="card table-card table-scroll">
                <table id="container-instances" class="table instances-table">
                    <thead>
                        <tr>
                            <th class="numeric">"Replica"</th>
                            <th>"Docker ID"</th>
                            <th>"Status"</th>
                            <th>"Health"</th>
                            <th>"Started"</th>
                            <th>"Finished"</th>
                            <th class="numeric">"Exit code"</th>
                            <th>"Error"</th>
                            <ActionsHeader label="Logs" />
                        </tr>
                    </thead>
                    <For each=move || groups.get() key=|host| host.clone() let:host>
                        <InstanceGroup host=host container=container hosts=hosts picked=picked shown=shown />
                    </For>
                    <Show when=move || container.with(|c| c.instances.is_empty())>
                        <tbody>
                            <tr class="placeholder-row empty-row">
                                <td colspan=INSTANCE_COLUMNS>
                                    <div class="table-empty">
                                        <Icon kind=IconKind::Containers />
                                        <div>
                                            <strong>"Not placed yet."</strong>
                                            " Run it to create its instances on the hosts."
                                        </div>
                                    </div>
                                </td>
                            </tr>
                        </tbody>
                    </Show>
                </table>
            </div>
        </section>
        {move || {
            log_source
                .get()
                .filter(|(_, docker_id, _, _)| docker_id.is_some())
                .map(|(id, _, running, title)| {
                    let container_id = container.with_untracked(|c| c.id.clone());
                    view! {
                        <ContainerStats container_id=container_id instance_id=id title=title running=running />
                    }
                })
        }}
        {move || {
            log_source
                .get()
                .map(|(id, docker_id, running, title)| match docker_id {
                    Some(_) => {
                        view! { <ContainerLogs instance_id=id title=title running=running /> }.into_any()
                    }
                    None => view! {
                        <section class="card log-panel">
                            <p class="log-empty">
                                "The " {title} " has no Docker container yet, so there is no output to show."
                            </p>
                        </section>
                    }
                    .into_any(),
                })
        }}
    }
}

/// `tbody.instance-group[data-host-name]`: a heading row with the host (a link, its status and how many of the
/// instances run there), then its `tr.instance-row`s.
#[component]
fn InstanceGroup(
    host: Option<HostRef>,
    container: Signal<Container>,
    hosts: Signal<Vec<Host>>,
    picked: RwSignal<Option<String>>,
    shown: Memo<Option<ContainerInstance>>,
) -> impl IntoView {
    let instances = {
        let host = host.clone();
        Memo::new(move |_| container.with(|c| instances_on(c, host.as_ref())))
    };
    let status = {
        let id = host.as_ref().map(|h| h.id.clone());
        move || {
            let id = id.as_deref()?;
            hosts.with(|list| list.iter().find(|h| h.id == id).map(|h| h.status))
        }
    };
    let name = host.as_ref().map(|h| h.name.clone()).unwrap_or_default();
    let title = match &host {
        Some(host) => view! {
            <a class="instance-group-host" href=format!("/hosts/{}", host.id)>
                {host.name.clone()}
            </a>
        }
        .into_any(),
        None => view! { <span class="instance-group-host">"Not placed yet"</span> }.into_any(),
    };
    view! {
        <tbody class="instance-group" data-host-name=name>
            <tr class="instance-group-head">
                <th colspan=INSTANCE_COLUMNS scope="rowgroup">
                    <div class="instance-group-title">
                        <Icon kind=IconKind::Hosts />
                        {title}
                        {move || {
                            status()
                                .map(|status| view! { <HostStatusBadge status=Signal::derive(move || status) /> })
                        }}
                        <span class="muted instance-group-count">
                            {move || instances.with(|list| group_summary(list))}
                        </span>
                    </div>
                </th>
            </tr>
            <For each=move || instances.get() key=|instance| instance.clone() let:instance>
                <InstanceRow instance=instance picked=picked shown=shown />
            </For>
        </tbody>
    }
}

/// The instance whose terminal is open (its id and title), shared by the instance rows.
#[derive(Clone, Copy)]
struct TerminalFor(RwSignal<Option<(String, String)>>);

/// One `tr.instance-row`; clicking it (or its Logs button) shows its output below; its Terminal button (running,
/// OPERATOR and up) opens a shell in it.
#[component]
fn InstanceRow(
    instance: ContainerInstance,
    picked: RwSignal<Option<String>>,
    shown: Memo<Option<ContainerInstance>>,
) -> impl IntoView {
    let id = instance.id.clone();
    let selected = {
        let id = id.clone();
        Memo::new(move |_| shown.with(|s| s.as_ref().is_some_and(|s| s.id == id)))
    };
    let pick = {
        let id = id.clone();
        Callback::new(move |()| picked.set(Some(id.clone())))
    };
    let dash = || view! { <span class="muted">"—"</span> }.into_any();
    let time = |at: Option<String>| match at {
        Some(at) => view! { <Timestamp value=at /> }.into_any(),
        None => dash(),
    };
    // A replica that exited and waits for its replacement: which attempt, and when.
    let retry = match (instance.next_attempt_at.clone(), instance.attempts) {
        (Some(at), attempts) => view! {
            <div class="instance-retry" data-attempts=attempts>
                {format!("Attempt {attempts} at ")}
                <span class="mono">{clock(&at)}</span>
                " ("
                <Countdown value=at />
                ")"
            </div>
        }
        .into_any(),
        (None, attempts) if attempts > 0 => view! {
            <div class="instance-retry muted" data-attempts=attempts>
                {format!("Replaced {attempts}× in a row")}
            </div>
        }
        .into_any(),
        (None, _) => ().into_any(),
    };
    // Which revision (and image digest) the replica runs.
    let revision = instance.revision;
    let digest = match (instance.image_digest.clone(), revision) {
        (None, None) => None,
        (digest, revision) => {
            let title = match (&digest, revision) {
                (Some(d), Some(r)) => format!("Runs revision {r}, the image {d}"),
                (Some(d), None) => format!("Runs the image {d}"),
                (None, Some(r)) => format!("Runs revision {r}"),
                (None, None) => String::new(),
            };
            let text = match (&digest, revision) {
                (Some(d), Some(r)) => format!("rev {r} · {}", short_digest(d)),
                (Some(d), None) => short_digest(d),
                (None, Some(r)) => format!("rev {r}"),
                (None, None) => String::new(),
            };
            Some(view! {
                <span class="instance-digest mono muted" data-revision=revision title=title>
                    {text}
                </span>
            })
        }
    };
    let docker_id = match instance.docker_id.clone() {
        Some(docker_id) => view! {
            <code class="docker-id" title=docker_id.clone()>
                {short_image_id(&docker_id)}
            </code>
            {digest}
        }
        .into_any(),
        None => dash(),
    };
    let error = match instance.error.clone().filter(|e| !e.trim().is_empty()) {
        Some(error) => view! {
            <span class="error-text" title=error.clone()>
                {truncate(&error, ERROR_PREVIEW)}
            </span>
        }
        .into_any(),
        None => dash(),
    };
    let status = instance.status;
    // Shown whatever the role (the role may not be known yet when the row is made); the server refuses a VIEWER
    // and the dialog says so.
    let terminal_button = use_context::<TerminalFor>().map(|terminal| {
        let running = status == api::InstanceStatus::Running && instance.docker_id.is_some();
        let opened = (id.clone(), instance_title(&instance));
        view! {
            <button
                type="button"
                class="btn btn-ghost btn-sm instance-terminal"
                disabled=!running
                title=if running { "Open a shell in this instance" } else { "It is not running." }
                on:click=move |event| {
                    event.stop_propagation();
                    terminal.0.set(Some(opened.clone()));
                }
            >
                <span>"Terminal"</span>
            </button>
        }
    });
    // The engine's health while it runs, with the last probe's output; the output alone once it stopped.
    let output = instance
        .health_output
        .clone()
        .filter(|o| !o.trim().is_empty())
        .map(|o| {
            let o = o.trim().to_owned();
            view! {
                <div class="health-output mono muted" title=o.clone()>
                    {truncate(&o, ERROR_PREVIEW)}
                </div>
            }
        });
    let health = match instance.health {
        Some(health) => view! {
            <HealthBadge health=health output=instance.health_output.clone() />
            {output}
        }
        .into_any(),
        None => view! {
            {dash()}
            {output}
        }
        .into_any(),
    };
    view! {
        <tr
            class="instance-row"
            class:selected=selected
            data-instance-id=id.clone()
            data-status=status.as_str()
            on:click=move |_| pick.run(())
        >
            <td class="numeric">{instance.replica}</td>
            <td>{docker_id}</td>
            <td class="instance-status-cell">
                <ContainerStatusBadge status=Signal::derive(move || status) class="instance-status" />
                {retry}
            </td>
            <td class="instance-health">{health}</td>
            <td>{time(instance.started_at.clone())}</td>
            <td>{time(instance.finished_at.clone())}</td>
            <td class="numeric">{instance.exit_code.map_or_else(dash, |code| code.to_string().into_any())}</td>
            <td class="instance-error">{error}</td>
            <td class="actions-col">
                <button
                    type="button"
                    class="btn btn-ghost btn-sm instance-logs"
                    aria-pressed=move || selected.get().to_string()
                    on:click=move |_| pick.run(())
                >
                    <Icon kind=IconKind::Terminal />
                    <span>"Logs"</span>
                </button>
                {terminal_button}
            </td>
        </tr>
    }
}
