//! warta: topic classification and fact extraction for news articles, served over gRPC.
//!
//! The modules follow the pipeline:
//! [`text`] (tokens) → [`features`] (sparse TF-IDF vectors) → [`model`] (linfa algorithms over
//! sparse features) → [`service`] (tonic gRPC). [`extract`] finds the facts inside an article,
//! [`ner`] tags entities with a trained sequence model, [`corpus`] reads labelled data (and holds the embedded default corpus), [`eval`] scores models.

pub mod cli;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod extract;
pub mod features;
mod framing;
pub mod huge_pages;
pub mod model;
pub mod ner;
pub mod pipeline;
pub mod proto;
pub mod report;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod text;

pub use error::Error;
