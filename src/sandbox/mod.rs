//! Scenarios the sandbox and the demo load.
pub mod scenario;
