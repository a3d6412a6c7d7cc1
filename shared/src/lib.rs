//! Types and parsers shared by the Berth server and the browser app.
