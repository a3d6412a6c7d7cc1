//! Container detail (`/containers/:id`): name, live status, image and hosts with the actions; the definition;
//! the instances (replica, host, Docker id, status, started/finished, exit code, error); and the live log of the
//! selected instance.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::{self, Container, ContainerInstance, Host, Live},
    components::{
        args::join_args,
        container_actions::{ChangedMarker, ContainerActions, ContainerModals, Modals},
        container_info::{HostLinks, PortLinks, limits_text, short_image},
        container_logs::ContainerLogs,
        container_status::ContainerStatusBadge,
        empty_state::EmptyState,
        format::{short_image_id, truncate},
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{ItemPhase, ItemState, Latest, LoadFailed, LoadingCard},
        page_header::BackLink,
        table_tools::ActionsHeader,
        time::Timestamp,
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
                <Instances container=container />
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
                {item(
                    "host",
                    "Placement",
                    (move || {
                        container
                            .with(|c| match &c.host {
                                Some(host) => format!("Pinned to {}", host.name),
                                None => "Any host".to_owned(),
                            })
                    })
                        .into_any(),
                )}
            </dl>
        </section>
    }
}

/// `table#container-instances` and, under it, the live log of the selected instance.
#[component]
fn Instances(container: Signal<Container>) -> impl IntoView {
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
    let instances = move || {
        let mut list = container.with(|c| c.instances.clone());
        list.sort_by(|a, b| a.replica.cmp(&b.replica).then_with(|| a.id.cmp(&b.id)));
        list
    };

    view! {
        <section class="subtab-panel instances-section" aria-labelledby="container-instances-title">
            <h2 id="container-instances-title" class="section-title">
                "Instances"
            </h2>
            <div class="card table-card table-scroll">
                <table id="container-instances" class="table instances-table">
                    <thead>
                        <tr>
                            <th class="numeric">"Replica"</th>
                            <th>"Host"</th>
                            <th>"Docker ID"</th>
                            <th>"Status"</th>
                            <th>"Started"</th>
                            <th>"Finished"</th>
                            <th class="numeric">"Exit code"</th>
                            <th>"Error"</th>
                            <ActionsHeader label="Logs" />
                        </tr>
                    </thead>
                    <tbody>
                        <For each=instances key=|instance| instance.clone() let:instance>
                            <InstanceRow instance=instance picked=picked shown=shown />
                        </For>
                        <Show when=move || container.with(|c| c.instances.is_empty())>
                            <tr class="placeholder-row empty-row">
                                <td colspan=INSTANCE_COLUMNS>
                                    <div class="table-empty">
                                        <Icon kind=IconKind::Containers />
                                        <div>
                                            <strong>"Not placed yet."</strong>
                                            " Run it to create its instance on a host."
                                        </div>
                                    </div>
                                </td>
                            </tr>
                        </Show>
                    </tbody>
                </table>
            </div>
        </section>
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

/// One `tr.instance-row`; clicking it (or its Logs button) shows its output below.
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
    let host = match instance.host.clone() {
        Some(host) => view! { <a href=format!("/hosts/{}", host.id)>{host.name}</a> }.into_any(),
        None => dash(),
    };
    let docker_id = match instance.docker_id.clone() {
        Some(docker_id) => view! {
            <code class="docker-id" title=docker_id.clone()>
                {short_image_id(&docker_id)}
            </code>
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
    view! {
        <tr
            class="instance-row"
            class:selected=selected
            data-instance-id=id.clone()
            data-status=status.as_str()
            on:click=move |_| pick.run(())
        >
            <td class="numeric">{instance.replica}</td>
            <td>{host}</td>
            <td>{docker_id}</td>
            <td>
                <ContainerStatusBadge status=Signal::derive(move || status) class="instance-status" />
            </td>
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
            </td>
        </tr>
    }
}
