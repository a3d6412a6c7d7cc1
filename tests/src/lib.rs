//! Berth's real test environment: Docker engines, registries, a test image, a browser, and Berth
//! servers to test against.
//!
//! [`TestEnv::start`] brings up, once per test process, three independent Docker engines (h1 on a
//! unix socket, h2 on a unix socket and plain TCP, h3 on TCP with mutual TLS), an open registry and
//! one behind htpasswd auth with the busybox test image pushed under several names, and chromedriver.
//! [`spawn_app`] starts a Berth server on a free port with a fresh SQLite database. Everything lives
//! under `/tmp/berth-test/<pid>`; leftovers of a killed run are cleaned up by the next one.

pub mod app;
pub mod bench;
pub mod browser;
pub mod cluster;
pub mod containers;
pub mod engine;
pub mod env;
pub mod hosts;
pub mod image;
pub mod postgres;
pub mod process;
pub mod receiver;
pub mod registry;
pub mod rundir;
pub mod seed;
pub mod terminal;
pub mod tls;
pub mod ws;

pub use app::{TestApp, spawn_app, spawn_app_with_data_dir, spawn_app_with_database};
pub use browser::{screenshot, wait_for, wait_for_path, wait_for_text};
pub use engine::EngineHandle;
pub use env::TestEnv;
pub use postgres::PostgresServer;
pub use registry::RegistryHandle;
