//! Short-lived notifications in the corner ("Token revoked"), provided as context by the app.

use std::time::Duration;

use leptos::prelude::*;

use super::icons::{Icon, IconKind};

/// How long a toast stays on screen.
const TOAST_LIFETIME: Duration = Duration::from_secs(5);

/// Success or failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastTone {
    Success,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Toast {
    id: u64,
    tone: ToastTone,
    message: String,
}

/// The toast queue (a copyable handle).
#[derive(Clone, Copy)]
pub struct Toasts {
    items: RwSignal<Vec<Toast>>,
    next_id: RwSignal<u64>,
}

impl Toasts {
    fn new() -> Self {
        Self {
            items: RwSignal::new(Vec::new()),
            next_id: RwSignal::new(1),
        }
    }

    /// Creates the queue and provides it as context (call once, in the app root).
    pub fn provide() -> Self {
        let toasts = Self::new();
        provide_context(toasts);
        toasts
    }

    pub fn success(&self, message: impl Into<String>) {
        self.push(ToastTone::Success, message.into());
    }

    pub fn error(&self, message: impl Into<String>) {
        self.push(ToastTone::Error, message.into());
    }

    fn push(&self, tone: ToastTone, message: String) {
        let Some(id) = self.next_id.try_get_untracked() else {
            return;
        };
        self.next_id.set(id + 1);
        self.items
            .update(|items| items.push(Toast { id, tone, message }));
        let toasts = *self;
        set_timeout(move || toasts.dismiss(id), TOAST_LIFETIME);
    }

    fn dismiss(&self, id: u64) {
        self.items
            .update(|items| items.retain(|toast| toast.id != id));
    }
}

/// The app's toasts; a detached queue (never shown) if the app root did not provide one.
pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(Toasts::new)
}

/// Where toasts appear (bottom right), announced politely to screen readers.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" aria-live="polite">
            <For each=move || toasts.items.get() key=|toast| toast.id let:toast>
                {
                    let id = toast.id;
                    let (class, icon) = match toast.tone {
                        ToastTone::Success => ("toast toast-success", IconKind::Check),
                        ToastTone::Error => ("toast toast-error", IconKind::AlertCircle),
                    };
                    view! {
                        <div class=class role="status">
                            <Icon kind=icon />
                            <span class="toast-message">{toast.message}</span>
                            <button
                                type="button"
                                class="icon-button"
                                aria-label="Dismiss"
                                on:click=move |_| toasts.dismiss(id)
                            >
                                <Icon kind=IconKind::Close />
                            </button>
                        </div>
                    }
                }
            </For>
        </div>
    }
}
