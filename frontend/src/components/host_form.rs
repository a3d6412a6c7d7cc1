//! The add/edit host dialog: name, endpoint (checked as you type with the server's own parser), Docker support
//! and TLS material. Server errors that name a field (`extensions.field`) appear under it, others at the top.

use std::collections::BTreeMap;

use berth_shared::{HOST_NAME_MAX, HostEndpoint, NameKind, validate_name};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    dialog::FormDialog,
    field::{CheckRow, FieldFoot, TextField},
    format::sentence,
    icons::{Icon, IconKind},
};
use crate::api::{self, Host, HostInput};

/// Longest host name the server accepts.
const NAME_MAX: usize = HOST_NAME_MAX;

/// The input fields the server may name in `extensions.field`.
const NAME: &str = "name";
const ENDPOINT: &str = "endpoint";
const TLS_CA: &str = "tlsCaPem";
const TLS_CERT: &str = "tlsCertPem";
const TLS_KEY: &str = "tlsKeyPem";
const FIELDS: [&str; 5] = [NAME, ENDPOINT, TLS_CA, TLS_CERT, TLS_KEY];

/// Client-side check of a host name: the server's rule (trimmed, at most [`NAME_MAX`] characters, no control
/// characters).
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("Give the host a name.".to_owned())
    } else {
        validate_name(NameKind::Host, name).map_err(|error| sentence(&error.to_string()))
    }
}

/// The endpoint as the server will parse it.
fn check_endpoint(endpoint: &str) -> Result<HostEndpoint, String> {
    HostEndpoint::parse(endpoint).map_err(|error| sentence(&error.to_string()))
}

/// A PEM field: empty is fine unless `required`; otherwise it must look like PEM (the server's rule).
fn check_pem(pem: &str, required: bool) -> Result<(), String> {
    let pem = pem.trim();
    if pem.is_empty() {
        if required {
            Err("Required for TLS.".to_owned())
        } else {
            Ok(())
        }
    } else if pem.contains("-----BEGIN ") && pem.contains("-----END ") {
        Ok(())
    } else {
        Err("Expected PEM text, from -----BEGIN …----- to -----END …-----.".to_owned())
    }
}

/// `Some(text)` for a filled field, `None` (keep what is stored) for an empty one.
fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The add (`host: None`) or edit dialog. Calls `on_saved` with the host as the server saved and checked it.
#[component]
pub fn HostDialog(
    /// The host to edit; `None` adds a new one.
    host: Option<Host>,
    on_saved: Callback<Host>,
    on_close: Callback<()>,
) -> impl IntoView {
    let host_id = host.as_ref().map(|h| h.id.clone());
    let is_edit = host.is_some();
    // On edit, the stored certificates are never returned: an empty field keeps what is stored.
    let had_tls = host.as_ref().is_some_and(|h| h.tls);
    let title = match &host {
        Some(host) => format!("Edit host “{}”", host.name),
        None => "Add a host".to_owned(),
    };

    let name = RwSignal::new(host.as_ref().map(|h| h.name.clone()).unwrap_or_default());
    let endpoint = RwSignal::new(
        host.as_ref()
            .map(|h| h.endpoint.clone())
            .unwrap_or_default(),
    );
    let docker_support = RwSignal::new(host.as_ref().is_none_or(|h| h.docker_support));
    let use_tls = RwSignal::new(had_tls);
    let ca = RwSignal::new(String::new());
    let cert = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    // "Required" messages wait until the user touched the field or tried to save.
    let touched = RwSignal::new(BTreeMap::<&'static str, bool>::new());
    let submitted = RwSignal::new(false);
    let server_errors = RwSignal::new(BTreeMap::<&'static str, String>::new());
    let form_error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    let endpoint_ref = NodeRef::<html::Input>::new();
    let ca_ref = NodeRef::<html::Textarea>::new();
    let cert_ref = NodeRef::<html::Textarea>::new();
    let key_ref = NodeRef::<html::Textarea>::new();

    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let shown = move |field: &'static str| {
        submitted.get() || touched.with(|t| t.get(field).copied().unwrap_or(false))
    };
    let pem_required = move || use_tls.get() && !had_tls;
    let tls_on_unix = move || {
        use_tls.get() && matches!(check_endpoint(&endpoint.get()), Ok(HostEndpoint::Unix(_)))
    };

    // Client-side problems of each field (whether shown yet or not).
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            NAME => check_name(&name.get()).err(),
            ENDPOINT => check_endpoint(&endpoint.get()).err(),
            TLS_CA if use_tls.get() => check_pem(&ca.get(), pem_required()).err(),
            TLS_CERT if use_tls.get() => check_pem(&cert.get(), pem_required()).err(),
            TLS_KEY if use_tls.get() => check_pem(&key.get(), pem_required()).err(),
            _ => None,
        }
    };
    // What is shown under a field: the server's word first, then ours (once it is fair to show it).
    let field_error = move |field: &'static str| -> Option<String> {
        if let Some(message) = server_errors.with(|errors| errors.get(field).cloned()) {
            return Some(message);
        }
        let value_empty = match field {
            NAME => name.with(|v| v.trim().is_empty()),
            ENDPOINT => endpoint.with(|v| v.trim().is_empty()),
            TLS_CA => ca.with(|v| v.trim().is_empty()),
            TLS_CERT => cert.with(|v| v.trim().is_empty()),
            _ => key.with(|v| v.trim().is_empty()),
        };
        client_error(field).filter(|_| !value_empty || shown(field))
    };
    let invalid = move || FIELDS.iter().any(|field| client_error(field).is_some()) || tls_on_unix();

    let edited = move |field: &'static str| {
        touched.update(|t| {
            t.insert(field, true);
        });
        server_errors.update(|errors| {
            errors.remove(field);
        });
        form_error.set(None);
    };

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        // Read the fields themselves, so autofill and scripted input count too.
        if let Some(input) = name_ref.get_untracked() {
            name.set(input.value());
        }
        if let Some(input) = endpoint_ref.get_untracked() {
            endpoint.set(input.value());
        }
        for (node, signal) in [(ca_ref, ca), (cert_ref, cert), (key_ref, key)] {
            if let Some(area) = node.get_untracked() {
                signal.set(area.value());
            }
        }
        submitted.set(true);
        form_error.set(None);
        server_errors.set(BTreeMap::new());
        if FIELDS.iter().any(|field| client_error(field).is_some()) || tls_on_unix() {
            return;
        }
        let (tls_ca_pem, tls_cert_pem, tls_key_pem) = if use_tls.get_untracked() {
            (
                filled(&ca.get_untracked()),
                filled(&cert.get_untracked()),
                filled(&key.get_untracked()),
            )
        } else if had_tls {
            // TLS switched off: clear what is stored.
            (
                Some(String::new()),
                Some(String::new()),
                Some(String::new()),
            )
        } else {
            (None, None, None)
        };
        let input = HostInput {
            name: name.get_untracked().trim().to_owned(),
            endpoint: endpoint.get_untracked().trim().to_owned(),
            docker_support: docker_support.get_untracked(),
            tls_ca_pem,
            tls_cert_pem,
            tls_key_pem,
        };
        saving.set(true);
        let host_id = host_id.clone();
        spawn_local(async move {
            let result = match &host_id {
                Some(id) => api::update_host(id, &input).await,
                None => api::add_host(&input).await,
            };
            saving.set(false);
            match result {
                Ok(host) => on_saved.run(host),
                Err(error) => match FIELDS.into_iter().find(|field| error.is_about_field(field)) {
                    Some(field) => server_errors.update(|errors| {
                        errors.insert(field, sentence(&error.message));
                    }),
                    None => form_error.set(Some(error.message)),
                },
            }
        });
    };

    let endpoint_hint = move || match check_endpoint(&endpoint.get()) {
        Ok(parsed) => format!("Berth connects to {parsed}."),
        Err(_) => "unix:///var/run/docker.sock, or tcp://host:2375 (2376 with TLS).".to_owned(),
    };
    let name_length = move || name.with(|n| n.trim().chars().count());
    let (ca_hint, cert_hint, key_hint) = if had_tls {
        (
            "Leave empty to keep the stored CA certificate.",
            "Leave empty to keep the stored client certificate.",
            "Write-only: the stored key is never shown. Leave empty to keep it.",
        )
    } else {
        (
            "Required: PEM text, as in ca.pem.",
            "Required: PEM text, as in cert.pem.",
            "Required: PEM text, as in key.pem. Stored encrypted, never shown again.",
        )
    };

    view! {
        <FormDialog
            id="host"
            title=title
            saving=saving
            form_error=form_error
            note=Signal::derive(move || {
                if saving.get() {
                    "Berth is checking the engine; this can take a few seconds."
                } else if is_edit {
                    "Saving checks the engine again."
                } else {
                    "Saving checks the engine at once."
                }
            }.to_owned())
            save_label=Signal::derive(move || if is_edit { "Save changes" } else { "Add host" }.to_owned())
            busy_label="Checking engine…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="host-name"
                label="Name"
                field=NAME
                placeholder="build-01"
                value=name
                node_ref=name_ref
                error=Signal::derive(move || field_error(NAME))
                hint=Signal::derive(|| "Unique; shown in lists and when placing containers.".to_owned())
                on_edit=Callback::new(move |()| edited(NAME))
            >
                <span class="counter" class:over=move || { name_length() > NAME_MAX }>
                    {move || format!("{}/{NAME_MAX}", name_length())}
                </span>
            </TextField>
            <TextField
                id="host-endpoint"
                label="Endpoint"
                field=ENDPOINT
                placeholder="tcp://10.0.0.12:2376"
                mono=true
                value=endpoint
                node_ref=endpoint_ref
                error=Signal::derive(move || field_error(ENDPOINT))
                hint=Signal::derive(endpoint_hint)
                on_edit=Callback::new(move |()| edited(ENDPOINT))
            />
            <CheckRow
                id="host-docker-support"
                checked=docker_support
                on_change=Callback::new(move |on| {
                    docker_support.set(on);
                    form_error.set(None);
                })
                label=|| "Docker support"
                help=|| "Monitor this host's engine. Off: kept on record, never contacted."
            />
            <section class="tls-section" class:open=move || use_tls.get()>
                <CheckRow
                    id="host-tls"
                    checked=use_tls
                    on_change=Callback::new(move |on| {
                        use_tls.set(on);
                        form_error.set(None);
                        server_errors.update(|errors| {
                            errors.remove(TLS_CA);
                            errors.remove(TLS_CERT);
                            errors.remove(TLS_KEY);
                        });
                    })
                    label=|| view! { <Icon kind=IconKind::Lock /> " Use TLS" }
                    help=|| {
                        view! {
                            "Verify the engine with a CA certificate and log in with a client certificate and key (PEM), as for "
                            <code>"dockerd --tlsverify"</code>
                            "."
                        }
                    }
                />
                {move || {
                    (had_tls && !use_tls.get())
                        .then(|| {
                            view! {
                                <p class="tls-note">
                                    "Saving removes the stored certificates and key; Berth will connect without TLS."
                                </p>
                            }
                        })
                }}
                <Show when=move || use_tls.get()>
                    <div class="tls-fields">
                        {move || {
                            tls_on_unix()
                                .then(|| {
                                    view! {
                                        <p class="field-error tls-unix">
                                            "TLS applies to tcp:// endpoints only."
                                        </p>
                                    }
                                })
                        }}
                        {[
                            ("host-tls-ca", "CA certificate", "CERTIFICATE", ca_hint, TLS_CA, ca, ca_ref),
                            ("host-tls-cert", "Client certificate", "CERTIFICATE", cert_hint, TLS_CERT, cert, cert_ref),
                            ("host-tls-key", "Client key", "PRIVATE KEY", key_hint, TLS_KEY, key, key_ref),
                        ]
                            .into_iter()
                            .map(|(id, label, kind, hint, field, value, node_ref)| {
                                view! {
                                    <PemField
                                        id=id
                                        label=label
                                        placeholder=format!("-----BEGIN {kind}-----")
                                        hint=hint
                                        field=field
                                        value=value
                                        node_ref=node_ref
                                        error=Signal::derive(move || field_error(field))
                                        on_edit=Callback::new(move |()| edited(field))
                                    />
                                }
                            })
                            .collect_view()}
                    </div>
                </Show>
            </section>
        </FormDialog>
    }
}

/// One PEM textarea with its label, hint and error.
#[component]
fn PemField(
    id: &'static str,
    label: &'static str,
    placeholder: String,
    hint: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    node_ref: NodeRef<html::Textarea>,
    error: Signal<Option<String>>,
    on_edit: Callback<()>,
) -> impl IntoView {
    let help_id = format!("{id}-help");
    view! {
        <div class="field" data-field=field>
            <label for=id>{label}</label>
            <textarea
                id=id
                class="input textarea"
                rows="4"
                spellcheck="false"
                autocomplete="off"
                wrap="off"
                placeholder=placeholder
                node_ref=node_ref
                prop:value=move || value.get()
                class:invalid=move || error.get().is_some()
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=help_id.clone()
                on:input=move |event| {
                    value.set(event_target_value(&event));
                    on_edit.run(());
                }
                on:change=move |event| {
                    value.set(event_target_value(&event));
                    on_edit.run(());
                }
            ></textarea>
            <FieldFoot id=help_id error=error hint=Signal::derive(move || hint.to_owned()) />
        </div>
    }
}
