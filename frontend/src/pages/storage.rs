//! Storage tab (`/storage`): the image registries Berth lists (live status and refresh progress, sorting,
//! filtering, the add/edit dialog and the row actions: refresh, edit, remove), and the disks containers mount
//! (see `storage_disks`).

use std::{cmp::Ordering, collections::HashMap};

use leptos::{prelude::*, task::spawn_local};

use super::storage_disks::DisksSection;
use crate::{
    api::{self, Disk, Live, RefreshPhase, Registry, RegistryStatus, Role},
    components::{
        badge::{Badge, Tone},
        data_table::{DataTable, TableRules, TableWords},
        dialog::ConfirmDialog,
        empty_state::EmptyState,
        format::{sentence, truncate},
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard},
        page_header::PageHeader,
        permission::{can, needs_title},
        registry_form::RegistryDialog,
        registry_status::{RefreshProgress, RefreshProgressBar, RegistryStatusBadge},
        sort_header::{Sort, SortHeader},
        table_tools::ActionsHeader,
        time::Timestamp,
        toast::use_toasts,
    },
};

/// How much of a registry's last error the table shows (the whole text is in the tooltip).
const ERROR_PREVIEW: usize = 60;
/// Columns of the registries table (for placeholder rows).
const COLUMNS: &str = "9";

/// Which registry dialog is open.
#[derive(Clone, Debug, PartialEq)]
enum Editing {
    Add,
    Edit(Registry),
}

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Url,
    Kind,
    Status,
    Repositories,
    Tags,
    LastRefreshed,
    LastError,
}

/// Status order for sorting: listed ones first, then the running, the failing and the never listed.
fn status_rank(status: RegistryStatus) -> u8 {
    match status {
        RegistryStatus::Ok => 0,
        RegistryStatus::Refreshing => 1,
        RegistryStatus::Error => 2,
        RegistryStatus::NeverRefreshed => 3,
    }
}

fn compare(sort: Sort<SortKey>, a: &Registry, b: &Registry) -> Ordering {
    let ordering = match sort.key {
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Url => a.url.cmp(&b.url),
        SortKey::Kind => a.kind.label().cmp(b.kind.label()),
        SortKey::Status => status_rank(a.status).cmp(&status_rank(b.status)),
        SortKey::Repositories => a.repository_count.cmp(&b.repository_count),
        SortKey::Tags => a.tag_count.cmp(&b.tag_count),
        // RFC 3339 timestamps of the same zone sort as text.
        SortKey::LastRefreshed => a.last_refreshed_at.cmp(&b.last_refreshed_at),
        SortKey::LastError => a.last_error.cmp(&b.last_error),
    };
    // Ties keep a stable, readable order whatever the direction.
    sort.direct(ordering)
        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        .then_with(|| a.id.cmp(&b.id))
}

/// Whether a registry matches the filter text (lowercased): name, URL, kind, namespace, status.
fn matches(registry: &Registry, query: &str) -> bool {
    let status = registry.status.as_str().to_lowercase();
    [
        registry.name.to_lowercase(),
        registry.url.to_lowercase(),
        registry.kind.label().to_lowercase(),
        registry.kind.as_str().to_lowercase(),
        registry
            .namespace
            .clone()
            .unwrap_or_default()
            .to_lowercase(),
        registry.status.label().to_lowercase(),
        status.replace('_', " "),
        status,
    ]
    .iter()
    .any(|text| text.contains(query))
}

/// Puts a registry as the server returned it into the list (or appends it).
fn put_registry(registries: RwSignal<ListState<Registry>>, registry: Registry) {
    registries.update(|state| state.put(registry, |a, b| a.id == b.id));
}

/// The Storage page: registries, then disks.
#[component]
pub fn StoragePage() -> impl IntoView {
    let toasts = use_toasts();
    let registries = RwSignal::new(ListState::<Registry>::Loading);
    let live = RwSignal::new(LiveState::Connecting);
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort {
        key: SortKey::Name,
        ascending: true,
    });
    let editing = RwSignal::new(None::<Editing>);
    let add_refused = needs_title(Role::Admin);
    // Running refreshes, by registry id, as the live feed reports them.
    let progress = RwSignal::new(HashMap::<String, RefreshProgress>::new());

    // Only the newest request may write the list (events can trigger several in a row).
    let latest = Latest::new();
    let load = move || {
        latest.run(api::registries(), move |result| {
            if let Ok(list) = &result {
                // Forget the progress of refreshes that ended while the feed was away.
                progress.update(|running| {
                    running.retain(|id, _| {
                        list.iter()
                            .any(|r| &r.id == id && r.status == RegistryStatus::Refreshing)
                    });
                });
            }
            registries.update(|state| state.settle(result));
        });
    };
    load();

    api::watch_registry_refresh(None, move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                let id = change.registry.id.clone();
                match RefreshProgress::from_event(&change) {
                    Some(now) => progress.update(|running| {
                        running.insert(id, now);
                    }),
                    None => progress.update(|running| {
                        running.remove(&id);
                    }),
                }
                let ended = matches!(change.phase, RefreshPhase::Finished | RefreshPhase::Failed);
                if registries.with_untracked(|state| matches!(state, ListState::Loaded(_))) {
                    put_registry(registries, change.registry);
                }
                if ended {
                    load();
                }
            }
            Live::Connected { reconnect: true } => load(),
            _ => {}
        }
    });

    let phase = Memo::new(move |_| registries.with(ListState::phase));

    // Removing: the registry waiting for confirmation, and the request's state.
    let to_remove = RwSignal::new(None::<Registry>);
    let removing = RwSignal::new(false);
    let remove_error = RwSignal::new(None::<String>);
    let confirm_remove = Callback::new(move |()| {
        let Some(registry) = to_remove.get_untracked() else {
            return;
        };
        if removing.get_untracked() {
            return;
        }
        removing.set(true);
        remove_error.set(None);
        spawn_local(async move {
            match api::remove_registry(&registry.id).await {
                Ok(()) => {
                    registries.update(|state| {
                        if let ListState::Loaded(list) = state {
                            list.retain(|r| r.id != registry.id);
                        }
                    });
                    to_remove.set(None);
                    toasts.success(format!("Registry “{}” removed.", registry.name));
                    load();
                }
                Err(error) => remove_error.set(Some(error.message)),
            }
            removing.set(false);
        });
    });
    let cancel_remove = Callback::new(move |()| {
        if !removing.get_untracked() {
            to_remove.set(None);
            remove_error.set(None);
        }
    });

    let on_saved = Callback::new(move |registry: Registry| {
        let added = matches!(editing.get_untracked(), Some(Editing::Add));
        editing.set(None);
        let verb = if added { "added" } else { "saved" };
        toasts.success(format!(
            "Registry “{}” {verb}; Berth is listing its repositories.",
            registry.name
        ));
        put_registry(registries, registry);
        load();
    });
    let on_close = Callback::new(move |()| editing.set(None));
    let refreshed = Callback::new(move |registry: Registry| {
        put_registry(registries, registry);
        load();
    });

    let table = move || {
        view! {
            <DataTable
                list=registries
                filter=filter
                sort=sort
                rules=TableRules { matches, compare, key: |registry: &Registry| registry.id.clone() }
                words=TableWords {
                    filter_id: "registries-filter",
                    filter_placeholder: "Filter by name, URL, kind or status",
                    filter_label: "Filter registries",
                    one: "registry",
                    many: "registries",
                }
                table_id="registries-table"
                class="registries-table"
                columns=COLUMNS
                row=move |registry| view! {
                    <RegistryRow
                        registry=registry
                        registries=registries
                        progress=progress
                        editing=editing
                        to_remove=to_remove
                        refreshed=refreshed
                    />
                }
            >
                <SortHeader label="Name" key=SortKey::Name sort=sort />
                <SortHeader label="URL" key=SortKey::Url sort=sort />
                <SortHeader label="Kind" key=SortKey::Kind sort=sort />
                <SortHeader label="Status" key=SortKey::Status sort=sort />
                <SortHeader label="Repos" key=SortKey::Repositories sort=sort class="numeric" />
                <SortHeader label="Tags" key=SortKey::Tags sort=sort class="numeric" />
                <SortHeader label="Refreshed" key=SortKey::LastRefreshed sort=sort />
                <SortHeader label="Last error" key=SortKey::LastError sort=sort />
                <ActionsHeader label="Actions" />
            </DataTable>
        }
    };

    let registries_section = move || {
        match phase.get() {
        ListPhase::Loading => view! { <LoadingCard text="Loading registries…" /> }.into_any(),
        ListPhase::Failed(error) => view! {
            <LoadFailed
                what="The registries"
                error=error
                on_retry=Callback::new(move |()| {
                    registries.set(ListState::Loading);
                    load();
                })
            />
        }
        .into_any(),
        ListPhase::Empty => view! {
            <div class="card">
                <EmptyState icon=IconKind::Storage title="No registries yet">
                    <p>
                        "A registry is any Registry v2 / OCI registry, or a Docker Hub namespace, with or without "
                        "credentials. Berth lists its repositories and tags (digest, size, architectures), "
                        "refreshes them on a schedule or on demand, and says clearly when a registry cannot be reached."
                    </p>
                    <div class="status-legend" aria-label="Registry statuses">
                        <Badge tone=Tone::Up>{RegistryStatus::Ok.label()}</Badge>
                        <Badge tone=Tone::Warn>{RegistryStatus::Refreshing.label()}</Badge>
                        <Badge tone=Tone::Down>{RegistryStatus::Error.label()}</Badge>
                        <Badge tone=Tone::Neutral>{RegistryStatus::NeverRefreshed.label()}</Badge>
                    </div>
                    <div class="empty-state-actions">
                        <button
                            id="registry-add-first"
                            type="button"
                            class="btn btn-primary"
                            disabled=add_refused.is_some()
                            title=add_refused
                            on:click=move |_| editing.set(Some(Editing::Add))
                        >
                            <Icon kind=IconKind::Plus />
                            <span>"Add your first registry"</span>
                        </button>
                    </div>
                </EmptyState>
            </div>
        }
        .into_any(),
        ListPhase::List => table().into_any(),
    }
    };
    let disks = RwSignal::new(ListState::<Disk>::Loading);
    let disks_phase = Memo::new(move |_| disks.with(ListState::phase));
    // Side by side while both sections are empty states; a table takes the full width.
    let layout = move || {
        if matches!(phase.get(), ListPhase::List) || matches!(disks_phase.get(), ListPhase::List) {
            "storage-sections stacked"
        } else {
            "storage-sections grid-2"
        }
    };

    view! {
        <PageHeader
            title="Storage"
            description="The registries images come from, and the disks containers mount."
        >
            <LiveIndicator state=live />
            <button
                id="registry-add"
                type="button"
                class="btn btn-primary"
                disabled=add_refused.is_some()
                title=add_refused
                on:click=move |_| editing.set(Some(Editing::Add))
            >
                <Icon kind=IconKind::Plus />
                <span>"Add registry"</span>
            </button>
        </PageHeader>
        <div class=layout>
            <section id="registries-section" class="section">
                <h2 class="section-title">"Registries"</h2>
                {registries_section}
            </section>
            <DisksSection disks=disks />
        </div>
        {move || {
            editing
                .get()
                .map(|mode| {
                    let registry = match mode {
                        Editing::Add => None,
                        Editing::Edit(registry) => Some(registry),
                    };
                    view! { <RegistryDialog registry=registry on_saved=on_saved on_close=on_close /> }
                })
        }}
        {move || {
            to_remove
                .get()
                .map(|registry| {
                    view! {
                        <ConfirmDialog
                            title="Remove this registry?"
                            confirm_label="Remove registry"
                            danger=true
                            busy=removing
                            error=remove_error
                            on_confirm=confirm_remove
                            on_cancel=cancel_remove
                        >
                            <p>
                                "Berth forgets "<strong>"“"{registry.name.clone()}"”"</strong>" ("
                                <code>{registry.url.clone()}</code>
                                "), its stored credentials and its listing. The registry and its images are left as they are."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.registry-row`. The row stays in place while its registry changes (live status, re-fetches): every
/// cell reads the registry from the list.
#[component]
fn RegistryRow(
    registry: Registry,
    registries: RwSignal<ListState<Registry>>,
    progress: RwSignal<HashMap<String, RefreshProgress>>,
    editing: RwSignal<Option<Editing>>,
    to_remove: RwSignal<Option<Registry>>,
    refreshed: Callback<Registry>,
) -> impl IntoView {
    let toasts = use_toasts();
    let id = registry.id.clone();
    let current = {
        let id = id.clone();
        Memo::new(move |previous: Option<&Registry>| {
            registries
                .with(|state| state.items().iter().find(|r| r.id == id).cloned())
                .or_else(|| previous.cloned())
                .unwrap_or_else(|| registry.clone())
        })
    };
    let refresh_busy = RwSignal::new(false);
    let admin = can(Role::Admin);
    let operator = can(Role::Operator);
    // The bar shows while the registry is refreshing; its numbers come from the live feed.
    let running = {
        let id = id.clone();
        Memo::new(move |_| {
            let known = progress.with(|running| running.get(&id).copied());
            let refreshing = current.with(|r| r.status == RegistryStatus::Refreshing);
            (refreshing || known.is_some()).then(|| known.unwrap_or_default())
        })
    };

    let refresh = move |_| {
        if refresh_busy.get_untracked() {
            return;
        }
        let registry = current.get_untracked();
        refresh_busy.set(true);
        spawn_local(async move {
            match api::refresh_registry(&registry.id).await {
                Ok(updated) => {
                    toasts.success(format!("Refreshing “{}”…", updated.name));
                    refreshed.run(updated);
                }
                Err(error) => toasts.error(format!(
                    "Could not refresh “{}”: {}",
                    registry.name,
                    sentence(&error.message)
                )),
            }
            let _ = refresh_busy.try_set(false);
        });
    };

    let name = move || current.with(|r| r.name.clone());
    let dash = || view! { <span class="muted">"—"</span> };
    let href = format!("/storage/registries/{id}");

    view! {
        <tr
            class="registry-row"
            class:refreshing=move || running.with(Option::is_some)
            data-registry-id=id.clone()
            data-registry-name=name
        >
            <td class="registry-name-cell">
                <a class="registry-link" href=href title=name>
                    {name}
                </a>
                {move || {
                    current
                        .with(|r| r.insecure)
                        .then(|| {
                            view! {
                                <span class="tag tag-warn registry-insecure" title="Plain http or unverified TLS allowed">
                                    "insecure"
                                </span>
                            }
                        })
                }}
            </td>
            <td class="registry-url">
                <span class="mono" title=move || current.with(|r| r.url.clone())>
                    {move || current.with(|r| r.url.clone())}
                </span>
            </td>
            <td class="registry-kind">
                {move || {
                    current
                        .with(|r| match (&r.kind, &r.namespace) {
                            (api::RegistryKind::DockerHub, Some(namespace)) => {
                                format!("{} · {namespace}", r.kind.label())
                            }
                            _ => r.kind.label().to_owned(),
                        })
                }}
            </td>
            <td class="registry-status-cell">
                <RegistryStatusBadge status=Signal::derive(move || current.with(|r| r.status)) />
                {move || {
                    running
                        .get()
                        .map(|_| {
                            view! {
                                <RefreshProgressBar progress=Signal::derive(move || {
                                    running.get().unwrap_or_default()
                                }) />
                            }
                        })
                }}
            </td>
            <td class="numeric registry-repository-count">{move || current.with(|r| r.repository_count)}</td>
            <td class="numeric registry-tag-count">{move || current.with(|r| r.tag_count)}</td>
            <td class="registry-refreshed">
                {move || match current.with(|r| r.last_refreshed_at.clone()) {
                    Some(at) => view! { <Timestamp value=at /> }.into_any(),
                    None => view! { <span class="muted">"never"</span> }.into_any(),
                }}
            </td>
            <td class="registry-error">
                {move || match current.with(|r| r.last_error.clone()).filter(|e| !e.trim().is_empty()) {
                    Some(error) => view! {
                        <span class="error-text" title=error.clone()>
                            {truncate(&error, ERROR_PREVIEW)}
                        </span>
                    }
                    .into_any(),
                    None => dash().into_any(),
                }}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {operator.then(|| view! {
                    <button
                        type="button"
                        class="icon-button registry-refresh"
                        title="Refresh: list the repositories and tags now"
                        aria-label=move || format!("Refresh registry {}", name())
                        disabled=move || refresh_busy.get()
                        on:click=refresh
                    >
                        {move || {
                            if refresh_busy.get() {
                                view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                            } else {
                                view! { <Icon kind=IconKind::Refresh /> }.into_any()
                            }
                        }}
                    </button>
                    })}
                    {admin.then(|| view! {
                    <button
                        type="button"
                        class="icon-button registry-edit"
                        title="Edit"
                        aria-label=move || format!("Edit registry {}", name())
                        on:click=move |_| editing.set(Some(Editing::Edit(current.get_untracked())))
                    >
                        <Icon kind=IconKind::Edit />
                    </button>
                    <button
                        type="button"
                        class="icon-button danger registry-remove"
                        title="Remove"
                        aria-label=move || format!("Remove registry {}", name())
                        on:click=move |_| to_remove.set(Some(current.get_untracked()))
                    >
                        <Icon kind=IconKind::Trash />
                    </button>
                    })}
                </div>
            </td>
        </tr>
    }
}
