//! Building blocks shared by the pages: badges, empty states, dialogs, forms, menus, alerts, toasts, icons,
//! timestamps, the containers' actions, dialog (with its mount rows), scale control and log view, the disk
//! dialog, the paged live list and its virtualized table, the inventory table and the adopt dialog, and the terminal.

pub mod adopt_dialog;
pub mod alert;
pub mod args;
pub mod badge;
pub mod clipboard;
pub mod container_actions;
pub mod container_form;
pub mod container_health;
pub mod container_info;
pub mod container_logs;
pub mod container_mounts;
pub mod container_revisions;
pub mod container_scale;
pub mod container_stats;
pub mod container_status;
pub mod data_table;
pub mod dialog;
pub mod disk_form;
pub mod empty_state;
pub mod feed;
pub mod field;
pub mod format;
pub mod host_form;
pub mod host_status;
pub mod icons;
pub mod inventory_table;
pub mod live;
pub mod loading;
pub mod menu;
pub mod page_header;
pub mod paged;
pub mod permission;
pub mod registry_form;
pub mod registry_status;
pub mod sort_header;
pub mod stats_trend;
pub mod table_tools;
pub mod terminal;
pub mod time;
pub mod toast;
pub mod update_marker;
pub mod virtual_table;
