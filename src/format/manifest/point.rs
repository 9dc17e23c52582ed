//! The live publishing point file (`NAME.isml`), in IIS Media Services' own format: SMIL whose
//! `<head>` holds `<meta name=… content=…/>` settings and whose `<body>` is empty. A file copied
//! from an IIS server works as it is; settings ssfpack does not use are kept when it rewrites one.
//!
//! Settings read (IIS names; IIS Media Services 3.0/4.0 semantics):
//! - `lookaheadChunks` (default 2): fragments announced ahead in each served fragment's `tfrf`;
//! - `manifestWindowLength` (seconds, default 0 = the whole event): the DVR window;
//! - `title`, `archiveSegmentLength`, `restartOnEncoderReconnect`, `startOnFirstRequest`, … are
//!   kept; ssfpack always restarts on reconnect and archives the whole event.

use serde::{Deserialize, Serialize};

use super::server::{WireHead, WireMeta};
use crate::format::error::Result;

const SMIL_NS: &str = "http://www.w3.org/2001/SMIL20/Language";

/// A publishing point's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointFile {
    pub title: String,
    pub lookahead_chunks: u32,
    /// DVR window, seconds; 0: unbounded.
    pub dvr_window: u64,
    /// Every `<meta>` in file order (the two above included), so a rewrite keeps the rest.
    pub metas: Vec<(String, String)>,
}

impl Default for PointFile {
    fn default() -> Self {
        PointFile::new("", 2, 0)
    }
}

impl PointFile {
    /// IIS's defaults for a push point, with these settings.
    pub fn new(title: &str, lookahead_chunks: u32, dvr_window: u64) -> Self {
        let metas = [
            ("title", title.to_string()),
            ("module", "liveSmoothStreaming".into()),
            ("sourceType", "Push".into()),
            ("publishing", "Fragments;Streams;Archives".into()),
            ("estimatedTime", "0".into()),
            ("lookaheadChunks", lookahead_chunks.to_string()),
            ("manifestWindowLength", dvr_window.to_string()),
            ("startOnFirstRequest", "False".into()),
            ("archiveSegmentLength", "0".into()),
            ("restartOnEncoderReconnect", "true".into()),
        ];
        PointFile {
            title: title.to_string(),
            lookahead_chunks,
            dvr_window,
            metas: metas.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
        }
    }

    pub fn to_xml(&self) -> Result<String> {
        let wire = WireSmil {
            xmlns: Some(SMIL_NS.into()),
            head: WireHead {
                meta: self
                    .metas
                    .iter()
                    .map(|(name, content)| WireMeta { name: name.clone(), content: content.clone() })
                    .collect(),
            },
            body: WireBody {},
        };
        super::to_xml("smil", &wire)
    }

    /// Parses a point file; numbers that do not parse fall back to the defaults (as IIS does).
    pub fn from_xml(xml: &str, context: &str) -> Result<Self> {
        let wire: WireSmil = super::from_xml(xml, context)?;
        let metas: Vec<(String, String)> = wire.head.meta.into_iter().map(|m| (m.name, m.content)).collect();
        let get = |n: &str| metas.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.trim().to_string());
        Ok(PointFile {
            title: get("title").unwrap_or_default(),
            lookahead_chunks: get("lookaheadChunks").and_then(|v| v.parse().ok()).unwrap_or(2),
            dvr_window: get("manifestWindowLength").and_then(|v| v.parse().ok()).unwrap_or(0),
            metas,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireSmil {
    #[serde(rename = "@xmlns", default, skip_serializing_if = "Option::is_none")]
    xmlns: Option<String>,
    #[serde(default)]
    head: WireHead,
    #[serde(default)]
    body: WireBody,
}

#[derive(Serialize, Deserialize, Default)]
struct WireBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_classic_iis_file_and_round_trips() {
        let iis = r#"<?xml version="1.0" encoding="utf-8"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language">
  <head>
    <meta name="title" content="" />
    <meta name="module" content="liveSmoothStreaming" />
    <meta name="sourceType" content="Push" />
    <meta name="publishing" content="Fragments;Streams;Archives" />
    <meta name="estimatedTime" content="0" />
    <meta name="lookaheadChunks" content="2" />
    <meta name="manifestWindowLength" content="0" />
    <meta name="startOnFirstRequest" content="False" />
    <meta name="archiveSegmentLength" content="0" />
    <meta name="restartOnEncoderReconnect" content="true" />
  </head>
  <body>
  </body>
</smil>"#;
        let p = PointFile::from_xml(iis, "Live.isml").unwrap();
        assert_eq!((p.lookahead_chunks, p.dvr_window, p.metas.len()), (2, 0, 10));
        assert_eq!(p, PointFile::new("", 2, 0));
        let ours = PointFile::new("Concert", 3, 600);
        let xml = ours.to_xml().unwrap();
        assert!(xml.contains(r#"<meta name="module" content="liveSmoothStreaming"/>"#), "{xml}");
        assert_eq!(PointFile::from_xml(&xml, "t").unwrap(), ours);
        assert_eq!(PointFile::from_xml("<smil><head/><body/></smil>", "t").unwrap().lookahead_chunks, 2);
    }
}
