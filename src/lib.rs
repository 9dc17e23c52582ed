//! ssfpack: package any video into Microsoft Smooth Streaming.
//!
//! Modules, with imports flowing one way (`cli → pipeline / origin → media → format`):
//! - [`format`]: PIFF boxes, fragment writer/reader, `.ism`/`.ismc` manifests, `check`, `dump`.
//!   No FFmpeg, no network.
//! - `media`: the FFmpeg boundary (decode, scale, encode); the only module with `unsafe`.
//! - `pipeline`: the main job: one decode, a parallel ladder, aligned fragments, atomic output.
//! - `origin`: `ssfpack serve`, the IIS-compatible origin and player pages.
//! - [`durable`]: synced writes and renames: what "published" means on disk.
//! - `cli`: argument parsing and the commands; `main.rs` only calls it.

// `unsafe` only at the FFmpeg boundary (`media`), each block with its reason.
#![deny(unsafe_code)]

pub mod cli;
pub mod durable;
pub mod format;
#[allow(unsafe_code)]
pub mod media;
pub mod origin;
pub mod pipeline;
pub mod push;
