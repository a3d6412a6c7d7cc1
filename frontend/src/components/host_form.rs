//! The add/edit host dialog: name, endpoint (checked as you type with the server's own parser), Docker support
//! and TLS material. Server errors that name a field (`extensions.field`) appear under it, others at the top.

use berth_shared::{HOST_NAME_MAX, HostEndpoint, NameKind, validate_name};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    dialog::FormDialog,
    field::{CheckRow, FieldErrors, FieldFoot, TextField},
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

/// A PEM text box: its element and value.
type PemBox = (NodeRef<html::Textarea>, RwSignal<String>);

/// The dialog's values (one signal per field, and the inputs they come from), whether the stored host used TLS,
/// and the errors shown.
#[derive(Clone, Copy)]
struct HostForm {
    name: RwSignal<String>,
    name_ref: NodeRef<html::Input>,
    endpoint: RwSignal<String>,
    endpoint_ref: NodeRef<html::Input>,
    docker_support: RwSignal<bool>,
    use_tls: RwSignal<bool>,
    ca: PemBox,
    cert: PemBox,
    key: PemBox,
    is_edit: bool,
    /// On edit, the stored certificates are never returned: an empty field keeps what is stored.
    had_tls: bool,
    errors: FieldErrors,
}

impl HostForm {
    /// The fields of `host` (a new host with Docker support and no TLS without one).
    fn new(host: Option<&Host>) -> Self {
        let pem = || (NodeRef::new(), RwSignal::new(String::new()));
        let had_tls = host.is_some_and(|h| h.tls);
        Self {
            name: RwSignal::new(host.map(|h| h.name.clone()).unwrap_or_default()),
            name_ref: NodeRef::new(),
            endpoint: RwSignal::new(host.map(|h| h.endpoint.clone()).unwrap_or_default()),
            endpoint_ref: NodeRef::new(),
            docker_support: RwSignal::new(host.is_none_or(|h| h.docker_support)),
            use_tls: RwSignal::new(had_tls),
            ca: pem(),
            cert: pem(),
            key: pem(),
            is_edit: host.is_some(),
            had_tls,
            errors: FieldErrors::new(),
        }
    }

    fn pem(self, field: &'static str) -> PemBox {
        match field {
            TLS_CA => self.ca,
            TLS_CERT => self.cert,
            _ => self.key,
        }
    }

    /// New certificates are needed: TLS is on and nothing is stored.
    fn pem_required(self) -> bool {
        self.use_tls.get() && !self.had_tls
    }

    /// TLS asked for a unix socket (which has none).
    fn tls_on_unix(self) -> bool {
        self.use_tls.get()
            && matches!(
                check_endpoint(&self.endpoint.get()),
                Ok(HostEndpoint::Unix(_))
            )
    }

    /// What the checks as you type say about `field` (the PEM fields only with TLS on).
    fn client_error(self, field: &'static str) -> Option<String> {
        match field {
            NAME => check_name(&self.name.get()).err(),
            ENDPOINT => check_endpoint(&self.endpoint.get()).err(),
            TLS_CA | TLS_CERT | TLS_KEY if self.use_tls.get() => {
                check_pem(&self.pem(field).1.get(), self.pem_required()).err()
            }
            _ => None,
        }
    }

    /// What is shown under a field: the server's word first, then ours (once it is fair to show it).
    fn field_error(self, field: &'static str) -> Option<String> {
        let empty = match field {
            NAME => self.name.with(|v| v.trim().is_empty()),
            ENDPOINT => self.endpoint.with(|v| v.trim().is_empty()),
            _ => self.pem(field).1.with(|v| v.trim().is_empty()),
        };
        self.errors.shown(field, self.client_error(field), empty)
    }

    fn invalid(self) -> bool {
        FIELDS
            .iter()
            .any(|field| self.client_error(field).is_some())
            || self.tls_on_unix()
    }

    /// Reads the inputs themselves, so autofill and scripted input count too.
    fn read_inputs(self) {
        for (node, signal) in [
            (self.name_ref, self.name),
            (self.endpoint_ref, self.endpoint),
        ] {
            if let Some(input) = node.get_untracked() {
                signal.set(input.value());
            }
        }
        for (node, signal) in [self.ca, self.cert, self.key] {
            if let Some(area) = node.get_untracked() {
                signal.set(area.value());
            }
        }
    }

    /// What is sent, or `None` while a check fails. TLS on: the typed PEM texts (empty keeps the stored ones);
    /// switched off: the stored ones cleared.
    fn input(self) -> Option<HostInput> {
        if self.invalid() {
            return None;
        }
        let pem = |(_, value): PemBox| filled(&value.get_untracked());
        let (tls_ca_pem, tls_cert_pem, tls_key_pem) = if self.use_tls.get_untracked() {
            (pem(self.ca), pem(self.cert), pem(self.key))
        } else if self.had_tls {
            (
                Some(String::new()),
                Some(String::new()),
                Some(String::new()),
            )
        } else {
            (None, None, None)
        };
        Some(HostInput {
            name: self.name.get_untracked().trim().to_owned(),
            endpoint: self.endpoint.get_untracked().trim().to_owned(),
            docker_support: self.docker_support.get_untracked(),
            tls_ca_pem,
            tls_cert_pem,
            tls_key_pem,
        })
    }
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
    let title = match &host {
        Some(host) => format!("Edit host “{}”", host.name),
        None => "Add a host".to_owned(),
    };
    let form = HostForm::new(host.as_ref());
    let is_edit = form.is_edit;
    let saving = RwSignal::new(false);

    Effect::new(move |_| {
        if let Some(input) = form.name_ref.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        form.read_inputs();
        form.errors.submitting();
        let Some(input) = form.input() else {
            return;
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
                Err(error) => form.errors.put_bad_input(&error, &FIELDS),
            }
        });
    };

    let endpoint_hint = move || match check_endpoint(&form.endpoint.get()) {
        Ok(parsed) => format!("Berth connects to {parsed}."),
        Err(_) => "unix:///var/run/docker.sock, or tcp://host:2375 (2376 with TLS).".to_owned(),
    };
    let name_length = move || form.name.with(|n| n.trim().chars().count());

    view! {
        <FormDialog
            id="host"
            title=title
            saving=saving
            form_error=form.errors.form
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
            save_disabled=Signal::derive(move || form.invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="host-name"
                label="Name"
                field=NAME
                placeholder="build-01"
                value=form.name
                node_ref=form.name_ref
                error=Signal::derive(move || form.field_error(NAME))
                hint=Signal::derive(|| "Unique; shown in lists and when placing containers.".to_owned())
                on_edit=Callback::new(move |()| form.errors.edited(NAME))
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
                value=form.endpoint
                node_ref=form.endpoint_ref
                error=Signal::derive(move || form.field_error(ENDPOINT))
                hint=Signal::derive(endpoint_hint)
                on_edit=Callback::new(move |()| form.errors.edited(ENDPOINT))
            />
            <CheckRow
                id="host-docker-support"
                checked=form.docker_support
                on_change=Callback::new(move |on| {
                    form.docker_support.set(on);
                    form.errors.form.set(None);
                })
                label=|| "Docker support"
                help=|| "Monitor this host's engine. Off: kept on record, never contacted."
            />
            <TlsSection form=form />
        </FormDialog>
    }
}

/// "Use TLS" and, when on, the CA certificate, client certificate and key (write-only; stored ones kept when
/// left empty, removed when TLS is switched off).
#[component]
fn TlsSection(form: HostForm) -> impl IntoView {
    let (use_tls, had_tls) = (form.use_tls, form.had_tls);
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
        <section class="tls-section" class:open=move || use_tls.get()>
            <CheckRow
                id="host-tls"
                checked=use_tls
                on_change=Callback::new(move |on| {
                    use_tls.set(on);
                    form.errors.form.set(None);
                    for field in [TLS_CA, TLS_CERT, TLS_KEY] {
                        form.errors.forget(field);
                    }
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
                        form.tls_on_unix()
                            .then(|| {
                                view! {
                                    <p class="field-error tls-unix">
                                        "TLS applies to tcp:// endpoints only."
                                    </p>
                                }
                            })
                    }}
                    {[
                        ("host-tls-ca", "CA certificate", "CERTIFICATE", ca_hint, TLS_CA),
                        ("host-tls-cert", "Client certificate", "CERTIFICATE", cert_hint, TLS_CERT),
                        ("host-tls-key", "Client key", "PRIVATE KEY", key_hint, TLS_KEY),
                    ]
                        .into_iter()
                        .map(|(id, label, kind, hint, field)| {
                            let (node_ref, value) = form.pem(field);
                            view! {
                                <PemField
                                    id=id
                                    label=label
                                    placeholder=format!("-----BEGIN {kind}-----")
                                    hint=hint
                                    field=field
                                    value=value
                                    node_ref=node_ref
                                    error=Signal::derive(move || form.field_error(field))
                                    on_edit=Callback::new(move |()| form.errors.edited(field))
                                />
                            }
                        })
                        .collect_view()}
                </div>
            </Show>
        </section>
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

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

    fn stored(tls: bool) -> Host {
        serde_json::from_value(serde_json::json!({
            "id": "h1", "name": "build-01", "endpoint": "tcp://10.0.0.12:2376", "dockerSupport": true,
            "maintenance": false, "tls": tls, "status": "UP", "imageCount": 0
        }))
        .unwrap()
    }

    #[test]
    fn names_endpoints_and_pem_texts_are_checked() {
        assert_eq!(check_name("build-01"), Ok(()));
        assert_eq!(check_name(" "), Err("Give the host a name.".to_owned()));
        assert!(check_endpoint("tcp://10.0.0.12:2376").is_ok());
        assert!(check_endpoint("ftp://10.0.0.12").is_err());
        assert_eq!(check_pem("", false), Ok(()));
        assert_eq!(check_pem("", true), Err("Required for TLS.".to_owned()));
        assert_eq!(check_pem(PEM, true), Ok(()));
        assert!(check_pem("MIIB", false).is_err());
    }

    #[test]
    fn stored_certificates_are_kept_replaced_or_cleared() {
        let form = HostForm::new(Some(&stored(true)));
        // TLS stays on, nothing typed: every stored PEM kept.
        let input = form.input().unwrap();
        assert_eq!((input.tls_ca_pem, input.tls_key_pem), (None, None));
        // A new CA typed: only it is sent.
        form.ca.1.set(PEM.to_owned());
        let input = form.input().unwrap();
        assert_eq!(
            (input.tls_ca_pem.as_deref(), input.tls_cert_pem),
            (Some(PEM), None)
        );
        // TLS switched off: all three cleared.
        form.use_tls.set(false);
        let input = form.input().unwrap();
        assert_eq!(input.tls_cert_pem.as_deref(), Some(""));
        assert_eq!(input.tls_key_pem.as_deref(), Some(""));
    }

    #[test]
    fn new_tls_needs_all_three_and_a_tcp_endpoint() {
        let form = HostForm::new(Some(&stored(false)));
        assert_eq!(form.input().unwrap().tls_ca_pem, None);
        form.use_tls.set(true);
        assert!(form.input().is_none());
        for (_, value) in [form.ca, form.cert, form.key] {
            value.set(PEM.to_owned());
        }
        assert!(form.input().is_some());
        form.endpoint.set("unix:///var/run/docker.sock".to_owned());
        assert!(form.tls_on_unix());
        assert!(form.input().is_none());
    }
}
