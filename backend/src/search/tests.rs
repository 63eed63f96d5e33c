use super::*;

fn square(west: f64, south: f64, side: f64) -> String {
    let (east, north) = (west + side, south + side);
    format!(
        r#"{{"type":"Polygon","coordinates":[[[{west},{south}],[{east},{south}],[{east},{north}],[{west},{north}],[{west},{south}]]]}}"#
    )
}

fn rejection(raw: &str) -> String {
    Region::parse(raw, "polygon")
        .expect_err("the polygon should be refused")
        .message
}

#[test]
fn a_square_is_accepted_and_holds_its_inside_but_not_its_outside() {
    let region = Region::parse(&square(-76.15, 43.04, 0.01), "polygon").expect("valid");
    let area = Area::Polygon(region);
    let inside = Located::Point(Coordinates {
        lon: -76.145,
        lat: 43.045,
    });
    let outside = Located::Point(Coordinates {
        lon: -76.135,
        lat: 43.045,
    });
    assert!(area.test(1, &inside).is_some());
    assert!(area.test(2, &outside).is_none());
    let crossing = Located::Lines(vec![vec![(-76.16, 43.045), (-76.13, 43.045)]]);
    assert!(
        area.test(3, &crossing).is_some(),
        "a line crossing the square is in it"
    );
}

#[test]
fn a_multipolygon_holds_points_in_either_part() {
    let raw = r#"{"type":"MultiPolygon","coordinates":[
        [[[0,0],[1,0],[1,1],[0,1],[0,0]]],
        [[[5,5],[6,5],[6,6],[5,6],[5,5]]]]}"#;
    let area = Area::Polygon(Region::parse(raw, "polygon").expect("valid"));
    for (lon, lat, expected) in [(0.5, 0.5, true), (5.5, 5.5, true), (3.0, 3.0, false)] {
        let hit = area.test(1, &Located::Point(Coordinates { lon, lat }));
        assert_eq!(hit.is_some(), expected, "({lon}, {lat})");
    }
}

#[test]
fn a_point_in_a_hole_is_outside() {
    let raw = r#"{"type":"Polygon","coordinates":[
        [[0,0],[10,0],[10,10],[0,10],[0,0]],
        [[4,4],[4,6],[6,6],[6,4],[4,4]]]}"#;
    let area = Area::Polygon(Region::parse(raw, "polygon").expect("valid"));
    assert!(
        area.test(1, &Located::Point(Coordinates { lon: 5.0, lat: 5.0 }))
            .is_none()
    );
    assert!(
        area.test(1, &Located::Point(Coordinates { lon: 2.0, lat: 2.0 }))
            .is_some()
    );
}

#[test]
fn invalid_polygons_are_refused_with_the_reason() {
    assert!(rejection("not json").contains("not a GeoJSON geometry"));
    assert!(rejection(r#"{"type":"Point","coordinates":[0,0]}"#).contains("is a Point"));
    assert!(
        rejection(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#)
            .contains("needs at least 4")
    );
    assert!(
        rejection(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#)
            .contains("not closed")
    );
    assert!(
        rejection(r#"{"type":"Polygon","coordinates":[[[0,0],[200,0],[1,1],[0,0]]]}"#)
            .contains("not a longitude")
    );
    assert!(
        rejection(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#)
            .contains("not a valid polygon"),
        "a bow tie crosses itself"
    );
    assert!(
        rejection(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]],[[5,5],[6,5],[6,6],[5,6],[5,5]]]}"#)
            .contains("not a valid polygon"),
        "a hole outside its shell"
    );
    assert!(rejection(r#"{"type":"MultiPolygon","coordinates":[]}"#).contains("no polygons"));
    assert!(rejection(r#"{"type":"Polygon","coordinates":[]}"#).contains("no rings"));
}

#[test]
fn nearest_k_widens_until_it_has_k_and_orders_by_distance() {
    let centre = Coordinates {
        lon: -76.1474,
        lat: 43.0481,
    };
    // Points 100 m, 1 km and 10 km north of the centre.
    let points: Vec<(i64, Located)> = [(1, 0.0009), (2, 0.009), (3, 0.09)]
        .into_iter()
        .map(|(id, dlat)| {
            (
                id,
                Located::Point(Coordinates {
                    lon: centre.lon,
                    lat: centre.lat + dlat,
                }),
            )
        })
        .collect();
    let mut windows = 0;
    let hits = Area::Nearest { centre, k: 2 }
        .search(Window::for_points, Order::AsFetched, |window| {
            windows += 1;
            Ok::<_, ()>(
                points
                    .iter()
                    .filter(|(_, item)| match item {
                        Located::Point(p) => window.bbox.contains(*p),
                        Located::Lines(_) => false,
                    })
                    .cloned()
                    .collect(),
            )
        })
        .expect("no error");
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1, 2]);
    assert!(windows >= 2, "the first 250 m window holds only one point");
    let first = hits[0].distance_m.expect("nearest hits carry a distance");
    assert!((first - 100.0).abs() < 1.0, "{first}");
}

#[test]
fn the_distance_to_a_line_is_to_its_nearest_point_not_its_ends() {
    let centre = Coordinates { lon: 0.0, lat: 0.0 };
    let line = Located::Lines(vec![vec![(-0.01, 0.001), (0.01, 0.001)]]);
    let d = distance_m(centre, &line);
    assert!((d - 111.2).abs() < 0.5, "{d}");
}
