//! The languages of the pages and the catalogue: English, and French. Page text lives in
//! `web/i18n/{lang}.json`; a page asks `/i18n/messages.json`, answered in the language
//! the resident chose with the switch (remembered in the `upkeep_lang` cookie), else
//! the best of their `Accept-Language`, else English.

/// The languages Upkeep speaks, the first the default.
pub const LANGUAGES: [&str; 2] = ["en", "fr"];

pub const EN: &str = include_str!("../../web/i18n/en.json");
pub const FR: &str = include_str!("../../web/i18n/fr.json");

/// The messages of `lang` (one of [`LANGUAGES`]).
pub fn messages(lang: &str) -> &'static str {
    match lang {
        "fr" => FR,
        _ => EN,
    }
}

/// Message `key` in `lang`, else in English (the test below keeps both complete).
pub fn text(lang: &str, key: &str) -> String {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static PARSED: OnceLock<Vec<(&'static str, HashMap<String, String>)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        LANGUAGES
            .into_iter()
            .map(|l| {
                (
                    l,
                    serde_json::from_str(messages(l))
                        .expect("the message files are JSON objects of text"),
                )
            })
            .collect()
    });
    let find = |l: &str| {
        parsed
            .iter()
            .find(|(name, _)| *name == l)
            .and_then(|(_, m)| m.get(key))
    };
    find(lang)
        .or_else(|| find(LANGUAGES[0]))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The language a locale such as `fr-CA` or `en_GB` asks for, if Upkeep speaks it.
pub fn language_of(locale: &str) -> Option<&'static str> {
    let primary = locale
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    LANGUAGES.into_iter().find(|l| *l == primary)
}

/// The language to answer in: the remembered choice, else the `Accept-Language` entry
/// with the highest weight that Upkeep speaks, else English.
pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>) -> &'static str {
    if let Some(lang) = chosen.and_then(language_of) {
        return lang;
    }
    let mut best: Option<(f32, &'static str)> = None;
    for entry in accept_language.unwrap_or("").split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(lang) = language_of(tag)
            && weight > 0.0
            && best.is_none_or(|(w, _)| weight > w)
        {
            best = Some((weight, lang));
        }
    }
    best.map_or(LANGUAGES[0], |(_, lang)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_remembered_choice_wins_then_the_heaviest_language_upkeep_speaks() {
        assert_eq!(negotiate(None, None), "en");
        assert_eq!(negotiate(None, Some("fr-CA,fr;q=0.9,en;q=0.8")), "fr");
        assert_eq!(
            negotiate(None, Some("de-DE,de;q=0.9,fr;q=0.5,en;q=0.4")),
            "fr"
        );
        assert_eq!(negotiate(None, Some("en;q=0.3, fr;q=0.7")), "fr");
        assert_eq!(negotiate(None, Some("fr;q=0, en")), "en");
        assert_eq!(negotiate(Some("en"), Some("fr")), "en");
        assert_eq!(negotiate(Some("xx"), Some("fr")), "fr");
        assert_eq!(negotiate(None, Some("garbage;;q=abc,,")), "en");
    }

    fn keys(json: &str) -> BTreeSet<String> {
        let value: serde_json::Value = serde_json::from_str(json).expect("messages are JSON");
        let map = value.as_object().expect("messages are one object");
        for (key, text) in map {
            assert!(
                text.as_str().is_some_and(|t| !t.trim().is_empty()),
                "{key} is empty or not text"
            );
        }
        map.keys().cloned().collect()
    }

    /// A key in one language and not the other fails here, naming it.
    #[test]
    fn every_message_is_in_both_languages() {
        let (en, fr) = (keys(EN), keys(FR));
        let missing_fr: Vec<_> = en.difference(&fr).collect();
        let missing_en: Vec<_> = fr.difference(&en).collect();
        assert!(
            missing_fr.is_empty(),
            "missing from fr.json: {missing_fr:?}"
        );
        assert!(
            missing_en.is_empty(),
            "missing from en.json: {missing_en:?}"
        );
    }

    /// Every key a page, script or server page uses (`data-i18n="…"`,
    /// `data-i18n-label="…"`, `t("…")`, `w.get("…")`) is in the messages, so none shows
    /// as its bare key.
    #[test]
    fn every_key_the_pages_use_exists() {
        let en = keys(EN);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
        let mut used = BTreeSet::new();
        let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        for dir in [root.join("pages"), root.join("assets"), server] {
            for entry in std::fs::read_dir(dir).expect("a folder of pages or handlers") {
                let text =
                    std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
                for marker in ["data-i18n=\"", "data-i18n-label=\"", "t(\"", "w.get(\""] {
                    for (at, _) in text.match_indices(marker) {
                        // `t("` must be the function, not the end of another name.
                        if marker == "t(\""
                            && text[..at]
                                .chars()
                                .next_back()
                                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                        {
                            continue;
                        }
                        let rest = &text[at + marker.len()..];
                        if let Some(end) = rest.find('"') {
                            used.insert(rest[..end].to_owned());
                        }
                    }
                }
            }
        }
        assert!(used.len() > 20, "the scan found the pages' keys: {used:?}");
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(
            missing.is_empty(),
            "keys used but not in en.json: {missing:?}"
        );
    }
}
