//! Building blocks shared by the pages: badges, empty states, dialogs, alerts, toasts, icons, timestamps.

pub mod alert;
pub mod badge;
pub mod clipboard;
pub mod dialog;
pub mod empty_state;
pub mod format;
pub mod host_form;
pub mod host_status;
pub mod icons;
pub mod live;
pub mod page_header;
pub mod registry_form;
pub mod registry_status;
pub mod sort_header;
pub mod time;
pub mod toast;
