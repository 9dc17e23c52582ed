//! The two Smooth Streaming manifests as typed models, serialized and parsed with quick-xml (serde).
//!
//! - [`client`]: `SmoothStreamingMedia` (`.ismc`, and what `…/Manifest` returns).
//! - [`server`]: the SMIL 2.0 server manifest (`.ism`), and the tracks of a live ingest's SMIL.
//! - [`point`]: the live publishing point file (`.isml`).
//!
//! The models are what code works with; private "wire" structs mirror the XML (attribute names,
//! compressed `c` runs) and are converted to and from the models, so the XML shape lives in one place.

pub mod client;
pub mod point;
pub mod server;

pub use client::{Chunk, ClientManifest, QualityLevel, StreamIndex};
pub use point::PointFile;
pub use server::{ServerManifest, ServerTrack};

use super::error::FormatError;

/// Serializes a wire struct with an XML declaration and two-space indentation.
fn to_xml<T: serde::Serialize>(root: &str, value: &T) -> Result<String, FormatError> {
    let mut body = String::new();
    let mut ser =
        quick_xml::se::Serializer::with_root(&mut body, Some(root)).map_err(|e| FormatError::invalid(root, e))?;
    ser.indent(' ', 2);
    value.serialize(ser).map_err(|e| FormatError::invalid(root, e))?;
    Ok(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}\n"))
}

/// Parses XML into a wire struct; `context` names the file in errors.
fn from_xml<T: serde::de::DeserializeOwned>(xml: &str, context: &str) -> Result<T, FormatError> {
    let xml = xml.trim_start_matches('\u{feff}');
    quick_xml::de::from_str(xml).map_err(|e| FormatError::Xml { context: context.to_string(), message: e.to_string() })
}
