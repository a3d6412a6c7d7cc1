//! Berth server library: configuration, database, services, GraphQL API and HTTP edge; `main.rs` only parses
//! the command line and calls [`app::RunningApp::start`].

pub mod app;
pub mod bus;
pub mod cluster;
pub mod config;
pub mod db;
pub mod docker;
pub mod engine;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod private_fs;
pub mod registry;
pub mod secrets;
pub mod service;
pub mod telemetry;
