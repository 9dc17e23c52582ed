//! The client manifest (`SmoothStreamingMedia`) parser on arbitrary UTF-8.
//!
//! Properties: no panic and no unbounded allocation (hostile `r` repeat counts); and when a document
//! parses, writing the model and parsing that back gives an equal model. The writer normalizes the wire
//! form (explicit `TimeScale`, both look-ahead spellings, `t` only after gaps, `r` runs), but all of
//! that is below the model, so the model itself must survive the round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssfpack::format::manifest::ClientManifest;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else { return };
    let Ok(m) = ClientManifest::from_xml(xml, "fuzz") else { return };
    for s in &m.streams {
        let _ = s.effective_timescale(&m);
        let _ = s.fragment_url(u32::MAX, u64::MAX);
        let _ = m.stream(&s.name);
    }
    // Up to the parser's limit of 10 M fragments a few bytes of `r` expand legitimately to 160 MB,
    // and with MinorVersion < 2 (no runs) to 200 MB of XML when written: linear work, but seconds
    // under ASan. The round trip is checked up to 100,000 fragments.
    if m.streams.iter().map(|s| s.chunks.len()).sum::<usize>() > 100_000 {
        return;
    }
    let written = m.to_xml().expect("a parsed client manifest must serialize");
    let again = ClientManifest::from_xml(&written, "fuzz round trip")
        .unwrap_or_else(|e| panic!("the written client manifest does not parse: {e}\n{written}"));
    assert_eq!(again, m, "client manifest changed in the round trip\n{written}");
});
