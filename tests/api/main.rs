#![allow(clippy::unwrap_used, clippy::expect_used)]

//! One test binary: the real app on a random port, over HTTP, against a real database.
//! Every storage test runs on SQLite, and on PostgreSQL when OFFBOARD_TEST_DATABASE_URL is set.

mod helpers;

mod admin;
mod admin_jwt;
mod admin_lists;
mod application;
mod backup;
mod bad_input;
mod cli;
mod concurrency;
mod conformance;
mod connection;
mod console;
mod consumer;
mod content;
mod deletion;
mod dialects;
mod discovery;
mod doctor;
mod event_payloads;
mod event_types;
mod export;
mod feed;
mod groups;
mod guard;
mod inspector;
mod isolation;
mod jobs;
mod jumpcloud;
mod lifecycle;
mod limits;
mod listing;
mod migration;
mod observability;
mod openapi;
mod outage;
mod processes;
mod proxies;
mod purge;
mod readme;
mod receiver;
mod roles;
mod scim_tokens;
mod setup_browser;
mod setup_links;
mod sql_filters;
mod suspension;
mod tls;
mod webhooks;
