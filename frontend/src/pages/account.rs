//! The signed-in user's own account: the "Change password" dialog of the user menu (`form#change-dialog`:
//! `#change-old`, `#change-new`, `#change-save`), and the password rule the user forms share.

use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::{
    api::admin::change_password,
    components::{
        dialog::FormDialog,
        field::{FieldErrors, TextField},
        toast::use_toasts,
    },
};

/// Shortest password the forms accept.
pub const PASSWORD_MIN: usize = 8;

/// Client-side check of a new password, as the user types.
pub fn check_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length == 0 {
        Err("Choose a password.".to_owned())
    } else if length < PASSWORD_MIN {
        Err(format!(
            "At least {PASSWORD_MIN} characters ({length} so far)."
        ))
    } else {
        Ok(())
    }
}

/// Focuses `input` once it is on the page.
pub fn focus_on_mount(input: NodeRef<html::Input>) {
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });
}

/// A new password's input (`type=password`) with the length rule checked as the user types.
#[component]
pub fn NewPasswordField(
    id: &'static str,
    label: &'static str,
    /// The input's name, and the `extensions.field` the server names it by.
    field: &'static str,
    value: RwSignal<String>,
    errors: FieldErrors,
    #[prop(optional)] node_ref: NodeRef<html::Input>,
) -> impl IntoView {
    let error = move || {
        errors.shown(
            field,
            check_password(&value.get()).err(),
            value.with(String::is_empty),
        )
    };
    view! {
        <TextField
            id=id
            label=label
            field=field
            value=value
            input_type="password"
            node_ref=node_ref
            error=Signal::derive(error)
            hint=Signal::derive(|| format!("At least {PASSWORD_MIN} characters."))
            on_edit=Callback::new(move |()| errors.edited(field))
        />
    }
}

const OLD: &str = "oldPassword";
const NEW: &str = "newPassword";

/// Change the signed-in user's password: the current one, then the new one. Ends the user's other sessions.
#[component]
pub fn ChangePasswordDialog(on_close: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let old = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);
    let old_ref = NodeRef::<html::Input>::new();
    focus_on_mount(old_ref);

    let old_error = move || {
        let client = old
            .with(String::is_empty)
            .then(|| "Enter your current password.".to_owned());
        errors.shown(OLD, client, old.with(String::is_empty))
    };
    let invalid = move || old.with(String::is_empty) || check_password(&new.get()).is_err();

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        if invalid() {
            return;
        }
        let (old_password, new_password) = (old.get_untracked(), new.get_untracked());
        saving.set(true);
        spawn_local(async move {
            let result = change_password(&old_password, &new_password).await;
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(_) => {
                    toasts.success("Password changed. Your other sessions were ended.");
                    on_close.run(());
                }
                Err(error) => errors.put(&error, &[OLD, NEW]),
            }
        });
    };

    view! {
        <FormDialog
            id="change"
            title="Change your password"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Your other sessions will be logged out." }.to_owned()
            })
            save_label=Signal::derive(|| "Change password".to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="change-old"
                label="Current password"
                field=OLD
                value=old
                input_type="password"
                node_ref=old_ref
                error=Signal::derive(old_error)
                hint=Signal::derive(|| "The one you logged in with.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(OLD))
            />
            <NewPasswordField id="change-new" label="New password" field=NEW value=new errors=errors />
        </FormDialog>
    }
}
