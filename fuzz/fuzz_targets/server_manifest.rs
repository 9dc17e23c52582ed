//! The server manifest (`.ism`, SMIL 2.0) parser on arbitrary UTF-8.
//!
//! Properties: no panic; when a document parses, writing the model and parsing that back gives an
//! equal model (the writer adds `xmlns` and `valuetype="data"`, keeps only the first
//! `clientManifestRelativePath` and orders `<video>` before `<audio>`, none of which the model holds).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssfpack::format::manifest::ServerManifest;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else { return };
    let Ok(m) = ServerManifest::from_xml(xml, "fuzz") else { return };
    let written = m.to_xml().expect("a parsed server manifest must serialize");
    let again = ServerManifest::from_xml(&written, "fuzz round trip")
        .unwrap_or_else(|e| panic!("the written server manifest does not parse: {e}\n{written}"));
    assert_eq!(again, m, "server manifest changed in the round trip\n{written}");
});
