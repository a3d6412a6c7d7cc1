//! The add/edit registry dialog (`form#registry-dialog`): name, URL (checked as you type: https, or http when
//! marked insecure), kind (Registry v2 or a Docker Hub namespace), credentials (the password is write-only),
//! and the refresh interval. Server errors that name a field (`extensions.field`) appear under it, others at the
//! top (`#registry-form-error`).

use berth_shared::{NameKind, REGISTRY_NAME_MAX, validate_name, validate_registry_url_text};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    dialog::FormDialog,
    field::{CheckRow, FieldErrors, TextField},
    format::sentence,
};
use crate::api::{self, Registry, RegistryInput, RegistryKind};

/// Longest registry name the server accepts.
const NAME_MAX: usize = REGISTRY_NAME_MAX;
/// What the URL field is filled with when Docker Hub is chosen and the field is empty.
const DOCKER_HUB_URL: &str = "https://hub.docker.com";
/// The interval a new registry starts with (one hour).
const DEFAULT_INTERVAL: i64 = 3600;

/// The input fields the server may name in `extensions.field`.
const NAME: &str = "name";
const URL: &str = "url";
const KIND: &str = "kind";
const NAMESPACE: &str = "namespace";
const USERNAME: &str = "username";
const PASSWORD: &str = "password";
const INSECURE: &str = "insecure";
const INTERVAL: &str = "refreshIntervalSeconds";
const FIELDS: [&str; 8] = [
    NAME, URL, KIND, NAMESPACE, USERNAME, PASSWORD, INSECURE, INTERVAL,
];

/// Client-side check of a registry name: the server's rule (trimmed, at most [`NAME_MAX`] characters, no control
/// characters).
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("Give the registry a name.".to_owned())
    } else {
        validate_name(NameKind::Registry, name).map_err(|error| sentence(&error.to_string()))
    }
}

/// Client-side check of the URL, mirroring the server's rules: http(s), a host, no credentials, no query.
fn check_url(url: &str, insecure: bool) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("Enter the registry's URL, e.g. https://registry.example.com.".to_owned());
    }
    validate_registry_url_text(url).map_err(|error| sentence(&error.to_string()))?;
    if url.chars().any(char::is_whitespace) {
        return Err("A URL has no spaces.".to_owned());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        if !insecure {
            return Err(
                "Plain http is allowed only for a registry marked insecure: tick “Insecure” below, or use https://."
                    .to_owned(),
            );
        }
        rest
    } else if let Some((scheme, _)) = lower.split_once("://") {
        return Err(format!(
            "The URL must start with https:// or http://, not {scheme}://."
        ));
    } else {
        return Err("The URL must start with https:// (or http:// when insecure).".to_owned());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "Put credentials in the username and password fields, not in the URL.".to_owned(),
        );
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:5000.
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':').unwrap_or_default()),
            None => return Err("The IPv6 address misses its closing ].".to_owned()),
        },
        None => authority.split_once(':').unwrap_or((authority, "")),
    };
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return Err("The port must be a number.".to_owned());
    }
    if host.is_empty() {
        return Err("The URL has no host.".to_owned());
    }
    if rest.contains(['?', '#']) {
        return Err("The URL must not have a query or fragment.".to_owned());
    }
    Ok(())
}

/// A Docker Hub namespace: required, lowercase letters, digits, '-', '_' and '.'.
fn check_namespace(namespace: &str) -> Result<(), String> {
    let namespace = namespace.trim();
    if namespace.is_empty() {
        Err("Enter the user or organisation whose repositories to list.".to_owned())
    } else if !namespace
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
    {
        Err("Lowercase letters, digits, '-', '_' and '.' only.".to_owned())
    } else {
        Ok(())
    }
}

/// The refresh interval: whole seconds, 0 or more.
fn check_interval(interval: &str) -> Result<i64, String> {
    let interval = interval.trim();
    if interval.is_empty() {
        return Err("Enter a number of seconds (0 = only on demand).".to_owned());
    }
    match interval.parse::<i64>() {
        Ok(seconds) if seconds >= 0 && seconds <= i64::from(i32::MAX) => Ok(seconds),
        Ok(seconds) if seconds < 0 => Err("0 (only on demand) or more seconds.".to_owned()),
        _ => Err("A whole number of seconds.".to_owned()),
    }
}

/// "every 1 h 30 min" for an interval in seconds; "only on demand" for 0.
pub fn describe_interval(seconds: i64) -> String {
    if seconds <= 0 {
        return "only on demand".to_owned();
    }
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    format!("every {}", parts.join(" "))
}

/// `Some(text)` for a filled field, `None` for an empty one.
fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The dialog's values (one signal per field, and the inputs they come from), what the stored registry had, and
/// the errors shown.
#[derive(Clone, Copy)]
struct RegistryForm {
    name: RwSignal<String>,
    url: RwSignal<String>,
    kind: RwSignal<RegistryKind>,
    namespace: RwSignal<String>,
    username: RwSignal<String>,
    password: RwSignal<String>,
    clear_password: RwSignal<bool>,
    insecure: RwSignal<bool>,
    interval: RwSignal<String>,
    inputs: [(NodeRef<html::Input>, RwSignal<String>); 6],
    is_edit: bool,
    has_password: bool,
    errors: FieldErrors,
}

impl RegistryForm {
    /// The fields of `registry` (a new v2 registry refreshed hourly without one).
    fn new(registry: Option<&Registry>) -> Self {
        let text = |read: fn(&Registry) -> Option<String>| {
            RwSignal::new(registry.and_then(read).unwrap_or_default())
        };
        let name = text(|r| Some(r.name.clone()));
        let url = text(|r| Some(r.url.clone()));
        let namespace = text(|r| r.namespace.clone());
        let username = text(|r| r.username.clone());
        let password = RwSignal::new(String::new());
        let interval = RwSignal::new(
            registry
                .map_or(DEFAULT_INTERVAL, |r| r.refresh_interval_seconds)
                .to_string(),
        );
        let input = NodeRef::<html::Input>::new;
        Self {
            name,
            url,
            kind: RwSignal::new(registry.map_or(RegistryKind::V2, |r| r.kind)),
            namespace,
            username,
            password,
            clear_password: RwSignal::new(false),
            insecure: RwSignal::new(registry.is_some_and(|r| r.insecure)),
            interval,
            inputs: [
                (input(), name),
                (input(), url),
                (input(), namespace),
                (input(), username),
                (input(), password),
                (input(), interval),
            ],
            is_edit: registry.is_some(),
            has_password: registry.is_some_and(|r| r.has_password),
            errors: FieldErrors::new(),
        }
    }

    /// The input element of `field`'s text box and its value (the interval for a field that has none).
    fn text_box(self, field: &'static str) -> (NodeRef<html::Input>, RwSignal<String>) {
        let at = match field {
            NAME => 0,
            URL => 1,
            NAMESPACE => 2,
            USERNAME => 3,
            PASSWORD => 4,
            _ => 5,
        };
        self.inputs[at]
    }

    fn is_hub(self) -> bool {
        self.kind.get() == RegistryKind::DockerHub
    }

    /// What the checks as you type say about `field` (the namespace only for Docker Hub).
    fn client_error(self, field: &'static str) -> Option<String> {
        match field {
            NAME => check_name(&self.name.get()).err(),
            URL => check_url(&self.url.get(), self.insecure.get()).err(),
            NAMESPACE if self.is_hub() => check_namespace(&self.namespace.get()).err(),
            INTERVAL => check_interval(&self.interval.get()).err(),
            _ => None,
        }
    }

    /// What is shown under a field: the server's word first, then ours ("required" once it is fair to say);
    /// a filled-in field that is wrong shows at once ("validate as you type").
    fn field_error(self, field: &'static str) -> Option<String> {
        let empty = match field {
            NAME => self.name.with(|v| v.trim().is_empty()),
            URL => self.url.with(|v| v.trim().is_empty()),
            NAMESPACE => self.namespace.with(|v| v.trim().is_empty()),
            INTERVAL => self.interval.with(|v| v.trim().is_empty()),
            _ => true,
        };
        self.errors.shown(field, self.client_error(field), empty)
    }

    fn invalid(self) -> bool {
        FIELDS
            .iter()
            .any(|field| self.client_error(field).is_some())
    }

    /// Reads the inputs themselves, so autofill and scripted input count too.
    fn read_inputs(self) {
        for (node, signal) in self.inputs {
            if let Some(input) = node.get_untracked() {
                signal.set(input.value());
            }
        }
    }

    /// What is sent, or `None` while a check fails. The password is write-only: typed → replaced, cleared →
    /// removed, empty → kept (none on add).
    fn input(self) -> Option<RegistryInput> {
        if self.invalid() {
            return None;
        }
        let refresh_interval_seconds = check_interval(&self.interval.get_untracked()).ok()?;
        let kind = self.kind.get_untracked();
        let typed = self.password.get_untracked();
        let password = if self.is_edit && self.has_password && self.clear_password.get_untracked() {
            Some(String::new())
        } else if typed.is_empty() {
            None
        } else {
            Some(typed)
        };
        Some(RegistryInput {
            name: self.name.get_untracked().trim().to_owned(),
            url: self.url.get_untracked().trim().to_owned(),
            kind,
            namespace: if kind == RegistryKind::DockerHub {
                filled(&self.namespace.get_untracked())
            } else {
                None
            },
            username: filled(&self.username.get_untracked()),
            password,
            insecure: self.insecure.get_untracked(),
            refresh_interval_seconds,
        })
    }
}

/// The add (`registry: None`) or edit dialog. Calls `on_saved` with the registry as the server saved it.
#[component]
pub fn RegistryDialog(
    /// The registry to edit; `None` adds a new one.
    registry: Option<Registry>,
    on_saved: Callback<Registry>,
    on_close: Callback<()>,
) -> impl IntoView {
    let registry_id = registry.as_ref().map(|r| r.id.clone());
    let title = match &registry {
        Some(registry) => format!("Edit registry “{}”", registry.name),
        None => "Add a registry".to_owned(),
    };
    let form = RegistryForm::new(registry.as_ref());
    let is_edit = form.is_edit;
    let saving = RwSignal::new(false);

    Effect::new(move |_| {
        if let Some(input) = form.text_box(NAME).0.get() {
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
        let registry_id = registry_id.clone();
        spawn_local(async move {
            let result = match &registry_id {
                Some(id) => api::update_registry(id, &input).await,
                None => api::add_registry(&input).await,
            };
            // The dialog may be gone (closed by a parent) when the answer arrives.
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(registry) => on_saved.run(registry),
                Err(error) => form.errors.put_bad_input(&error, &FIELDS),
            }
        });
    };

    let url_hint = move || {
        if form.is_hub() {
            "Docker Hub: https://hub.docker.com."
        } else if form.insecure.get() {
            "https://registry.example.com, or http://host:5000 (insecure)."
        } else {
            "https://registry.example.com; plain http only when marked insecure."
        }
        .to_owned()
    };
    let interval_hint = move || match check_interval(&form.interval.get()) {
        Ok(seconds) => format!(
            "Seconds; 0 = only on demand. Now: {}.",
            describe_interval(seconds)
        ),
        Err(_) => "Seconds; 0 = only on demand.".to_owned(),
    };

    view! {
        <FormDialog
            id="registry"
            title=title
            saving=saving
            form_error=form.errors.form
            note=Signal::derive(move || if saving.get() { "Saving…" } else { "Saving starts a refresh of the listing." }.to_owned())
            save_label=Signal::derive(move || if is_edit { "Save changes" } else { "Add registry" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(move || form.invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <RegistryText form=form id="registry-name" label="Name" field=NAME placeholder="team-registry"
                hint=Signal::derive(|| "Unique; shown in lists.".to_owned()) />
            <KindAndNamespace form=form />
            <RegistryText form=form id="registry-url" label="URL" field=URL input_type="url"
                placeholder="https://registry.example.com" mono=true hint=Signal::derive(url_hint) />
            <Credentials form=form />
            <CheckRow
                id="registry-insecure"
                checked=form.insecure
                on_change=Callback::new(move |on| {
                    form.insecure.set(on);
                    form.errors.edited(INSECURE);
                    // The URL's check depends on it: the server's word on the URL no longer holds.
                    form.errors.forget(URL);
                })
                label=|| "Insecure"
                help=|| "Allow plain http and unverified TLS certificates (a test or local registry)."
            >
                {move || {
                    form.field_error(INSECURE)
                        .map(|message| view! { <span class="field-error check-error">{message}</span> })
                }}
            </CheckRow>
            <RegistryText form=form id="registry-interval" label="Refresh interval" field=INTERVAL
                input_type="number" placeholder="3600" hint=Signal::derive(interval_hint) />
        </FormDialog>
    }
}

/// One text field of the dialog with its label, hint and error (and, for the name, its length).
#[component]
fn RegistryText(
    form: RegistryForm,
    id: &'static str,
    label: &'static str,
    field: &'static str,
    #[prop(optional)] input_type: Option<&'static str>,
    placeholder: &'static str,
    #[prop(optional)] mono: bool,
    hint: Signal<String>,
) -> impl IntoView {
    let (node_ref, value) = form.text_box(field);
    let name_length = move || form.name.with(|n| n.trim().chars().count());
    view! {
        <TextField
            id=id
            label=label
            field=field
            input_type=input_type.unwrap_or("text")
            placeholder=placeholder
            mono=mono
            value=value
            node_ref=node_ref
            disabled=Signal::derive(move || field == PASSWORD && form.clear_password.get())
            error=Signal::derive(move || form.field_error(field))
            hint=hint
            on_edit=Callback::new(move |()| form.errors.edited(field))
        >
            {(field == NAME)
                .then(|| {
                    view! {
                        <span class="counter" class:over=move || { name_length() > NAME_MAX }>
                            {move || format!("{}/{NAME_MAX}", name_length())}
                        </span>
                    }
                })}
        </TextField>
    }
}

/// The kind (Registry v2 or a Docker Hub namespace; choosing Docker Hub fills an empty URL) and, for Docker Hub,
/// the namespace.
#[component]
fn KindAndNamespace(form: RegistryForm) -> impl IntoView {
    let kind = form.kind;
    view! {
        <div class="field-pair">
            <div class="field" data-field=KIND>
                <label for="registry-kind">"Kind"</label>
                <select
                    id="registry-kind"
                    name="kind"
                    class="input select"
                    prop:value=move || kind.get().as_str()
                    on:change=move |event| {
                        let chosen: RegistryKind = event_target_value(&event).parse().unwrap_or_default();
                        kind.set(chosen);
                        if chosen == RegistryKind::DockerHub
                            && form.url.with_untracked(|u| u.trim().is_empty())
                        {
                            form.url.set(DOCKER_HUB_URL.to_owned());
                        }
                        form.errors.edited(KIND);
                    }
                >
                    <option value="V2">"Registry v2 / OCI"</option>
                    <option value="DOCKER_HUB">"Docker Hub namespace"</option>
                </select>
                <div class="field-foot">
                    <span class=move || {
                        if form.field_error(KIND).is_some() { "field-error" } else { "field-hint" }
                    }>
                        {move || {
                            form.field_error(KIND)
                                .unwrap_or_else(|| {
                                    if form.is_hub() {
                                        "Lists one user's or organisation's repositories.".to_owned()
                                    } else {
                                        "Any registry speaking the v2 API.".to_owned()
                                    }
                                })
                        }}
                    </span>
                </div>
            </div>
            <Show when=move || form.is_hub()>
                <RegistryText form=form id="registry-namespace" label="Namespace" field=NAMESPACE
                    placeholder="library" mono=true
                    hint=Signal::derive(|| "The Docker Hub user or organisation.".to_owned()) />
            </Show>
        </div>
    }
}

/// Username and the write-only password (a stored one can be cleared).
#[component]
fn Credentials(form: RegistryForm) -> impl IntoView {
    let has_password = form.has_password;
    let password_hint = move || {
        if form.clear_password.get() {
            "Saving removes the stored password."
        } else if has_password {
            "A password is stored. Write-only: leave empty to keep it, or type a new one."
        } else {
            "Optional. Write-only: stored encrypted, never shown again."
        }
        .to_owned()
    };
    view! {
        <div class="field-pair">
            <RegistryText form=form id="registry-username" label="Username" field=USERNAME
                placeholder="optional"
                hint=Signal::derive(|| "Leave empty for anonymous access.".to_owned()) />
            <RegistryText form=form id="registry-password" label="Password or token" field=PASSWORD
                input_type="password"
                placeholder=if has_password { "•••••••• (stored)" } else { "optional" }
                hint=Signal::derive(password_hint) />
        </div>
        {(form.is_edit && has_password)
            .then(|| {
                view! {
                    <CheckRow
                        id="registry-clear-password"
                        checked=form.clear_password
                        on_change=Callback::new(move |on| {
                            form.clear_password.set(on);
                            if on {
                                form.password.set(String::new());
                            }
                            form.errors.edited(PASSWORD);
                        })
                        label=|| "Clear the stored password"
                        help=|| "Berth forgets the password and logs in without one."
                    />
                }
            })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_https_unless_the_registry_is_marked_insecure() {
        assert_eq!(check_url(" https://registry.example.com ", false), Ok(()));
        assert_eq!(check_url("https://[::1]:5000/v2", false), Ok(()));
        assert!(check_url("http://localhost:5000", false).is_err());
        assert_eq!(check_url("http://localhost:5000", true), Ok(()));
        assert_eq!(
            check_url("ftp://example.com", true),
            Err("The URL must start with https:// or http://, not ftp://.".to_owned())
        );
        assert!(check_url("registry.example.com", false).is_err());
        assert!(check_url("", false).is_err());
    }

    #[test]
    fn a_url_has_a_host_a_numeric_port_and_no_credentials_or_query() {
        assert_eq!(
            check_url("https://user:secret@registry.example.com", false),
            Err("Put credentials in the username and password fields, not in the URL.".to_owned())
        );
        assert_eq!(
            check_url("https://registry.example.com:http", false),
            Err("The port must be a number.".to_owned())
        );
        assert_eq!(
            check_url("https://:5000", false),
            Err("The URL has no host.".to_owned())
        );
        assert!(check_url("https://[::1:5000", false).is_err());
        assert!(check_url("https://registry.example.com/?page=2", false).is_err());
        assert!(check_url("https://registry example.com", false).is_err());
    }

    #[test]
    fn names_namespaces_and_intervals_are_checked() {
        assert_eq!(check_name("local"), Ok(()));
        assert_eq!(
            check_name("  "),
            Err("Give the registry a name.".to_owned())
        );
        assert!(check_name(&"r".repeat(NAME_MAX + 1)).is_err());
        assert_eq!(check_namespace("library"), Ok(()));
        assert!(check_namespace("").is_err());
        assert!(check_namespace("Library").is_err());
        assert_eq!(check_interval(" 3600 "), Ok(3600));
        assert_eq!(check_interval("0"), Ok(0));
        assert!(check_interval("-1").is_err());
        assert!(check_interval("1h").is_err());
        assert!(check_interval("99999999999").is_err());
    }

    fn stored(has_password: bool) -> Registry {
        serde_json::from_value(serde_json::json!({
            "id": "r1", "name": "team", "url": "https://registry.example.com", "kind": "V2",
            "hasPassword": has_password, "insecure": false, "refreshIntervalSeconds": 60,
            "status": "OK", "repositoryCount": 0, "tagCount": 0
        }))
        .unwrap()
    }

    #[test]
    fn the_password_is_write_only() {
        // Edit, a password stored: empty keeps it, typed replaces it, "clear" removes it.
        let form = RegistryForm::new(Some(&stored(true)));
        assert_eq!(form.input().unwrap().password, None);
        form.password.set("new".to_owned());
        assert_eq!(form.input().unwrap().password.as_deref(), Some("new"));
        form.clear_password.set(true);
        assert_eq!(form.input().unwrap().password.as_deref(), Some(""));
        // Add: an empty password is none at all.
        let form = RegistryForm::new(None);
        form.name.set("local".to_owned());
        form.url.set("https://registry.example.com".to_owned());
        let input = form.input().unwrap();
        assert_eq!(
            (input.password, input.refresh_interval_seconds),
            (None, DEFAULT_INTERVAL)
        );
    }

    #[test]
    fn nothing_is_sent_while_a_check_fails_and_the_namespace_only_for_docker_hub() {
        let form = RegistryForm::new(Some(&stored(false)));
        form.namespace.set("acme".to_owned());
        assert_eq!(form.input().unwrap().namespace, None);
        form.kind.set(RegistryKind::DockerHub);
        assert_eq!(form.input().unwrap().namespace.as_deref(), Some("acme"));
        form.namespace.set("Acme".to_owned());
        assert!(form.invalid());
        assert!(form.input().is_none());
        form.namespace.set("acme".to_owned());
        form.url.set("http://registry.example.com".to_owned());
        assert!(form.input().is_none());
        form.insecure.set(true);
        assert!(form.input().unwrap().insecure);
    }

    #[test]
    fn an_interval_reads_in_units() {
        assert_eq!(describe_interval(0), "only on demand");
        assert_eq!(describe_interval(3600), "every 1 h");
        assert_eq!(describe_interval(5400), "every 1 h 30 min");
        assert_eq!(describe_interval(90_061), "every 1 d 1 h 1 min 1 s");
    }
}
