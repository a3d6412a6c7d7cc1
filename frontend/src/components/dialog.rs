//! In-page confirmation dialog (modal) for destructive actions; its confirm button is `button#confirm-ok`.

use leptos::{ev, html, prelude::*};

use super::alert::{Alert, AlertTone};

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
