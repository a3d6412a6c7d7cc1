//! Inline messages inside a page or form (errors, notes), announced to screen readers.

use leptos::prelude::*;

/// How an alert reads: red for failures, neutral for notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertTone {
    Error,
    Info,
}

/// An inline message box. Errors use `role="alert"` so they are read out when they appear.
#[component]
pub fn Alert(
    tone: AlertTone,
    /// Optional element id (stable selectors for tests).
    #[prop(optional, into)]
    id: Option<String>,
    children: Children,
) -> impl IntoView {
    let (class, role) = match tone {
        AlertTone::Error => ("alert alert-error", "alert"),
        AlertTone::Info => ("alert alert-info", "status"),
    };
    view! {
        <div class=class role=role id=id>
            {children()}
        </div>
    }
}
