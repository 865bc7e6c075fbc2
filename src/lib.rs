//! vinspect: inspect and repair vCluster networking sync.
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod demo;
pub mod dns;
pub mod engine;
pub mod inspect;
pub mod live;
pub mod sandbox;
pub mod tui;
pub mod vcluster;
