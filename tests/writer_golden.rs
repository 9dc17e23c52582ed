//! The writer, end to end from synthetic samples: a golden presentation (byte-exact, diffs shown as
//! box dumps), and the reader reads back exactly what was written.

mod common;

use std::path::Path;

use common::*;
use ssfpack::format::fragmenter::CutRule;
use ssfpack::format::manifest::{ClientManifest, ServerManifest};
use ssfpack::format::presentation::write_manifests;
use ssfpack::format::reader::{read_mfra, MediaFile};

fn write_synthetic(dir: &Path) -> Vec<ssfpack::format::presentation::TrackOutput> {
    let grid = CutRule::Grid { duration: 20_000_000 };
    let outputs = vec![
        write_track(dir, "syn_800k.ismv", video_track(800_000), grid, synthetic_video(125, 1)),
        write_track(dir, "syn_400k.ismv", video_track(400_000), grid, synthetic_video(125, 2)),
        write_track(
            dir,
            "syn_audio.isma",
            audio_track(),
            CutRule::AudioGrid { duration: 20_000_000 },
            synthetic_audio(235),
        ),
    ];
    write_manifests(dir, "syn", &outputs).unwrap();
    outputs
}

#[test]
fn golden_presentation() {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/synthetic");
    for f in ["syn.ism", "syn.ismc", "syn_800k.ismv", "syn_400k.ismv", "syn_audio.isma"] {
        assert_golden(&golden.join(f), &dir.path().join(f));
    }
    // The dump is golden too, so a reviewer sees the box tree in the repository.
    let dump = ssfpack::format::dump::dump_file(&dir.path().join("syn_800k.ismv")).unwrap();
    std::fs::write(dir.path().join("syn_800k.ismv.dump"), dump).unwrap();
    assert_golden(&golden.join("syn_800k.ismv.dump"), &dir.path().join("syn_800k.ismv.dump"));
}

#[test]
fn reader_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = write_synthetic(dir.path());
    for o in &outputs {
        let path = dir.path().join(&o.file);
        let file = MediaFile::open(&path).unwrap();
        assert_eq!(file.tracks.len(), 1);
        assert_eq!(file.tracks[0].codec.as_ref(), Some(&o.track.codec));
        assert_eq!(file.fragments.len(), o.fragments.len());
        for (rec, ev) in file.fragments.iter().zip(&o.fragments) {
            let tfxd = rec.tfxd.unwrap();
            assert_eq!((tfxd.time, tfxd.duration), (ev.time, ev.duration));
            assert_eq!(rec.decode_duration(), ev.duration, "decode span fills the fragment");
            assert_eq!((rec.moof_offset, rec.byte_len()), (ev.offset, ev.size));
            assert!(rec.samples[0].is_sync());
        }
        let mfra = read_mfra(&path).unwrap().unwrap();
        let times: Vec<_> = mfra.tfra_boxes[0].entries.iter().map(|e| (e.time, e.moof_offset)).collect();
        let want: Vec<_> = o.fragments.iter().map(|e| (e.time, e.offset)).collect();
        assert_eq!(times, want);
    }
    let ism = ServerManifest::from_xml(&std::fs::read_to_string(dir.path().join("syn.ism")).unwrap(), "ism").unwrap();
    assert_eq!(ism.tracks.len(), 3);
    let ismc =
        ClientManifest::from_xml(&std::fs::read_to_string(dir.path().join("syn.ismc")).unwrap(), "ismc").unwrap();
    let video = ismc.stream("video").unwrap();
    assert_eq!(video.chunks.first().map(|c| c.t), Some(0));
    assert_eq!(video.quality_levels.len(), 2);
    assert_eq!(video.chunks.len(), outputs[0].fragments.len());
    // 125 frames at 25 fps = 5 s, IDRs every 12 frames (0.48 s): first IDR at or after 2 s is 2.4 s, after 4 s is 4.32 s.
    let t: Vec<_> = video.chunks.iter().map(|c| (c.t, c.d)).collect();
    assert_eq!(t, vec![(0, 24_000_000), (24_000_000, 19_200_000), (43_200_000, 6_800_000)]);
}

#[test]
fn misaligned_rungs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grid = CutRule::Grid { duration: 20_000_000 };
    let a = write_track(dir.path(), "a.ismv", video_track(800_000), grid, synthetic_video(125, 1));
    let b = write_track(
        dir.path(),
        "b.ismv",
        video_track(400_000),
        CutRule::Grid { duration: 40_000_000 },
        synthetic_video(125, 1),
    );
    let err = write_manifests(dir.path(), "x", &[a, b]).unwrap_err().to_string();
    assert!(err.contains("not aligned"), "{err}");
}

/// A video track and a TTML text track on its fragment grid: the `.ism` `<textstream>`, the
/// `.ismc` `Type="text"` stream, the `.ismt` bytes and its box dump are golden.
#[test]
fn golden_text_presentation() {
    use ssfpack::format::manifest::Chunk;
    use ssfpack::format::text::{self, TextConfig, TextRole};
    use ssfpack::format::ttml::{Cue, Placement, Span, Style};
    use ssfpack::format::{CodecConfig, TrackInfo};

    let dir = tempfile::tempdir().unwrap();
    let grid = CutRule::Grid { duration: 20_000_000 };
    let video = write_track(dir.path(), "txt_800k.ismv", video_track(800_000), grid, synthetic_video(125, 1));
    let line = |text: &str, italic: bool| Span { text: text.into(), style: Style { italic, ..Style::default() } };
    let cues = [
        Cue {
            begin: 5_000_000,
            end: 25_000_000,
            lines: vec![vec![line("Across ", false), line("a boundary", true)], vec![line("& two lines", false)]],
            placement: Placement::default(),
        },
        Cue {
            begin: 42_000_000,
            end: 48_000_000,
            lines: vec![vec![line("At the top", false)]],
            placement: Placement::from_numpad(8).unwrap(),
        },
    ];
    let chunks: Vec<Chunk> = video.fragments.iter().map(|f| Chunk { t: f.time, d: f.duration }).collect();
    let fragments = text::fragments("en", &cues, &chunks).unwrap();
    let track = TrackInfo {
        track_id: 2,
        codec: CodecConfig::Ttml(TextConfig { role: TextRole::Subtitles }),
        bitrate: text::bitrate(&fragments),
        language: "eng".into(),
        name: "text_eng".into(),
    };
    let out = std::fs::File::create(dir.path().join("txt_text_eng.ismt")).unwrap();
    let mut w = ssfpack::format::writer::IsmvWriter::new(std::io::BufWriter::new(out), track.clone()).unwrap();
    let events = fragments.iter().map(|f| w.write_fragment(f).unwrap()).collect();
    w.finish().unwrap();
    let text_out =
        ssfpack::format::presentation::TrackOutput { file: "txt_text_eng.ismt".into(), track, fragments: events };
    write_manifests(dir.path(), "txt", &[video, text_out]).unwrap();

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/text");
    for f in ["txt.ism", "txt.ismc", "txt_text_eng.ismt"] {
        assert_golden(&golden.join(f), &dir.path().join(f));
    }
    let dump = ssfpack::format::dump::dump_file(&dir.path().join("txt_text_eng.ismt")).unwrap();
    std::fs::write(dir.path().join("txt_text_eng.ismt.dump"), dump).unwrap();
    assert_golden(&golden.join("txt_text_eng.ismt.dump"), &dir.path().join("txt_text_eng.ismt.dump"));
    // The reader takes the text track back as what was written.
    let file = MediaFile::open(&dir.path().join("txt_text_eng.ismt")).unwrap();
    assert_eq!(file.tracks[0].kind, Some(ssfpack::format::TrackKind::Text));
    assert_eq!(file.fragments.len(), 3);
}
