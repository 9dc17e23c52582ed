//! Language codes as Smooth Streaming manifests carry them (`Language`): ISO 639-2/T, three
//! lower-case letters. The twenty ISO 639-2/B (bibliographic) codes that differ are mapped to
//! their terminology form, so `fre` and `fra` name one language and stream names stay unique.

/// ISO 639-2/B → ISO 639-2/T, for the codes that differ.
const BIBLIOGRAPHIC: [(&str, &str); 20] = [
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// `code` as ISO 639-2/T (`fre`, `FRA` → `fra`), or `None` if it is not three ASCII letters.
pub fn iso639_2t(code: &str) -> Option<String> {
    let l = code.trim().to_ascii_lowercase();
    if l.len() != 3 || !l.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some(BIBLIOGRAPHIC.iter().find(|(b, _)| *b == l).map_or(l, |(_, t)| t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::iso639_2t;

    #[test]
    fn bibliographic_codes_become_terminology_codes() {
        assert_eq!(iso639_2t("fre").as_deref(), Some("fra"));
        assert_eq!(iso639_2t("GER").as_deref(), Some("deu"));
        assert_eq!(iso639_2t("eng").as_deref(), Some("eng"));
        assert_eq!(iso639_2t("en"), None);
        assert_eq!(iso639_2t("e1g"), None);
    }
}
