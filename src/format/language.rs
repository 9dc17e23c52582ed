//! Language codes as Smooth Streaming manifests carry them (`Language`: ISO 639-2/T, three
//! lower-case letters; the twenty 639-2/B codes that differ map to their terminology form, so `fre`
//! and `fra` name one language and stream names stay unique). From what a source or a user writes (ISO 639-1 `en`, 639-2/B `fre`, 639-2/T `fra`,
//! a BCP 47 tag `en-US`, any case) to the ISO 639-2/T code Smooth Streaming's `Language` carries,
//! and back to the shortest BCP 47 form TTML's `xml:lang` prefers.

/// (639-1, 639-2/T, 639-2/B when it differs): the languages with a two-letter code that subtitles
/// commonly come in, and every 639-2 B/T pair.
const CODES: &[(&str, &str, &str)] = &[
    ("ar", "ara", ""),
    ("bg", "bul", ""),
    ("bo", "bod", "tib"),
    ("ca", "cat", ""),
    ("cs", "ces", "cze"),
    ("cy", "cym", "wel"),
    ("da", "dan", ""),
    ("de", "deu", "ger"),
    ("el", "ell", "gre"),
    ("en", "eng", ""),
    ("es", "spa", ""),
    ("et", "est", ""),
    ("eu", "eus", "baq"),
    ("fa", "fas", "per"),
    ("fi", "fin", ""),
    ("fr", "fra", "fre"),
    ("ga", "gle", ""),
    ("he", "heb", ""),
    ("hi", "hin", ""),
    ("hr", "hrv", ""),
    ("hu", "hun", ""),
    ("hy", "hye", "arm"),
    ("id", "ind", ""),
    ("is", "isl", "ice"),
    ("it", "ita", ""),
    ("ja", "jpn", ""),
    ("ka", "kat", "geo"),
    ("ko", "kor", ""),
    ("lt", "lit", ""),
    ("lv", "lav", ""),
    ("mi", "mri", "mao"),
    ("mk", "mkd", "mac"),
    ("ms", "msa", "may"),
    ("my", "mya", "bur"),
    ("nl", "nld", "dut"),
    ("no", "nor", ""),
    ("pl", "pol", ""),
    ("pt", "por", ""),
    ("ro", "ron", "rum"),
    ("ru", "rus", ""),
    ("sk", "slk", "slo"),
    ("sl", "slv", ""),
    ("sq", "sqi", "alb"),
    ("sr", "srp", ""),
    ("sv", "swe", ""),
    ("th", "tha", ""),
    ("tr", "tur", ""),
    ("uk", "ukr", ""),
    ("vi", "vie", ""),
    ("zh", "zho", "chi"),
];

/// The ISO 639-2/T code for `code`, or `None` when it is not a language code at all. A well-formed
/// three-letter code not in the table is kept as given (lower case): 639-2 has some 480 of them.
pub fn to_iso639_2t(code: &str) -> Option<String> {
    let primary = code.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    if !primary.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    match primary.len() {
        2 => CODES.iter().find(|c| c.0 == primary).map(|c| c.1.to_string()),
        3 => Some(CODES.iter().find(|c| c.2 == primary).map_or(primary, |c| c.1.to_string())),
        _ => None,
    }
}

/// `code` as ISO 639-2/T when it is a three-letter code (`fre`, `FRA` → `fra`), or `None` if it is
/// not three ASCII letters (a two-letter code is not accepted here: stream metadata and
/// `--audio-lang` take 639-2 codes; [`to_iso639_2t`] takes 639-1 too).
pub fn iso639_2t(code: &str) -> Option<String> {
    let l = code.trim();
    if l.len() != 3 {
        return None;
    }
    to_iso639_2t(l)
}

/// Like [`to_iso639_2t`], with `und` for what is missing or unknown.
pub fn normalize(code: Option<&str>) -> String {
    code.and_then(to_iso639_2t).unwrap_or_else(|| "und".to_string())
}

/// The BCP 47 tag for a 639-2/T code: the two-letter code when there is one (`eng` → `en`), else
/// the code itself; `und` stays `und`.
pub fn to_bcp47(code: &str) -> String {
    CODES.iter().find(|c| c.1 == code).map_or_else(|| code.to_string(), |c| c.0.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_639_2_t() {
        assert_eq!(to_iso639_2t("en").as_deref(), Some("eng"));
        assert_eq!(to_iso639_2t("FRE").as_deref(), Some("fra"));
        assert_eq!(to_iso639_2t("fra").as_deref(), Some("fra"));
        assert_eq!(to_iso639_2t("pt-BR").as_deref(), Some("por"));
        assert_eq!(to_iso639_2t("ger").as_deref(), Some("deu"));
        assert_eq!(to_iso639_2t("haw").as_deref(), Some("haw"));
        assert_eq!(to_iso639_2t("xx"), None);
        assert_eq!(to_iso639_2t("e1"), None);
        assert_eq!(normalize(None), "und");
        assert_eq!(to_bcp47("deu"), "de");
        assert_eq!(to_bcp47("und"), "und");
    }

    #[test]
    fn bibliographic_codes_become_terminology_codes() {
        assert_eq!(iso639_2t("fre").as_deref(), Some("fra"));
        assert_eq!(iso639_2t("GER").as_deref(), Some("deu"));
        assert_eq!(iso639_2t("eng").as_deref(), Some("eng"));
        assert_eq!(iso639_2t("en"), None);
        assert_eq!(iso639_2t("e1g"), None);
    }
}
