//! The signed-in user's role, provided once by the app shell, and what it allows: [`can`] for showing an action
//! at all, [`needs_title`] for the tooltip of an action the role may not take.

use leptos::prelude::*;

use crate::api::Role;

/// The role of the signed-in user, as a context value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ViewerRole(Role);

/// Makes `role` the role every page below checks against.
pub fn provide_role(role: Role) {
    provide_context(ViewerRole(role));
}

/// The signed-in user's role (`Viewer`, the least, outside the shell).
pub fn use_role() -> Role {
    use_context::<ViewerRole>().map_or(Role::Viewer, |role| role.0)
}

/// True when the signed-in user's role allows what `needed` allows.
pub fn can(needed: Role) -> bool {
    use_role().at_least(needed)
}

/// The title of a disabled action the user's role does not allow ("Needs the Admin role"), `None` when allowed.
pub fn needs_title(needed: Role) -> Option<&'static str> {
    (!can(needed)).then(|| role_needed(needed))
}

/// "Needs the Operator role".
pub fn role_needed(needed: Role) -> &'static str {
    match needed {
        Role::Admin => "Needs the Admin role",
        Role::Operator => "Needs the Operator role",
        Role::Viewer => "Needs the Viewer role",
    }
}
