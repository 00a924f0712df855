//! Fenghuo (烽火): the registry and alerting daemon of a township emergency
//! office. See ARCHITECTURE.md for the parts and how data flows through them.

pub mod accounts;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod county;
pub mod daily;
pub mod demo;
pub mod drills;
pub mod duty;
pub mod enforcement;
pub mod geometry;
pub mod import;
pub mod incidents;
pub mod ledger;
pub mod notify;
pub mod phone;
pub mod planbook;
pub mod plans;
pub mod registry;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod transfer;
pub mod validate;
pub mod web;
pub mod workbook;
