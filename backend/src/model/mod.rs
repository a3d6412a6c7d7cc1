//! Domain types below the services: what the services, the event bus, the engine and the cluster relay pass
//! between them, free of the database and of I/O, so that no lower layer has to import a service.

pub mod alerts;
pub mod containers;
pub mod inventory;
