//! The add/edit registry dialog (`form#registry-dialog`): name, URL (checked as you type: https, or http when
//! marked insecure), kind (Registry v2 or a Docker Hub namespace), credentials (the password is write-only),
//! and the refresh interval. Server errors that name a field (`extensions.field`) appear under it, others at the
//! top (`#registry-form-error`).

use std::collections::BTreeMap;

use berth_shared::{NameKind, REGISTRY_NAME_MAX, validate_name, validate_registry_url_text};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    dialog::FormDialog,
    field::{CheckRow, TextField},
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

/// The add (`registry: None`) or edit dialog. Calls `on_saved` with the registry as the server saved it.
#[component]
pub fn RegistryDialog(
    /// The registry to edit; `None` adds a new one.
    registry: Option<Registry>,
    on_saved: Callback<Registry>,
    on_close: Callback<()>,
) -> impl IntoView {
    let registry_id = registry.as_ref().map(|r| r.id.clone());
    let is_edit = registry.is_some();
    let has_password = registry.as_ref().is_some_and(|r| r.has_password);
    let title = match &registry {
        Some(registry) => format!("Edit registry “{}”", registry.name),
        None => "Add a registry".to_owned(),
    };

    let name = RwSignal::new(
        registry
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
    );
    let url = RwSignal::new(registry.as_ref().map(|r| r.url.clone()).unwrap_or_default());
    let kind = RwSignal::new(registry.as_ref().map_or(RegistryKind::V2, |r| r.kind));
    let namespace = RwSignal::new(
        registry
            .as_ref()
            .and_then(|r| r.namespace.clone())
            .unwrap_or_default(),
    );
    let username = RwSignal::new(
        registry
            .as_ref()
            .and_then(|r| r.username.clone())
            .unwrap_or_default(),
    );
    let password = RwSignal::new(String::new());
    let clear_password = RwSignal::new(false);
    let insecure = RwSignal::new(registry.as_ref().is_some_and(|r| r.insecure));
    let interval = RwSignal::new(
        registry
            .as_ref()
            .map_or(DEFAULT_INTERVAL, |r| r.refresh_interval_seconds)
            .to_string(),
    );
    // "Required" messages wait until the user touched the field or tried to save.
    let touched = RwSignal::new(BTreeMap::<&'static str, bool>::new());
    let submitted = RwSignal::new(false);
    let server_errors = RwSignal::new(BTreeMap::<&'static str, String>::new());
    let form_error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    let url_ref = NodeRef::<html::Input>::new();
    let namespace_ref = NodeRef::<html::Input>::new();
    let username_ref = NodeRef::<html::Input>::new();
    let password_ref = NodeRef::<html::Input>::new();
    let interval_ref = NodeRef::<html::Input>::new();

    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let shown = move |field: &'static str| {
        submitted.get() || touched.with(|t| t.get(field).copied().unwrap_or(false))
    };
    let is_hub = move || kind.get() == RegistryKind::DockerHub;

    // Client-side problems of each field (whether shown yet or not).
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            NAME => check_name(&name.get()).err(),
            URL => check_url(&url.get(), insecure.get()).err(),
            NAMESPACE if is_hub() => check_namespace(&namespace.get()).err(),
            INTERVAL => check_interval(&interval.get()).err(),
            _ => None,
        }
    };
    // What is shown under a field: the server's word first, then ours (once it is fair to show it). A URL that
    // is filled in but wrong is shown at once ("validate as you type").
    let field_error = move |field: &'static str| -> Option<String> {
        if let Some(message) = server_errors.with(|errors| errors.get(field).cloned()) {
            return Some(message);
        }
        let value_empty = match field {
            NAME => name.with(|v| v.trim().is_empty()),
            URL => url.with(|v| v.trim().is_empty()),
            NAMESPACE => namespace.with(|v| v.trim().is_empty()),
            INTERVAL => interval.with(|v| v.trim().is_empty()),
            _ => true,
        };
        client_error(field).filter(|_| !value_empty || shown(field))
    };
    let invalid = move || FIELDS.iter().any(|field| client_error(field).is_some());

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
        for (node, signal) in [
            (name_ref, name),
            (url_ref, url),
            (namespace_ref, namespace),
            (username_ref, username),
            (password_ref, password),
            (interval_ref, interval),
        ] {
            if let Some(input) = node.get_untracked() {
                signal.set(input.value());
            }
        }
        submitted.set(true);
        form_error.set(None);
        server_errors.set(BTreeMap::new());
        if FIELDS.iter().any(|field| client_error(field).is_some()) {
            return;
        }
        let Ok(refresh_interval_seconds) = check_interval(&interval.get_untracked()) else {
            return;
        };
        let kind_now = kind.get_untracked();
        let password_now = password.get_untracked();
        let password = if is_edit && has_password && clear_password.get_untracked() {
            Some(String::new())
        } else if password_now.is_empty() {
            // Add: no password. Edit: keep the stored one.
            None
        } else {
            Some(password_now)
        };
        let input = RegistryInput {
            name: name.get_untracked().trim().to_owned(),
            url: url.get_untracked().trim().to_owned(),
            kind: kind_now,
            namespace: if kind_now == RegistryKind::DockerHub {
                filled(&namespace.get_untracked())
            } else {
                None
            },
            username: filled(&username.get_untracked()),
            password,
            insecure: insecure.get_untracked(),
            refresh_interval_seconds,
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
                Err(error) => match FIELDS.into_iter().find(|field| error.is_about_field(field)) {
                    Some(field) => server_errors.update(|errors| {
                        errors.insert(field, sentence(&error.message));
                    }),
                    None => form_error.set(Some(error.message)),
                },
            }
        });
    };

    let name_length = move || name.with(|n| n.trim().chars().count());
    let url_hint = move || {
        if is_hub() {
            "Docker Hub: https://hub.docker.com.".to_owned()
        } else if insecure.get() {
            "https://registry.example.com, or http://host:5000 (insecure).".to_owned()
        } else {
            "https://registry.example.com; plain http only when marked insecure.".to_owned()
        }
    };
    let interval_hint = move || match check_interval(&interval.get()) {
        Ok(seconds) => format!(
            "Seconds; 0 = only on demand. Now: {}.",
            describe_interval(seconds)
        ),
        Err(_) => "Seconds; 0 = only on demand.".to_owned(),
    };
    let password_hint = move || {
        if clear_password.get() {
            "Saving removes the stored password.".to_owned()
        } else if has_password {
            "A password is stored. Write-only: leave empty to keep it, or type a new one."
                .to_owned()
        } else {
            "Optional. Write-only: stored encrypted, never shown again.".to_owned()
        }
    };

    // One text input with its label, hint and error (and the name's length).
    let text_field = move |id: &'static str,
                           label: &'static str,
                           field: &'static str,
                           input_type: &'static str,
                           placeholder: &'static str,
                           mono: bool,
                           value: RwSignal<String>,
                           node_ref: NodeRef<html::Input>,
                           hint: Signal<String>| {
        view! {
            <TextField
                id=id
                label=label
                field=field
                input_type=input_type
                placeholder=placeholder
                mono=mono
                value=value
                node_ref=node_ref
                disabled=Signal::derive(move || field == PASSWORD && clear_password.get())
                error=Signal::derive(move || field_error(field))
                hint=hint
                on_edit=Callback::new(move |()| edited(field))
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
    };

    view! {
        <FormDialog
            id="registry"
            title=title
            saving=saving
            form_error=form_error
            note=Signal::derive(move || if saving.get() { "Saving…" } else { "Saving starts a refresh of the listing." }.to_owned())
            save_label=Signal::derive(move || if is_edit { "Save changes" } else { "Add registry" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            {text_field(
                "registry-name",
                "Name",
                NAME,
                "text",
                "team-registry",
                false,
                name,
                name_ref,
                Signal::derive(|| "Unique; shown in lists.".to_owned()),
            )}
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
                                && url.with_untracked(|u| u.trim().is_empty())
                            {
                                url.set(DOCKER_HUB_URL.to_owned());
                            }
                            edited(KIND);
                        }
                    >
                        <option value="V2">"Registry v2 / OCI"</option>
                        <option value="DOCKER_HUB">"Docker Hub namespace"</option>
                    </select>
                    <div class="field-foot">
                        <span class=move || {
                            if field_error(KIND).is_some() { "field-error" } else { "field-hint" }
                        }>
                            {move || {
                                field_error(KIND)
                                    .unwrap_or_else(|| {
                                        if is_hub() {
                                            "Lists one user's or organisation's repositories.".to_owned()
                                        } else {
                                            "Any registry speaking the v2 API.".to_owned()
                                        }
                                    })
                            }}
                        </span>
                    </div>
                </div>
                <Show when=is_hub>
                    {text_field(
                        "registry-namespace",
                        "Namespace",
                        NAMESPACE,
                        "text",
                        "library",
                        true,
                        namespace,
                        namespace_ref,
                        Signal::derive(|| "The Docker Hub user or organisation.".to_owned()),
                    )}
                </Show>
            </div>
            {text_field(
                "registry-url",
                "URL",
                URL,
                "url",
                "https://registry.example.com",
                true,
                url,
                url_ref,
                Signal::derive(url_hint),
            )}
            <div class="field-pair">
                {text_field(
                    "registry-username",
                    "Username",
                    USERNAME,
                    "text",
                    "optional",
                    false,
                    username,
                    username_ref,
                    Signal::derive(|| "Leave empty for anonymous access.".to_owned()),
                )}
                {text_field(
                    "registry-password",
                    "Password or token",
                    PASSWORD,
                    "password",
                    if has_password { "•••••••• (stored)" } else { "optional" },
                    false,
                    password,
                    password_ref,
                    Signal::derive(password_hint),
                )}
            </div>
            {(is_edit && has_password)
                .then(|| {
                    view! {
                        <CheckRow
                            id="registry-clear-password"
                            checked=clear_password
                            on_change=Callback::new(move |on| {
                                clear_password.set(on);
                                if on {
                                    password.set(String::new());
                                }
                                edited(PASSWORD);
                            })
                            label=|| "Clear the stored password"
                            help=|| "Berth forgets the password and logs in without one."
                        />
                    }
                })}
            <CheckRow
                id="registry-insecure"
                checked=insecure
                on_change=Callback::new(move |on| {
                    insecure.set(on);
                    edited(INSECURE);
                    server_errors.update(|errors| {
                        errors.remove(URL);
                    });
                })
                label=|| "Insecure"
                help=|| "Allow plain http and unverified TLS certificates (a test or local registry)."
            >
                {move || {
                    field_error(INSECURE)
                        .map(|message| view! { <span class="field-error check-error">{message}</span> })
                }}
            </CheckRow>
            {text_field(
                "registry-interval",
                "Refresh interval",
                INTERVAL,
                "number",
                "3600",
                false,
                interval,
                interval_ref,
                Signal::derive(interval_hint),
            )}
        </FormDialog>
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

    #[test]
    fn an_interval_reads_in_units() {
        assert_eq!(describe_interval(0), "only on demand");
        assert_eq!(describe_interval(3600), "every 1 h");
        assert_eq!(describe_interval(5400), "every 1 h 30 min");
        assert_eq!(describe_interval(90_061), "every 1 d 1 h 1 min 1 s");
    }
}
