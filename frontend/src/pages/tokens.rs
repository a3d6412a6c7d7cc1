//! API tokens page (`/tokens`): list, create (secret shown once, with Copy) and revoke the user's tokens.

use std::cmp::Ordering;

use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::{
    api::{self, ApiToken, CreatedApiToken, CurrentUser},
    components::{
        alert::{Alert, AlertTone},
        clipboard::copy_text,
        dialog::ConfirmDialog,
        format::sentence,
        icons::{Icon, IconKind},
        loading::{Latest, ListPhase, ListState, LoadFailed},
        page_header::PageHeader,
        sort_header::{Sort, SortHeader},
        table_tools::ActionsHeader,
        time::Timestamp,
        toast::use_toasts,
    },
};

/// Longest token name the form accepts (the server enforces its own rules too).
const NAME_MAX: usize = berth_shared::TOKEN_NAME_MAX;

/// Client-side check of a token name, as the user types: the server's rule (trimmed, at most [`NAME_MAX`]
/// characters, no control characters).
fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("Give the token a name.".to_owned())
    } else {
        berth_shared::validate_name(berth_shared::NameKind::Token, name)
            .map_err(|error| sentence(&error.to_string()))
    }
}

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Created,
    LastUsed,
}

fn compare(sort: Sort<SortKey>, a: &ApiToken, b: &ApiToken) -> Ordering {
    let ordering = match sort.key {
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        // RFC 3339 timestamps from one server sort as text; "never used" sorts before any use.
        SortKey::Created => a.created_at.cmp(&b.created_at),
        SortKey::LastUsed => a.last_used_at.cmp(&b.last_used_at),
    };
    sort.direct(ordering.then_with(|| a.id.cmp(&b.id)))
}

/// The tokens page.
#[component]
pub fn TokensPage() -> impl IntoView {
    let toasts = use_toasts();
    let tokens = RwSignal::new(ListState::<ApiToken>::Loading);
    let sort = RwSignal::new(Sort {
        key: SortKey::Created,
        ascending: false,
    });
    let created = RwSignal::new(None::<CreatedApiToken>);

    let latest = Latest::new();
    let load = move || {
        latest.run(api::api_tokens(), move |result| {
            tokens.update(|state| state.settle(result));
        });
    };
    load();

    // Revoking: the token waiting for confirmation, and the request's state.
    let to_revoke = RwSignal::new(None::<ApiToken>);
    let revoking = RwSignal::new(false);
    let revoke_error = RwSignal::new(None::<String>);
    let confirm_revoke = Callback::new(move |()| {
        let Some(token) = to_revoke.get_untracked() else {
            return;
        };
        if revoking.get_untracked() {
            return;
        }
        revoking.set(true);
        revoke_error.set(None);
        spawn_local(async move {
            match api::revoke_api_token(&token.id).await {
                Ok(found) => {
                    tokens.update(|state| {
                        if let ListState::Loaded(list) = state {
                            list.retain(|t| t.id != token.id);
                        }
                    });
                    created.update(|shown| {
                        if shown.as_ref().is_some_and(|c| c.token.id == token.id) {
                            *shown = None;
                        }
                    });
                    to_revoke.set(None);
                    if found {
                        toasts.success(format!("Token “{}” revoked.", token.name));
                    } else {
                        toasts.success(format!("Token “{}” was already revoked.", token.name));
                    }
                }
                Err(error) => revoke_error.set(Some(error.message)),
            }
            revoking.set(false);
        });
    });
    let cancel_revoke = Callback::new(move |()| {
        if !revoking.get_untracked() {
            to_revoke.set(None);
            revoke_error.set(None);
        }
    });

    let on_created = Callback::new(move |new: CreatedApiToken| {
        tokens.update(|state| state.put(new.token.clone(), |a, b| a.id == b.id));
        created.set(Some(new));
    });

    let sorted = move || {
        let sort = sort.get();
        let mut list = tokens.with(|state| state.items().to_vec());
        list.sort_by(|a, b| compare(sort, a, b));
        list
    };

    view! {
        <PageHeader
            title="API tokens"
            description="Tokens let scripts use Berth's GraphQL API as you, with your role."
        />
        {use_context::<CurrentUser>()
            .map(|user| {
                view! {
                    <Alert tone=AlertTone::Info>
                        "A token acts as you ("<strong>{user.username().to_owned()}</strong>
                        ", " {user.role().label()} "). Revoke the ones you no longer use."
                    </Alert>
                }
            })}
        {move || {
            created
                .get()
                .map(|token| {
                    view! { <SecretBox created=token on_dismiss=Callback::new(move |()| created.set(None)) /> }
                })
        }}
        <CreateTokenForm on_created=on_created />
        <section class="section">
            <h2 class="section-title">"Your tokens"</h2>
            <div class="card table-card">
                <table id="tokens-table" class="table">
                    <thead>
                        <tr>
                            <SortHeader label="Name" key=SortKey::Name sort=sort />
                            <SortHeader label="Created" key=SortKey::Created sort=sort descending_first=true />
                            <SortHeader label="Last used" key=SortKey::LastUsed sort=sort descending_first=true />
                            <ActionsHeader label="Actions" />
                        </tr>
                    </thead>
                    <tbody>
                        <For each=sorted key=|token| token.clone() let:token>
                            <TokenRow token=token to_revoke=to_revoke />
                        </For>
                        {move || match tokens.with(ListState::phase) {
                            ListPhase::Loading => Some(view! {
                                <tr class="placeholder-row">
                                    <td colspan="4">
                                        <span class="spinner" aria-hidden="true"></span>
                                        " Loading tokens…"
                                    </td>
                                </tr>
                            }.into_any()),
                            ListPhase::Failed(error) => Some(view! {
                                <tr class="placeholder-row">
                                    <td colspan="4">
                                        <LoadFailed
                                            what="The tokens"
                                            error=error
                                            on_retry=Callback::new(move |()| {
                                                tokens.set(ListState::Loading);
                                                load();
                                            })
                                        />
                                    </td>
                                </tr>
                            }.into_any()),
                            ListPhase::Empty => Some(view! {
                                <tr class="placeholder-row empty-row">
                                    <td colspan="4">
                                        <div class="table-empty">
                                            <Icon kind=IconKind::Key />
                                            <div>
                                                <strong>"No tokens yet."</strong>
                                                " Create one above to call the API from scripts or CI."
                                            </div>
                                        </div>
                                    </td>
                                </tr>
                            }.into_any()),
                            ListPhase::List => None,
                        }}
                    </tbody>
                </table>
            </div>
        </section>
        {move || {
            to_revoke
                .get()
                .map(|token| {
                    view! {
                        <ConfirmDialog
                            title="Revoke this token?"
                            confirm_label="Revoke token"
                            danger=true
                            busy=revoking
                            error=revoke_error
                            on_confirm=confirm_revoke
                            on_cancel=cancel_revoke
                        >
                            <p>
                                "Scripts that use "<strong>"“"{token.name.clone()}"”"</strong>
                                " will be refused from now on. This cannot be undone."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.token-row`.
#[component]
fn TokenRow(token: ApiToken, to_revoke: RwSignal<Option<ApiToken>>) -> impl IntoView {
    let last_used = match token.last_used_at.clone() {
        Some(at) => view! { <Timestamp value=at /> }.into_any(),
        None => view! { <span class="muted">"Never"</span> }.into_any(),
    };
    let name = token.name.clone();
    let label = format!("Revoke token {name}");
    let id = token.id.clone();
    let created_at = token.created_at.clone();
    view! {
        <tr class="token-row" data-token-id=id>
            <td class="token-name">
                <span class="cell-icon">
                    <Icon kind=IconKind::Key />
                </span>
                <span class="strong">{name}</span>
            </td>
            <td>
                <Timestamp value=created_at />
            </td>
            <td>{last_used}</td>
            <td class="actions-col">
                <button
                    type="button"
                    class="btn btn-danger-ghost btn-sm token-revoke"
                    aria-label=label
                    on:click=move |_| to_revoke.set(Some(token.clone()))
                >
                    "Revoke"
                </button>
            </td>
        </tr>
    }
}

/// The create form: a name validated as you type (non-empty, at most 64 characters).
#[component]
fn CreateTokenForm(on_created: Callback<CreatedApiToken>) -> impl IntoView {
    let input_ref = NodeRef::<html::Input>::new();
    let name = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let creating = RwSignal::new(false);
    let server_field_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);

    let length = move || name.with(|n| n.trim().chars().count());
    let field_error = move || {
        if let Some(message) = server_field_error.get() {
            return Some(message);
        }
        let current = name.get();
        // "Required" only after the user typed something; "too long" at once.
        match validate_name(&current) {
            Err(message) if touched.get() || !current.trim().is_empty() => Some(message),
            _ => None,
        }
    };

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if creating.get_untracked() {
            return;
        }
        // Read the field itself, so scripted input and autofill count too.
        let value = input_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_else(|| name.get_untracked());
        name.set(value.clone());
        touched.set(true);
        server_field_error.set(None);
        form_error.set(None);
        if validate_name(&value).is_err() {
            if let Some(input) = input_ref.get_untracked() {
                let _ = input.focus();
            }
            return;
        }
        creating.set(true);
        spawn_local(async move {
            match api::create_api_token(value.trim()).await {
                Ok(new) => {
                    name.set(String::new());
                    touched.set(false);
                    if let Some(input) = input_ref.get_untracked() {
                        input.set_value("");
                    }
                    on_created.run(new);
                }
                Err(error) if error.is_about_field("name") => {
                    server_field_error.set(Some(error.message))
                }
                Err(error) => form_error.set(Some(error.message)),
            }
            creating.set(false);
        });
    };

    view! {
        <section class="section">
            <form class="card form-card" on:submit=on_submit novalidate>
                <div class="card-header">
                    <h2 class="card-title">"Create a token"</h2>
                    <p class="muted">
                        "Name it after where it will be used, such as " <code>"ci-deploy"</code>
                        ". Scripts send it as " <code>"Authorization: Bearer <token>"</code> "."
                    </p>
                </div>
                <div class="form-row">
                    <div class="field grow">
                        <label for="token-name">"Name"</label>
                        <input
                            id="token-name"
                            name="name"
                            class="input"
                            type="text"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="ci-deploy"
                            node_ref=input_ref
                            class:invalid=move || field_error().is_some()
                            aria-invalid=move || field_error().is_some().to_string()
                            aria-describedby="token-name-help"
                            on:input=move |event| {
                                name.set(event_target_value(&event));
                                touched.set(true);
                                server_field_error.set(None);
                            }
                        />
                        <div class="field-foot">
                            <span
                                id="token-name-help"
                                class=move || if field_error().is_some() { "field-error" } else { "field-hint" }
                            >
                                {move || field_error().unwrap_or_else(|| "Shown in the list; the secret is not.".to_owned())}
                            </span>
                            <span class="counter" class:over=move || { length() > NAME_MAX }>
                                {move || format!("{}/{NAME_MAX}", length())}
                            </span>
                        </div>
                    </div>
                    <button
                        id="token-create"
                        type="submit"
                        class="btn btn-primary"
                        disabled=move || creating.get()
                    >
                        {move || if creating.get() { "Creating…" } else { "Create token" }}
                    </button>
                </div>
                {move || form_error.get().map(|message| view! { <Alert tone=AlertTone::Error>{message}</Alert> })}
            </form>
        </section>
    }
}

/// The new token's secret, shown once, with a Copy button.
#[component]
fn SecretBox(created: CreatedApiToken, on_dismiss: Callback<()>) -> impl IntoView {
    let secret_ref = NodeRef::<html::Code>::new();
    let copy_state = RwSignal::new(None::<Result<(), String>>);
    let secret = created.secret.clone();
    let copy = move |_| {
        let secret = secret.clone();
        let element = secret_ref.get_untracked().map(web_sys::Element::from);
        spawn_local(async move {
            let result = copy_text(&secret, element).await;
            copy_state.set(Some(result));
            set_timeout(
                move || {
                    if copy_state
                        .try_get_untracked()
                        .flatten()
                        .is_some_and(|r| r.is_ok())
                    {
                        copy_state.set(None);
                    }
                },
                std::time::Duration::from_secs(3),
            );
        });
    };
    view! {
        <section class="secret-box" role="status" aria-live="polite">
            <div class="secret-head">
                <Icon kind=IconKind::Key />
                <strong>"Token “" {created.token.name.clone()} "” created"</strong>
            </div>
            <p>
                "Copy the secret now and keep it somewhere safe. "
                <strong>"It will not be shown again."</strong>
            </p>
            <div class="secret-row">
                <code id="token-secret" class="secret" node_ref=secret_ref>
                    {created.secret.clone()}
                </code>
                <button id="token-copy" type="button" class="btn btn-secondary" on:click=copy>
                    {move || match copy_state.get() {
                        Some(Ok(())) => view! { <Icon kind=IconKind::Check /> <span>"Copied"</span> }.into_any(),
                        _ => view! { <Icon kind=IconKind::Copy /> <span>"Copy"</span> }.into_any(),
                    }}
                </button>
            </div>
            {move || match copy_state.get() {
                Some(Err(message)) => Some(view! { <p class="field-error">{message}</p> }),
                _ => None,
            }}
            <div class="secret-actions">
                <button type="button" class="btn btn-ghost btn-sm" on:click=move |_| on_dismiss.run(())>
                    "I have saved it"
                </button>
            </div>
        </section>
    }
}
