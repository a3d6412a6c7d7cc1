//! The mount rows of the container dialog (`div.mount-row`: `select.mount-disk`, `input.mount-path`,
//! `input.mount-readonly`), their checks as you type (a disk chosen, an absolute path inside the container, no
//! path twice), and the rules that tie mounts to the replicas and the pinned host (a disk on one host mounted
//! read-write allows one replica; a container with a disk on one host runs there).

use std::collections::{BTreeMap, HashSet};

use berth_shared::validate_container_path;
use leptos::prelude::*;

use super::format::sentence;
use crate::api::{Disk, containers::Mount};

/// One mount row of the dialog.
#[derive(Clone, Copy)]
pub struct MountRow {
    pub key: u64,
    /// The chosen disk's id; empty until one is chosen.
    pub disk_id: RwSignal<String>,
    pub path: RwSignal<String>,
    pub read_only: RwSignal<bool>,
}

impl MountRow {
    /// Neither a disk nor a path: left out when saving.
    pub fn blank(&self) -> bool {
        self.disk_id.with(String::is_empty) && self.path.with(|p| p.trim().is_empty())
    }

    /// The path as sent: trimmed, without a trailing slash.
    pub fn clean_path(&self) -> String {
        self.path.with(|p| {
            let trimmed = p.trim().trim_end_matches('/');
            if trimmed.is_empty() {
                p.trim().to_owned()
            } else {
                trimmed.to_owned()
            }
        })
    }
}

/// Problems of the filled mount rows, by row key: no disk, a missing or bad path, a path mounted twice.
pub fn mount_problems(rows: &[MountRow]) -> BTreeMap<u64, String> {
    let mut seen = HashSet::new();
    let mut problems = BTreeMap::new();
    for row in rows.iter().filter(|row| !row.blank()) {
        let path = row.clean_path();
        let problem = if row.disk_id.with(String::is_empty) {
            Some("Choose the disk to mount.".to_owned())
        } else if path.is_empty() {
            Some("Where it appears inside the container, e.g. /data.".to_owned())
        } else if let Err(error) = validate_container_path(&path) {
            Some(sentence(&error.to_string()))
        } else if !seen.insert(path.clone()) {
            Some(format!("{path} is mounted twice."))
        } else {
            None
        };
        if let Some(problem) = problem {
            problems.insert(row.key, problem);
        }
    }
    problems
}

/// The disks of the filled rows that live on one host, with whether each is mounted read-only.
fn host_bound<'a>(rows: &[MountRow], disks: &'a [Disk]) -> Vec<(&'a Disk, bool)> {
    rows.iter()
        .filter_map(|row| {
            let id = row.disk_id.get();
            disks
                .iter()
                .find(|disk| disk.id == id && disk.is_host_bound())
                .map(|disk| (disk, row.read_only.get()))
        })
        .collect()
}

/// Why `replicas` replicas cannot run with these mounts: a disk on one host mounted read-write.
pub fn replicas_conflict(rows: &[MountRow], disks: &[Disk], replicas: i64) -> Option<String> {
    if replicas <= 1 {
        return None;
    }
    host_bound(rows, disks)
        .into_iter()
        .find(|(_, read_only)| !read_only)
        .map(|(disk, _)| {
            format!(
                "Disk {} lives on one host and is mounted read-write, so only one replica can use it: \
                 mount it read-only or run one replica.",
                disk.name
            )
        })
}

/// Why the container cannot be pinned to `host_id` with these mounts: a disk that lives on another host.
pub fn host_conflict(rows: &[MountRow], disks: &[Disk], host_id: &str) -> Option<String> {
    if host_id.is_empty() {
        return None;
    }
    host_bound(rows, disks).into_iter().find_map(|(disk, _)| {
        let host = disk.host.as_ref()?;
        (host.id != host_id).then(|| {
            format!(
                "Disk {} lives on {}: pin the container there, or choose Any host.",
                disk.name, host.name
            )
        })
    })
}

/// The host the container must run on because of a mounted disk, and that disk's name.
pub fn bound_host(rows: &[MountRow], disks: &[Disk]) -> Option<(String, String)> {
    host_bound(rows, disks)
        .into_iter()
        .find_map(|(disk, _)| Some((disk.host.as_ref()?.name.clone(), disk.name.clone())))
}

/// What a row's hint says: the disk and how it is mounted.
pub fn mount_hint(row: MountRow, disks: &[Disk]) -> String {
    let id = row.disk_id.get();
    let Some(disk) = disks.iter().find(|disk| disk.id == id) else {
        return "A disk from the Storage tab, and the absolute path where it appears inside the container."
            .to_owned();
    };
    let mode = if row.read_only.get() {
        "read-only"
    } else if disk.is_host_bound() {
        "read-write (one replica only)"
    } else {
        "read-write"
    };
    format!("{}, {mode}.", disk.describe())
}

/// A disk the select offers: its id and its label.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DiskOption {
    pub id: String,
    pub label: String,
}

/// The disks to choose from: every known disk, plus the disks of the stored mounts while the list loads.
pub fn disk_options(disks: &[Disk], mounts: &[Mount]) -> Vec<DiskOption> {
    let mut options: Vec<DiskOption> = disks
        .iter()
        .map(|disk| DiskOption {
            id: disk.id.clone(),
            label: format!("{} ({})", disk.name, disk.describe()),
        })
        .collect();
    for mount in mounts {
        if !options.iter().any(|option| option.id == mount.disk.id) {
            options.push(DiskOption {
                id: mount.disk.id.clone(),
                label: mount.disk.name.clone(),
            });
        }
    }
    options
}

/// The inputs of one mount row: the disk, the path inside the container, read-only. `on_edit` runs after each
/// change.
#[component]
pub fn MountInputs(
    row: MountRow,
    #[prop(into)] options: Signal<Vec<DiskOption>>,
    /// The id of the row's hint or error line.
    described_by: String,
    error: Signal<Option<String>>,
    on_edit: Callback<()>,
    /// The path input (a row input of the dialog).
    children: Children,
) -> impl IntoView {
    let disk_missing = move || error.get().is_some() && row.disk_id.with(String::is_empty);
    view! {
        <select
            class="input select mount-disk"
            aria-label="Disk"
            aria-describedby=described_by
            class:invalid=disk_missing
            aria-invalid=move || disk_missing().to_string()
            on:change=move |event| {
                row.disk_id.set(event_target_value(&event));
                on_edit.run(());
            }
        >
            <option value="" disabled selected=move || row.disk_id.with(String::is_empty)>
                {move || {
                    if options.with(Vec::is_empty) {
                        "No disks yet: create one on the Storage tab"
                    } else {
                        "Choose a disk…"
                    }
                }}
            </option>
            <For each=move || options.get() key=|option| option.clone() let:option>
                {
                    let id = option.id.clone();
                    view! {
                        <option value=option.id selected=move || row.disk_id.with(|d| *d == id)>
                            {option.label}
                        </option>
                    }
                }
            </For>
        </select>
        {children()}
        <label class="mount-readonly-label">
            <input
                type="checkbox"
                class="mount-readonly"
                prop:checked=move || row.read_only.get()
                on:change=move |event| {
                    row.read_only.set(event_target_checked(&event));
                    on_edit.run(());
                }
            />
            <span>"Read-only"</span>
        </label>
    }
}
