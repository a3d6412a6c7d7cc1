//! Users page (`/users`, ADMIN): every account (`table#users-table`, `tr.user-row[data-username]`) with its role
//! (`select.user-role`), Disable/Enable (`button.user-toggle`) and Reset password (`button.user-reset`, opening
//! `form#reset-dialog`), and "New user" (`button#user-add`, opening `form#user-dialog`). The server keeps one
//! active admin at least; its refusal is shown above the table.

use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::{
    account::{NewPasswordField, check_password, focus_on_mount},
    events::AdminOnly,
};
use crate::{
    api::{
        ApiError, CurrentUser, Role, User,
        admin::{create_user, reset_password, update_user, users},
    },
    components::{
        alert::{Alert, AlertTone},
        badge::{Badge, Tone},
        dialog::FormDialog,
        field::{FieldErrors, SelectField, TextField, enum_options},
        format::sentence,
        icons::{Icon, IconKind},
        loading::{Latest, ListState, LoadFailed, LoadingCard},
        page_header::PageHeader,
        permission::can,
        table_tools::ActionsHeader,
        time::Timestamp,
        toast::use_toasts,
    },
};

/// Every role, most powerful first.
const ROLES: &[Role] = &[Role::Admin, Role::Operator, Role::Viewer];

/// The users page; admins only (others see why not).
#[component]
pub fn UsersPage() -> impl IntoView {
    if !can(Role::Admin) {
        return view! { <AdminOnly what="User management" /> }.into_any();
    }
    view! { <UsersList /> }.into_any()
}

#[component]
fn UsersList() -> impl IntoView {
    let list = RwSignal::new(ListState::<User>::Loading);
    let latest = Latest::new();
    let adding = RwSignal::new(false);
    let resetting = RwSignal::new(None::<User>);
    // The last refusal of a change (the last admin, say), shown above the table.
    let refusal = RwSignal::new(None::<String>);
    let me = use_context::<CurrentUser>().map(|user| user.username().to_owned());

    let load = move || {
        latest.run(users(), move |result| {
            list.update(|state| state.settle(result));
        });
    };
    load();

    let put = Callback::new(move |user: User| {
        list.update(|state| state.put(user, |a, b| a.id == b.id));
    });
    let sorted = move || {
        let mut users = list.with(|state| state.items().to_vec());
        users.sort_by_key(|user| user.username.to_lowercase());
        users
    };

    view! {
        <PageHeader title="Users" description="Who may use Berth, and what each of them may do.">
            <button id="user-add" type="button" class="btn btn-primary" on:click=move |_| adding.set(true)>
                <Icon kind=IconKind::Plus />
                <span>"New user"</span>
            </button>
        </PageHeader>
        <div class="card role-legend muted">
            <p>
                <strong>"Viewer"</strong> " reads everything. "
                <strong>"Operator"</strong> " also defines, runs, stops and scales containers, pulls images and "
                "refreshes registries and hosts. "
                <strong>"Admin"</strong> " also manages users, hosts, registries, disks and images, and reads the events."
            </p>
        </div>
        {move || {
            refusal
                .get()
                .map(|message| {
                    view! {
                        <div id="users-error">
                            <Alert tone=AlertTone::Error>{message}</Alert>
                        </div>
                    }
                })
        }}
        {move || match list.get() {
            ListState::Failed(error) => view! {
                <LoadFailed what="The users" error=error on_retry=Callback::new(move |()| load()) />
            }
            .into_any(),
            _ => ().into_any(),
        }}
        {move || {
            matches!(list.get(), ListState::Loading)
                .then(|| view! { <LoadingCard text="Loading users…" /> })
        }}
        <div class="card table-card">
            <table id="users-table" class="table users-table">
                <thead>
                    <tr>
                        <th>"Username"</th>
                        <th>"Role"</th>
                        <th>"State"</th>
                        <th>"Created"</th>
                        <ActionsHeader label="Actions" />
                    </tr>
                </thead>
                <tbody>
                    <For each=sorted key=|user| user.clone() let:user>
                        <UserRow
                            is_me=me.as_deref() == Some(user.username.as_str())
                            user=user
                            on_saved=put
                            refusal=refusal
                            resetting=resetting
                        />
                    </For>
                </tbody>
            </table>
        </div>
        <Show when=move || adding.get()>
            <NewUserDialog
                on_saved=Callback::new(move |user: User| {
                    adding.set(false);
                    put.run(user);
                })
                on_close=Callback::new(move |()| adding.set(false))
            />
        </Show>
        {move || {
            resetting
                .get()
                .map(|user| {
                    view! { <ResetPasswordDialog user=user on_close=Callback::new(move |()| resetting.set(None)) /> }
                })
        }}
    }
}

/// One `tr.user-row`: role select, state, Disable/Enable and Reset password.
#[component]
fn UserRow(
    user: User,
    is_me: bool,
    on_saved: Callback<User>,
    refusal: RwSignal<Option<String>>,
    resetting: RwSignal<Option<User>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let role = RwSignal::new(user.role);
    let busy = RwSignal::new(false);
    let id = StoredValue::new(user.id.clone());
    let name = user.username.clone();

    let save = move |new_role: Option<Role>, disabled: Option<bool>, done: String| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        refusal.set(None);
        let before = role.get_untracked();
        spawn_local(async move {
            let result = update_user(&id.get_value(), new_role, disabled).await;
            busy.try_set(false);
            match result {
                Ok(user) => {
                    toasts.success(done);
                    on_saved.run(user);
                }
                Err(error) => {
                    // Put the select back where the server has it.
                    role.try_set(before);
                    refusal.set(Some(describe_refusal(&error)));
                }
            }
        });
    };
    let change_role = {
        let name = name.clone();
        move |value: String| {
            let chosen = Role::parse(&value);
            if chosen == role.get_untracked() {
                return;
            }
            save(
                Some(chosen),
                None,
                format!("“{name}” is now {}.", chosen.label()),
            );
        }
    };
    let disabled = user.disabled;
    let toggle = {
        let name = name.clone();
        move |_| {
            let done = if disabled {
                format!("“{name}” can log in again.")
            } else {
                format!("“{name}” is disabled.")
            };
            save(None, Some(!disabled), done);
        }
    };
    let reset_user = user.clone();

    view! {
        <tr class="user-row" class:disabled-row=disabled data-username=name.clone() data-role=user.role.as_str()>
            <td class="user-name">
                <strong>{name.clone()}</strong>
                {is_me.then(|| view! { <span class="tag">"you"</span> })}
            </td>
            <td class="user-role-cell">
                <select
                    class="input select user-role"
                    aria-label=format!("Role of {name}")
                    disabled=move || busy.get()
                    prop:value=move || role.get().as_str()
                    on:change=move |event| change_role(event_target_value(&event))
                >
                    {enum_options(ROLES, Role::as_str, Role::label, role.into())}
                </select>
            </td>
            <td class="user-state">
                {if disabled {
                    view! { <Badge tone=Tone::Neutral>"Disabled"</Badge> }.into_any()
                } else {
                    view! { <Badge tone=Tone::Up>"Active"</Badge> }.into_any()
                }}
            </td>
            <td class="user-created">
                <Timestamp value=user.created_at.clone() />
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    <button
                        type="button"
                        class="btn btn-secondary btn-sm user-toggle"
                        disabled=move || busy.get()
                        on:click=toggle
                    >
                        {if disabled { "Enable" } else { "Disable" }}
                    </button>
                    <button
                        type="button"
                        class="btn btn-ghost btn-sm user-reset"
                        on:click=move |_| resetting.set(Some(reset_user.clone()))
                    >
                        "Reset password"
                    </button>
                </div>
            </td>
        </tr>
    }
}

/// What a refused user change says (the server's reason, e.g. that the last active admin must stay one).
fn describe_refusal(error: &ApiError) -> String {
    format!("Not changed: {}", sentence(&error.message))
}

const USERNAME: &str = "username";
const PASSWORD: &str = "password";
const ROLE: &str = "role";

/// Client-side check of a username: the server's rule (trimmed, at most 64 characters, no control characters).
fn check_username(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        Err("Choose a username.".to_owned())
    } else {
        berth_shared::validate_name(berth_shared::NameKind::User, name)
            .map(|()| name.to_owned())
            .map_err(|error| sentence(&error.to_string()))
    }
}

/// "New user": name, password and role (`form#user-dialog`).
#[component]
fn NewUserDialog(on_saved: Callback<User>, on_close: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);
    let name_ref = NodeRef::<html::Input>::new();
    focus_on_mount(name_ref);

    let name_error = move || {
        errors.shown(
            USERNAME,
            check_username(&name.get()).err(),
            name.with(|n| n.trim().is_empty()),
        )
    };
    let invalid =
        move || check_username(&name.get()).is_err() || check_password(&password.get()).is_err();

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        let (Ok(username), Ok(())) = (
            check_username(&name.get_untracked()),
            check_password(&password.get_untracked()),
        ) else {
            return;
        };
        let (secret, chosen) = (password.get_untracked(), role.get_untracked());
        saving.set(true);
        spawn_local(async move {
            let result = create_user(&username, &secret, chosen).await;
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(user) => {
                    toasts.success(format!("User “{}” created.", user.username));
                    on_saved.run(user);
                }
                Err(error) => errors.put(&error, &[USERNAME, PASSWORD, ROLE]),
            }
        });
    };

    view! {
        <FormDialog
            id="user"
            title="New user"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "They can change the password after logging in." }.to_owned()
            })
            save_label=Signal::derive(|| "Create user".to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <TextField
                id="user-name"
                label="Username"
                field=USERNAME
                placeholder="alice"
                value=name
                node_ref=name_ref
                error=Signal::derive(name_error)
                hint=Signal::derive(|| "What they log in with.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(USERNAME))
            />
            <NewPasswordField id="user-password" label="Password" field=PASSWORD value=password errors=errors />
            <SelectField
                id="user-role"
                label="Role"
                field=ROLE
                error=Signal::derive(move || errors.shown(ROLE, None, false))
                hint=Signal::derive(move || role_hint(role.get()).to_owned())
                on_change=Callback::new(move |value: String| {
                    role.set(Role::parse(&value));
                    errors.edited(ROLE);
                })
            >
                {enum_options(ROLES, Role::as_str, Role::label, role.into())}
            </SelectField>
        </FormDialog>
    }
}

/// What a role may do, in a line.
fn role_hint(role: Role) -> &'static str {
    match role {
        Role::Viewer => "Reads everything, changes nothing.",
        Role::Operator => "Also runs, stops, edits and scales containers and pulls images.",
        Role::Admin => "Everything, users and the audit log included.",
    }
}

const NEW_PASSWORD: &str = "newPassword";

/// "Reset password" of one user (`form#reset-dialog`: `#reset-password`, `#reset-save`).
#[component]
fn ResetPasswordDialog(user: User, on_close: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let password = RwSignal::new(String::new());
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);
    let input_ref = NodeRef::<html::Input>::new();
    focus_on_mount(input_ref);
    let id = StoredValue::new(user.id.clone());
    let name = StoredValue::new(user.username.clone());

    let invalid = move || check_password(&password.get()).is_err();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        if invalid() {
            return;
        }
        let secret = password.get_untracked();
        saving.set(true);
        spawn_local(async move {
            let result = reset_password(&id.get_value(), &secret).await;
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(_) => {
                    toasts.success(format!("New password set for “{}”.", name.get_value()));
                    on_close.run(());
                }
                Err(error) => errors.put(&error, &[NEW_PASSWORD]),
            }
        });
    };

    view! {
        <FormDialog
            id="reset"
            title=format!("Reset the password of “{}”", user.username)
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Tell them the new password yourself." }.to_owned()
            })
            save_label=Signal::derive(|| "Set password".to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <NewPasswordField
                id="reset-password"
                label="New password"
                field=NEW_PASSWORD
                value=password
                errors=errors
                node_ref=input_ref
            />
        </FormDialog>
    }
}
