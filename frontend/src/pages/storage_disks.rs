//! The Disks section of the Storage tab (`section#disks-section`): every disk in `table#disks-table`
//! (`tr.disk-row[data-disk-name]`: name, kind, host or every host, path, size, and the containers that mount it
//! as links; sortable columns and a filter, `input#disks-filter`), New disk (`button#disk-add`) and Delete with a confirmation (`button.disk-delete`; while a container
//! mounts the disk the server refuses, and the confirmation says why). Mounts live in container definitions, so
//! the list is loaded again whenever a definition changes.

use std::cmp::Ordering;

use leptos::prelude::*;

use crate::{
    api::{self, Disk, DiskKind, Host, Live, Role},
    components::{
        data_table::{DataTable, TableRules, TableWords},
        dialog::{ConfirmDialog, Pending},
        disk_form::DiskDialog,
        empty_state::EmptyState,
        icons::{Icon, IconKind},
        loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard},
        permission::{can, needs_title},
        sort_header::{Sort, SortHeader},
        table_tools::ActionsHeader,
        toast::use_toasts,
    },
};

/// Columns of the disks table (for the no-match row).
const COLUMNS: &str = "7";

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Kind,
    Host,
    Path,
    Size,
    Mounts,
}

/// Where a disk lives, for sorting and filtering ("every host" for a path present everywhere).
fn host_name(disk: &Disk) -> String {
    disk.host
        .as_ref()
        .map_or_else(|| "every host".to_owned(), |h| h.name.to_lowercase())
}

fn compare(sort: Sort<SortKey>, a: &Disk, b: &Disk) -> Ordering {
    let ordering = match sort.key {
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Kind => a.kind.label().cmp(b.kind.label()),
        SortKey::Host => host_name(a).cmp(&host_name(b)),
        SortKey::Path => a.path.cmp(&b.path),
        SortKey::Size => a.size_bytes.cmp(&b.size_bytes),
        SortKey::Mounts => a.attached_to.len().cmp(&b.attached_to.len()),
    };
    sort.direct(ordering)
        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        .then_with(|| a.id.cmp(&b.id))
}

/// Whether a disk matches the filter text (lowercased): name, kind, host, path, mounting containers.
fn matches(disk: &Disk, query: &str) -> bool {
    let mut texts = vec![
        disk.name.to_lowercase(),
        disk.kind.label().to_lowercase(),
        host_name(disk),
        disk.path.clone().unwrap_or_default().to_lowercase(),
    ];
    texts.extend(disk.attached_to.iter().map(|c| c.name.to_lowercase()));
    texts.iter().any(|text| text.contains(query))
}

/// The disks section; `disks` is the page's, which lays the sections out by it.
#[component]
pub fn DisksSection(disks: RwSignal<ListState<Disk>>) -> impl IntoView {
    let toasts = use_toasts();
    let hosts = RwSignal::new(Vec::<Host>::new());
    let adding = RwSignal::new(false);
    let pending = Pending::<Disk>::new();
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort {
        key: SortKey::Name,
        ascending: true,
    });
    let latest = Latest::new();
    let load = move || {
        latest.run(api::disks::disks(), move |result| {
            disks.update(|state| state.settle(result))
        })
    };
    load();
    let latest_hosts = Latest::new();
    latest_hosts.run(api::hosts(), move |result| {
        if let Ok(list) = result {
            hosts.set(list);
        }
    });
    // A definition saved or deleted may have added or removed a mount.
    api::containers::watch_container_status(None, move |event| match event {
        Live::Event(change) if change.instance.is_none() => load(),
        Live::Connected { reconnect: true } => load(),
        _ => {}
    });

    let on_saved = Callback::new(move |disk: Disk| {
        adding.set(false);
        toasts.success(format!(
            "Disk “{}” created. Mount it from a container's dialog.",
            disk.name
        ));
        disks.update(|state| state.put(disk, |a, b| a.id == b.id));
        load();
    });
    let confirm_delete = Callback::new(move |()| {
        pending.confirm(
            |disk: Disk| async move { api::disks::delete_disk(&disk.id).await.map(|_| ()) },
            move |disk| {
                disks.update(|state| {
                    if let ListState::Loaded(list) = state {
                        list.retain(|d| d.id != disk.id);
                    }
                });
                toasts.success(format!("Disk “{}” deleted.", disk.name));
                load();
            },
        )
    });
    let cancel_delete = Callback::new(move |()| pending.cancel());

    let phase = Memo::new(move |_| disks.with(ListState::phase));
    let body = move || {
        match phase.get() {
        ListPhase::Loading => view! { <LoadingCard text="Loading disks…" /> }.into_any(),
        ListPhase::Failed(error) => view! {
            <LoadFailed
                what="The disks"
                error=error
                on_retry=Callback::new(move |()| {
                    disks.set(ListState::Loading);
                    load();
                })
            />
        }
        .into_any(),
        ListPhase::Empty => view! {
            <div class="card">
                <EmptyState icon=IconKind::Disk title="No disks yet">
                    <p>
                        "A disk is storage that outlives its containers: a Docker volume that lives on one host, "
                        "or a directory on a host (or on every host, such as a network file system). Mount it "
                        "into containers from their dialog, read-write or read-only."
                    </p>
                    <div class="empty-state-actions">
                        <NewDiskButton id="disk-add-first" primary=true label="Create your first disk" adding=adding />
                    </div>
                </EmptyState>
            </div>
        }
        .into_any(),
        ListPhase::List => view! {
            <DataTable
                list=disks
                filter=filter
                sort=sort
                rules=TableRules { matches, compare, key: |disk: &Disk| disk.clone() }
                words=TableWords {
                    filter_id: "disks-filter",
                    filter_placeholder: "Filter by name, kind, host or path",
                    filter_label: "Filter disks",
                    one: "disk",
                    many: "disks",
                }
                table_id="disks-table"
                class="disks-table"
                columns=COLUMNS
                row=move |disk| view! { <DiskRow disk=disk to_delete=pending.item /> }
            >
                <SortHeader label="Name" key=SortKey::Name sort=sort />
                <SortHeader label="Kind" key=SortKey::Kind sort=sort />
                <SortHeader label="Host" key=SortKey::Host sort=sort />
                <SortHeader label="Path" key=SortKey::Path sort=sort />
                <SortHeader label="Size" key=SortKey::Size sort=sort class="numeric" />
                <SortHeader label="Mounted by" key=SortKey::Mounts sort=sort />
                <ActionsHeader label="Actions" />
            </DataTable>
        }
        .into_any(),
    }
    };

    view! {
        <section id="disks-section" class="section">
            <div class="section-head">
                <h2 class="section-title">"Disks"</h2>
                <NewDiskButton id="disk-add" primary=false label="New disk" adding=adding />
            </div>
            {body}
        </section>
        <Show when=move || adding.get()>
            <DiskDialog hosts=hosts on_saved=on_saved on_close=Callback::new(move |()| adding.set(false)) />
        </Show>
        {move || {
            pending
                .item
                .get()
                .map(|disk| {
                    view! {
                        <ConfirmDialog
                            title="Delete this disk?"
                            confirm_label="Delete disk"
                            danger=true
                            busy=pending.busy
                            error=pending.error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <DeleteExplanation disk=disk />
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// A button that opens the new disk dialog.
#[component]
fn NewDiskButton(
    id: &'static str,
    primary: bool,
    label: &'static str,
    adding: RwSignal<bool>,
) -> impl IntoView {
    let class = if primary {
        "btn btn-primary"
    } else {
        "btn btn-secondary btn-sm"
    };
    let refused = needs_title(Role::Admin);
    view! {
        <button
            id=id
            type="button"
            class=class
            disabled=refused.is_some()
            title=refused
            on:click=move |_| adding.set(true)
        >
            <Icon kind=IconKind::Plus />
            <span>{label}</span>
        </button>
    }
}

/// What deleting a disk does, and (when a container mounts it) why it will be refused.
#[component]
fn DeleteExplanation(disk: Disk) -> impl IntoView {
    let what = match (disk.kind, &disk.host, &disk.path) {
        (DiskKind::Volume, Some(host), _) => format!(
            "Its Docker volume on {} is removed with the data in it.",
            host.name
        ),
        (DiskKind::HostPath, _, Some(path)) => {
            format!("The directory {path} stays on the host as it is.")
        }
        _ => String::new(),
    };
    let users = disk
        .attached_to
        .iter()
        .map(|c| c.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <p>"Berth forgets the disk " <strong>"“" {disk.name.clone()} "”"</strong> ". " {what}</p>
        {(!users.is_empty())
            .then(|| {
                view! {
                    <p class="muted">
                        "It is mounted by " {users} ": remove the mount first, or the server refuses to delete it."
                    </p>
                }
            })}
    }
}

/// One `tr.disk-row`.
#[component]
fn DiskRow(disk: Disk, to_delete: RwSignal<Option<Disk>>) -> impl IntoView {
    let dash = || view! { <span class="muted">"—"</span> }.into_any();
    let host = match &disk.host {
        Some(host) => {
            view! { <a href=format!("/hosts/{}", host.id)>{host.name.clone()}</a> }.into_any()
        }
        None => view! { <span class="muted">"every host"</span> }.into_any(),
    };
    let path = match &disk.path {
        Some(path) => view! {
            <span class="mono" title=path.clone()>
                {path.clone()}
            </span>
        }
        .into_any(),
        None => dash(),
    };
    let size = match disk.size_bytes {
        Some(bytes) => berth_shared::format_bytes(api::bytes_u64(bytes)).into_any(),
        None => dash(),
    };
    let attached = if disk.attached_to.is_empty() {
        view! { <span class="muted">"no container"</span> }.into_any()
    } else {
        disk.attached_to
            .iter()
            .map(|container| {
                view! {
                    <a class="disk-container" href=format!("/containers/{}", container.id)>
                        {container.name.clone()}
                    </a>
                }
            })
            .collect_view()
            .into_any()
    };
    let name = disk.name.clone();
    let id = disk.id.clone();
    let label = format!("Delete disk {name}");
    view! {
        <tr class="disk-row" data-disk-id=id data-disk-name=name.clone()>
            <td class="disk-name">
                <strong>{name.clone()}</strong>
            </td>
            <td class="disk-kind">{disk.kind.label()}</td>
            <td class="disk-host">{host}</td>
            <td class="disk-path">{path}</td>
            <td class="numeric disk-size">{size}</td>
            <td class="disk-attached">{attached}</td>
            <td class="actions-col">
                <div class="row-actions">
                    {can(Role::Admin).then(|| view! {
                        <button
                            type="button"
                            class="icon-button danger disk-delete"
                            title="Delete"
                            aria-label=label
                            on:click=move |_| to_delete.set(Some(disk.clone()))
                        >
                            <Icon kind=IconKind::Trash />
                        </button>
                    })}
                </div>
            </td>
        </tr>
    }
}
