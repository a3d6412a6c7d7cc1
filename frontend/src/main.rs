//! Berth browser app.
fn main() {}
