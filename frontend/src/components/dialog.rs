//! Modal dialogs: the confirmation of destructive actions (its confirm button is `button#confirm-ok`) with the
//! state of the action waiting for it ([`Pending`]), and the frame of the add/edit forms.

use std::future::Future;

use leptos::{ev, html, prelude::*, task::spawn_local};

use super::{
    alert::{Alert, AlertTone},
    format::sentence,
    icons::{Icon, IconKind},
};
use crate::api::ApiError;

/// An action on an item that waits for confirmation: the item (`None` = no confirmation open), whether the
/// action runs, and the error it ended with.
pub struct Pending<T: Send + Sync + 'static> {
    pub item: RwSignal<Option<T>>,
    pub busy: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
}

impl<T: Send + Sync + 'static> Clone for Pending<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Pending<T> {}

impl<T: Clone + Send + Sync + 'static> Default for Pending<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Send + Sync + 'static> Pending<T> {
    pub fn new() -> Self {
        Self {
            item: RwSignal::new(None),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Runs `action` on the item (once: not while it already runs). Success closes the confirmation and calls
    /// `done`; a failure stays in the dialog as its error.
    pub fn confirm<F>(self, action: impl FnOnce(T) -> F + 'static, done: impl FnOnce(T) + 'static)
    where
        F: Future<Output = Result<(), ApiError>> + 'static,
    {
        let Some(item) = self.item.get_untracked() else {
            return;
        };
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            match action(item.clone()).await {
                Ok(()) => {
                    self.item.try_set(None);
                    done(item);
                }
                Err(error) => {
                    self.error.try_set(Some(sentence(&error.message)));
                }
            }
            self.busy.try_set(false);
        });
    }

    /// Closes the confirmation, unless the action runs.
    pub fn cancel(self) {
        if !self.busy.get_untracked() {
            self.item.set(None);
            self.error.set(None);
        }
    }
}

/// A modal asking to confirm an action. Escape or Cancel calls `on_cancel`; the confirm button
/// (`#confirm-ok`) calls `on_confirm`. Cancel gets the focus, so Enter never destroys by accident.
#[component]
pub fn ConfirmDialog(
    #[prop(into)] title: String,
    /// Label of the confirm button, e.g. "Revoke token".
    #[prop(into)]
    confirm_label: String,
    /// Red confirm button for destructive actions.
    #[prop(optional)]
    danger: bool,
    /// True while the confirmed action runs: buttons are disabled.
    #[prop(into)]
    busy: Signal<bool>,
    /// An error from the action, shown inside the dialog.
    #[prop(into)]
    error: Signal<Option<String>>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    /// The explanation.
    children: Children,
) -> impl IntoView {
    let cancel_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_ref.get() {
            let _ = button.focus();
        }
    });
    let keydown = window_event_listener(ev::keydown, move |event| {
        if event.key() == "Escape" && !busy.try_get_untracked().unwrap_or(false) {
            on_cancel.run(());
        }
    });
    on_cleanup(move || keydown.remove());

    let confirm_class = if danger {
        "btn btn-danger"
    } else {
        "btn btn-primary"
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
                <h2 id="confirm-title" class="modal-title">
                    {title}
                </h2>
                <div class="modal-body">{children()}</div>
                {move || {
                    error
                        .get()
                        .map(|message| view! { <Alert tone=AlertTone::Error>{message}</Alert> })
                }}
                <div class="modal-actions">
                    <button
                        type="button"
                        class="btn btn-secondary"
                        id="confirm-cancel"
                        node_ref=cancel_ref
                        disabled=move || busy.get()
                        on:click=move |_| on_cancel.run(())
                    >
                        "Cancel"
                    </button>
                    <button
                        type="button"
                        class=confirm_class
                        id="confirm-ok"
                        disabled=move || busy.get()
                        on:click=move |_| on_confirm.run(())
                    >
                        {move || if busy.get() { "Working…".to_owned() } else { confirm_label.clone() }}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// A modal form (`form#ID-dialog`): a title with a close button, the error that names no field
/// (`#ID-form-error`), an optional banner, the fields in a scrolling body (disabled while saving), and a foot with a
/// note, Cancel (`#ID-cancel`) and the submit button (`#ID-save`). Escape closes it unless it is saving.
#[component]
pub fn FormDialog(
    /// Prefix of the element ids: `host` gives `form#host-dialog`, `#host-save`, …
    id: &'static str,
    #[prop(into)] title: String,
    /// Extra classes of the form (`modal-wide`).
    #[prop(optional)]
    class: &'static str,
    #[prop(into)] saving: Signal<bool>,
    #[prop(into)] form_error: Signal<Option<String>>,
    /// The foot's note: what saving does, or what is happening.
    #[prop(into)]
    note: Signal<String>,
    /// The submit button's label ("Add host"), and its label while saving ("Saving…").
    #[prop(into)]
    save_label: Signal<String>,
    busy_label: &'static str,
    /// Extra reasons to disable the submit button (it is always disabled while saving).
    #[prop(into)]
    save_disabled: Signal<bool>,
    on_submit: Callback<ev::SubmitEvent>,
    on_close: Callback<()>,
    /// Shown under the error, outside the scrolling body (e.g. a conflict banner).
    #[prop(optional, into)]
    banner: ViewFn,
    children: Children,
) -> impl IntoView {
    let keydown = window_event_listener(ev::keydown, move |event| {
        if event.key() == "Escape" && !saving.try_get_untracked().unwrap_or(true) {
            on_close.run(());
        }
    });
    on_cleanup(move || keydown.remove());
    let title_id = format!("{id}-dialog-title");
    let labelled_by = title_id.clone();
    view! {
        <div class="modal-backdrop">
            <form
                id=format!("{id}-dialog")
                class=format!("modal modal-form {class}")
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled_by
                aria-busy=move || saving.get().to_string()
                novalidate
                on:submit=move |event| on_submit.run(event)
            >
                <div class="modal-head">
                    <h2 id=title_id class="modal-title">
                        {title}
                    </h2>
                    <button
                        type="button"
                        class="icon-button"
                        aria-label="Close"
                        disabled=move || saving.get()
                        on:click=move |_| on_close.run(())
                    >
                        <Icon kind=IconKind::Close />
                    </button>
                </div>
                {move || {
                    form_error
                        .get()
                        .map(|message| {
                            view! {
                                <p id=format!("{id}-form-error") class="form-error" role="alert">
                                    <Icon kind=IconKind::AlertCircle />
                                    <span>{message}</span>
                                </p>
                            }
                        })
                }}
                {banner.run()}
                <div class="modal-scroll">
                    <fieldset class="plain-fieldset" disabled=move || saving.get()>
                        {children()}
                    </fieldset>
                </div>
                <div class="modal-foot">
                    <span class="modal-foot-note muted" aria-live="polite">
                        {move || note.get()}
                    </span>
                    <button
                        id=format!("{id}-cancel")
                        type="button"
                        class="btn btn-secondary"
                        disabled=move || saving.get()
                        on:click=move |_| on_close.run(())
                    >
                        "Cancel"
                    </button>
                    <button
                        id=format!("{id}-save")
                        type="submit"
                        class="btn btn-primary"
                        disabled=move || saving.get() || save_disabled.get()
                        aria-busy=move || saving.get().to_string()
                    >
                        {move || {
                            if saving.get() {
                                view! {
                                    <span class="spinner spinner-on-accent" aria-hidden="true"></span>
                                    <span>{busy_label}</span>
                                }
                                    .into_any()
                            } else {
                                view! { <span>{save_label.get()}</span> }.into_any()
                            }
                        }}
                    </button>
                </div>
            </form>
        </div>
    }
}
