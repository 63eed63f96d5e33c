//! French as well as English: the catalogue over Open311 `locale`, and the pages'
//! messages chosen by the switch's cookie, then `Accept-Language`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn open311_gives_services_and_definitions_in_the_locale_asked_for() {
    let app = spawn_app().await;
    let french = app
        .get_json("/open311/v2/services.json?locale=fr", 200)
        .await;
    let pothole = french
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "pothole")
        .unwrap();
    assert_eq!(pothole["service_name"], "Nid-de-poule");
    assert_eq!(pothole["group"], "Voirie");
    let english = app.get_json("/open311/v2/services.json", 200).await;
    assert!(english.to_string().contains("\"Pothole\""));
    // A locale Upkeep does not speak answers in English, as Open311 expects.
    let other = app
        .get_json("/open311/v2/services.json?locale=de-DE", 200)
        .await;
    assert_eq!(other, english);
    let definition = app
        .get_json("/open311/v2/services/pothole.json?locale=fr-CA", 200)
        .await;
    let size = &definition["attributes"][0];
    assert_eq!(size["code"], "size");
    assert_eq!(size["description"], "Quelle est sa largeur environ ?");
    assert_eq!(size["values"][0]["key"], "small");
    assert!(
        size["values"][0]["name"]
            .as_str()
            .unwrap()
            .contains("assiette")
    );
    let xml = app
        .get("/open311/v2/services/pothole.xml?locale=fr")
        .await
        .text()
        .await
        .unwrap();
    assert!(xml.contains("Quelle est sa largeur environ ?"), "{xml}");
}

#[tokio::test]
async fn pages_get_their_messages_in_the_chosen_language_then_the_browsers() {
    let app = spawn_app().await;
    let ask = |accept: Option<&str>, cookie: Option<&str>| {
        let mut request = app.client.get(app.url("/i18n/messages.json"));
        if let Some(accept) = accept {
            request = request.header("accept-language", accept);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let language = response.headers()["content-language"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["lang"], language.as_str());
            (language, body)
        }
    };
    let (lang, body) = ask(None, None).await;
    assert_eq!(lang, "en");
    assert_eq!(
        body["messages"]["resident.heading"],
        "Report a problem in your street"
    );
    let (lang, body) = ask(Some("fr-CA,fr;q=0.9,en;q=0.5"), None).await;
    assert_eq!(lang, "fr");
    assert_eq!(
        body["messages"]["resident.heading"],
        "Signaler un problème dans votre rue"
    );
    assert_eq!(ask(Some("de,fr;q=0.4"), None).await.0, "fr");
    // The switch's choice is remembered in a cookie and beats the browser's languages.
    assert_eq!(
        ask(Some("fr"), Some("other=1; upkeep_lang=en")).await.0,
        "en"
    );
    assert_eq!(ask(Some("en"), Some("upkeep_lang=fr")).await.0, "fr");
    assert_eq!(ask(Some("en"), Some("upkeep_lang=<script>")).await.0, "en");
    assert_eq!(app.get("/i18n/fr.json").await.status(), 200);
    assert_eq!(app.get("/i18n/de.json").await.status(), 404);
}

#[tokio::test]
async fn the_pages_e_mail_links_open_speak_the_residents_language() {
    let app = spawn_app().await;
    let page = |accept: &'static str| {
        let request = app
            .client
            .get(app.url("/alerts/confirm?token=abc"))
            .header("accept-language", accept);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(
                response.headers()["content-language"],
                accept.get(..2).unwrap()
            );
            response.text().await.unwrap()
        }
    };
    let french = page("fr").await;
    assert!(french.contains("<html lang=\"fr\">"), "{french}");
    assert!(french.contains("Confirmez vos alertes") && french.contains(">Confirmer</button>"));
    let english = page("en").await;
    assert!(english.contains("Confirm your alerts") && english.contains(">Confirm</button>"));
    let gone = app
        .client
        .get(app.url("/feedback/unknown-token"))
        .header("accept-language", "fr-CA")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert!(gone.text().await.unwrap().contains("Lien introuvable"));
}
