//! The service catalogue: what residents can report, and the rules that come with each
//! service (attributes, service levels, duplicate radius).
//!
//! The TOML file in `data/` only seeds an empty database; at run time the catalogue is
//! read from the database, so staff changes made on one server reach every other.

pub use crate::domain::AttributeAnswer;
use crate::domain::{Coordinates, FieldError, ServiceType, parse_datetime, parse_number};
use models::network::RoadClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Longest `string` attribute value, in characters.
pub const MAX_STRING_ATTRIBUTE_CHARS: usize = 500;
/// Longest `text` attribute value, in characters.
pub const MAX_TEXT_ATTRIBUTE_CHARS: usize = 4000;

/// One reportable service (Open311 "service").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    pub name: String,
    pub group: String,
    pub description: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    pub agency: String,
    #[serde(default)]
    pub road_surface: bool,
    pub default_severity: i32,
    pub sla_days: SlaDays,
    pub duplicate_radius_m: f64,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    /// `[west, south, east, north]` in degrees; None: offered everywhere in the city.
    #[serde(default)]
    pub area: Option<[f64; 4]>,
    /// The name, group and description in other languages, by language (`fr`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, ServiceWords>,
}

/// A service's words in another language; what is left out stays as the catalogue has it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceWords {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An attribute's prompt and answers' names in another language, by value key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeWords {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

/// Days to fix, by the road class of the segment a report lies on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaDays {
    pub arterial: u32,
    pub collector: u32,
    pub local: u32,
}

impl SlaDays {
    /// Days for a report on a road of `class`; off the network, the longest of the three,
    /// so the date a resident is promised is one the city can keep.
    pub fn for_class(&self, class: Option<RoadClass>) -> u32 {
        match class {
            Some(RoadClass::Arterial) => self.arterial,
            Some(RoadClass::Collector) => self.collector,
            Some(RoadClass::Local) => self.local,
            None => self.arterial.max(self.collector).max(self.local),
        }
    }
}

/// Open311 attribute datatypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }

    fn is_list(self) -> bool {
        matches!(self, Datatype::Singlevaluelist | Datatype::Multivaluelist)
    }
}

/// An extra question a service asks (Open311 attribute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub code: String,
    pub description: String,
    pub datatype: Datatype,
    #[serde(default)]
    pub required: bool,
    pub order: i32,
    /// False for an informational attribute that takes no answer.
    #[serde(default = "yes")]
    pub variable: bool,
    #[serde(default)]
    pub datatype_description: Option<String>,
    #[serde(default)]
    pub values: Vec<AttributeValue>,
    /// The prompt and the answers' names in other languages, by language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, AttributeWords>,
}

fn yes() -> bool {
    true
}

/// One allowed answer of a list attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

impl Service {
    /// The service as residents of language `lang` read it: its words and its
    /// attributes' words replaced where the catalogue has a translation.
    pub fn in_language(&self, lang: &str) -> Service {
        let mut service = self.clone();
        if let Some(words) = self.translations.get(lang) {
            if let Some(name) = &words.name {
                service.name = name.clone();
            }
            if let Some(group) = &words.group {
                service.group = group.clone();
            }
            if let Some(description) = &words.description {
                service.description = description.clone();
            }
        }
        for attribute in &mut service.attributes {
            let Some(words) = attribute.translations.get(lang).cloned() else {
                continue;
            };
            if let Some(description) = words.description {
                attribute.description = description;
            }
            for value in &mut attribute.values {
                if let Some(name) = words.values.get(&value.key) {
                    value.name = name.clone();
                }
            }
        }
        service
    }

    /// True where the service is offered at `point` (inside its area, if it has one).
    pub fn is_offered_at(&self, point: Coordinates) -> bool {
        match self.area {
            None => true,
            Some([west, south, east, north]) => {
                (west..=east).contains(&point.lon) && (south..=north).contains(&point.lat)
            }
        }
    }

    /// Checks a service's own definition, naming the service and field at fault.
    pub fn check(&self) -> Result<(), String> {
        let at = |field: &str, why: &str| format!("service '{}': {field} {why}", self.code);
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 64
            && self
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !code_ok {
            return Err(at(
                "code",
                "must be 1-64 letters, digits, '_' or '-' (it appears in URLs)",
            ));
        }
        if self.name.trim().is_empty() {
            return Err(at("name", "must not be empty"));
        }
        if !(1..=5).contains(&self.default_severity) {
            return Err(at("default_severity", "must be between 1 and 5"));
        }
        let sla = self.sla_days;
        if [sla.arterial, sla.collector, sla.local].contains(&0) {
            return Err(at(
                "sla_days",
                "must be at least 1 day for every road class",
            ));
        }
        if !(self.duplicate_radius_m.is_finite()
            && (0.0..=1000.0).contains(&self.duplicate_radius_m))
        {
            return Err(at(
                "duplicate_radius_m",
                "must be between 0 and 1000 metres",
            ));
        }
        if let Some([west, south, east, north]) = self.area
            && !(west < east && south < north)
        {
            return Err(at(
                "area",
                "must be [west, south, east, north] with west < east, south < north",
            ));
        }
        let known = |lang: &str| crate::i18n::LANGUAGES.contains(&lang);
        if let Some(lang) = self.translations.keys().find(|l| !known(l)) {
            return Err(at(
                "translations",
                &format!("name '{lang}', not a language Upkeep speaks (en, fr)"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for attribute in &self.attributes {
            if let Some((lang, words)) = attribute.translations.iter().find(|(lang, words)| {
                !known(lang)
                    || words
                        .values
                        .keys()
                        .any(|k| !attribute.values.iter().any(|v| &v.key == k))
            }) {
                return Err(at(
                    &format!("attribute '{}' translations", attribute.code),
                    &format!(
                        "for '{lang}' must name a language Upkeep speaks and only the attribute's own values (given: {:?})",
                        words.values.keys().collect::<Vec<_>>()
                    ),
                ));
            }
            let field = format!("attribute '{}'", attribute.code);
            if !seen.insert(attribute.code.as_str()) {
                return Err(at(&field, "needs a code that is unique within the service"));
            }
            // Codes become XML element names in extended_attributes.
            let mut chars = attribute.code.chars();
            let code_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !code_ok {
                return Err(at(
                    &field,
                    "needs a code of letters, digits, '_' or '-' that starts with a letter",
                ));
            }
            if attribute.datatype.is_list() && attribute.values.is_empty() {
                return Err(at(&field, "is a list and needs values"));
            }
            if !attribute.datatype.is_list() && !attribute.values.is_empty() {
                return Err(at(&field, "has values but is not a list"));
            }
            if !attribute.variable && attribute.required {
                return Err(at(
                    &field,
                    "cannot be required when it takes no answer (variable = false)",
                ));
            }
        }
        Ok(())
    }

    /// Checks a resident's answers (`attribute[code]` pairs, in the order sent) against
    /// this service's attributes. Every problem is reported, not only the first.
    pub fn check_answers(
        &self,
        submitted: &[(String, String)],
    ) -> Result<BTreeMap<String, AttributeAnswer>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (code, value) in submitted {
            grouped
                .entry(code.as_str())
                .or_default()
                .push(value.as_str());
        }
        let mut answers = BTreeMap::new();
        for (code, values) in &grouped {
            let field = format!("attribute[{code}]");
            let Some(attribute) = self.attributes.iter().find(|a| a.code == *code) else {
                let known: Vec<_> = self.attributes.iter().map(|a| a.code.as_str()).collect();
                errors.push(FieldError::new(
                    field,
                    format!(
                        "is not an attribute of service '{}' (it has: {})",
                        self.code,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
                continue;
            };
            // An empty answer to an optional question means "not answered".
            let values: Vec<&str> = values
                .iter()
                .copied()
                .filter(|v| !v.trim().is_empty())
                .collect();
            if values.is_empty() {
                continue;
            }
            match attribute.answer(&values, &field) {
                Ok(answer) => {
                    answers.insert((*code).to_owned(), answer);
                }
                Err(error) => errors.push(error),
            }
        }
        // An answer that was wrong is already reported; "required" is for the unanswered.
        let answered_wrongly: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        for attribute in self.attributes.iter().filter(|a| a.required) {
            let field = format!("attribute[{}]", attribute.code);
            if !answers.contains_key(&attribute.code) && !answered_wrongly.contains(&field) {
                errors.push(FieldError::new(
                    format!("attribute[{}]", attribute.code),
                    format!("is required: {}", attribute.description),
                ));
            }
        }
        if errors.is_empty() {
            Ok(answers)
        } else {
            Err(errors)
        }
    }

    /// The service level for a report on a road of `class`, in days.
    pub fn sla_days_for(&self, class: Option<RoadClass>) -> u32 {
        self.sla_days.for_class(class)
    }
}

impl Attribute {
    fn answer(&self, values: &[&str], field: &str) -> Result<AttributeAnswer, FieldError> {
        if !self.variable {
            return Err(FieldError::new(
                field,
                "is for information only and takes no answer",
            ));
        }
        if values.len() > 1 && self.datatype != Datatype::Multivaluelist {
            return Err(FieldError::new(
                field,
                "takes a single value, but several were sent",
            ));
        }
        let allowed = |value: &str| -> Result<String, FieldError> {
            if self.values.iter().any(|v| v.key == value) {
                Ok(value.to_owned())
            } else {
                let keys: Vec<_> = self.values.iter().map(|v| v.key.as_str()).collect();
                Err(FieldError::new(
                    field,
                    format!(
                        "'{value}' is not one of the allowed values: {}",
                        keys.join(", ")
                    ),
                ))
            }
        };
        let value = values[0];
        match self.datatype {
            Datatype::Singlevaluelist => allowed(value).map(AttributeAnswer::One),
            Datatype::Multivaluelist => {
                let mut keys = Vec::new();
                for value in values {
                    let key = allowed(value)?;
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                Ok(AttributeAnswer::Many(keys))
            }
            Datatype::Number => {
                parse_number(value, field)?;
                Ok(AttributeAnswer::One(value.trim().to_owned()))
            }
            Datatype::Datetime => {
                let time = parse_datetime(value, field)?;
                Ok(AttributeAnswer::One(crate::domain::format_datetime(time)))
            }
            Datatype::String | Datatype::Text => {
                let limit = if self.datatype == Datatype::String {
                    MAX_STRING_ATTRIBUTE_CHARS
                } else {
                    MAX_TEXT_ATTRIBUTE_CHARS
                };
                if value.chars().count() > limit {
                    Err(FieldError::new(
                        field,
                        format!("is longer than {limit} characters"),
                    ))
                } else {
                    Ok(AttributeAnswer::One(value.to_owned()))
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    service: Vec<Service>,
}

/// The catalogue shipped in `data/services.toml`, built into the binary so a fresh
/// install needs no files beside it.
pub const BUILT_IN: &str = include_str!("../../data/services.toml");

/// The services to seed from: `path` if given, else the built-in catalogue.
pub fn load(path: Option<&Path>) -> anyhow::Result<Vec<Service>> {
    match path {
        Some(path) => load_file(path),
        None => parse(BUILT_IN),
    }
}

/// Reads and checks a catalogue file; errors name the file and the service at fault.
pub fn load_file(path: &Path) -> anyhow::Result<Vec<Service>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the service catalogue {}", path.display()))?;
    parse(&text).with_context(|| format!("in the service catalogue {}", path.display()))
}

/// Parses and checks catalogue text.
pub fn parse(text: &str) -> anyhow::Result<Vec<Service>> {
    let file: CatalogueFile = toml::from_str(text)?;
    let mut codes = std::collections::HashSet::new();
    for service in &file.service {
        service.check().map_err(anyhow::Error::msg)?;
        if !codes.insert(service.code.as_str()) {
            anyhow::bail!("service code '{}' appears twice", service.code);
        }
    }
    if file.service.is_empty() {
        anyhow::bail!("the catalogue lists no services");
    }
    Ok(file.service)
}

/// The active catalogue at one moment.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub services: Vec<Service>,
    /// When the catalogue last changed (Open311 discovery's `changeset`).
    pub changed_at: chrono::NaiveDateTime,
}

impl Catalogue {
    pub fn get(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<Service> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/services.toml");
        load_file(&path).expect("the shipped catalogue is valid")
    }

    fn pothole() -> Service {
        shipped()
            .into_iter()
            .find(|s| s.code == "pothole")
            .expect("pothole")
    }

    fn answers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_service_reads_in_french_where_the_catalogue_has_words_and_in_english_elsewhere() {
        let french = pothole().in_language("fr");
        assert_eq!(french.name, "Nid-de-poule");
        assert_eq!(french.group, "Voirie");
        let size = french.attributes.iter().find(|a| a.code == "size").unwrap();
        assert_eq!(size.description, "Quelle est sa largeur environ ?");
        assert!(size.values.iter().all(|v| !v.name.contains("dinner plate")));
        assert_eq!(size.values[0].key, "small", "keys never change");
        assert_eq!(pothole().in_language("en"), pothole());
        assert_eq!(pothole().in_language("de"), pothole());
        for service in shipped() {
            assert!(
                service.translations.contains_key("fr"),
                "{} has no French",
                service.code
            );
        }
    }

    #[test]
    fn translations_name_languages_upkeep_speaks_and_only_existing_values() {
        let mut unknown_language = pothole();
        unknown_language
            .translations
            .insert("xx".into(), ServiceWords::default());
        assert!(
            unknown_language
                .check()
                .unwrap_err()
                .contains("translations")
        );
        let mut unknown_value = pothole();
        unknown_value.attributes[0]
            .translations
            .get_mut("fr")
            .unwrap()
            .values
            .insert("enormous".into(), "Énorme".into());
        assert!(unknown_value.check().unwrap_err().contains("enormous"));
    }

    #[test]
    fn the_shipped_catalogue_has_the_services_a_city_needs() {
        let codes: Vec<_> = shipped().into_iter().map(|s| s.code).collect();
        for code in [
            "pothole",
            "sidewalk_damage",
            "street_light_out",
            "traffic_signal_fault",
            "blocked_drain",
            "graffiti",
            "illegal_dumping",
            "missed_collection",
            "damaged_sign",
            "tree_hazard",
        ] {
            assert!(codes.iter().any(|c| c == code), "{code} missing");
        }
    }

    #[test]
    fn pothole_answers_are_checked_against_the_allowed_values() {
        let ok = pothole()
            .check_answers(&answers(&[("size", "large"), ("in_traffic_lane", "yes")]))
            .expect("valid");
        assert_eq!(ok["size"], AttributeAnswer::One("large".into()));

        let errors = pothole()
            .check_answers(&answers(&[("size", "enormous"), ("colour", "red")]))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"attribute[size]"));
        assert!(fields.contains(&"attribute[colour]"));
        assert!(
            fields.contains(&"attribute[in_traffic_lane]"),
            "required one missing"
        );
    }

    #[test]
    fn multi_value_lists_keep_each_distinct_answer_once() {
        let dumping = shipped()
            .into_iter()
            .find(|s| s.code == "illegal_dumping")
            .unwrap();
        let ok = dumping
            .check_answers(&answers(&[
                ("items", "bags"),
                ("items", "tyres"),
                ("items", "bags"),
            ]))
            .unwrap();
        assert_eq!(
            ok["items"],
            AttributeAnswer::Many(vec!["bags".into(), "tyres".into()])
        );
        let err = dumping
            .check_answers(&answers(&[("items", "bags"), ("volume", "lots")]))
            .unwrap_err();
        assert_eq!(err[0].field, "attribute[volume]");
    }

    #[test]
    fn off_network_reports_get_the_longest_service_level() {
        assert_eq!(pothole().sla_days_for(Some(RoadClass::Arterial)), 2);
        assert_eq!(pothole().sla_days_for(None), 10);
    }

    #[test]
    fn a_catalogue_with_a_list_attribute_without_values_is_refused() {
        let text = r#"
            [[service]]
            code = "x"
            name = "X"
            group = "G"
            description = "d"
            type = "realtime"
            agency = "A"
            default_severity = 2
            sla_days = { arterial = 1, collector = 1, local = 1 }
            duplicate_radius_m = 10.0
            [[service.attributes]]
            code = "a"
            description = "?"
            datatype = "singlevaluelist"
            order = 1
        "#;
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("attribute 'a'"), "{err}");
    }
}
