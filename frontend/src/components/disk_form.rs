//! The new disk dialog (`form#disk-dialog`): name (`#disk-name`), kind (`#disk-kind`: Docker volume or host path),
//! host (`#disk-host`: one host, or "Every host" for a host path), the directory on the host (`#disk-path`, for a
//! host path, checked as you type with the server's rule) and an optional size (`#disk-size`, e.g. 10g). Server
//! errors that name a field appear under it (a taken name under the name), others at the top
//! (`#disk-form-error`).

use berth_shared::{
    DiskKind, format_bytes, normalize_host_path, parse_bytes, validate_container_name,
};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    container_info::hosts_by_name,
    dialog::FormDialog,
    field::{FieldErrors, HostOptions, SelectField, TextField, enum_options},
    format::sentence,
};
use crate::api::{
    self, Disk, Host,
    disks::{DiskInput, create_disk},
};

/// The input fields the server may name in `extensions.field`.
const NAME: &str = "name";
const KIND: &str = "kind";
const HOST: &str = "hostId";
const PATH: &str = "path";
const SIZE: &str = "sizeBytes";
const FIELDS: [&str; 5] = [NAME, KIND, HOST, PATH, SIZE];

/// A disk name uses a container name's alphabet (it becomes part of Docker names).
fn check_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    validate_container_name(name)
        .map(|()| name.to_owned())
        .map_err(|error| sentence(&error.to_string().replace("container name", "disk name")))
}

/// A volume lives on one host; a host path may be on every host.
fn check_host(kind: DiskKind, host_id: &str) -> Result<Option<String>, String> {
    match (kind, host_id.is_empty()) {
        (DiskKind::Volume, true) => Err("A volume lives on one host: choose it.".to_owned()),
        (_, true) => Ok(None),
        (_, false) => Ok(Some(host_id.to_owned())),
    }
}

/// The directory of a host path, normalised as the server stores it (`//srv/./data/` → `/srv/data`): absolute, no
/// `..`, no control characters, and none of the host's system directories.
fn check_path(kind: DiskKind, text: &str) -> Result<Option<String>, String> {
    if kind == DiskKind::Volume {
        return Ok(None);
    }
    let path = text.trim();
    if path.is_empty() {
        return Err("Give the directory on the host, e.g. /srv/data.".to_owned());
    }
    normalize_host_path(path)
        .map(Some)
        .map_err(|error| sentence(&error.to_string()))
}

/// An optional size such as `10g`.
fn check_size(text: &str) -> Result<Option<i64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match parse_bytes(text) {
        Ok(0) => Err("More than 0 bytes, e.g. 10g.".to_owned()),
        Ok(bytes) => i64::try_from(bytes)
            .map(Some)
            .map_err(|_| "That is more bytes than Berth can record.".to_owned()),
        Err(error) => Err(sentence(&error.to_string())),
    }
}

/// The new disk dialog. Calls `on_saved` with the disk as the server saved it.
#[component]
pub fn DiskDialog(
    /// The hosts to offer.
    #[prop(into)]
    hosts: Signal<Vec<Host>>,
    on_saved: Callback<Disk>,
    on_close: Callback<()>,
) -> impl IntoView {
    let first_host = move || {
        hosts_by_name(hosts.get_untracked())
            .first()
            .map(|h| h.id.clone())
            .unwrap_or_default()
    };
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(DiskKind::Volume);
    let host_id = RwSignal::new(first_host());
    let path = RwSignal::new(String::new());
    let size = RwSignal::new(String::new());
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let is_host_path = move || kind.get() == DiskKind::HostPath;
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            NAME => check_name(&name.get()).err(),
            HOST => check_host(kind.get(), &host_id.get()).err(),
            PATH => check_path(kind.get(), &path.get()).err(),
            SIZE => check_size(&size.get()).err(),
            _ => None,
        }
    };
    let field_error = move |field: &'static str| {
        let empty = match field {
            NAME => name.with(|v| v.trim().is_empty()),
            PATH => path.with(|v| v.trim().is_empty()),
            _ => false,
        };
        errors.shown(field, client_error(field), empty)
    };
    let invalid = move || FIELDS.iter().any(|field| client_error(field).is_some());

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        let kind_now = kind.get_untracked();
        let (Ok(name), Ok(host_id), Ok(path), Ok(size_bytes)) = (
            check_name(&name.get_untracked()),
            check_host(kind_now, &host_id.get_untracked()),
            check_path(kind_now, &path.get_untracked()),
            check_size(&size.get_untracked()),
        ) else {
            return;
        };
        let input = DiskInput {
            name,
            kind: kind_now,
            host_id,
            path,
            size_bytes,
        };
        saving.set(true);
        spawn_local(async move {
            let result = create_disk(&input).await;
            // The dialog may be gone (closed by a parent) when the answer arrives.
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(disk) => on_saved.run(disk),
                Err(error) => errors.put(&error, &FIELDS),
            }
        });
    };

    let host_hint = move || {
        match (kind.get(), host_id.with(String::is_empty)) {
            (DiskKind::Volume, _) => "The volume lives there; containers that mount it run there.",
            (DiskKind::HostPath, true) => {
                "The directory is on every host (a network file system, say); containers run anywhere."
            }
            (DiskKind::HostPath, false) => "Containers that mount it run on this host.",
        }
        .to_owned()
    };
    let size_hint = move || match check_size(&size.get()) {
        Ok(Some(bytes)) => format!(
            "{}, recorded with the disk.",
            format_bytes(api::bytes_u64(bytes))
        ),
        _ => "Optional: 10g, 512m or bytes.".to_owned(),
    };

    view! {
        <FormDialog
            id="disk"
            title="New disk"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Containers mount it from their dialog." }.to_owned()
            })
            save_label=Signal::derive(|| "Create disk".to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="disk-name"
                label="Name"
                field=NAME
                placeholder="data"
                value=name
                node_ref=name_ref
                error=Signal::derive(move || field_error(NAME))
                hint=Signal::derive(|| "Letters, digits, _ . -; unique.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(NAME))
            />
            <div class="field-pair">
                <SelectField
                    id="disk-kind"
                    label="Kind"
                    field=KIND
                    error=Signal::derive(move || field_error(KIND))
                    hint=Signal::derive(move || {
                        if is_host_path() {
                            "A directory that already exists on the host."
                        } else {
                            "Docker creates and keeps it on the host."
                        }
                            .to_owned()
                    })
                    on_change=Callback::new(move |value: String| {
                        if let Ok(chosen) = value.parse::<DiskKind>() {
                            kind.set(chosen);
                            if chosen == DiskKind::Volume && host_id.with_untracked(String::is_empty) {
                                host_id.set(first_host());
                            }
                        }
                        errors.edited(KIND);
                        errors.edited(HOST);
                    })
                >
                    {enum_options(DiskKind::ALL, DiskKind::as_str, DiskKind::label, kind.into())}
                </SelectField>
                <SelectField
                    id="disk-host"
                    label="Host"
                    field=HOST
                    error=Signal::derive(move || field_error(HOST))
                    hint=Signal::derive(host_hint)
                    on_change=Callback::new(move |value: String| {
                        host_id.set(value);
                        errors.edited(HOST);
                    })
                >
                    <option
                        value=""
                        disabled=move || !is_host_path()
                        selected=move || host_id.with(String::is_empty)
                    >
                        "Every host"
                    </option>
                    <HostOptions hosts=hosts selected=host_id />
                </SelectField>
            </div>
            <Show when=is_host_path>
                <TextField
                    id="disk-path"
                    label="Path on the host"
                    field=PATH
                    placeholder="/srv/data"
                    mono=true
                    value=path
                    error=Signal::derive(move || field_error(PATH))
                    hint=Signal::derive(|| {
                        "An absolute directory; not /, /etc, /proc, /sys, /dev or the Docker socket.".to_owned()
                    })
                    on_edit=Callback::new(move |()| errors.edited(PATH))
                />
            </Show>
            <TextField
                id="disk-size"
                label="Size"
                field=SIZE
                placeholder="optional"
                mono=true
                value=size
                error=Signal::derive(move || field_error(SIZE))
                hint=Signal::derive(size_hint)
                on_edit=Callback::new(move |()| errors.edited(SIZE))
            />
        </FormDialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_needs_a_host_and_a_host_path_needs_a_clean_directory() {
        assert!(check_host(DiskKind::Volume, "").is_err());
        assert_eq!(
            check_host(DiskKind::Volume, "h1"),
            Ok(Some("h1".to_owned()))
        );
        assert_eq!(check_host(DiskKind::HostPath, ""), Ok(None));
        assert_eq!(check_path(DiskKind::Volume, "anything"), Ok(None));
        assert_eq!(
            check_path(DiskKind::HostPath, " //srv/./data/ "),
            Ok(Some("/srv/data".to_owned()))
        );
        assert!(check_path(DiskKind::HostPath, "").is_err());
        assert!(check_path(DiskKind::HostPath, "srv/data").is_err());
        assert!(check_path(DiskKind::HostPath, "/srv/../etc").is_err());
        assert!(check_path(DiskKind::HostPath, "/etc").is_err());
    }

    #[test]
    fn a_size_is_optional_and_more_than_nothing() {
        assert_eq!(check_size(""), Ok(None));
        assert_eq!(check_size("10g"), Ok(Some(10 << 30)));
        assert_eq!(
            check_size("0"),
            Err("More than 0 bytes, e.g. 10g.".to_owned())
        );
        assert!(check_size("ten").is_err());
    }

    #[test]
    fn a_disk_name_error_speaks_of_a_disk() {
        assert_eq!(check_name(" db-data "), Ok("db-data".to_owned()));
        let error = check_name("no spaces").expect_err("a space in a name");
        assert!(!error.contains("container"), "{error}");
    }
}
