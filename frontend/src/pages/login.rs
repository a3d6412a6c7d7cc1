//! Login page (`/login`): username and password; on success, on to where the user was going.

use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{
    api,
    app::{HOME, replace, use_session},
    components::icons::{Icon, IconKind},
};

/// Only local paths are followed after login (no `//evil.example`, no loop back to `/login`).
fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.starts_with("/login") =>
        {
            path
        }
        _ => HOME.to_owned(),
    }
}

/// The sign-in form. Stable ids: `#username`, `#password`, `#login-submit`, `#login-error`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let next = safe_next(use_query_map().with_untracked(|query| query.get("next")));
    // While the user types, the pages' files arrive (the first page's first), so logging in does not wait for
    // them; the form itself came with the main module only.
    crate::routes::preload_pages();

    let username_ref = NodeRef::<html::Input>::new();
    let password_ref = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let submitting = RwSignal::new(false);

    // Someone already logged in (another tab, a reload) goes straight on.
    {
        let navigate = navigate.clone();
        let next = next.clone();
        spawn_local(async move {
            if let Ok(user) = api::me_quiet().await
                && !submitting.try_get_untracked().unwrap_or(true)
            {
                session.user.set(Some(user));
                navigate(&next, replace());
            }
        });
    }

    Effect::new(move |_| {
        if let Some(input) = username_ref.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        // Read the fields themselves, so that autofill and scripted input count too.
        let username = username_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        let password = password_ref
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        if username.trim().is_empty() || password.is_empty() {
            error.set(Some("Enter your username and password.".to_owned()));
            return;
        }
        error.set(None);
        submitting.set(true);
        let navigate = navigate.clone();
        let next = next.clone();
        spawn_local(async move {
            match api::login(&username, &password).await {
                Ok(user) => {
                    session.user.set(Some(user));
                    navigate(&next, replace());
                }
                Err(failure) => {
                    error.set(Some(failure.message));
                    submitting.set(false);
                    if let Some(input) = password_ref.get_untracked() {
                        input.set_value("");
                        let _ = input.focus();
                    }
                }
            }
        });
    };

    view! {
        <div class="login-page">
            <div class="login-panel">
                <div class="login-brand">
                    <span class="brand-mark brand-mark-lg">
                        <Icon kind=IconKind::Logo />
                    </span>
                    <span class="brand-name">"Berth"</span>
                </div>
                <form class="card login-card" on:submit=on_submit novalidate>
                    <h1>"Sign in"</h1>
                    <p class="muted">"Sign in to manage your Docker hosts."</p>
                    <div class="field">
                        <label for="username">"Username"</label>
                        <input
                            id="username"
                            name="username"
                            class="input"
                            type="text"
                            autocomplete="username"
                            autocapitalize="none"
                            spellcheck="false"
                            node_ref=username_ref
                            on:input=move |_| error.set(None)
                        />
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input
                            id="password"
                            name="password"
                            class="input"
                            type="password"
                            autocomplete="current-password"
                            node_ref=password_ref
                            on:input=move |_| error.set(None)
                        />
                    </div>
                    {move || {
                        error
                            .get()
                            .map(|message| {
                                view! {
                                    <p id="login-error" class="form-error" role="alert">
                                        <Icon kind=IconKind::AlertCircle />
                                        <span>{message}</span>
                                    </p>
                                }
                            })
                    }}
                    <button
                        id="login-submit"
                        type="submit"
                        class="btn btn-primary btn-block"
                        disabled=move || submitting.get()
                        aria-busy=move || submitting.get().to_string()
                    >
                        {move || if submitting.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </form>
                <p class="login-foot muted">
                    "Scripts use the same GraphQL API at " <code>"/graphql"</code> " with an API token."
                </p>
            </div>
        </div>
    }
}
