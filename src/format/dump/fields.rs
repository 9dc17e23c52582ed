//! The decoded fields of each box `dump` knows, as (name, value) pairs in the box's order:
//! FourCCs and names as text, flags spelled out, parameter sets in hex.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value};
use shiguredo_mp4::boxes::{
    DrefBox, FtypBox, HdlrBox, MdhdBox, MehdBox, MfhdBox, MfroBox, MvhdBox, SampleEntry, SmhdBox, StcoBox, StscBox,
    StszBox, SttsBox, TfdtBox, TfhdBox, TfraBox, TkhdBox, TrexBox, TrunBox, UnknownBox, VmhdBox,
};
use shiguredo_mp4::{BoxHeader, BoxType, Decode, SampleFlags};

use super::BoxNode;
use crate::format::boxes::{declared_trun_samples, PiffBox, MAX_FRAGMENT_SAMPLES};
use crate::format::hex;

/// Ordered (name, value) pairs; serialized as a JSON object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(String, Value)>);

impl Fields {
    pub fn push(&mut self, name: &str, value: impl Into<Value>) {
        self.0.push((name.to_string(), value.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A value as the text dump shows it: strings bare, lists comma-separated.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn fourcc(b: [u8; 4]) -> String {
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        String::from_utf8_lossy(&b).into_owned()
    } else {
        format!("0x{}", hex(&b))
    }
}

/// A NUL-terminated or padded name as text.
fn name(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// `version` and `flags` of a full box (the first 4 payload bytes), the flags with the names of
/// the bits set (`names[i]` for bit `i`).
pub fn full_box(payload: &[u8], f: &mut Fields, names: Option<&[(u32, &str)]>) {
    if payload.len() < 4 {
        return;
    }
    let flags = u32::from_be_bytes([0, payload[1], payload[2], payload[3]]);
    f.push("version", payload[0]);
    let set: Vec<&str> = names.unwrap_or(&[]).iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| *n).collect();
    f.push(
        "flags",
        if set.is_empty() { format!("0x{flags:06x}") } else { format!("0x{flags:06x} ({})", set.join(", ")) },
    );
}

/// Sample flags as mp4dump would read them: `0x02000000 (sync, depends on no other)`.
fn sample_flags(flags: SampleFlags) -> String {
    let mut parts = vec![if flags.sample_is_non_sync_sample() { "non-sync" } else { "sync" }];
    match flags.sample_depends_on() {
        1 => parts.push("depends on others"),
        2 => parts.push("depends on no other"),
        _ => {}
    }
    match flags.sample_is_depended_on() {
        1 => parts.push("others depend on it"),
        2 => parts.push("disposable"),
        _ => {}
    }
    if flags.is_leading() == 1 || flags.is_leading() == 3 {
        parts.push("leading");
    }
    format!("0x{:08x} ({})", flags.get(), parts.join(", "))
}

const TKHD_FLAGS: &[(u32, &str)] = &[(1, "enabled"), (2, "in-movie"), (4, "in-preview"), (8, "size-is-aspect-ratio")];
const TFHD_FLAGS: &[(u32, &str)] = &[
    (0x1, "base-data-offset"),
    (0x2, "sample-description-index"),
    (0x8, "default-sample-duration"),
    (0x10, "default-sample-size"),
    (0x20, "default-sample-flags"),
    (0x10000, "duration-is-empty"),
    (0x20000, "default-base-is-moof"),
];
const TRUN_FLAGS: &[(u32, &str)] = &[
    (0x1, "data-offset"),
    (0x4, "first-sample-flags"),
    (0x100, "sample-duration"),
    (0x200, "sample-size"),
    (0x400, "sample-flags"),
    (0x800, "sample-composition-time-offset"),
];

/// Fills `node` with the fields of the leaf box `whole` (header included); boxes it does not know
/// get their payload size.
pub fn describe(whole: &[u8], payload: &[u8], node: &mut BoxNode) {
    let Ok((header, _)) = BoxHeader::decode(whole) else { return };
    let f = &mut node.fields;
    let result = match header.box_type {
        BoxType::Uuid(_) => uuid(whole, node),
        BoxType::Normal(t) => {
            let known = matches!(
                &t,
                b"mvhd"
                    | b"tkhd"
                    | b"mdhd"
                    | b"hdlr"
                    | b"vmhd"
                    | b"smhd"
                    | b"dref"
                    | b"stts"
                    | b"stsc"
                    | b"stsz"
                    | b"stco"
                    | b"mehd"
                    | b"trex"
                    | b"mfhd"
                    | b"tfhd"
                    | b"tfdt"
                    | b"trun"
                    | b"tfra"
                    | b"mfro"
            );
            let flags = match &t {
                b"tkhd" => Some(TKHD_FLAGS),
                b"tfhd" => Some(TFHD_FLAGS),
                b"trun" => Some(TRUN_FLAGS),
                _ => None,
            };
            if known {
                full_box(payload, f, flags);
            }
            normal(&t, whole, node)
        }
    };
    match result {
        Ok(true) => {}
        Ok(false) => node.fields.push("payload_bytes", payload.len()),
        Err(e) => node.error = Some(format!("does not decode: {e}")),
    }
}

fn decode<B: Decode>(whole: &[u8]) -> Result<B, String> {
    B::decode(whole).map(|(b, _)| b).map_err(|e| crate::format::error::without_location(&e.to_string()))
}

fn uuid(whole: &[u8], node: &mut BoxNode) -> Result<bool, String> {
    let u: UnknownBox = decode(whole)?;
    let f = &mut node.fields;
    match PiffBox::from_unknown(&u).map_err(|e| e.to_string())? {
        PiffBox::Tfxd(t) => {
            full_box(&u.payload, f, None);
            f.push("fragment_absolute_time", t.time);
            f.push("fragment_duration", t.duration);
        }
        PiffBox::Tfrf(t) => {
            full_box(&u.payload, f, None);
            f.push("fragment_count", t.entries.len());
            node.entries = t
                .entries
                .iter()
                .map(|&(time, duration)| {
                    let mut row = Fields::default();
                    row.push("time", time);
                    row.push("duration", duration);
                    row
                })
                .collect();
        }
        PiffBox::Other(o) => {
            if let BoxType::Uuid(user) = o.box_type {
                f.push("usertype", hex(&user));
            }
            f.push("payload_bytes", o.payload.len());
        }
    }
    Ok(true)
}

fn normal(t: &[u8; 4], whole: &[u8], node: &mut BoxNode) -> Result<bool, String> {
    let f = &mut node.fields;
    match t {
        b"ftyp" => {
            let b: FtypBox = decode(whole)?;
            f.push("major_brand", fourcc(b.major_brand.get()));
            f.push("minor_version", b.minor_version);
            f.push("compatible_brands", b.compatible_brands.iter().map(|x| fourcc(x.get())).collect::<Vec<_>>());
        }
        b"mvhd" => {
            let b: MvhdBox = decode(whole)?;
            f.push("timescale", b.timescale.get());
            f.push("duration", b.duration);
            f.push("creation_time", b.creation_time.as_secs());
            f.push("modification_time", b.modification_time.as_secs());
            f.push("rate", format!("{}.{}", b.rate.integer, b.rate.fraction));
            f.push("volume", format!("{}.{}", b.volume.integer, b.volume.fraction));
            f.push("next_track_id", b.next_track_id);
        }
        b"tkhd" => {
            let b: TkhdBox = decode(whole)?;
            f.push("track_id", b.track_id);
            f.push("duration", b.duration);
            f.push("layer", b.layer);
            f.push("alternate_group", b.alternate_group);
            f.push("volume", format!("{}.{}", b.volume.integer, b.volume.fraction));
            f.push("width", f64::from(b.width.integer) + f64::from(b.width.fraction) / 65536.0);
            f.push("height", f64::from(b.height.integer) + f64::from(b.height.fraction) / 65536.0);
        }
        b"mdhd" => {
            let b: MdhdBox = decode(whole)?;
            f.push("timescale", b.timescale.get());
            f.push("duration", b.duration);
            f.push("language", String::from_utf8_lossy(&b.language.as_bytes()).into_owned());
        }
        b"hdlr" => {
            let b: HdlrBox = decode(whole)?;
            f.push("handler_type", fourcc(b.handler_type));
            f.push("name", name(&b.name));
        }
        b"vmhd" => {
            let b: VmhdBox = decode(whole)?;
            f.push("graphicsmode", b.graphicsmode);
            f.push("opcolor", b.opcolor.to_vec());
        }
        b"smhd" => {
            let b: SmhdBox = decode(whole)?;
            f.push("balance", format!("{}.{}", b.balance.integer, b.balance.fraction));
        }
        b"dref" => {
            let b: DrefBox = decode(whole)?;
            let url = b.url_box.map(|u| u.location.map_or("(same file)".to_string(), |l| l.get().to_string()));
            f.push("url", url.unwrap_or_else(|| "none".into()));
        }
        b"stts" => {
            let b: SttsBox = decode(whole)?;
            f.push("entry_count", b.entries.len());
            node.entries = b
                .entries
                .iter()
                .map(|e| row(&[("sample_count", e.sample_count.into()), ("sample_delta", e.sample_delta.into())]))
                .collect();
        }
        b"stsc" => {
            let b: StscBox = decode(whole)?;
            f.push("entry_count", b.entries.len());
            node.entries = b
                .entries
                .iter()
                .map(|e| {
                    row(&[
                        ("first_chunk", e.first_chunk.get().into()),
                        ("samples_per_chunk", e.sample_per_chunk.into()),
                    ])
                })
                .collect();
        }
        b"stsz" => match decode::<StszBox>(whole)? {
            StszBox::Fixed { sample_size, sample_count } => {
                f.push("sample_size", sample_size.get());
                f.push("sample_count", sample_count);
            }
            StszBox::Variable { entry_sizes } => {
                f.push("sample_size", 0);
                f.push("sample_count", entry_sizes.len());
            }
        },
        b"stco" => {
            let b: StcoBox = decode(whole)?;
            f.push("entry_count", b.chunk_offsets.len());
        }
        b"mehd" => {
            let b: MehdBox = decode(whole)?;
            f.push("fragment_duration", b.fragment_duration);
        }
        b"trex" => {
            let b: TrexBox = decode(whole)?;
            f.push("track_id", b.track_id);
            f.push("default_sample_description_index", b.default_sample_description_index);
            f.push("default_sample_duration", b.default_sample_duration);
            f.push("default_sample_size", b.default_sample_size);
            f.push("default_sample_flags", sample_flags(b.default_sample_flags));
        }
        b"mfhd" => {
            let b: MfhdBox = decode(whole)?;
            f.push("sequence_number", b.sequence_number);
        }
        b"tfhd" => {
            let b: TfhdBox = decode(whole)?;
            f.push("track_id", b.track_id);
            let opt = |f: &mut Fields, k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    f.push(k, v);
                }
            };
            opt(f, "base_data_offset", b.base_data_offset.map(Value::from));
            opt(f, "sample_description_index", b.sample_description_index.map(Value::from));
            opt(f, "default_sample_duration", b.default_sample_duration.map(Value::from));
            opt(f, "default_sample_size", b.default_sample_size.map(Value::from));
            opt(f, "default_sample_flags", b.default_sample_flags.map(|x| Value::from(sample_flags(x))));
        }
        b"tfdt" => {
            let b: TfdtBox = decode(whole)?;
            f.push("base_media_decode_time", b.base_media_decode_time);
        }
        b"trun" if declared_trun_samples(whole) > MAX_FRAGMENT_SAMPLES => {
            return Err(format!("sample_count {}: too many to decode", declared_trun_samples(whole)));
        }
        b"trun" => {
            let b: TrunBox = decode(whole)?;
            f.push("sample_count", b.samples.len());
            if let Some(o) = b.data_offset {
                f.push("data_offset", o);
            }
            if let Some(x) = b.first_sample_flags {
                f.push("first_sample_flags", sample_flags(x));
            }
            node.entries = b
                .samples
                .iter()
                .map(|s| {
                    let mut r = Fields::default();
                    if let Some(d) = s.duration {
                        r.push("duration", d);
                    }
                    if let Some(z) = s.size {
                        r.push("size", z);
                    }
                    if let Some(x) = s.flags {
                        r.push("flags", format!("{:#010x}", x.get()));
                        r.push("sync", !x.sample_is_non_sync_sample());
                    }
                    if let Some(c) = s.composition_time_offset {
                        r.push("cto", c);
                    }
                    r
                })
                .collect();
        }
        b"tfra" => {
            let b: TfraBox = decode(whole)?;
            f.push("track_id", b.track_id);
            f.push("entry_count", b.entries.len());
            node.entries = b
                .entries
                .iter()
                .map(|e| {
                    row(&[
                        ("time", e.time.into()),
                        ("moof_offset", e.moof_offset.into()),
                        ("traf", e.traf_number.into()),
                        ("trun", e.trun_number.into()),
                        ("sample", e.sample_number.into()),
                    ])
                })
                .collect();
        }
        b"mfro" => {
            let b: MfroBox = decode(whole)?;
            f.push("mfra_size", b.size);
        }
        b"avc1" | b"mp4a" | b"stpp" => sample_entry(decode(whole)?, f),
        _ => return Ok(false),
    }
    Ok(true)
}

fn row(cells: &[(&str, Value)]) -> Fields {
    let mut r = Fields::default();
    for (k, v) in cells {
        r.push(k, v.clone());
    }
    r
}

fn sample_entry(entry: SampleEntry, f: &mut Fields) {
    match entry {
        SampleEntry::Avc1(b) => {
            f.push("data_reference_index", b.visual.data_reference_index.get());
            f.push("width", b.visual.width);
            f.push("height", b.visual.height);
            f.push("compressor", name(b.visual.compressorname.get(1..).unwrap_or(&[])));
            f.push("depth", b.visual.depth);
            let c = &b.avcc_box;
            f.push("avcC.profile", format!("{} ({})", c.avc_profile_indication, profile(c.avc_profile_indication)));
            f.push("avcC.profile_compatibility", format!("0x{:02x}", c.profile_compatibility));
            f.push("avcC.level", format!("{}.{}", c.avc_level_indication / 10, c.avc_level_indication % 10));
            f.push("avcC.nalu_length_size", c.length_size_minus_one.get() + 1);
            f.push("avcC.sps", c.sps_list.iter().map(|s| hex(s)).collect::<Vec<_>>());
            f.push("avcC.pps", c.pps_list.iter().map(|s| hex(s)).collect::<Vec<_>>());
        }
        SampleEntry::Mp4a(b) => {
            f.push("data_reference_index", b.audio.data_reference_index.get());
            f.push("channel_count", b.audio.channelcount);
            f.push("sample_size", b.audio.samplesize);
            f.push("sample_rate", b.audio.samplerate.integer);
            let d = &b.esds_box.es.dec_config_descr;
            f.push(
                "esds.object_type",
                format!(
                    "0x{:02x}{}",
                    d.object_type_indication,
                    if d.object_type_indication == 0x40 { " (MPEG-4 audio)" } else { "" }
                ),
            );
            f.push("esds.max_bitrate", d.max_bitrate);
            f.push("esds.avg_bitrate", d.avg_bitrate);
            if let Some(info) = &d.dec_specific_info {
                f.push("esds.audio_specific_config", hex(&info.payload));
            }
        }
        SampleEntry::Stpp(b) => {
            f.push("data_reference_index", b.data_reference_index.get());
            f.push("namespace", b.namespace.get());
            f.push("schema_location", b.schema_location.get());
            f.push("auxiliary_mime_types", b.auxiliary_mime_types.get());
        }
        other => f.push("entry", json!(format!("{other:?}"))),
    }
}

fn profile(idc: u8) -> &'static str {
    match idc {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4",
        _ => "unknown",
    }
}
